/* FUZZ-SOURCES: blf_repl.c blf_mvers.c */
/*
 * fuzz_repl.c — libFuzzer harness of the cluster replica decoder
 * (blf_repl.c): any DMQ body is decoded and checked without a crash, a
 * leak or undefined behaviour; a message that passes is checked again
 * (the check is deterministic) and its strings are walked, as blf_dmq.c
 * then reads them.
 *
 * clang -g -O1 -fsanitize=fuzzer,address,undefined -Imodules/blf \
 *     tests/fuzz/fuzz_repl.c modules/blf/blf_repl.c -ljansson -o /tmp/fx
 * /tmp/fx -max_total_time=30 tests/fuzz/corpus/repl
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blf_repl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const blf_repl_limits_t lim = {1700000000LL, 3600};
	char why[128];
	json_t *root = NULL, *m, *v, *f, *s;
	size_t i, j;

	if(blf_repl_decode((const char *)data, size, &lim, &root, why,
			   sizeof(why))
			< 0) {
		if(root != NULL || strlen(why) >= sizeof(why))
			abort();
		return 0;
	}
	if(blf_repl_check(root, &lim, why, sizeof(why)) < 0)
		abort(); /* not deterministic */
	/* what the glue reads of an accepted batch: every field a string */
	m = json_object_get(root, "m");
	if(strcmp(json_string_value(json_object_get(root, "t")), "batch") != 0)
		m = NULL;
	json_array_foreach(m, i, v)
	{
		f = json_object_get(v, "f");
		json_array_foreach(f, j, s)
		{
			const char *p = json_string_value(s);
			if(p == NULL || strlen(p) != json_string_length(s))
				abort();
		}
	}
	/* the compact versions of an accepted batch: every line reads back,
	 * its fields inside the string and within their bounds */
	if(m && (s = json_object_get(root, "vc")) != NULL) {
		blf_repl_vrec_t r;
		const char *vc = json_string_value(s);
		size_t len = json_string_length(s), pos = 0;
		int k;

		while((k = blf_repl_vc_next(vc, len, &pos, &r)) == 1)
			if(r.key < vc || r.key + r.klen > vc + len || r.tlen == 0
					|| r.tlen > BLF_REPL_TAG_MAX || r.v > 2147483647u
					|| r.q > 2147483647u || pos > len
					|| (r.owner && r.olen == 0))
				abort();
		if(k < 0)
			abort(); /* the check accepted it */
	}
	json_decref(root);
	return 0;
}
