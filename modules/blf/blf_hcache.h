/*
 * blf_hcache.h — one shm cache of HTTP answers for the alias, visibility
 * and list caches (blf_alias.c, blf_viscache.c, blf_list.c): entries keyed
 * by a string with a TTL (the answer's max-age or the cache's), kept stale
 * while the service fails, a question queued for the HTTP process without
 * waiting, SIP workers waiting for an answer at most a given time and in
 * bounded number, a bounded number of entries, a sweep, a flush and a walk
 * for the RPC listings. Each user keeps its own value layout (in the
 * entry's block), parsing and reactions; the decisions are blf_hcpol.c.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_HCACHE_H
#define BLF_HCACHE_H

#include <stddef.h>
#include <time.h>

#include "core/str.h"
#include "core/counters.h"
#include "core/rpc.h"

#include "blf_hcpol.h"

/* what a cache is: static, in each process at the same address */
typedef struct blf_hc_ops
{
	const char *what;			   /* "alias", for log lines */
	unsigned int slots;			   /* a power of 2 */
	size_t vsize;				   /* the value of a new (pending) entry */
	void (*init)(blf_hc_ent_t *e); /* a new pending entry (NULL: zeroes) */
	/* queues the question about key for the HTTP process; -1: full */
	int (*ask)(const str *key);
	const int *max; /* entries at most (a modparam) */
	int evict;		/* full: 1 evicts an entry, 0 adds none */
	/* SIP workers waiting at once (a modparam, blf_hcpol_wait_cap); NULL:
	 * not bounded. riders: per key, workers waiting beside the first
	 * (a retransmission, mostly) on as many places again */
	const int *wait_workers;
	int riders;
	/* the sweep drops e when this says so (NULL: blf_hcpol_idle with
	 * *idle) */
	int (*sweepable)(const blf_hc_ent_t *e, time_t now);
	const int *idle;
	/* a flush keeps e (as pending) when this says so, after reset */
	int (*pinned)(const blf_hc_ent_t *e);
	void (*reset)(blf_hc_ent_t *e);
	int flush_counts; /* states a flush counts: from BLF_HC_ERROR or
					   * BLF_HC_ANSWER */
	/* the states' names for the RPC listing: pending, error, then the
	 * cache's answer states (NULL-ended) */
	const char *const *state_names;
	/* an answer's TTL: positive, negative (modparams) */
	const int *ttl, *neg_ttl;
	/* statistics (NULL: none) */
	stat_var **st_evicted, **st_full, **st_hits, **st_misses, **st_errors;
} blf_hc_ops_t;

typedef struct blf_hc blf_hc_t;

blf_hc_t *blf_hc_new(const blf_hc_ops_t *ops);
void blf_hc_free(blf_hc_t *c);

unsigned int blf_hc_hash(const str *key);
void blf_hc_lock(blf_hc_t *c, unsigned int h);
void blf_hc_unlock(blf_hc_t *c, unsigned int h);
/* the entry of key (slot lock held), NULL if none */
blf_hc_ent_t *blf_hc_find(blf_hc_t *c, unsigned int h, const str *key);
/* finds key's entry or adds a pending one; the slot lock is held on entry
 * and on return (dropped meanwhile to make room). NULL: no room */
blf_hc_ent_t *blf_hc_get(
		blf_hc_t *c, unsigned int h, const str *key, time_t now);

/* a new entry (one block, value vlen bytes zeroed) for an answer, not
 * linked; NULL: no memory */
blf_hc_ent_t *blf_hc_alloc(unsigned int h, const str *key, size_t vlen);
/* puts nw in old's place (slot lock held): nw takes old's waiting
 * workers, last use and question; old is freed */
void blf_hc_swap(blf_hc_t *c, blf_hc_ent_t *old, blf_hc_ent_t *nw);
/* the state of an answer of HTTP status (-1 for a body that could not be
 * read): BLF_HC_ANSWER (200), BLF_HC_NEGATIVE (404) or BLF_HC_ERROR, and
 * its TTL into *ttl; a failure is counted */
int blf_hc_answer_state(blf_hc_t *c, int status, int max_age, int *ttl);
/* a failed answer (slot lock held): a stale answer stays; without one
 * the entry is in error; asked again after BLF_HC_RETRY_S s */
void blf_hc_fail(blf_hc_ent_t *e, time_t now);

/* copies out what e says (slot lock held; e may be NULL): 1 when it
 * holds an answer, fresh or stale */
typedef int (*blf_hc_read_f)(const blf_hc_ent_t *e, void *arg);

/* why a lookup gives no answer */
enum blf_hc_why
{
	BLF_HC_HIT = 0,	 /* an answer */
	BLF_HC_NOWAIT,	 /* none now; asked; the caller does not wait */
	BLF_HC_FULL,	 /* no room for the entry: nothing asked */
	BLF_HC_QFULL,	 /* the HTTP queue is full: nothing asked */
	BLF_HC_RETRY,	 /* an error a moment ago: asked again later */
	BLF_HC_BUSY,	 /* too many SIP workers waiting already */
	BLF_HC_TIMEOUT,	 /* waited wait_ms for nothing */
	BLF_HC_ANSWERED, /* waited, and the answer came (or failed) */
};

/*
 * What the cache says of key: read() is called under the slot lock with
 * the entry, then, after a wait, with the entry as answered. A miss (no
 * fresh answer) asks the service; with wait_ms > 0 and no answer at all
 * the caller waits for the one asked (by itself or another) at most
 * wait_ms. Returns read()'s last result; *why says why none (may be NULL).
 */
int blf_hc_lookup(blf_hc_t *c, const str *key, int wait_ms, blf_hc_read_f read,
		void *arg, int *why);

/* 1 while a question about key is on its way (or its answer applied) */
int blf_hc_queued(blf_hc_t *c, const str *key);
/* sets key's question done (its answer applied) */
void blf_hc_unqueue(blf_hc_t *c, const str *key);

/* subscriptions wait for key's answer, which could not be had (an error)
 * or is still coming: should it fail, the sweep asks again, at most tries
 * times, BLF_HC_RETRY_S apart. 1 when key's entry is so marked, 0 when it
 * holds an answer already or has no entry */
int blf_hc_want(blf_hc_t *c, const str *key, unsigned char tries);

/* drops the entries ops->sweepable says, and asks again for the wanted
 * ones in error whose time has come (blf_hcpol_sweep_ask); returns how
 * many were dropped */
int blf_hc_sweep(blf_hc_t *c);
/* drops every entry but the pinned and those an answer is on its way
 * to (pending again); returns the answers dropped */
int blf_hc_flush(blf_hc_t *c);
/* calls fn on each entry, its slot locked, until fn returns < 0 */
void blf_hc_each(
		blf_hc_t *c, int (*fn)(const blf_hc_ent_t *e, void *arg), void *arg);
unsigned long blf_hc_count(blf_hc_t *c);

/* an RPC listing (c may be NULL: nothing): fn adds e (its slot locked);
 * < 0 when the answer has failed (adding more would reply twice) */
typedef int (*blf_hc_rpc_f)(
		const blf_hc_ent_t *e, rpc_t *rpc, void *ctx, time_t now);
void blf_hc_rpc_list(blf_hc_t *c, rpc_t *rpc, void *ctx, blf_hc_rpc_f fn);
/* the name of e's state (ops->state_names), "error" when out of range */
const char *blf_hc_state_name(blf_hc_t *c, const blf_hc_ent_t *e);

#endif
