/*
 * blf_visapply.c — live subscriptions follow the per-watcher visibility
 * (visibility_url): at refresh, when an answer about (entity, watcher)
 * arrives or changes, and on blf.flush_visibility.
 *
 * A plain subscription keeps its decision in s->vis (what every NOTIFY
 * renders with); a new decision holds from its next NOTIFY, and `none`
 * ends it with a final NOTIFY terminated;reason=rejected that shows no
 * call. Wildcard subscriptions decide per entity and NOTIFY
 * (blf_wildcard_vis through the table's hook): an answer that shows an
 * entity at last sends its state to that watcher's wildcard
 * subscriptions, one that hides it sends it idle once.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>

#include "core/dprint.h"
#include "core/mem/mem.h"
#include "core/ut.h"
#include "core/timer.h"

#include "blf.h"
#include "blf_chg.h"
#include "blf_pkg.h"
#include "blf_vis.h"
#include "blf_viscache.h"
#include "blf_visapply.h"

/* does the policy apply to s? (not the entity's own, its package cares) */
static int blf_visapply_concerns(const blf_entity_t *e, const blf_sub_t *s)
{
	const blf_pkg_t *p = blf_pkg_get(s->pkg);

	return (p == NULL || (p->flags & BLF_PKG_VIS))
		   && !STR_EQ(BLF_SF(s, BLF_SF_WATCHER), e->key);
}

/* the final NOTIFY of a rejected watcher: it describes no call */
blf_notify_job_t *blf_visapply_reject_job(
		blf_entity_t *e, blf_sub_t *s, blf_frags_t *fr, time_t now)
{
	blf_entity_t empty;

	memset(&empty, 0, sizeof(empty));
	empty.hash = e->hash;
	empty.key = e->key;
	return blf_sub_job_vis(
			&empty, s, fr, NULL, BLF_VIS_STATE, 1, "rejected", now);
}

blf_vis_t blf_visapply_refresh(blf_entity_t *e, blf_sub_t *s)
{
	blf_vis_t v;

	if(!blf_viscache_enabled() || (s->flags & BLF_SUB_WILDCARD)
			|| !blf_visapply_concerns(e, s))
		return s->vis;
	/* unknown (asked now): the last decision stands until the answer
	 * lands, then blf_visapply_pair applies it */
	if(blf_vis_lookup(&e->key, &BLF_SF(s, BLF_SF_WATCHER), &v) == 1
			&& v != s->vis) {
		s->vis = v;
		s->flags |= BLF_SUB_DIRTY;
		blf_slot_dirty(e->hash);
	}
	return s->vis;
}

/* plain subscriptions of (entity, watcher): the new decision */
static int blf_visapply_plain(const str *ekey, const str *watcher)
{
	blf_notify_job_t *jobs = NULL, *j;
	blf_frags_t fr;
	blf_entity_t *e;
	blf_sub_t **ps, *s;
	blf_vis_t v;
	unsigned int hash = blf_key_hash(ekey);
	time_t now = time(NULL);
	int n = 0, known;

	known = blf_vis_lookup(ekey, watcher, &v);
	memset(&fr, 0, sizeof(fr));
	blf_slot_lock(hash);
	e = blf_entity_find(hash, ekey);
	/* the pair unknown (asked now): its last decision stands until the
	 * answer lands, but never above what the entity's policy allows */
	if(e && !known)
		v = blf_vis_decide(blf_cfg.visibility, e->vis, BLF_VIS_UNSET,
				BLF_VIS_UNSET, 0);
	for(ps = e ? &e->subs : NULL; ps && *ps;) {
		s = *ps;
		if((s->flags & BLF_SUB_WILDCARD) || s->expires <= now
				|| !STR_EQ(BLF_SF(s, BLF_SF_WATCHER), *watcher)
				|| !blf_visapply_concerns(e, s) || s->vis == v
				|| (!known && s->vis > v)) {
			ps = &s->next;
			continue;
		}
		if(v != BLF_VIS_NONE || s->owner) {
			s->vis = v; /* from its next NOTIFY on */
			s->flags |= BLF_SUB_DIRTY;
			e->pdig = 0; /* its next one is news even if the rest is not */
			blf_slot_dirty(e->hash);
			if(s->owner == 0)
				blf_chg_sub(BLF_CHG_SUB_NEW, e, s);
			ps = &s->next;
			continue;
		}
		j = blf_visapply_reject_job(e, s, &fr, now);
		if(j) {
			j->next = jobs;
			jobs = j;
		}
		blf_sub_unlink(e, ps);
		n++;
	}
	if(e)
		blf_entity_gc(hash, e);
	blf_slot_unlock(hash);
	blf_chg_send(jobs);
	blf_frags_free(&fr);
	if(n)
		LM_INFO("visibility of %.*s for %.*s is none: %d subscription(s) "
				"ended\n",
				ekey->len, ekey->s, watcher->len, watcher->s, n);
	return n;
}

/* wildcard subscriptions of watcher on ekey's domain: ekey's state as
 * the new decision shows it (idle when hidden) */
static void blf_visapply_wildcard(const str *ekey, const str *watcher)
{
	char wbuf[BLF_KEY_MAX + 64], esc[BLF_KEY_MAX * 6 + 16];
	blf_notify_job_t *jobs = NULL, *j;
	blf_frags_t fr;
	blf_entity_t *e, *w, empty;
	blf_sub_t *s;
	blf_vis_t v;
	str wkey, uri;
	unsigned int hash = blf_key_hash(ekey), whash;
	time_t now = time(NULL);

	whash = blf_wildcard_hash(ekey, wbuf, sizeof(wbuf), &wkey, hash);
	if(wkey.len == 0)
		return;
	memset(&fr, 0, sizeof(fr));
	blf_slots_lock2(hash, whash);
	w = blf_entity_find(whash, &wkey);
	e = w ? blf_entity_find(hash, ekey) : NULL;
	if(e == NULL) {
		/* no calls known: nothing shown, nothing to take back */
		blf_slots_unlock2(hash, whash);
		return;
	}
	if(blf_entity_uri_esc(e, esc, sizeof(esc), &uri) < 0) {
		blf_slots_unlock2(hash, whash);
		return;
	}
	for(s = w->subs; s; s = s->next) {
		if(s->expires <= now || s->owner
				|| !STR_EQ(BLF_SF(s, BLF_SF_WATCHER), *watcher))
			continue;
		if(blf_wildcard_vis(e, s, &v) < 0) {
			/* hidden: idle once, so a lamp lit before goes dark */
			memset(&empty, 0, sizeof(empty));
			empty.hash = e->hash;
			empty.key = e->key;
			j = blf_sub_job_vis(
					&empty, s, &fr, &uri, BLF_VIS_STATE, 0, NULL, now);
		} else {
			j = blf_sub_job_vis(e, s, &fr, &uri, v, 0, NULL, now);
		}
		if(j) {
			j->next = jobs;
			jobs = j;
		}
	}
	blf_slots_unlock2(hash, whash);
	blf_chg_send(jobs);
	blf_frags_free(&fr);
}

void blf_visapply_pair(const str *entity, const str *watcher)
{
	blf_visapply_plain(entity, watcher);
	blf_visapply_wildcard(entity, watcher);
}

/* ---- blf.flush_visibility ---- */

#define BLF_VISAPPLY_MAX 4096 /* pairs re-asked at once by one flush */

typedef struct blf_vpair
{
	char e[BLF_KEY_MAX];
	char w[BLF_KEY_MAX];
} blf_vpair_t;

typedef struct blf_vcollect
{
	blf_vpair_t *p;
	int n, max, over;
	time_t now;
} blf_vcollect_t;

static int blf_visapply_collect(blf_entity_t *e, void *arg)
{
	blf_vcollect_t *c = arg;
	blf_sub_t *s;
	str w;
	int i;

	for(s = e->subs; s; s = s->next) {
		if((s->flags & BLF_SUB_WILDCARD) || s->owner || s->expires <= c->now
				|| !blf_visapply_concerns(e, s))
			continue;
		w = BLF_SF(s, BLF_SF_WATCHER);
		if(e->key.len >= BLF_KEY_MAX || w.len >= BLF_KEY_MAX)
			continue;
		for(i = c->n - 1; i >= 0 && i >= c->n - 8; i--)
			if(strncmp(c->p[i].e, e->key.s, e->key.len) == 0
					&& c->p[i].e[e->key.len] == '\0'
					&& strncmp(c->p[i].w, w.s, w.len) == 0
					&& c->p[i].w[w.len] == '\0')
				break; /* the same pair just before (several packages) */
		if(i >= 0 && i >= c->n - 8)
			continue;
		if(c->n == c->max) {
			c->over++;
			continue;
		}
		memcpy(c->p[c->n].e, e->key.s, e->key.len);
		c->p[c->n].e[e->key.len] = '\0';
		memcpy(c->p[c->n].w, w.s, w.len);
		c->p[c->n].w[w.len] = '\0';
		c->n++;
	}
	return 0;
}

int blf_visapply_flush(int *flushed, int *pairs)
{
	blf_vcollect_t c;
	unsigned int i, ns = blf_table_slots();
	blf_vis_t v;
	str e, w;
	int k, waited, left;

	*flushed = blf_viscache_flush();
	*pairs = 0;
	if(!blf_viscache_enabled())
		return 0;
	memset(&c, 0, sizeof(c));
	c.max = BLF_VISAPPLY_MAX;
	c.p = pkg_malloc(sizeof(blf_vpair_t) * c.max);
	if(c.p == NULL) {
		PKG_MEM_ERROR;
		return -1;
	}
	c.now = time(NULL);
	/* who watches whom now (copies, slot by slot) */
	for(i = 0; i < ns; i++) {
		if(blf_table_slot_empty(i))
			continue;
		blf_slot_lock(i);
		blf_slot_each(i, blf_visapply_collect, &c);
		blf_slot_unlock(i);
	}
	if(c.over)
		LM_WARN("blf.flush_visibility: %d (entity, watcher) pairs over %d "
				"are asked again at their next refresh\n",
				c.over, BLF_VISAPPLY_MAX);
	/* every pair asked again (the HTTP process applies each answer as it
	 * lands: blf_visapply_pair) ... */
	for(k = 0, waited = 0; k < c.n; k++) {
		e.s = c.p[k].e;
		e.len = strlen(e.s);
		w.s = c.p[k].w;
		w.len = strlen(w.s);
		/* the HTTP queue holds BLF_VC_RING questions: when it is full,
		 * wait for room (within http_timeout in all) */
		while(blf_vis_lookup(&e, &w, &v) == 0 && !blf_viscache_pending(&e, &w)
				&& waited < blf_cfg.http_timeout) {
			sleep_us(2000);
			waited += 2;
		}
	}
	/* ... and the RPC answers once they have (or after http_timeout), so
	 * the caller knows the new policies hold */
	for(waited = 0, left = 1; left && waited < blf_cfg.http_timeout + 100;
			waited += 5) {
		left = 0;
		for(k = 0; k < c.n && !left; k++) {
			e.s = c.p[k].e;
			e.len = strlen(e.s);
			w.s = c.p[k].w;
			w.len = strlen(w.s);
			left = blf_viscache_pending(&e, &w);
		}
		if(left)
			sleep_us(5000);
	}
	*pairs = c.n;
	pkg_free(c.p);
	return 0;
}

/*
 * The alias service's policy of entity ekey changed (the alias cache's
 * apply_policy hook when visibility_url is on): kept on the entity, and
 * each watcher of it decided again, since a per-watcher rule beats the
 * entity's policy (blf_subs_apply_policy alone would lower every one).
 */
#define BLF_VISAPPLY_WATCHERS 256 /* watchers of one entity decided at once */

int blf_visapply_policy(const str *ekey, blf_vis_t vis)
{
	char(*w)[BLF_KEY_MAX];
	blf_entity_t *e;
	blf_sub_t *s;
	unsigned int hash = blf_key_hash(ekey);
	int n = 0, i, k, ended = 0;
	str ws;

	blf_entity_set_policy(ekey, vis);
	w = pkg_malloc(BLF_VISAPPLY_WATCHERS * BLF_KEY_MAX);
	if(w == NULL) {
		PKG_MEM_ERROR;
		return 0;
	}
	blf_slot_lock(hash);
	e = blf_entity_find(hash, ekey);
	for(s = e ? e->subs : NULL; s && n < BLF_VISAPPLY_WATCHERS;
			s = s->next) {
		if((s->flags & BLF_SUB_WILDCARD) || !blf_visapply_concerns(e, s))
			continue;
		ws = BLF_SF(s, BLF_SF_WATCHER);
		if(ws.len >= BLF_KEY_MAX)
			continue;
		for(i = 0; i < n; i++)
			if(strncmp(w[i], ws.s, ws.len) == 0 && w[i][ws.len] == '\0')
				break;
		if(i < n)
			continue;
		memcpy(w[n], ws.s, ws.len);
		w[n][ws.len] = '\0';
		n++;
	}
	blf_slot_unlock(hash);
	for(k = 0; k < n; k++) {
		ws.s = w[k];
		ws.len = strlen(w[k]);
		ended += blf_visapply_plain(ekey, &ws);
	}
	pkg_free(w);
	return ended;
}
