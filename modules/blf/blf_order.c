/*
 * blf_order.c — the cluster's ordering decisions (see blf_order.h): sequence
 * comparison with wrap-around, a replica's history in order, the fate of a
 * call replica against the call held and its tombstone, and the node that
 * takes a dead node's subscription. Pure: libc only.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>

#include "blf_order.h"

/* a byte as Kamailio's hashes read it: a plain (signed, on x86) char,
 * promoted to int and wrapped to unsigned -- done here in unsigned
 * arithmetic, where the core's signed multiply could overflow */
static unsigned int blf_hash_byte(const char *p)
{
	return (unsigned int)(int)*p;
}

unsigned int blf_hash1_raw(const char *s, size_t len)
{
	const char *p, *end = s + len;
	unsigned int v, h = 0;

	for(p = s; len >= 4 && p <= end - 4; p += 4) {
		v = (blf_hash_byte(p) << 24) + (blf_hash_byte(p + 1) << 16)
			+ (blf_hash_byte(p + 2) << 8) + blf_hash_byte(p + 3);
		h += v ^ (v >> 3);
	}
	switch(end - p) {
		case 3:
			v = (blf_hash_byte(p) << 16) + (blf_hash_byte(p + 1) << 8)
				+ blf_hash_byte(p + 2);
			break;
		case 2:
			v = (blf_hash_byte(p) << 8) + blf_hash_byte(p + 1);
			break;
		case 1:
			v = blf_hash_byte(p);
			break;
		default:
			v = 0;
			break;
	}
	h += v ^ (v >> 3);
	return (h + (h >> 11)) + ((h >> 13) + (h >> 23));
}

unsigned int blf_hash1_raw2(const char *s, size_t len)
{
	const char *p, *end = s + len;
	unsigned int v, h = 0;

	for(p = s; len >= 4 && p <= end - 4; p += 4) {
		v = blf_hash_byte(p) * 16777213u + blf_hash_byte(p + 1) * 65537u
			+ blf_hash_byte(p + 2) * 257u + blf_hash_byte(p + 3);
		h = 16777259u * h + (v ^ (v << 17));
	}
	for(v = 0; p < end; p++)
		v = v * 251u + blf_hash_byte(p);
	h = 16777259u * h + (v ^ (v << 17));
	return (h + (h >> 7)) + ((h >> 13) + (h >> 23));
}

int blf_seq_after(unsigned short a, unsigned short b)
{
	unsigned short d = (unsigned short)(a - b);

	return d != 0 && d < 0x8000u;
}

int blf_seq_before(unsigned short a, unsigned short b)
{
	unsigned short d = (unsigned short)(b - a);

	return d != 0 && d <= 0x8000u;
}

int blf_order_hist(
		const unsigned short *hseq, int n, unsigned short seq, int *idx)
{
	int i, j, k, m = 0;

	if(n < 0 || (n > 0 && (hseq == NULL || idx == NULL)))
		return -1;
	for(i = 0; i < n; i++) {
		/* the replica's own state (or later): applied last, by itself */
		if(!blf_seq_before(hseq[i], seq))
			continue;
		for(j = 0; j < m && hseq[idx[j]] != hseq[i]; j++)
			;
		if(j < m)
			continue; /* a sequence seen already: the first one counts */
		/* insertion, oldest first: the farther back from seq, the older
		 * (each distance is 1..32768, no wrap between them) */
		for(k = m; k > 0
				   && (unsigned short)(seq - hseq[idx[k - 1]])
							  < (unsigned short)(seq - hseq[i]);
				k--)
			idx[k] = idx[k - 1];
		idx[k] = i;
		m++;
	}
	return m;
}

const char *blf_order_fate_name(blf_order_fate_t f)
{
	switch(f) {
		case BLF_ORDER_APPLY:
			return "apply";
		case BLF_ORDER_LATE:
			return "late";
		case BLF_ORDER_ENDED:
			return "ended";
		case BLF_ORDER_TOMB:
			return "tomb";
	}
	return "unknown";
}

blf_order_fate_t blf_order_call(const blf_order_mark_t *call,
		const blf_order_mark_t *tomb, int origin, unsigned short seq,
		int terminated)
{
	int held = call && call->present;

	if(held && call->origin == origin && !blf_seq_after(seq, call->seq))
		return BLF_ORDER_LATE;
	if(!held && tomb && tomb->present && tomb->origin == origin
			&& !blf_seq_after(seq, tomb->seq))
		return BLF_ORDER_ENDED;
	if(!held && terminated)
		return BLF_ORDER_TOMB;
	return BLF_ORDER_APPLY;
}

unsigned int blf_order_tomb_kh(
		const char *a, size_t alen, const char *b, size_t blen, int n)
{
	unsigned int h = blf_hash1_raw(a, alen) + (unsigned int)n;

	if(b)
		h ^= blf_hash1_raw(b, blen) * 2654435761u;
	return h;
}

/* the longest "<name>|<tag>" hashed: blf_dmq.c printed it into 256 bytes */
#define BLF_ORDER_PICK_BUF 256

int blf_order_pick(const char *names, size_t stride, const int *alive, int n,
		const char *tag, size_t taglen)
{
	char buf[BLF_ORDER_PICK_BUF];
	unsigned int best = 0, h;
	size_t nl, tl, len;
	int i, who = 0;

	if(names == NULL || alive == NULL || (tag == NULL && taglen > 0))
		return 0;
	for(i = 0; i < n; i++) {
		const char *name = names + (size_t)i * stride;

		if(!alive[i])
			continue;
		nl = strnlen(name, stride);
		len = 0;
		if(nl > sizeof(buf) - 1)
			nl = sizeof(buf) - 1;
		memcpy(buf, name, nl);
		len = nl;
		if(len < sizeof(buf) - 1)
			buf[len++] = '|';
		tl = taglen < sizeof(buf) - 1 - len ? taglen : sizeof(buf) - 1 - len;
		if(tl)
			memcpy(buf + len, tag, tl);
		len += tl;
		h = blf_hash1_raw2(buf, len);
		/* >=: ties go to the later node, as they always have */
		if(h >= best) {
			best = h;
			who = i;
		}
	}
	return who;
}
