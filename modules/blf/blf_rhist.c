/*
 * blf_rhist.c — the replay history of a cluster node: what an entity's
 * calls looked like after each of their recent changes, kept so that a
 * node taking over a dead node's subscriptions can send the states the
 * dead node could no longer send.
 *
 * Why: between a node's death and the moment the others notice it (the
 * hello timeout, blf_dmq.c), the calls of the entities it watched go on
 * changing. Every node applies those changes (its replicas), but only the
 * owner of a subscription NOTIFYs it, and the owner is gone: without this,
 * a call that rang, was answered and ended inside that window would never
 * be shown to the dead node's watchers; the takeover's NOTIFY shows the
 * present only.
 *
 * So, on an entity that holds subscriptions of other nodes (only then,
 * and only with enable_dmq), each change of its calls keeps a copy of its
 * calls as they are after the change (one shm block, the dialog package's
 * input), with when it was applied here and its digest (blf_calls_digest).
 * Bounded: BLF_RHIST_MAX copies per entity, none older than BLF_RHIST_KEEP
 * seconds (pruned at each change and by the expiry timer). At a takeover,
 * for each adopted subscription whose package follows calls, the copies
 * the dead node did not show are replayed in order, one NOTIFY each with
 * the next version and CSeq, before the NOTIFY of the present state.
 *
 * Which ones: every NOTIFY's version record says which state of the calls
 * it showed (its digest, "cd", blf_dmq.c), and the replica keeps the
 * newest one's (blf_sub_t.shown). The replay starts after the newest copy
 * with that digest: exactly what the dead node did not show, the states it
 * showed are not shown again (a watcher's lamp would blink through a call
 * it saw end). Not known (an older node's records, a subscription not
 * NOTIFYd since this node heard of it) or not among the copies (a state
 * this node never had: the dead node's own call changes it could not
 * replicate any more): the copies applied since a time bound, shortly
 * before the dead node was last heard from (blf_dmq.c), as before.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>
#include <time.h>

#include "core/mem/shm_mem.h"
#include "core/dprint.h"

#include "blf_table.h"
#include "blf_pkg.h"

#define BLF_RHIST_MAX 16  /* copies kept per entity */
#define BLF_RHIST_KEEP 20 /* s a copy is kept: the hello timeout, the
						   * margin and a long takeover walk, with room */

/* the calls of an entity after one change: one shm block, the calls (an
 * array linked through next, in the entity's order) and their strings */
typedef struct blf_rhist {
	struct blf_rhist *next; /* newer */
	time_t at;				/* when it was applied here */
	unsigned long long ms;	/* the same, blf_rhist_now_ms() */
	unsigned int digest;	/* blf_calls_digest() of its calls */
	int origin; /* the node whose replica made the change, 0: this one
				 * (blf_rhist_unreported: who passes its versions on) */
	unsigned int n;
	blf_call_t *calls; /* in the same block, NULL when n is 0 */
} blf_rhist_t;

static int blf_rhist_on = 0;

unsigned long long blf_rhist_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (unsigned long long)ts.tv_sec * 1000ULL
		   + (unsigned long long)ts.tv_nsec / 1000000ULL;
}

void blf_rhist_enable(void)
{
	blf_rhist_on = 1;
}

/* does e hold a subscription of another node that a replay would serve? */
static int blf_rhist_wanted(const blf_entity_t *e)
{
	const blf_sub_t *s;

	for(s = e->subs; s; s = s->next)
		if(s->owner && !(s->flags & (BLF_SUB_WILDCARD | BLF_SUB_LIST)))
			return 1;
	return 0;
}

/* drops e's copies applied before now - BLF_RHIST_KEEP (now 0: all) */
void blf_rhist_purge(blf_entity_t *e, time_t now)
{
	blf_rhist_t *r;

	while((r = e->rhist) && (now == 0 || r->at + BLF_RHIST_KEEP <= now)) {
		e->rhist = r->next;
		shm_free(r);
	}
}

/* one copy of e's calls; NULL: no memory */
static blf_rhist_t *blf_rhist_copy(
		const blf_entity_t *e, time_t now, int origin)
{
	const blf_call_t *c;
	blf_rhist_t *r;
	blf_call_t *d;
	size_t len = sizeof(*r);
	unsigned int n = 0, k;
	char *p;
	int i;

	for(c = e->calls; c && n < e->ncalls; c = c->next, n++) {
		len += sizeof(blf_call_t);
		for(i = 0; i < BLF_CF_N; i++)
			len += (size_t)c->f[i].len + 1;
	}
	r = shm_malloc(len);
	if(r == NULL) {
		SHM_MEM_ERROR;
		return NULL;
	}
	memset(r, 0, sizeof(*r));
	r->at = now;
	r->ms = blf_rhist_now_ms();
	r->origin = origin;
	r->n = n;
	r->calls = n ? (blf_call_t *)(r + 1) : NULL;
	p = (char *)(r + 1) + n * sizeof(blf_call_t);
	for(k = 0, c = e->calls; k < n; c = c->next, k++) {
		d = &r->calls[k];
		memcpy(d, c, sizeof(*d));
		d->next = k + 1 < n ? &r->calls[k + 1] : NULL;
		for(i = 0; i < BLF_CF_N; i++) {
			d->f[i].s = p;
			d->f[i].len = c->f[i].len;
			if(c->f[i].len)
				memcpy(p, c->f[i].s, c->f[i].len);
			p[c->f[i].len] = '\0';
			p += c->f[i].len + 1;
		}
	}
	r->digest = blf_calls_digest(r->calls, n); /* as blf_chg_sub's */
	return r;
}

/*
 * e's calls just changed (the slot lock is held), by a replica of node
 * origin (0: here): a copy of them, when e holds subscriptions of other
 * nodes. A failed allocation costs the replay of this one state (logged),
 * nothing else.
 */
void blf_rhist_note(blf_entity_t *e, time_t now, int origin)
{
	blf_rhist_t *r, **pr;
	int n = 0;

	if(!blf_rhist_on)
		return;
	blf_rhist_purge(e, now);
	if(!blf_rhist_wanted(e))
		return;
	r = blf_rhist_copy(e, now, origin);
	if(r == NULL)
		return;
	for(pr = &e->rhist; *pr; pr = &(*pr)->next)
		n++;
	*pr = r;
	if(n + 1 > BLF_RHIST_MAX) { /* the oldest goes */
		r = e->rhist;
		e->rhist = r->next;
		shm_free(r);
	}
	blf_slot_wake(e->hash); /* the expiry timer prunes it */
}

/*
 * The first of e's copies the dead owner of s did not show: after the
 * newest one with the digest its last NOTIFY showed. Not known: the first
 * applied at or after since_ms. Known but among no copy (the dead node
 * showed a state this node never had: a change of its own calls whose
 * replica was lost, or a copy pruned since): the first applied after
 * last_ms, when the dead node was last heard from (0: not known, then
 * since_ms). Why not since_ms there: the copies just before its last word
 * are older states of calls it showed newer ones of (its NOTIFY came
 * after them), and replayed they would turn the lamp back; what came after
 * its last word it cannot have shown. What is lost: the replay of a state
 * it did not show in that last moment, when its own record was pruned
 * (the NOTIFY of the present state still follows).
 */
static blf_rhist_t *blf_rhist_from(const blf_entity_t *e, const blf_sub_t *s,
		unsigned long long since_ms, unsigned long long last_ms)
{
	blf_rhist_t *r, *after = NULL;

	if(s->shown) {
		for(r = e->rhist; r; r = r->next)
			if(r->digest == s->shown)
				after = r;
		if(after)
			return after->next;
		if(last_ms) {
			for(r = e->rhist; r && r->ms <= last_ms; r = r->next)
				;
			return r;
		}
	}
	for(r = e->rhist; r && r->ms < since_ms; r = r->next)
		;
	return r;
}

/*
 * How many NOTIFYs of s its dead owner may have sent whose versions never
 * reached this node (s of e, just taken over; the slot lock is held): the
 * copies a replay starts with (blf_rhist_from) whose version record may
 * have been lost. The owner NOTIFYs a change of a call through a third
 * node R (a replica of R's) and puts the version in its answer to R, which
 * passes it on up to h->pass_ms later (dmq_version_delay, blf_dmq.c). So
 * such a copy counts when R was last heard from here less than h->pass_ms
 * (+ h->margin_ms) after the copy was applied here and has been silent
 * since for longer than a live node is (h->hello_ms + the margin): R may
 * have died holding the version (R and the owner both dead inside that
 * window). A relay heard from lately is alive and passes it on (when the
 * takeover comes that soon after the change, a restart noticed at once,
 * the version may arrive after the takeover's NOTIFY: not counted, a
 * repeat is then possible, the CSeq still rises).
 * Not counted:
 * - a copy applied here more than h->hello_ms (+ the margin) after the
 *   owner was last heard from: it was dead by then (a live node says hello
 *   that often), it NOTIFYd nothing;
 * - a copy whose relay is known alive past it (the usual takeover: the
 *   versions are current, the next one exact);
 * - a change of ours or of the owner's own calls: the owner reports those
 *   versions itself, before the NOTIFYs (in its answer to our replica,
 *   blf_dmq_reply_out; with the replica of its own call, the cluster's
 *   change listener going first, blf_mod.c): its NOTIFY of a change
 *   means we heard of the version, however it died.
 * A count too high costs a version gap (RFC 4235 lets a watcher take it),
 * one too low a repeated version (which it discards).
 * *past: how many of the replay's first copies to leave out, up to the
 * last one counted: the dead owner most likely showed those (a copy
 * counts because its version may be lost, not because it was not shown),
 * and replayed they would take the lamp back to an older state.
 */
int blf_rhist_unreported(const blf_entity_t *e, const blf_sub_t *s,
		unsigned long long since_ms, const blf_heard_t *h, int *past)
{
	const blf_pkg_t *p = blf_pkg_get(s->pkg);
	const blf_rhist_t *r;
	int n = 0, k = 0;

	*past = 0;
	if(h == NULL || h->dead <= 0 || h->dead >= h->n || p == NULL
			|| !(p->deps & BLF_DEP_CALLS)
			|| (s->flags & (BLF_SUB_WILDCARD | BLF_SUB_LIST)))
		return 0;
	for(r = blf_rhist_from(e, s, since_ms, h->ms[h->dead]); r;
			r = r->next, k++) {
		if(r->ms > h->ms[h->dead] + h->hello_ms + h->margin_ms)
			break; /* the owner was dead: this and the newer ones */
		if(r->origin <= 0 || r->origin == h->dead || r->origin >= h->n)
			continue; /* reported by the owner itself */
		/* not heard from since it would have passed the version on, and
		 * silent now (a live relay, heard from lately, passes it on) */
		if(h->ms[r->origin] < r->ms + h->pass_ms + h->margin_ms
				&& h->ms[r->origin] + h->hello_ms + h->margin_ms < h->now_ms) {
			n++;
			*past = k + 1;
		}
	}
	return n;
}

/*
 * s (of e) just became ours at a takeover (the slot lock is held): one
 * NOTIFY job per copy of e's calls its dead owner did not show (see
 * above; since_ms: the time bound when that is not known, last_ms: when
 * the dead owner was last heard from, 0: not known), in order, but the
 * first past ones (blf_rhist_unreported), appended to *tail. Stops at a
 * NOTIFY the in-flight bounds defer: s is then owed its full state (the
 * timer sends it). Returns how many; *now_too 1 when the last one shows
 * e's calls as they are (its NOTIFY is then the present state's: the
 * caller sends no other).
 */
int blf_rhist_replay(blf_entity_t *e, blf_sub_t *s, unsigned long long since_ms,
		unsigned long long last_ms, int past, time_t now,
		blf_notify_job_t ***tail, int *now_too)
{
	const blf_pkg_t *p = blf_pkg_get(s->pkg);
	blf_entity_t then;
	blf_notify_job_t *j;
	blf_frags_t fr;
	blf_rhist_t *r;
	int n = 0;

	*now_too = 0;
	if(p == NULL || !(p->deps & BLF_DEP_CALLS)
			|| (s->flags & (BLF_SUB_WILDCARD | BLF_SUB_LIST)))
		return 0;
	for(r = blf_rhist_from(e, s, since_ms, last_ms); r && past > 0; r = r->next)
		past--;
	for(; r; r = r->next) {
		/* e as it was then: its calls from the copy, the rest as now */
		then = *e;
		then.calls = r->calls;
		then.ncalls = r->n;
		then.rhist = NULL;
		memset(&fr, 0, sizeof(fr));
		j = blf_sub_job(&then, s, &fr, NULL, 0, NULL, now);
		blf_frags_free(&fr);
		if(j == NULL) {
			/* deferred: what the stand-in was flagged with is e's */
			e->flags |= then.flags & BLF_ENT_OWED;
			break;
		}
		**tail = j;
		*tail = &j->next;
		n++;
		/* not for a package that deduplicates (presence): the present
		 * state's NOTIFY keeps e->pdig right, a stand-in's is dropped */
		*now_too = r->next == NULL && !(p->flags & BLF_PKG_DEDUP)
				   && r->digest == blf_calls_digest(e->calls, e->ncalls);
	}
	return n;
}
