/*
 * blf_put.h — writing a SIP message into a buffer whose room was checked
 * before: copies and decimal numbers without snprintf(). Header only, pure;
 * used where a NOTIFY is built (blf_notify.c for tm, blf_ntx.c for the
 * module's own transactions), the hottest path of the module (see
 * bench/README.md, "Where the CPU goes against the floor").
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_PUT_H
#define BLF_PUT_H

#include <string.h>

/* n bytes of s at p, p moved past them (room checked before) */
#define BLF_PUT(p, s, n)               \
	do {                               \
		memcpy((p), (s), (size_t)(n)); \
		(p) += (n);                    \
	} while(0)
/* a string literal at p */
#define BLF_PUTS(p, lit) BLF_PUT(p, lit, sizeof(lit) - 1)

/* n in decimal at p (at most 10 bytes); the end */
static inline char *blf_put_uint(char *p, unsigned int n)
{
	char d[10];
	int i = 0;

	do {
		d[i++] = (char)('0' + n % 10);
		n /= 10;
	} while(n);
	while(i)
		*p++ = d[--i];
	return p;
}

#endif
