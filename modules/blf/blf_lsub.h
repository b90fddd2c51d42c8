/*
 * blf_lsub.h — RFC 4662 list subscriptions (blf_lsub.c): the per
 * subscription list state, the member -> list reverse index, and the
 * multipart/related + RLMI NOTIFY bodies.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_LSUB_H
#define BLF_LSUB_H

#include "core/str.h"
#include "core/parser/msg_parser.h"

#include "blf_list.h"

/* mod_init, after the packages: ask queues a question for the HTTP
 * process (blf_http_ask_alias) */
int blf_lsub_init(int (*ask)(const str *key));
void blf_lsub_destroy(void);

/* 1 when the SUBSCRIBE says Supported: eventlist (RFC 4662 4.1) */
int blf_lsub_supported(struct sip_msg *msg);

/*
 * A new list subscription (our tag ttag, on the list entity lkey / lhash,
 * subscribed as luri by watcher, alias-resolved): its state, from the
 * list's members l. 0, or -1 (no
 * memory). Called before the subscription record is linked; its first
 * NOTIFY reads this state.
 */
int blf_lsub_add(const str *callid, const str *ftag, const str *ttag,
		const str *lkey, unsigned int lhash, const str *luri,
		const str *watcher, const blf_list_copy_t *l);
/* what watcher may see of member entity changed (visibility_url): its
 * list subscriptions showing entity get that member again */
void blf_lsub_vis_changed(const str *entity, const str *watcher);
/* the members a list subscription shows (RPC), -1 when unknown here */
int blf_lsub_members(const str *ttag);
/* the state of the subscription of tag ttag ends (a fetch, an error) */
void blf_lsub_del(const str *ttag);
/* key turned out to be a list: the plain subscriptions to it made before
 * that was known, by watchers that take lists (BLF_SUB_LISTQ), end with
 * terminated;reason=deactivated (RFC 6665 section 4.1.3: subscribe again
 * at once), so their next SUBSCRIBE gets the list. How many ended. */
int blf_lsub_plain_ended(const str *key);

/*
 * Member versions (SPEC: each member's version counts 0,1,2... across a
 * restart and a takeover), in blf_mvers.h's text form.
 * blf_lsub_mvers_init: mod_init, before the DB restores rows.
 * blf_lsub_mvers: the text of list subscription ttag's state here (*out
 * malloc'd, its length), -1 when it has none (not a list, not rebuilt).
 * blf_lsub_mvers_keep: a restored row's or a replica's text, checked
 * (-1: malformed or too large, not kept; -2: no lists here), kept until
 * the subscription's
 * list state is rebuilt here (restart, takeover) or it is gone.
 */
int blf_lsub_mvers_init(void);
/* mod_destroy, before the last DB flush (no other process left): the
 * reads of blf_lsub_mvers take no lock */
void blf_lsub_mvers_nolocks(void);
int blf_lsub_mvers(const str *ttag, char **out);
int blf_lsub_mvers_keep(const str *ttag, const char *text, size_t len);
/*
 * The cluster (blf_dmq.c): blf_lsub_mvers_replicate at init turns the
 * deltas on. After each NOTIFY of a list subscription of ours a
 * BLF_CHG_SUB_LMV is noted; blf_lsub_mvers_delta takes what replicates
 * it: the whole set when short (*whole 1, as blf_lsub_mvers), else the
 * delta (text: the anchor after it and the members those NOTIFYs carried;
 * *fa: the anchor before it): its length, -1 none, -2 too large (the
 * peers forget theirs). On a peer blf_lsub_mvers_keep keeps a whole set
 * unless it keeps a newer one; blf_lsub_mvers_merge applies a delta to the
 * kept text when that is at anchor fa, else drops it (0 merged, -1 not);
 * blf_lsub_mvers_forget drops it.
 */
void blf_lsub_mvers_replicate(void);
int blf_lsub_mvers_delta(
		const str *ttag, char **out, unsigned int *fa, int *whole);
int blf_lsub_mvers_merge(
		const str *ttag, unsigned int fa, const char *text, size_t len);
void blf_lsub_mvers_forget(const str *ttag);

#endif
