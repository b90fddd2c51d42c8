/* FUZZ-SOURCES: blf_parkpage.c */
/*
 * fuzz_parkpage.c — libFuzzer harness of the park orbit phone page
 * (blf_parkpage.c): hostile orbit names, call-ids and parked parties,
 * every format and visibility, a random bound.
 *
 * Input: byte 0 picks the bound, then up to 8 orbits whose four fields are
 * separated by '\n' (orbit, call_id, parked, parker), orbits by '\0'.
 * Checks: measuring and rendering agree, the page is NUL-terminated where
 * it should be, no control byte but '\n' reaches the page, a small buffer
 * is never written past (ASan), the bound holds, and under state or none
 * the page does not depend on call-ids or parties at all.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blf_parkpage.h"

#define FUZZ_ORBITS 8

static void fuzz_field(char *dst, size_t size, const uint8_t **p,
		const uint8_t *end, char stop)
{
	size_t n = 0;

	while(*p < end && **p != (uint8_t)stop && **p != '\0') {
		if(n + 1 < size)
			dst[n++] = (char)**p;
		(*p)++;
	}
	dst[n] = '\0';
	if(*p < end && **p == (uint8_t)stop)
		(*p)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	blf_park_orbit_t o[FUZZ_ORBITS], blank[FUZZ_ORBITS];
	blf_vis_t vis[FUZZ_ORBITS];
	const uint8_t *p = data, *end = data + size;
	size_t limit, len, len2, i;
	char small[64], *buf;
	int n = 0, f, v, shown;

	if(size < 1)
		return 0;
	limit = (size_t)data[0] * 64;
	p++;
	while(p < end && n < FUZZ_ORBITS) {
		memset(&o[n], 0, sizeof(o[n]));
		fuzz_field(o[n].orbit, sizeof(o[n].orbit), &p, end, '\n');
		fuzz_field(o[n].call_id, sizeof(o[n].call_id), &p, end, '\n');
		fuzz_field(o[n].parked, sizeof(o[n].parked), &p, end, '\n');
		fuzz_field(o[n].parker, sizeof(o[n].parker), &p, end, '\n');
		if(p < end && *p == '\0')
			p++;
		n++;
	}
	for(f = BLF_PAGE_YEALINK; f <= BLF_PAGE_JSON; f++) {
		for(v = BLF_VIS_FULL; v <= BLF_VIS_NONE; v++) {
			for(i = 0; i < (size_t)n; i++)
				vis[i] = (blf_vis_t)v;
			len = blf_parkpage_render(f, o, n, vis, NULL, 0, limit, &shown);
			if(shown < 0 || shown > n)
				abort();
			buf = malloc(len + 1);
			if(buf == NULL)
				return 0;
			len2 = blf_parkpage_render(f, o, n, vis, buf, len + 1, limit, NULL);
			if(len2 != len || strlen(buf) != len)
				abort();
			if(shown > 0 && len > limit)
				abort(); /* orbits past the bound were kept */
			for(i = 0; i < len; i++)
				if((unsigned char)buf[i] < 0x20 && buf[i] != '\n')
					abort();
			if(v != BLF_VIS_FULL) {
				/* the page may not depend on a call-id or a party: the
				 * same orbits with those blanked give the same page */
				char *buf2;
				for(i = 0; i < (size_t)n; i++) {
					blank[i] = o[i];
					if(blank[i].call_id[0])
						strcpy(blank[i].call_id, "x");
					blank[i].parked[0] = blank[i].parker[0] = '\0';
				}
				buf2 = malloc(len + 1);
				if(buf2 == NULL) {
					free(buf);
					return 0;
				}
				if(blf_parkpage_render(f, blank, n, vis, buf2, len + 1, limit,
						   NULL) != len
						|| memcmp(buf, buf2, len) != 0)
					abort();
				free(buf2);
			}
			free(buf);
			len2 = blf_parkpage_render(
					f, o, n, vis, small, sizeof(small), limit, NULL);
			if(len2 != len || strlen(small) != (len < sizeof(small)
										? len : sizeof(small) - 1))
				abort();
		}
	}
	return 0;
}
