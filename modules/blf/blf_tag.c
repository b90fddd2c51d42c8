/*
 * blf_tag.c — the subscription To tag: the entity hash in its first eight
 * hex digits (see blf_tag.h). Pure: libc only.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <stdio.h>

#include "blf_tag.h"

int blf_tag_encode(char *buf, size_t size, unsigned int hash, unsigned int pid,
		unsigned int rnd, unsigned int seq)
{
	int n;

	if(buf == NULL || size < BLF_TAG_LEN + 1)
		return -1;
	n = snprintf(buf, size, "%08x%04x%04x%04x", hash, pid & 0xffffu,
			rnd & 0xffffu, seq & 0xffffu);
	return n == BLF_TAG_LEN ? n : -1;
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
