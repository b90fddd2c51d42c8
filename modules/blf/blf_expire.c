/*
 * blf_expire.c — the expiry timer: every second, subscriptions past their
 * deadline get their final NOTIFY (terminated;reason=timeout) and go. An
 * entity whose earliest deadline is still ahead is skipped, and so is a
 * slot (blf_slot_t.due) with nothing due and nothing owed: a tick reads one
 * word per slot, and walks only the slots with work (with a million
 * subscriptions on 100k entities: from 19 ms of CPU per second to well
 * under 1, bench/README.md).
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "core/mem/shm_mem.h"
#include "core/mem/mem.h"
#include "core/dprint.h"
#include "core/ut.h"
#include "core/trim.h"
#include "core/data_lump_rpl.h"
#include "core/parser/parse_from.h"
#include "core/parser/parse_to.h"
#include "core/parser/parse_uri.h"
#include "core/parser/parse_event.h"
#include "core/parser/parse_expires.h"
#include "core/parser/contact/parse_contact.h"
#include "core/parser/parse_rr.h"

#include "blf.h"
#include "blf_chg.h"
#include "blf_coalesce.h"


/* ---- expiry ---- */

#define BLF_TIMER_BATCH 16 /* entities whose final NOTIFYs go out at once */

/* an owed wildcard subscription, copied out for blf_wildcard_owed_send():
 * Call-ID, From tag, our tag, the wildcard entity's key */
typedef struct blf_owed_wild {
	char *buf;
	str f[4];
	unsigned int from;
} blf_owed_wild_t;

/* copies out the owed wildcard subscriptions of w into ow[n..]; the slot
 * lock is held; returns the new count */
static int blf_owed_wild_collect(blf_entity_t *w, blf_owed_wild_t *ow, int n)
{
	blf_sub_t *s;
	str f[4];
	size_t len;
	char *p;
	int k;

	for(s = w->subs; s && n < BLF_TIMER_BATCH; s = s->next) {
		if(!(s->flags & BLF_SUB_OWED) || !(s->flags & BLF_SUB_WILDCARD)
				|| s->owner)
			continue;
		/* a takeover's burst waiting for the former owner's version
		 * (blf_sub_takeover_hold): BLF_VWAIT_MS at most (the wildcard's
		 * entity is looked at every tick) */
		if(s->flags & BLF_SUB_VWAIT) {
			if(blf_coal_now() - s->sent_ms < BLF_VWAIT_MS)
				continue;
			s->flags &= ~BLF_SUB_VWAIT;
			s->sent_ms = 0;
		}
		f[0] = BLF_SF(s, BLF_SF_CALLID);
		f[1] = BLF_SF(s, BLF_SF_FTAG);
		f[2] = BLF_SF(s, BLF_SF_TTAG);
		f[3] = w->key;
		for(len = 0, k = 0; k < 4; k++)
			len += f[k].len;
		p = malloc(len ? len : 1);
		if(p == NULL)
			break;
		ow[n].buf = p;
		for(k = 0; k < 4; k++) {
			memcpy(p, f[k].s, f[k].len);
			ow[n].f[k].s = p;
			ow[n].f[k].len = f[k].len;
			p += f[k].len;
		}
		ow[n].from = blf_sub_wx(s)->owed_from;
		n++;
	}
	return n;
}

/* the exact earliest deadline of e's subscriptions, after a scan */
static void blf_entity_subs_due_reset(blf_entity_t *e)
{
	blf_sub_t *s;

	e->subs_due = 0;
	for(s = e->subs; s; s = s->next)
		blf_entity_sub_due(e, s->expires);
}


/* what one tick gathers of a slot under its lock, for after the unlock */
typedef struct blf_tick {
	blf_notify_job_t *jobs;
	blf_frags_t fr[BLF_TIMER_BATCH];
	int nfr;
	char okeys[BLF_TIMER_BATCH][BLF_KEY_MAX];
	int olen[BLF_TIMER_BATCH];
	int nowed;
	blf_owed_wild_t ow[BLF_TIMER_BATCH];
	int nw;
	int room;
	int more;
	time_t now;
	time_t due; /* the slot's next work (0: at the next tick, -1: none) */
} blf_tick_t;

/* what e leaves for the timer, noted into t->due after e's turn: 0 when
 * it has to look again at the next tick (an owed NOTIFY, an entity kept for
 * wildcard watchers, tombs, a wildcard subscription's debts, a deadline
 * not known), else its earliest deadline */
static void blf_tick_note(blf_tick_t *t, blf_entity_t *e)
{
	if((e->flags & (BLF_ENT_OWED | BLF_ENT_WOWED)) || e->tombs || e->rhist
			|| (e->subs && (e->subs->flags & BLF_SUB_WILDCARD))
			|| (e->subs && e->subs_due == 0)) {
		t->due = 0;
		return;
	}
	if(e->subs && t->due && (t->due < 0 || e->subs_due < t->due))
		t->due = e->subs_due;
}

static int blf_expire_entity_do(blf_entity_t *e, blf_tick_t *t);

/* one entity of the slot (its lock held); 1 stops the slot's walk */
static int blf_expire_entity(blf_entity_t *e, void *arg)
{
	blf_tick_t *t = arg;
	int r = blf_expire_entity_do(e, t);

	/* 2: e went through blf_entity_gc and may be gone: not looked at
	 * again, and the slot is walked again at the next tick (rare: an
	 * entity whose last subscription, tomb or debt just went) */
	if(r != 0) {
		t->due = 0;
		return r == 1;
	}
	blf_tick_note(t, e);
	return 0;
}

/* e's turn (its slot's lock held): 1 stops the slot's walk, 2 says e is
 * gone, 0 that it stays */
static int blf_expire_entity_do(blf_entity_t *e, blf_tick_t *t)
{
	blf_notify_job_t *j;
	blf_sub_t **ps, *s;
	time_t now = t->now;
	int due;

	/* contacts changed outside a SIP request (usrloc's timer, dmq_usrloc,
	 * an RPC: blf_entity_reg.c): their NOTIFYs, sent after the unlock */
	if(e->flags & BLF_ENT_REGDUE) {
		if(t->nfr == BLF_TIMER_BATCH) {
			t->more = 1;
			return 1;
		}
		memset(&t->fr[t->nfr], 0, sizeof(t->fr[t->nfr]));
		due = blf_entity_reg_due(e, &t->fr[t->nfr], &t->jobs);
		t->nfr++;
		if(due)
			return 0; /* e is gone */
	}
	/* NOTIFYs deferred past a bound: sent once there is room, after the
	 * lock (they need the wildcard's lock too) */
	if((e->flags & BLF_ENT_OWED) && t->room && t->nowed < BLF_TIMER_BATCH) {
		/* more than a batch in one slot: the next tick goes on; once per
		 * slot and tick, so that NOTIFYs deferred again cannot keep the
		 * timer here */
		if(e->key.len < BLF_KEY_MAX) {
			memcpy(t->okeys[t->nowed], e->key.s, e->key.len);
			t->olen[t->nowed++] = e->key.len;
		} else {
			e->flags &= ~BLF_ENT_OWED;
		}
	}
	/* kept idle for wildcard watchers long enough: may go */
	if((e->flags & BLF_ENT_WOWED) && now > e->wowed_until && t->room) {
		e->flags &= ~BLF_ENT_WOWED;
		if(e->calls == NULL && e->subs == NULL && e->tombs == NULL) {
			blf_entity_gc(e->hash, e);
			return 2;
		}
	}
	if(t->room && t->nw < BLF_TIMER_BATCH && e->subs
			&& (e->subs->flags & BLF_SUB_WILDCARD))
		t->nw = blf_owed_wild_collect(e, t->ow, t->nw);
	if(e->rhist)
		blf_rhist_purge(e, now); /* a takeover's replay: the recent only */
	if(e->tombs) {
		blf_tombs_purge(e, now);
		if(e->tombs == NULL && e->subs == NULL && e->calls == NULL) {
			blf_entity_gc(e->hash, e);
			return 2;
		}
	}
	if(e->subs == NULL || (e->subs_due && now < e->subs_due))
		return 0; /* nothing due here yet */
	for(due = 0, s = e->subs; s && !due; s = s->next)
		due = blf_expiry_due(s->expires, now);
	if(!due) {
		blf_entity_subs_due_reset(e);
		return 0;
	}
	if(t->nfr == BLF_TIMER_BATCH) {
		t->more = 1;
		return 1;
	}
	memset(&t->fr[t->nfr], 0, sizeof(t->fr[t->nfr]));
	for(ps = &e->subs; *ps;) {
		s = *ps;
		if(!blf_expiry_due(s->expires, now)) {
			ps = &s->next;
			continue;
		}
		j = s->owner ? NULL
					 : blf_sub_job(e, s, &t->fr[t->nfr], NULL, 1, "timeout",
							 now);
		if(j) {
			j->next = t->jobs;
			t->jobs = j;
		}
		LM_DBG("subscription %.*s of %.*s expired\n",
				BLF_SF(s, BLF_SF_CALLID).len, BLF_SF(s, BLF_SF_CALLID).s,
				e->key.len, e->key.s);
		blf_sub_unlink(e, ps);
	}
	t->nfr++;
	blf_entity_subs_due_reset(e);
	blf_entity_gc(e->hash, e);
	return 2;
}

/*
 * Timer: every subscription past its deadline gets its final NOTIFY
 * (terminated;reason=timeout) and is removed. Slot by slot, the jobs are
 * collected under the lock and sent after it; a slot with more expired
 * entities than one batch is taken again.
 */
void blf_subs_timer(unsigned int ticks, void *param)
{
	static blf_tick_t t; /* big: not on the timer's stack */
	str okey;
	unsigned int i, n = blf_table_slots();
	int k;

	t.now = time(NULL);
	for(i = 0; i < n; i++) {
		if(blf_table_slot_empty(i))
			continue; /* racy read, only to skip empty slots cheaply */
		/* nothing due in the slot yet (racy read: a slot woken meanwhile
		 * is seen at the next tick) */
		if(blf_table->slots[i].due && t.now < (time_t)blf_table->slots[i].due)
			continue;
		t.room = blf_inflight_room();
	again:
		t.jobs = NULL;
		t.nfr = 0;
		t.nowed = 0;
		t.nw = 0;
		t.more = 0;
		t.due = -1;
		/* the walk notes the slot's next work under its lock, so that a
		 * deadline lowered meanwhile (blf_slot_due) is never lost */
		blf_slot_lock(i);
		blf_slot_each(i, blf_expire_entity, &t);
		blf_table->slots[i].due =
				t.due > 0 ? (unsigned int)t.due : (t.due < 0 ? UINT_MAX : 0);
		blf_slot_unlock(i);
		blf_chg_send(t.jobs);
		while(t.nfr > 0)
			blf_frags_free(&t.fr[--t.nfr]);
		for(k = 0; k < t.nowed && blf_inflight_room(); k++) {
			okey.s = t.okeys[k];
			okey.len = t.olen[k];
			blf_entity_owed_send(&okey);
		}
		for(k = 0; k < t.nw; k++) {
			if(t.ow[k].from == BLF_WX_BURST) /* a takeover's */
				blf_subs_takeover_burst(&t.ow[k].f[3], &t.ow[k].f[0],
						&t.ow[k].f[1], &t.ow[k].f[2]);
			else if(blf_inflight_room())
				blf_wildcard_owed_send(&t.ow[k].f[3], &t.ow[k].f[0],
						&t.ow[k].f[1], &t.ow[k].f[2], t.ow[k].from);
			free(t.ow[k].buf);
		}
		if(t.more) {
			t.room = 0; /* the slot again for its expiries, not its debts */
			goto again;
		}
	}
	/* publications past their Expires (blf_entity_pub.c) */
	blf_pub_expire(t.now);
}
