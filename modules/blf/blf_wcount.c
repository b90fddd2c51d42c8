/*
 * blf_wcount.c — live subscriptions per watcher and per source address
 * (see blf_wcount.h).
 *
 * Lock order: a bucket lock is a leaf: it is taken under a slot lock
 * (blf_sub_unlink frees the block) and nothing is taken under it.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>
#include <stddef.h>
#include <limits.h>

#include "core/mem/shm_mem.h"
#include "core/dprint.h"
#include "core/locking.h"
#include "core/atomic_ops.h"

#include "blf_table.h"
#include "blf_wcount.h"

typedef struct blf_wc {
	struct blf_wc *next;
	unsigned int hash;
	unsigned int count; /* subscriptions holding it; freed at 0 */
	unsigned short len;
	unsigned char kind;
	unsigned char pooled; /* a BLF_WC_SLOT slot of its lock's pool */
	char key[];			  /* watcher user@host, or af byte + address bytes */
} blf_wc_t;

/*
 * Entries with a key of up to BLF_WC_KEYMAX bytes (every watcher user@host
 * but very long ones, every address) are BLF_WC_SLOT-byte slots of a pool,
 * one pool per lock, taken and given back under that lock: with a million
 * watchers, one shm block each cost 48 bytes plus the allocator's own (104
 * bytes a block with Kamailio's default qm and memory debugging on), about
 * 150 bytes per subscription where a slot costs 64. A pool grows by chunks
 * (4 slots, then as many as it holds, at most BLF_WC_CHUNK) and keeps
 * them until the table is destroyed: what a pool holds is its peak.
 */
#define BLF_WC_SLOT 64
#define BLF_WC_KEYMAX (BLF_WC_SLOT - (int)offsetof(blf_wc_t, key))
#define BLF_WC_CHUNK 64

typedef struct blf_wc_chunk {
	struct blf_wc_chunk *next;
	unsigned long n; /* slots that follow (keeps them 8-aligned) */
} blf_wc_chunk_t;

typedef struct blf_wc_pool {
	blf_wc_t *free;			/* free slots, linked by next */
	blf_wc_chunk_t *chunks; /* every chunk, for blf_wc_destroy */
	unsigned int slots;		/* in all its chunks */
} blf_wc_pool_t;

/* the burst budget of the watchers hashing to one slot */
typedef struct blf_wb {
	unsigned int hash; /* the last watcher that opened the window */
	unsigned int count;
	time_t start; /* of the current window, 0: none */
} blf_wb_t;

typedef struct blf_wc_table {
	gen_lock_set_t *locks;
	blf_wb_t wb[BLF_WB_SLOTS];
	atomic_t counted[BLF_WC_KINDS];
	atomic_t entries;
	blf_wc_pool_t pool[BLF_WC_LOCKS];
	blf_wc_t *b[BLF_WC_BUCKETS];
} blf_wc_table_t;

static blf_wc_table_t *blf_wc = NULL;
static int blf_wc_down = 0; /* blf_wc_shutdown() called (pkg: main only) */

int blf_wc_init(void)
{
	int i;

	blf_wc = shm_malloc(sizeof(*blf_wc));
	if(blf_wc == NULL) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(blf_wc, 0, sizeof(*blf_wc));
	for(i = 0; i < BLF_WC_KINDS; i++)
		atomic_set(&blf_wc->counted[i], 0);
	atomic_set(&blf_wc->entries, 0);
	blf_wc->locks = lock_set_alloc(BLF_WC_LOCKS);
	if(blf_wc->locks == NULL || lock_set_init(blf_wc->locks) == NULL) {
		LM_ERR("cannot create the watcher counter locks\n");
		if(blf_wc->locks)
			lock_set_dealloc(blf_wc->locks);
		shm_free(blf_wc);
		blf_wc = NULL;
		return -1;
	}
	return 0;
}

void blf_wc_destroy(void)
{
	blf_wc_chunk_t *c, *cn;
	blf_wc_t *w, *n;
	int i;

	if(blf_wc == NULL)
		return;
	for(i = 0; i < BLF_WC_BUCKETS; i++) {
		for(w = blf_wc->b[i]; w; w = n) {
			n = w->next;
			if(!w->pooled)
				shm_free(w);
		}
	}
	for(i = 0; i < BLF_WC_LOCKS; i++) {
		for(c = blf_wc->pool[i].chunks; c; c = cn) {
			cn = c->next;
			shm_free(c);
		}
	}
	lock_set_destroy(blf_wc->locks);
	lock_set_dealloc(blf_wc->locks);
	shm_free(blf_wc);
	blf_wc = NULL;
}

/*
 * A subscription holds its counters as 32-bit handles, not pointers (8
 * bytes less each): the distance of the entry from the table, in 8-byte
 * units (shm blocks are 8-aligned), so up to 16 GB of shm either side; 0
 * is none (the table itself is never an entry).
 */
static int blf_wc_handle(blf_wc_t *w)
{
	ptrdiff_t d = (char *)w - (char *)blf_wc;

	if(d % 8 || d / 8 > INT_MAX || d / 8 < -INT_MAX || d == 0)
		return 0;
	return (int)(d / 8);
}

static blf_wc_t *blf_wc_at(int h)
{
	return (blf_wc_t *)((char *)blf_wc + (ptrdiff_t)h * 8);
}

/* an entry for a key of len bytes, from pool p when it fits (p's lock is
 * held); NULL: no memory */
static blf_wc_t *blf_wc_alloc(blf_wc_pool_t *p, int len)
{
	blf_wc_chunk_t *c;
	blf_wc_t *w;
	unsigned int n, k;

	if(len > BLF_WC_KEYMAX) {
		w = shm_malloc(sizeof(*w) + len);
		if(w)
			w->pooled = 0;
		return w;
	}
	if(p->free == NULL) {
		n = p->slots < 4 ? 4 : p->slots;
		if(n > BLF_WC_CHUNK)
			n = BLF_WC_CHUNK;
		c = shm_malloc(sizeof(*c) + (size_t)n * BLF_WC_SLOT);
		if(c == NULL)
			return NULL;
		c->n = n;
		c->next = p->chunks;
		p->chunks = c;
		p->slots += n;
		for(k = 0; k < n; k++) {
			w = (blf_wc_t *)((char *)(c + 1) + (size_t)k * BLF_WC_SLOT);
			w->next = p->free;
			p->free = w;
		}
	}
	w = p->free;
	p->free = w->next;
	w->pooled = 1;
	return w;
}

/* gives w back (its pool's lock is held) */
static void blf_wc_release(blf_wc_pool_t *p, blf_wc_t *w)
{
	if(!w->pooled) {
		shm_free(w);
		return;
	}
	w->next = p->free;
	p->free = w;
}

static unsigned int blf_wc_hash(int kind, const char *k, int len)
{
	unsigned int h = 2166136261u ^ (unsigned int)kind;
	int i;

	for(i = 0; i < len; i++)
		h = (h ^ (unsigned char)k[i]) * 16777619u;
	return h;
}

/*
 * One more on the counter of (kind, key), created when missing; refused
 * (1) when limit > 0 and it has reached it. -1: no memory.
 */
static int blf_wc_get(
		int kind, const char *k, int len, int limit, blf_wc_t **out)
{
	unsigned int h = blf_wc_hash(kind, k, len), i = h & (BLF_WC_BUCKETS - 1);
	blf_wc_t *w;
	int rc = 0;

	*out = NULL;
	lock_set_get(blf_wc->locks, i & (BLF_WC_LOCKS - 1));
	for(w = blf_wc->b[i]; w; w = w->next)
		if(w->hash == h && w->kind == kind && w->len == len
				&& memcmp(w->key, k, len) == 0)
			break;
	if(w && limit > 0 && w->count >= (unsigned int)limit) {
		rc = 1;
		goto done;
	}
	if(w == NULL) {
		w = blf_wc_alloc(&blf_wc->pool[i & (BLF_WC_LOCKS - 1)], len);
		if(w == NULL || blf_wc_handle(w) == 0) {
			if(w) /* cannot happen: shm is one mapping */
				blf_wc_release(&blf_wc->pool[i & (BLF_WC_LOCKS - 1)], w);
			SHM_MEM_ERROR;
			rc = -1;
			goto done;
		}
		w->hash = h;
		w->count = 0;
		w->len = (unsigned short)len;
		w->kind = (unsigned char)kind;
		memcpy(w->key, k, len);
		w->next = blf_wc->b[i];
		blf_wc->b[i] = w;
		atomic_inc(&blf_wc->entries);
	}
	w->count++;
	atomic_inc(&blf_wc->counted[kind]);
	*out = w;
done:
	lock_set_release(blf_wc->locks, i & (BLF_WC_LOCKS - 1));
	return rc;
}

static void blf_wc_put(blf_wc_t *w)
{
	unsigned int i = w->hash & (BLF_WC_BUCKETS - 1);
	blf_wc_t **pw;

	lock_set_get(blf_wc->locks, i & (BLF_WC_LOCKS - 1));
	atomic_dec(&blf_wc->counted[w->kind]);
	if(--w->count == 0) {
		for(pw = &blf_wc->b[i]; *pw && *pw != w; pw = &(*pw)->next)
			;
		if(*pw)
			*pw = w->next;
		atomic_dec(&blf_wc->entries);
		blf_wc_release(&blf_wc->pool[i & (BLF_WC_LOCKS - 1)], w);
	}
	lock_set_release(blf_wc->locks, i & (BLF_WC_LOCKS - 1));
}

int blf_wc_sub_take(blf_sub_t *s, const struct ip_addr *src, int check)
{
	str wk = BLF_SF(s, BLF_SF_WATCHER);
	char sk[1 + sizeof(src->u)];
	blf_wc_t *w;
	int rc;

	if(blf_wc == NULL || s->wc[0] || s->wc[1])
		return 0;
	if(wk.len > 65535)
		return -1;
	rc = blf_wc_get(BLF_WC_WATCHER, wk.s, wk.len,
			check ? blf_cfg.max_watcher_subscriptions : 0, &w);
	if(rc != 0)
		return rc > 0 ? BLF_WC_WATCHER + 1 : -1;
	s->wc[0] = blf_wc_handle(w);
	if(src == NULL || src->len > sizeof(src->u))
		return 0;
	sk[0] = (char)src->af;
	memcpy(sk + 1, src->u.addr, src->len);
	rc = blf_wc_get(BLF_WC_SOURCE, sk, 1 + src->len,
			check ? blf_cfg.max_source_subscriptions : 0, &w);
	if(rc != 0) {
		blf_wc_put(blf_wc_at(s->wc[0]));
		s->wc[0] = 0;
		return rc > 0 ? BLF_WC_SOURCE + 1 : -1;
	}
	s->wc[1] = blf_wc_handle(w);
	return 0;
}

void blf_wc_shutdown(void)
{
	blf_wc_down = 1;
}

void blf_wc_sub_release(blf_sub_t *s)
{
	int i;

	for(i = 0; i < BLF_WC_KINDS; i++) {
		/* at shutdown the counters go with the table (blf_wc_shutdown) */
		if(s->wc[i] && blf_wc && !blf_wc_down)
			blf_wc_put(blf_wc_at(s->wc[i]));
		s->wc[i] = 0;
	}
}

void blf_wc_sub_move(blf_sub_t *old, blf_sub_t *n)
{
	int i;

	for(i = 0; i < BLF_WC_KINDS; i++) {
		n->wc[i] = old->wc[i];
		old->wc[i] = 0;
	}
}

int blf_wc_burst_ok(const str *watcher, time_t now)
{
	unsigned int h, i;
	blf_wb_t *b;
	int ok;

	if(blf_wc == NULL || blf_cfg.wildcard_burst_interval <= 0)
		return 1;
	h = blf_wc_hash(BLF_WC_KINDS, watcher->s, watcher->len);
	i = h & (BLF_WB_SLOTS - 1);
	b = &blf_wc->wb[i];
	lock_set_get(blf_wc->locks, i & (BLF_WC_LOCKS - 1));
	if(b->start == 0 || now < b->start
			|| now - b->start >= blf_cfg.wildcard_burst_interval) {
		b->hash = h;
		b->start = now;
		b->count = 0;
	}
	ok = b->count < BLF_WATCHER_BURSTS;
	if(ok)
		b->count++;
	lock_set_release(blf_wc->locks, i & (BLF_WC_LOCKS - 1));
	return ok;
}

unsigned long blf_wc_watcher_counted(void)
{
	return blf_wc ? (unsigned long)atomic_get(&blf_wc->counted[0]) : 0;
}

unsigned long blf_wc_source_counted(void)
{
	return blf_wc ? (unsigned long)atomic_get(&blf_wc->counted[1]) : 0;
}

unsigned long blf_wc_entries(void)
{
	return blf_wc ? (unsigned long)atomic_get(&blf_wc->entries) : 0;
}
