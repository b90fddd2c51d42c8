/*
 * blf_alias.c — the alias cache: which entity a number alias stands for.
 *
 * Answers of the alias service (GET alias_url?uri=...) are kept in a shm
 * hash table with a lock per slot. SIP workers only read it: a hit costs
 * one slot lock; a miss queues a request for the HTTP process and, only
 * where the caller asks for it (SUBSCRIBE), waits for the answer at most
 * http_timeout. Calls never wait: one tracked before its alias is known is
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

#include "core/globals.h"

enum blf_alias_state {
	BLF_AL_PENDING = 0, /* asked, no answer yet */
	BLF_AL_POSITIVE,	/* an alias of entity */
	BLF_AL_NEGATIVE,	/* not an alias: the URI stands for itself */
	BLF_AL_ERROR,		/* no answer could be had: stands for itself */
};

typedef struct blf_alias {
	struct blf_alias *next;
	unsigned int hash;
	unsigned char state;
	unsigned char has_vis;
	unsigned char queued; /* a request is queued or in flight */
	unsigned char waiting; /* SIP workers waiting for its answer */
	blf_vis_t vis;
	signed char policy; /* key as a canonical entity: its visibility
						 * (learned from answers about its aliases), -1 */
	time_t expires;	 /* the answer is fresh until then */
	time_t retry_at; /* after an error: next try not before */
	time_t used;	 /* last looked up (the sweep drops idle entries) */
	str key;		 /* user@host asked about */
	str entity;		 /* user@host it stands for (positive) */
} blf_alias_t;

typedef struct blf_alias_table {
	unsigned int size;
	gen_lock_set_t *locks;
	blf_alias_t **slots;
	gen_lock_t count_lock; /* guards count and evict_at */
	int count;			   /* records in the table (<= alias_cache_size) */
	unsigned int evict_at; /* slot where the next eviction search starts */
	atomic_t waiters;	   /* SIP workers waiting for an answer now */
	atomic_t riders;	   /* ... of them waiting beside another for the
							* same URI (a retransmission, mostly) */
} blf_alias_table_t;

static blf_alias_table_t *blf_aliases = NULL;
static blf_alias_hooks_t blf_alias_hk; /* given at init */

void blf_alias_set_hooks(const blf_alias_hooks_t *h)
{
	blf_alias_hk = *h;
}

#define BLF_ALIAS_SLOTS 1024
#define BLF_ALIAS_RETRY 5 /* s between attempts after an error */
#define BLF_ALIAS_EVICT_SCAN 64 /* slots searched for a record to evict */
#define BLF_ALIAS_RIDERS 1		/* workers waiting beside the first per URI */
#define blf_al_idx(h) ((h) & (blf_aliases->size - 1))

int blf_alias_enabled(void)
{
	return blf_cfg.alias_url.len > 0;
}

int blf_alias_init(void)
{
	size_t sz;

	if(!blf_alias_enabled())
		return 0;
	sz = sizeof(blf_alias_table_t) + BLF_ALIAS_SLOTS * sizeof(blf_alias_t *);
	blf_aliases = shm_malloc(sz);
	if(blf_aliases == NULL) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(blf_aliases, 0, sz);
	blf_aliases->size = BLF_ALIAS_SLOTS;
	blf_aliases->slots = (blf_alias_t **)(blf_aliases + 1);
	lock_init(&blf_aliases->count_lock);
	atomic_set(&blf_aliases->waiters, 0);
	atomic_set(&blf_aliases->riders, 0);
	blf_aliases->locks = lock_set_alloc(BLF_ALIAS_SLOTS);
	if(blf_aliases->locks == NULL || lock_set_init(blf_aliases->locks) == NULL) {
		LM_ERR("cannot allocate alias cache locks\n");
		return -1;
	}
	return 0;
}

void blf_alias_destroy(void)
{
	blf_alias_t *a, *n;
	unsigned int i;

	if(blf_aliases == NULL)
		return;
	for(i = 0; i < blf_aliases->size; i++)
		for(a = blf_aliases->slots[i]; a; a = n) {
			n = a->next;
			shm_free(a);
		}
	lock_set_destroy(blf_aliases->locks);
	lock_set_dealloc(blf_aliases->locks);
	shm_free(blf_aliases);
	blf_aliases = NULL;
}

static blf_alias_t *blf_alias_find(unsigned int h, const str *key)
{
	blf_alias_t *a;

	for(a = blf_aliases->slots[blf_al_idx(h)]; a; a = a->next)
		if(a->hash == h && STR_EQ(a->key, *key))
			return a;
	return NULL;
}

/* a new record (one block) replacing old's strings; old is not freed */
static blf_alias_t *blf_alias_build(
		unsigned int h, const str *key, const str *entity)
{
	blf_alias_t *a;
	int elen = entity ? entity->len : 0;

	a = shm_malloc(sizeof(*a) + key->len + 1 + elen + 1);
	if(a == NULL) {
		SHM_MEM_ERROR;
		return NULL;
	}
	memset(a, 0, sizeof(*a));
	a->policy = -1;
	a->hash = h;
	a->key.s = (char *)(a + 1);
	a->key.len = key->len;
	memcpy(a->key.s, key->s, key->len);
	a->key.s[key->len] = '\0';
	a->entity.s = a->key.s + key->len + 1;
	a->entity.len = elen;
	if(elen)
		memcpy(a->entity.s, entity->s, elen);
	a->entity.s[elen] = '\0';
	return a;
}

static void blf_alias_replace(unsigned int h, blf_alias_t *old, blf_alias_t *a)
{
	blf_alias_t **pa;

	for(pa = &blf_aliases->slots[blf_al_idx(h)]; *pa; pa = &(*pa)->next) {
		if(*pa == old) {
			a->next = old->next;
			*pa = a;
			shm_free(old);
			return;
		}
	}
}

/* one record less in the table (it was unlinked and freed) */
static void blf_alias_uncount(int n)
{
	lock_get(&blf_aliases->count_lock);
	blf_aliases->count -= n;
	lock_release(&blf_aliases->count_lock);
}

/*
 * Frees one record of slot idx (its lock is held) that no lookup waits
 * for: the least recently useful one, preferring answers past their TTL.
 * Returns 1 when one was freed.
 */
static int blf_alias_evict_in(unsigned int idx, time_t now, int stale_only)
{
	blf_alias_t **pa, **best = NULL;
	time_t t, bt = 0;

	for(pa = &blf_aliases->slots[idx]; *pa; pa = &(*pa)->next) {
		if((*pa)->queued || (*pa)->waiting)
			continue; /* an answer is on its way to it */
		if(stale_only && now < (*pa)->expires)
			continue;
		t = (*pa)->expires > (*pa)->used ? (*pa)->expires : (*pa)->used;
		if(best == NULL || t < bt) {
			best = pa;
			bt = t;
		}
	}
	if(best == NULL)
		return 0;
	{
		blf_alias_t *a = *best;
		*best = a->next;
		shm_free(a);
	}
	return 1;
}

/*
 * Room for one more record: when the table holds alias_cache_size, one
 * record is evicted (a stale one of the next BLF_ALIAS_EVICT_SCAN slots if
 * any, else the oldest of the next slot with a record no lookup waits
 * for). No slot lock may be held by the caller. Returns 0 with the record
 * counted, -1 when there is no room (nothing is cached then).
 */
static int blf_alias_reserve(time_t now)
{
	unsigned int start, i, idx;
	int pass, done = 0;

	lock_get(&blf_aliases->count_lock);
	if(blf_aliases->count < blf_cfg.alias_cache_size) {
		blf_aliases->count++;
		lock_release(&blf_aliases->count_lock);
		return 0;
	}
	start = blf_aliases->evict_at;
	blf_aliases->evict_at = (start + 1) % blf_aliases->size;
	lock_release(&blf_aliases->count_lock);

	/* a stale record near the cursor, else any that no answer is awaited
	 * for, the whole table round if need be (a small cache is sparse) */
	for(pass = 1; pass >= 0 && !done; pass--) {
		for(i = 0; i < (pass ? BLF_ALIAS_EVICT_SCAN : blf_aliases->size)
				   && !done;
				i++) {
			idx = (start + i) % blf_aliases->size;
			if(blf_aliases->slots[idx] == NULL)
				continue; /* a racy peek: at worst a record is missed */
			lock_set_get(blf_aliases->locks, idx);
			done = blf_alias_evict_in(idx, now, pass);
			lock_set_release(blf_aliases->locks, idx);
		}
	}
	if(!done) {
		update_stat(blf_st_alias_full, 1);
		return -1;
	}
	update_stat(blf_st_alias_evicted, 1);
	/* the freed record's place is ours: count unchanged */
	return 0;
}

/*
 * Finds key's record or adds an empty (pending) one; the slot lock is
 * held on entry and on return (it is dropped meanwhile to make room when
 * the table is full). NULL when no record could be added.
 */
static blf_alias_t *blf_alias_get(unsigned int h, const str *key, time_t now)
{
	blf_alias_t *a;

	a = blf_alias_find(h, key);
	if(a)
		return a;
	lock_set_release(blf_aliases->locks, blf_al_idx(h));
	if(blf_alias_reserve(now) < 0) {
		lock_set_get(blf_aliases->locks, blf_al_idx(h));
		return blf_alias_find(h, key);
	}
	lock_set_get(blf_aliases->locks, blf_al_idx(h));
	a = blf_alias_find(h, key); /* added by another process meanwhile? */
	if(a) {
		blf_alias_uncount(1);
		return a;
	}
	a = blf_alias_build(h, key, NULL);
	if(a == NULL) {
		blf_alias_uncount(1);
		return NULL;
	}
	a->used = now;
	a->next = blf_aliases->slots[blf_al_idx(h)];
	blf_aliases->slots[blf_al_idx(h)] = a;
	return a;
}

/*
 * What the cache says of key, into out (buf), vis. The slot lock is held.
 * Returns 1 when an answer is there (fresh or stale).
 */
static int blf_alias_read(
		blf_alias_t *a, const str *key, char *buf, int size, str *out, int *vis)
{
	*out = *key;
	if(vis)
		*vis = -1;
	if(a == NULL || a->state == BLF_AL_PENDING)
		return 0;
	if(a->has_vis && vis)
		*vis = a->vis;
	if(a->state == BLF_AL_POSITIVE && a->entity.len < size) {
		memcpy(buf, a->entity.s, a->entity.len);
		buf[a->entity.len] = '\0';
		out->s = buf;
		out->len = a->entity.len;
	}
	return a->state == BLF_AL_ERROR ? 0 : 1;
}

/*
 * SIP workers that may wait for answers at once: alias_wait_workers
 * (0: children/8), never more than children/4 (riders double it), at
 * least 1.
 */
static int blf_alias_wait_cap(void)
{
	int n = blf_cfg.alias_wait_workers, max = children_no / 4;

	if(n <= 0)
		n = children_no / 8;
	if(n > max)
		n = max;
	return n > 0 ? n : 1;
}

/*
 * A place to wait for the answer about key (record h, key): one of the
 * alias_wait_workers places, else, when another worker already waits for
 * the same URI (the request is most likely a retransmission of the one it
 * handles, which would otherwise make a second subscription), one of as
 * many places for such riders, at most BLF_ALIAS_RIDERS per URI. So at
 * most 2 x alias_wait_workers SIP workers ever wait. 0: none (the caller
 * must not wait), 1: a place, 2: a rider's place.
 */
static int blf_alias_wait_get(unsigned int h, const str *key)
{
	blf_alias_t *a;
	int got = 0;

	lock_set_get(blf_aliases->locks, blf_al_idx(h));
	a = blf_alias_find(h, key);
	if(a && a->state == BLF_AL_PENDING) {
		if(atomic_add(&blf_aliases->waiters, 1) <= blf_alias_wait_cap())
			got = 1;
		else
			atomic_dec(&blf_aliases->waiters);
		if(!got && a->waiting && a->waiting < 1 + BLF_ALIAS_RIDERS) {
			if(atomic_add(&blf_aliases->riders, 1) <= blf_alias_wait_cap())
				got = 2;
			else
				atomic_dec(&blf_aliases->riders);
		}
		if(got)
			a->waiting++;
	}
	lock_set_release(blf_aliases->locks, blf_al_idx(h));
	return got;
}

/* gives the place back; the slot lock of h is held */
static void blf_alias_wait_put(blf_alias_t *a, int got)
{
	if(a && a->waiting)
		a->waiting--;
	if(got == 2)
		atomic_dec(&blf_aliases->riders);
	else
		atomic_dec(&blf_aliases->waiters);
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
	blf_alias_t *a;
	unsigned int h;
	int ret, ask = 0, waited, inflight = 0, got;
	time_t now;

	*out = *key;
	if(vis)
		*vis = -1;
	if(!blf_alias_enabled())
		return 0;
	h = get_hash1_raw(key->s, key->len);
	now = time(NULL);
	lock_set_get(blf_aliases->locks, blf_al_idx(h));
	a = blf_alias_get(h, key, now);
	ret = blf_alias_read(a, key, buf, size, out, vis);
	if(a) {
		a->used = now;
		inflight = a->queued;
	}
	if(a && !a->queued && now >= a->retry_at
			&& (a->state == BLF_AL_PENDING || a->state == BLF_AL_ERROR
					|| now >= a->expires)) {
		a->queued = 1;
		ask = 1;
	}
	lock_set_release(blf_aliases->locks, blf_al_idx(h));

	if(ret)
		update_stat(blf_st_cache_hits, 1);
	else
		update_stat(blf_st_cache_misses, 1);
	if(ask) {
		inflight = 1;
		if(blf_alias_hk.ask == NULL || blf_alias_hk.ask(key) < 0) {
			/* the queue is full: let a later lookup ask again */
			inflight = 0;
			lock_set_get(blf_aliases->locks, blf_al_idx(h));
			a = blf_alias_find(h, key);
			if(a)
				a->queued = 0;
			lock_set_release(blf_aliases->locks, blf_al_idx(h));
		}
	}
	if(ret || wait_ms <= 0)
		goto policy;
	/* a SUBSCRIBE to an unknown URI: wait for the answer, bounded in time
	 * and in the number of SIP workers doing so, and only for a question
	 * that was asked (a full queue asks nothing) */
	if(!inflight) {
		if(a == NULL)
			blf_alias_no_wait(key, "alias cache full");
		else if(ask)
			blf_alias_no_wait(key, "HTTP queue full");
		/* else an error a moment ago: asked again after BLF_ALIAS_RETRY */
		goto policy;
	}
	got = blf_alias_wait_get(h, key);
	if(!got) {
		blf_alias_no_wait(key, "alias_wait_workers busy");
		goto policy;
	}
	for(waited = 0; waited < wait_ms; waited += 2) {
		sleep_us(2000);
		lock_set_get(blf_aliases->locks, blf_al_idx(h));
		a = blf_alias_find(h, key);
		if(a == NULL || a->state != BLF_AL_PENDING) {
			ret = blf_alias_read(a, key, buf, size, out, vis);
			blf_alias_wait_put(a, got);
			lock_set_release(blf_aliases->locks, blf_al_idx(h));
			goto policy;
		}
		lock_set_release(blf_aliases->locks, blf_al_idx(h));
	}
	lock_set_get(blf_aliases->locks, blf_al_idx(h));
	blf_alias_wait_put(blf_alias_find(h, key), got);
	lock_set_release(blf_aliases->locks, blf_al_idx(h));
	LM_NOTICE("no alias answer for %.*s within %d ms: it stands for itself\n",
			key->len > 128 ? 128 : key->len, key->s, wait_ms);
policy:
	if(vis && *vis < 0)
		*vis = blf_alias_policy(out);
	return ret;
}

/* the visibility policy of canonical entity key, -1 when none is known */
int blf_alias_policy(const str *key)
{
	blf_alias_t *a;
	unsigned int h;
	int p = -1;

	if(!blf_alias_enabled())
		return -1;
	h = get_hash1_raw(key->s, key->len);
	lock_set_get(blf_aliases->locks, blf_al_idx(h));
	a = blf_alias_find(h, key);
	if(a)
		p = a->policy;
	lock_set_release(blf_aliases->locks, blf_al_idx(h));
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
	blf_alias_t *a;
	unsigned int h = get_hash1_raw(key->s, key->len);
	time_t now = time(NULL);
	int old = -1;

	lock_set_get(blf_aliases->locks, blf_al_idx(h));
	/* not asked about itself yet: a record that only holds the policy */
	a = blf_alias_get(h, key, now);
	if(a) {
		old = a->policy;
		a->policy = vis;
		if(a->expires < now + ttl)
			a->expires = now + ttl;
		a->used = now;
	}
	lock_set_release(blf_aliases->locks, blf_al_idx(h));
	if(old != (int)vis) {
		if(old >= 0)
			LM_INFO("visibility of %.*s is now %s (was %s)\n", key->len,
					key->s, blf_vis_name(vis), blf_vis_name(old));
		if(blf_alias_hk.apply_policy)
			blf_alias_hk.apply_policy(key, vis);
	}
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
	blf_alias_t *a, *n;
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
	if(status == 200) {
		state = BLF_AL_POSITIVE;
		ttl = blf_cfg.alias_cache_ttl;
	} else if(status == 404) {
		state = BLF_AL_NEGATIVE;
		ttl = blf_cfg.alias_negative_ttl;
	} else {
		state = BLF_AL_ERROR;
		ttl = 0;
		update_stat(blf_st_http_errors, 1);
	}
	if(max_age >= 0 && state != BLF_AL_ERROR)
		ttl = max_age;

	h = get_hash1_raw(key->s, key->len);
	lock_set_get(blf_aliases->locks, blf_al_idx(h));
	a = blf_alias_find(h, key);
	if(a == NULL) { /* flushed or evicted meanwhile */
		lock_set_release(blf_aliases->locks, blf_al_idx(h));
		goto policy;
	}
	a->queued = 0;
	was_pending = (a->state == BLF_AL_PENDING);
	/* what key stood for until now */
	oc = *key;
	if(a->state == BLF_AL_POSITIVE)
		oc = a->entity;
	memcpy(oldc, oc.s, oc.len);
	oc.s = oldc;
	if(state == BLF_AL_ERROR) {
		/* keep a stale answer; without one the URI stands for itself */
		if(a->state == BLF_AL_PENDING)
			a->state = BLF_AL_ERROR;
		a->retry_at = now + BLF_ALIAS_RETRY;
		lock_set_release(blf_aliases->locks, blf_al_idx(h));
		return;
	}
	n = blf_alias_build(h, key, state == BLF_AL_POSITIVE ? &ent : NULL);
	if(n == NULL) {
		lock_set_release(blf_aliases->locks, blf_al_idx(h));
		return;
	}
	n->state = state;
	n->has_vis = (state == BLF_AL_POSITIVE && ans.has_vis);
	n->vis = n->has_vis ? ans.vis : BLF_VIS_FULL;
	n->policy = a->policy;
	n->used = a->used;
	n->waiting = a->waiting;
	n->expires = now + ttl;
	if(a->policy >= 0 && a->expires > n->expires)
		n->expires = a->expires; /* the policy's own TTL runs on */
	blf_alias_replace(h, a, n);
	if(state == BLF_AL_POSITIVE)
		ent = n->entity;
	else
		ent = n->key;
	changed = !STR_EQ(oc, ent);
	/* copy what is needed after the unlock */
	memcpy(kbuf, ent.s, ent.len);
	ent.s = kbuf;
	lock_set_release(blf_aliases->locks, blf_al_idx(h));

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

static const char *blf_alias_state_name(int st)
{
	switch(st) {
		case BLF_AL_PENDING:
			return "pending";
		case BLF_AL_POSITIVE:
			return "alias";
		case BLF_AL_NEGATIVE:
			return "not-alias";
		default:
			return "error";
	}
}

/*
 * state: alias, not-alias, pending (asked, no answer yet), error, or
 * policy (no answer kept, only the visibility policy of that entity);
 * visibility: the answer's, else the entity's policy, else "".
 */
void blf_alias_rpc_list(rpc_t *rpc, void *c)
{
	blf_alias_t *a;
	unsigned int i;
	const char *st, *vis;
	char nul = '\0';
	str none = {&nul, 0};
	void *h;
	time_t now = time(NULL);

	if(blf_aliases == NULL)
		return;
	for(i = 0; i < blf_aliases->size; i++) {
		lock_set_get(blf_aliases->locks, i);
		for(a = blf_aliases->slots[i]; a; a = a->next) {
			if(rpc->add(c, "{", &h) < 0) {
				/* the answer has failed: adding more would reply twice */
				lock_set_release(blf_aliases->locks, i);
				return;
			}
			st = blf_alias_state_name(a->state);
			if(a->state == BLF_AL_PENDING && !a->queued && a->policy >= 0)
				st = "policy";
			vis = a->has_vis ? blf_vis_name(a->vis)
				  : a->policy >= 0 ? blf_vis_name(a->policy)
								   : "";
			rpc->struct_add(h, "SsSsd", "uri", &a->key, "state", st,
					"entity", a->state == BLF_AL_POSITIVE ? &a->entity : &none,
					"visibility", vis, "ttl",
					(int)(a->expires > now ? a->expires - now : 0));
		}
		lock_set_release(blf_aliases->locks, i);
	}
}

/*
 * Empties the cache of answers. The visibility policies learnt from them
 * are kept (a record holding only the policy, asked again on next use):
 * a flush must not open a window where a `none` is forgotten. Returns the
 * number of answers dropped.
 */
int blf_alias_flush(void)
{
	blf_alias_t **pa, *a;
	unsigned int i;
	int count = 0, freed = 0;

	if(blf_aliases == NULL)
		return 0;
	for(i = 0; i < blf_aliases->size; i++) {
		lock_set_get(blf_aliases->locks, i);
		for(pa = &blf_aliases->slots[i]; *pa;) {
			a = *pa;
			if(a->state != BLF_AL_PENDING)
				count++;
			if(a->policy >= 0 || a->queued || a->waiting) {
				/* the policy stays; an answer on its way still lands */
				a->state = BLF_AL_PENDING;
				a->has_vis = 0;
				a->retry_at = 0;
				pa = &a->next;
				continue;
			}
			*pa = a->next;
			shm_free(a);
			freed++;
		}
		lock_set_release(blf_aliases->locks, i);
	}
	blf_alias_uncount(freed);
	return count;
}

/*
 * The HTTP process's periodic pass: drops every record past its TTL that
 * no lookup used for alias_cache_idle seconds and no answer is on its way
 * to. Returns the number dropped (counted in alias_cache_evictions).
 */
int blf_alias_sweep(void)
{
	blf_alias_t **pa, *a;
	unsigned int i;
	time_t now = time(NULL);
	int freed = 0;

	if(blf_aliases == NULL)
		return 0;
	for(i = 0; i < blf_aliases->size; i++) {
		if(blf_aliases->slots[i] == NULL)
			continue; /* a racy peek: a record added now waits a pass */
		lock_set_get(blf_aliases->locks, i);
		for(pa = &blf_aliases->slots[i]; *pa;) {
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
		lock_set_release(blf_aliases->locks, i);
	}
	if(freed) {
		blf_alias_uncount(freed);
		update_stat(blf_st_alias_evicted, freed);
	}
	return freed;
}

/* records in the cache now */
unsigned long blf_alias_count(void)
{
	return blf_aliases ? (unsigned long)blf_aliases->count : 0;
}
