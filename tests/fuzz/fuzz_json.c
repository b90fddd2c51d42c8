/* FUZZ-SOURCES: blf_json.c blf_xml.c blf_state.c */
/*
 * fuzz_json.c — the answers of the alias and park services and the
 * Cache-Control value that comes with them (blf_json.c): the whole input is
 * handed to every public function as the HTTP body (or header value), as a
 * hostile or broken service would send it.
 *
 * Checked beyond "no crash, leak or UB": an accepted alias answer has a
 * non-empty, NUL-terminated entity that is the answer's own "entity" string
 * and a known visibility; a park list keeps within max (an array of exactly
 * max entries, so ASan sees a write past it), with distinct non-empty
 * orbits and every string NUL-terminated; max-age is -1 or 0..1 year.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <jansson.h>

#include "fuzz.h"

#include "blf_json.h"

static void fz_alias(const char *body, size_t len)
{
	blf_alias_answer_t a;
	json_t *root, *v;

	memset(&a, 0xa5, sizeof(a)); /* garbage, as on a real stack */
	if(blf_json_alias(body, len, &a) != 0)
		return;
	FZ_CHECK(memchr(a.entity, '\0', sizeof(a.entity)) != NULL);
	FZ_CHECK(a.entity[0] != '\0');
	FZ_CHECK(a.has_vis == 0 || a.has_vis == 1);
	FZ_CHECK(!a.has_vis || a.vis == BLF_VIS_FULL || a.vis == BLF_VIS_STATE
			 || a.vis == BLF_VIS_NONE);
	/* what was accepted is what the answer says */
	root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
	FZ_CHECK(json_is_object(root));
	v = json_object_get(root, "entity");
	FZ_CHECK(json_is_string(v));
	FZ_CHECK(strcmp(json_string_value(v), a.entity) == 0);
	json_decref(root);
}

static void fz_parks(const char *body, size_t len, int max)
{
	blf_park_orbit_t *o = NULL;
	int n, i, k;

	if(max > 0) {
		o = malloc(sizeof(*o) * (size_t)max);
		FZ_CHECK(o != NULL);
		memset(o, 0xa5, sizeof(*o) * (size_t)max);
	}
	n = blf_json_parks(body, len, o, max);
	FZ_CHECK(n >= -1 && n <= max);
	for(i = 0; i < n; i++) {
		FZ_CHECK(memchr(o[i].orbit, '\0', sizeof(o[i].orbit)) != NULL);
		FZ_CHECK(memchr(o[i].call_id, '\0', sizeof(o[i].call_id)) != NULL);
		FZ_CHECK(memchr(o[i].parked, '\0', sizeof(o[i].parked)) != NULL);
		FZ_CHECK(memchr(o[i].parker, '\0', sizeof(o[i].parker)) != NULL);
		FZ_CHECK(o[i].orbit[0] != '\0');
		for(k = 0; k < i; k++)
			FZ_CHECK(strcmp(o[k].orbit, o[i].orbit) != 0);
	}
	free(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;
	int age;

	fz_alias(body, size);
	/* the module's own bound (blf_park.c) and a few small ones that cut
	 * the list short */
	fz_parks(body, size, 512);
	fz_parks(body, size, (int)(size % 4));
	age = blf_json_max_age(body, size);
	FZ_CHECK(age >= -1 && age <= 86400 * 365);
	return 0;
}
