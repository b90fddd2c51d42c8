/*
 * blf_pkg.c — the registry of event packages, the `events` parameter, the
 * 489's Allow-Events, and the refcounted snapshots one change shares.
 *
 * Pure (no Kamailio header, allocator or clock): the registry is filled in
 * mod_init, before the workers fork, and only read afterwards, so it needs
 * no lock; snapshots are per process (see blf_pkg.h).
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <stdio.h>

#include "blf_pkg.h"

static blf_pkg_t *blf_pkgs[BLF_PKG_MAX];
static unsigned int blf_npkgs;

/* ---- output buffers ---- */

int blf_buf_need(blf_buf_t *b, size_t more)
{
	size_t need, nsize;
	char *ns;

	if(more > (size_t)-1 / 2 - b->len)
		return -1;
	need = b->len + more + 1; /* room for a NUL */
	if(need <= b->size)
		return 0;
	if(b->max && need > b->max + 1)
		return -1;
	nsize = b->size ? b->size : 1024;
	while(nsize < need)
		nsize *= 2;
	if(b->max && nsize > b->max + 1)
		nsize = b->max + 1;
	ns = realloc(b->s, nsize);
	if(ns == NULL)
		return -1;
	b->s = ns;
	b->size = nsize;
	return 0;
}

int blf_buf_add(blf_buf_t *b, const char *s, size_t len)
{
	if(blf_buf_need(b, len) < 0)
		return -1;
	if(len)
		memcpy(b->s + b->len, s, len);
	b->len += len;
	b->s[b->len] = '\0';
	return 0;
}

void blf_buf_free(blf_buf_t *b)
{
	free(b->s);
	b->s = NULL;
	b->len = b->size = 0;
}

/* ---- the registry ---- */

/* RFC 6665 event-type: token characters (dots separate templates) */
static int blf_pkg_name_ok(const char *s)
{
	size_t i, n = s ? strlen(s) : 0;

	if(n == 0 || n > BLF_PKG_NAME_MAX)
		return 0;
	for(i = 0; i < n; i++) {
		if(!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z')
				   || (s[i] >= '0' && s[i] <= '9')
				   || strchr("-.!%*_+`'~", s[i])))
			return 0;
	}
	return 1;
}

int blf_pkg_register(blf_pkg_t *p)
{
	if(p == NULL || blf_npkgs >= BLF_PKG_MAX || !blf_pkg_name_ok(p->name)
			|| p->ctype == NULL || p->accept == NULL || p->snapshot == NULL
			|| p->body == NULL || p->snap_free == NULL
			|| blf_pkg_find_any(p->name, strlen(p->name)))
		return -1;
	p->id = (unsigned char)blf_npkgs;
	p->served = 0;
	blf_pkgs[blf_npkgs++] = p;
	return p->id;
}

void blf_pkg_reset(void)
{
	unsigned int i;

	for(i = 0; i < blf_npkgs; i++)
		blf_pkgs[i]->served = 0;
	blf_npkgs = 0;
}

const blf_pkg_t *blf_pkg_get(unsigned int id)
{
	return id < blf_npkgs ? blf_pkgs[id] : NULL;
}

const blf_pkg_t *blf_pkg_find_any(const char *name, size_t len)
{
	unsigned int i;

	if(name == NULL)
		return NULL;
	for(i = 0; i < blf_npkgs; i++) {
		if(strlen(blf_pkgs[i]->name) == len
				&& strncasecmp(blf_pkgs[i]->name, name, len) == 0)
			return blf_pkgs[i];
	}
	return NULL;
}

const blf_pkg_t *blf_pkg_find(const char *name, size_t len)
{
	const blf_pkg_t *p = blf_pkg_find_any(name, len);

	return (p && p->served) ? p : NULL;
}

/* 1 when name[0..len) is one of the comma-separated names of list */
static int blf_name_in(const char *list, const char *name, size_t len)
{
	const char *p = list, *c;
	size_t n;

	for(;;) {
		c = strchr(p, ',');
		n = c ? (size_t)(c - p) : strlen(p);
		if(n == len && strncasecmp(p, name, len) == 0)
			return 1;
		if(c == NULL)
			return 0;
		p = c + 1;
	}
}

/* appends name to msg as a comma-separated list item (cut if no room) */
static void blf_msg_add(char *msg, size_t msize, const char *name, size_t len)
{
	size_t at = strlen(msg);

	if(at + 2 >= msize)
		return;
	snprintf(msg + at, msize - at, "%s%.*s", at ? "," : "", (int)len, name);
}

int blf_pkg_serve(const char *list, size_t len, char *msg, size_t msize)
{
	blf_pkg_t *p;
	size_t i = 0, b, e;
	unsigned int k, n = 0;

	if(msg == NULL || msize == 0)
		return -1;
	msg[0] = '\0';
	for(k = 0; k < blf_npkgs; k++)
		blf_pkgs[k]->served = 0;
	while(list && i <= len) {
		for(b = i; b < len && list[b] != ','; b++)
			;
		e = b; /* the item is list[i..e), trimmed */
		while(i < e && (list[i] == ' ' || list[i] == '\t'))
			i++;
		while(e > i && (list[e - 1] == ' ' || list[e - 1] == '\t'))
			e--;
		if(e > i) {
			p = (blf_pkg_t *)blf_pkg_find_any(list + i, e - i);
			if(p) {
				n += !p->served;
				p->served = 1;
			} else if(e - i <= BLF_PKG_NAME_MAX
					  && blf_name_in(BLF_PKG_KNOWN, list + i, e - i)) {
				blf_msg_add(msg, msize, list + i, e - i); /* not built */
			} else {
				snprintf(msg, msize, "unknown event package '%.*s'",
						(int)((e - i) > 64 ? 64 : (e - i)), list + i);
				goto error;
			}
		}
		i = b + 1;
	}
	if(n == 0) {
		snprintf(msg, msize, "no event package served");
		goto error;
	}
	return 0;
error:
	for(k = 0; k < blf_npkgs; k++)
		blf_pkgs[k]->served = 0;
	return -1;
}

int blf_pkg_allow_events(char *buf, size_t size)
{
	size_t at = 0, n;
	unsigned int i;

	if(buf == NULL || size == 0)
		return -1;
	buf[0] = '\0';
	for(i = 0; i < blf_npkgs; i++) {
		if(!blf_pkgs[i]->served)
			continue;
		n = strlen(blf_pkgs[i]->name);
		if(at + (at ? 2 : 0) + n + 1 > size)
			return -1;
		if(at) {
			memcpy(buf + at, ", ", 2);
			at += 2;
		}
		memcpy(buf + at, blf_pkgs[i]->name, n);
		at += n;
		buf[at] = '\0';
	}
	return (int)at;
}

/* ---- snapshots ---- */

blf_snap_t *blf_pkg_snap(
		blf_frags_t *fr, const blf_pkg_t *p, const struct blf_entity *e)
{
	blf_snap_t *sn;

	if(fr == NULL || p == NULL || p->id >= BLF_PKG_MAX)
		return NULL;
	sn = fr->sn[p->id];
	if(sn == NULL) {
		sn = p->snapshot(e);
		if(sn == NULL)
			return NULL;
		sn->refs = 1; /* fr's */
		sn->pkg = p;
		fr->sn[p->id] = sn;
	}
	sn->refs++; /* the caller's */
	return sn;
}

void blf_snap_hold(blf_snap_t *sn)
{
	if(sn)
		sn->refs++;
}

void blf_snap_put(blf_snap_t *sn)
{
	if(sn && --sn->refs <= 0)
		sn->pkg->snap_free(sn);
}

void blf_frags_free(blf_frags_t *fr)
{
	int i;

	for(i = 0; i < BLF_PKG_MAX; i++) {
		blf_snap_put(fr->sn[i]);
		fr->sn[i] = NULL;
	}
}
