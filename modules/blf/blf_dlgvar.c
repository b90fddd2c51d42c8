/*
 * blf_dlgvar.c — the dialog variable of a tracked call (blf_dlgvar.h).
 * Pure: no Kamailio headers.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <stdio.h>
#include <string.h>

#include "blf_dlgvar.h"

int blf_dlgvar_encode(const blf_span_t *f, char *buf, int size)
{
	int i, n, len = 0;

	if(buf == NULL || size < 1)
		return -1;
	buf[len++] = '1';
	for(i = 0; i < BLF_DLGVAR_FIELDS; i++) {
		if(f[i].len < 0 || f[i].len > BLF_DLGVAR_FIELD_MAX
				|| (f[i].len > 0 && f[i].s == NULL))
			return -1;
		n = snprintf(buf + len, size - len, "%d:", f[i].len);
		if(n < 0 || n >= size - len || f[i].len > size - len - n)
			return -1;
		len += n;
		if(f[i].len)
			memcpy(buf + len, f[i].s, f[i].len);
		len += f[i].len;
	}
	return len;
}

int blf_dlgvar_decode(const char *s, int len, blf_span_t *f)
{
	const char *p, *end;
	int i, n, digits;

	if(s == NULL || len < 1 || s[0] != '1')
		return -1;
	p = s + 1;
	end = s + len;
	for(i = 0; i < BLF_DLGVAR_FIELDS; i++) {
		n = 0;
		digits = 0;
		while(p < end && *p >= '0' && *p <= '9') {
			n = n * 10 + (*p++ - '0');
			if(++digits > 3 || n > BLF_DLGVAR_FIELD_MAX)
				return -1;
		}
		if(digits == 0 || p >= end || *p++ != ':' || n > end - p)
			return -1;
		f[i].s = p;
		f[i].len = n;
		p += n;
	}
	if(p != end)
		return -1;
	for(i = BLF_DV_CKEY; i <= BLF_DV_RCUR; i++)
		if(f[i].len == 0 || memchr(f[i].s, '@', f[i].len) == NULL)
			return -1;
	return 0;
}
