/*
 * blf_viscache.c — the per-watcher visibility cache (see blf_viscache.h).
 *
 * Same pattern as the alias cache (blf_alias.c): a shm hash table with a
 * lock per slot, keyed (entity, watcher); SIP workers only read it (a hit
 * costs one slot lock); a miss puts the question on a bounded shm ring for
 * the HTTP process, and only a new SUBSCRIBE waits for the answer, at most
 * http_timeout. Answers live alias_cache_ttl (a 404 "no rule":
 * alias_negative_ttl; Cache-Control: max-age overrides both); after an
 * error the stale answer stays in use and is asked again after
 * BLF_VC_RETRY s. Records are bounded by alias_cache_size.
 *
 * Unknown means hidden: with no answer, fresh or stale, a watcher is
 * treated as `none` (a new SUBSCRIBE gets 403, a wildcard entity is not
 * shown) until the answer lands; the service being down never shows a
 * watcher more than its rule could allow.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>
#include <unistd.h>

#include "core/mem/shm_mem.h"
#include "core/dprint.h"
#include "core/hashes.h"
#include "core/ut.h"
#include "core/atomic_ops.h"
#include "core/globals.h"

#include "blf.h"
#include "blf_alias.h"
#include "blf_json.h"
#include "blf_vis.h"
#include "blf_viscache.h"

enum blf_vc_state
{
	BLF_VC_PENDING = 0, /* asked, no answer yet */
	BLF_VC_RULE,		/* 200: vis is the watcher's policy */
	BLF_VC_NORULE,		/* 404: the entity policy / global decide */
	BLF_VC_ERROR,		/* no answer could be had, nothing stale */
};

typedef struct blf_vc
{
	struct blf_vc *next;
	unsigned int hash;
	unsigned char state;
	unsigned char queued;  /* on the ring or in flight */
	unsigned char waiting; /* SIP workers waiting for the answer */
	signed char vis;	   /* BLF_VC_RULE: the answer */
	time_t expires;		   /* fresh until then */
	time_t retry_at;	   /* after an error: next try not before */
	time_t used;		   /* last looked up */
	str entity;			   /* user@host, canonical */
	str watcher;		   /* user@host, alias-resolved */
} blf_vc_t;

#define BLF_VC_SLOTS 1024
#define BLF_VC_RING 1024
#define BLF_VC_RETRY 5		 /* s between attempts after an error */
#define BLF_VC_EVICT_SCAN 64 /* slots searched for a record to evict */

typedef struct blf_vc_table
{
	gen_lock_set_t *locks;
	blf_vc_t **slots;
	gen_lock_t lock; /* count and the ring */
	int count;
	unsigned int evict_at;
	atomic_t waiters;
	unsigned int head, n; /* the ring of questions */
	char q[BLF_VC_RING][2][BLF_KEY_MAX];
} blf_vc_table_t;

static blf_vc_table_t *blf_vc = NULL;
static blf_viscache_hooks_t blf_vc_hk;
static void (*blf_vc_list_hook)(const str *entity, const str *watcher) = NULL;

#define blf_vc_idx(h) ((h) & (BLF_VC_SLOTS - 1))

void blf_viscache_set_hooks(const blf_viscache_hooks_t *h)
{
	blf_vc_hk = *h;
}

void blf_viscache_set_list_hook(
		void (*fn)(const str *entity, const str *watcher))
{
	blf_vc_list_hook = fn;
}

int blf_viscache_enabled(void)
{
	return blf_cfg.visibility_url.len > 0;
}

int blf_viscache_init(void)
{
	size_t sz;

	if(!blf_viscache_enabled())
		return 0;
	sz = sizeof(blf_vc_table_t) + BLF_VC_SLOTS * sizeof(blf_vc_t *);
	blf_vc = shm_malloc(sz);
	if(blf_vc == NULL) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(blf_vc, 0, sz);
	blf_vc->slots = (blf_vc_t **)(blf_vc + 1);
	lock_init(&blf_vc->lock);
	atomic_set(&blf_vc->waiters, 0);
	blf_vc->locks = lock_set_alloc(BLF_VC_SLOTS);
	if(blf_vc->locks == NULL || lock_set_init(blf_vc->locks) == NULL) {
		LM_ERR("cannot allocate visibility cache locks\n");
		return -1;
	}
	return 0;
}

void blf_viscache_destroy(void)
{
	blf_vc_t *a, *n;
	unsigned int i;

	if(blf_vc == NULL)
		return;
	for(i = 0; i < BLF_VC_SLOTS; i++)
		for(a = blf_vc->slots[i]; a; a = n) {
			n = a->next;
			shm_free(a);
		}
	lock_set_destroy(blf_vc->locks);
	lock_set_dealloc(blf_vc->locks);
	shm_free(blf_vc);
	blf_vc = NULL;
}

static unsigned int blf_vc_hash(const str *e, const str *w)
{
	return get_hash2_raw(e, w);
}

static blf_vc_t *blf_vc_find(unsigned int h, const str *e, const str *w)
{
	blf_vc_t *a;

	for(a = blf_vc->slots[blf_vc_idx(h)]; a; a = a->next)
		if(a->hash == h && STR_EQ(a->entity, *e) && STR_EQ(a->watcher, *w))
			return a;
	return NULL;
}

/* one record of slot idx (locked) that no answer is awaited for */
static int blf_vc_evict_in(unsigned int idx)
{
	blf_vc_t **pa, *a;

	for(pa = &blf_vc->slots[idx]; *pa; pa = &(*pa)->next) {
		a = *pa;
		if(a->queued || a->waiting)
			continue;
		*pa = a->next;
		shm_free(a);
		return 1;
	}
	return 0;
}

/* room for one record (no slot lock held); -1: none */
static int blf_vc_reserve(void)
{
	unsigned int start, i, idx;
	int done = 0;

	lock_get(&blf_vc->lock);
	if(blf_vc->count < blf_cfg.alias_cache_size) {
		blf_vc->count++;
		lock_release(&blf_vc->lock);
		return 0;
	}
	start = blf_vc->evict_at;
	blf_vc->evict_at = (start + 1) % BLF_VC_SLOTS;
	lock_release(&blf_vc->lock);
	for(i = 0; i < BLF_VC_EVICT_SCAN && !done; i++) {
		idx = (start + i) % BLF_VC_SLOTS;
		if(blf_vc->slots[idx] == NULL)
			continue;
		lock_set_get(blf_vc->locks, idx);
		done = blf_vc_evict_in(idx);
		lock_set_release(blf_vc->locks, idx);
	}
	if(done)
		update_stat(blf_st_alias_evicted, 1);
	return done ? 0 : -1;
}

static void blf_vc_uncount(int n)
{
	lock_get(&blf_vc->lock);
	blf_vc->count -= n;
	lock_release(&blf_vc->lock);
}

/* finds or adds (pending) the record; the slot lock is held on entry and
 * on return (dropped meanwhile to make room) */
static blf_vc_t *blf_vc_get(
		unsigned int h, const str *e, const str *w, time_t now)
{
	blf_vc_t *a;

	a = blf_vc_find(h, e, w);
	if(a)
		return a;
	lock_set_release(blf_vc->locks, blf_vc_idx(h));
	if(blf_vc_reserve() < 0) {
		lock_set_get(blf_vc->locks, blf_vc_idx(h));
		return blf_vc_find(h, e, w);
	}
	lock_set_get(blf_vc->locks, blf_vc_idx(h));
	a = blf_vc_find(h, e, w);
	if(a) {
		blf_vc_uncount(1);
		return a;
	}
	a = shm_malloc(sizeof(*a) + e->len + 1 + w->len + 1);
	if(a == NULL) {
		SHM_MEM_ERROR;
		blf_vc_uncount(1);
		return NULL;
	}
	memset(a, 0, sizeof(*a));
	a->hash = h;
	a->entity.s = (char *)(a + 1);
	a->entity.len = e->len;
	memcpy(a->entity.s, e->s, e->len);
	a->entity.s[e->len] = '\0';
	a->watcher.s = a->entity.s + e->len + 1;
	a->watcher.len = w->len;
	memcpy(a->watcher.s, w->s, w->len);
	a->watcher.s[w->len] = '\0';
	a->used = now;
	a->next = blf_vc->slots[blf_vc_idx(h)];
	blf_vc->slots[blf_vc_idx(h)] = a;
	return a;
}

/* puts the question on the ring; -1 when it is full */
static int blf_vc_ask(const str *e, const str *w)
{
	unsigned int i;

	if(e->len >= BLF_KEY_MAX || w->len >= BLF_KEY_MAX)
		return -1; /* cannot happen: keys are built in such buffers */
	lock_get(&blf_vc->lock);
	if(blf_vc->n == BLF_VC_RING) {
		lock_release(&blf_vc->lock);
		return -1;
	}
	i = (blf_vc->head + blf_vc->n) % BLF_VC_RING;
	memcpy(blf_vc->q[i][0], e->s, e->len);
	blf_vc->q[i][0][e->len] = '\0';
	memcpy(blf_vc->q[i][1], w->s, w->len);
	blf_vc->q[i][1][w->len] = '\0';
	blf_vc->n++;
	lock_release(&blf_vc->lock);
	if(blf_vc_hk.wake)
		blf_vc_hk.wake();
	return 0;
}

int blf_viscache_take(char *entity, char *watcher)
{
	int got = 0;

	if(blf_vc == NULL)
		return 0;
	lock_get(&blf_vc->lock);
	if(blf_vc->n) {
		strcpy(entity, blf_vc->q[blf_vc->head][0]);
		strcpy(watcher, blf_vc->q[blf_vc->head][1]);
		blf_vc->head = (blf_vc->head + 1) % BLF_VC_RING;
		blf_vc->n--;
		got = 1;
	}
	lock_release(&blf_vc->lock);
	return got;
}

/* the per-watcher answer of a record: a policy, BLF_VIS_UNSET for no
 * rule, -2 when there is none (slot lock held) */
static int blf_vc_read(const blf_vc_t *a)
{
	if(a == NULL)
		return -2;
	if(a->state == BLF_VC_RULE)
		return a->vis;
	if(a->state == BLF_VC_NORULE)
		return BLF_VIS_UNSET;
	return -2;
}

/*
 * One lookup: the cached answer (-2: none), asking when there is no fresh
 * one. *h gets the hash, *inflight whether a question is on its way.
 */
static int blf_vc_lookup(const str *e, const str *w, unsigned int *hp,
		int *inflight, blf_vc_t **rec)
{
	blf_vc_t *a;
	unsigned int h = blf_vc_hash(e, w);
	time_t now = time(NULL);
	int ans, ask = 0;

	lock_set_get(blf_vc->locks, blf_vc_idx(h));
	a = blf_vc_get(h, e, w, now);
	ans = blf_vc_read(a);
	*inflight = 0;
	if(a) {
		a->used = now;
		*inflight = a->queued;
		if(!a->queued && now >= a->retry_at
				&& (a->state == BLF_VC_PENDING || a->state == BLF_VC_ERROR
						|| now >= a->expires)) {
			a->queued = 1;
			ask = 1;
		}
	}
	lock_set_release(blf_vc->locks, blf_vc_idx(h));
	update_stat(ans == -2 ? blf_st_cache_misses : blf_st_cache_hits, 1);
	if(ask) {
		*inflight = 1;
		if(blf_vc_ask(e, w) < 0) {
			*inflight = 0;
			lock_set_get(blf_vc->locks, blf_vc_idx(h));
			a = blf_vc_find(h, e, w);
			if(a)
				a->queued = 0;
			lock_set_release(blf_vc->locks, blf_vc_idx(h));
		}
	}
	*hp = h;
	*rec = a;
	return ans;
}

static int blf_vc_decide(int ans, const str *e, int entpol, blf_vis_t *vis)
{
	if(ans == -2) {
		*vis = BLF_VIS_NONE; /* unknown: hidden */
		return 0;
	}
	if(entpol < 0)
		entpol = blf_alias_policy(e);
	*vis = blf_vis_decide(blf_cfg.visibility,
			entpol < 0 ? BLF_VIS_UNSET : entpol, ans, BLF_VIS_UNSET, 0);
	return 1;
}

int blf_vis_lookup(const str *entity, const str *watcher, blf_vis_t *vis)
{
	unsigned int h;
	int inflight, ans;
	blf_vc_t *a;

	if(STR_EQ(*entity, *watcher)) {
		*vis = BLF_VIS_FULL;
		return 1;
	}
	if(blf_vc == NULL) {
		int p = blf_alias_policy(entity);
		*vis = blf_vis_decide(blf_cfg.visibility, p < 0 ? BLF_VIS_UNSET : p,
				BLF_VIS_UNSET, BLF_VIS_UNSET, 0);
		return 1;
	}
	ans = blf_vc_lookup(entity, watcher, &h, &inflight, &a);
	return blf_vc_decide(ans, entity, -1, vis);
}

/* a SUBSCRIBE refused for want of an answer: one line a second at most
 * per process */
static void blf_vc_no_wait(const str *e, const str *w, const char *why)
{
	static time_t last = 0;
	time_t now = time(NULL);

	if(now == last)
		return;
	last = now;
	LM_NOTICE("no visibility answer for %.*s watching %.*s (%s): refused "
			  "until known (unknown is none)\n",
			w->len, w->s, e->len, e->s, why);
}

int blf_vis_lookup_wait(const str *entity, const str *watcher, int entpol,
		int wait_ms, blf_vis_t *vis)
{
	unsigned int h;
	int inflight, ans, waited, cap;
	blf_vc_t *a;

	if(STR_EQ(*entity, *watcher)) {
		*vis = BLF_VIS_FULL;
		return 1;
	}
	if(blf_vc == NULL) {
		*vis = blf_vis_decide(blf_cfg.visibility,
				entpol < 0 ? BLF_VIS_UNSET : entpol, BLF_VIS_UNSET,
				BLF_VIS_UNSET, 0);
		return 1;
	}
	ans = blf_vc_lookup(entity, watcher, &h, &inflight, &a);
	if(ans == -2 && !inflight)
		blf_vc_no_wait(entity, watcher,
				a == NULL ? "visibility cache full"
						  : "an error a moment ago, or the HTTP queue full");
	if(ans != -2 || !inflight || wait_ms <= 0)
		return blf_vc_decide(ans, entity, entpol, vis);
	/* as many waiting SIP workers as the alias cache allows */
	cap = blf_cfg.alias_wait_workers > 0 ? blf_cfg.alias_wait_workers
										 : children_no / 8;
	if(cap > children_no / 4)
		cap = children_no / 4;
	if(cap < 1)
		cap = 1;
	if(atomic_add(&blf_vc->waiters, 1) > cap) {
		atomic_dec(&blf_vc->waiters);
		LM_NOTICE("visibility of %.*s for %.*s not waited for (too many "
				  "waiting): refused until known\n",
				entity->len, entity->s, watcher->len, watcher->s);
		return blf_vc_decide(ans, entity, entpol, vis);
	}
	lock_set_get(blf_vc->locks, blf_vc_idx(h));
	a = blf_vc_find(h, entity, watcher);
	if(a)
		a->waiting++;
	lock_set_release(blf_vc->locks, blf_vc_idx(h));
	for(waited = 0; waited < wait_ms && ans == -2; waited += 2) {
		sleep_us(2000);
		lock_set_get(blf_vc->locks, blf_vc_idx(h));
		a = blf_vc_find(h, entity, watcher);
		if(a == NULL || a->state != BLF_VC_PENDING || !a->queued) {
			ans = blf_vc_read(a);
			if(a == NULL || a->state != BLF_VC_PENDING)
				waited = wait_ms; /* answered (or failed) */
		}
		lock_set_release(blf_vc->locks, blf_vc_idx(h));
	}
	lock_set_get(blf_vc->locks, blf_vc_idx(h));
	a = blf_vc_find(h, entity, watcher);
	if(a && a->waiting)
		a->waiting--;
	lock_set_release(blf_vc->locks, blf_vc_idx(h));
	atomic_dec(&blf_vc->waiters);
	if(ans == -2)
		LM_NOTICE("no visibility answer for %.*s watching %.*s within %d ms:"
				  " refused (unknown is none)\n",
				watcher->len, watcher->s, entity->len, entity->s, wait_ms);
	return blf_vc_decide(ans, entity, entpol, vis);
}

int blf_viscache_pending(const str *entity, const str *watcher)
{
	blf_vc_t *a;
	unsigned int h;
	int p;

	if(blf_vc == NULL)
		return 0;
	h = blf_vc_hash(entity, watcher);
	lock_set_get(blf_vc->locks, blf_vc_idx(h));
	a = blf_vc_find(h, entity, watcher);
	p = a && a->queued; /* asked, or its answer being applied */
	lock_set_release(blf_vc->locks, blf_vc_idx(h));
	return p;
}

void blf_viscache_answer(const char *entity, const char *watcher, int status,
		const char *body, size_t len, int max_age)
{
	str e = {(char *)entity, strlen(entity)};
	str w = {(char *)watcher, strlen(watcher)};
	blf_vis_t v = BLF_VIS_NONE;
	blf_vc_t *a;
	unsigned int h;
	int state, ttl, changed;
	time_t now = time(NULL);

	if(status == 200) {
		if(blf_json_visibility(body, len, &v) == 0) {
			state = BLF_VC_RULE;
		} else {
			/* a rule that cannot be read is no rule to widen anything:
			 * handled as an error (the stale answer, else hidden) */
			LM_ERR("visibility service: bad answer for %.*s watching %.*s: "
				   "%.*s\n",
					w.len, w.s, e.len, e.s, (int)(len > 200 ? 200 : len),
					body ? body : "");
			state = BLF_VC_ERROR;
		}
	} else if(status == 404) {
		state = BLF_VC_NORULE;
	} else {
		if(status)
			LM_NOTICE("visibility service: HTTP %d for %.*s watching %.*s\n",
					status, w.len, w.s, e.len, e.s);
		state = BLF_VC_ERROR;
	}
	if(state == BLF_VC_ERROR)
		update_stat(blf_st_http_errors, 1);
	ttl = state == BLF_VC_RULE ? blf_cfg.alias_cache_ttl
							   : blf_cfg.alias_negative_ttl;
	if(max_age >= 0)
		ttl = max_age;

	h = blf_vc_hash(&e, &w);
	lock_set_get(blf_vc->locks, blf_vc_idx(h));
	a = blf_vc_find(h, &e, &w);
	if(a == NULL) { /* flushed or evicted meanwhile */
		lock_set_release(blf_vc->locks, blf_vc_idx(h));
		return;
	}
	if(state == BLF_VC_ERROR) {
		a->queued = 0;
		/* a stale answer stays; without one: hidden, asked again later */
		if(a->state == BLF_VC_PENDING)
			a->state = BLF_VC_ERROR;
		a->retry_at = now + BLF_VC_RETRY;
		lock_set_release(blf_vc->locks, blf_vc_idx(h));
		return;
	}
	changed = a->state != state || (state == BLF_VC_RULE && a->vis != v);
	a->state = state;
	a->vis = state == BLF_VC_RULE ? v : -1;
	a->expires = now + ttl;
	a->retry_at = 0;
	/* still "queued" while the live subscriptions follow, so that
	 * blf.flush_visibility answers only once they have */
	a->queued = changed;
	lock_set_release(blf_vc->locks, blf_vc_idx(h));
	if(!changed)
		return;
	LM_DBG("visibility of %.*s for %.*s: %s\n", e.len, e.s, w.len, w.s,
			state == BLF_VC_RULE ? blf_vis_name(v) : "no rule");
	if(blf_vc_hk.apply)
		blf_vc_hk.apply(&e, &w);
	if(blf_vc_list_hook)
		blf_vc_list_hook(&e, &w);
	lock_set_get(blf_vc->locks, blf_vc_idx(h));
	a = blf_vc_find(h, &e, &w);
	if(a)
		a->queued = 0;
	lock_set_release(blf_vc->locks, blf_vc_idx(h));
}

int blf_viscache_sweep(void)
{
	blf_vc_t **pa, *a;
	unsigned int i;
	time_t now = time(NULL);
	int freed = 0;

	if(blf_vc == NULL)
		return 0;
	for(i = 0; i < BLF_VC_SLOTS; i++) {
		if(blf_vc->slots[i] == NULL)
			continue; /* a racy peek: a record added now waits a pass */
		lock_set_get(blf_vc->locks, i);
		for(pa = &blf_vc->slots[i]; *pa;) {
			a = *pa;
			if(a->queued || a->waiting || now < a->expires
					|| now - a->used < blf_cfg.alias_cache_idle) {
				pa = &a->next;
				continue;
			}
			*pa = a->next;
			shm_free(a);
			freed++;
		}
		lock_set_release(blf_vc->locks, i);
	}
	if(freed) {
		blf_vc_uncount(freed);
		update_stat(blf_st_alias_evicted, freed);
	}
	return freed;
}

int blf_viscache_flush(void)
{
	blf_vc_t **pa, *a;
	unsigned int i;
	int count = 0, freed = 0;

	if(blf_vc == NULL)
		return 0;
	for(i = 0; i < BLF_VC_SLOTS; i++) {
		lock_set_get(blf_vc->locks, i);
		for(pa = &blf_vc->slots[i]; *pa;) {
			a = *pa;
			if(a->state == BLF_VC_RULE || a->state == BLF_VC_NORULE)
				count++;
			if(a->queued || a->waiting) {
				/* asked already: its answer is the fresh one */
				a->state = BLF_VC_PENDING;
				pa = &a->next;
				continue;
			}
			*pa = a->next;
			shm_free(a);
			freed++;
		}
		lock_set_release(blf_vc->locks, i);
	}
	blf_vc_uncount(freed);
	return count;
}

unsigned long blf_viscache_count(void)
{
	return blf_vc ? (unsigned long)blf_vc->count : 0;
}

static const char *blf_vc_state_name(const blf_vc_t *a)
{
	switch(a->state) {
		case BLF_VC_PENDING:
			return "pending";
		case BLF_VC_RULE:
			return "rule";
		case BLF_VC_NORULE:
			return "no-rule";
		default:
			return "error";
	}
}

/* entity, watcher, state (rule, no-rule, pending, error), visibility (the
 * rule's, else ""), ttl */
void blf_viscache_rpc_list(rpc_t *rpc, void *c)
{
	blf_vc_t *a;
	unsigned int i;
	void *h;
	time_t now = time(NULL);

	if(blf_vc == NULL)
		return;
	for(i = 0; i < BLF_VC_SLOTS; i++) {
		lock_set_get(blf_vc->locks, i);
		for(a = blf_vc->slots[i]; a; a = a->next) {
			if(rpc->add(c, "{", &h) < 0) {
				lock_set_release(blf_vc->locks, i);
				return;
			}
			rpc->struct_add(h, "SSssd", "entity", &a->entity, "watcher",
					&a->watcher, "state", blf_vc_state_name(a), "visibility",
					a->state == BLF_VC_RULE ? blf_vis_name(a->vis) : "", "ttl",
					(int)(a->expires > now ? a->expires - now : 0));
		}
		lock_set_release(blf_vc->locks, i);
	}
}
