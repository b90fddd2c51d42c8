/*
 * blf_parkpage.c — the phone page of park orbits, rendered into a bounded
 * buffer.
 *
 * The orbit list comes from the park service: every string in it is
 * outside input. Each one is escaped for where it lands (XML text of a
 * Yealink/Cisco menu, a JSON string), anything that is not a printable
 * UTF-8 character is replaced, and what a watcher's visibility forbids
 * (call-id, the parked party) is never written. The writer counts what it
 * could not write instead of failing, so a page is measured and rendered
 * by the same code: there is no fixed-size escape buffer to run past.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>
#include <strings.h>
#include <stdio.h>

#include "blf_parkpage.h"

typedef struct blf_pw {
	char *buf;
	size_t size;
	size_t len; /* what was (or would have been) written */
} blf_pw_t;

static void blf_pw_add(blf_pw_t *w, const char *s, size_t n)
{
	if(w->buf && w->len < w->size) {
		size_t room = w->size - w->len;
		memcpy(w->buf + w->len, s, n < room ? n : room);
	}
	w->len += n;
}

static void blf_pw_str(blf_pw_t *w, const char *s)
{
	blf_pw_add(w, s, strlen(s));
}

/*
 * Length of the well-formed UTF-8 character at s (n bytes left), 0 when
 * s does not start one (overlong forms, surrogates and code points past
 * U+10FFFF included).
 */
static size_t blf_utf8_len(const unsigned char *s, size_t n)
{
	size_t k, i;
	unsigned int cp;

	if(s[0] < 0x80)
		return 1;
	if(s[0] >= 0xc2 && s[0] <= 0xdf) {
		k = 2;
		cp = s[0] & 0x1f;
	} else if(s[0] >= 0xe0 && s[0] <= 0xef) {
		k = 3;
		cp = s[0] & 0x0f;
	} else if(s[0] >= 0xf0 && s[0] <= 0xf4) {
		k = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if(n < k)
		return 0;
	for(i = 1; i < k; i++) {
		if((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if((k == 3 && cp < 0x800) || (k == 4 && cp < 0x10000) || cp > 0x10ffff
			|| (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return k;
}

/* s[0..n-1] as XML text (also fit for an attribute) */
static void blf_pw_xml(blf_pw_t *w, const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, k;

	while(i < n) {
		switch(p[i]) {
			case '&':
				blf_pw_str(w, "&amp;");
				break;
			case '<':
				blf_pw_str(w, "&lt;");
				break;
			case '>':
				blf_pw_str(w, "&gt;");
				break;
			case '"':
				blf_pw_str(w, "&quot;");
				break;
			case '\'':
				blf_pw_str(w, "&apos;");
				break;
			default:
				if(p[i] < 0x20 || p[i] == 0x7f) {
					blf_pw_add(w, "?", 1); /* not allowed in XML 1.0 */
					break;
				}
				k = blf_utf8_len(p + i, n - i);
				if(k == 0) {
					blf_pw_add(w, "?", 1);
					break;
				}
				blf_pw_add(w, s + i, k);
				i += k;
				continue;
		}
		i++;
	}
}

/* s as a quoted JSON string */
static void blf_pw_json(blf_pw_t *w, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s), i = 0, k;
	char u[8];

	blf_pw_add(w, "\"", 1);
	while(i < n) {
		if(p[i] == '"' || p[i] == '\\') {
			blf_pw_add(w, "\\", 1);
			blf_pw_add(w, s + i, 1);
		} else if(p[i] < 0x20 || p[i] == 0x7f) {
			snprintf(u, sizeof(u), "\\u%04x", p[i]);
			blf_pw_add(w, u, 6);
		} else if(p[i] == '<' || p[i] == '>' || p[i] == '&') {
			/* harmless in JSON, but a page may be shown as HTML */
			snprintf(u, sizeof(u), "\\u%04x", p[i]);
			blf_pw_add(w, u, 6);
		} else {
			k = blf_utf8_len(p + i, n - i);
			if(k == 0) {
				blf_pw_add(w, "?", 1);
			} else {
				blf_pw_add(w, s + i, k);
				i += k;
				continue;
			}
		}
		i++;
	}
	blf_pw_add(w, "\"", 1);
}

int blf_parkpage_format(const char *s, size_t len)
{
	if(s == NULL)
		return -1;
	if(len == 7 && strncasecmp(s, "yealink", 7) == 0)
		return BLF_PAGE_YEALINK;
	if(len == 5 && strncasecmp(s, "cisco", 5) == 0)
		return BLF_PAGE_CISCO;
	if(len == 4 && strncasecmp(s, "json", 4) == 0)
		return BLF_PAGE_JSON;
	return -1;
}

const char *blf_parkpage_ctype(blf_page_fmt_t f)
{
	return f == BLF_PAGE_JSON ? "application/json" : "text/xml";
}

/* the parked party's name for a label: its user part, bounded */
static size_t blf_parkpage_who(const char *parked, const char **who)
{
	const char *s = parked;
	size_t n;

	if(strncasecmp(s, "sips:", 5) == 0)
		s += 5;
	else if(strncasecmp(s, "sip:", 4) == 0)
		s += 4;
	n = strcspn(s, "@;>");
	if(n > BLF_PARKPAGE_WHO_MAX) {
		n = BLF_PARKPAGE_WHO_MAX;
		/* not in the middle of a UTF-8 character */
		while(n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	*who = s;
	return n;
}

/* the label of orbit o as XML text */
static void blf_parkpage_label(
		blf_pw_t *w, const blf_park_orbit_t *o, blf_vis_t vis)
{
	const char *who;
	size_t n;

	blf_pw_xml(w, o->orbit, strlen(o->orbit));
	if(vis == BLF_VIS_NONE)
		return;
	if(o->call_id[0] == '\0') {
		blf_pw_str(w, " empty");
		return;
	}
	blf_pw_str(w, " parked");
	if(vis != BLF_VIS_FULL)
		return;
	n = blf_parkpage_who(o->parked, &who);
	if(n) {
		blf_pw_str(w, ": ");
		blf_pw_xml(w, who, n);
	}
}

static void blf_parkpage_item(blf_pw_t *w, blf_page_fmt_t f,
		const blf_park_orbit_t *o, blf_vis_t vis, int first)
{
	size_t on = strlen(o->orbit);

	switch(f) {
		case BLF_PAGE_YEALINK:
			blf_pw_str(w, "<MenuItem>\n<Prompt>");
			blf_parkpage_label(w, o, vis);
			blf_pw_str(w, "</Prompt>\n<URI>Dial:");
			blf_pw_xml(w, o->orbit, on);
			blf_pw_str(w, "</URI>\n<Dial>");
			blf_pw_xml(w, o->orbit, on);
			blf_pw_str(w, "</Dial>\n</MenuItem>\n");
			break;
		case BLF_PAGE_CISCO:
			blf_pw_str(w, "<MenuItem>\n<Name>");
			blf_parkpage_label(w, o, vis);
			blf_pw_str(w, "</Name>\n<URL>Dial:");
			blf_pw_xml(w, o->orbit, on);
			blf_pw_str(w, "</URL>\n</MenuItem>\n");
			break;
		default:
			blf_pw_str(w, first ? "{\"orbit\":" : ",{\"orbit\":");
			blf_pw_json(w, o->orbit);
			if(vis != BLF_VIS_NONE) {
				blf_pw_str(w, ",\"state\":");
				blf_pw_str(w, o->call_id[0] ? "\"parked\"" : "\"empty\"");
			}
			if(vis == BLF_VIS_FULL) {
				blf_pw_str(w, ",\"call_id\":");
				blf_pw_json(w, o->call_id);
				blf_pw_str(w, ",\"parked\":");
				blf_pw_json(w, o->parked);
			}
			blf_pw_str(w, ",\"dial\":");
			blf_pw_json(w, o->orbit);
			blf_pw_str(w, "}");
			break;
	}
}

static const char *const blf_parkpage_head[] = {
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<YealinkIPPhoneTextMenu style=\"numbered\">\n"
		"<Title>Parked calls</Title>\n",
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<CiscoIPPhoneMenu>\n<Title>Parked calls</Title>\n"
		"<Prompt>Select an orbit to retrieve</Prompt>\n",
		"{\"orbits\":["};
static const char *const blf_parkpage_tail[] = {
		"</YealinkIPPhoneTextMenu>\n", "</CiscoIPPhoneMenu>\n", "]}\n"};

size_t blf_parkpage_render(blf_page_fmt_t f, const blf_park_orbit_t *o, int n,
		const blf_vis_t *vis, char *buf, size_t size, size_t limit,
		int *shown)
{
	blf_pw_t w = {buf, size, 0};
	size_t tail, mark;
	int i, k = 0;
	blf_vis_t v;

	if((unsigned int)f > BLF_PAGE_JSON)
		f = BLF_PAGE_JSON;
	tail = strlen(blf_parkpage_tail[f]);
	blf_pw_str(&w, blf_parkpage_head[f]);
	if(limit < w.len + tail)
		limit = w.len + tail;
	for(i = 0; o && i < n; i++) {
		v = vis ? vis[i] : BLF_VIS_FULL;
		if((unsigned int)v > BLF_VIS_NONE)
			v = BLF_VIS_NONE;
		mark = w.len;
		blf_parkpage_item(&w, f, &o[i], v, k == 0);
		if(w.len + tail > limit) {
			w.len = mark; /* it does not fit: the rest is left out */
			break;
		}
		k++;
	}
	blf_pw_str(&w, blf_parkpage_tail[f]);
	if(buf && size)
		buf[w.len < size ? w.len : size - 1] = '\0';
	if(shown)
		*shown = k;
	return w.len;
}
