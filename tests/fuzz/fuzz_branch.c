/* FUZZ-SOURCES: blf_branch.c */
/*
 * fuzz_branch.c — libFuzzer harness of blf_branch_parse(): the Via branch
 * of any answer that reaches the proxy is read by it. A branch it accepts
 * must print back to the same fields.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blf_branch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[BLF_BRANCH_MAX];
	blf_branch_t b, r;
	char *copy;
	int n;

	/* an exact-size copy: ASan catches a read past the end */
	copy = malloc(size ? size : 1);
	if(copy == NULL)
		return 0;
	memcpy(copy, data, size);
	if(blf_branch_parse(copy, size, &b) == 0) {
		n = blf_branch_print(buf, sizeof(buf), &b);
		if(n < 0 || blf_branch_parse(buf, (size_t)n, &r) != 0
				|| r.pno != b.pno || r.id != b.id || r.boot != b.boot
				|| r.nonce != b.nonce)
			abort();
	}
	free(copy);
	return 0;
}
