/*
 * blf_subrec.c — subscription records: one shm block each (the record and
 * its strings), kept on the entity they watch, and the NOTIFY jobs copied
 * out of them under the slot lock.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>
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

#include "blf_table.h"
#include "blf_chg.h"
#include "blf_inflight.h"
#include "blf_tag.h"
#include "blf_wcount.h"
#include "blf_coalesce.h"


/* ---- subscription records ---- */

/* a million subscriptions on one node in <= 512 bytes each (bench/README.md
 * "One million subscriptions"): the record stays 72 bytes on 64-bit */
_Static_assert(sizeof(void *) != 8 || sizeof(blf_sub_t) <= 72,
		"blf_sub_t grew past 72 bytes");

/* slots of the entity table - 1 (blf_table_init tells): an owed wildcard
 * subscription notes the slot of the entity it is owed from */
static unsigned int blf_subrec_slot_mask = 0;

void blf_sub_slots(unsigned int size)
{
	blf_subrec_slot_mask = size - 1;
}


/* other nodes' subscriptions held here (shm; NULL without a cluster): how
 * a (re)joining node's pull of the full state is watched */
static atomic_t *blf_sub_nrepl = NULL;

int blf_sub_repl_init(void)
{
	blf_sub_nrepl = shm_malloc(sizeof(atomic_t));
	if(blf_sub_nrepl == NULL) {
		SHM_MEM_ERROR;
		return -1;
	}
	atomic_set(blf_sub_nrepl, 0);
	return 0;
}

void blf_sub_repl_add(int d)
{
	if(blf_sub_nrepl)
		atomic_add(blf_sub_nrepl, d);
}

unsigned long blf_sub_repl_count(void)
{
	long n = blf_sub_nrepl ? (long)atomic_get(blf_sub_nrepl) : 0;

	return n > 0 ? (unsigned long)n : 0;
}

/* the entity hash encoded in our tag, -1 if it is not one of ours */
int blf_tag_hash(const str *tag, unsigned int *hash)
{
	return blf_tag_decode(tag->s, tag->len < 0 ? 0 : (size_t)tag->len, hash);
}

blf_sub_t *blf_sub_build(const str *f, unsigned int flags)
{
	blf_sub_t *s;
	size_t len = sizeof(blf_sub_t), size;
	char *p;
	int i;

	for(i = 0; i < BLF_SF_N; i++) {
		if(f[i].len < 0 || f[i].len > 65535)
			goto big;
		len += f[i].len + 1;
	}
	if(len > 65535)
		goto big;
	size = (flags & BLF_SUB_WILDCARD)
				   ? BLF_SUB_WX_OFF(len) + sizeof(blf_sub_wx_t)
				   : len;
	s = shm_malloc(size);
	if(s == NULL) {
		SHM_MEM_ERROR;
		return NULL;
	}
	memset(s, 0, size);
	s->flags = (unsigned short)flags;
	p = (char *)(s + 1);
	for(i = 0; i < BLF_SF_N; i++) {
		if(f[i].len)
			memcpy(p, f[i].s, f[i].len);
		p[f[i].len] = '\0';
		p += f[i].len + 1;
		s->end[i] = (unsigned short)(p - (char *)s);
	}
	return s;

big:
	LM_ERR("subscription too large (%lu bytes)\n", (unsigned long)len);
	return NULL;
}

void blf_sub_free(blf_sub_t *s)
{
	blf_wc_sub_release(s); /* its watcher/source counts, if it holds any */
	shm_free(s);
}

/* a copy of s with field i replaced (the block is rebuilt) */
blf_sub_t *blf_sub_rebuild(const blf_sub_t *s, int i, const str *val)
{
	str f[BLF_SF_N];
	blf_sub_t *n;
	int k;

	for(k = 0; k < BLF_SF_N; k++)
		f[k] = BLF_SF(s, k);
	f[i] = *val;
	n = blf_sub_build(f, s->flags);
	if(n == NULL)
		return NULL;
	n->expires = s->expires;
	n->version = s->version;
	n->cseq = s->cseq;
	n->shown = s->shown;
	n->vis = s->vis;
	n->pkg = s->pkg;
	n->sock = s->sock;
	if(s->flags & BLF_SUB_WILDCARD)
		*blf_sub_wx(n) = *blf_sub_wx(s);
	blf_wc_sub_move((blf_sub_t *)s, n); /* the caller frees s for n */
	return n;
}

blf_sub_t *blf_sub_find(blf_entity_t *e, const str *callid,
		const str *ftag, const str *ttag, blf_sub_t ***prev)
{
	blf_sub_t **ps, *s;

	for(ps = &e->subs; *ps; ps = &(*ps)->next) {
		s = *ps;
		if(STR_EQ(BLF_SF(s, BLF_SF_CALLID), *callid)
				&& STR_EQ(BLF_SF(s, BLF_SF_FTAG), *ftag)
				&& (ttag == NULL || STR_EQ(BLF_SF(s, BLF_SF_TTAG), *ttag))) {
			if(prev)
				*prev = ps;
			return s;
		}
	}
	return NULL;
}

void blf_sub_unlink(blf_entity_t *e, blf_sub_t **ps)
{
	blf_sub_t *s = *ps;

	*ps = s->next;
	e->nsubs--;
	if(s->owner == 0) {
		atomic_dec(blf_nsubs);
		/* its row goes, the cluster forgets it */
		blf_chg_sub(BLF_CHG_SUB_DEL, e, s);
	} else {
		blf_sub_repl_add(-1);
	}
	blf_sub_free(s);
}

/*
 * A NOTIFY job for s: the next version and CSeq are taken here, under the
 * slot lock, together with the content snapshot, so a higher version always
 * carries newer content. entity_esc overrides the entity attribute
 * (wildcard subscriptions name the entity each NOTIFY describes).
 */
blf_notify_job_t *blf_sub_job(blf_entity_t *e, blf_sub_t *s,
		blf_frags_t *fr, const str *entity_esc, int terminated,
		const char *reason, time_t now)
{
	return blf_sub_job_vis(
			e, s, fr, entity_esc, s->vis, terminated, reason, now);
}

/* no subscription of e but s follows a BLF_PKG_DEDUP package (presence)
 * as e->pdig counts them: local, not a list's, not owed a NOTIFY */
static int blf_sub_dedup_alone(const blf_entity_t *e, const blf_sub_t *s)
{
	const blf_pkg_t *p;
	const blf_sub_t *t;

	for(t = e->subs; t; t = t->next) {
		if(t == s || t->owner || (t->flags & (BLF_SUB_LIST | BLF_SUB_OWED)))
			continue;
		p = blf_pkg_get(t->pkg);
		if(p && (p->flags & BLF_PKG_DEDUP))
			return 0;
	}
	return 1;
}

/* blf_lsub.c's, set at init (a list's NOTIFY is its own package) */
static blf_sub_list_snap_f blf_sub_list_snap = NULL;
unsigned int *blf_sub_restore_hold = NULL;

void blf_sub_set_list_snap(blf_sub_list_snap_f fn)
{
	blf_sub_list_snap = fn;
}

blf_notify_job_t *blf_sub_job_vis(blf_entity_t *e, blf_sub_t *s,
		blf_frags_t *fr, const str *entity_esc, blf_vis_t vis, int terminated,
		const char *reason, time_t now)
{
	blf_notify_job_t *j;
	str own = blf_sf_len(s, BLF_SF_ENTITY_ESC) ? BLF_SF(s, BLF_SF_ENTITY_ESC)
											   : BLF_SF(s, BLF_SF_URI);
	const str *ent = entity_esc ? entity_esc : &own;
	size_t len = sizeof(*j) + ent->len + 1;
	unsigned int slot;
	char *p;
	int i;

	/* restored at start, its peers may be taking it over (blf_table.h):
	 * owed, sent by the timer once the hold is over (a final NOTIFY goes) */
	if((s->flags & BLF_SUB_RESTORED) && !terminated) {
		if(blf_sub_restore_hold
				&& (unsigned int)now
						   < *(volatile unsigned int *)blf_sub_restore_hold)
			goto owed;
		s->flags &= ~BLF_SUB_RESTORED;
	}
	/* a place among the NOTIFYs in flight, before a version is taken: past
	 * a bound, this change is not sent and the full state is owed (sent by
	 * the timer when there is room); a final NOTIFY always goes */
	if(blf_inflight_take(s, terminated, &slot) < 0)
		goto owed;
	for(i = 0; i < BLF_SF_N; i++)
		len += BLF_SF(s, i).len + 1;
	/* system malloc, not pkg: sizes vary with every watcher, which sends
	 * qm's first-fit search through thousands of empty buckets */
	j = malloc(len);
	if(j == NULL) {
		LM_ERR("no memory for a NOTIFY of %.*s\n", e->key.len, e->key.s);
		blf_inflight_put(slot);
		goto owed;
	}
	memset(j, 0, sizeof(*j));
	/* the package's snapshot of e (copies, taken once for the change); its
	 * body is built from it after the unlock (blf_notify.c) */
	j->pkg = blf_pkg_get(s->pkg);
	if((s->flags & BLF_SUB_LIST) && blf_sub_list_snap && j->pkg) {
		int held = 0;
		/* RFC 4662 list */
		j->snap = blf_sub_list_snap(s, terminated, &j->pkg, &held);
		if(j->snap == NULL && held) {
			/* the list's sender owes it (blf_lsub.c): no version taken */
			free(j);
			blf_inflight_put(slot);
			return NULL;
		}
	} else
		j->snap = j->pkg ? blf_pkg_snap(fr, j->pkg, e) : NULL;
	if(j->snap == NULL) {
		if(j->pkg == NULL)
			LM_ERR("subscription %.*s: no event package %u\n",
					blf_sf_len(s, BLF_SF_CALLID), BLF_SF(s, BLF_SF_CALLID).s,
					(unsigned int)s->pkg);
		free(j);
		blf_inflight_put(slot);
		goto owed;
	}
	/* a NOTIFY outside a change's fan-out (a new subscription, a refresh,
	 * a takeover, what was owed): when it carries other content than the
	 * one every watcher got, what they got is no longer one thing, unless
	 * s is the only one */
	if((j->pkg->flags & BLF_PKG_DEDUP) && !terminated
			&& j->snap->digest != e->pdig)
		e->pdig = blf_sub_dedup_alone(e, s) ? j->snap->digest : 0;
	j->vis = vis;
	j->inflight = slot;
	p = (char *)(j + 1);
	for(i = 0; i < BLF_SF_N; i++) {
		j->f[i] = BLF_SF(s, i);
		memcpy(p, j->f[i].s, j->f[i].len);
		j->f[i].s = p;
		p[j->f[i].len] = '\0';
		p += j->f[i].len + 1;
	}
	j->entity_esc.s = p;
	j->entity_esc.len = ent->len;
	memcpy(p, ent->s, ent->len);
	p[ent->len] = '\0';
	/* the entity the subscription is kept on, where an answer (481, 408)
	 * finds it again: a wildcard subscription lives on its wildcard
	 * pseudo-entity (whose hash our tag carries), not on the entity e this
	 * NOTIFY describes */
	if(!(s->flags & BLF_SUB_WILDCARD)
			|| blf_tag_decode(BLF_SF(s, BLF_SF_TTAG).s,
					   BLF_SF(s, BLF_SF_TTAG).len, &j->hash)
					   < 0)
		j->hash = e->hash;
	j->sock = blf_sub_sock(s);
	j->version = s->version++;
	j->cseq = ++s->cseq;
	blf_coal_sent(s); /* notify_min_interval starts again */
	s->flags |= BLF_SUB_DIRTY;
	blf_slot_dirty(j->hash); /* the slot s is kept in (a wildcard's too) */
	blf_chg_sub(BLF_CHG_SUB_VER, e, s); /* replicated: one per NOTIFY */
	j->terminated = terminated;
	j->reason = reason;
	j->expires = blf_expiry_left(s->expires, now);
	if(!(s->flags & BLF_SUB_WILDCARD))
		s->flags &= ~BLF_SUB_OWED; /* a full state pays what was owed */
	return j;

owed:
	/* e may be a stand-in (a fetch, an empty wildcard burst): its flags
	 * then go with it, nothing is owed */
	if(!terminated) {
		if(s->flags & BLF_SUB_WILDCARD) {
			/* what it is owed: the domain's state from e's slot on (the
			 * timer sends it, resuming where a deferral stops it); e is
			 * kept meanwhile, even idle, so its end is not lost */
			i = (int)(e->hash & blf_subrec_slot_mask);
			if(!(s->flags & BLF_SUB_OWED)
					|| (unsigned int)i < blf_sub_wx(s)->owed_from)
				blf_sub_wx(s)->owed_from = (unsigned int)i;
			s->flags |= BLF_SUB_OWED;
			e->flags |= BLF_ENT_WOWED;
			e->wowed_until = now + BLF_WOWED_KEEP;
		} else {
			s->flags |= BLF_SUB_OWED;
			e->flags |= BLF_ENT_OWED;
		}
		blf_slot_wake(e->hash); /* the timer sends it */
	}
	return NULL;
}

/*
 * Jobs for every live watcher of e whose package depends on one of deps
 * (BLF_DEP_*): a change of e's registrations does not NOTIFY its dialog
 * watchers. The slot lock must be held.
 */
int blf_subs_notify_dep(blf_entity_t *e, unsigned int deps, blf_frags_t *fr,
		blf_notify_job_t **jobs)
{
	blf_notify_job_t *j;
	const blf_pkg_t *p;
	blf_snap_t *sn;
	blf_sub_t *s;
	time_t now = time(NULL);
	uint64_t dig = 0; /* the BLF_PKG_DEDUP package's, once taken */
	int n = 0, same = 0, seen = 0;

	for(s = e->subs; s; s = s->next) {
		if(blf_expiry_due(s->expires, now) || (s->flags & BLF_SUB_WILDCARD)
				|| s->owner || (s->flags & BLF_SUB_VWAIT))
			continue; /* expired: the timer sends its final NOTIFY; another
					   * node's: that node sends; a takeover waiting for
					   * the former owner's version: owed the full state
					   * (blf_sub_takeover_hold) */
		p = blf_pkg_get(s->pkg);
		if(p && !(p->deps & deps))
			continue; /* its content did not change (an unknown package
					   * goes on: blf_sub_job logs it) */
		if(p && (p->flags & BLF_PKG_DEDUP) && !(s->flags & BLF_SUB_LIST)) {
			if(!seen && (sn = blf_pkg_snap(fr, p, e)) != NULL) {
				seen = 1;
				dig = sn->digest;
				same = dig != 0 && dig == e->pdig;
				blf_snap_put(sn);
			}
			/* the document it got last is this one: nothing new (one
			 * owed a NOTIFY, held or deferred, still gets it) */
			if(same && !(s->flags & BLF_SUB_OWED)) {
				update_stat(blf_st_notifies_unchanged, 1);
				continue;
			}
		}
		if(blf_coal_hold(e, s, 1))
			continue; /* notify_min_interval: owed, sent when it ends */
		j = blf_sub_job(e, s, fr, NULL, 0, NULL, now);
		if(j) {
			j->next = *jobs;
			*jobs = j;
			n++;
		}
	}
	/* every watcher of it got this content now, or is owed it (no
	 * snapshot, no memory: the job was not made, it is owed too) */
	if(seen)
		e->pdig = dig;
	return n;
}

/* jobs for the watchers of e that follow its calls (and parks); the slot
 * lock must be held */
int blf_subs_notify_watchers(
		blf_entity_t *e, blf_frags_t *fr, blf_notify_job_t **jobs)
{
	return blf_subs_notify_dep(e, BLF_DEP_CALLS, fr, jobs);
}
