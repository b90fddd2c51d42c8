/*
 * blf_hcache.c — the shm cache of HTTP answers (see blf_hcache.h).
 *
 * A hash table with a lock per slot. SIP workers only read it: a hit
 * costs one slot lock; a miss marks the entry queued and hands the
 * question to the user's ask() (a ring for the HTTP process) outside the
 * lock; the HTTP process stores the answer through the user's code
 * (blf_hc_alloc/swap/fail). The number of entries is bounded: a new one
 * evicts the least recently useful (stale first) that no answer is on its
 * way to, or, for a cache that does not evict, is not made. A waiting SIP
 * worker polls its entry every 2 ms, holding no lock while it sleeps.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>

#include "core/mem/mem.h"
#include "core/mem/shm_mem.h"
#include "core/dprint.h"
#include "core/hashes.h"
#include "core/locking.h"
#include "core/atomic_ops.h"
#include "core/globals.h"
#include "core/ut.h"

#include "blf_hcache.h"

#define BLF_HC_EVICT_SCAN 64 /* slots searched for a stale entry to evict */
#define BLF_HC_VAL_ALIGN(n) (((n) + 7) & ~(size_t)7)

struct blf_hc
{
	const blf_hc_ops_t *ops;
	unsigned int size;
	gen_lock_set_t *locks;
	gen_lock_t count_lock; /* count and evict_at */
	int count;
	unsigned int evict_at; /* slot where the next eviction search starts */
	atomic_t waiters;	   /* SIP workers waiting now */
	atomic_t riders;	   /* ... of them beside another for the same key */
	blf_hc_ent_t *slots[];
};

#define blf_hc_idx(c, h) ((h) & ((c)->size - 1))

static void blf_hc_stat(stat_var **st, int n)
{
	if(st && *st)
		update_stat(*st, n);
}

blf_hc_t *blf_hc_new(const blf_hc_ops_t *ops)
{
	blf_hc_t *c;
	size_t sz = sizeof(*c) + ops->slots * sizeof(blf_hc_ent_t *);

	c = shm_malloc(sz);
	if(c == NULL) {
		SHM_MEM_ERROR;
		return NULL;
	}
	memset(c, 0, sz);
	c->ops = ops;
	c->size = ops->slots;
	lock_init(&c->count_lock);
	atomic_set(&c->waiters, 0);
	atomic_set(&c->riders, 0);
	c->locks = lock_set_alloc(ops->slots);
	if(c->locks == NULL || lock_set_init(c->locks) == NULL) {
		LM_ERR("cannot allocate the %s cache locks\n", ops->what);
		if(c->locks)
			lock_set_dealloc(c->locks);
		shm_free(c);
		return NULL;
	}
	return c;
}

void blf_hc_free(blf_hc_t *c)
{
	blf_hc_ent_t *e, *n;
	unsigned int i;

	if(c == NULL)
		return;
	for(i = 0; i < c->size; i++)
		for(e = c->slots[i]; e; e = n) {
			n = e->next;
			shm_free(e);
		}
	lock_set_destroy(c->locks);
	lock_set_dealloc(c->locks);
	shm_free(c);
}

unsigned int blf_hc_hash(const str *key)
{
	return get_hash1_raw(key->s, key->len);
}

void blf_hc_lock(blf_hc_t *c, unsigned int h)
{
	lock_set_get(c->locks, blf_hc_idx(c, h));
}

void blf_hc_unlock(blf_hc_t *c, unsigned int h)
{
	lock_set_release(c->locks, blf_hc_idx(c, h));
}

blf_hc_ent_t *blf_hc_find(blf_hc_t *c, unsigned int h, const str *key)
{
	return blf_hcpol_find(c->slots[blf_hc_idx(c, h)], h, key->s, key->len);
}

blf_hc_ent_t *blf_hc_alloc(unsigned int h, const str *key, size_t vlen)
{
	blf_hc_ent_t *e;
	size_t hsz = BLF_HC_VAL_ALIGN(sizeof(*e)), vsz = BLF_HC_VAL_ALIGN(vlen);

	e = shm_malloc(hsz + vsz + key->len + 1);
	if(e == NULL) {
		SHM_MEM_ERROR;
		return NULL;
	}
	memset(e, 0, hsz + vsz);
	e->hash = h;
	e->val = (char *)e + hsz;
	e->key = (char *)e->val + vsz;
	e->klen = key->len;
	memcpy(e->key, key->s, key->len);
	e->key[key->len] = '\0';
	return e;
}

void blf_hc_swap(blf_hc_t *c, blf_hc_ent_t *old, blf_hc_ent_t *nw)
{
	blf_hc_ent_t **pa;

	nw->waiting = old->waiting;
	nw->used = old->used;
	nw->queued = old->queued;
	for(pa = &c->slots[blf_hc_idx(c, old->hash)]; *pa; pa = &(*pa)->next) {
		if(*pa == old) {
			nw->next = old->next;
			*pa = nw;
			shm_free(old);
			return;
		}
	}
}

void blf_hc_fail(blf_hc_ent_t *e, time_t now)
{
	e->queued = 0;
	if(e->state == BLF_HC_PENDING)
		e->state = BLF_HC_ERROR;
	e->retry_at = now + BLF_HC_RETRY_S;
}

int blf_hc_answer_state(blf_hc_t *c, int status, int max_age, int *ttl)
{
	int kind = blf_hcpol_kind(status);

	*ttl = blf_hcpol_ttl(kind, max_age, *c->ops->ttl, *c->ops->neg_ttl);
	if(kind == BLF_HCPOL_POSITIVE)
		return BLF_HC_ANSWER;
	if(kind == BLF_HCPOL_NEGATIVE)
		return BLF_HC_NEGATIVE;
	blf_hc_stat(c->ops->st_errors, 1);
	return BLF_HC_ERROR;
}

static void blf_hc_uncount(blf_hc_t *c, int n)
{
	lock_get(&c->count_lock);
	c->count -= n;
	lock_release(&c->count_lock);
}

/*
 * Room for one more entry: below ops->max it is counted at once; at it,
 * one entry is evicted (a stale one of the next BLF_HC_EVICT_SCAN slots if
 * any, else the least recently useful of the first slot, the whole table
 * round, with one no answer is awaited for). No slot lock may be held.
 * Returns 0 with the entry counted, -1 when there is no room.
 */
static int blf_hc_reserve(blf_hc_t *c, time_t now)
{
	blf_hc_ent_t **pe, *e;
	unsigned int start, i, idx;
	int pass, done = 0;

	lock_get(&c->count_lock);
	if(c->count < *c->ops->max) {
		c->count++;
		lock_release(&c->count_lock);
		return 0;
	}
	start = c->evict_at;
	c->evict_at = (start + 1) % c->size;
	lock_release(&c->count_lock);
	if(!c->ops->evict)
		return -1;
	/* a small cache is sparse: the whole table round if need be */
	for(pass = 1; pass >= 0 && !done; pass--) {
		for(i = 0; i < (pass ? BLF_HC_EVICT_SCAN : c->size) && !done; i++) {
			idx = (start + i) % c->size;
			if(c->slots[idx] == NULL)
				continue; /* a racy peek: at worst an entry is missed */
			lock_set_get(c->locks, idx);
			pe = blf_hcpol_evict_pick(&c->slots[idx], now, pass);
			if(pe) {
				e = *pe;
				*pe = e->next;
				shm_free(e);
				done = 1;
			}
			lock_set_release(c->locks, idx);
		}
	}
	if(!done) {
		blf_hc_stat(c->ops->st_full, 1);
		return -1;
	}
	blf_hc_stat(c->ops->st_evicted, 1);
	return 0; /* the freed entry's place is ours: count unchanged */
}

blf_hc_ent_t *blf_hc_get(
		blf_hc_t *c, unsigned int h, const str *key, time_t now)
{
	blf_hc_ent_t *e;

	e = blf_hc_find(c, h, key);
	if(e)
		return e;
	blf_hc_unlock(c, h);
	if(blf_hc_reserve(c, now) < 0) {
		blf_hc_lock(c, h);
		return blf_hc_find(c, h, key);
	}
	blf_hc_lock(c, h);
	e = blf_hc_find(c, h, key); /* added by another process meanwhile? */
	if(e) {
		blf_hc_uncount(c, 1);
		return e;
	}
	e = blf_hc_alloc(h, key, c->ops->vsize);
	if(e == NULL) {
		blf_hc_uncount(c, 1);
		return NULL;
	}
	if(c->ops->init)
		c->ops->init(e);
	e->used = now;
	e->next = c->slots[blf_hc_idx(c, h)];
	c->slots[blf_hc_idx(c, h)] = e;
	return e;
}

void blf_hc_unqueue(blf_hc_t *c, const str *key)
{
	unsigned int h = blf_hc_hash(key);
	blf_hc_ent_t *e;

	blf_hc_lock(c, h);
	e = blf_hc_find(c, h, key);
	if(e)
		e->queued = 0;
	blf_hc_unlock(c, h);
}

int blf_hc_queued(blf_hc_t *c, const str *key)
{
	unsigned int h = blf_hc_hash(key);
	blf_hc_ent_t *e;
	int q;

	blf_hc_lock(c, h);
	e = blf_hc_find(c, h, key);
	q = e && e->queued;
	blf_hc_unlock(c, h);
	return q;
}

/*
 * A place to wait for the answer about key: one of the wait_workers
 * places, else, when another worker already waits for the same key, one
 * of as many places for riders, at most ops->riders per key. 0: none,
 * 1: a place, 2: a rider's place, 3: no bound; -1: answered meanwhile.
 */
static int blf_hc_wait_get(blf_hc_t *c, unsigned int h, const str *key)
{
	blf_hc_ent_t *e;
	int got = 0, cap;

	blf_hc_lock(c, h);
	e = blf_hc_find(c, h, key);
	if(e == NULL || e->state != BLF_HC_PENDING) {
		blf_hc_unlock(c, h);
		return -1;
	}
	if(c->ops->wait_workers == NULL) {
		got = e->waiting < 255 ? 3 : 0; /* the counter's bound */
	} else {
		cap = blf_hcpol_wait_cap(*c->ops->wait_workers, children_no);
		if(atomic_add(&c->waiters, 1) <= cap)
			got = 1;
		else
			atomic_dec(&c->waiters);
		if(!got && e->waiting && e->waiting < 1 + c->ops->riders) {
			if(atomic_add(&c->riders, 1) <= cap)
				got = 2;
			else
				atomic_dec(&c->riders);
		}
	}
	if(got)
		e->waiting++; /* < 255: at most 2 x cap, or checked above */
	blf_hc_unlock(c, h);
	return got;
}

/* gives the place back; the slot lock of e is held (e may be NULL) */
static void blf_hc_wait_put(blf_hc_t *c, blf_hc_ent_t *e, int got)
{
	if(e && e->waiting)
		e->waiting--;
	if(got == 2)
		atomic_dec(&c->riders);
	else if(got == 1)
		atomic_dec(&c->waiters);
}

int blf_hc_lookup(blf_hc_t *c, const str *key, int wait_ms, blf_hc_read_f read,
		void *arg, int *why)
{
	blf_hc_ent_t *e;
	unsigned int h = blf_hc_hash(key);
	int ret, ask = 0, inflight = 0, got, waited, w;
	time_t now = time(NULL);

	if(why == NULL)
		why = &w;
	blf_hc_lock(c, h);
	e = blf_hc_get(c, h, key, now);
	ret = read(e, arg);
	if(e) {
		e->used = now;
		inflight = e->queued;
		if(blf_hcpol_should_ask(e, now)) {
			e->queued = 1;
			ask = 1;
		}
	}
	blf_hc_unlock(c, h);
	blf_hc_stat(ret ? c->ops->st_hits : c->ops->st_misses, 1);
	if(ask) {
		inflight = 1;
		if(c->ops->ask == NULL || c->ops->ask(key) < 0) {
			/* the queue is full: let a later lookup ask again */
			inflight = 0;
			blf_hc_unqueue(c, key);
		}
	}
	*why = BLF_HC_HIT;
	if(ret)
		return ret;
	if(!inflight) {
		*why = e == NULL ? BLF_HC_FULL : ask ? BLF_HC_QFULL : BLF_HC_RETRY;
		return ret;
	}
	*why = BLF_HC_NOWAIT;
	if(wait_ms <= 0)
		return ret;
	/* wait for the answer asked, bounded in time and in the number of
	 * SIP workers doing so */
	got = blf_hc_wait_get(c, h, key);
	if(got == 0) {
		*why = BLF_HC_BUSY;
		return ret;
	}
	*why = BLF_HC_ANSWERED;
	if(got < 0) { /* answered since the first look */
		blf_hc_lock(c, h);
		ret = read(blf_hc_find(c, h, key), arg);
		blf_hc_unlock(c, h);
		return ret;
	}
	for(waited = 0; waited < wait_ms; waited += 2) {
		sleep_us(2000);
		blf_hc_lock(c, h);
		e = blf_hc_find(c, h, key);
		if(e == NULL || e->state != BLF_HC_PENDING) {
			ret = read(e, arg);
			blf_hc_wait_put(c, e, got);
			blf_hc_unlock(c, h);
			return ret;
		}
		blf_hc_unlock(c, h);
	}
	blf_hc_lock(c, h);
	blf_hc_wait_put(c, blf_hc_find(c, h, key), got);
	blf_hc_unlock(c, h);
	*why = BLF_HC_TIMEOUT;
	return ret;
}

int blf_hc_want(blf_hc_t *c, const str *key, unsigned char tries)
{
	unsigned int h = blf_hc_hash(key);
	blf_hc_ent_t *e;
	int r = 0;

	blf_hc_lock(c, h);
	e = blf_hc_find(c, h, key);
	if(e && (e->state == BLF_HC_ERROR || e->state == BLF_HC_PENDING)) {
		e->wanted = tries;
		r = 1;
	}
	blf_hc_unlock(c, h);
	return r;
}

/* a key the sweep asks about again, copied out of its slot's lock */
typedef struct blf_hc_again
{
	struct blf_hc_again *next;
	str key;
} blf_hc_again_t;

/* asks again (no lock held): a full queue leaves the entry for the next
 * pass (a wanted try is spent) */
static void blf_hc_ask_again(blf_hc_t *c, blf_hc_again_t *l)
{
	blf_hc_again_t *n;

	for(; l; l = n) {
		n = l->next;
		if(c->ops->ask == NULL || c->ops->ask(&l->key) < 0)
			blf_hc_unqueue(c, &l->key);
		pkg_free(l);
	}
}

int blf_hc_sweep(blf_hc_t *c)
{
	blf_hc_ent_t **pa, *e;
	blf_hc_again_t *again, *a;
	unsigned int i;
	time_t now = time(NULL);
	int freed = 0, drop;

	for(i = 0; i < c->size; i++) {
		if(c->slots[i] == NULL)
			continue; /* a racy peek: an entry added now waits a pass */
		again = NULL;
		lock_set_get(c->locks, i);
		for(pa = &c->slots[i]; *pa;) {
			e = *pa;
			if(blf_hcpol_sweep_ask(e, now)) {
				/* subscriptions wait for it: asked again, not dropped */
				a = pkg_malloc(sizeof(*a) + e->klen);
				if(a) {
					a->key.s = (char *)(a + 1);
					a->key.len = e->klen;
					memcpy(a->key.s, e->key, e->klen);
					a->next = again;
					again = a;
					e->queued = 1;
				}
				e->wanted--;
				pa = &e->next;
				continue;
			}
			drop = !e->wanted
				   && (c->ops->sweepable
								   ? c->ops->sweepable(e, now)
								   : blf_hcpol_idle(e, now, *c->ops->idle));
			if(!drop) {
				pa = &e->next;
				continue;
			}
			*pa = e->next;
			shm_free(e);
			freed++;
		}
		lock_set_release(c->locks, i);
		blf_hc_ask_again(c, again);
	}
	if(freed) {
		blf_hc_uncount(c, freed);
		blf_hc_stat(c->ops->st_evicted, freed);
	}
	return freed;
}

int blf_hc_flush(blf_hc_t *c)
{
	blf_hc_ent_t **pa, *e;
	unsigned int i;
	int count = 0, freed = 0;

	for(i = 0; i < c->size; i++) {
		lock_set_get(c->locks, i);
		for(pa = &c->slots[i]; *pa;) {
			e = *pa;
			if(e->state >= c->ops->flush_counts)
				count++;
			if(e->queued || e->waiting
					|| (c->ops->pinned && c->ops->pinned(e))) {
				/* an answer on its way still lands (it is the fresh
				 * one); a pinned entry keeps what the user says */
				e->state = BLF_HC_PENDING;
				e->retry_at = 0;
				if(c->ops->reset)
					c->ops->reset(e);
				pa = &e->next;
				continue;
			}
			*pa = e->next;
			shm_free(e);
			freed++;
		}
		lock_set_release(c->locks, i);
	}
	blf_hc_uncount(c, freed);
	return count;
}

void blf_hc_each(
		blf_hc_t *c, int (*fn)(const blf_hc_ent_t *e, void *arg), void *arg)
{
	blf_hc_ent_t *e;
	unsigned int i;

	for(i = 0; i < c->size; i++) {
		lock_set_get(c->locks, i);
		for(e = c->slots[i]; e; e = e->next) {
			if(fn(e, arg) < 0) {
				lock_set_release(c->locks, i);
				return;
			}
		}
		lock_set_release(c->locks, i);
	}
}

typedef struct blf_hc_rpc
{
	rpc_t *rpc;
	void *ctx;
	time_t now;
	blf_hc_rpc_f fn;
} blf_hc_rpc_t;

static int blf_hc_rpc_one(const blf_hc_ent_t *e, void *arg)
{
	blf_hc_rpc_t *r = arg;

	return r->fn(e, r->rpc, r->ctx, r->now);
}

void blf_hc_rpc_list(blf_hc_t *c, rpc_t *rpc, void *ctx, blf_hc_rpc_f fn)
{
	blf_hc_rpc_t r = {rpc, ctx, time(NULL), fn};

	if(c)
		blf_hc_each(c, blf_hc_rpc_one, &r);
}

const char *blf_hc_state_name(blf_hc_t *c, const blf_hc_ent_t *e)
{
	const char *const *n = c->ops->state_names;
	int i;

	for(i = 0; n && n[i]; i++)
		if(i == e->state)
			return n[i];
	return "error";
}

unsigned long blf_hc_count(blf_hc_t *c)
{
	return c ? (unsigned long)c->count : 0;
}
