/*
 * blf_mvers.c — the stored form of a list subscription's member versions
 * (see blf_mvers.h): format, strict parse (a hostile peer's replica or a
 * damaged row is refused whole), and the resume rule. Pure: libc only.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <stdio.h>
#include <string.h>

#include "blf_mvers.h"

uint32_t blf_mvers_hash(const char *uri, size_t len)
{
	uint32_t h = 2166136261u;
	size_t i;

	for(i = 0; i < len; i++) {
		h ^= (unsigned char)uri[i];
		h *= 16777619u;
	}
	return h;
}

int blf_mvers_format(
		uint32_t anchor, const blf_mver_t *m, int n, char *buf, size_t size)
{
	size_t off;
	int i, k;

	if(buf == NULL || size == 0 || n < 0 || n > BLF_MVERS_MAX
			|| (n > 0 && m == NULL))
		return -1;
	k = snprintf(buf, size, "%u;", (unsigned int)anchor);
	if(k < 0 || (size_t)k >= size)
		return -1;
	off = (size_t)k;
	for(i = 0; i < n; i++) {
		k = snprintf(buf + off, size - off, "%s%08x:%u", i ? "," : "",
				(unsigned int)m[i].h, (unsigned int)m[i].v);
		if(k < 0 || (size_t)k >= size - off)
			return -1;
		off += (size_t)k;
	}
	return (int)off;
}

/* a decimal uint32 at s[*i..len): digits only, at most 10, no overflow */
static int blf_mvers_dec(const char *s, size_t len, size_t *i, uint32_t *out)
{
	uint64_t v = 0;
	size_t st = *i;

	while(*i < len && s[*i] >= '0' && s[*i] <= '9' && *i - st < 11) {
		v = v * 10 + (uint64_t)(s[*i] - '0');
		(*i)++;
	}
	if(*i == st || *i - st > 10 || v > 0xffffffffu)
		return -1;
	*out = (uint32_t)v;
	return 0;
}

static int blf_mvers_hex(const char *s, size_t len, size_t *i, uint32_t *out)
{
	uint32_t v = 0;
	int k;

	if(len - *i < 8)
		return -1;
	for(k = 0; k < 8; k++) {
		char c = s[*i + (size_t)k];
		v <<= 4;
		if(c >= '0' && c <= '9')
			v |= (uint32_t)(c - '0');
		else if(c >= 'a' && c <= 'f')
			v |= (uint32_t)(c - 'a' + 10);
		else
			return -1;
	}
	*i += 8;
	*out = v;
	return 0;
}

int blf_mvers_parse(
		const char *s, size_t len, uint32_t *anchor, blf_mver_t *out, int max)
{
	size_t i = 0;
	int n = 0;

	if(s == NULL || anchor == NULL || max < 0 || len > BLF_MVERS_TEXT_MAX)
		return -1;
	if(blf_mvers_dec(s, len, &i, anchor) < 0 || i >= len || s[i] != ';')
		return -1;
	i++;
	if(i == len)
		return 0;
	for(;;) {
		blf_mver_t e;
		if(n >= max || n >= BLF_MVERS_MAX)
			return -1;
		if(blf_mvers_hex(s, len, &i, &e.h) < 0 || i >= len || s[i] != ':')
			return -1;
		i++;
		if(blf_mvers_dec(s, len, &i, &e.v) < 0)
			return -1;
		if(out)
			out[n] = e;
		n++;
		if(i == len)
			return n;
		if(s[i] != ',')
			return -1;
		i++;
	}
}

uint32_t blf_mvers_resume(
		const blf_mver_t *m, int n, uint32_t anchor, uint32_t now, uint32_t h)
{
	uint32_t d = (int32_t)(now - anchor) > 0 ? now - anchor : 0;
	uint32_t best = 0;
	int i, found = 0;

	for(i = 0; i < n; i++)
		if(m[i].h == h && (!found || m[i].v > best)) {
			best = m[i].v;
			found = 1;
		}
	return best + d;
}

int blf_mvers_merge(blf_mver_t *m, int n, int max, const blf_mver_t *d, int nd)
{
	int i, j;

	if(m == NULL || n < 0 || n > max || nd < 0 || (nd > 0 && d == NULL))
		return -1;
	for(j = 0; j < nd; j++) {
		int found = 0;
		for(i = 0; i < n; i++)
			if(m[i].h == d[j].h) {
				if(d[j].v > m[i].v)
					m[i].v = d[j].v;
				found = 1;
			}
		if(found)
			continue;
		if(n >= max)
			return -1;
		m[n++] = d[j];
	}
	return n;
}
