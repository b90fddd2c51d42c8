/*
 * blf_parkpage.h — the phone page of park orbits (Yealink, Cisco, JSON),
 * rendered from a copy of the orbit list. Pure: no Kamailio headers, no
 * allocation; the caller gives the buffer.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_PARKPAGE_H
#define BLF_PARKPAGE_H

#include <stddef.h>

#include "blf_xml.h"
#include "blf_json.h"

typedef enum {
	BLF_PAGE_YEALINK = 0, /* YealinkIPPhoneTextMenu */
	BLF_PAGE_CISCO,		  /* CiscoIPPhoneMenu (Grandstream, Fanvil, SPA) */
	BLF_PAGE_JSON
} blf_page_fmt_t;

/* the longest page rendered: orbits past it are left out */
#define BLF_PARKPAGE_MAX (256 * 1024)
/* bytes of the parked party's name shown in a label */
#define BLF_PARKPAGE_WHO_MAX 64

/* "yealink", "cisco", "json" (any case); -1 for anything else */
int blf_parkpage_format(const char *s, size_t len);

/* its Content-Type */
const char *blf_parkpage_ctype(blf_page_fmt_t f);

/*
 * Renders the page of orbits o[0..n-1] into buf (size bytes; buf may be
 * NULL to measure). vis[i] is what orbit i may show (NULL: full for all):
 *   full  - "701 parked: 211", JSON call_id and parked;
 *   state - "701 parked" / "701 empty", no call-id, no identity;
 *   none  - the orbit number only.
 * Every string is escaped for its format (XML text or JSON string);
 * control characters and bytes that are not UTF-8 become '?'. Orbits are
 * added while the page stays within limit bytes (at least the page's
 * frame: limit is raised to it), the rest are left out: *shown (may be
 * NULL) tells how many made it. Returns the page's length; the page is
 * NUL-terminated in buf when that length is below size. Rendering twice
 * with the same arguments gives the same page (measure, allocate, render).
 */
size_t blf_parkpage_render(blf_page_fmt_t f, const blf_park_orbit_t *o, int n,
		const blf_vis_t *vis, char *buf, size_t size, size_t limit,
		int *shown);

#endif
