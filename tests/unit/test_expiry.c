/* UNIT-SOURCES: blf_expiry.c */
/*
 * test_expiry.c — unit tests of blf_expiry.c: granting Expires, deadline
 * arithmetic with an explicit `now`, parsing the header value.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <limits.h>

#include "tap.h"

#include "blf_expiry.h"

static const blf_expiry_cfg_t cfg = {60, 3600, 3600};

#define CHECK_GRANT(c, req, rc, want)                 \
	do {                                              \
		unsigned int g_ = 12345;                      \
		CHECK_INT(blf_expiry_grant(c, req, &g_), rc); \
		CHECK_INT(g_, want);                          \
	} while(0)

static void test_grant(void)
{
	blf_expiry_cfg_t big_default = {60, 3600, 7200};
	blf_expiry_cfg_t no_min = {0, 600, 300};

	/* no Expires header */
	CHECK_GRANT(&cfg, -1, BLF_EXPIRY_OK, 3600);
	CHECK_GRANT(&cfg, LONG_MIN, BLF_EXPIRY_OK, 3600);
	CHECK_GRANT(&no_min, -1, BLF_EXPIRY_OK, 300);
	/* a default above max is still capped */
	CHECK_GRANT(&big_default, -1, BLF_EXPIRY_OK, 3600);
	/* unsubscribe */
	CHECK_GRANT(&cfg, 0, BLF_EXPIRY_OK, 0);
	CHECK_GRANT(&no_min, 0, BLF_EXPIRY_OK, 0);
	/* too brief: 423, and *granted is the Min-Expires to send */
	CHECK_GRANT(&cfg, 1, BLF_EXPIRY_TOO_BRIEF, 60);
	CHECK_GRANT(&cfg, 59, BLF_EXPIRY_TOO_BRIEF, 60);
	/* boundaries */
	CHECK_GRANT(&cfg, 60, BLF_EXPIRY_OK, 60);
	CHECK_GRANT(&cfg, 61, BLF_EXPIRY_OK, 61);
	CHECK_GRANT(&cfg, 3599, BLF_EXPIRY_OK, 3599);
	CHECK_GRANT(&cfg, 3600, BLF_EXPIRY_OK, 3600);
	CHECK_GRANT(&cfg, 3601, BLF_EXPIRY_OK, 3600);
	CHECK_GRANT(&cfg, 4294967295L, BLF_EXPIRY_OK, 3600);
	CHECK_GRANT(&cfg, LONG_MAX, BLF_EXPIRY_OK, 3600);
	CHECK_GRANT(&no_min, 1, BLF_EXPIRY_OK, 1);
	CHECK_GRANT(&no_min, 601, BLF_EXPIRY_OK, 600);
}

static void test_left_due(void)
{
	time_t d = 1000000;

	CHECK_INT(blf_expiry_left(d, d - 100), 100);
	CHECK_INT(blf_expiry_left(d, d - 1), 1);
	CHECK_INT(blf_expiry_left(d, d), 0);
	CHECK_INT(blf_expiry_left(d, d + 1), 0);
	CHECK_INT(blf_expiry_left(d, d + 100000), 0);
	CHECK_INT(blf_expiry_left(3600, 0), 3600);
	if(sizeof(time_t) > sizeof(unsigned int)) {
		/* saturates instead of wrapping */
		time_t far = (time_t)UINT_MAX * 4;
		CHECK_INT(blf_expiry_left(far, 0), UINT_MAX);
	}

	CHECK_INT(blf_expiry_due(d, d - 100), 0);
	CHECK_INT(blf_expiry_due(d, d - 1), 0);
	CHECK_INT(blf_expiry_due(d, d), 1);
	CHECK_INT(blf_expiry_due(d, d + 1), 1);
	/* the two agree: due exactly when nothing is left */
	CHECK(blf_expiry_due(d, d) == (blf_expiry_left(d, d) == 0));
	CHECK(blf_expiry_due(d, d - 1) == (blf_expiry_left(d, d - 1) == 0));
}

/* parses s as a C string; returns the rc, the value in *v */
static int parse(const char *s, long *v)
{
	*v = -42;
	return blf_expiry_parse(s, strlen(s), v);
}

#define CHECK_PARSE_OK(s, want)      \
	do {                             \
		long v_;                     \
		CHECK_INT(parse(s, &v_), 0); \
		CHECK_INT(v_, want);         \
	} while(0)

#define CHECK_PARSE_BAD(s)                  \
	do {                                    \
		long v_;                            \
		CHECK_INT(parse(s, &v_), -1);       \
		CHECK_INT(v_, -42); /* untouched */ \
	} while(0)

static void test_parse(void)
{
	long v;

	CHECK_PARSE_OK("3600", 3600);
	CHECK_PARSE_OK("0", 0);
	CHECK_PARSE_OK("007", 7);
	CHECK_PARSE_OK(" 3600", 3600);
	CHECK_PARSE_OK("3600 ", 3600);
	CHECK_PARSE_OK("\t 60 \t", 60);
	CHECK_PARSE_OK("60\r\n", 60);
	CHECK_PARSE_OK("4294967295", 4294967295L);
	CHECK_PARSE_OK("0000000000004294967295", 4294967295L);

	CHECK_PARSE_BAD("");
	CHECK_PARSE_BAD("   ");
	CHECK_PARSE_BAD("abc");
	CHECK_PARSE_BAD("12a");
	CHECK_PARSE_BAD("a12");
	CHECK_PARSE_BAD("1 2");
	CHECK_PARSE_BAD("-1");
	CHECK_PARSE_BAD("+5");
	CHECK_PARSE_BAD("3.5");
	CHECK_PARSE_BAD("0x10");
	/* larger than 2^32-1 */
	CHECK_PARSE_BAD("4294967296");
	CHECK_PARSE_BAD("4294967300");
	CHECK_PARSE_BAD("42949672950");
	CHECK_PARSE_BAD("99999999999999999999999999999999");
	CHECK_PARSE_BAD("18446744073709551616"); /* 2^64: must not wrap */

	/* only len bytes are read: no NUL needed after the value */
	CHECK_INT(blf_expiry_parse("60xyz", 2, &v), 0);
	CHECK_INT(v, 60);
	CHECK_INT(blf_expiry_parse("1234", 0, &v), -1);
	CHECK_INT(blf_expiry_parse("12\0"
							   "3",
					  4, &v),
			-1);
	CHECK_INT(blf_expiry_parse(NULL, 3, &v), -1);
	CHECK_INT(blf_expiry_parse("60", 2, NULL), -1);
}

int main(void)
{
	test_grant();
	test_left_due();
	test_parse();
	return tap_done("test_expiry");
}
