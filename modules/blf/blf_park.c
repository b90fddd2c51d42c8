/*
 * blf_park.c — park orbits: the park list polled over HTTP, turned into
 * entities (<orbit>@<park_domain>) whose lamps follow the parked calls, the
 * blf.parks RPC and the phone XML page of the orbits.
 *
 * The last good list is kept in shm (one block, swapped under its lock).
 * An HTTP error or a garbled answer leaves the orbits as they were: a
 * flapping park server must not blink every lamp.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>
#include <stdlib.h>
#include <stdio.h>

#include "core/mem/shm_mem.h"
#include "core/mem/mem.h"
#include "core/dprint.h"
#include "core/ut.h"
#include "core/mod_fix.h"
#include "core/sr_module.h"
#include "modules/xhttp/api.h"

#include "blf.h"
#include "blf_json.h"
#include "blf_park.h"
#include "blf_alias.h"
#include "blf_parkpage.h"

#define BLF_PARK_MAX 512 /* orbits kept; more in an answer are ignored */

typedef struct blf_parks {
	gen_lock_t lock;
	int n;
	int fetched; /* a list was received at least once */
	blf_park_orbit_t o[BLF_PARK_MAX];
} blf_parks_t;

static blf_parks_t *blf_parks = NULL;
static xhttp_api_t blf_xhttp;
static int blf_xhttp_ok = 0;

int blf_park_init(void)
{
	if(blf_cfg.park_url.len == 0)
		return 0;
	blf_parks = shm_malloc(sizeof(blf_parks_t));
	if(blf_parks == NULL) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(blf_parks, 0, sizeof(blf_parks_t));
	lock_init(&blf_parks->lock);
	if(find_export("bind_xhttp", 0, 0) && xhttp_load_api(&blf_xhttp) == 0)
		blf_xhttp_ok = 1;
	return 0;
}

void blf_park_destroy(void)
{
	if(blf_parks) {
		shm_free(blf_parks);
		blf_parks = NULL;
	}
}

static int blf_park_key(const char *orbit, char *buf, int size, str *key)
{
	int n;

	n = snprintf(buf, size, "%s@%.*s", orbit, blf_cfg.park_domain.len,
			blf_cfg.park_domain.s);
	if(n < 0 || n >= size)
		return -1;
	key->s = buf;
	key->len = n;
	return 0;
}

static const blf_park_orbit_t *blf_park_find(
		const blf_park_orbit_t *o, int n, const char *orbit)
{
	int i;

	for(i = 0; i < n; i++)
		if(strcmp(o[i].orbit, orbit) == 0)
			return &o[i];
	return NULL;
}

/* pushes one orbit's state (or its disappearance) to its entity */
static void blf_park_apply(const blf_park_orbit_t *p, int exists)
{
	char kbuf[BLF_KEY_MAX], pkbuf[BLF_KEY_MAX];
	blf_call_upd_t upd;
	str key, pkey, parked;
	char ltag[128], rtag[128];

	if(blf_park_key(p->orbit, kbuf, sizeof(kbuf), &key) < 0) {
		LM_ERR("orbit name too long: %s\n", p->orbit);
		return;
	}
	if(!exists || p->call_id[0] == '\0') {
		blf_entity_park_set(&key, exists, NULL);
		return;
	}
	memset(&upd, 0, sizeof(upd));
	upd.f[BLF_CF_CALLID].s = (char *)p->call_id;
	upd.f[BLF_CF_CALLID].len = strlen(p->call_id);
	upd.f[BLF_CF_LURI].s = NULL;
	upd.f[BLF_CF_RURI].s = (char *)p->parked;
	upd.f[BLF_CF_RURI].len = strlen(p->parked);
	/* a parked call that this proxy tracks: carry its dialog tags */
	parked = upd.f[BLF_CF_RURI];
	if(parked.len
			&& blf_key_from_uri(&parked, pkbuf, sizeof(pkbuf), &pkey) == 0
			&& blf_entity_call_tags(&pkey, &upd.f[BLF_CF_CALLID], ltag,
					   sizeof(ltag), rtag, sizeof(rtag))
					   == 0) {
		/* the orbit holds the parked party's peer side of the dialog */
		upd.f[BLF_CF_LTAG].s = rtag;
		upd.f[BLF_CF_LTAG].len = strlen(rtag);
		upd.f[BLF_CF_RTAG].s = ltag;
		upd.f[BLF_CF_RTAG].len = strlen(ltag);
	}
	blf_entity_park_set(&key, 1, &upd);
}

/* in the HTTP process: an answer of the park service */
void blf_park_answer(int status, const char *body, size_t len)
{
	blf_park_orbit_t *nw, *old;
	const blf_park_orbit_t *q;
	int n, on, i;

	if(blf_parks == NULL)
		return;
	if(status != 200) {
		LM_NOTICE("park service answered %d: orbits kept as they were\n",
				status);
		return;
	}
	nw = malloc(sizeof(blf_park_orbit_t) * BLF_PARK_MAX * 2);
	if(nw == NULL)
		return;
	old = nw + BLF_PARK_MAX;
	n = blf_json_parks(body, len, nw, BLF_PARK_MAX);
	if(n < 0) {
		LM_ERR("park service: bad answer: %.*s\n", (int)(len > 200 ? 200 : len),
				body ? body : "");
		update_stat(blf_st_http_errors, 1);
		free(nw);
		return;
	}
	lock_get(&blf_parks->lock);
	on = blf_parks->n;
	memcpy(old, blf_parks->o, sizeof(blf_park_orbit_t) * on);
	memcpy(blf_parks->o, nw, sizeof(blf_park_orbit_t) * n);
	blf_parks->n = n;
	blf_parks->fetched = 1;
	lock_release(&blf_parks->lock);

	/* vanished orbits, then new or changed ones */
	for(i = 0; i < on; i++)
		if(blf_park_find(nw, n, old[i].orbit) == NULL)
			blf_park_apply(&old[i], 0);
	for(i = 0; i < n; i++) {
		q = blf_park_find(old, on, nw[i].orbit);
		if(q && strcmp(q->call_id, nw[i].call_id) == 0
				&& strcmp(q->parked, nw[i].parked) == 0)
			continue;
		blf_park_apply(&nw[i], 1);
	}
	free(nw);
}

/* a private copy of the orbits (pkg), for RPC and the phone page */
static int blf_park_snapshot(blf_park_orbit_t **out)
{
	int n;

	*out = NULL;
	if(blf_parks == NULL)
		return 0;
	lock_get(&blf_parks->lock);
	n = blf_parks->n;
	if(n) {
		*out = pkg_malloc(sizeof(blf_park_orbit_t) * n);
		if(*out)
			memcpy(*out, blf_parks->o, sizeof(blf_park_orbit_t) * n);
		else
			n = 0;
	}
	lock_release(&blf_parks->lock);
	return n;
}

void blf_park_rpc_list(rpc_t *rpc, void *c)
{
	char kbuf[BLF_KEY_MAX];
	blf_park_orbit_t *o;
	str key;
	void *h;
	int n, i;

	n = blf_park_snapshot(&o);
	for(i = 0; i < n; i++) {
		if(blf_park_key(o[i].orbit, kbuf, sizeof(kbuf), &key) < 0)
			continue;
		if(rpc->add(c, "{", &h) < 0)
			break;
		rpc->struct_add(h, "sSssss", "orbit", o[i].orbit, "entity", &key,
				"state", o[i].call_id[0] ? "parked" : "empty", "callid",
				o[i].call_id, "parked", o[i].parked, "parker", o[i].parker);
	}
	if(o)
		pkg_free(o);
}

/* ---- the phone page ---- */

/*
 * What orbit o may show on the page, which anyone who can reach the HTTP
 * listener reads: the visibility parameter, made stricter by the orbit
 * entity's own policy when the alias service gave one.
 */
static blf_vis_t blf_park_page_vis(const blf_park_orbit_t *o)
{
	char kbuf[BLF_KEY_MAX];
	blf_vis_t v = blf_cfg.visibility;
	str key;
	int p;

	if(blf_park_key(o->orbit, kbuf, sizeof(kbuf), &key) == 0) {
		p = blf_alias_policy(&key);
		if(p > (int)v)
			v = (blf_vis_t)p;
	}
	return v;
}

/*
 * The orbit list as a phone page (blf_parkpage.c renders it): into *page
 * (pkg, the caller frees it), *ctype. Formats: "yealink"
 * (YealinkIPPhoneTextMenu), "cisco" (CiscoIPPhoneMenu, also read by
 * Grandstream, Fanvil and SPA phones), "json". Each orbit's item dials the
 * orbit number, which retrieves the parked call. A page longer than
 * BLF_PARKPAGE_MAX lists the orbits that fit (counted, logged).
 */
static int blf_park_page(
		const str *format, char **page, int *plen, const char **ctype)
{
	blf_park_orbit_t *o;
	blf_vis_t *vis = NULL;
	size_t len;
	int f, n, i, shown, ret = -1;

	*page = NULL;
	f = blf_parkpage_format(format->s, format->len);
	if(f < 0) {
		LM_ERR("unknown park page format '%.*s' (yealink, cisco, json)\n",
				format->len > 32 ? 32 : format->len, format->s);
		return -1;
	}
	n = blf_park_snapshot(&o);
	if(n) {
		vis = pkg_malloc(n * sizeof(*vis));
		if(vis == NULL) {
			PKG_MEM_ERROR;
			goto out;
		}
		for(i = 0; i < n; i++)
			vis[i] = blf_park_page_vis(&o[i]);
	}
	len = blf_parkpage_render(
			f, o, n, vis, NULL, 0, BLF_PARKPAGE_MAX, &shown);
	*page = pkg_malloc(len + 1);
	if(*page == NULL) {
		PKG_MEM_ERROR;
		goto out;
	}
	blf_parkpage_render(
			f, o, n, vis, *page, len + 1, BLF_PARKPAGE_MAX, &shown);
	*plen = (int)len;
	*ctype = blf_parkpage_ctype(f);
	if(shown < n) {
		update_stat(blf_st_park_page_cut, 1);
		LM_NOTICE("park page: %d of %d orbits fit in %d bytes\n", shown, n,
				BLF_PARKPAGE_MAX);
	}
	ret = 0;
out:
	if(vis)
		pkg_free(vis);
	if(o)
		pkg_free(o);
	return ret;
}

/* blf_park_xml(format): answers the xhttp request with the orbit page */
int blf_park_reply(struct sip_msg *msg, const str *format)
{
	const char *ct = "text/xml";
	str code_r = str_init("OK"), ctype, body = STR_NULL;
	char *page = NULL;
	int len = 0, ret = -1;

	if(!blf_xhttp_ok) {
		LM_ERR("blf_park_xml() needs xhttp.so loaded before blf.so\n");
		return -1;
	}
	if(blf_park_page(format, &page, &len, &ct) < 0)
		goto out;
	ctype.s = (char *)ct;
	ctype.len = strlen(ct);
	body.s = page;
	body.len = len;
	ret = blf_xhttp.reply(msg, 200, &code_r, &ctype, &body) < 0 ? -1 : 1;
out:
	if(page)
		pkg_free(page);
	return ret;
}
