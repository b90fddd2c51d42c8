/* UNIT-SOURCES: blf_order.c */
/*
 * test_order.c — unit tests of blf_order.c, the cluster's ordering: the
 * hashes against Kamailio's own (vectors printed by core/hashes.h), 16-bit
 * sequences across the wrap, a replica's history (out of order,
 * duplicated, the replica's own state in it, wrapped, hostile counts), the
 * fate of a replica against the call held and its tombstone, and the
 * takeover choice (one node, ties, 32 nodes, the dead node itself, long
 * and empty names) against the code it replaced in blf_dmq.c.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <stdlib.h>

#include "tap.h"

#include "blf_order.h"

/* printed by get_hash1_raw()/get_hash1_raw2() of Kamailio 5.6 core/hashes.h */
static const struct
{
	const char *s;
	unsigned int raw, raw2;
} t_hash[] = {
		{"", 0x00000000u, 0x00000000u},
		{"a", 0x0000006du, 0x00c38a72u},
		{"ab", 0x00006d5eu, 0xc07e4d8au},
		{"abc", 0x006d5f42u, 0x403b117cu},
		{"abcd", 0x6d5f4418u, 0x25d6e3e6u},
		{"abcde", 0x6d5f4481u, 0x26a27e9cu},
		{"node-a|0123456789abcdef0123", 0x9e9c3730u, 0x4ce2053au},
		{"sip:201@example.com", 0x9a3b0598u, 0xb310deffu},
		{"\xff\x80\x7f\xc3\xa9xyz", 0x9dc08ae6u, 0xa4b649f6u},
		{"call-id-1@10.0.0.1", 0xfb575b05u, 0x8520c7d3u},
};

static void test_hash(void)
{
	unsigned int i;
	char *b;
	size_t n;

	for(i = 0; i < sizeof(t_hash) / sizeof(t_hash[0]); i++) {
		/* exact-size copies: no byte past the length is read */
		n = strlen(t_hash[i].s);
		b = malloc(n ? n : 1);
		if(b == NULL)
			abort();
		memcpy(b, t_hash[i].s, n);
		if(!CHECK(blf_hash1_raw(b, n) == t_hash[i].raw))
			printf("     raw [%s]: %08x\n", t_hash[i].s, blf_hash1_raw(b, n));
		if(!CHECK(blf_hash1_raw2(b, n) == t_hash[i].raw2))
			printf("     raw2 [%s]: %08x\n", t_hash[i].s, blf_hash1_raw2(b, n));
		free(b);
	}
}

static void test_seq(void)
{
	CHECK(blf_seq_after(1, 0));
	CHECK(!blf_seq_after(0, 1));
	CHECK(!blf_seq_after(5, 5));
	/* across the wrap */
	CHECK(blf_seq_after(0, 65535));
	CHECK(blf_seq_after(3, 65530));
	CHECK(!blf_seq_after(65530, 3));
	/* the farthest still after, and half the circle (ambiguous: not) */
	CHECK(blf_seq_after(32767, 0));
	CHECK(!blf_seq_after(32768, 0));
	CHECK(!blf_seq_after(0, 32768));
	CHECK(blf_seq_after(32767 + 100, 100));
	/* before: half the circle back counts, as blf_dmq.c read histories */
	CHECK(blf_seq_before(0, 1));
	CHECK(blf_seq_before(65535, 0));
	CHECK(blf_seq_before(0, 32768));
	CHECK(!blf_seq_before(0, 32769));
	CHECK(!blf_seq_before(7, 7));
	CHECK(!blf_seq_before(8, 7));
}

static void test_hist(void)
{
	int idx[16];
	unsigned short in_order[] = {1, 2, 3};
	unsigned short shuffled[] = {3, 1, 2};
	unsigned short dup[] = {2, 1, 2, 1};
	unsigned short own[] = {1, 4, 2, 5, 9}; /* seq 4: 4, 5, 9 are not before */
	unsigned short wrap[] = {2, 65534, 0, 65535, 1};
	unsigned short half[] = {40000, 7232, 7233};

	CHECK_INT(blf_order_hist(in_order, 3, 4, idx), 3);
	CHECK(idx[0] == 0 && idx[1] == 1 && idx[2] == 2);
	CHECK_INT(blf_order_hist(shuffled, 3, 4, idx), 3);
	CHECK(idx[0] == 1 && idx[1] == 2 && idx[2] == 0);
	CHECK_INT(blf_order_hist(dup, 4, 3, idx), 2);
	CHECK(idx[0] == 1 && idx[1] == 0); /* the first of each */
	CHECK_INT(blf_order_hist(own, 5, 4, idx), 2);
	CHECK(idx[0] == 0 && idx[1] == 2);
	/* 65534 < 65535 < 0 < 1 < 2 < seq 3 */
	CHECK_INT(blf_order_hist(wrap, 5, 3, idx), 5);
	CHECK(idx[0] == 1 && idx[1] == 3 && idx[2] == 2 && idx[3] == 4
			&& idx[4] == 0);
	/* seq 40000: 7232 is exactly half the circle back (before, oldest),
	 * 7233 is after it; 40000 itself is not before */
	CHECK_INT(blf_order_hist(half, 3, 40000, idx), 2);
	CHECK(idx[0] == 1 && idx[1] == 2);
	/* hostile counts and arrays */
	CHECK_INT(blf_order_hist(in_order, 0, 4, idx), 0);
	CHECK_INT(blf_order_hist(NULL, 0, 4, NULL), 0);
	CHECK_INT(blf_order_hist(in_order, -1, 4, idx), -1);
	CHECK_INT(blf_order_hist(NULL, 3, 4, idx), -1);
	CHECK_INT(blf_order_hist(in_order, 3, 4, NULL), -1);
	{
		/* 1000 entries, all the same or all distinct, in reverse */
		unsigned short *h = malloc(1000 * sizeof(*h));
		int *ix = malloc(1000 * sizeof(*ix)), i, ok = 1;

		if(h == NULL || ix == NULL)
			abort();
		for(i = 0; i < 1000; i++)
			h[i] = 7;
		CHECK_INT(blf_order_hist(h, 1000, 8, ix), 1);
		for(i = 0; i < 1000; i++)
			h[i] = (unsigned short)(65000 + 999 - i); /* wraps at 536 */
		CHECK_INT(blf_order_hist(h, 1000, 1000, ix), 1000);
		for(i = 0; i < 1000; i++)
			ok &= ix[i] == 999 - i;
		CHECK(ok);
		free(h);
		free(ix);
	}
}

static void test_fate(void)
{
	blf_order_mark_t none = {0, 0, 0}, c = {1, 2, 10}, t = {1, 2, 10},
					 other = {1, 3, 10}, cw = {1, 2, 65535};

	/* nothing known: a live state applies, an end leaves a tombstone */
	CHECK_INT(blf_order_call(NULL, NULL, 2, 1, 0), BLF_ORDER_APPLY);
	CHECK_INT(blf_order_call(&none, &none, 2, 1, 0), BLF_ORDER_APPLY);
	CHECK_INT(blf_order_call(NULL, NULL, 2, 1, 1), BLF_ORDER_TOMB);
	/* the call held: older or equal is late, newer applies (also its end) */
	CHECK_INT(blf_order_call(&c, NULL, 2, 9, 0), BLF_ORDER_LATE);
	CHECK_INT(blf_order_call(&c, NULL, 2, 10, 0), BLF_ORDER_LATE);
	CHECK_INT(blf_order_call(&c, NULL, 2, 11, 0), BLF_ORDER_APPLY);
	CHECK_INT(blf_order_call(&c, NULL, 2, 11, 1), BLF_ORDER_APPLY);
	CHECK_INT(blf_order_call(&cw, NULL, 2, 0, 0), BLF_ORDER_APPLY);
	CHECK_INT(blf_order_call(&cw, NULL, 2, 65534, 0), BLF_ORDER_LATE);
	/* held from another origin: the call moved, the replica applies */
	CHECK_INT(blf_order_call(&other, NULL, 2, 1, 0), BLF_ORDER_APPLY);
	/* a tombstone: a late state of an ended call stays ended */
	CHECK_INT(blf_order_call(NULL, &t, 2, 9, 0), BLF_ORDER_ENDED);
	CHECK_INT(blf_order_call(NULL, &t, 2, 10, 1), BLF_ORDER_ENDED);
	CHECK_INT(blf_order_call(NULL, &t, 2, 11, 0), BLF_ORDER_APPLY);
	CHECK_INT(blf_order_call(NULL, &t, 2, 11, 1), BLF_ORDER_TOMB);
	CHECK_INT(blf_order_call(NULL, &other, 2, 9, 0), BLF_ORDER_APPLY);
	/* a tombstone does not matter while the call is held */
	CHECK_INT(blf_order_call(&c, &t, 2, 11, 0), BLF_ORDER_APPLY);
	CHECK_STR(blf_order_fate_name(BLF_ORDER_ENDED), "ended");
	CHECK_STR(blf_order_fate_name((blf_order_fate_t)99), "unknown");
}

static void test_tomb_kh(void)
{
	unsigned int a = blf_order_tomb_kh("c1@h", 4, NULL, 0, 0);

	CHECK(a == blf_hash1_raw("c1@h", 4));
	CHECK(blf_order_tomb_kh("c1@h", 4, NULL, 0, 1) == a + 1);
	CHECK(blf_order_tomb_kh("c1@h", 4, "t", 1, 0)
			== (a ^ (blf_hash1_raw("t", 1) * 2654435761u)));
	/* the direction and the tag tell tombstones of one Call-ID apart */
	CHECK(blf_order_tomb_kh("c1@h", 4, NULL, 0, 0)
			!= blf_order_tomb_kh("c1@h", 4, NULL, 0, 1));
	CHECK(blf_order_tomb_kh("c1@h", 4, "t1", 2, 0)
			!= blf_order_tomb_kh("c1@h", 4, "t2", 2, 0));
}

/* --- takeover ---------------------------------------------------------- */

#define T_NAME 128 /* blf_dmq.c's blf_node_t.name: BLF_REPL_NAME_MAX + 1 */

typedef struct t_node
{
	char name[T_NAME];
	int other; /* the rest of a node record, to test the stride */
} t_node_t;

/* blf_dmq.c's blf_dmq_pick() as it was, on the same hash */
static int t_pick_ref(const t_node_t *nd, const int *alive, int n,
		const char *tag, int taglen)
{
	unsigned int best = 0, h;
	int i, who = 0, len;
	char buf[256];

	for(i = 0; i < n; i++) {
		if(!alive[i])
			continue;
		len = snprintf(buf, sizeof(buf), "%s|%.*s", nd[i].name, taglen, tag);
		h = blf_hash1_raw2(
				buf, len < (int)sizeof(buf) ? len : (int)sizeof(buf) - 1);
		if(h >= best) {
			best = h;
			who = i;
		}
	}
	return who;
}

static int t_pick(const t_node_t *nd, const int *alive, int n, const char *tag)
{
	return blf_order_pick(
			nd[0].name, sizeof(t_node_t), alive, n, tag, strlen(tag));
}

static void test_pick(void)
{
	t_node_t nd[32];
	int alive[32], i, k, who, same = 1, spread[32] = {0}, used = 0;
	char tag[32];

	memset(nd, 0, sizeof(nd));
	for(i = 0; i < 32; i++) {
		snprintf(nd[i].name, T_NAME, "node-%d.example.com", i);
		alive[i] = 1;
	}
	/* one node: always itself */
	CHECK_INT(t_pick(nd, alive, 1, "0123456789abcdef0123"), 0);
	/* nobody alive, or no node at all: 0 (this node) */
	for(i = 0; i < 32; i++)
		alive[i] = 0;
	CHECK_INT(t_pick(nd, alive, 32, "0123456789abcdef0123"), 0);
	CHECK_INT(t_pick(nd, alive, 0, "x"), 0);
	for(i = 0; i < 32; i++)
		alive[i] = 1;
	/* 32 nodes, node 5 dead: the same node as the code it replaces, never
	 * the dead one, and the tags spread over the survivors */
	alive[5] = 0;
	for(k = 0; k < 2000; k++) {
		snprintf(tag, sizeof(tag), "%08x0000%04x%04x", k * 2654435761u,
				k & 0xffff, (k * 7) & 0xffff);
		who = t_pick(nd, alive, 32, tag);
		same &= who == t_pick_ref(nd, alive, 32, tag, (int)strlen(tag));
		same &= who != 5;
		spread[who]++;
	}
	CHECK(same);
	for(i = 0; i < 32; i++)
		used += spread[i] > 0;
	CHECK(used >= 25);
	/* ties go to the later node: the same name twice */
	strcpy(nd[1].name, nd[0].name);
	CHECK_INT(t_pick(nd, alive, 2, "abc"), 1);
	/* empty names and an empty tag still pick, as before */
	nd[0].name[0] = nd[1].name[0] = '\0';
	CHECK_INT(t_pick(nd, alive, 2, ""), t_pick_ref(nd, alive, 2, "", 0));
	/* names and tags that fill the 256-byte window: cut as before */
	memset(nd[2].name, 'n', T_NAME - 1);
	memset(nd[3].name, 'm', T_NAME - 1);
	{
		char big[400];
		memset(big, 'f', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		CHECK_INT(t_pick(nd + 2, alive, 2, big),
				t_pick_ref(nd + 2, alive, 2, big, (int)strlen(big)));
		big[127] = '\0';
		CHECK_INT(t_pick(nd + 2, alive, 2, big),
				t_pick_ref(nd + 2, alive, 2, big, 127));
		big[128] = '\0';
		big[127] = 'g';
		CHECK_INT(t_pick(nd + 2, alive, 2, big),
				t_pick_ref(nd + 2, alive, 2, big, 128));
	}
	/* a name with no NUL within its record is read up to the stride */
	memset(nd[4].name, 'z', T_NAME);
	CHECK(t_pick(nd + 4, alive, 1, "t") == 0);
	/* hostile arguments */
	CHECK_INT(blf_order_pick(NULL, sizeof(t_node_t), alive, 2, "t", 1), 0);
	CHECK_INT(blf_order_pick(nd[0].name, sizeof(t_node_t), NULL, 2, "t", 1), 0);
	CHECK_INT(
			blf_order_pick(nd[0].name, sizeof(t_node_t), alive, 2, NULL, 5), 0);
}

int main(void)
{
	test_hash();
	test_seq();
	test_hist();
	test_fate();
	test_tomb_kh();
	test_pick();
	return tap_done("test_order");
}
