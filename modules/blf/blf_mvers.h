/*
 * blf_mvers.h — the stored form of an RFC 4662 list subscription's member
 * versions (blf_mvers.c, pure): what the database row (`mvers` column) and
 * the cluster replica (`mv` field) carry so that each member's body version
 * continues exactly after a restart or a takeover.
 *
 * Text: "<anchor>;<hash>:<version>,<hash>:<version>..." where anchor is the
 * RLMI version the member versions are current for (the subscription's
 * next version when they were taken), hash the member URI's 32-bit FNV-1a
 * (8 hex digits) and version the member's next body version (decimal).
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_MVERS_H
#define BLF_MVERS_H

#include <stddef.h>
#include <stdint.h>

/* members of one list (blf_list.c caps list_max_members at 10000) */
#define BLF_MVERS_MAX 10000
/* bytes of one entry at most: 8 hex, ':', 10 digits, ',' */
#define BLF_MVERS_ENTRY 20
/* bytes of a whole text at most (anchor, ';', entries, NUL) */
#define BLF_MVERS_TEXT_MAX (12 + BLF_MVERS_MAX * BLF_MVERS_ENTRY + 1)

typedef struct blf_mver
{
	uint32_t h; /* blf_mvers_hash of the member URI */
	uint32_t v; /* its next body version */
} blf_mver_t;

uint32_t blf_mvers_hash(const char *uri, size_t len);

/* the text of n entries (n <= BLF_MVERS_MAX) into buf (NUL-terminated):
 * its length, or -1 when it does not fit or n is out of range */
int blf_mvers_format(
		uint32_t anchor, const blf_mver_t *m, int n, char *buf, size_t size);

/* parses len bytes of s: entries into out (at most max; out NULL: only
 * counted), *anchor; the number of entries, or -1 for anything malformed
 * (no partial result) */
int blf_mvers_parse(
		const char *s, size_t len, uint32_t *anchor, blf_mver_t *out, int max);

/*
 * The next body version of the member of hash h, resuming a subscription
 * whose next RLMI version is now, from entries m (n) taken at anchor. A
 * member's version rises by at most one per NOTIFY of its list, so a member
 * found resumes at its version + (now - anchor): exact when no NOTIFY left
 * after the anchor, never a repeat otherwise. A member not found was not
 * listed at the anchor: it resumes at now - anchor (0 when exact). Hash
 * collisions take the highest version (never a repeat). now before anchor
 * (a stale subscription version) counts as now == anchor.
 */
/*
 * Entries d (nd: the members one NOTIFY carried, with their next versions)
 * into m (n of max): a hash found takes the higher version (they only
 * rise; a reordered or repeated delta never lowers one), a new one is
 * appended. The new count, or -1 (more than max: m is then not usable).
 */
int blf_mvers_merge(blf_mver_t *m, int n, int max, const blf_mver_t *d, int nd);

uint32_t blf_mvers_resume(
		const blf_mver_t *m, int n, uint32_t anchor, uint32_t now, uint32_t h);

#endif
