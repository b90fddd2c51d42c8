/* UNIT-SOURCES: blf_branch.c */
/*
 * test_branch.c — unit tests of blf_branch.c: SipHash-2-4 against the
 * reference vector, branches printed and read back, and the branches an
 * attacker may send (truncated, overlong, bad digits, old formats).
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "tap.h"

#include "blf_branch.h"

static int parse(const char *s, blf_branch_t *b)
{
	return blf_branch_parse(s, strlen(s), b);
}

/* the MAC of (a, b, c) depends on every input and on the key */
static void test_mac(void)
{
	unsigned char k1[16], k2[16];
	uint64_t m;
	int i;

	for(i = 0; i < 16; i++) {
		k1[i] = (unsigned char)i;
		k2[i] = (unsigned char)i;
	}
	k2[15] ^= 1;
	/* the reference vectors (SipHash paper, key 00..0f, input 00..len-1) */
	{
		unsigned char in[15];
		for(i = 0; i < 15; i++)
			in[i] = (unsigned char)i;
		CHECK(blf_siphash(k1, in, 0) == 0x726fdb47dd0e0e31ULL);
		CHECK(blf_siphash(k1, in, 15) == 0xa129ca6149be45e5ULL);
	}
	m = blf_branch_mac(k1, 1, 2, 3);
	CHECK(m == blf_branch_mac(k1, 1, 2, 3));
	CHECK(m != blf_branch_mac(k2, 1, 2, 3));
	CHECK(m != blf_branch_mac(k1, 1, 2, 4));
	CHECK(m != blf_branch_mac(k1, 1, 3, 3));
	CHECK(m != blf_branch_mac(k1, 2, 2, 3));
	CHECK(m != 0);
}

static void test_roundtrip(void)
{
	char buf[BLF_BRANCH_MAX];
	blf_branch_t b = {0xffffffffu, 0x12345678u, 0xdeadbeefu,
			0xfedcba9876543210ULL},
				 r;
	int n;

	n = blf_branch_print(buf, sizeof(buf), &b);
	CHECK(n > 0 && n == (int)strlen(buf));
	CHECK(strncmp(buf, BLF_BRANCH_PREFIX, BLF_BRANCH_PREFIX_LEN) == 0);
	CHECK_INT(blf_branch_parse(buf, n, &r), 0);
	CHECK(r.pno == b.pno && r.id == b.id && r.boot == b.boot
			&& r.nonce == b.nonce);
	/* a buffer one byte short is refused, never overrun */
	CHECK_INT(blf_branch_print(buf, n, &b), -1);
	b.pno = 0;
	b.id = 0;
	b.nonce = 0;
	n = blf_branch_print(buf, sizeof(buf), &b);
	CHECK_INT(blf_branch_parse(buf, n, &r), 0);
	CHECK(r.nonce == 0 && r.pno == 0);
}

static void test_hostile(void)
{
	blf_branch_t b;
	static const char *bad[] = {"", "z9hG4bK", "z9hG4bKblf.",
			"z9hG4bKblf.1.2.3",			/* the old format: no nonce */
			"z9hG4bKblf.1.2.3.",		/* empty nonce */
			"z9hG4bKblf.1.2.3.4.5",		/* a field too many */
			"z9hG4bKblf..2.3.4",		/* empty field */
			"z9hG4bKblf.1.2.3.x",		/* not hex */
			"z9hG4bKblf.123456789.2.3.4", /* 9 digits */
			"z9hG4bKblf.1.2.3.12345678901234567", /* 17 digits */
			"z9hG4bKblf.1.2.3.4;", "z9hG4bKblf.-1.2.3.4",
			"z9hG4bKother.1.2.3.4", "Z9HG4BKBLF.1.2.3.4", NULL};
	int i;

	for(i = 0; bad[i]; i++)
		if(!CHECK(parse(bad[i], &b) == -1))
			printf("     branch [%s]\n", bad[i]);
	CHECK_INT(blf_branch_parse(NULL, 3, &b), -1);
	/* the length given is the end: bytes after it are not read */
	CHECK_INT(blf_branch_parse("z9hG4bKblf.1.2.3.4zzz", 18, &b), 0);
	CHECK(b.nonce == 4);
	CHECK_INT(parse("z9hG4bKblf.A.b.C.dEf", &b), 0);
	CHECK(b.pno == 0xa && b.id == 0xb && b.boot == 0xc && b.nonce == 0xdef);
}

/* s (len bytes, may hold NULs) parsed from a heap buffer of exactly len */
static int parse_exact(const char *s, size_t len, blf_branch_t *b)
{
	char *c = malloc(len ? len : 1);
	int rc;

	if(c == NULL)
		abort();
	memcpy(c, s, len);
	rc = blf_branch_parse(c, len, b);
	free(c);
	return rc;
}

/* the edges: every field at its largest, the longest branch in a buffer of
 * exactly BLF_BRANCH_MAX, leading zeros, and what no print can make */
static void test_edges(void)
{
	blf_branch_t b = {0xffffffffu, 0xffffffffu, 0xffffffffu, UINT64_MAX}, r;
	char buf[BLF_BRANCH_MAX], *big;
	int n;

	n = blf_branch_print(buf, sizeof(buf), &b);
	CHECK_INT(n, BLF_BRANCH_MAX - 1);
	CHECK_INT(parse_exact(buf, (size_t)n, &r), 0);
	CHECK(r.pno == b.pno && r.id == b.id && r.boot == b.boot
			&& r.nonce == b.nonce);
	CHECK_INT(blf_branch_print(buf, 0, &b), -1);
	CHECK_INT(blf_branch_print(NULL, sizeof(buf), &b), -1);
	CHECK_INT(blf_branch_print(buf, sizeof(buf), NULL), -1);
	CHECK_INT(blf_branch_parse("z9hG4bKblf.1.2.3.4", 18, NULL), -1);
	/* 8 digits with leading zeros are fine, for every 32-bit field */
	CHECK_INT(parse("z9hG4bKblf.00000001.00000002.00000003.0000000000000004",
					  &r),
			0);
	CHECK(r.pno == 1 && r.id == 2 && r.boot == 3 && r.nonce == 4);
	/* 9 digits refused in id and boot too, not only the first field */
	CHECK_INT(parse("z9hG4bKblf.1.123456789.3.4", &r), -1);
	CHECK_INT(parse("z9hG4bKblf.1.2.123456789.4", &r), -1);
	CHECK_INT(parse("z9hG4bKblf.1.2.3.ffffffffffffffff", &r), 0);
	CHECK(r.nonce == UINT64_MAX);
	/* NUL, space, sign, 0x, a second dot, a trailing dot: never ours */
	CHECK_INT(parse_exact("z9hG4bKblf.1.2\0.3.4", 19, &r), -1);
	CHECK_INT(parse_exact("z9hG4bKblf.1.2.3.4\0", 19, &r), -1);
	CHECK_INT(parse("z9hG4bKblf.1 .2.3.4", &r), -1);
	CHECK_INT(parse("z9hG4bKblf.+1.2.3.4", &r), -1);
	CHECK_INT(parse("z9hG4bKblf.0x1.2.3.4", &r), -1);
	CHECK_INT(parse("z9hG4bKblf.1..2.3.4", &r), -1);
	CHECK_INT(parse("z9hG4bKblf.1.2.3.4.", &r), -1);
	CHECK_INT(parse("z9hG4bKblf.1.2.3.\xff", &r), -1);
	/* a prefix cut anywhere */
	for(n = 0; n <= (int)BLF_BRANCH_PREFIX_LEN; n++)
		CHECK_INT(parse_exact("z9hG4bKblf.1.2.3.4", (size_t)n, &r), -1);
	/* 1 MB of hex after the prefix: refused without reading it all */
	big = malloc(1 << 20);
	if(big == NULL)
		abort();
	memset(big, 'a', 1 << 20);
	memcpy(big, BLF_BRANCH_PREFIX, BLF_BRANCH_PREFIX_LEN);
	CHECK_INT(blf_branch_parse(big, 1 << 20, &r), -1);
	free(big);
}

/* the MAC keeps its inputs apart: no two orders or keys collide */
static void test_mac_inputs(void)
{
	unsigned char k0[16] = {0}, k1[16];
	int i;

	for(i = 0; i < 16; i++)
		k1[i] = (unsigned char)(0xa5 ^ i);
	CHECK(blf_branch_mac(k0, 0, 0, 0) != 0);
	CHECK(blf_branch_mac(k0, 1, 2, 3) != blf_branch_mac(k0, 3, 2, 1));
	CHECK(blf_branch_mac(k0, 1, 2, 3) != blf_branch_mac(k0, 2, 1, 3));
	CHECK(blf_branch_mac(k1, 1, 2, 3) != blf_branch_mac(k0, 1, 2, 3));
	CHECK(blf_branch_mac(k1, 0xffffffffu, 0, 0)
			!= blf_branch_mac(k1, 0, 0xffffffffu, 0));
	/* the MAC is SipHash of (a, b, c, 0) as 4 little-endian words */
	{
		unsigned char in[16] = {1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0};
		CHECK(blf_branch_mac(k1, 1, 2, 3) == blf_siphash(k1, in, 16));
	}
}

/* the key source every secret of the module comes from */
static void test_random_key(void)
{
	unsigned char a[16], b[16], z[16] = {0};

	CHECK_INT(blf_random_key(a, sizeof(a)), 0);
	CHECK_INT(blf_random_key(b, sizeof(b)), 0);
	CHECK(memcmp(a, b, sizeof(a)) != 0);
	CHECK(memcmp(a, z, sizeof(a)) != 0);
	CHECK_INT(blf_random_key(a, 0), 0);
}

/* the hand-written printer against the snprintf() format it replaced, on
 * 200,000 random branches and every field's edges */
static void test_print_is_snprintf(void)
{
	static const unsigned int e32[] = {0, 1, 9, 10, 15, 16, 255, 256,
			0x7fffffffu, 0x80000000u, 0xffffffffu};
	static const uint64_t e64[] = {0, 1, 0xf, 0x10, 0xffffffffull,
			0x100000000ull, 0x8000000000000000ull, UINT64_MAX};
	char got[BLF_BRANCH_MAX], want[BLF_BRANCH_MAX + 8];
	blf_branch_t b;
	int i, bad = 0, n;
	unsigned int seed = 7;

	for(i = 0; i < 200000 + 11 * 8; i++) {
		if(i < 11 * 8) {
			b.pno = b.id = b.boot = e32[i % 11];
			b.nonce = e64[i / 11];
		} else {
			seed = seed * 1103515245u + 12345u;
			b.pno = seed >> (seed & 31);
			seed = seed * 1103515245u + 12345u;
			b.id = seed;
			seed = seed * 1103515245u + 12345u;
			b.boot = seed >> (seed & 7);
			seed = seed * 1103515245u + 12345u;
			b.nonce = ((uint64_t)seed << 32) ^ (seed * 2654435761u);
			b.nonce >>= (seed & 63);
		}
		n = blf_branch_print(got, sizeof(got), &b);
		snprintf(want, sizeof(want), BLF_BRANCH_PREFIX "%x.%x.%x.%016llx",
				b.pno, b.id, b.boot, (unsigned long long)b.nonce);
		if(n != (int)strlen(want) || strcmp(got, want) != 0)
			bad++;
	}
	CHECK_INT(bad, 0);
	/* a buffer one byte short of the text and its NUL */
	b.pno = 1;
	b.id = 2;
	b.boot = 3;
	b.nonce = 4;
	n = blf_branch_print(got, sizeof(got), &b);
	CHECK_INT(blf_branch_print(got, (size_t)n, &b), -1);
	CHECK_INT(blf_branch_print(got, (size_t)n + 1, &b), n);
}

int main(void)
{
	test_print_is_snprintf();
	test_random_key();
	test_mac();
	test_roundtrip();
	test_hostile();
	test_edges();
	test_mac_inputs();
	return tap_done("test_branch");
}
