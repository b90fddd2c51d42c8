/*
 * blf_list.c — the resource-list cache: answers of GET list_url?uri=...
 * (SPEC "Resource lists (RFC 4662) over HTTP"), kept in the shm HTTP
 * cache (blf_hcache.c) as the alias answers: SIP workers only read it; a
 * miss queues a question for the HTTP process and only a SUBSCRIBE waits
 * for the answer, at most http_timeout. Answers
 * live alias_cache_ttl (200), alias_negative_ttl (404) or the answer's
 * Cache-Control max-age; when the service fails, a stale list is kept and
 * used (stale-on-error), asked again after BLF_HC_RETRY_S seconds.
 *
 * An entry holds the list's name and its members (URI and display name)
 * packed in the same block; callers get a malloc'd copy, so nothing here
 * is held beyond one slot lock.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>
#include <stdlib.h>
#include <time.h>

#include "core/mem/shm_mem.h"
#include "core/dprint.h"
#include "core/hashes.h"
#include "core/timer.h"
#include "core/rpc_lookup.h"

#include "blf.h"
#include "blf_list.h"
#include "blf_json.h"
#include "blf_hcache.h"

str blf_list_url = STR_NULL;
int blf_list_full_state = 0;
int blf_list_max_members = BLF_JSON_LIST_MEMBERS_DEFAULT;

enum blf_list_state {
	BLF_LS_PENDING = BLF_HC_PENDING, /* asked, no answer yet */
	BLF_LS_ERROR = BLF_HC_ERROR, /* no answer could be had, nothing stale */
	BLF_LS_LIST = BLF_HC_ANSWER, /* a list */
	BLF_LS_NOT = BLF_HC_NEGATIVE, /* not a list (404) */
};

/* an entry's value (blf_hcache.h) */
typedef struct blf_lval {
	char name[BLF_JSON_NAME_MAX];
	int n;
	size_t mlen;
	/* members: n pairs of NUL-terminated strings (uri, name) */
	char members[];
} blf_lval_t;

#define blf_ls_val(e) ((blf_lval_t *)(e)->val)

#define BLF_LIST_SLOTS 256
#define BLF_LIST_MAX 4096 /* entries kept at most */

static blf_hc_t *blf_lists = NULL;
static blf_list_hooks_t blf_list_hk;
static const int blf_list_max = BLF_LIST_MAX;

void blf_list_set_hooks(const blf_list_hooks_t *h)
{
	blf_list_hk = *h;
}

int blf_list_enabled(void)
{
	return blf_list_url.len > 0;
}

/* queues the question about key (the HTTP ring's list marker first) */
static int blf_list_ask(const str *key)
{
	char buf[BLF_KEY_MAX];
	str q;

	if(blf_list_hk.ask == NULL || key->len + 1 >= BLF_KEY_MAX)
		return -1;
	buf[0] = BLF_LIST_QMARK;
	memcpy(buf + 1, key->s, key->len);
	q.s = buf;
	q.len = key->len + 1;
	if(blf_list_hk.ask(&q) < 0) {
		LM_NOTICE("list %.*s not asked now (HTTP queue full)\n",
				key->len > 128 ? 128 : key->len, key->s);
		return -1;
	}
	return 0;
}

/* questions the sweep asks again, BLF_HC_RETRY_S apart, for a URI that
 * subscriptions made before an answer wait for (blf_list_want): 5 min */
#define BLF_LIST_WANT_TRIES 60

/* a list not refetched (no subscription asks for it) for a while after
 * its TTL is dropped */
static int blf_list_sweepable(const blf_hc_ent_t *e, time_t now)
{
	return !e->queued && !e->waiting && e->state != BLF_LS_PENDING
		   && now >= e->expires + blf_cfg.alias_cache_idle;
}

static const char *const blf_list_states[] = {
		"pending", "error", "list", "not-list", NULL};

static const blf_hc_ops_t blf_list_ops = {
		.what = "list",
		.slots = BLF_LIST_SLOTS,
		.vsize = sizeof(blf_lval_t),
		.ask = blf_list_ask,
		.max = &blf_list_max,
		.evict = 0, /* full: a new list stands for itself */
		/* list_wait_workers SIP workers wait at once, and as many more
		 * beside them for a URI one of them waits for (a list many phones
		 * subscribe to together), each key at most 255 */
		.wait_workers = &blf_cfg.list_wait_workers,
		.riders = 254,
		.sweepable = blf_list_sweepable,
		.flush_counts = BLF_HC_ERROR,
		.state_names = blf_list_states,
		.ttl = &blf_cfg.alias_cache_ttl,
		.neg_ttl = &blf_cfg.alias_negative_ttl,
		.st_errors = &blf_st_http_errors,
};

int blf_list_init(void)
{
	if(blf_list_max_members < 1 || blf_list_max_members > 10000) {
		LM_ERR("list_max_members must be 1..10000, not %d\n",
				blf_list_max_members);
		return -1;
	}
	if(!blf_list_enabled())
		return 0;
	blf_lists = blf_hc_new(&blf_list_ops);
	return blf_lists ? 0 : -1;
}

void blf_list_destroy(void)
{
	blf_hc_free(blf_lists);
	blf_lists = NULL;
}

/* the copy of a list entry (slot lock held); NULL: no memory */
static blf_list_copy_t *blf_list_copy(const blf_lval_t *a)
{
	blf_list_copy_t *c;
	char *p;
	int i;

	c = malloc(sizeof(*c) + a->n * sizeof(c->m[0]) + a->mlen);
	if(c == NULL)
		return NULL;
	memcpy(c->name, a->name, sizeof(c->name));
	c->n = a->n;
	p = (char *)&c->m[a->n];
	memcpy(p, a->members, a->mlen);
	for(i = 0; i < a->n; i++) {
		c->m[i].uri = p;
		p += strlen(p) + 1;
		c->m[i].name = p;
		p += strlen(p) + 1;
	}
	return c;
}

/* a list's copy into *arg; 1 when the entry holds an answer (a list or
 * not one) */
static int blf_list_read(const blf_hc_ent_t *a, void *arg)
{
	blf_list_copy_t **out = arg;

	if(a && a->state == BLF_LS_LIST && *out == NULL)
		*out = blf_list_copy(blf_ls_val(a));
	return a && a->state >= BLF_HC_ANSWER;
}

/* every list_wait_workers place taken: key stands for itself, as when
 * the service does not answer (its question was asked all the same: a
 * later SUBSCRIBE finds the answer) */
static void blf_list_no_wait(const str *key)
{
	static time_t last = 0; /* per process: one line a second at most */
	time_t now = time(NULL);

	update_stat(blf_st_list_nowait, 1);
	if(now == last)
		return;
	last = now;
	LM_NOTICE("list answer for %.*s not waited for (list_wait_workers "
			  "busy): not a list until its answer arrives\n",
			key->len > 128 ? 128 : key->len, key->s);
}

int blf_list_get(const str *key, int wait_ms, blf_list_copy_t **out)
{
	int why, answered;

	*out = NULL;
	if(blf_lists == NULL || key->len <= 0 || key->len + 1 >= BLF_KEY_MAX)
		return 0;
	/* a SUBSCRIBE to a URI not known yet waits for the answer, bounded */
	answered =
			blf_hc_lookup(blf_lists, key, wait_ms, blf_list_read, out, &why);
	if(wait_ms > 0 && why == BLF_HC_BUSY)
		blf_list_no_wait(key);
	else if(why == BLF_HC_TIMEOUT)
		LM_NOTICE("no list answer for %.*s within %d ms: it stands for "
				  "itself\n",
				key->len > 128 ? 128 : key->len, key->s, wait_ms);
	if(*out != NULL)
		return 1;
	if(answered) /* the service said: not a list */
		return 0;
	if(why == BLF_HC_NOWAIT || why == BLF_HC_BUSY || why == BLF_HC_TIMEOUT)
		return 2;
	/* no answer could be had (now or a moment ago), or no room to ask */
	return 3;
}

int blf_list_want(const str *key)
{
	if(blf_lists == NULL)
		return 0;
	return blf_hc_want(blf_lists, key, BLF_LIST_WANT_TRIES);
}

/* the members of an answer, packed: uri NUL name NUL ...; -1: bad */
static int blf_list_pack(const char *body, size_t len, char *name,
		char **packed, size_t *plen, int *n)
{
	blf_list_member_t *m;
	int cnt, dropped = 0, i;
	size_t sz = 0;
	char *p;

	m = malloc(sizeof(*m) * (size_t)blf_list_max_members);
	if(m == NULL)
		return -1;
	cnt = blf_json_list(body, len, name, BLF_JSON_NAME_MAX, m,
			blf_list_max_members, &dropped);
	if(cnt < 0) {
		free(m);
		return -1;
	}
	if(dropped)
		LM_NOTICE("list service: %d member(s) skipped (bad URI or name, "
				  "or past list_max_members %d)\n",
				dropped, blf_list_max_members);
	for(i = 0; i < cnt; i++)
		sz += strlen(m[i].uri) + strlen(m[i].name) + 2;
	p = malloc(sz + 1);
	if(p == NULL) {
		free(m);
		return -1;
	}
	*packed = p;
	for(i = 0; i < cnt; i++) {
		size_t l = strlen(m[i].uri) + 1;
		memcpy(p, m[i].uri, l);
		p += l;
		l = strlen(m[i].name) + 1;
		memcpy(p, m[i].name, l);
		p += l;
	}
	*plen = sz;
	*n = cnt;
	free(m);
	return 0;
}

void blf_list_answer(const str *key, int status, const char *body,
		size_t len, int max_age)
{
	char name[BLF_JSON_NAME_MAX] = "";
	char *packed = NULL;
	size_t plen = 0;
	blf_hc_ent_t *a, *nr;
	blf_lval_t *v;
	unsigned int h;
	int n = 0, state, ttl, changed = 0;
	time_t now = time(NULL);

	if(blf_lists == NULL)
		return;
	if(status == 200
			&& blf_list_pack(body, len, name, &packed, &plen, &n) < 0) {
		LM_ERR("list service: bad answer for %.*s: %.*s\n",
				key->len > 128 ? 128 : key->len, key->s,
				(int)(len > 200 ? 200 : len), body ? body : "");
		status = -1;
	}
	state = blf_hc_answer_state(blf_lists, status, max_age, &ttl);
	h = blf_hc_hash(key);
	blf_hc_lock(blf_lists, h);
	a = blf_hc_find(blf_lists, h, key);
	if(a == NULL) { /* flushed meanwhile */
		blf_hc_unlock(blf_lists, h);
		free(packed);
		return;
	}
	if(state == BLF_LS_ERROR) {
		/* a stale list stays in use; without one the URI is itself */
		blf_hc_fail(a, now);
		blf_hc_unlock(blf_lists, h);
		return;
	}
	a->queued = 0;
	nr = blf_hc_alloc(h, key, sizeof(*v) + plen);
	if(nr == NULL) {
		blf_hc_unlock(blf_lists, h);
		free(packed);
		return;
	}
	v = blf_ls_val(nr);
	if(plen)
		memcpy(v->members, packed, plen);
	v->mlen = plen;
	v->n = n;
	memcpy(v->name, name, sizeof(v->name));
	changed = a->state == BLF_LS_LIST
			  && (state != BLF_LS_LIST || blf_ls_val(a)->mlen != plen
					  || memcmp(blf_ls_val(a)->members, packed, plen) != 0);
	nr->state = state;
	nr->expires = now + ttl;
	blf_hc_swap(blf_lists, a, nr);
	blf_hc_unlock(blf_lists, h);
	free(packed);
	if(changed)
		LM_INFO("list %.*s: members changed\n", key->len, key->s);
	/* every answer: subscriptions compare with what they show (the cache
	 * may have been flushed meanwhile) */
	if(state == BLF_LS_LIST && blf_list_hk.changed)
		blf_list_hk.changed(key);
}

void blf_list_sweep(void)
{
	if(blf_lists == NULL)
		return;
	if(blf_list_hk.sweep)
		blf_list_hk.sweep();
	blf_hc_sweep(blf_lists);
}

int blf_list_flush(void)
{
	return blf_lists ? blf_hc_flush(blf_lists) : 0;
}

unsigned long blf_list_count(void)
{
	return blf_hc_count(blf_lists);
}

/* ---- RPC ---- */

static int blf_list_rpc_one(
		const blf_hc_ent_t *a, rpc_t *rpc, void *c, time_t now)
{
	const blf_lval_t *v = blf_ls_val(a);
	char *uris, *q;
	const char *p;
	void *h;
	int k;

	if(a->state == BLF_LS_PENDING)
		return 0;
	uris = malloc(v->mlen + 1);
	if(uris == NULL)
		return 0;
	/* the URIs, comma separated */
	for(k = 0, p = v->members, q = uris; k < v->n; k++) {
		size_t l = strlen(p);
		if(k)
			*q++ = ',';
		memcpy(q, p, l);
		q += l;
		p += l + 1;
		p += strlen(p) + 1;
	}
	*q = '\0';
	if(rpc->add(c, "{", &h) < 0) {
		free(uris);
		return -1;
	}
	rpc->struct_add(h, "sssdsd", "uri", a->key, "state",
			blf_hc_state_name(blf_lists, a), "name", v->name, "members",
			v->n, "member", uris, "ttl",
			(int)(a->expires > now ? a->expires - now : 0));
	free(uris);
	return 0;
}

/* blf.lists: uri, state, name, members (count), member (URIs, comma
 * separated), ttl. Entries still pending (asked, no answer) are left out:
 * they hold nothing yet. */
static void blf_list_rpc_lists(rpc_t *rpc, void *c)
{
	blf_hc_rpc_list(blf_lists, rpc, c, blf_list_rpc_one);
}

static void blf_list_rpc_flush(rpc_t *rpc, void *c)
{
	void *h;
	int n = blf_list_flush();

	if(rpc->add(c, "{", &h) < 0)
		return;
	rpc->struct_add(h, "d", "flushed", n);
}

static const char *blf_list_rpc_lists_doc[] = {
		"The list cache (list_url): uri, state (list, not-list, error), "
		"name, members (count), member (URIs), ttl (s left).",
		0};
static const char *blf_list_rpc_flush_doc[] = {
		"Empty the list cache; lists are asked again on next use (live list "
		"subscriptions within a second).",
		0};

static rpc_export_t blf_list_rpc_cmds[] = {
		{"blf.lists", blf_list_rpc_lists, blf_list_rpc_lists_doc, RET_ARRAY},
		{"blf.flush_lists", blf_list_rpc_flush, blf_list_rpc_flush_doc, 0},
		{0, 0, 0, 0}};

int blf_list_rpc_init(void)
{
	if(rpc_register_array(blf_list_rpc_cmds) != 0) {
		LM_ERR("cannot register the list RPC commands\n");
		return -1;
	}
	return 0;
}
