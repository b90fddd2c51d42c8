/*
 * blf_json.h — the HTTP answers of the alias and park services, parsed with
 * jansson. Pure: no Kamailio headers, every result in caller memory.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_JSON_H
#define BLF_JSON_H

#include <stddef.h>
#include "blf_xml.h"

#define BLF_JSON_URI_MAX 256
#define BLF_JSON_ORBIT_MAX 64
#define BLF_JSON_CALLID_MAX 256

/* {"entity":"sip:207@example.com","visibility":"state"} */
typedef struct blf_alias_answer {
	char entity[BLF_JSON_URI_MAX];
	int has_vis; /* 0: no visibility in the answer */
	blf_vis_t vis;
} blf_alias_answer_t;

/* 0 on success, -1 when the body is not such an object */
int blf_json_alias(const char *body, size_t len, blf_alias_answer_t *out);

/*
 * {"visibility":"none"}: the policy an answer gives for the URI asked
 * itself (a 404 "not an alias" may carry it). 0 with *vis set, -1 when
 * the body has none.
 */
int blf_json_policy(const char *body, size_t len, blf_vis_t *vis);

typedef struct blf_park_orbit {
	char orbit[BLF_JSON_ORBIT_MAX];
	char call_id[BLF_JSON_CALLID_MAX]; /* "" when the orbit is empty */
	char parked[BLF_JSON_URI_MAX];
	char parker[BLF_JSON_URI_MAX];
} blf_park_orbit_t;

/*
 * {"orbits":[{"orbit":"701","call_id":"...","parked":"sip:..",
 * "parker":"sip:.."},{"orbit":"702"}]} into out[0..max-1].
 * Returns the number of orbits (entries without a usable "orbit" string --
 * letters, digits and * # + . _ - only -- or with a control character in
 * a string are skipped; duplicate orbits keep the first), or -1 when the
 * body is not such an object or repeats a key within an object. More than
 * max orbits: the first max are kept.
 */
int blf_json_parks(
		const char *body, size_t len, blf_park_orbit_t *out, int max);

/*
 * max-age of a Cache-Control header value ("public, max-age=120"), or -1
 * when there is none (no-store and no-cache count as 0).
 */
int blf_json_max_age(const char *value, size_t len);

/* --- resource lists and per-watcher visibility (issue #12) ------------ */

/* members per list when the module's parameter does not say otherwise */
#define BLF_JSON_LIST_MEMBERS_DEFAULT 500
/* bytes of a list's or a member's display name, NUL included */
#define BLF_JSON_NAME_MAX 128

typedef struct blf_list_member {
	char uri[BLF_JSON_URI_MAX];	  /* sip: or sips: URI */
	char name[BLF_JSON_NAME_MAX]; /* "" when none */
} blf_list_member_t;

/*
 * The answer of list_url:
 * {"members":["sip:201@example.com",{"uri":"sip:202@example.com",
 * "name":"Anna"}],"name":"Reception"} into name (the list's name, "" when
 * none; name_size bytes) and out[0..max-1]. Returns the number of members,
 * or -1 when the body is not such an object (no "members" array, a list
 * "name" that is not a string of at most BLF_JSON_NAME_MAX - 1 bytes
 * without control characters). Members that are neither a string nor an
 * object with a "uri" string, whose URI is not sip:/sips: with no space,
 * quote, angle bracket or control character, or is too long, or whose
 * "name" is bad, are skipped; a URI repeated (byte for byte: aliases
 * and case are resolved later, per entity) keeps its first entry; past max members the rest are left out (*dropped, if
 * not NULL, counts what was skipped or left out so the caller can log).
 */
int blf_json_list(const char *body, size_t len, char *name, size_t name_size,
		blf_list_member_t *out, int max, int *dropped);

/*
 * The answer of visibility_url: {"visibility":"full|state|none"} -> *vis.
 * 0, or -1 when the body is not such an object (a 404 means "no rule"
 * and is the caller's business).
 */
int blf_json_visibility(const char *body, size_t len, blf_vis_t *vis);

#endif
