/*
 * blf_tag.h — the To tag the module gives each subscription, pure (no
 * Kamailio): printing it, and reading the entity hash back out of it.
 *
 * "<hash:8><pid:4><rand:4><seq:4>", 20 lower-case hex digits. The first
 * eight are the hash of the watched entity's key: an in-dialog SUBSCRIBE,
 * a NOTIFY answer or a replica names only the dialog, and the hash finds
 * the table slot without a second index. The rest keeps tags of one
 * entity apart (process, a random part, a per-process counter).
 *
 * A tag comes back from the network (To tag of a re-SUBSCRIBE, a replica):
 * decoding accepts exactly our shape and nothing else, so a forged tag at
 * worst names a slot that holds no such subscription.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_TAG_H
#define BLF_TAG_H

#include <stddef.h>

#define BLF_TAG_LEN 20 /* hex digits of a tag */

/*
 * Prints the tag of entity hash into buf (size bytes, NUL-terminated);
 * pid, rnd and seq contribute their low 16 bits. Its length
 * (BLF_TAG_LEN), or -1 when buf is too small (nothing usable written).
 */
int blf_tag_encode(char *buf, size_t size, unsigned int hash, unsigned int pid,
		unsigned int rnd, unsigned int seq);

/*
 * The entity hash in a tag of len bytes (not NUL-terminated). 0 with
 * *hash set; -1 when the tag is not one of ours (wrong length, a character
 * that is not a lower-case hex digit anywhere in it).
 */
int blf_tag_decode(const char *s, size_t len, unsigned int *hash);

#endif
