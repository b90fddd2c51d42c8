/* UNIT-SOURCES: blf_mvers.c */
/*
 * test_mvers.c — unit tests of blf_mvers.c: the stored member versions of
 * a list subscription (DB column `mvers`, replica field `mv`). Round trips
 * at the bounds (0, UINT32_MAX, BLF_MVERS_MAX entries into an exact-size
 * buffer: ASan sees a byte written past), every hostile text refused whole
 * (overflow, signs, spaces, upper-case or short hashes, trailing commas,
 * too many entries, embedded NULs, truncation at every byte), and the
 * resume rule (exact, the takeover window, collisions, a stale anchor).
 * blf_mvers.c allocates nothing; LeakSanitizer checks the test itself.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <stdlib.h>
#include <stdint.h>

#include "tap.h"

#include "blf_mvers.h"

static int t_parse(const char *s, uint32_t *a, blf_mver_t *m, int max)
{
	return blf_mvers_parse(s, strlen(s), a, m, max);
}

static void test_roundtrip(void)
{
	blf_mver_t m[3] = {{0, 0}, {0xdeadbeef, 7}, {0xffffffffu, 0xffffffffu}};
	blf_mver_t o[4];
	char buf[128];
	uint32_t a = 1;
	int n;

	n = blf_mvers_format(42, m, 3, buf, sizeof(buf));
	CHECK_STR(buf, "42;00000000:0,deadbeef:7,ffffffff:4294967295");
	CHECK_INT(n, (int)strlen(buf));
	CHECK_INT(t_parse(buf, &a, o, 4), 3);
	CHECK_INT(a, 42);
	CHECK(memcmp(o, m, sizeof(m)) == 0);
	/* no members */
	CHECK_INT(blf_mvers_format(0xffffffffu, NULL, 0, buf, sizeof(buf)), 11);
	CHECK_STR(buf, "4294967295;");
	CHECK_INT(t_parse(buf, &a, NULL, 0), 0);
	CHECK_INT(a, 0xffffffffu);
	/* too small: -1, never past size */
	CHECK_INT(blf_mvers_format(42, m, 3, buf, 10), -1);
	CHECK_INT(blf_mvers_format(42, m, 3, buf, 44), -1); /* NUL does not fit */
	CHECK_INT(blf_mvers_format(42, m, 3, buf, 45), 44);
	CHECK_INT(blf_mvers_format(42, m, -1, buf, sizeof(buf)), -1);
	CHECK_INT(blf_mvers_format(42, NULL, 1, buf, sizeof(buf)), -1);
	CHECK_INT(blf_mvers_format(42, m, BLF_MVERS_MAX + 1, buf, sizeof(buf)), -1);
	/* FNV-1a's published value for "a" */
	CHECK_INT(blf_mvers_hash("a", 1), 0xe40c292cu);
	CHECK(blf_mvers_hash("sip:201@example.com", 19)
			!= blf_mvers_hash("sip:202@example.com", 19));
}

static void test_largest(void)
{
	blf_mver_t *m = malloc(sizeof(*m) * (BLF_MVERS_MAX + 1));
	blf_mver_t *o = malloc(sizeof(*o) * (BLF_MVERS_MAX + 1));
	char *buf = malloc(BLF_MVERS_TEXT_MAX + 32), *exact;
	uint32_t a;
	int i, n;

	if(!CHECK(m && o && buf))
		goto out;
	for(i = 0; i <= BLF_MVERS_MAX; i++) {
		m[i].h = 0xffffffffu - (uint32_t)i;
		m[i].v = 0xffffffffu;
	}
	n = blf_mvers_format(
			0xffffffffu, m, BLF_MVERS_MAX, buf, BLF_MVERS_TEXT_MAX);
	CHECK(n > 0 && n < BLF_MVERS_TEXT_MAX);
	exact = malloc((size_t)n + 1);
	if(CHECK(exact)) {
		CHECK_INT(blf_mvers_format(
						  0xffffffffu, m, BLF_MVERS_MAX, exact, (size_t)n + 1),
				n);
		free(exact);
	}
	CHECK_INT(blf_mvers_parse(buf, (size_t)n, &a, o, BLF_MVERS_MAX + 1),
			BLF_MVERS_MAX);
	CHECK(memcmp(o, m, sizeof(*m) * BLF_MVERS_MAX) == 0);
	/* the caller's max holds */
	CHECK_INT(blf_mvers_parse(buf, (size_t)n, &a, o, 5), -1);
	/* one entry more than any list: refused */
	strcpy(buf + n, ",00000001:1");
	CHECK_INT(blf_mvers_parse(buf, strlen(buf), &a, o, BLF_MVERS_MAX + 1), -1);
out:
	free(m);
	free(o);
	free(buf);
}

static void test_hostile(void)
{
	static const char *bad[] = {"", ";", "x;", "-1;", "+1;", " 1;", "1", "1;;",
			"4294967296;", "99999999999;", "00000000000;", "1;abc",
			"1;0000000:1", "1;0000000g:1", "1;DEADBEEF:1", "1;deadbeef",
			"1;deadbeef:", "1;deadbeef:-1", "1;deadbeef:4294967296",
			"1;deadbeef:1,", "1;deadbeef:1,,", "1;deadbeef:1;", "1;deadbeef:1 ",
			"1;deadbeef :1", "1;deadbeef:1,deadbeef", "1;,deadbeef:1",
			"1;deadbeefa:1", "1;deadbeef:0x1", NULL};
	const char *good = "7;0000000a:3,ffffffff:0";
	blf_mver_t o[8];
	uint32_t a;
	size_t k;
	int i;

	for(i = 0; bad[i]; i++) {
		int r = t_parse(bad[i], &a, o, 8);
		if(!CHECK(r == -1))
			printf("     accepted [%s]: %d\n", bad[i], r);
	}
	/* a NUL inside: refused, not cut short */
	CHECK_INT(blf_mvers_parse("7;0000000a:3\0,ffffffff:0", 24, &a, o, 8), -1);
	/* every truncation of a good text: a shorter valid text or -1, never a
	 * read past len (ASan) */
	for(k = 0; k <= strlen(good); k++) {
		char *c = malloc(k ? k : 1);
		int r;
		if(!CHECK(c))
			return;
		memcpy(c, good, k);
		r = blf_mvers_parse(c, k, &a, o, 8);
		CHECK(r == -1 || (r >= 0 && r <= 2));
		free(c);
	}
	CHECK_INT(t_parse(good, &a, o, 8), 2);
	CHECK_INT(o[1].h, 0xffffffffu);
	CHECK_INT(blf_mvers_parse(NULL, 0, &a, o, 8), -1);
	CHECK_INT(blf_mvers_parse(good, strlen(good), NULL, o, 8), -1);
	/* counted only */
	CHECK_INT(blf_mvers_parse(good, strlen(good), &a, NULL, 8), 2);
	CHECK_INT(blf_mvers_parse(good, strlen(good), &a, NULL, 1), -1);
	CHECK_INT(blf_mvers_parse(good, BLF_MVERS_TEXT_MAX + 1, &a, o, 8), -1);
}

static void test_resume(void)
{
	blf_mver_t m[3] = {{1, 5}, {2, 1}, {1, 9}};

	/* exact: nothing sent after the anchor */
	CHECK_INT(blf_mvers_resume(m, 3, 10, 10, 2), 1);
	/* two NOTIFYs after it (the takeover window): at most two more each */
	CHECK_INT(blf_mvers_resume(m, 3, 10, 12, 2), 3);
	/* a member not listed at the anchor */
	CHECK_INT(blf_mvers_resume(m, 3, 10, 10, 77), 0);
	CHECK_INT(blf_mvers_resume(m, 3, 10, 13, 77), 3);
	/* a hash collision: the higher version */
	CHECK_INT(blf_mvers_resume(m, 3, 10, 10, 1), 9);
	/* a subscription version behind the anchor: as if equal */
	CHECK_INT(blf_mvers_resume(m, 3, 10, 4, 2), 1);
	/* across the wrap of the RLMI counter */
	CHECK_INT(blf_mvers_resume(m, 3, 0xfffffffeu, 1, 2), 4);
	CHECK_INT(blf_mvers_resume(NULL, 0, 3, 3, 2), 0);
}

static void test_merge(void)
{
	blf_mver_t m[4] = {{1, 5}, {2, 1}};
	blf_mver_t d[3] = {{2, 4}, {3, 1}, {1, 2}};

	CHECK_INT(blf_mvers_merge(m, 2, 4, d, 3), 3);
	CHECK_INT(m[0].v, 5); /* never lowered */
	CHECK_INT(m[1].v, 4);
	CHECK_INT(m[2].h, 3);
	CHECK_INT(m[2].v, 1);
	/* the same delta again: nothing changes */
	CHECK_INT(blf_mvers_merge(m, 3, 4, d, 3), 3);
	CHECK_INT(m[1].v, 4);
	/* more than max */
	d[0].h = 9;
	d[1].h = 10;
	CHECK_INT(blf_mvers_merge(m, 3, 4, d, 2), -1);
	CHECK_INT(blf_mvers_merge(m, 3, 4, NULL, 0), 3);
	CHECK_INT(blf_mvers_merge(m, 3, 4, NULL, 1), -1);
	CHECK_INT(blf_mvers_merge(m, 5, 4, d, 0), -1);
	CHECK_INT(blf_mvers_merge(NULL, 0, 4, d, 0), -1);
}

int main(void)
{
	test_roundtrip();
	test_largest();
	test_hostile();
	test_resume();
	test_merge();
	return tap_done("test_mvers");
}
