/*
 * blf_wildcard.c — the NOTIFYs one wildcard (any-dn) subscription gets
 * about its whole domain: its first burst (blf_subs.c) and, after a
 * deferral, what it is owed (the expiry timer). One walk serves both.
 *
 * The walk goes slot by slot, each time with the slot's lock and the
 * wildcard pseudo-entity's (in slot order, as call events take them), and
 * sends each slot's NOTIFYs after the unlock, so no lock is held for long
 * and none while sending.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>
#include <stdlib.h>

#include "core/dprint.h"

#include "blf_table.h"
#include "blf_chg.h"

/* one slot of the walk (both locks held) */
typedef struct blf_ww
{
	blf_entity_t *w;  /* the wildcard pseudo-entity */
	blf_sub_t *s;	  /* its subscription walking */
	const char *host; /* "@host" of its domain */
	int hlen;
	int owed;
	int stop; /* owed: deferred, the next tick resumes here */
	int sent;
	time_t now;
	blf_notify_job_t *jobs;
} blf_ww_t;

static int blf_wildcard_walk_entity(blf_entity_t *e, void *arg)
{
	char esc[BLF_KEY_MAX * 6 + 16];
	blf_ww_t *ww = arg;
	unsigned short shown = BLF_ENT_PARK | (ww->owed ? BLF_ENT_WOWED : 0);
	blf_notify_job_t *j;
	blf_frags_t fr;
	blf_vis_t vis;
	str uri;

	if(e == ww->w || (e->ncalls == 0 && !(e->flags & shown))
			|| e->key.len <= ww->hlen
			|| memcmp(e->key.s + e->key.len - ww->hlen, ww->host, ww->hlen)
					   != 0)
		return 0;
	if(blf_wildcard_vis(e, ww->s, &vis) < 0
			|| blf_entity_uri_esc(e, esc, sizeof(esc), &uri) < 0)
		return 0;
	memset(&fr, 0, sizeof(fr));
	j = blf_sub_job_vis(e, ww->s, &fr, &uri, vis, 0, NULL, ww->now);
	if(j) {
		j->next = ww->jobs;
		ww->jobs = j;
		ww->sent++;
	} else if(ww->owed && (ww->s->flags & BLF_SUB_OWED)) {
		ww->stop = 1; /* deferred: the next tick resumes here */
	}
	blf_frags_free(&fr);
	return ww->stop;
}

int blf_wildcard_walk(const str *wkey, const str *callid, const str *ftag,
		const str *ttag, unsigned int from, int owed)
{
	unsigned int i, n = blf_table_slots(), whash = blf_key_hash(wkey);
	blf_ww_t ww;

	memset(&ww, 0, sizeof(ww));
	ww.owed = owed;
	ww.host = memchr(wkey->s, '@', wkey->len);
	if(ww.host == NULL)
		return -1;
	ww.hlen = wkey->len - (int)(ww.host - wkey->s);
	for(i = from; i < n && !ww.stop; i++) {
		if((!owed || i != from) && blf_table_slot_empty(i))
			continue;
		ww.jobs = NULL;
		blf_slots_lock2(i, whash);
		ww.w = blf_entity_find(whash, wkey);
		ww.s = ww.w ? blf_sub_find(ww.w, callid, ftag, ttag, NULL) : NULL;
		if(ww.s == NULL
				|| (owed
						&& (ww.s->owner
								|| !(ww.s->flags & BLF_SUB_WILDCARD)))) {
			blf_slots_unlock2(i, whash);
			return -1; /* gone meanwhile */
		}
		if(owed && i == from) /* paid from here on, unless deferred again */
			ww.s->flags &= ~BLF_SUB_OWED;
		ww.now = time(NULL);
		blf_slot_each(i, blf_wildcard_walk_entity, &ww);
		blf_slots_unlock2(i, whash);
		blf_chg_send(ww.jobs);
	}
	return ww.sent;
}

/* what an owed wildcard subscription is owed (blf_expire.c) */
void blf_wildcard_owed_send(const str *wkey, const str *callid, const str *ftag,
		const str *ttag, unsigned int from)
{
	blf_wildcard_walk(wkey, callid, ftag, ttag, from, 1);
}
