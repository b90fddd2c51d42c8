/* UNIT-SOURCES: */
/*
 * test_put.c — unit tests of blf_put.h (header only): decimal numbers at
 * the edges of unsigned int, with the bytes around them untouched, and
 * copies moving the write pointer exactly past what they wrote.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#include <stdio.h>
#include <string.h>
#include <limits.h>

#include "tap.h"
#include "../../modules/blf/blf_put.h"

static void test_uint(void)
{
	static const unsigned int v[] = {0, 1, 9, 10, 99, 100, 65535, 65536,
			1000000000u, 2147483647u, 2147483648u, UINT_MAX - 1, UINT_MAX};
	char buf[32], want[16], *end;
	size_t i;

	for(i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		memset(buf, '#', sizeof(buf));
		end = blf_put_uint(buf + 4, v[i]);
		snprintf(want, sizeof(want), "%u", v[i]);
		CHECK_INT(end - (buf + 4), (long long)strlen(want));
		CHECK(memcmp(buf + 4, want, strlen(want)) == 0);
		CHECK(memcmp(buf, "####", 4) == 0);
		CHECK(*end == '#'); /* nothing written past the number */
	}
	end = blf_put_uint(buf, UINT_MAX);
	CHECK_INT(end - buf, 10); /* the most it ever writes */
}

static void test_copies(void)
{
	char buf[32], *p = buf;

	memset(buf, 0, sizeof(buf));
	BLF_PUTS(p, "CSeq: ");
	p = blf_put_uint(p, 42);
	BLF_PUT(p, " NOTIFY\r\nX", 8); /* n bytes only */
	CHECK_INT(p - buf, 16);
	CHECK_STR(buf, "CSeq: 42 NOTIFY\r");
	BLF_PUT(p, "", 0);
	CHECK_INT(p - buf, 16);
}

int main(void)
{
	test_uint();
	test_copies();
	return tap_done("test_put");
}
