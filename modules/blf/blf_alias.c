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
	blf_vis_t vis;
	signed char policy; /* key as a canonical entity: its visibility
						 * (learned from answers about its aliases), -1 */
	time_t expires;	 /* the answer is fresh until then */
	time_t retry_at; /* after an error: next try not before */
	str key;		 /* user@host asked about */
	str entity;		 /* user@host it stands for (positive) */
} blf_alias_t;

typedef struct blf_alias_table {
	unsigned int size;
	gen_lock_set_t *locks;
	blf_alias_t **slots;
} blf_alias_table_t;

static blf_alias_table_t *blf_aliases = NULL;

#define BLF_ALIAS_SLOTS 1024
#define BLF_ALIAS_RETRY 5 /* s between attempts after an error */
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

int blf_alias_resolve(const str *key, char *buf, int size, str *out, int *vis,
		int wait_ms)
{
	blf_alias_t *a;
	unsigned int h;
	int ret, ask = 0, waited;
	time_t now;

	*out = *key;
	if(vis)
		*vis = -1;
	if(!blf_alias_enabled())
		return 0;
	h = get_hash1_raw(key->s, key->len);
	now = time(NULL);
	lock_set_get(blf_aliases->locks, blf_al_idx(h));
	a = blf_alias_find(h, key);
	if(a == NULL) {
		a = blf_alias_build(h, key, NULL);
		if(a) {
			a->next = blf_aliases->slots[blf_al_idx(h)];
			blf_aliases->slots[blf_al_idx(h)] = a;
		}
	}
	ret = blf_alias_read(a, key, buf, size, out, vis);
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
	if(ask && blf_http_ask_alias(key) < 0) {
		/* the queue is full: let a later lookup ask again */
		lock_set_get(blf_aliases->locks, blf_al_idx(h));
		a = blf_alias_find(h, key);
		if(a)
			a->queued = 0;
		lock_set_release(blf_aliases->locks, blf_al_idx(h));
	}
	if(ret || wait_ms <= 0)
		goto policy;
	/* a SUBSCRIBE to an unknown URI: wait for the answer, bounded */
	for(waited = 0; waited < wait_ms; waited += 2) {
		sleep_us(2000);
		lock_set_get(blf_aliases->locks, blf_al_idx(h));
		a = blf_alias_find(h, key);
		if(a && a->state != BLF_AL_PENDING) {
			ret = blf_alias_read(a, key, buf, size, out, vis);
			lock_set_release(blf_aliases->locks, blf_al_idx(h));
			goto policy;
		}
		lock_set_release(blf_aliases->locks, blf_al_idx(h));
	}
	LM_NOTICE("no alias answer for %.*s within %d ms: it stands for itself\n",
			key->len, key->s, wait_ms);
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

/* remembers the policy of canonical entity key (from an alias's answer) */
static void blf_alias_set_policy(const str *key, blf_vis_t vis)
{
	blf_alias_t *a;
	unsigned int h = get_hash1_raw(key->s, key->len);

	lock_set_get(blf_aliases->locks, blf_al_idx(h));
	a = blf_alias_find(h, key);
	if(a == NULL) {
		/* not asked about itself yet: a record that only holds the policy */
		a = blf_alias_build(h, key, NULL);
		if(a) {
			a->next = blf_aliases->slots[blf_al_idx(h)];
			blf_aliases->slots[blf_al_idx(h)] = a;
		}
	}
	if(a)
		a->policy = vis;
	lock_set_release(blf_aliases->locks, blf_al_idx(h));
	blf_entity_set_policy(key, vis);
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
	int state, ttl, was_pending, changed;
	time_t now = time(NULL);

	if(status == 200 && blf_json_alias(body, len, &ans) == 0) {
		str u = {ans.entity, strlen(ans.entity)};
		if(blf_key_from_uri(&u, kbuf, sizeof(kbuf), &ent) < 0)
			status = -1;
	} else if(status == 200) {
		LM_ERR("alias service: bad answer for %.*s: %.*s\n", key->len,
				key->s, (int)(len > 200 ? 200 : len), body ? body : "");
		status = -1;
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
	if(a == NULL) { /* flushed meanwhile */
		lock_set_release(blf_aliases->locks, blf_al_idx(h));
		return;
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
	n->expires = now + ttl;
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

	/* the answer's visibility is the policy of the entity, for all its
	 * watchers, whichever URI they watch it through */
	if(state == BLF_AL_POSITIVE && ans.has_vis)
		blf_alias_set_policy(&ent, ans.vis);

	if(!changed)
		return;
	LM_INFO("alias %.*s now stands for %.*s (was %.*s)\n", key->len, key->s,
			ent.len, ent.s, oc.len, oc.s);
	if(was_pending && STR_EQ(oc, *key))
		blf_entity_move_calls(key, &ent);
	blf_subs_deactivate_uri(&oc, key);
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

void blf_alias_rpc_list(rpc_t *rpc, void *c)
{
	blf_alias_t *a;
	unsigned int i;
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
			rpc->struct_add(h, "SsSsd", "uri", &a->key, "state",
					blf_alias_state_name(a->state), "entity", &a->entity,
					"visibility", a->has_vis ? blf_vis_name(a->vis) : "",
					"ttl",
					(int)(a->expires > now ? a->expires - now : 0));
		}
		lock_set_release(blf_aliases->locks, i);
	}
}

int blf_alias_flush(void)
{
	blf_alias_t *a, *n;
	unsigned int i;
	int count = 0;

	if(blf_aliases == NULL)
		return 0;
	for(i = 0; i < blf_aliases->size; i++) {
		lock_set_get(blf_aliases->locks, i);
		for(a = blf_aliases->slots[i]; a; a = n) {
			n = a->next;
			shm_free(a);
			count++;
		}
		blf_aliases->slots[i] = NULL;
		lock_set_release(blf_aliases->locks, i);
	}
	return count;
}
