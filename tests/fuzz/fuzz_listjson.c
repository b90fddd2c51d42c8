/* FUZZ-SOURCES: blf_json.c blf_xml.c blf_state.c */
/*
 * fuzz_listjson.c — the answers of list_url and visibility_url
 * (blf_json_list, blf_json_visibility): the whole input is the HTTP body,
 * as a hostile or broken service would send it.
 *
 * Checked beyond "no crash, leak or UB": an accepted list keeps within max
 * (an array of exactly max entries, so ASan sees a write past it), every
 * URI and name is NUL-terminated, the URI starts with sip: or sips: and
 * holds no space, quote, angle bracket or control character, names hold
 * no control character, URIs are distinct, and kept + dropped never
 * exceeds the number of entries.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <strings.h>

#include <jansson.h>

#include "fuzz.h"

#include "blf_json.h"

static void fz_list(const char *body, size_t len, int max)
{
	blf_list_member_t *m = NULL;
	char name[BLF_JSON_NAME_MAX];
	int n, i, k, dropped = -1;
	const char *p;

	if(max > 0) {
		m = malloc(sizeof(*m) * (size_t)max);
		FZ_CHECK(m != NULL);
		memset(m, 0xa5, sizeof(*m) * (size_t)max);
	}
	n = blf_json_list(body, len, name, sizeof(name), m, max, &dropped);
	FZ_CHECK(n >= -1 && n <= max);
	FZ_CHECK(dropped >= 0);
	FZ_CHECK(memchr(name, '\0', sizeof(name)) != NULL);
	if(n < 0)
		FZ_CHECK(name[0] == '\0');
	for(i = 0; i < n; i++) {
		FZ_CHECK(memchr(m[i].uri, '\0', sizeof(m[i].uri)) != NULL);
		FZ_CHECK(memchr(m[i].name, '\0', sizeof(m[i].name)) != NULL);
		FZ_CHECK(strncasecmp(m[i].uri, "sip:", 4) == 0
				 || strncasecmp(m[i].uri, "sips:", 5) == 0);
		for(p = m[i].uri; *p; p++)
			FZ_CHECK((unsigned char)*p > 0x20 && *p != 0x7f
					 && !strchr("\"<>\\", *p));
		for(p = m[i].name; *p; p++)
			FZ_CHECK((unsigned char)*p >= 0x20 && *p != 0x7f);
		for(k = 0; k < i; k++)
			FZ_CHECK(strcmp(m[k].uri, m[i].uri) != 0);
	}
	free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	blf_vis_t v;

	fz_list(body, size, BLF_JSON_LIST_MEMBERS_DEFAULT);
	fz_list(body, size, (int)(size % 4));
	if(blf_json_visibility(body, size, &v) == 0)
		FZ_CHECK(v == BLF_VIS_FULL || v == BLF_VIS_STATE || v == BLF_VIS_NONE);
	return 0;
}
