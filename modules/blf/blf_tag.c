/*
 * blf_tag.c — the subscription To tag: the entity hash in its first eight
 * hex digits (see blf_tag.h). Pure: libc only.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */


#include "blf_tag.h"

/* v in n lower-case hex digits at p (once per SUBSCRIBE: no snprintf) */
static char *blf_tag_hex(char *p, unsigned int v, int n)
{
	static const char hex[] = "0123456789abcdef";
	int i;

	for(i = n - 1; i >= 0; i--) {
		p[i] = hex[v & 0xfu];
		v >>= 4;
	}
	return p + n;
}

int blf_tag_encode(char *buf, size_t size, unsigned int hash, unsigned int pid,
		unsigned int rnd, unsigned int seq)
{
	char *p;

	if(buf == NULL || size < BLF_TAG_LEN + 1)
		return -1;
	/* "%08x%04x%04x%04x" */
	p = blf_tag_hex(buf, hash, 8);
	p = blf_tag_hex(p, pid & 0xffffu, 4);
	p = blf_tag_hex(p, rnd & 0xffffu, 4);
	p = blf_tag_hex(p, seq & 0xffffu, 4);
	*p = '\0';
	return BLF_TAG_LEN;
}

/* 0..15, or -1: upper case is not ours (we print lower case only) */
static int blf_tag_xdigit(char c)
{
	if(c >= '0' && c <= '9')
		return c - '0';
	if(c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

int blf_tag_decode(const char *s, size_t len, unsigned int *hash)
{
	unsigned int h = 0;
	size_t i;
	int d;

	if(s == NULL || len != BLF_TAG_LEN)
		return -1;
	/* every digit, not just the hash's: a tag with junk after the hash
	 * was never printed by us */
	for(i = 0; i < len; i++) {
		if((d = blf_tag_xdigit(s[i])) < 0)
			return -1;
		if(i < 8)
			h = (h << 4) | (unsigned int)d;
	}
	*hash = h;
	return 0;
}
