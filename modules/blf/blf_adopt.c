/*
 * blf_adopt.c — a dead cluster node's calls, held and adopted.
 *
 * When a node dies (or restarts), its calls are not ended at the takeover:
 * for takeover_call_hold seconds they are held ("orphans", indexed here by
 * Call-ID). In the HA deployment the dead proxy's address (a VIP, or the
 * Record-Route host) moves to a survivor, so the phones' in-dialog traffic
 * of those calls (the callee's final reply, the caller's CANCEL, BYE from
 * either side) reaches a node that holds them as replicas but has no
 * dialog for them. A core pre-script callback sees that traffic before
 * the script and before tm (every request, every reply, stray ones too):
 * a message of a held call, whose tags are the call's, is applied as the
 * dialog callbacks would (blf_dlg.c) and the call becomes this node's
 * (blf_entity_call_adopt): its watchers are notified, the change is
 * replicated as a local call's, and the other nodes follow us. Calls still
 * held when the hold ends end as at a takeover. While nothing is held the
 * callback costs one shared counter read.
 *
 * Locks: the index lock is a leaf, taken under a slot lock (the takeover
 * adds entries from inside blf_entity_node_calls_each) and never held
 * while a slot lock is taken, a NOTIFY built or a message sent.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>

#include "core/mem/shm_mem.h"
#include "core/dprint.h"
#include "core/hashes.h"
#include "core/locking.h"
#include "core/atomic_ops.h"
#include "core/trim.h"
#include "core/script_cb.h"
#include "core/parser/msg_parser.h"
#include "core/parser/parse_from.h"
#include "core/parser/parse_to.h"
#include "core/parser/parse_cseq.h"
#include "core/parser/parse_rr.h"
#include "core/parser/parse_uri.h"
#include "core/socket_info.h"

#include "blf.h"
#include "blf_chg.h"
#include "blf_adopt.h"

#define BLF_ADOPT_BUCKETS 1024 /* a power of two */
#define BLF_ADOPT_MAX 200000   /* held call sides (two per call); beyond,
								* a dead node's calls end at the takeover */
#define BLF_ADOPT_TAG_MAX 128  /* a longer callee tag is not learned */
#define BLF_ADOPT_MATCH 8	   /* sides of one Call-ID handled per message */
/* an adopted call has no dialog here: without its BYE it stays lit this
 * long after its adoption (the dialog module's default_timeout) */
#define BLF_ADOPT_KEEP 43200

/* one held side of a call: entity key, direction, whose it was */
typedef struct blf_orphan {
	struct blf_orphan *next;
	str callid;
	str key;
	str ctag;	  /* the caller's tag (From of the INVITE) */
	str etag;	  /* the callee's tag, empty until known; room for
				   * BLF_ADOPT_TAG_MAX (learned from a 2xx) */
	int dir;
	int origin; /* the dead node; 0 once adopted here */
	unsigned int gen;
	time_t until;
} blf_orphan_t;

typedef struct blf_adopt_tab {
	gen_lock_t lock;
	atomic_t n; /* entries: 0, nothing to look at per message */
	blf_orphan_t *b[BLF_ADOPT_BUCKETS];
} blf_adopt_tab_t;

static blf_adopt_tab_t *blf_adopt = NULL;

int blf_adopt_held(void)
{
	return blf_adopt ? atomic_get(&blf_adopt->n) : 0;
}

static unsigned int blf_adopt_bucket(const str *callid)
{
	return core_hash(callid, NULL, BLF_ADOPT_BUCKETS);
}

/* ---- the takeover: a dead node's calls are held ---- */

typedef struct blf_hold_arg {
	time_t until;
	int failed; /* out of memory or over BLF_ADOPT_MAX */
	int added;
} blf_hold_arg_t;

/* under key's slot lock: one call of the dead node joins the index */
static void blf_adopt_hold_call(const str *key, const blf_call_t *c, void *arg)
{
	blf_hold_arg_t *a = arg;
	const str *cid = &c->f[BLF_CF_CALLID];
	const str *ct, *et;
	blf_orphan_t *o;
	unsigned int h = blf_adopt_bucket(cid);
	char *p;

	/* the caller's and callee's tags, by the side this record is */
	ct = &c->f[c->dir == BLF_DIR_INITIATOR ? BLF_CF_LTAG : BLF_CF_RTAG];
	et = &c->f[c->dir == BLF_DIR_INITIATOR ? BLF_CF_RTAG : BLF_CF_LTAG];
	lock_get(&blf_adopt->lock);
	for(o = blf_adopt->b[h]; o; o = o->next)
		if(o->dir == (int)c->dir && STR_EQ(o->callid, *cid)
				&& STR_EQ(o->key, *key))
			break;
	if(o) { /* held already (a restart after the death, its traffic seen
			 * before the takeover) */
		if(o->origin) {
			o->origin = c->origin;
			o->gen = c->gen;
		}
		if(o->until < a->until)
			o->until = a->until;
		lock_release(&blf_adopt->lock);
		return;
	}
	if(atomic_get(&blf_adopt->n) >= BLF_ADOPT_MAX || ct->len == 0
			|| et->len > BLF_ADOPT_TAG_MAX) {
		lock_release(&blf_adopt->lock);
		a->failed++;
		return;
	}
	o = shm_malloc(sizeof(*o) + cid->len + key->len + ct->len
				   + BLF_ADOPT_TAG_MAX);
	if(o == NULL) {
		lock_release(&blf_adopt->lock);
		a->failed++;
		return;
	}
	p = (char *)(o + 1);
#define BLF_OCOPY(dst, src)              \
	do {                                 \
		(dst).s = p;                     \
		(dst).len = (src)->len;          \
		memcpy(p, (src)->s, (src)->len); \
		p += (src)->len;                 \
	} while(0)
	BLF_OCOPY(o->callid, cid);
	BLF_OCOPY(o->key, key);
	BLF_OCOPY(o->ctag, ct);
	BLF_OCOPY(o->etag, et);
#undef BLF_OCOPY
	o->dir = c->dir;
	o->origin = c->origin;
	o->gen = c->gen;
	o->until = a->until;
	o->next = blf_adopt->b[h];
	blf_adopt->b[h] = o;
	atomic_inc(&blf_adopt->n);
	lock_release(&blf_adopt->lock);
	a->added++;
}

int blf_adopt_hold(const str *key, int dead, unsigned int keep)
{
	blf_hold_arg_t a;

	if(blf_adopt == NULL || blf_cfg.takeover_call_hold <= 0) {
		blf_entity_end_node_calls(key, dead, keep);
		return 0;
	}
	memset(&a, 0, sizeof(a));
	a.until = time(NULL) + blf_cfg.takeover_call_hold;
	blf_entity_node_calls_each(key, dead, keep, blf_adopt_hold_call, &a);
	if(a.failed) {
		/* not held: ended now, as with no hold (those held end too: the
		 * index finds them ended at the hold's end) */
		LM_ERR("cannot hold %d call(s) of %.*s (out of shm memory, %d "
			   "held, or no caller tag): ended now\n",
				a.failed, key->len, key->s, BLF_ADOPT_MAX);
		blf_entity_end_node_calls(key, dead, keep);
	}
	return a.added;
}

/* ---- the hold's end ---- */

void blf_adopt_timer(void)
{
	blf_orphan_t *o, **po, *due = NULL;
	time_t now;
	int i, ended = 0, n = 0;

	if(blf_adopt == NULL || atomic_get(&blf_adopt->n) == 0)
		return;
	now = time(NULL);
	lock_get(&blf_adopt->lock);
	for(i = 0; i < BLF_ADOPT_BUCKETS; i++)
		for(po = &blf_adopt->b[i]; (o = *po);) {
			if(o->until > now) {
				po = &o->next;
				continue;
			}
			*po = o->next;
			o->next = due;
			due = o;
			atomic_dec(&blf_adopt->n);
		}
	lock_release(&blf_adopt->lock);
	for(; due; due = o) {
		o = due->next;
		n++;
		if(blf_entity_call_orphan_end(
				   &due->key, &due->callid, due->dir, due->origin, due->gen))
			ended++;
		shm_free(due);
	}
	if(ended) {
		update_stat(blf_st_orphans_ended, ended);
		LM_NOTICE("%d held call side(s) of dead cluster nodes ended at the "
				  "end of takeover_call_hold (%d released)\n",
				ended, n);
	}
}

int blf_adopt_init(void)
{
	if(!blf_cfg.enable_dmq || blf_cfg.takeover_call_hold <= 0)
		return 0;
	blf_adopt = shm_malloc(sizeof(*blf_adopt));
	if(blf_adopt == NULL) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(blf_adopt, 0, sizeof(*blf_adopt));
	lock_init(&blf_adopt->lock);
	atomic_set(&blf_adopt->n, 0);
	return 0;
}

/* shutdown: what is held is freed */
void blf_adopt_destroy(void)
{
	blf_orphan_t *o, *next;
	int i;

	if(blf_adopt == NULL)
		return;
	for(i = 0; i < BLF_ADOPT_BUCKETS; i++)
		for(o = blf_adopt->b[i]; o; o = next) {
			next = o->next;
			shm_free(o);
		}
	shm_free(blf_adopt);
	blf_adopt = NULL;
}
