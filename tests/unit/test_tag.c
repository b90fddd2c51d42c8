/* UNIT-SOURCES: blf_tag.c */
/*
 * test_tag.c — unit tests of blf_tag.c: tags printed and read back for
 * hashes at the edges, buffers too small, and the tags a peer may send in
 * a To tag or a replica (short, long, upper case, non-hex anywhere, NUL
 * inside, a forged hash that still decodes), each read from an exact-size
 * heap buffer so ASan sees any read past its end.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <stdlib.h>

#include "tap.h"

#include "blf_tag.h"

/* s (len bytes, may hold NULs) in a heap buffer of exactly len bytes */
static int t_decode(const char *s, size_t len, unsigned int *h)
{
	char *b = malloc(len ? len : 1);
	int rc;

	if(b == NULL)
		abort();
	memcpy(b, s, len);
	rc = blf_tag_decode(b, len, h);
	free(b);
	return rc;
}

static void test_roundtrip(void)
{
	static const unsigned int hashes[] = {
			0, 1, 0x7fffffffu, 0x80000000u, 0xdeadbeefu, 0xffffffffu};
	char buf[BLF_TAG_LEN + 1];
	unsigned int i, h;
	size_t k;

	for(i = 0; i < sizeof(hashes) / sizeof(hashes[0]); i++) {
		CHECK_INT(blf_tag_encode(buf, sizeof(buf), hashes[i], 0x12345, 0xfffff,
						  0x10001),
				BLF_TAG_LEN);
		CHECK_INT(strlen(buf), BLF_TAG_LEN);
		h = ~hashes[i];
		CHECK_INT(t_decode(buf, BLF_TAG_LEN, &h), 0);
		CHECK(h == hashes[i]);
		/* lower-case hex only: what decode accepts */
		for(k = 0; k < BLF_TAG_LEN; k++)
			CHECK(strchr("0123456789abcdef", buf[k]) != NULL);
	}
	/* the low 16 bits of pid, rnd and seq, in that order */
	blf_tag_encode(buf, sizeof(buf), 0xabcdef01u, 0x12345, 0xfffff, 0x10001);
	CHECK_STR(buf, "abcdef012345ffff0001");
	/* a counter that wraps keeps the length */
	blf_tag_encode(buf, sizeof(buf), 1, 0, 0, 0xffffffffu);
	CHECK_STR(buf, "0000000100000000ffff");
	/* the hex writer is the "%08x%04x%04x%04x" it replaced */
	{
		char want[64];
		unsigned int x = 12345, a, b, c, d, bad = 0;

		for(i = 0; i < 100000; i++) {
			x = x * 1103515245u + 12345u, a = x;
			x = x * 1103515245u + 12345u, b = x;
			x = x * 1103515245u + 12345u, c = x;
			x = x * 1103515245u + 12345u, d = x;
			blf_tag_encode(buf, sizeof(buf), a, b, c, d);
			snprintf(want, sizeof(want), "%08x%04x%04x%04x", a, b & 0xffffu,
					c & 0xffffu, d & 0xffffu);
			bad += strcmp(buf, want) != 0;
		}
		CHECK_INT(bad, 0);
	}
}

static void test_encode_small(void)
{
	char buf[BLF_TAG_LEN + 1];

	memset(buf, 'x', sizeof(buf));
	CHECK_INT(blf_tag_encode(buf, BLF_TAG_LEN, 1, 2, 3, 4), -1);
	CHECK_INT(blf_tag_encode(buf, 0, 1, 2, 3, 4), -1);
	CHECK_INT(blf_tag_encode(NULL, 64, 1, 2, 3, 4), -1);
	/* nothing written past what it was given */
	CHECK(buf[BLF_TAG_LEN] == 'x');
}

static void test_hostile(void)
{
	static const char *bad[] = {"", "0", "0000000", /* 7 */
			"0000000000000000000",					/* 19 */
			"000000000000000000000",				/* 21 */
			"DEADBEEF000000000000",					/* upper case: not ours */
			"deadbeeF000000000000",
			"deadbeef00000000000G", /* junk after the hash */
			"deadbeef0000 0000000", "-eadbeef000000000000",
			"+0000001000000000000", "0x000001000000000000",
			"deadbeef00000000000\xff",
			"\xe2\x82\xac"
			"00000000000000000", /* UTF-8, 20 bytes */
			"zzzzzzzzzzzzzzzzzzzz", NULL};
	unsigned int h;
	char *big;
	int i;

	for(i = 0; bad[i]; i++) {
		h = 42;
		if(!CHECK(t_decode(bad[i], strlen(bad[i]), &h) == -1))
			printf("     tag [%s]\n", bad[i]);
		CHECK(h == 42); /* untouched on refusal */
	}
	/* a NUL inside a tag of the right length */
	CHECK_INT(t_decode("deadbeef\0"
					   "00000000000",
					  BLF_TAG_LEN, &h),
			-1);
	CHECK_INT(t_decode("deadbeef0000000000\0"
					   "0",
					  BLF_TAG_LEN, &h),
			-1);
	CHECK_INT(blf_tag_decode(NULL, BLF_TAG_LEN, &h), -1);
	/* the length given is the end: a longer buffer is not read past it */
	CHECK_INT(blf_tag_decode("0000002a00000000000099999", BLF_TAG_LEN, &h), 0);
	CHECK(h == 0x2a);
	/* a forged tag of our shape decodes: it names a slot, nothing more
	 * (the caller still matches Call-ID and tags there) */
	CHECK_INT(t_decode("ffffffffffffffffffff", BLF_TAG_LEN, &h), 0);
	CHECK(h == 0xffffffffu);
	/* 1 MB of hex digits */
	big = malloc(1 << 20);
	if(big == NULL)
		abort();
	memset(big, 'a', 1 << 20);
	CHECK_INT(blf_tag_decode(big, 1 << 20, &h), -1);
	free(big);
}

int main(void)
{
	test_roundtrip();
	test_encode_small();
	test_hostile();
	return tap_done("test_tag");
}
