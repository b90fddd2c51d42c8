/* FUZZ-SOURCES: blf_dlgvar.c */
/*
 * fuzz_dlgvar.c — libFuzzer harness of blf_dlgvar_decode(): the dialog
 * variable comes back from the dialog module's database at start, so it is
 * outside input. A value that decodes must point inside the input and
 * encode back to the same bytes.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blf_dlgvar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	blf_span_t f[BLF_DLGVAR_FIELDS];
	char buf[BLF_DLGVAR_MAX];
	char *in;
	int i, n;

	if(size > 4 * BLF_DLGVAR_MAX)
		return 0;
	/* an exact-size copy: ASan sees any read past the value */
	in = malloc(size ? size : 1);
	if(in == NULL)
		return 0;
	if(size)
		memcpy(in, data, size);
	if(blf_dlgvar_decode(in, (int)size, f) == 0) {
		for(i = 0; i < BLF_DLGVAR_FIELDS; i++)
			if(f[i].len < 0 || f[i].len > BLF_DLGVAR_FIELD_MAX
					|| f[i].s < in || f[i].s + f[i].len > in + size)
				abort();
		n = blf_dlgvar_encode(f, buf, sizeof(buf));
		/* canonical lengths (no leading zeros) encode back exactly */
		if(n < 0 || (n == (int)size && memcmp(buf, in, size) != 0))
			abort();
	}
	free(in);
	return 0;
}
