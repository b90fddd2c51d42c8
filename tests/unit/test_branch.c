/* UNIT-SOURCES: blf_branch.c */
/*
 * test_branch.c — unit tests of blf_branch.c: SipHash-2-4 against the
 * reference vector, branches printed and read back, and the branches an
 * attacker may send (truncated, overlong, bad digits, old formats).
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <stdint.h>

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

int main(void)
{
	test_mac();
	test_roundtrip();
	test_hostile();
	return tap_done("test_branch");
}
