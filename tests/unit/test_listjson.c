/* UNIT-SOURCES: blf_json.c blf_xml.c blf_state.c */
/*
 * test_listjson.c — unit tests of the list_url and visibility_url answers
 * (blf_json_list, blf_json_visibility) with what a broken or hostile list
 * service can send: wrong types, members that are not SIP URIs or carry
 * quotes, angle brackets, CR/LF or NULs, oversize URIs and names,
 * duplicates, more members than the limit, bodies cut short (in
 * exact-size buffers, so ASan sees any read past the end), and every
 * jansson allocation failing in turn (leaks are LeakSanitizer's job).
 * Kept apart from test_json.c, which covers the alias and park answers.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <stdlib.h>

#include <jansson.h>

#include "tap.h"

#include "blf_json.h"

#define T_MAX 8

static blf_list_member_t t_m[BLF_JSON_LIST_MEMBERS_DEFAULT];
static char t_name[BLF_JSON_NAME_MAX];
static int t_dropped;

/* the body in a malloc()ed buffer of exactly its length, no NUL */
static int t_list_n(const char *s, size_t len, int max)
{
	char *b = malloc(len ? len : 1);
	int rc;

	if(b == NULL)
		abort();
	memcpy(b, s, len);
	memset(t_m, 0xa5, sizeof(t_m));
	rc = blf_json_list(b, len, t_name, sizeof(t_name), t_m, max, &t_dropped);
	free(b);
	return rc;
}

static int t_list(const char *s, int max)
{
	return t_list_n(s, strlen(s), max);
}

static void test_good(void)
{
	CHECK_INT(t_list("{\"members\":[\"sip:201@example.com\","
					 "{\"uri\":\"sip:202@example.com\",\"name\":\"Anna\"}],"
					 "\"name\":\"Reception\"}",
					  T_MAX),
			2);
	CHECK_STR(t_name, "Reception");
	CHECK_STR(t_m[0].uri, "sip:201@example.com");
	CHECK_STR(t_m[0].name, "");
	CHECK_STR(t_m[1].uri, "sip:202@example.com");
	CHECK_STR(t_m[1].name, "Anna");
	CHECK_INT(t_dropped, 0);
	/* no name, empty list, sips:, name null, UTF-8 name */
	CHECK_INT(t_list("{\"members\":[]}", T_MAX), 0);
	CHECK_STR(t_name, "");
	CHECK_INT(t_list("{\"members\":[\"SIPS:7@x.org\",{\"uri\":\"sip:8@x.org\","
					 "\"name\":null}],\"name\":null,\"extra\":[1,{}]}",
					  T_MAX),
			2);
	CHECK_STR(t_m[0].uri, "SIPS:7@x.org");
	CHECK_INT(t_list("{\"members\":[{\"uri\":\"sip:9@x.org\",\"name\":"
					 "\"J\\u00fcrgen \\u5f20\"}]}",
					  T_MAX),
			1);
	CHECK_STR(t_m[0].name, "J\xc3\xbcrgen \xe5\xbc\xa0");
	/* URI parameters and a user=phone are fine */
	CHECK_INT(
			t_list("{\"members\":[\"sip:+4930123@x.org;user=phone\"]}", T_MAX),
			1);
	/* a NULL name buffer is allowed */
	CHECK_INT(blf_json_list("{\"members\":[]}", 14, NULL, 0, t_m, 1, NULL), 0);
}

static void test_not_a_list(void)
{
	static const char *bad[] = {"", "null", "[]", "\"members\"", "{}",
			"{\"members\":null}", "{\"members\":{}}",
			"{\"members\":\"sip:a@b\"}", "{\"members\":[],\"name\":7}",
			"{\"members\":[],\"name\":[\"x\"]}",
			"{\"members\":[],\"name\":\"a\\nb\"}",
			"{\"members\":[],\"name\":\"a\\u0000b\"}",
			"{\"members\":[],\"members\":[\"sip:a@b\"]}", "{\"members\":[",
			"{\"members\":[\"sip:a@b\"]", "{\"members\":[\"sip:a@b\"]}junk",
			"\xef\xbb\xbf{\"members\":[]}",
			/* jansson refuses a NUL in any string: the whole answer */
			"{\"members\":[\"sip:a@x\\u0000\"]}", "{\"members\":[\"\xc3\"]}"};
	unsigned int i;

	for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		strcpy(t_name, "x");
		if(!CHECK(t_list(bad[i], T_MAX) == -1))
			printf("     accepted: %s\n", bad[i]);
		CHECK_STR(t_name, "");
	}
	CHECK_INT(blf_json_list(NULL, 0, t_name, sizeof(t_name), t_m, 1, NULL), -1);
	CHECK_INT(blf_json_list("{\"members\":[]}", 14, t_name, sizeof(t_name), t_m,
					  -1, NULL),
			-1);
	CHECK_INT(blf_json_list("{\"members\":[]}", 14, t_name, sizeof(t_name),
					  NULL, 3, NULL),
			-1);
	/* a list name longer than the caller's buffer: not such an answer */
	CHECK_INT(blf_json_list("{\"members\":[],\"name\":\"abcdef\"}", 30, t_name,
					  4, t_m, 1, NULL),
			-1);
}

static void test_bad_members(void)
{
	/* each bad member is skipped, the good one kept */
	static const char *bad[] = {"7", "null", "true", "[]", "{}", "{\"uri\":7}",
			"{\"name\":\"x\"}", "\"\"", "\"201@example.com\"", "\"tel:+4930\"",
			"\"sip:\"", "\"sip:a b@x\"", "\"sip:a\\\"b@x\"", "\"sip:<a>@x\"",
			"\"sip:a@x\\r\\nX-Evil: 1\"", "\"sip:a\\\\b@x\"",
			"\"sip:a\\u007f@x\"", "{\"uri\":\"sip:a@x\",\"name\":\"a\\r\\nb\"}",
			"{\"uri\":\"sip:a@x\",\"name\":7}", "{\"uri\":\"sip:a\\tb@x\"}"};
	char buf[512];
	unsigned int i;

	for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(buf, sizeof(buf), "{\"members\":[%s,\"sip:ok@example.com\"]}",
				bad[i]);
		if(!CHECK(t_list(buf, T_MAX) == 1)) {
			printf("     member: %s\n", bad[i]);
			continue;
		}
		CHECK_STR(t_m[0].uri, "sip:ok@example.com");
		CHECK_INT(t_dropped, 1);
	}
	/* quotes and brackets in a name are fine (escaped where rendered) */
	CHECK_INT(t_list("{\"members\":[{\"uri\":\"sip:a@x\",\"name\":"
					 "\"<Boss> & \\\"Co\\\"\"}]}",
					  T_MAX),
			1);
	CHECK_STR(t_m[0].name, "<Boss> & \"Co\"");
}

static char *t_repeat(const char *pre, char c, size_t n, const char *post)
{
	size_t lp = strlen(pre), lq = strlen(post);
	char *s = malloc(lp + n + lq + 1);

	if(s == NULL)
		abort();
	memcpy(s, pre, lp);
	memset(s + lp, c, n);
	memcpy(s + lp + n, post, lq + 1);
	return s;
}

static void test_bounds(void)
{
	char *s, *p;
	int i;

	/* URI of exactly BLF_JSON_URI_MAX - 1 bytes: kept; one more: skipped */
	s = t_repeat("{\"members\":[\"sip:", 'a', BLF_JSON_URI_MAX - 1 - 4, "\"]}");
	CHECK_INT(t_list(s, T_MAX), 1);
	CHECK_INT(strlen(t_m[0].uri), BLF_JSON_URI_MAX - 1);
	free(s);
	s = t_repeat("{\"members\":[\"sip:", 'a', BLF_JSON_URI_MAX - 4, "\"]}");
	CHECK_INT(t_list(s, T_MAX), 0);
	CHECK_INT(t_dropped, 1);
	free(s);
	/* names: the same at BLF_JSON_NAME_MAX */
	s = t_repeat("{\"members\":[{\"uri\":\"sip:a@x\",\"name\":\"", 'n',
			BLF_JSON_NAME_MAX - 1, "\"}]}");
	CHECK_INT(t_list(s, T_MAX), 1);
	free(s);
	s = t_repeat("{\"members\":[{\"uri\":\"sip:a@x\",\"name\":\"", 'n',
			BLF_JSON_NAME_MAX, "\"}]}");
	CHECK_INT(t_list(s, T_MAX), 0);
	free(s);
	s = t_repeat("{\"members\":[],\"name\":\"", 'n', BLF_JSON_NAME_MAX, "\"}");
	CHECK_INT(t_list(s, T_MAX), -1);
	free(s);
	/* 2000 members, 500 kept: the first 500, the rest counted */
	s = malloc(2000 * 32 + 32);
	if(s == NULL)
		abort();
	p = s + sprintf(s, "{\"members\":[");
	for(i = 0; i < 2000; i++)
		p += sprintf(p, "%s\"sip:%d@example.com\"", i ? "," : "", 1000 + i);
	sprintf(p, "]}");
	CHECK_INT(t_list(s, BLF_JSON_LIST_MEMBERS_DEFAULT),
			BLF_JSON_LIST_MEMBERS_DEFAULT);
	CHECK_STR(t_m[499].uri, "sip:1499@example.com");
	CHECK_INT(t_dropped, 1500);
	/* max 0: nothing kept, not an error */
	CHECK_INT(t_list(s, 0), 0);
	free(s);
	/* duplicates keep the first; a different case is another URI */
	CHECK_INT(t_list("{\"members\":[\"sip:a@x\",{\"uri\":\"sip:a@x\","
					 "\"name\":\"2nd\"},\"sip:A@x\"]}",
					  T_MAX),
			2);
	CHECK_STR(t_m[0].name, "");
	CHECK_INT(t_dropped, 1);
	/* cut short at every length: never a read past the end, never valid */
	{
		const char *full = "{\"members\":[\"sip:201@example.com\",{\"uri\":"
						   "\"sip:202@example.com\",\"name\":\"A\"}],"
						   "\"name\":\"R\"}";
		size_t n, len = strlen(full);

		for(n = 0; n < len; n++)
			CHECK_INT(t_list_n(full, n, T_MAX), -1);
		CHECK_INT(t_list_n(full, len, T_MAX), 2);
	}
}

static void test_visibility(void)
{
	blf_vis_t v = BLF_VIS_FULL;

	CHECK_INT(blf_json_visibility("{\"visibility\":\"none\"}", 21, &v), 0);
	CHECK_INT(v, BLF_VIS_NONE);
	CHECK_INT(blf_json_visibility("{\"visibility\":\"state\"}", 22, &v), 0);
	CHECK_INT(v, BLF_VIS_STATE);
	CHECK_INT(blf_json_visibility("{\"visibility\":\"full\"}", 21, &v), 0);
	CHECK_INT(v, BLF_VIS_FULL);
	CHECK_INT(blf_json_visibility("{\"visibility\":\"secret\"}", 23, &v), -1);
	CHECK_INT(blf_json_visibility("{\"visibility\":1}", 16, &v), -1);
	CHECK_INT(blf_json_visibility("{}", 2, &v), -1);
	CHECK_INT(blf_json_visibility("", 0, &v), -1);
	CHECK_INT(blf_json_visibility(NULL, 5, &v), -1);
	CHECK_INT(blf_json_visibility("{\"visibility\":\"none\"", 20, &v), -1);
}

/* --- every jansson allocation failing in turn ------------------------- */

static long t_budget = -1;
static long t_fails;

static void *t_malloc(size_t n)
{
	if(t_budget == 0) {
		t_fails++;
		return NULL;
	}
	if(t_budget > 0)
		t_budget--;
	return malloc(n);
}

static void test_alloc_failures(void)
{
	const char *list = "{\"members\":[\"sip:201@example.com\",{\"uri\":"
					   "\"sip:202@example.com\",\"name\":\"A\"},\"sip:x\"],"
					   "\"name\":\"R\",\"z\":[1,{\"y\":2}]}";
	long budget;
	int rc;

	json_set_alloc_funcs(t_malloc, free);
	for(budget = 0; budget < 400; budget++) {
		t_budget = budget;
		t_fails = 0;
		rc = t_list(list, T_MAX);
		if(t_fails == 0) {
			CHECK_INT(rc, 3);
			break;
		}
		CHECK_INT(rc, -1);
	}
	CHECK(budget < 400);
	for(budget = 0; budget < 100; budget++) {
		blf_vis_t v;

		t_budget = budget;
		t_fails = 0;
		rc = blf_json_visibility("{\"visibility\":\"state\"}", 22, &v);
		if(t_fails == 0) {
			CHECK_INT(rc, 0);
			break;
		}
		CHECK_INT(rc, -1);
	}
	t_budget = -1;
	json_set_alloc_funcs(malloc, free);
}

int main(void)
{
	test_good();
	test_not_a_list();
	test_bad_members();
	test_bounds();
	test_visibility();
	test_alloc_failures();
	return tap_done("test_listjson");
}
