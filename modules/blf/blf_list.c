/*
 * blf_list.c — the resource-list cache: answers of GET list_url?uri=...
 * (SPEC "Resource lists (RFC 4662) over HTTP"), following the alias
 * cache's pattern (blf_alias.c): a shm hash table with a lock per slot,
 * SIP workers only read it; a miss queues a question for the HTTP process
 * and only a SUBSCRIBE waits for the answer, at most http_timeout. Answers
 * live alias_cache_ttl (200), alias_negative_ttl (404) or the answer's
 * Cache-Control max-age; when the service fails, a stale list is kept and
 * used (stale-on-error), asked again after BLF_LIST_RETRY seconds.
 *
 * A record holds the list's name and its members (URI and display name)
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

str blf_list_url = STR_NULL;
int blf_list_full_state = 0;
int blf_list_max_members = BLF_JSON_LIST_MEMBERS_DEFAULT;

enum blf_list_state {
	BLF_LS_PENDING = 0, /* asked, no answer yet */
	BLF_LS_LIST,		/* a list */
	BLF_LS_NOT,			/* not a list (404) */
	BLF_LS_ERROR,		/* no answer could be had, nothing stale */
};

typedef struct blf_lrec {
	struct blf_lrec *next;
	unsigned int hash;
	unsigned char state;
	unsigned char queued; /* a question is queued or in flight */
	time_t expires;		  /* fresh until then */
	time_t retry_at;	  /* after an error: not asked before */
	str key;			  /* user@host */
	char name[BLF_JSON_NAME_MAX];
	int n;
	/* members: n pairs of NUL-terminated strings (uri, name) follow key */
	char *members;
	size_t mlen;
} blf_lrec_t;

#define BLF_LIST_SLOTS 256
#define BLF_LIST_RETRY 5   /* s between attempts after an error */
#define BLF_LIST_MAX 4096  /* records kept at most */

typedef struct blf_ltab {
	gen_lock_set_t *locks;
	atomic_t count;
	blf_lrec_t *slots[BLF_LIST_SLOTS];
} blf_ltab_t;

static blf_ltab_t *blf_lists = NULL;
static blf_list_hooks_t blf_list_hk;

#define blf_ls_idx(h) ((h) & (BLF_LIST_SLOTS - 1))

void blf_list_set_hooks(const blf_list_hooks_t *h)
{
	blf_list_hk = *h;
}

int blf_list_enabled(void)
{
	return blf_list_url.len > 0;
}

int blf_list_init(void)
{
	if(blf_list_max_members < 1 || blf_list_max_members > 10000) {
		LM_ERR("list_max_members must be 1..10000, not %d\n",
				blf_list_max_members);
		return -1;
	}
	if(!blf_list_enabled())
		return 0;
	blf_lists = shm_malloc(sizeof(*blf_lists));
	if(blf_lists == NULL) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(blf_lists, 0, sizeof(*blf_lists));
	atomic_set(&blf_lists->count, 0);
	blf_lists->locks = lock_set_alloc(BLF_LIST_SLOTS);
	if(blf_lists->locks == NULL || lock_set_init(blf_lists->locks) == NULL) {
		LM_ERR("cannot allocate list cache locks\n");
		return -1;
	}
	return 0;
}

void blf_list_destroy(void)
{
	blf_lrec_t *a, *n;
	unsigned int i;

	if(blf_lists == NULL)
		return;
	for(i = 0; i < BLF_LIST_SLOTS; i++)
		for(a = blf_lists->slots[i]; a; a = n) {
			n = a->next;
			shm_free(a);
		}
	lock_set_destroy(blf_lists->locks);
	lock_set_dealloc(blf_lists->locks);
	shm_free(blf_lists);
	blf_lists = NULL;
}

static blf_lrec_t *blf_list_find(unsigned int h, const str *key)
{
	blf_lrec_t *a;

	for(a = blf_lists->slots[blf_ls_idx(h)]; a; a = a->next)
		if(a->hash == h && STR_EQ(a->key, *key))
			return a;
	return NULL;
}

/* a record (one block) with members packed (mlen bytes), not linked */
static blf_lrec_t *blf_list_build(
		unsigned int h, const str *key, const char *members, size_t mlen)
{
	blf_lrec_t *a;

	a = shm_malloc(sizeof(*a) + key->len + 1 + mlen);
	if(a == NULL) {
		SHM_MEM_ERROR;
		return NULL;
	}
	memset(a, 0, sizeof(*a));
	a->hash = h;
	a->key.s = (char *)(a + 1);
	a->key.len = key->len;
	memcpy(a->key.s, key->s, key->len);
	a->key.s[key->len] = '\0';
	a->members = a->key.s + key->len + 1;
	a->mlen = mlen;
	if(mlen)
		memcpy(a->members, members, mlen);
	return a;
}

static void blf_list_unlink(unsigned int h, blf_lrec_t *a)
{
	blf_lrec_t **pa;

	for(pa = &blf_lists->slots[blf_ls_idx(h)]; *pa; pa = &(*pa)->next)
		if(*pa == a) {
			*pa = a->next;
			return;
		}
}

/* the copy of a list record (slot lock held); NULL: no memory */
static blf_list_copy_t *blf_list_copy(const blf_lrec_t *a)
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

static void blf_list_unqueue(unsigned int h, const str *key)
{
	blf_lrec_t *a;

	lock_set_get(blf_lists->locks, blf_ls_idx(h));
	a = blf_list_find(h, key);
	if(a)
		a->queued = 0;
	lock_set_release(blf_lists->locks, blf_ls_idx(h));
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
	return blf_list_hk.ask(&q);
}

int blf_list_get(const str *key, int wait_ms, blf_list_copy_t **out)
{
	blf_lrec_t *a;
	unsigned int h;
	int ret = 0, ask = 0, waited, known;
	time_t now;

	*out = NULL;
	if(blf_lists == NULL || key->len <= 0 || key->len + 1 >= BLF_KEY_MAX)
		return 0;
	h = get_hash1_raw(key->s, key->len);
	now = time(NULL);
	lock_set_get(blf_lists->locks, blf_ls_idx(h));
	a = blf_list_find(h, key);
	if(a == NULL && atomic_get(&blf_lists->count) < BLF_LIST_MAX) {
		a = blf_list_build(h, key, NULL, 0);
		if(a) {
			a->next = blf_lists->slots[blf_ls_idx(h)];
			blf_lists->slots[blf_ls_idx(h)] = a;
			atomic_inc(&blf_lists->count);
		}
	}
	if(a && !a->queued && now >= a->retry_at
			&& (a->state == BLF_LS_PENDING || a->state == BLF_LS_ERROR
					|| now >= a->expires)) {
		a->queued = 1;
		ask = 1;
	}
	known = a && a->state != BLF_LS_PENDING && a->state != BLF_LS_ERROR;
	if(a && a->state == BLF_LS_LIST) {
		*out = blf_list_copy(a);
		ret = *out != NULL;
	}
	lock_set_release(blf_lists->locks, blf_ls_idx(h));

	if(ask && blf_list_ask(key) < 0) {
		blf_list_unqueue(h, key);
		ask = 0;
		LM_NOTICE("list %.*s not asked now (HTTP queue full)\n",
				key->len > 128 ? 128 : key->len, key->s);
	}
	if(known || wait_ms <= 0 || !ask)
		return ret;
	/* a SUBSCRIBE to a URI not known yet: wait for the answer, bounded */
	for(waited = 0; waited < wait_ms; waited += 2) {
		sleep_us(2000);
		lock_set_get(blf_lists->locks, blf_ls_idx(h));
		a = blf_list_find(h, key);
		if(a == NULL || a->state != BLF_LS_PENDING) {
			if(a && a->state == BLF_LS_LIST) {
				*out = blf_list_copy(a);
				ret = *out != NULL;
			}
			lock_set_release(blf_lists->locks, blf_ls_idx(h));
			return ret;
		}
		lock_set_release(blf_lists->locks, blf_ls_idx(h));
	}
	LM_NOTICE("no list answer for %.*s within %d ms: it stands for itself\n",
			key->len > 128 ? 128 : key->len, key->s, wait_ms);
	return 0;
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
	blf_lrec_t *a, *nr;
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
	if(status == 200) {
		state = BLF_LS_LIST;
		ttl = blf_cfg.alias_cache_ttl;
	} else if(status == 404) {
		state = BLF_LS_NOT;
		ttl = blf_cfg.alias_negative_ttl;
	} else {
		state = BLF_LS_ERROR;
		ttl = 0;
		update_stat(blf_st_http_errors, 1);
	}
	if(max_age >= 0 && state != BLF_LS_ERROR)
		ttl = max_age;
	h = get_hash1_raw(key->s, key->len);
	lock_set_get(blf_lists->locks, blf_ls_idx(h));
	a = blf_list_find(h, key);
	if(a == NULL) { /* flushed meanwhile */
		lock_set_release(blf_lists->locks, blf_ls_idx(h));
		free(packed);
		return;
	}
	a->queued = 0;
	if(state == BLF_LS_ERROR) {
		/* a stale list stays in use; without one the URI is itself */
		if(a->state == BLF_LS_PENDING)
			a->state = BLF_LS_ERROR;
		a->retry_at = now + BLF_LIST_RETRY;
		lock_set_release(blf_lists->locks, blf_ls_idx(h));
		return;
	}
	nr = blf_list_build(h, key, packed, plen);
	if(nr == NULL) {
		lock_set_release(blf_lists->locks, blf_ls_idx(h));
		free(packed);
		return;
	}
	changed = a->state == BLF_LS_LIST
			  && (state != BLF_LS_LIST || a->mlen != plen
					  || memcmp(a->members, packed, plen) != 0);
	nr->state = state;
	nr->n = n;
	memcpy(nr->name, name, sizeof(nr->name));
	nr->expires = now + ttl;
	blf_list_unlink(h, a);
	nr->next = blf_lists->slots[blf_ls_idx(h)];
	blf_lists->slots[blf_ls_idx(h)] = nr;
	shm_free(a);
	lock_set_release(blf_lists->locks, blf_ls_idx(h));
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
	blf_lrec_t **pa, *a;
	unsigned int i;
	time_t now = time(NULL);
	int freed = 0;

	if(blf_lists == NULL)
		return;
	if(blf_list_hk.sweep)
		blf_list_hk.sweep();
	/* a list not refetched (no subscription asks for it) for a while
	 * after its TTL is dropped */
	for(i = 0; i < BLF_LIST_SLOTS; i++) {
		if(blf_lists->slots[i] == NULL)
			continue;
		lock_set_get(blf_lists->locks, i);
		for(pa = &blf_lists->slots[i]; *pa;) {
			a = *pa;
			if(a->queued || a->state == BLF_LS_PENDING
					|| now < a->expires + blf_cfg.alias_cache_idle) {
				pa = &a->next;
				continue;
			}
			*pa = a->next;
			shm_free(a);
			freed++;
		}
		lock_set_release(blf_lists->locks, i);
	}
	while(freed-- > 0)
		atomic_dec(&blf_lists->count);
}

int blf_list_flush(void)
{
	blf_lrec_t **pa, *a;
	unsigned int i;
	int count = 0;

	if(blf_lists == NULL)
		return 0;
	for(i = 0; i < BLF_LIST_SLOTS; i++) {
		lock_set_get(blf_lists->locks, i);
		for(pa = &blf_lists->slots[i]; *pa;) {
			a = *pa;
			if(a->state != BLF_LS_PENDING)
				count++;
			if(a->queued) {
				/* an answer on its way still lands */
				a->state = BLF_LS_PENDING;
				a->retry_at = 0;
				pa = &a->next;
				continue;
			}
			*pa = a->next;
			shm_free(a);
			atomic_dec(&blf_lists->count);
		}
		lock_set_release(blf_lists->locks, i);
	}
	return count;
}

unsigned long blf_list_count(void)
{
	return blf_lists ? (unsigned long)atomic_get(&blf_lists->count) : 0;
}

/* ---- RPC ---- */

static const char *blf_list_state_name(int st)
{
	switch(st) {
		case BLF_LS_LIST:
			return "list";
		case BLF_LS_NOT:
			return "not-list";
		case BLF_LS_ERROR:
			return "error";
		default:
			return "pending";
	}
}

/* blf.lists: uri, state, name, members (count), member (URIs, comma
 * separated), ttl. Records still pending (asked, no answer) are left out:
 * they hold nothing yet. */
static void blf_list_rpc_lists(rpc_t *rpc, void *c)
{
	blf_lrec_t *a;
	unsigned int i;
	time_t now = time(NULL);
	char *uris, *p, *q;
	void *h;
	int k;

	if(blf_lists == NULL)
		return;
	for(i = 0; i < BLF_LIST_SLOTS; i++) {
		lock_set_get(blf_lists->locks, i);
		for(a = blf_lists->slots[i]; a; a = a->next) {
			if(a->state == BLF_LS_PENDING)
				continue;
			uris = malloc(a->mlen + 1);
			if(uris == NULL)
				continue;
			/* the URIs, comma separated */
			for(k = 0, p = a->members, q = uris; k < a->n; k++) {
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
				lock_set_release(blf_lists->locks, i);
				return;
			}
			rpc->struct_add(h, "sssdsd", "uri", a->key.s, "state",
					blf_list_state_name(a->state), "name", a->name,
					"members", a->n, "member", uris, "ttl",
					(int)(a->expires > now ? a->expires - now : 0));
			free(uris);
		}
		lock_set_release(blf_lists->locks, i);
	}
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
