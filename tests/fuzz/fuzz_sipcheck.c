/* FUZZ-SOURCES: blf_sipcheck.c */
/*
 * fuzz_sipcheck.c — libFuzzer harness of blf_sipcheck.c: the input is
 * split at NUL bytes into Accept header bodies (evaluated together), and
 * checked as a token and a Call-ID, and percent-encoded. Invariants: no read outside the input,
 * a verdict of 0 or 1, q within 0..1000.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blf_sipcheck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	blf_accept_st_t st;
	size_t b = 0, i;
	char *buf;
	int ok;

	/* an exact-size copy: ASan catches any read past the end */
	buf = malloc(size ? size : 1);
	if(buf == NULL)
		return 0;
	memcpy(buf, data, size);
	blf_accept_init(&st);
	for(i = 0; i <= size; i++) {
		if(i == size || buf[i] == '\0') {
			blf_accept_add(&st, buf + b, (int)(i - b));
			b = i + 1;
		}
	}
	ok = blf_accept_ok(&st);
	if(ok != 0 && ok != 1)
		abort();
	if(st.spec < 0 || st.spec > 3 || st.q < 0 || st.q > 1000)
		abort();
	(void)blf_sip_is_token(buf, (int)size);
	(void)blf_sip_is_callid(buf, (int)size);
	(void)blf_sip_is_tag(buf, (int)size);
	{
		/* a header's tag: found inside the input, never past it */
		const char *tg = NULL;
		int tl = -1, r = blf_sip_hdr_tag(buf, (int)size, &tg, &tl);
		if(r < -1 || r > 1)
			abort();
		if(r == 0 && (tg < buf || tl < 0 || tg + tl > buf + size))
			abort();
	}
	{
		/* a name-addr read in place: URI and tag inside the input */
		const char *u = NULL, *tg = NULL;
		int ul = -1, tl = -1,
			r = blf_sip_nameaddr_simple(buf, (int)size, &u, &ul, &tg, &tl);
		if(r != 0 && r != -1)
			abort();
		if(r == 0
				&& (u < buf || ul <= 0 || u + ul > buf + size
						|| (tg && (tg < buf || tl <= 0 || tg + tl > buf + size))))
			abort();
	}
	{
		/* percent-encoding: fits in 3x + 1, never more; short buffers fail */
		char *out = malloc(size * 3 + 1);
		int n;
		if(out) {
			n = blf_uri_pct_encode(buf, (int)size, out, (int)(size * 3 + 1));
			if(n < (int)size || n > (int)size * 3 || out[n] != '\0')
				abort();
			if(size > 0
					&& blf_uri_pct_encode(buf, (int)size, out, (int)size / 2 + 1)
							   >= 0
					&& size > 1)
				abort();
			free(out);
		}
	}
	free(buf);
	return 0;
}
