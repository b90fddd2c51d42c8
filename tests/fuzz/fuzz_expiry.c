/* FUZZ-SOURCES: blf_expiry.c */
/*
 * fuzz_expiry.c — the Expires header value of a SUBSCRIBE (blf_expiry.c),
 * the grant of a duration within configured bounds and the deadline
 * arithmetic the expiry timer does with deadlines that may come from a
 * peer (DMQ replicas carry them as 64-bit integers).
 *
 * The whole input is first parsed as an Expires value and compared with a
 * plain reference: digits only between optional white space, at most
 * 2^32-1. Then the first bytes of the input become a configuration, a
 * request, a deadline and a clock, and the results are checked against the
 * rules of blf_expiry.h.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <limits.h>

#include "fuzz.h"

#include "blf_expiry.h"

static int fz_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* the reference: what blf_expiry_parse must answer */
static int fz_ref_parse(const char *s, size_t len, unsigned long long *v)
{
	size_t i = 0, end = len;

	while(i < end && fz_ws(s[i]))
		i++;
	while(end > i && fz_ws(s[end - 1]))
		end--;
	if(i == end)
		return -1;
	for(*v = 0; i < end; i++) {
		if(s[i] < '0' || s[i] > '9')
			return -1;
		*v = *v * 10 + (unsigned long long)(s[i] - '0');
		if(*v > 4294967295ULL)
			return -1;
	}
	return 0;
}

static void fz_parse(const char *s, size_t len)
{
	unsigned long long want = 0;
	long got = -12345;
	int rc = blf_expiry_parse(s, len, &got);
	int ref = fz_ref_parse(s, len, &want);

	FZ_CHECK(rc == ref);
	if(rc == 0)
		FZ_CHECK(got >= 0 && (unsigned long long)got == want);
}

static void fz_grant(fz_in_t *in)
{
	blf_expiry_cfg_t cfg;
	unsigned int g = 0xdeadbeef;
	long req;
	blf_expiry_rc_t rc;

	cfg.min_expires = fz_u16(in);
	cfg.max_expires = cfg.min_expires + fz_u16(in); /* mod_init: min<=max */
	cfg.default_expires = fz_u16(in) * 4;
	/* as blf_subs.c passes it: -1 without header, else 0..2^32-1 */
	req = (long)(fz_u64(in) & 0xffffffffUL);
	if(fz_u8(in) & 1)
		req = -1;
	rc = blf_expiry_grant(&cfg, req, &g);
	if(req < 0) {
		FZ_CHECK(rc == BLF_EXPIRY_OK);
		FZ_CHECK(g <= cfg.max_expires);
	} else if(req == 0) {
		FZ_CHECK(rc == BLF_EXPIRY_OK && g == 0);
	} else if((unsigned long)req < cfg.min_expires) {
		FZ_CHECK(rc == BLF_EXPIRY_TOO_BRIEF && g == cfg.min_expires);
	} else {
		FZ_CHECK(rc == BLF_EXPIRY_OK);
		FZ_CHECK(g >= cfg.min_expires && g <= cfg.max_expires);
		FZ_CHECK(g <= (unsigned long)req);
	}
}

static void fz_deadline(fz_in_t *in)
{
	/* deadlines: any 64-bit value (a replica's "x"); the clock: time(NULL),
	 * never negative, below 2^40 */
	time_t deadline = (time_t)fz_u64(in);
	time_t now = (time_t)(fz_u64(in) & ((1ULL << 40) - 1));
	unsigned int left = blf_expiry_left(deadline, now);
	int due = blf_expiry_due(deadline, now);

	FZ_CHECK(due == 0 || due == 1);
	FZ_CHECK(due == (left == 0));
	if(!due && deadline - now <= (time_t)UINT_MAX)
		FZ_CHECK(left == (unsigned int)(deadline - now));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_in_t in = {data, size};

	fz_parse((const char *)data, size);
	fz_grant(&in);
	fz_deadline(&in);
	return 0;
}
