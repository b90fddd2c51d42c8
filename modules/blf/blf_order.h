/*
 * blf_order.h — the cluster's ordering decisions, pure (no Kamailio): which
 * call replica is newer (16-bit sequences that wrap), which of a replica's
 * history entries still have to be applied and in what order, whether a
 * replica is late, ends a call or revives a call that has ended (its
 * tombstone), and which surviving node takes a dead node's subscription.
 *
 * Every node of a cluster must reach the same answers from the same input:
 * these functions read nothing but their arguments, and the hashes are
 * bit-for-bit Kamailio's (core/hashes.h), so a node built from this file
 * and one built before it (blf_dmq.c used the core's) agree during a
 * rolling upgrade.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_ORDER_H
#define BLF_ORDER_H

#include <stddef.h>

/* Kamailio's get_hash1_raw() and get_hash1_raw2(), bit for bit */
unsigned int blf_hash1_raw(const char *s, size_t len);
unsigned int blf_hash1_raw2(const char *s, size_t len);

/*
 * 1 when sequence a comes after b: the distance from b forward to a is
 * 1..32767 (serial number arithmetic, RFC 1982, on 16 bits), so 0 follows
 * 65535. Equal sequences, and a exactly half the circle away, are not after.
 */
int blf_seq_after(unsigned short a, unsigned short b);

/*
 * 1 when history entry a is before sequence b: the distance from a forward
 * to b is 1..32768. Not the negation of blf_seq_after(): exactly half the
 * circle back counts as before, as blf_dmq.c has always read a history.
 */
int blf_seq_before(unsigned short a, unsigned short b);

/*
 * A replica's history (the sequences of its earlier states, hseq[0..n-1],
 * as sent) against its own sequence seq: writes into idx the indexes of
 * the entries to apply before seq itself -- those before seq
 * (blf_seq_before), each sequence once (the first entry carrying it),
 * oldest first -- and returns their number (<= n), or -1 when n < 0 or an
 * array is missing with n > 0. (blf_dmq.c applies a history in the order
 * sent, skipping what is not before seq; this is the same with the order
 * and duplicates made safe, for when the history loop moves here.)
 */
int blf_order_hist(
		const unsigned short *hseq, int n, unsigned short seq, int *idx);

/* what this node knows of one call of one entity, from one origin node */
typedef struct blf_order_mark
{
	int present;		/* 0: nothing known (the other fields are unused) */
	int origin;			/* the node whose call it is */
	unsigned short seq; /* the last sequence applied, or that ended it */
} blf_order_mark_t;

typedef enum blf_order_fate
{
	BLF_ORDER_APPLY = 0, /* a new call or a newer state: apply it */
	BLF_ORDER_LATE,		 /* not newer than the call we hold: skip */
	BLF_ORDER_ENDED,	 /* a state of a call that has ended: skip */
	BLF_ORDER_TOMB,		 /* the end of a call we do not hold: remember
							it (a tombstone), apply nothing */
} blf_order_fate_t;

const char *blf_order_fate_name(blf_order_fate_t f);

/*
 * The fate of a call replica (state `terminated` or not) of node origin at
 * sequence seq, given the call we hold (call, or NULL / !present) and the
 * tombstone of that call (tomb, or NULL / !present). A held call or a
 * tombstone of another origin does not order this one: the call has moved
 * between nodes, and the replica applies.
 */
blf_order_fate_t blf_order_call(const blf_order_mark_t *call,
		const blf_order_mark_t *tomb, int origin, unsigned short seq,
		int terminated);

/* the key of a tombstone: Kamailio's hash of a, xor the hash of b (may be
 * NULL) times a constant, plus n (blf_dmq.c's blf_tomb_kh) */
unsigned int blf_order_tomb_kh(
		const char *a, size_t alen, const char *b, size_t blen, int n);

/*
 * The node that takes over a subscription with To tag `tag` when its owner
 * died: of the nodes i in 0..n-1 with alive[i], the one whose
 * blf_hash1_raw2("<name>|<tag>") (cut at 255 bytes) is highest; on a tie
 * the later index. Node i's name is the NUL-terminated string at
 * names + i * stride (an array of structs each holding a name), read up
 * to stride bytes. 0 when no node is alive (node 0 is this node).
 */
int blf_order_pick(const char *names, size_t stride, const int *alive, int n,
		const char *tag, size_t taglen);

#endif
