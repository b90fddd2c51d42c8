/*
 * blf_chg.c — change listeners: the batch of what the tables changed, and
 * its delivery after the unlock (see blf_chg.h).
 *
 * A process holds one pending batch. Its copies are bump-allocated from a
 * static per-process block (no malloc on the hot path); a change that does
 * not fit, or one noted while that block is being delivered (a listener
 * that changes the tables in turn), goes to a malloc'd block freed after
 * its delivery. Kamailio's workers are single-threaded processes, so the
 * pending batch needs no lock of its own.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>
#include <stdlib.h>
#include <stddef.h>

#include "core/dprint.h"

#include "blf_table.h"
#include "blf_chg.h"
#include "blf_pidf.h"

#define BLF_CHG_LISTENERS 8
#define BLF_CHG_STATIC (32 * 1024) /* bytes of the per-process block */
#define BLF_CHG_BLOCK (16 * 1024)  /* least size of a malloc'd block */
#define BLF_CHG_ALIGN(n) (((n) + 15) & ~(size_t)15)

typedef struct blf_chg_rec
{
	struct blf_chg_rec *next;
	blf_chg_t c;
} blf_chg_rec_t;

typedef struct blf_chg_block
{
	struct blf_chg_block *next;
	size_t used;
	size_t size;	  /* of data */
	int heap;		  /* malloc'd (else the static block) */
	long long data[]; /* aligned */
} blf_chg_block_t;

struct blf_chg_batch
{
	blf_chg_rec_t *first, *last;
	blf_chg_block_t *blocks; /* newest first */
	unsigned int kinds;		 /* of the changes held */
	unsigned int lost;		 /* of the changes not noted */
};

typedef struct blf_chg_listener
{
	unsigned int mask;
	blf_chg_listener_f fn;
	void *param;
} blf_chg_listener_t;

static blf_chg_listener_t blf_chg_ls[BLF_CHG_LISTENERS];
static int blf_chg_nls = 0;
static unsigned int blf_chg_mask = 0; /* what anyone listens to */

static blf_chg_batch_t blf_chg_pending; /* per process */
static union
{
	blf_chg_block_t b;
	char buf[BLF_CHG_STATIC];
} blf_chg_static;
static int blf_chg_static_busy = 0; /* its batch is being delivered */

const char *blf_chg_kind_name(blf_chg_kind_t k)
{
	switch(k) {
		case BLF_CHG_NOTIFY:
			return "notify";
		case BLF_CHG_CALL:
			return "call";
		case BLF_CHG_CALL_MOVE:
			return "call-move";
		case BLF_CHG_SUB_NEW:
			return "sub-new";
		case BLF_CHG_SUB_DEL:
			return "sub-del";
		case BLF_CHG_SUB_GONE:
			return "sub-gone";
		case BLF_CHG_SUB_VER:
			return "sub-ver";
		case BLF_CHG_POKE:
			return "poke";
		case BLF_CHG_PUB_PUT:
			return "pub-put";
		case BLF_CHG_PUB_DEL:
			return "pub-del";
		case BLF_CHG_SUB_LMV:
			return "sub-lmv";
		default:
			return "?";
	}
}

int blf_chg_listen(unsigned int mask, blf_chg_listener_f fn, void *param)
{
	if(blf_chg_nls == BLF_CHG_LISTENERS) {
		LM_ERR("too many change listeners (%d)\n", BLF_CHG_LISTENERS);
		return -1;
	}
	blf_chg_ls[blf_chg_nls].mask = mask;
	blf_chg_ls[blf_chg_nls].fn = fn;
	blf_chg_ls[blf_chg_nls].param = param;
	blf_chg_nls++;
	blf_chg_mask |= mask;
	return 0;
}

int blf_chg_wanted(unsigned int k)
{
	return (blf_chg_mask & k) != 0;
}

unsigned int blf_chg_lost(const blf_chg_batch_t *b)
{
	return b->lost;
}

blf_chg_t *blf_chg_next(
		blf_chg_batch_t *b, const blf_chg_t *prev, unsigned int mask)
{
	blf_chg_rec_t *r;

	r = prev ? ((blf_chg_rec_t *)((char *)prev - offsetof(blf_chg_rec_t, c)))
						->next
			 : b->first;
	for(; r; r = r->next)
		if(r->c.kind & mask)
			return &r->c;
	return NULL;
}

/* n bytes (aligned) of the pending batch, NULL without memory */
static void *blf_chg_alloc(size_t n)
{
	blf_chg_batch_t *b = &blf_chg_pending;
	blf_chg_block_t *k = b->blocks;
	void *p;

	n = BLF_CHG_ALIGN(n);
	if(k == NULL || k->size - k->used < n) {
		if(b->blocks == NULL && !blf_chg_static_busy
				&& n <= sizeof(blf_chg_static) - sizeof(blf_chg_block_t)) {
			k = &blf_chg_static.b;
			k->size = sizeof(blf_chg_static) - sizeof(blf_chg_block_t);
			k->heap = 0;
		} else {
			size_t sz = n > BLF_CHG_BLOCK ? n : BLF_CHG_BLOCK;
			k = malloc(sizeof(blf_chg_block_t) + sz);
			if(k == NULL)
				return NULL;
			k->size = sz;
			k->heap = 1;
		}
		k->used = 0;
		k->next = b->blocks;
		b->blocks = k;
	}
	p = (char *)k->data + k->used;
	k->used += n;
	return p;
}

/* a new change of kind k with extra bytes for its copies (into *extra) */
static blf_chg_t *blf_chg_add(blf_chg_kind_t k, size_t extra, char **xp)
{
	blf_chg_batch_t *b = &blf_chg_pending;
	size_t hl = BLF_CHG_ALIGN(sizeof(blf_chg_rec_t));
	blf_chg_rec_t *r;

	r = blf_chg_alloc(hl + extra);
	if(r == NULL) {
		b->lost |= k;
		LM_ERR("no memory to note a change (%s)\n", blf_chg_kind_name(k));
		return NULL;
	}
	memset(r, 0, sizeof(*r));
	r->c.kind = k;
	if(xp)
		*xp = (char *)r + hl;
	if(b->last)
		b->last->next = r;
	else
		b->first = r;
	b->last = r;
	b->kinds |= k;
	return &r->c;
}

static char *blf_chg_str(char *p, const str *src, str *dst)
{
	dst->s = p;
	dst->len = src->len;
	if(src->len)
		memcpy(p, src->s, src->len);
	p[src->len] = '\0';
	return p + src->len + 1;
}

static size_t blf_chg_call_len(const blf_call_t *c)
{
	size_t n = sizeof(blf_call_t);
	int i;

	for(i = 0; i < BLF_CF_N; i++)
		n += c->f[i].len + 1;
	return n;
}

/* a copy of call c at p (its strings after it) */
static char *blf_chg_call_copy(char *p, const blf_call_t *c)
{
	blf_call_t *d = (blf_call_t *)p;
	int i;

	memcpy(d, c, sizeof(*d));
	d->next = NULL;
	p += sizeof(*d);
	for(i = 0; i < BLF_CF_N; i++)
		p = blf_chg_str(p, &c->f[i], &d->f[i]);
	return p;
}

void blf_chg_call(const blf_entity_t *e, const blf_call_t *c)
{
	blf_chg_t *g;
	char *p;

	if(!(blf_chg_mask & BLF_CHG_CALL) || c->origin != 0)
		return;
	g = blf_chg_add(BLF_CHG_CALL,
			e->key.len + 1 + BLF_CHG_ALIGN(blf_chg_call_len(c)), &p);
	if(g == NULL)
		return;
	g->call = (const blf_call_t *)p; /* first: it is aligned */
	p = blf_chg_call_copy(p, c);
	blf_chg_str(p, &e->key, &g->key);
}

void blf_chg_call_move(
		const blf_entity_t *from, const blf_entity_t *to, const blf_call_t *c)
{
	blf_chg_t *g;
	char *p;

	if(!(blf_chg_mask & BLF_CHG_CALL_MOVE) || c->origin != 0)
		return;
	g = blf_chg_add(BLF_CHG_CALL_MOVE,
			from->key.len + to->key.len + 2
					+ BLF_CHG_ALIGN(blf_chg_call_len(c)),
			&p);
	if(g == NULL)
		return;
	g->call = (const blf_call_t *)p;
	p = blf_chg_call_copy(p, c);
	p = blf_chg_str(p, &from->key, &g->key);
	blf_chg_str(p, &to->key, &g->key2);
	g->dir = c->dir;
	g->seq = c->seq;
}

void blf_chg_sub(blf_chg_kind_t kind, const blf_entity_t *e, const blf_sub_t *s)
{
	const blf_pkg_t *pk;
	blf_sub_t *d;
	blf_chg_t *g;
	size_t n;
	char *p;

	if(!(blf_chg_mask & kind) || s->owner != 0)
		return;
	if(kind == BLF_CHG_SUB_VER) {
		/* a NOTIFY each: only what the replica carries (our tag) */
		g = blf_chg_add(kind, e->key.len + blf_sf_len(s, BLF_SF_TTAG) + 2, &p);
		if(g == NULL)
			return;
		g->version = s->version;
		g->cseq = s->cseq;
		/* e is what the NOTIFY was built from (a replay's stand-in too):
		 * the node that takes s over replays only what came after it
		 * (blf_rhist.c: not for wildcard and list subscriptions) */
		pk = blf_pkg_get(s->pkg);
		if(pk && (pk->deps & BLF_DEP_CALLS)
				&& !(s->flags & (BLF_SUB_WILDCARD | BLF_SUB_LIST)))
			g->shown = blf_calls_digest(e->calls, e->ncalls);
		p = blf_chg_str(p, &e->key, &g->key);
		blf_chg_str(p, &BLF_SF(s, BLF_SF_TTAG), &g->key2);
		return;
	}
	n = BLF_CHG_ALIGN(blf_sub_size(s));
	g = blf_chg_add(kind, n + e->key.len + 1, &p);
	if(g == NULL)
		return;
	d = (blf_sub_t *)p;
	memcpy(d, s, blf_sub_size(s)); /* offsets, not pointers: as is */
	d->next = NULL;
	d->wc[0] = d->wc[1] = 0;
	g->sub = d;
	g->version = s->version;
	g->cseq = s->cseq;
	blf_chg_str(p + n, &e->key, &g->key);
}

void blf_chg_pub(blf_chg_kind_t kind, const blf_entity_t *e, const blf_pub_t *pb)
{
	size_t hl = BLF_CHG_ALIGN(sizeof(blf_pub_t));
	size_t dl = BLF_CHG_ALIGN(pb->doc->size);
	size_t bl = BLF_CHG_ALIGN(pb->body_len + 1);
	blf_pub_t *d;
	blf_chg_t *g;
	char *p;

	if(!(blf_chg_mask & kind) || pb->origin != 0)
		return;
	g = blf_chg_add(kind, hl + dl + bl + e->key.len + 1, &p);
	if(g == NULL)
		return;
	d = (blf_pub_t *)p;
	memcpy(d, pb, sizeof(*d));
	d->next = NULL;
	d->doc = (struct blf_pidf_pub *)(p + hl);
	memcpy(d->doc, pb->doc, pb->doc->size); /* offsets: copied as is */
	d->body = p + hl + dl;
	memcpy(d->body, pb->body, pb->body_len + 1);
	g->pub = d;
	blf_chg_str(p + hl + dl + bl, &e->key, &g->key);
}

void blf_chg_jobs(blf_notify_job_t *jobs)
{
	blf_chg_t *g;

	if(jobs == NULL)
		return;
	g = blf_chg_add(BLF_CHG_NOTIFY, 0, NULL);
	if(g == NULL) {
		/* cannot happen with the static block free; never drop NOTIFYs:
		 * hand them straight on */
		blf_chg_batch_t one;
		blf_chg_rec_t r;

		memset(&one, 0, sizeof(one));
		memset(&r, 0, sizeof(r));
		r.c.kind = BLF_CHG_NOTIFY;
		r.c.jobs = jobs;
		one.first = one.last = &r;
		one.kinds = BLF_CHG_NOTIFY;
		for(int i = 0; i < blf_chg_nls; i++)
			if(blf_chg_ls[i].mask & BLF_CHG_NOTIFY)
				blf_chg_ls[i].fn(&one, blf_chg_ls[i].param);
		return;
	}
	g->jobs = jobs;
}

/* per process: blf_chg_hold() nesting; while held, a flush waits for the
 * release, so the changes of several operations reach the listeners as one
 * batch (both sides of a call event: one cluster message, not two) */
static int blf_chg_held = 0;

void blf_chg_hold(void)
{
	blf_chg_held++;
}

void blf_chg_release(void)
{
	if(blf_chg_held > 0 && --blf_chg_held == 0)
		blf_chg_flush();
}

void blf_chg_flush(void)
{
	blf_chg_batch_t b = blf_chg_pending;
	blf_chg_block_t *k;
	int i, stat = 0;

	if(blf_chg_held)
		return;
	if(b.first == NULL && b.lost == 0 && !(b.kinds & BLF_CHG_POKE))
		return;
	memset(&blf_chg_pending, 0, sizeof(blf_chg_pending));
	for(k = b.blocks; k; k = k->next)
		if(!k->heap)
			stat = 1;
	if(stat)
		blf_chg_static_busy = 1; /* changes the listeners make go apart */
	for(i = 0; i < blf_chg_nls; i++)
		if(blf_chg_ls[i].mask & (b.kinds | b.lost))
			blf_chg_ls[i].fn(&b, blf_chg_ls[i].param);
	if(stat)
		blf_chg_static_busy = 0;
	while((k = b.blocks)) {
		b.blocks = k->next;
		if(k->heap)
			free(k);
	}
}

void blf_chg_poke(void)
{
	blf_chg_pending.kinds |= BLF_CHG_POKE;
}

void blf_chg_send(blf_notify_job_t *jobs)
{
	blf_chg_jobs(jobs);
	blf_chg_flush();
}
