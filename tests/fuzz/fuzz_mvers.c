/* FUZZ-SOURCES: blf_mvers.c */
/*
 * fuzz_mvers.c — libFuzzer harness of blf_mvers_parse(): a list
 * subscription's member versions come from a database row (`mvers`) or a
 * peer's replica (`mv`, `mvd`). A text it accepts must print back to
 * exactly the same bytes (one canonical form: no signs, spaces, leading
 * junk or upper-case hex gets in), the count-only parse must agree, and
 * merging the entries into themselves adds none and lowers none.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include "fuzz.h"

#include "blf_mvers.h"

#define FZ_MAX 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	blf_mver_t m[FZ_MAX], c[FZ_MAX];
	char out[12 + FZ_MAX * BLF_MVERS_ENTRY + 1];
	uint32_t a = 0, b = 0;
	char *copy;
	int n, k;

	/* an exact-size copy: ASan catches a read past the end */
	copy = malloc(size ? size : 1);
	if(copy == NULL)
		return 0;
	if(size)
		memcpy(copy, data, size);
	n = blf_mvers_parse(copy, size, &a, m, FZ_MAX);
	FZ_CHECK(n >= -1 && n <= FZ_MAX);
	FZ_CHECK(blf_mvers_parse(copy, size, &b, NULL, FZ_MAX) == n);
	if(n >= 0) {
		FZ_CHECK(a == b);
		k = blf_mvers_format(a, m, n, out, sizeof(out));
		/* canonical, except hex digits of a decimal that kept its leading
		 * zeros ("007"): printed without them */
		FZ_CHECK(k > 0 && (size_t)k <= size);
		if((size_t)k == size)
			FZ_CHECK(memcmp(out, copy, size) == 0);
		memcpy(c, m, sizeof(*m) * (size_t)n);
		FZ_CHECK(blf_mvers_merge(c, n, FZ_MAX, m, n) == n);
		for(k = 0; k < n; k++) /* raised to a twin's version, never lower */
			FZ_CHECK(c[k].h == m[k].h && c[k].v >= m[k].v);
	}
	free(copy);
	return 0;
}
