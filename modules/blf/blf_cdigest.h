/*
 * blf_cdigest.h — which state of an entity's calls a NOTIFY showed, as a
 * 32-bit digest that every cluster node computes the same (pure, header
 * only; blf_table.h's blf_calls_digest feeds it an entity's calls).
 *
 * Why: a node taking a dead node's subscription over replays the states of
 * the entity's calls its watchers were not shown (blf_rhist.c). Every
 * NOTIFY's version record says which state it showed (this digest, "cd"),
 * and the taker finds that state among its own copies and replays only
 * what came after it. The nodes applied the same changes, not always in
 * the same order, and keep an entity's calls in their order of arrival:
 * so each call is hashed alone (FNV-1a over its Call-ID, its local
 * identity, its direction and its state: state, reason, code; what a
 * change of a replica compares) and the hashes are summed, with the count.
 * Nothing node-local goes in (the origin index, the incarnation, the
 * dialog id, which hashes a per-node secret when one is set).
 * Never 0: 0 means "not known".
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_CDIGEST_H
#define BLF_CDIGEST_H

#include <stddef.h>

#define BLF_CDIGEST_BASIS 2166136261u
#define BLF_CDIGEST_PRIME 16777619u

typedef struct blf_cdigest {
	unsigned int sum; /* of the calls' hashes: the order does not count */
	unsigned int n;
} blf_cdigest_t;

static inline unsigned int blf_cdigest_bytes(
		unsigned int h, const void *p, size_t len)
{
	const unsigned char *b = p;

	while(len--)
		h = (h ^ *b++) * BLF_CDIGEST_PRIME;
	return h;
}

static inline void blf_cdigest_init(blf_cdigest_t *d)
{
	d->sum = 0;
	d->n = 0;
}

/* one call: its Call-ID and local identity (either may be empty), its
 * direction and state */
static inline void blf_cdigest_add(blf_cdigest_t *d, const char *callid,
		size_t clen, const char *luri, size_t llen, unsigned int dir,
		unsigned int state, unsigned int term, unsigned int code)
{
	unsigned int h, w[4];

	h = blf_cdigest_bytes(BLF_CDIGEST_BASIS, callid, callid ? clen : 0);
	h = blf_cdigest_bytes(h, "", 1); /* "ab"+"c" is not "a"+"bc" */
	h = blf_cdigest_bytes(h, luri, luri ? llen : 0);
	w[0] = dir;
	w[1] = state;
	w[2] = term;
	w[3] = code;
	d->sum += blf_cdigest_bytes(h, w, sizeof(w));
	d->n++;
}

static inline unsigned int blf_cdigest_end(const blf_cdigest_t *d)
{
	unsigned int h;

	h = blf_cdigest_bytes(BLF_CDIGEST_BASIS, &d->sum, sizeof(d->sum));
	h = blf_cdigest_bytes(h, &d->n, sizeof(d->n));
	return h ? h : 1;
}

#endif
