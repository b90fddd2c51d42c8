/*
 * blf_viscache.c — the per-watcher visibility cache (see blf_viscache.h).
 *
 * Kept in the shm HTTP cache (blf_hcache.c), as the alias answers, keyed
 * entity NUL watcher; SIP workers only read it (a hit costs one slot
 * lock); a miss puts the question on a bounded shm ring for the HTTP
 * process, and only a new SUBSCRIBE waits for the answer, at most
 * http_timeout. Answers live alias_cache_ttl (a 404 "no rule":
 * alias_negative_ttl; Cache-Control: max-age overrides both); after an
 * error the stale answer stays in use and is asked again after
 * BLF_HC_RETRY_S s. Records are bounded by alias_cache_size.
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
#include "blf_hcache.h"

enum blf_vc_state
{
	BLF_VC_PENDING = BLF_HC_PENDING, /* asked, no answer yet */
	BLF_VC_ERROR = BLF_HC_ERROR,	 /* no answer could be had, nothing stale */
	BLF_VC_RULE = BLF_HC_ANSWER,	 /* 200: vis is the watcher's policy */
	BLF_VC_NORULE = BLF_HC_NEGATIVE, /* 404: the entity policy / global
									  * decide */
};

/* an entry's value (blf_hcache.h); its key is entity NUL watcher */
typedef struct blf_vc_val
{
	signed char vis; /* BLF_VC_RULE: the answer */
} blf_vc_val_t;

#define blf_vc_val(e) ((blf_vc_val_t *)(e)->val)

#define BLF_VC_RING 1024

/* the questions for the HTTP process */
typedef struct blf_vc_ring
{
	gen_lock_t lock;
	unsigned int head, n;
	char q[BLF_VC_RING][2][BLF_KEY_MAX];
} blf_vc_ring_t;

static blf_hc_t *blf_vc = NULL;
static blf_vc_ring_t *blf_vc_ring = NULL;
static blf_viscache_hooks_t blf_vc_hk;
static void (*blf_vc_list_hook)(const str *entity, const str *watcher) = NULL;

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

/* the cache key of (entity, watcher): both, NUL between, in buf (2 x
 * BLF_KEY_MAX); -1 when one is too long (cannot happen: keys are built in
 * such buffers) */
static int blf_vc_key(const str *e, const str *w, char *buf, str *k)
{
	if(e->len >= BLF_KEY_MAX || w->len >= BLF_KEY_MAX)
		return -1;
	memcpy(buf, e->s, e->len);
	buf[e->len] = '\0';
	memcpy(buf + e->len + 1, w->s, w->len);
	k->s = buf;
	k->len = e->len + 1 + w->len;
	return 0;
}

/* the entity and the watcher of a key */
static void blf_vc_split(const char *key, int klen, str *e, str *w)
{
	e->s = (char *)key;
	e->len = strlen(key);
	w->s = (char *)key + e->len + 1;
	w->len = klen - e->len - 1;
}

/* puts the question on the ring; -1 when it is full */
static int blf_vc_ask(const str *key)
{
	unsigned int i;
	str e, w;

	blf_vc_split(key->s, key->len, &e, &w);
	lock_get(&blf_vc_ring->lock);
	if(blf_vc_ring->n == BLF_VC_RING) {
		lock_release(&blf_vc_ring->lock);
		return -1;
	}
	i = (blf_vc_ring->head + blf_vc_ring->n) % BLF_VC_RING;
	memcpy(blf_vc_ring->q[i][0], e.s, e.len);
	blf_vc_ring->q[i][0][e.len] = '\0';
	memcpy(blf_vc_ring->q[i][1], w.s, w.len);
	blf_vc_ring->q[i][1][w.len] = '\0';
	blf_vc_ring->n++;
	lock_release(&blf_vc_ring->lock);
	if(blf_vc_hk.wake)
		blf_vc_hk.wake();
	return 0;
}

static const char *const blf_vc_states[] = {
		"pending", "error", "rule", "no-rule", NULL};

static const blf_hc_ops_t blf_vc_ops = {
		.what = "visibility",
		.slots = 1024,
		.vsize = sizeof(blf_vc_val_t),
		.ask = blf_vc_ask,
		.max = &blf_cfg.alias_cache_size,
		.evict = 1,
		/* as many waiting SIP workers as the alias cache allows */
		.wait_workers = &blf_cfg.alias_wait_workers,
		.riders = 0,
		.idle = &blf_cfg.alias_cache_idle,
		.flush_counts = BLF_HC_ANSWER,
		.state_names = blf_vc_states,
		.ttl = &blf_cfg.alias_cache_ttl,
		.neg_ttl = &blf_cfg.alias_negative_ttl,
		.st_errors = &blf_st_http_errors,
		.st_evicted = &blf_st_alias_evicted,
		.st_hits = &blf_st_cache_hits,
		.st_misses = &blf_st_cache_misses,
};

int blf_viscache_init(void)
{
	if(!blf_viscache_enabled())
		return 0;
	blf_vc_ring = shm_malloc(sizeof(*blf_vc_ring));
	if(blf_vc_ring == NULL) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(blf_vc_ring, 0, sizeof(*blf_vc_ring));
	lock_init(&blf_vc_ring->lock);
	blf_vc = blf_hc_new(&blf_vc_ops);
	return blf_vc ? 0 : -1;
}

void blf_viscache_destroy(void)
{
	blf_hc_free(blf_vc);
	blf_vc = NULL;
	if(blf_vc_ring)
		shm_free(blf_vc_ring);
	blf_vc_ring = NULL;
}

int blf_viscache_take(char *entity, char *watcher)
{
	int got = 0;

	if(blf_vc_ring == NULL)
		return 0;
	lock_get(&blf_vc_ring->lock);
	if(blf_vc_ring->n) {
		strcpy(entity, blf_vc_ring->q[blf_vc_ring->head][0]);
		strcpy(watcher, blf_vc_ring->q[blf_vc_ring->head][1]);
		blf_vc_ring->head = (blf_vc_ring->head + 1) % BLF_VC_RING;
		blf_vc_ring->n--;
		got = 1;
	}
	lock_release(&blf_vc_ring->lock);
	return got;
}

/* the per-watcher answer of an entry into *arg: a policy, BLF_VIS_UNSET
 * for no rule, -2 when there is none (slot lock held) */
static int blf_vc_read(const blf_hc_ent_t *a, void *arg)
{
	int *ans = arg;

	*ans = -2;
	if(a && a->state == BLF_VC_RULE)
		*ans = blf_vc_val(a)->vis;
	else if(a && a->state == BLF_VC_NORULE)
		*ans = BLF_VIS_UNSET;
	return *ans != -2;
}

/* the cached answer (-2: none), asking when there is no fresh one and
 * waiting for it at most wait_ms; *why as blf_hc_lookup */
static int blf_vc_lookup(const str *e, const str *w, int wait_ms, int *why)
{
	char buf[2 * BLF_KEY_MAX];
	str key;
	int ans = -2;

	if(blf_vc_key(e, w, buf, &key) < 0) {
		*why = BLF_HC_FULL;
		return -2;
	}
	blf_hc_lookup(blf_vc, &key, wait_ms, blf_vc_read, &ans, why);
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
	int why;

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
	return blf_vc_decide(
			blf_vc_lookup(entity, watcher, 0, &why), entity, -1, vis);
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
	int ans, why;

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
	ans = blf_vc_lookup(entity, watcher, wait_ms, &why);
	switch(why) {
		case BLF_HC_FULL:
			blf_vc_no_wait(entity, watcher, "visibility cache full");
			break;
		case BLF_HC_QFULL:
		case BLF_HC_RETRY:
			blf_vc_no_wait(entity, watcher,
					"an error a moment ago, or the HTTP queue full");
			break;
		case BLF_HC_BUSY:
			LM_NOTICE("visibility of %.*s for %.*s not waited for (too many "
					  "waiting): refused until known\n",
					entity->len, entity->s, watcher->len, watcher->s);
			break;
		case BLF_HC_TIMEOUT:
			LM_NOTICE("no visibility answer for %.*s watching %.*s within %d"
					  " ms: refused (unknown is none)\n",
					watcher->len, watcher->s, entity->len, entity->s, wait_ms);
			break;
		default:
			break;
	}
	return blf_vc_decide(ans, entity, entpol, vis);
}

int blf_viscache_pending(const str *entity, const str *watcher)
{
	char buf[2 * BLF_KEY_MAX];
	str key;

	if(blf_vc == NULL || blf_vc_key(entity, watcher, buf, &key) < 0)
		return 0;
	/* asked, or its answer being applied */
	return blf_hc_queued(blf_vc, &key);
}

void blf_viscache_answer(const char *entity, const char *watcher, int status,
		const char *body, size_t len, int max_age)
{
	str e = {(char *)entity, strlen(entity)};
	str w = {(char *)watcher, strlen(watcher)};
	char buf[2 * BLF_KEY_MAX];
	str key;
	blf_vis_t v = BLF_VIS_NONE;
	blf_hc_ent_t *a;
	unsigned int h;
	int state, ttl, changed;
	time_t now = time(NULL);

	if(blf_vc == NULL || blf_vc_key(&e, &w, buf, &key) < 0)
		return;
	if(status == 200 && blf_json_visibility(body, len, &v) != 0) {
		/* a rule that cannot be read is no rule to widen anything:
		 * handled as an error (the stale answer, else hidden) */
		LM_ERR("visibility service: bad answer for %.*s watching %.*s: "
			   "%.*s\n",
				w.len, w.s, e.len, e.s, (int)(len > 200 ? 200 : len),
				body ? body : "");
		status = -1;
	} else if(status && status != 200 && status != 404) {
		LM_NOTICE("visibility service: HTTP %d for %.*s watching %.*s\n",
				status, w.len, w.s, e.len, e.s);
	}
	state = blf_hc_answer_state(blf_vc, status, max_age, &ttl);

	h = blf_hc_hash(&key);
	blf_hc_lock(blf_vc, h);
	a = blf_hc_find(blf_vc, h, &key);
	if(a == NULL) { /* flushed or evicted meanwhile */
		blf_hc_unlock(blf_vc, h);
		return;
	}
	if(state == BLF_VC_ERROR) {
		/* a stale answer stays; without one: hidden, asked again later */
		blf_hc_fail(a, now);
		blf_hc_unlock(blf_vc, h);
		return;
	}
	changed = a->state != state
			  || (state == BLF_VC_RULE && blf_vc_val(a)->vis != v);
	a->state = state;
	blf_vc_val(a)->vis = state == BLF_VC_RULE ? v : -1;
	a->expires = now + ttl;
	a->retry_at = 0;
	/* still "queued" while the live subscriptions follow, so that
	 * blf.flush_visibility answers only once they have */
	a->queued = changed;
	blf_hc_unlock(blf_vc, h);
	if(!changed)
		return;
	LM_DBG("visibility of %.*s for %.*s: %s\n", e.len, e.s, w.len, w.s,
			state == BLF_VC_RULE ? blf_vis_name(v) : "no rule");
	if(blf_vc_hk.apply)
		blf_vc_hk.apply(&e, &w);
	if(blf_vc_list_hook)
		blf_vc_list_hook(&e, &w);
	blf_hc_unqueue(blf_vc, &key);
}

int blf_viscache_sweep(void)
{
	return blf_vc ? blf_hc_sweep(blf_vc) : 0;
}

int blf_viscache_flush(void)
{
	return blf_vc ? blf_hc_flush(blf_vc) : 0;
}

unsigned long blf_viscache_count(void)
{
	return blf_hc_count(blf_vc);
}

static int blf_vc_rpc_one(
		const blf_hc_ent_t *a, rpc_t *rpc, void *c, time_t now)
{
	str e, w;
	void *h;

	if(rpc->add(c, "{", &h) < 0)
		return -1;
	blf_vc_split(a->key, a->klen, &e, &w);
	rpc->struct_add(h, "SSssd", "entity", &e, "watcher", &w, "state",
			blf_hc_state_name(blf_vc, a), "visibility",
			a->state == BLF_VC_RULE ? blf_vis_name(blf_vc_val(a)->vis) : "",
			"ttl", (int)(a->expires > now ? a->expires - now : 0));
	return 0;
}

/* entity, watcher, state (rule, no-rule, pending, error), visibility (the
 * rule's, else ""), ttl */
void blf_viscache_rpc_list(rpc_t *rpc, void *c)
{
	blf_hc_rpc_list(blf_vc, rpc, c, blf_vc_rpc_one);
}
