/*
 * blf_pkg_winfo.c — the `presence.winfo` and `dialog.winfo` event packages
 * (RFC 3857, application/watcherinfo+xml, RFC 3858 bodies): who watches
 * the entity's presence / dialog state. Only the entity itself may
 * subscribe (BLF_PKG_SELF_ONLY: 403 otherwise).
 *
 * snapshot: under the slot lock, copies of the entity's subscriptions of
 * the watched package (the winfo subscriptions live on the same entity,
 * so the same slot): our To tag as the watcher id (stable per
 * subscription), the watcher's From URI, active, or terminated/timeout
 * when it expired and waits for the timer. body: after the unlock,
 * blf_winfo_build(), always full state. A watcher that is gone is no
 * longer listed (full state: its absence says it); the module has no
 * authorization step, so every listed watcher is active (event
 * "subscribe").
 *
 * A NOTIFY whenever a watcher comes or goes: blf_winfo_listen() registers
 * a change listener for new and ended subscriptions (BLF_CHG_SUB_NEW,
 * BLF_CHG_SUB_DEL, noted by the subscription records wherever one is
 * linked or unlinked); after the change's unlock it takes the entity's
 * slot again and asks blf_entity_changed(BLF_DEP_WATCHERS) for the jobs.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>
#include <stdlib.h>
#include <time.h>

#include "core/dprint.h"

#include "blf.h"
#include "blf_pkg.h"
#include "blf_chg.h"
#include "blf_winfo.h"

/* without notify_max_body (0), a document is still bounded */
#define BLF_WSNAP_MAX_DOC 65536
/* watchers listed at most (a document is bounded by the body budget too) */
#define BLF_WSNAP_MAX 256

typedef struct blf_wsnap
{
	blf_snap_t h; /* first: the registry's head */
	int n;
	blf_winfo_watcher_t *w; /* n of them, strings in the block */
	const char *package;	/* the watched package's name */
	char *uri;				/* "sip:" + the entity key */
} blf_wsnap_t;

static const char *blf_ws_copy(char **p, const str *s)
{
	char *r = *p;

	if(s->len > 0)
		memcpy(r, s->s, s->len);
	r[s->len] = '\0';
	*p += s->len + 1;
	return r;
}

/* the entity's watchers of package base */
static blf_snap_t *blf_winfo_snap(const blf_entity_t *e, const char *base)
{
	const blf_pkg_t *bp = blf_pkg_find_any(base, strlen(base));
	const blf_sub_t *s;
	blf_winfo_watcher_t *w;
	blf_wsnap_t *sn;
	time_t now = time(NULL);
	size_t len;
	char *p;
	int n, i;

	len = sizeof(*sn) + 4 + (size_t)e->key.len + 1;
	n = 0;
	for(s = e->subs; s && bp; s = s->next) {
		if(s->pkg != bp->id || n >= BLF_WSNAP_MAX)
			continue;
		len += sizeof(*w) + blf_sf_len(s, BLF_SF_TTAG)
			   + blf_sf_len(s, BLF_SF_WURI) + 2;
		n++;
	}
	sn = malloc(len);
	if(sn == NULL) {
		LM_ERR("no memory for the watchers of %.*s\n", e->key.len, e->key.s);
		return NULL;
	}
	memset(sn, 0, sizeof(*sn));
	sn->n = n;
	sn->package = base;
	sn->w = (blf_winfo_watcher_t *)(sn + 1);
	p = (char *)(sn->w + n);
	sn->uri = p;
	memcpy(p, "sip:", 4);
	memcpy(p + 4, e->key.s, e->key.len);
	p[4 + e->key.len] = '\0';
	p += 4 + e->key.len + 1;
	for(i = 0, s = e->subs; s && i < n; s = s->next) {
		if(s->pkg != bp->id)
			continue;
		w = &sn->w[i++];
		memset(w, 0, sizeof(*w));
		w->id = blf_ws_copy(&p, &BLF_SF(s, BLF_SF_TTAG));
		w->uri = blf_ws_copy(&p, &BLF_SF(s, BLF_SF_WURI));
		if(s->expires > now) {
			w->status = BLF_WINFO_ACTIVE;
			w->event = BLF_WINFO_EV_SUBSCRIBE;
			w->expiration = (long)(s->expires - now);
		} else {
			w->status = BLF_WINFO_TERMINATED;
			w->event = BLF_WINFO_EV_TIMEOUT;
			w->expiration = -1;
		}
		w->duration_subscribed = -1;
	}
	return &sn->h;
}

static blf_snap_t *blf_pwinfo_snapshot(const blf_entity_t *e)
{
	return blf_winfo_snap(e, "presence");
}

static blf_snap_t *blf_dwinfo_snapshot(const blf_entity_t *e)
{
	return blf_winfo_snap(e, "dialog");
}

static void blf_winfo_snap_free(blf_snap_t *h)
{
	free(h);
}

static int blf_winfo_body(
		blf_snap_t *h, const blf_body_req_t *r, blf_buf_t *out)
{
	blf_wsnap_t *sn = (blf_wsnap_t *)h;
	size_t max, len = 0;
	char *doc = NULL;
	int cut;

	max = r->max > 0 ? r->max : BLF_WSNAP_MAX_DOC;
	cut = blf_winfo_build(
			sn->uri, sn->package, r->version, sn->w, sn->n, max, &doc, &len);
	if(cut < 0) {
		LM_ERR("cannot build the watcherinfo of %s\n", sn->uri);
		return -1;
	}
	if(cut > 0) {
		update_stat(blf_st_bodies_cut, 1);
		LM_NOTICE("watcherinfo of %s over notify_max_body: %d of %d "
				  "watchers left out\n",
				sn->uri, cut, sn->n);
	}
	if(blf_buf_add(out, doc, len) < 0) {
		free(doc);
		return -1;
	}
	free(doc);
	return 0;
}

blf_pkg_t blf_pkg_presence_winfo = {
		.name = "presence.winfo",
		.ctype = BLF_WINFO_CTYPE,
		.accept = BLF_WINFO_CTYPE,
		.flags = BLF_PKG_SELF_ONLY,
		.deps = BLF_DEP_WATCHERS,
		.snapshot = blf_pwinfo_snapshot,
		.body = blf_winfo_body,
		.snap_free = blf_winfo_snap_free,
};

blf_pkg_t blf_pkg_dialog_winfo = {
		.name = "dialog.winfo",
		.ctype = BLF_WINFO_CTYPE,
		.accept = BLF_WINFO_CTYPE,
		.flags = BLF_PKG_SELF_ONLY,
		.deps = BLF_DEP_WATCHERS,
		.snapshot = blf_dwinfo_snapshot,
		.body = blf_winfo_body,
		.snap_free = blf_winfo_snap_free,
};

/* ---- a watcher came or went: the winfo NOTIFYs ---- */

/* 1 when s (a change's copy) is a watcher a winfo document lists */
static int blf_winfo_counts(const blf_chg_t *g)
{
	const blf_pkg_t *p;

	if(g->sub == NULL || (g->sub->flags & BLF_SUB_WILDCARD))
		return 0;
	if(g->kind == BLF_CHG_SUB_NEW && g->sub->version > 0)
		return 0; /* a refresh: nobody came */
	p = blf_pkg_get(g->sub->pkg);
	return p && !(p->deps & BLF_DEP_WATCHERS);
}

static void blf_winfo_chg(blf_chg_batch_t *b, void *param)
{
	blf_notify_job_t *jobs;
	blf_frags_t fr;
	blf_entity_t *e;
	blf_chg_t *g = NULL;
	unsigned int hash;

	while((g = blf_chg_next(b, g, BLF_CHG_SUB_NEW | BLF_CHG_SUB_DEL))) {
		if(!blf_winfo_counts(g))
			continue;
		jobs = NULL;
		memset(&fr, 0, sizeof(fr));
		hash = blf_key_hash(&g->key);
		blf_slot_lock(hash);
		e = blf_entity_find(hash, &g->key);
		if(e)
			blf_entity_changed(e, BLF_DEP_WATCHERS, &fr, &jobs);
		blf_slot_unlock(hash);
		if(jobs)
			blf_chg_send(jobs); /* a nested batch: flushed on its own */
		blf_frags_free(&fr);
	}
}

int blf_winfo_listen(void)
{
	if(!blf_pkg_find(
			   blf_pkg_presence_winfo.name, strlen(blf_pkg_presence_winfo.name))
			&& !blf_pkg_find(blf_pkg_dialog_winfo.name,
					strlen(blf_pkg_dialog_winfo.name)))
		return 0; /* neither served: nobody to tell */
	return blf_chg_listen(
			BLF_CHG_SUB_NEW | BLF_CHG_SUB_DEL, blf_winfo_chg, NULL);
}
