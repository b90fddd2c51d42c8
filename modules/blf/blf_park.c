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

/* XML text escaping into a growing pkg buffer */
typedef struct blf_sb {
	char *s;
	int len, size;
} blf_sb_t;

static int blf_sb_add(blf_sb_t *b, const char *s, int n)
{
	char *ns;
	int sz;

	if(b->len + n + 1 > b->size) {
		sz = (b->size ? b->size * 2 : 1024);
		while(sz < b->len + n + 1)
			sz *= 2;
		ns = pkg_realloc(b->s, sz);
		if(ns == NULL)
			return -1;
		b->s = ns;
		b->size = sz;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
	return 0;
}

static int blf_sb_str(blf_sb_t *b, const char *s)
{
	return blf_sb_add(b, s, strlen(s));
}

static int blf_sb_esc(blf_sb_t *b, const char *s)
{
	char esc[BLF_JSON_URI_MAX * 6 + 8];
	int n = blf_xml_escape_attr(s, strlen(s), esc, sizeof(esc));

	return n < 0 ? -1 : blf_sb_add(b, esc, n);
}

/* a JSON string: quoted, with quote, backslash and controls escaped */
static int blf_sb_json(blf_sb_t *b, const char *s)
{
	char u[8];
	int rc = blf_sb_add(b, "\"", 1);

	for(; *s; s++) {
		if(*s == '"' || *s == '\\') {
			rc |= blf_sb_add(b, "\\", 1);
			rc |= blf_sb_add(b, s, 1);
		} else if((unsigned char)*s < 0x20) {
			snprintf(u, sizeof(u), "\\u%04x", (unsigned char)*s);
			rc |= blf_sb_add(b, u, 6);
		} else {
			rc |= blf_sb_add(b, s, 1);
		}
	}
	return rc | blf_sb_add(b, "\"", 1);
}

/* a short label of an orbit: "701 parked: 211" or "701 empty" */
static void blf_park_label(const blf_park_orbit_t *o, char *buf, int size)
{
	const char *who = o->parked;

	if(strncmp(who, "sip:", 4) == 0)
		who += 4;
	if(o->call_id[0])
		snprintf(buf, size, "%s parked: %.*s", o->orbit,
				(int)strcspn(who, "@;>"), who);
	else
		snprintf(buf, size, "%s empty", o->orbit);
}

/*
 * The orbit list as a phone XML page. Formats: "yealink"
 * (YealinkIPPhoneTextMenu), "cisco" (CiscoIPPhoneMenu, also read by
 * Grandstream, Fanvil and SPA phones), "json". Each parked orbit's item
 * dials the orbit number, which retrieves the parked call.
 */
int blf_park_page(const str *format, blf_sb_t *b, const char **ctype)
{
	char label[BLF_JSON_URI_MAX + 96];
	blf_park_orbit_t *o;
	int n, i, rc = 0;
	enum { F_YEALINK, F_CISCO, F_JSON } f;

	if(format->len == 7 && strncasecmp(format->s, "yealink", 7) == 0)
		f = F_YEALINK;
	else if(format->len == 5 && strncasecmp(format->s, "cisco", 5) == 0)
		f = F_CISCO;
	else if(format->len == 4 && strncasecmp(format->s, "json", 4) == 0)
		f = F_JSON;
	else {
		LM_ERR("unknown park page format '%.*s' (yealink, cisco, json)\n",
				format->len, format->s);
		return -1;
	}
	n = blf_park_snapshot(&o);
	*ctype = (f == F_JSON) ? "application/json" : "text/xml";
	if(f == F_YEALINK)
		rc |= blf_sb_str(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
							"<YealinkIPPhoneTextMenu style=\"numbered\">\n"
							"<Title>Parked calls</Title>\n");
	else if(f == F_CISCO)
		rc |= blf_sb_str(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
							"<CiscoIPPhoneMenu>\n<Title>Parked calls</Title>\n"
							"<Prompt>Select an orbit to retrieve</Prompt>\n");
	else
		rc |= blf_sb_str(b, "{\"orbits\":[");
	for(i = 0; i < n; i++) {
		blf_park_label(&o[i], label, sizeof(label));
		if(f == F_YEALINK) {
			rc |= blf_sb_str(b, "<MenuItem>\n<Prompt>");
			rc |= blf_sb_esc(b, label);
			rc |= blf_sb_str(b, "</Prompt>\n<URI>Dial:");
			rc |= blf_sb_esc(b, o[i].orbit);
			rc |= blf_sb_str(b, "</URI>\n<Dial>");
			rc |= blf_sb_esc(b, o[i].orbit);
			rc |= blf_sb_str(b, "</Dial>\n</MenuItem>\n");
		} else if(f == F_CISCO) {
			rc |= blf_sb_str(b, "<MenuItem>\n<Name>");
			rc |= blf_sb_esc(b, label);
			rc |= blf_sb_str(b, "</Name>\n<URL>Dial:");
			rc |= blf_sb_esc(b, o[i].orbit);
			rc |= blf_sb_str(b, "</URL>\n</MenuItem>\n");
		} else {
			rc |= blf_sb_str(b, i ? ",{\"orbit\":" : "{\"orbit\":");
			rc |= blf_sb_json(b, o[i].orbit);
			rc |= blf_sb_str(b, ",\"call_id\":");
			rc |= blf_sb_json(b, o[i].call_id);
			rc |= blf_sb_str(b, ",\"parked\":");
			rc |= blf_sb_json(b, o[i].parked);
			rc |= blf_sb_str(b, ",\"dial\":");
			rc |= blf_sb_json(b, o[i].orbit);
			rc |= blf_sb_str(b, "}");
		}
	}
	if(f == F_YEALINK)
		rc |= blf_sb_str(b, "</YealinkIPPhoneTextMenu>\n");
	else if(f == F_CISCO)
		rc |= blf_sb_str(b, "</CiscoIPPhoneMenu>\n");
	else
		rc |= blf_sb_str(b, "]}\n");
	if(o)
		pkg_free(o);
	return rc ? -1 : 0;
}

/* blf_park_xml(format): answers the xhttp request with the orbit page */
int blf_park_reply(struct sip_msg *msg, const str *format)
{
	blf_sb_t b = {0, 0, 0};
	const char *ct = "text/xml";
	str code_r = str_init("OK"), ctype, body;
	int ret = -1;

	if(!blf_xhttp_ok) {
		LM_ERR("blf_park_xml() needs xhttp.so loaded before blf.so\n");
		return -1;
	}
	if(blf_park_page(format, &b, &ct) < 0)
		goto out;
	ctype.s = (char *)ct;
	ctype.len = strlen(ct);
	body.s = b.s;
	body.len = b.len;
	ret = blf_xhttp.reply(msg, 200, &code_r, &ctype, &body) < 0 ? -1 : 1;
out:
	if(b.s)
		pkg_free(b.s);
	return ret;
}
