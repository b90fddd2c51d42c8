/* UNIT-SOURCES: blf_dlgvar.c */
/*
 * test_dlgvar.c — the dialog variable of a tracked call: round trip,
 * bounds, and values that are not ours (a dialog database is outside
 * input).
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>

#include "tap.h"

#include "blf_dlgvar.h"

static blf_span_t sp(const char *s)
{
	blf_span_t x = {s, (int)strlen(s)};
	return x;
}

static void test_round_trip(void)
{
	blf_span_t in[BLF_DLGVAR_FIELDS], out[BLF_DLGVAR_FIELDS];
	char buf[BLF_DLGVAR_MAX];
	int n, i;

	in[0] = sp("alice@example.com");
	in[1] = sp("2000@example.com");
	in[2] = sp("alice@example.com");
	in[3] = sp("202@example.com");
	in[4] = sp("Alice: \"A\" 1:2");
	n = blf_dlgvar_encode(in, buf, sizeof(buf));
	CHECK(n > 0);
	CHECK_INT(blf_dlgvar_decode(buf, n, out), 0);
	for(i = 0; i < BLF_DLGVAR_FIELDS; i++) {
		CHECK_INT(out[i].len, in[i].len);
		CHECK(memcmp(out[i].s, in[i].s, in[i].len) == 0);
	}
	/* an empty display name */
	in[4] = sp("");
	n = blf_dlgvar_encode(in, buf, sizeof(buf));
	CHECK_INT(blf_dlgvar_decode(buf, n, out), 0);
	CHECK_INT(out[4].len, 0);
}

static void test_bounds(void)
{
	blf_span_t in[BLF_DLGVAR_FIELDS], out[BLF_DLGVAR_FIELDS];
	char big[BLF_DLGVAR_FIELD_MAX + 2];
	char buf[BLF_DLGVAR_MAX];
	int i, n;

	memset(big, 'x', sizeof(big));
	big[BLF_DLGVAR_FIELD_MAX - 10] = '@';
	for(i = 0; i < BLF_DLGVAR_FIELDS; i++) {
		in[i].s = big;
		in[i].len = BLF_DLGVAR_FIELD_MAX;
	}
	/* every field at its longest fits BLF_DLGVAR_MAX */
	n = blf_dlgvar_encode(in, buf, sizeof(buf));
	CHECK(n > 0 && n <= (int)sizeof(buf));
	CHECK_INT(blf_dlgvar_decode(buf, n, out), 0);
	/* one byte less room: refused, nothing written past it */
	CHECK_INT(blf_dlgvar_encode(in, buf, n - 1), -1);
	/* a field too long */
	in[2].len = BLF_DLGVAR_FIELD_MAX + 1;
	CHECK_INT(blf_dlgvar_encode(in, buf, sizeof(buf)), -1);
	in[2].len = -1;
	CHECK_INT(blf_dlgvar_encode(in, buf, sizeof(buf)), -1);
	CHECK_INT(blf_dlgvar_encode(in, NULL, 10), -1);
}

static void test_not_ours(void)
{
	static const char *bad[] = {
			"",
			"2",										/* another version */
			"1",										/* no fields */
			"13:a@b3:c@d3:a@b3:c@d5:ab",				/* length past the end */
			"13:a@b3:c@d3:a@b3:c@d0:x",				/* trailing byte */
			"13:a@b3:c@d3:a@b3:c@d",					/* a field missing */
			"10:3:c@d3:a@b3:c@d0:",					/* empty entity */
			"13:abc3:c@d3:a@b3:c@d0:",					/* entity without @ */
			"1-3:a@b3:c@d3:a@b3:c@d0:",				/* sign */
			"1:a@b3:c@d3:a@b3:c@d0:",					/* no digits */
			"13a@b3:c@d3:a@b3:c@d0:",					/* no colon */
			"1999999999999:a@b3:c@d3:a@b3:c@d0:",		/* huge length */
			"1257:a@b3:c@d3:a@b3:c@d0:",				/* over the field max */
			"10003:a@b3:c@d3:a@b3:c@d0:",				/* too many digits */
	};
	blf_span_t out[BLF_DLGVAR_FIELDS];
	unsigned int i;

	CHECK_INT(blf_dlgvar_decode(NULL, 5, out), -1);
	for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		CHECK_INT(blf_dlgvar_decode(bad[i], (int)strlen(bad[i]), out), -1);
	CHECK_INT(blf_dlgvar_decode("13:a@b3:c@d3:a@b3:c@d0:", 23, out), 0);
	/* a NUL inside a field is data, lengths rule */
	CHECK_INT(blf_dlgvar_decode("13:a@b3:c@d3:a@b3:c@d2:\0x", 25, out), 0);
	CHECK_INT(out[4].len, 2);
}

int main(void)
{
	test_round_trip();
	test_bounds();
	test_not_ours();
	return tap_done("test_dlgvar");
}
