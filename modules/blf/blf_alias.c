/*
 * blf_alias.c — the alias cache: which entity a number alias stands for.
 *
 * Answers of the alias service (GET alias_url?uri=...) are kept in the
 * shm HTTP cache (blf_hcache.c): a hit costs one slot lock; a miss queues
 * a request for the HTTP process and, only where the caller asks for it
 * (SUBSCRIBE), waits for the answer at most http_timeout. This file keeps
 * what is the alias service's: the answer's parsing and layout (the
 * entity, its visibility, the entity's own policy, which a flush keeps)
 * and the reactions to a change (calls moved, subscriptions deactivated). Calls never wait: one tracked before its alias is known is
 * moved to the right entity when the answer arrives.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>
#include <unistd.h>

#include "core/mem/shm_mem.h"
#include "core/dprint.h"
#include "core/hashes.h"
#include "core/ut.h"
#include "core/timer.h"

#include "blf.h"
#include "blf_alias.h"
#include "blf_json.h"
#include "blf_park.h"
#include "blf_hcache.h"

#include "core/globals.h"

enum blf_alias_state {
	BLF_AL_PENDING = BLF_HC_PENDING, /* asked, no answer yet */
	BLF_AL_ERROR = BLF_HC_ERROR, /* no answer could be had: stands for itself */
	BLF_AL_POSITIVE = BLF_HC_ANSWER, /* an alias of entity */
	BLF_AL_NEGATIVE = BLF_HC_NEGATIVE, /* not an alias: stands for itself */
};

/* an entry's value (blf_hcache.h); a positive answer's entity follows */
typedef struct blf_alias_val {
	str entity; /* user@host it stands for (positive) */
	unsigned char has_vis;
	signed char policy; /* key as a canonical entity: its visibility
						 * (learned from answers about its aliases), -1 */
	blf_vis_t vis;
} blf_alias_val_t;

#define blf_al_val(e) ((blf_alias_val_t *)(e)->val)

static blf_hc_t *blf_aliases = NULL;
static blf_alias_hooks_t blf_alias_hk; /* given at init */

void blf_alias_set_hooks(const blf_alias_hooks_t *h)
{
	blf_alias_hk = *h;
}

int blf_alias_enabled(void)
{
	return blf_cfg.alias_url.len > 0;
}

static void blf_alias_init_ent(blf_hc_ent_t *e)
{
	blf_al_val(e)->policy = -1;
}

static int blf_alias_ask(const str *key)
{
	return blf_alias_hk.ask ? blf_alias_hk.ask(key) : -1;
}

/* a policy outlives a flush: a flush must not open a window where a
 * `none` is forgotten */
static int blf_alias_pinned(const blf_hc_ent_t *e)
{
	return blf_al_val(e)->policy >= 0;
}

static void blf_alias_reset(blf_hc_ent_t *e)
{
	blf_al_val(e)->has_vis = 0;
}

static const char *const blf_alias_states[] = {
		"pending", "error", "alias", "not-alias", NULL};

static const blf_hc_ops_t blf_alias_ops = {
		.what = "alias",
		.slots = 1024,
		.vsize = sizeof(blf_alias_val_t),
		.init = blf_alias_init_ent,
		.ask = blf_alias_ask,
		.max = &blf_cfg.alias_cache_size,
		.evict = 1,
		.wait_workers = &blf_cfg.alias_wait_workers,
		.riders = 1,
		.idle = &blf_cfg.alias_cache_idle,
		.pinned = blf_alias_pinned,
		.reset = blf_alias_reset,
		.flush_counts = BLF_HC_ERROR,
		.state_names = blf_alias_states,
		.ttl = &blf_cfg.alias_cache_ttl,
		.neg_ttl = &blf_cfg.alias_negative_ttl,
		.st_errors = &blf_st_http_errors,
		.st_evicted = &blf_st_alias_evicted,
		.st_full = &blf_st_alias_full,
		.st_hits = &blf_st_cache_hits,
		.st_misses = &blf_st_cache_misses,
};

int blf_alias_init(void)
{
	if(!blf_alias_enabled())
		return 0;
	blf_aliases = blf_hc_new(&blf_alias_ops);
	return blf_aliases ? 0 : -1;
}

void blf_alias_destroy(void)
{
	blf_hc_free(blf_aliases);
	blf_aliases = NULL;
}

/* where a lookup's answer goes */
typedef struct blf_alias_out {
	const str *key;
	char *buf;
	int size;
	str *out;
	int *vis;
} blf_alias_out_t;

/*
 * What the cache says of key, into out (buf), vis. The slot lock is held.
 * Returns 1 when an answer is there (fresh or stale).
 */
static int blf_alias_read(const blf_hc_ent_t *e, void *arg)
{
	blf_alias_out_t *o = arg;
	const blf_alias_val_t *v;

	*o->out = *o->key;
	if(o->vis)
		*o->vis = -1;
	if(e == NULL || e->state == BLF_AL_PENDING)
		return 0;
	v = blf_al_val(e);
	if(v->has_vis && o->vis)
		*o->vis = v->vis;
	if(e->state == BLF_AL_POSITIVE && v->entity.len < o->size) {
		memcpy(o->buf, v->entity.s, v->entity.len);
		o->buf[v->entity.len] = '\0';
		o->out->s = o->buf;
		o->out->len = v->entity.len;
	}
	return e->state == BLF_AL_ERROR ? 0 : 1;
}

static void blf_alias_no_wait(const str *key, const char *why)
{
	static time_t last = 0; /* per process: one line a second at most */
	time_t now = time(NULL);

	update_stat(blf_st_alias_nowait, 1);
	if(now == last)
		return;
	last = now;
	LM_NOTICE("alias %.*s not waited for (%s): it stands for itself until "
			  "its answer arrives\n",
			key->len > 128 ? 128 : key->len, key->s, why);
}

int blf_alias_resolve(const str *key, char *buf, int size, str *out, int *vis,
		int wait_ms)
{
	blf_alias_out_t o = {key, buf, size, out, vis};
	int ret, why;

	*out = *key;
	if(vis)
		*vis = -1;
	if(!blf_alias_enabled())
		return 0;
	/* a SUBSCRIBE to an unknown URI waits for the answer, bounded in time
	 * and in the number of SIP workers doing so (alias_wait_workers, and
	 * as many riders for its retransmissions), and only for a question
	 * that was asked (a full queue asks nothing) */
	ret = blf_hc_lookup(blf_aliases, key, wait_ms, blf_alias_read, &o, &why);
	if(wait_ms > 0) {
		switch(why) {
			case BLF_HC_FULL:
				blf_alias_no_wait(key, "alias cache full");
				break;
			case BLF_HC_QFULL:
				blf_alias_no_wait(key, "HTTP queue full");
				break;
			case BLF_HC_BUSY:
				blf_alias_no_wait(key, "alias_wait_workers busy");
				break;
			case BLF_HC_TIMEOUT:
				LM_NOTICE("no alias answer for %.*s within %d ms: it stands "
						  "for itself\n",
						key->len > 128 ? 128 : key->len, key->s, wait_ms);
				break;
			default: /* an error a moment ago: asked again after
					  * BLF_HC_RETRY_S s */
				break;
		}
	}
	if(vis && *vis < 0)
		*vis = blf_alias_policy(out);
	return ret;
}

/* the visibility policy of canonical entity key, -1 when none is known */
int blf_alias_policy(const str *key)
{
	blf_hc_ent_t *a;
	unsigned int h;
	int p = -1;

	if(!blf_alias_enabled())
		return -1;
	h = blf_hc_hash(key);
	blf_hc_lock(blf_aliases, h);
	a = blf_hc_find(blf_aliases, h, key);
	if(a)
		p = blf_al_val(a)->policy;
	blf_hc_unlock(blf_aliases, h);
	return p;
}

/*
 * Remembers the policy of canonical entity key (from an answer about one
 * of its aliases or about itself) for ttl seconds at least, and applies a
 * change to the entity and its live subscriptions at once: a stricter
 * policy downgrades them from the next NOTIFY, `none` ends every one but
 * the entity's own (blf_subs_apply_policy).
 */
static void blf_alias_set_policy(const str *key, blf_vis_t vis, int ttl)
{
	blf_hc_ent_t *a;
	unsigned int h = blf_hc_hash(key);
	time_t now = time(NULL);
	int old = -1;

	blf_hc_lock(blf_aliases, h);
	/* not asked about itself yet: an entry that only holds the policy */
	a = blf_hc_get(blf_aliases, h, key, now);
	if(a) {
		old = blf_al_val(a)->policy;
		blf_al_val(a)->policy = vis;
		if(a->expires < now + ttl)
			a->expires = now + ttl;
		a->used = now;
	}
	blf_hc_unlock(blf_aliases, h);
	if(old != (int)vis) {
		if(old >= 0)
			LM_INFO("visibility of %.*s is now %s (was %s)\n", key->len,
					key->s, blf_vis_name(vis), blf_vis_name(old));
		if(blf_alias_hk.apply_policy)
			blf_alias_hk.apply_policy(key, vis);
	}
}

/* a positive answer's entry (one block, the entity after the value) */
static blf_hc_ent_t *blf_alias_build(unsigned int h, const str *key,
		int state, const str *ent, const blf_alias_answer_t *ans)
{
	blf_hc_ent_t *n;
	blf_alias_val_t *v;
	int elen = state == BLF_AL_POSITIVE ? ent->len : 0;

	n = blf_hc_alloc(h, key, sizeof(*v) + elen + 1);
	if(n == NULL)
		return NULL;
	v = blf_al_val(n);
	n->state = state;
	v->entity.s = (char *)(v + 1);
	v->entity.len = elen;
	if(elen)
		memcpy(v->entity.s, ent->s, elen);
	v->entity.s[elen] = '\0';
	v->has_vis = (state == BLF_AL_POSITIVE && ans->has_vis);
	v->vis = v->has_vis ? ans->vis : BLF_VIS_FULL;
	return n;
}

/*
 * An answer of the alias service for key (called in the HTTP process).
 * status: the HTTP status, or 0 for no answer (timeout, refused...).
 * When the first answer makes key an alias of another entity, calls
 * tracked under key meanwhile move there; when a known answer changes,
 * subscriptions made through key are deactivated so that phones subscribe
 * again (RFC 6665 reason=deactivated) and reach the right entity.
 */
void blf_alias_answer(const str *key, int status, const char *body,
		size_t len, int max_age)
{
	char kbuf[BLF_KEY_MAX], oldc[BLF_KEY_MAX];
	blf_alias_answer_t ans;
	blf_hc_ent_t *a, *n;
	unsigned int h;
	str ent = STR_NULL, oc;
	int state, ttl, was_pending, changed, self_vis = -1;
	blf_vis_t pv;
	time_t now = time(NULL);

	memset(&ans, 0, sizeof(ans));
	if(status == 200 && blf_json_alias(body, len, &ans) == 0) {
		str u = {ans.entity, strlen(ans.entity)};
		if(blf_key_from_uri(&u, kbuf, sizeof(kbuf), &ent) < 0) {
			LM_ERR("alias service: bad entity for %.*s: %.64s\n",
					key->len > 128 ? 128 : key->len, key->s, ans.entity);
			status = -1;
		}
	} else if(status == 200) {
		LM_ERR("alias service: bad answer for %.*s: %.*s\n",
				key->len > 128 ? 128 : key->len, key->s,
				(int)(len > 200 ? 200 : len), body ? body : "");
		status = -1;
	} else if(status == 404 && blf_json_policy(body, len, &pv) == 0) {
		self_vis = pv; /* not an alias; the policy of key itself */
	}
	state = blf_hc_answer_state(blf_aliases, status, max_age, &ttl);

	h = blf_hc_hash(key);
	blf_hc_lock(blf_aliases, h);
	a = blf_hc_find(blf_aliases, h, key);
	if(a == NULL) { /* flushed or evicted meanwhile */
		blf_hc_unlock(blf_aliases, h);
		goto policy;
	}
	if(state == BLF_AL_ERROR) {
		/* keep a stale answer; without one the URI stands for itself */
		blf_hc_fail(a, now);
		blf_hc_unlock(blf_aliases, h);
		return;
	}
	a->queued = 0;
	was_pending = (a->state == BLF_AL_PENDING);
	/* what key stood for until now */
	oc = *key;
	if(a->state == BLF_AL_POSITIVE)
		oc = blf_al_val(a)->entity;
	memcpy(oldc, oc.s, oc.len);
	oc.s = oldc;
	n = blf_alias_build(h, key, state, &ent, &ans);
	if(n == NULL) {
		blf_hc_unlock(blf_aliases, h);
		return;
	}
	blf_al_val(n)->policy = blf_al_val(a)->policy;
	n->expires = now + ttl;
	if(blf_al_val(a)->policy >= 0 && a->expires > n->expires)
		n->expires = a->expires; /* the policy's own TTL runs on */
	blf_hc_swap(blf_aliases, a, n);
	ent = state == BLF_AL_POSITIVE ? blf_al_val(n)->entity : *key;
	changed = !STR_EQ(oc, ent);
	/* copy what is needed after the unlock */
	memcpy(kbuf, ent.s, ent.len);
	ent.s = kbuf;
	blf_hc_unlock(blf_aliases, h);

	if(changed) {
		LM_INFO("alias %.*s now stands for %.*s (was %.*s)\n", key->len,
				key->s, ent.len, ent.s, oc.len, oc.s);
		if(was_pending && STR_EQ(oc, *key))
			blf_entity_move_calls(key, &ent);
		if(blf_alias_hk.deactivate_uri)
			blf_alias_hk.deactivate_uri(&oc, key);
	}
policy:
	/* the answer's visibility is the policy of the entity, for all its
	 * watchers, whichever URI they watch it through */
	if(state == BLF_AL_POSITIVE && ans.has_vis)
		blf_alias_set_policy(&ent, ans.vis, ttl);
	else if(self_vis >= 0)
		blf_alias_set_policy(key, (blf_vis_t)self_vis, ttl);
}

/* ---- RPC ---- */

static int blf_alias_rpc_one(
		const blf_hc_ent_t *a, rpc_t *rpc, void *c, time_t now)
{
	const blf_alias_val_t *v = blf_al_val(a);
	const char *st, *vis;
	char nul = '\0';
	str none = {&nul, 0}, key = {a->key, a->klen};
	void *h;

	if(rpc->add(c, "{", &h) < 0)
		return -1;
	st = blf_hc_state_name(blf_aliases, a);
	if(a->state == BLF_AL_PENDING && !a->queued && v->policy >= 0)
		st = "policy";
	vis = v->has_vis ? blf_vis_name(v->vis)
		  : v->policy >= 0 ? blf_vis_name(v->policy)
						   : "";
	rpc->struct_add(h, "SsSsd", "uri", &key, "state", st, "entity",
			a->state == BLF_AL_POSITIVE ? &v->entity : &none, "visibility",
			vis, "ttl", (int)(a->expires > now ? a->expires - now : 0));
	return 0;
}

/*
 * state: alias, not-alias, pending (asked, no answer yet), error, or
 * policy (no answer kept, only the visibility policy of that entity);
 * visibility: the answer's, else the entity's policy, else "".
 */
void blf_alias_rpc_list(rpc_t *rpc, void *c)
{
	blf_hc_rpc_list(blf_aliases, rpc, c, blf_alias_rpc_one);
}

/*
 * Empties the cache of answers. The visibility policies learnt from them
 * are kept (an entry holding only the policy, asked again on next use):
 * a flush must not open a window where a `none` is forgotten. Returns the
 * number of answers dropped.
 */
int blf_alias_flush(void)
{
	return blf_aliases ? blf_hc_flush(blf_aliases) : 0;
}

/*
 * The HTTP process's periodic pass: drops every entry past its TTL that
 * no lookup used for alias_cache_idle seconds and no answer is on its way
 * to. Returns the number dropped (counted in alias_cache_evictions).
 */
int blf_alias_sweep(void)
{
	return blf_aliases ? blf_hc_sweep(blf_aliases) : 0;
}

/* entries in the cache now */
unsigned long blf_alias_count(void)
{
	return blf_hc_count(blf_aliases);
}
