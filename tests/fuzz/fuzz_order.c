/* FUZZ-SOURCES: blf_order.c blf_vis.c */
/*
 * fuzz_order.c — libFuzzer harness of the cluster's ordering (blf_order.c)
 * and the visibility decision (blf_vis.c), fed what a peer controls: the
 * sequences of a replica and its history, node names and a subscription
 * tag, alias and per-watcher policies of any value. Checked properties:
 *  - history: the indexes are in range and distinct, each names an entry
 *    before seq, sequences are unique and oldest first, and no entry
 *    before seq with a new sequence is left out;
 *  - the fate of a replica agrees with blf_seq_after();
 *  - the takeover pick is an alive node (or 0 when none is) and the same
 *    as the snprintf-based code it replaced;
 *  - visibility is always in range, full for the entity itself, and never
 *    more than a ceiling.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include "fuzz.h"

#include "blf_order.h"
#include "blf_vis.h"

#define FZ_HIST 64
#define FZ_NODES 32
#define FZ_NAME 128

static void fz_hist(fz_in_t *in)
{
	unsigned short h[FZ_HIST], seq;
	int idx[FZ_HIST], n, m, i, j, seen;

	seq = (unsigned short)fz_u16(in);
	n = (int)(fz_u8(in) % (FZ_HIST + 1));
	for(i = 0; i < n; i++)
		h[i] = (unsigned short)fz_u16(in);
	m = blf_order_hist(h, n, seq, idx);
	FZ_CHECK(m >= 0 && m <= n);
	for(i = 0; i < m; i++) {
		FZ_CHECK(idx[i] >= 0 && idx[i] < n);
		FZ_CHECK(blf_seq_before(h[idx[i]], seq));
		for(j = 0; j < i; j++)
			FZ_CHECK(h[idx[j]] != h[idx[i]] && idx[j] != idx[i]);
		if(i > 0) /* oldest first: farther from seq before nearer */
			FZ_CHECK((unsigned short)(seq - h[idx[i - 1]])
					 > (unsigned short)(seq - h[idx[i]]));
	}
	for(i = 0; i < n; i++) {
		if(!blf_seq_before(h[i], seq))
			continue;
		for(seen = 0, j = 0; j < m; j++)
			seen |= h[idx[j]] == h[i];
		FZ_CHECK(seen);
	}
}

static void fz_fate(fz_in_t *in)
{
	blf_order_mark_t c, t;
	unsigned short seq;
	int origin, term;
	blf_order_fate_t f;

	c.present = (int)(fz_u8(in) & 1);
	c.origin = (int)(fz_u8(in) & 3);
	c.seq = (unsigned short)fz_u16(in);
	t.present = (int)(fz_u8(in) & 1);
	t.origin = (int)(fz_u8(in) & 3);
	t.seq = (unsigned short)fz_u16(in);
	origin = (int)(fz_u8(in) & 3);
	seq = (unsigned short)fz_u16(in);
	term = (int)(fz_u8(in) & 1);
	f = blf_order_call(&c, &t, origin, seq, term);
	FZ_CHECK(f >= BLF_ORDER_APPLY && f <= BLF_ORDER_TOMB);
	if(f == BLF_ORDER_LATE)
		FZ_CHECK(c.present && c.origin == origin
				 && !blf_seq_after(seq, c.seq));
	if(c.present && c.origin == origin && blf_seq_after(seq, c.seq))
		FZ_CHECK(f == BLF_ORDER_APPLY);
	if(f == BLF_ORDER_ENDED || f == BLF_ORDER_TOMB)
		FZ_CHECK(!c.present);
}

typedef struct fz_node {
	char name[FZ_NAME];
	int pad;
} fz_node_t;

static void fz_pick(fz_in_t *in)
{
	static fz_node_t nd[FZ_NODES];
	int alive[FZ_NODES], n, i, who, ref, any = 0, len;
	unsigned int best = 0, h;
	char buf[256], *s, *tag;
	size_t l, tl;

	memset(nd, 0, sizeof(nd));
	n = (int)(fz_u8(in) % (FZ_NODES + 1));
	for(i = 0; i < n; i++) {
		alive[i] = (int)(fz_u8(in) & 1);
		any |= alive[i];
		s = fz_str(in, &l);
		memcpy(nd[i].name, s, l < FZ_NAME - 1 ? l : FZ_NAME - 1);
		free(s);
	}
	tag = fz_str(in, &tl);
	who = blf_order_pick(nd[0].name, sizeof(fz_node_t), alive, n, tag, tl);
	FZ_CHECK(who >= 0 && (n == 0 || who < n));
	FZ_CHECK(any ? alive[who] : who == 0);
	/* the code it replaced (tag without NUL: fz_str stops at one) */
	for(ref = 0, i = 0; i < n; i++) {
		if(!alive[i])
			continue;
		len = snprintf(buf, sizeof(buf), "%s|%.*s", nd[i].name, (int)tl, tag);
		h = blf_hash1_raw2(
				buf, len < (int)sizeof(buf) ? len : (int)sizeof(buf) - 1);
		if(h >= best) {
			best = h;
			ref = i;
		}
	}
	FZ_CHECK(who == ref);
	free(tag);
}

static void fz_vis(fz_in_t *in)
{
	int g = (int)(signed char)fz_u8(in), e = (int)(signed char)fz_u8(in);
	int w = (int)(signed char)fz_u8(in), c = (int)(signed char)fz_u8(in);
	int self = (int)(fz_u8(in) & 1);
	blf_vis_t v = blf_vis_decide((blf_vis_t)g, e, w, c, self);

	FZ_CHECK((int)v >= BLF_VIS_FULL && (int)v <= BLF_VIS_NONE);
	if(self)
		FZ_CHECK(v == BLF_VIS_FULL);
	else if(c >= BLF_VIS_FULL && c <= BLF_VIS_NONE)
		FZ_CHECK((int)v >= c);
	else if(c != BLF_VIS_UNSET)
		FZ_CHECK(v == BLF_VIS_NONE);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_in_t in = {data, size};

	switch(fz_u8(&in) & 3) {
		case 0:
			fz_hist(&in);
			break;
		case 1:
			fz_fate(&in);
			break;
		case 2:
			fz_pick(&in);
			break;
		default:
			fz_vis(&in);
			break;
	}
	return 0;
}
