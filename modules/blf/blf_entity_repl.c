/*
 * blf_entity_repl.c — the entity table's side of cluster replicas: what a
 * replica from another node does to the table (its calls and its
 * subscriptions, kept beside ours), and the tombstones that keep a late
 * replica of an ended record from bringing it back. blf_dmq.c decodes and
 * checks the messages; the records are changed only here.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>
#include <stdlib.h>

#include "core/mem/shm_mem.h"
#include "core/dprint.h"
#include "core/hashes.h"

#include "blf_table.h"
#include "blf_chg.h"
#include "blf_wcount.h"
#include "blf_order.h"
#include "blf_pkg.h"
#include "blf_coalesce.h"

#include <stdlib.h>

#define BLF_TOMB_KEEP 30 /* s a tombstone outlives its record */

static unsigned int blf_tomb_kh(const str *a, const str *b, int n)
{
	return blf_order_tomb_kh(a->s, a->len, b ? b->s : NULL, b ? b->len : 0, n);
}

static blf_tomb_t *blf_tomb_find(blf_entity_t *e, int kind, unsigned int kh)
{
	blf_tomb_t *t;

	for(t = e->tombs; t; t = t->next)
		if(t->kind == kind && t->kh == kh)
			return t;
	return NULL;
}

/* the slot lock is held */
static void blf_tomb_add(blf_entity_t *e, int kind, unsigned int kh,
		unsigned short seq, int origin)
{
	blf_tomb_t *t = blf_tomb_find(e, kind, kh);

	if(t == NULL) {
		t = shm_malloc(sizeof(*t));
		if(t == NULL)
			return;
		t->next = e->tombs;
		e->tombs = t;
		blf_slot_wake(e->hash); /* the timer purges it */
	}
	t->kind = kind;
	t->kh = kh;
	t->seq = seq;
	t->origin = origin;
	t->until = time(NULL) + BLF_TOMB_KEEP;
}

/*
 * One change of a call replica: state st reached at sequence seq at node
 * origin. Skipped when that node's call is further already (a replica
 * delivered late) or has ended (a tombstone).
 */
void blf_entity_call_replica(const str *key, const blf_call_upd_t *pupd,
		int dir, int origin, unsigned int gen, time_t start, int seq,
		blf_dstate_t st)
{
	char wbuf[BLF_KEY_MAX + 64];
	blf_notify_job_t *jobs = NULL;
	blf_call_upd_t upd = *pupd;
	blf_frags_t fr;
	blf_entity_t *e;
	blf_call_t *c, *nc, **pc;
	blf_tomb_t *t;
	unsigned int hash, whash, kh;
	int changed = 0;
	str wkey;
	time_t now = time(NULL);

	memset(&fr, 0, sizeof(fr));
	hash = blf_key_hash(key);
	whash = blf_wildcard_hash(key, wbuf, sizeof(wbuf), &wkey, hash);
	blf_slots_lock2(hash, whash);
	e = st.state == BLF_STATE_TERMINATED ? blf_entity_find(hash, key)
										 : blf_entity_get(hash, key);
	if(e == NULL)
		goto unlock;
	kh = blf_tomb_kh(&upd.f[BLF_CF_CALLID], NULL, dir);
	c = blf_call_find(e, &upd.f[BLF_CF_CALLID], dir, &pc);
	if(c && c->origin == origin && !blf_seq_after(seq, c->seq))
		goto gc; /* an older replica arriving late */
	if(c == NULL && (t = blf_tomb_find(e, BLF_TOMB_CALL, kh))
			&& t->origin == origin
			&& !blf_seq_after(seq, t->seq))
		goto gc; /* a replica of a call that has ended already */
	if(c == NULL && st.state == BLF_STATE_TERMINATED) {
		blf_tomb_add(e, BLF_TOMB_CALL, kh, seq, origin);
		goto gc;
	}
	nc = blf_call_build(c, &upd);
	if(nc == NULL)
		goto gc;
	changed = (c == NULL || memcmp(&c->st, &st, sizeof(st)) != 0);
	nc->dir = dir;
	nc->st = st;
	nc->seq = seq;
	nc->origin = origin;
	nc->gen = gen;
	nc->start = start;
	blf_call_set_id(nc);
	if(c) {
		*pc = nc;
		shm_free(c);
	} else {
		nc->next = e->calls;
		e->calls = nc;
		e->ncalls++;
	}
	if(changed)
		blf_entity_jobs_from(e, &fr, &jobs, now, origin);
	if(st.state == BLF_STATE_TERMINATED) {
		blf_tomb_add(e, BLF_TOMB_CALL, kh, seq, origin);
		blf_entity_drop_terminated(e);
	}
gc:
	blf_entity_gc(hash, e);
unlock:
	blf_slots_unlock2(hash, whash);
	blf_chg_send(jobs);
	blf_frags_free(&fr);
}

/* node origin moved its call (callid, dir, at seq) from entity from to
 * entity to: its copy here moves too */
void blf_entity_call_replica_move(const str *from, const str *tokey,
		const str *callid, int dir, int seq, int origin)
{
	char wb1[BLF_KEY_MAX + 64], wb2[BLF_KEY_MAX + 64];
	blf_notify_job_t *jobs = NULL;
	blf_frags_t fr1, fr2;
	blf_entity_t *ef, *et = NULL;
	blf_call_t *c, **pc;
	unsigned int h[4];
	str w1, w2;
	time_t now = time(NULL);

	memset(&fr1, 0, sizeof(fr1));
	memset(&fr2, 0, sizeof(fr2));
	h[0] = blf_key_hash(from);
	h[1] = blf_key_hash(tokey);
	h[2] = blf_wildcard_hash(from, wb1, sizeof(wb1), &w1, h[0]);
	h[3] = blf_wildcard_hash(tokey, wb2, sizeof(wb2), &w2, h[1]);
	blf_slots_lockn(h, 4);
	ef = blf_entity_find(h[0], from);
	if(ef == NULL)
		goto unlock;
	c = blf_call_find(ef, callid, dir, &pc);
	if(c == NULL || c->origin != origin) {
		blf_entity_gc(h[0], ef);
		goto unlock;
	}
	*pc = c->next;
	ef->ncalls--;
	/* a late replica of it at its former entity must not bring it back */
	blf_tomb_add(ef, BLF_TOMB_CALL, blf_tomb_kh(callid, NULL, dir),
			(unsigned short)seq, origin);
	et = blf_entity_get(h[1], tokey);
	if(et == NULL || blf_call_find(et, callid, dir, NULL)) {
		shm_free(c);
	} else {
		c->next = et->calls;
		et->calls = c;
		et->ncalls++;
		blf_entity_jobs_from(et, &fr2, &jobs, now, origin);
	}
	blf_entity_jobs_from(ef, &fr1, &jobs, now, origin);
	blf_entity_gc(h[0], ef);
	if(et)
		blf_entity_gc(h[1], et);
unlock:
	blf_slots_unlockn(h, 4);
	blf_chg_send(jobs);
	blf_frags_free(&fr1);
	blf_frags_free(&fr2);
}

/*
 * Ends the calls of entity key that match() says (own and wildcard
 * watchers notified); one of ours (origin 0) has its end replicated.
 * Returns how many changed.
 */
static int blf_entity_end_calls(const str *key,
		int (*match)(const blf_call_t *c, const void *arg), const void *arg)
{
	char wbuf[BLF_KEY_MAX + 64];
	blf_notify_job_t *jobs = NULL;
	blf_frags_t fr;
	blf_entity_t *e;
	blf_call_t *c;
	unsigned int hash, whash;
	int changed = 0;
	str wkey;

	memset(&fr, 0, sizeof(fr));
	hash = blf_key_hash(key);
	whash = blf_wildcard_hash(key, wbuf, sizeof(wbuf), &wkey, hash);
	blf_slots_lock2(hash, whash);
	e = blf_entity_find(hash, key);
	for(c = e ? e->calls : NULL; c; c = c->next) {
		if(!match(c, arg) || !blf_dstate_apply(&c->st, BLF_EV_ERROR, 0))
			continue;
		changed++;
		if(c->origin == 0) { /* ours: its end is replicated */
			c->seq++;
			blf_call_hist_add(c);
			blf_chg_call(e, c);
		}
	}
	if(changed) {
		blf_entity_jobs(e, &fr, &jobs, time(NULL));
		blf_entity_drop_terminated(e);
	}
	if(e)
		blf_entity_gc(hash, e);
	blf_slots_unlock2(hash, whash);
	blf_chg_send(jobs);
	blf_frags_free(&fr);
	return changed;
}

typedef struct blf_node_calls {
	int dead;
	unsigned int keep;
} blf_node_calls_t;

static int blf_entity_node_call(const blf_call_t *c, const void *arg)
{
	const blf_node_calls_t *n = arg;

	return c->origin == n->dead && (n->keep == 0 || c->gen != n->keep);
}

/* ends the calls of node dead at entity key (own and wildcard watchers) */
void blf_entity_end_node_calls(const str *key, int dead, unsigned int keep)
{
	blf_node_calls_t n = {dead, keep};

	blf_entity_end_calls(key, blf_entity_node_call, &n);
}

/* each() on the calls of entity key that match() says, under the slot
 * lock (it copies, nothing more); returns how many */
static int blf_entity_calls_each(const str *key,
		int (*match)(const blf_call_t *c, const void *arg), const void *marg,
		void (*each)(const str *key, const blf_call_t *c, void *arg), void *arg)
{
	blf_entity_t *e;
	blf_call_t *c;
	unsigned int hash;
	int n = 0;

	hash = blf_key_hash(key);
	blf_slot_lock(hash);
	e = blf_entity_find(hash, key);
	for(c = e ? e->calls : NULL; c; c = c->next)
		if(c->st.state != BLF_STATE_TERMINATED && match(c, marg)) {
			each(key, c, arg);
			n++;
		}
	blf_slot_unlock(hash);
	return n;
}

/*
 * Orphans (blf_adopt.c): the calls of a dead node, held after its takeover
 * for takeover_call_hold seconds instead of ended, so that a node the
 * dead proxy's address moved to can adopt them from their in-dialog
 * traffic. each() sees every call of node dead (not those its incarnation
 * keep sent) at entity key, under the slot lock: it copies, nothing more.
 */
int blf_entity_node_calls_each(const str *key, int dead, unsigned int keep,
		void (*each)(const str *key, const blf_call_t *c, void *arg), void *arg)
{
	blf_node_calls_t n = {dead, keep};

	return blf_entity_calls_each(key, blf_entity_node_call, &n, each, arg);
}

typedef struct blf_peer_call {
	const str *callid;
	int dir;
} blf_peer_call_t;

static int blf_entity_peer_match(const blf_call_t *c, const void *arg)
{
	const blf_peer_call_t *p = arg;

	return c->origin != 0 && (int)c->dir == p->dir
		   && STR_EQ(c->f[BLF_CF_CALLID], *p->callid);
}

/* the call (callid, dir) at entity key when it is another node's (a
 * replica, not ended): each() copies it under the slot lock; 1 if found */
int blf_entity_peer_call(const str *key, const str *callid, int dir,
		void (*each)(const str *key, const blf_call_t *c, void *arg), void *arg)
{
	blf_peer_call_t p = {callid, dir};

	return blf_entity_calls_each(key, blf_entity_peer_match, &p, each, arg)
		   > 0;
}

/*
 * Event ev (code) of a held call (callid, dir) at entity key, seen here:
 * the call is still node origin's of incarnation gen (origin 0: adopted
 * here already), else someone else adopted it and nothing changes. It
 * becomes ours (origin 0, its sequence going on), its watchers are
 * notified and the change is replicated as a local call's, so the other
 * nodes follow us. upd: fields learned (the callee's tag of a 2xx).
 * Returns its state after (BLF_STATE_*), -1 when not held here;
 * *adopted: whether it changed (and is ours now).
 */
int blf_entity_call_adopt(const str *key, const str *callid, int dir,
		int origin, unsigned int gen, blf_event_t ev, int code,
		const blf_call_upd_t *upd, int *adopted)
{
	char wbuf[BLF_KEY_MAX + 64];
	blf_notify_job_t *jobs = NULL;
	blf_frags_t fr;
	blf_entity_t *e;
	blf_call_t *c, *nc, **pc;
	unsigned int hash, whash;
	int ret = -1;
	str wkey;
	time_t now = time(NULL);

	*adopted = 0;
	memset(&fr, 0, sizeof(fr));
	hash = blf_key_hash(key);
	whash = blf_wildcard_hash(key, wbuf, sizeof(wbuf), &wkey, hash);
	blf_slots_lock2(hash, whash);
	e = blf_entity_find(hash, key);
	c = e ? blf_call_find(e, callid, dir, &pc) : NULL;
	if(c == NULL || c->origin != origin || (origin && c->gen != gen))
		goto gc;
	if(upd && (nc = blf_call_build(c, upd))) {
		*pc = nc;
		shm_free(c);
		c = nc;
	}
	if(blf_dstate_apply(&c->st, ev, code) > 0) {
		*adopted = 1;
		c->origin = 0;
		c->gen = 0;
		c->seq++;
		blf_call_hist_add(c);
		blf_chg_call(e, c);
		blf_entity_jobs(e, &fr, &jobs, now);
	}
	ret = c->st.state;
	if(ret == BLF_STATE_TERMINATED)
		blf_entity_drop_terminated(e);
gc:
	if(e)
		blf_entity_gc(hash, e);
	blf_slots_unlock2(hash, whash);
	blf_chg_send(jobs);
	blf_frags_free(&fr);
	return ret;
}

typedef struct blf_orphan_call {
	const str *callid;
	int dir, origin;
	unsigned int gen;
} blf_orphan_call_t;

static int blf_entity_orphan_call(const blf_call_t *c, const void *arg)
{
	const blf_orphan_call_t *o = arg;

	return (int)c->dir == o->dir && STR_EQ(c->f[BLF_CF_CALLID], *o->callid)
		   && c->origin == o->origin && (o->origin == 0 || c->gen == o->gen);
}

/* a held call's hold ended with no traffic seen: it ends as at a takeover
 * (blf_entity_end_node_calls), if still node origin's of incarnation gen
 * (origin 0: adopted here); 1 when it ended */
int blf_entity_call_orphan_end(const str *key, const str *callid, int dir,
		int origin, unsigned int gen)
{
	blf_orphan_call_t o = {callid, dir, origin, gen};

	return blf_entity_end_calls(key, blf_entity_orphan_call, &o) > 0;
}

/*
 * Watcher information (RFC 3857) in a cluster: another node's watcher of
 * an entity came or went (its replica here), so the winfo subscriptions
 * this node owns of that entity get their NOTIFY at once, as for a watcher
 * of ours (blf_pkg_winfo.c's change listener, which hears only our own
 * subscriptions). The same rules: a watcher a winfo document lists (not a
 * wildcard, not itself a winfo subscription), a new one or one that
 * ended, not a refresh nor a change of owner. Bounded as a local change:
 * one NOTIFY per winfo subscription of the entity, none when it has none.
 */
static int blf_repl_winfo_counts(const blf_sub_t *s)
{
	const blf_pkg_t *p;
	unsigned int i;

	if(s->flags & BLF_SUB_WILDCARD)
		return 0;
	p = blf_pkg_get(s->pkg);
	if(p == NULL || (p->deps & BLF_DEP_WATCHERS))
		return 0;
	/* no winfo package served (events): no entity walk per replica, as
	 * in a state sync of 100k subscriptions */
	for(i = 0; (p = blf_pkg_get(i)) != NULL; i++)
		if(p->served && (p->deps & BLF_DEP_WATCHERS))
			return 1;
	return 0;
}

/*
 * A subscription replica s (built, owned here from now on) of node
 * s->owner: created or refreshed there. When two nodes claim it, the one
 * that sent more NOTIFYs keeps it, the lower node name (node_name) on a
 * tie, the same choice on every node.
 */
void blf_sub_replica_put(
		const str *key, blf_sub_t *s, const char *(*node_name)(int idx))
{
	str f[BLF_SF_N];
	blf_notify_job_t *jobs = NULL;
	blf_frags_t fr;
	blf_entity_t *e;
	blf_sub_t *old, **ps;
	unsigned int hash;
	int owner = s->owner, i, taken;

	memset(&fr, 0, sizeof(fr));
	for(i = 0; i < BLF_SF_N; i++)
		f[i] = BLF_SF(s, i);
	hash = blf_key_hash(key);
	blf_slot_lock(hash);
	e = blf_entity_get(hash, key);
	if(e == NULL) {
		blf_slot_unlock(hash);
		blf_sub_free(s);
		return;
	}
	if(blf_tomb_find(e, BLF_TOMB_SUB,
			   blf_tomb_kh(&f[BLF_SF_CALLID], &f[BLF_SF_TTAG], 0))) {
		/* ended already: this replica was overtaken by its unsub */
		blf_entity_gc(hash, e);
		blf_slot_unlock(hash);
		blf_sub_free(s);
		return;
	}
	/* the watcher's refresh went to its owner: no contest (below) */
	taken = (s->flags & BLF_SUB_TAKEN) != 0;
	s->flags &= ~BLF_SUB_TAKEN;
	old = blf_sub_find(
			e, &f[BLF_SF_CALLID], &f[BLF_SF_FTAG], &f[BLF_SF_TTAG], &ps);
	if(old) {
		if(old->owner == 0) {
			/* two owners (we were thought dead, or restored from the
			 * database): the one that sent more NOTIFYs keeps it, the
			 * lower node name on a tie, and tells the other */
			if(!taken
					&& (old->version > s->version
							|| (old->version == s->version
									&& strcmp(node_name(0), node_name(owner))
											   < 0))) {
				blf_chg_sub(BLF_CHG_SUB_NEW, e, old); /* ours: it stays */
				blf_slot_unlock(hash);
				blf_sub_free(s);
				blf_chg_flush();
				return;
			}
			LM_NOTICE("subscription %.*s now owned by %s\n",
					f[BLF_SF_CALLID].len, f[BLF_SF_CALLID].s, node_name(owner));
			/* the version we sent last, which the new owner may not have
			 * heard of yet (passed on up to dmq_version_delay later): it
			 * goes in our answer to it, its NOTIFY waits for it
			 * (blf_sub_takeover_hold) */
			if(taken)
				blf_chg_sub(BLF_CHG_SUB_VER, e, old);
			atomic_dec(blf_nsubs);
			blf_sub_repl_add(1);
			/* its row is the new owner's now */
			blf_chg_sub(BLF_CHG_SUB_GONE, e, old);
		} else if(old->owner != owner && !taken
				  && (old->version > s->version
						  || (old->version == s->version
								  && strcmp(node_name(old->owner),
											 node_name(owner))
											 < 0))) {
			/* two other nodes claim it: every node keeps the same one (the
			 * more NOTIFYs sent, else the lower name), as they do */
			blf_slot_unlock(hash);
			blf_sub_free(s);
			return;
		}
		if(old->version > s->version) {
			s->version = old->version;
			s->cseq = old->cseq;
		}
		/* what the NOTIFY before that version showed, if known: the
		 * record says nothing of it (a version above what we knew: not
		 * known until its version record comes) */
		if(old->version >= s->version)
			s->shown = old->shown;
		s->sock = old->sock;
		s->next = old->next;
		*ps = s;
		blf_sub_free(old);
	} else {
		s->next = e->subs;
		e->subs = s;
		e->nsubs++;
		blf_sub_repl_add(1);
		/* a watcher came: our winfo subscriptions of e are told */
		if(blf_repl_winfo_counts(s))
			blf_entity_changed(e, BLF_DEP_WATCHERS, &fr, &jobs);
	}
	blf_entity_sub_due(e, s->expires);
	blf_slot_unlock(hash);
	blf_chg_flush();
	blf_chg_send(jobs);
	blf_frags_free(&fr);
}

/* subscription f[0..2] (Call-ID, From tag, our tag) of node owner ended */
void blf_sub_replica_del(const str *key, const str *f, int owner)
{
	blf_notify_job_t *jobs = NULL;
	blf_frags_t fr;
	blf_entity_t *e;
	blf_sub_t **ps;
	unsigned int hash;
	int winfo = 0;

	memset(&fr, 0, sizeof(fr));
	hash = blf_key_hash(key);
	blf_slot_lock(hash);
	e = blf_entity_get(hash, key);
	if(e) {
		if(blf_sub_find(e, &f[0], &f[1], &f[2], &ps)) {
			winfo = blf_repl_winfo_counts(*ps);
			blf_sub_unlink(e, ps);
		}
		/* a watcher went: our winfo subscriptions of e are told */
		if(winfo)
			blf_entity_changed(e, BLF_DEP_WATCHERS, &fr, &jobs);
		/* a late replica of it must not bring it back */
		blf_tomb_add(e, BLF_TOMB_SUB, blf_tomb_kh(&f[0], &f[2], 0), 0, owner);
		blf_entity_gc(hash, e);
	}
	blf_slot_unlock(hash);
	blf_chg_send(jobs);
	blf_frags_free(&fr);
}

/* node owner sent version v (CSeq q) of its subscription with our tag;
 * shown: the digest of the calls that NOTIFY showed (0: not said) */
void blf_sub_replica_ver(const str *key, const char *tag, size_t tlen, int v,
		int q, int owner, unsigned int shown)
{
	blf_entity_t *e;
	blf_sub_t *s;
	unsigned int hash;
	int owed = 0, k;
	char *wbuf = NULL, *p;
	str wf[3];

	hash = blf_key_hash(key);
	blf_slot_lock(hash);
	e = blf_entity_find(hash, key);
	for(s = e ? e->subs : NULL; s; s = s->next) {
		/* ours, taken over by a refresh and waiting: any live node's word
		 * (the former owner's) on what it sent */
		if((s->owner == owner || (s->owner == 0 && (s->flags & BLF_SUB_VWAIT)))
				&& BLF_SF(s, BLF_SF_TTAG).len == (int)tlen
				&& memcmp(BLF_SF(s, BLF_SF_TTAG).s, tag, tlen) == 0) {
			/* the newest NOTIFY's: a takeover replays what came after
			 * it (an older version's record arriving late says less) */
			if((unsigned)v > s->version) {
				s->version = v;
				s->shown = shown;
			} else if((unsigned)v == s->version && shown)
				s->shown = shown;
			if((unsigned)q > s->cseq)
				s->cseq = q;
			if(s->owner == 0) {
				s->flags &= ~BLF_SUB_VWAIT;
				s->sent_ms = 0;
				owed = (s->flags & BLF_SUB_OWED) != 0;
			}
			/* a wildcard's burst: copied out for after the unlock (the
			 * timer sends it when this fails) */
			if(owed && (s->flags & BLF_SUB_WILDCARD)) {
				owed = 0;
				wf[0] = BLF_SF(s, BLF_SF_CALLID);
				wf[1] = BLF_SF(s, BLF_SF_FTAG);
				wf[2] = BLF_SF(s, BLF_SF_TTAG);
				p = wbuf = malloc(wf[0].len + wf[1].len + wf[2].len + 1);
				for(k = 0; wbuf && k < 3; k++) {
					memcpy(p, wf[k].s, wf[k].len);
					wf[k].s = p;
					p += wf[k].len;
				}
			}
			break;
		}
	}
	blf_slot_unlock(hash);
	/* its takeover NOTIFY, with the next version */
	if(owed)
		blf_entity_owed_send(key);
	if(wbuf && blf_repl_wild_resume)
		blf_repl_wild_resume(key, &wf[0], &wf[1], &wf[2]);
	free(wbuf);
}

int (*blf_repl_owner_answers)(int idx) = NULL;
void (*blf_repl_wild_resume)(const str *wkey, const str *callid,
		const str *ftag, const str *ttag) = NULL;

/*
 * A refresh reached this node for a subscription node prev owns (behind an
 * edge proxy). prev may have sent a NOTIFY a moment ago whose version has
 * not reached us: versions taken in answer to a replica are passed on by
 * the replica's sender up to dmq_version_delay later (blf_dmq.c). Sent
 * now, our NOTIFY could repeat that version. So, when prev is alive and
 * answers, the NOTIFY is owed: our replica of the takeover ("tk") makes
 * prev yield and answer with the version it sent last
 * (blf_sub_replica_put), which sends it (blf_sub_replica_ver), about a
 * round trip later. The timers' owed resume leaves it BLF_VWAIT_MS, then
 * sends it (prev of an older version, or died): within 1.5 s.
 */
int blf_sub_takeover_hold(blf_entity_t *e, blf_sub_t *s, int prev)
{
	if(prev <= 0 || blf_repl_owner_answers == NULL
			|| !blf_repl_owner_answers(prev))
		return 0;
	s->flags |= BLF_SUB_OWED | BLF_SUB_VWAIT;
	s->sent_ms = blf_coal_now(); /* no NOTIFY of ours yet: free to use */
	/* a wildcard: its refresh's burst is what waits (blf_wildcard.c's
	 * NOTIFYs of changes go on: a call that ends meanwhile is in no
	 * burst); sent by blf_repl_wild_resume, or by the timer after
	 * BLF_VWAIT_MS (blf_expire.c) */
	if(s->flags & BLF_SUB_WILDCARD) {
		blf_sub_wx(s)->owed_from = BLF_WX_BURST;
		blf_slot_wake(e->hash);
		return 1;
	}
	e->flags |= BLF_ENT_OWED;
	blf_slot_wake(e->hash);
	return 1;
}

/*
 * The same window for an unsubscribe that reaches this node for node
 * prev's subscription: its final NOTIFY sent now could repeat prev's last
 * version. When prev answers, s stays, marked ending: the replica of the
 * takeover ("tk") asks prev for its version, whose arrival sends the final
 * NOTIFY and removes s (blf_entity_owed_send; a wildcard's:
 * blf_subs_takeover_burst), as does the BLF_VWAIT_MS bound. Its deadline
 * now + 2 is the timer's backstop (the same final NOTIFY,
 * terminated;reason=timeout, as any unsubscribe here): never lost.
 */
int blf_sub_takeover_end(blf_entity_t *e, blf_sub_t *s, int prev, time_t now)
{
	if(!blf_sub_takeover_hold(e, s, prev))
		return 0;
	s->flags |= BLF_SUB_ENDING;
	s->expires = now + 2;
	blf_entity_sub_due(e, s->expires);
	blf_slot_wake(e->hash);
	s->flags |= BLF_SUB_TAKEN;
	blf_chg_sub(BLF_CHG_SUB_NEW, e, s);
	s->flags &= ~BLF_SUB_TAKEN;
	return 1;
}

/*
 * The subscriptions of e that node dead owned and pick() gives to this
 * node (0) become ours: counted, their Contact lc and socket sock ours
 * (NULL: kept), dirty for the database, replicated as ours, and the
 * non-wildcard ones NOTIFYd (into *jobs) with the next CSeq: first the
 * states of e's calls the dead node did not show (blf_rhist.c: those after
 * the one its last NOTIFY showed, or, not known, those applied here since
 * since_ms; since_ms 0: none), in order, then the present one (unless the
 * last state replayed is it).
 * The others get the node pick() chose. The slot lock is held. Returns how
 * many became ours.
 *
 * Never a version or a CSeq the dead owner may have used: our copy of s
 * holds the last version and CSeq we heard of, but the dead node may have
 * sent NOTIFYs whose versions never reached us (blf_rhist_unreported: a
 * change it NOTIFYd whose relay died before passing the version on, the
 * dmq_version_delay window). For each of them one version is skipped: a
 * watcher takes a full state whose version is more than one higher (RFC
 * 4235 section 4.1: a NOTIFY was lost) but discards a repeated one. Those
 * changes are not replayed (the dead node most likely showed them; shown
 * again they would turn the lamp back). When the copy is known current
 * (the relays were heard from after they passed the versions on), the
 * next version is exact. The CSeq, whose gaps no watcher sees (RFC 3261
 * section 12.2.2 only wants it higher; a NOTIFY whose CSeq is not may get
 * a 500 and end the subscription), always jumps by those versions and
 * BLF_TKO_CSEQ_STEP more: what it covers besides them are the NOTIFYs of
 * the dead node's that no copy of a change accounts for (SUBSCRIBEs,
 * PUBLISHes, registrations, timers, while its last message was leaving);
 * 256 is far above that (a 31-bit CSeq takes eight million takeovers of
 * one subscription). A version the rule misses then comes with a higher
 * CSeq: a watcher sees it repeated (and drops it), not a retransmission.
 */
int blf_sub_take_over(blf_entity_t *e, int dead,
		int (*pick)(const str *ttag, void *arg), void *arg, const str *lc,
		const str *sock, blf_notify_job_t **jobs, unsigned long long since_ms,
		blf_heard_t *heard, time_t now)
{
	blf_notify_job_t *j, *chain, **tail;
	blf_frags_t fr;
	blf_sub_t *s, **ps, *ns;
	int mine = 0, now_too, skip, past;

	memset(&fr, 0, sizeof(fr));
	for(ps = &e->subs; (s = *ps); ps = &s->next) {
		if(s->owner != dead)
			continue;
		/* versions the dead node may have sent unheard of: skipped, in
		 * our copy too when another node takes s (should that node be
		 * dead as well, unnoticed yet, s comes back to us from it with
		 * the skip made: its own takeover would not count these) */
		skip = blf_rhist_unreported(e, s, since_ms, heard, &past);
		if(skip) {
			LM_DBG("subscription %.*s: %d version(s) skipped, its dead "
				   "owner may have sent them\n",
					BLF_SF(s, BLF_SF_CALLID).len, BLF_SF(s, BLF_SF_CALLID).s,
					skip);
			heard->skipped++; /* counted in the takeover's log line */
		}
		s->version += (unsigned int)skip;
		s->cseq += (unsigned int)skip + BLF_TKO_CSEQ_STEP;
		s->owner = pick(&BLF_SF(s, BLF_SF_TTAG), arg);
		if(s->owner != 0)
			continue;
		mine++;
		atomic_inc(blf_nsubs);
		blf_sub_repl_add(-1);
		blf_wc_sub_take(s, NULL, 0); /* its watcher's count */
		s->sock = 0;				 /* tm picks the socket towards the phone */
		if(lc && lc->len && (ns = blf_sub_rebuild(s, BLF_SF_LCONTACT, lc))) {
			ns->next = s->next;
			*ps = ns;
			blf_sub_free(s);
			s = ns;
		}
		if(sock && (ns = blf_sub_rebuild(s, BLF_SF_SOCKET, sock))) {
			ns->next = s->next;
			*ps = ns;
			blf_sub_free(s);
			s = ns;
		}
		s->flags |= BLF_SUB_DIRTY;
		blf_slot_dirty(e->hash);
		blf_chg_sub(BLF_CHG_SUB_NEW, e, s);
		if(s->flags & BLF_SUB_WILDCARD)
			continue;
		/* s's NOTIFYs leave in version order: the replayed states, then
		 * the present (a deferred replay leaves s owed its full state) */
		chain = NULL;
		tail = &chain;
		now_too = 0;
		if(since_ms)
			blf_rhist_replay(e, s, since_ms, heard ? heard->ms[heard->dead] : 0,
					past, now, &tail, &now_too);
		/* a replay whose last state is the present one has sent it */
		j = now_too ? NULL : blf_sub_job(e, s, &fr, NULL, 0, NULL, now);
		if(j) {
			*tail = j;
			tail = &j->next;
		}
		if(chain) {
			*tail = *jobs;
			*jobs = chain;
		}
	}
	blf_frags_free(&fr);
	return mine;
}
