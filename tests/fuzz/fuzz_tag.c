/* FUZZ-SOURCES: blf_tag.c */
/*
 * fuzz_tag.c — libFuzzer harness of blf_tag_decode(): the To tag of any
 * in-dialog SUBSCRIBE, NOTIFY answer or replica is read by it. A tag it
 * accepts must be exactly what blf_tag_encode() prints for the fields it
 * holds (so nothing but our own shape gets in), and its hash must be the
 * first eight digits.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include "fuzz.h"

#include "blf_tag.h"

static unsigned int fz_hex(const char *s, int n)
{
	unsigned int v = 0;
	int i;

	for(i = 0; i < n; i++)
		v = (v << 4)
			| (unsigned int)(s[i] <= '9' ? s[i] - '0' : s[i] - 'a' + 10);
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char buf[BLF_TAG_LEN + 1];
	unsigned int h = 0x5a5a5a5au;
	char *copy;

	/* an exact-size copy: ASan catches a read past the end */
	copy = malloc(size ? size : 1);
	if(copy == NULL)
		return 0;
	if(size)
		memcpy(copy, data, size);
	if(blf_tag_decode(copy, size, &h) == 0) {
		FZ_CHECK(size == BLF_TAG_LEN);
		FZ_CHECK(blf_tag_encode(buf, sizeof(buf), fz_hex(copy, 8),
						 fz_hex(copy + 8, 4), fz_hex(copy + 12, 4),
						 fz_hex(copy + 16, 4))
				 == BLF_TAG_LEN);
		FZ_CHECK(memcmp(buf, copy, BLF_TAG_LEN) == 0);
		FZ_CHECK(h == fz_hex(copy, 8));
	} else {
		FZ_CHECK(h == 0x5a5a5a5au); /* untouched on refusal */
	}
	free(copy);
	return 0;
}
