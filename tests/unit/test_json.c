/* UNIT-SOURCES: blf_json.c blf_xml.c blf_state.c */
/*
 * test_json.c — unit tests of blf_json.c with the answers a broken or
 * hostile alias/park service can send: wrong types, empty and oversize
 * strings, embedded NULs, duplicate keys, bodies that are not JSON or are
 * cut short (in exact-size buffers, so ASan sees any read past the end),
 * more orbits than fit, and every jansson allocation failing in turn
 * (leaks are LeakSanitizer's job). Also Cache-Control max-age.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <stdlib.h>

#include <jansson.h>

#include "tap.h"

#include "blf_json.h"

/* the body in a malloc()ed buffer of exactly its length, no NUL */
static char *t_body(const char *s, size_t *len)
{
	char *b;

	*len = strlen(s);
	b = malloc(*len ? *len : 1);
	if(b == NULL)
		abort();
	memcpy(b, s, *len);
	return b;
}

static int t_alias(const char *s, blf_alias_answer_t *a)
{
	size_t len;
	char *b = t_body(s, &len);
	int rc = blf_json_alias(b, len, a);

	free(b);
	return rc;
}

static int t_parks(const char *s, blf_park_orbit_t *o, int max)
{
	size_t len;
	char *b = t_body(s, &len);
	int rc = blf_json_parks(b, len, o, max);

	free(b);
	return rc;
}

/* a JSON string value of n times c */
static char *t_long(char c, size_t n, const char *pre, const char *post)
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

static void test_alias_ok(void)
{
	blf_alias_answer_t a;

	CHECK_INT(t_alias("{\"entity\":\"sip:207@example.com\","
					  "\"visibility\":\"state\"}",
					  &a),
			0);
	CHECK_STR(a.entity, "sip:207@example.com");
	CHECK_INT(a.has_vis, 1);
	CHECK_INT(a.vis, BLF_VIS_STATE);

	CHECK_INT(t_alias("{\"entity\":\"sip:1@h\",\"visibility\":\"NONE\"}", &a),
			0);
	CHECK_INT(a.vis, BLF_VIS_NONE);

	/* no visibility, or null: none given */
	CHECK_INT(t_alias("{\"entity\":\"sip:1@h\"}", &a), 0);
	CHECK_INT(a.has_vis, 0);
	CHECK_INT(t_alias("{\"entity\":\"sip:1@h\",\"visibility\":null,"
					  "\"other\":[1,{}]}",
					  &a),
			0);
	CHECK_INT(a.has_vis, 0);
}

static void test_alias_bad(void)
{
	static const char *bad[] = {
			"", " ", "null", "[]", "\"sip:1@h\"", "{", "{\"entity\":",
			"{\"entity\":\"sip:1@h\"", /* cut short */
			"{\"entity\":null}", "{\"entity\":\"\"}", "{\"entity\":7}",
			"{\"entity\":[\"sip:1@h\"]}", "{\"entity\":{\"a\":1}}",
			"{\"entity\":\"sip:a\\u0000b@h\"}", /* an embedded NUL */
			"{\"entity\":\"sip:1@h\",\"entity\":\"sip:2@h\"}", /* dup */
			"{\"entity\":\"sip:1@h\",\"visibility\":\"all\"}",
			"{\"entity\":\"sip:1@h\",\"visibility\":\"\"}",
			"{\"entity\":\"sip:1@h\",\"visibility\":\"full \"}",
			"{\"entity\":\"sip:1@h\",\"visibility\":1}",
			"{\"entity\":\"sip:1@h\",\"visibility\":\"fullfullfullfullfull\"}",
			"{\"entity\":\"sip:1@h\"} trailing",
			"\xff\xfe{\"entity\":\"sip:1@h\"}",
			"{\"entity\":\"\xc0\xaf\"}", /* not UTF-8 */
	};
	blf_alias_answer_t a;
	unsigned int i;
	char *s;

	for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* what *a holds then is not to be used (blf_alias.c does not) */
		if(!CHECK(t_alias(bad[i], &a) == -1))
			printf("     accepted: %s\n", bad[i]);
	}
	CHECK_INT(blf_json_alias(NULL, 5, &a), -1);
	/* the longest entity that fits, and one byte more */
	s = t_long('a', BLF_JSON_URI_MAX - 1, "{\"entity\":\"", "\"}");
	CHECK_INT(t_alias(s, &a), 0);
	CHECK_INT(strlen(a.entity), BLF_JSON_URI_MAX - 1);
	free(s);
	s = t_long('a', BLF_JSON_URI_MAX, "{\"entity\":\"", "\"}");
	CHECK_INT(t_alias(s, &a), -1);
	free(s);
	/* deep nesting is jansson's to refuse, not a stack overflow */
	s = t_long('[', 100000, "{\"entity\":\"sip:1@h\",\"x\":", "");
	CHECK_INT(t_alias(s, &a), -1);
	free(s);
}

static void test_parks(void)
{
	blf_park_orbit_t o[4], *big;
	char *s, *p;
	int i;

	CHECK_INT(t_parks("{\"orbits\":[{\"orbit\":\"701\",\"call_id\":\"c1\","
					  "\"parked\":\"sip:201@h\",\"parker\":\"sip:202@h\"},"
					  "{\"orbit\":\"702\"}]}",
					  o, 4),
			2);
	CHECK_STR(o[0].orbit, "701");
	CHECK_STR(o[0].call_id, "c1");
	CHECK_STR(o[0].parked, "sip:201@h");
	CHECK_STR(o[0].parker, "sip:202@h");
	CHECK_STR(o[1].orbit, "702");
	CHECK_STR(o[1].call_id, "");

	/* entries without a usable orbit or with a bad field are skipped;
	 * a duplicate orbit keeps the first */
	CHECK_INT(t_parks("{\"orbits\":[7,\"x\",[],null,{},{\"orbit\":\"\"},"
					  "{\"orbit\":5},{\"orbit\":\"703\",\"parked\":5},"
					  "{\"orbit\":\"704\",\"call_id\":\"first\"},"
					  "{\"orbit\":\"704\",\"call_id\":\"second\"},"
					  "{\"orbit\":\"705\",\"parker\":null}]}",
					  o, 4),
			2);
	CHECK_STR(o[0].orbit, "704");
	CHECK_STR(o[0].call_id, "first");
	CHECK_STR(o[1].orbit, "705");

	/* a NUL escaped anywhere: jansson refuses the whole body */
	CHECK_INT(t_parks("{\"orbits\":[{\"orbit\":\"a\\u0000b\"},"
					  "{\"orbit\":\"701\"}]}",
					  o, 4),
			-1);

	/* not the expected object */
	CHECK_INT(t_parks("", o, 4), -1);
	CHECK_INT(t_parks("[]", o, 4), -1);
	CHECK_INT(t_parks("{}", o, 4), -1);
	CHECK_INT(t_parks("{\"orbits\":{}}", o, 4), -1);
	CHECK_INT(t_parks("{\"orbits\":[{\"orbit\":\"701\"}", o, 4), -1);
	CHECK_INT(t_parks("{\"orbits\":[]}", o, 4), 0);
	CHECK_INT(blf_json_parks(NULL, 3, o, 4), -1);
	CHECK_INT(t_parks("{\"orbits\":[]}", o, -1), -1);
	/* max 0: nothing is written */
	CHECK_INT(t_parks("{\"orbits\":[{\"orbit\":\"701\"}]}", NULL, 0), 0);

	/* an orbit name of 63 bytes fits, 64 does not */
	s = t_long('9', BLF_JSON_ORBIT_MAX - 1, "{\"orbits\":[{\"orbit\":\"",
			"\"}]}");
	CHECK_INT(t_parks(s, o, 4), 1);
	free(s);
	s = t_long('9', BLF_JSON_ORBIT_MAX, "{\"orbits\":[{\"orbit\":\"", "\"}]}");
	CHECK_INT(t_parks(s, o, 4), 0);
	free(s);

	/* 1000 orbits into an array of exactly 512: the first 512 */
	s = malloc(1000 * 20 + 32);
	if(s == NULL)
		abort();
	p = s + sprintf(s, "{\"orbits\":[");
	for(i = 0; i < 1000; i++)
		p += sprintf(p, "%s{\"orbit\":\"%d\"}", i ? "," : "", 1000 + i);
	sprintf(p, "]}");
	big = malloc(sizeof(*big) * 512);
	if(big == NULL)
		abort();
	CHECK_INT(t_parks(s, big, 512), 512);
	CHECK_STR(big[511].orbit, "1511");
	free(big);
	free(s);
}

static void test_max_age(void)
{
	static const struct {
		const char *v;
		int want;
	} t[] = {
			{"public, max-age=120", 120},
			{"max-age=0", 0},
			{"MAX-AGE=7", 7},
			{"no-store", 0},
			{"private, no-cache, max-age=60", 0},
			{"max-age=60, no-cache", 60},
			{"max-age=", -1},
			{"max-age=x", -1},
			{"max-age=-5", -1},
			{"s-maxage=5", -1},
			{"", -1},
			{",,, ,", -1},
			{"max-age=99999999999999999999999999", 86400 * 365},
			{"max-age=31536001", 86400 * 365},
			{"public,max-age=5junk", 5},
			{"max-age", -1},
	};
	unsigned int i;
	size_t len;
	char *b;

	for(i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		b = t_body(t[i].v, &len);
		CHECK_INT(blf_json_max_age(b, len), t[i].want);
		free(b);
	}
	/* a value cut inside the directive name */
	CHECK_INT(blf_json_max_age("max-age=12", 7), -1);
	CHECK_INT(blf_json_max_age("max-age=12", 9), 1);
}

static int t_policy(const char *s, size_t len, blf_vis_t *v)
{
	char *b = malloc(len ? len : 1);
	int rc;

	if(b == NULL)
		abort();
	memcpy(b, s, len);
	rc = blf_json_policy(b, len, v);
	free(b);
	return rc;
}

#define T_POLICY(lit, v) t_policy(lit, sizeof(lit) - 1, v)

/* the policy a 404 "not an alias" answer may carry for the URI itself */
static void test_policy(void)
{
	static const char *bad[] = {"", "null", "[]", "{}", "\"none\"",
			"{\"visibility\":null}", "{\"visibility\":2}",
			"{\"visibility\":true}", "{\"visibility\":[\"none\"]}",
			"{\"visibility\":{\"v\":\"none\"}}", "{\"visibility\":\"\"}",
			"{\"visibility\":\"secret\"}", "{\"visibility\":\"non\"}",
			"{\"visibility\":\"nonee\"}",
			"{\"visibility\":\"none\",\"visibility\":\"full\"}", /* dup */
			"{\"visibility\":\"no\\u0000ne\"}", "{\"visibility\":\"n\xffne\"}",
			"{\"visibility\":\"none\"", "{\"visibility\":\"none\"}}",
			"{\"visibility\":\"none\",\"x\":1e99999}", /* real overflow */
			"{\"visibility\":\"none\",\"x\":123456789012345678901234567890}",
			NULL};
	blf_vis_t v;
	int i;

	CHECK_INT(T_POLICY("{\"visibility\":\"none\"}", &v), 0);
	CHECK_INT(v, BLF_VIS_NONE);
	CHECK_INT(T_POLICY("{\"visibility\":\"State\",\"entity\":null}", &v), 0);
	CHECK_INT(v, BLF_VIS_STATE);
	CHECK_INT(T_POLICY(" {\"x\":{\"y\":[1,2.5e3,-0]},\"visibility\":\"full\"} ",
					  &v),
			0);
	CHECK_INT(v, BLF_VIS_FULL);
	for(i = 0; bad[i]; i++) {
		v = (blf_vis_t)77;
		if(!CHECK(t_policy(bad[i], strlen(bad[i]), &v) == -1))
			printf("     accepted: %s\n", bad[i]);
		CHECK_INT(v, 77); /* untouched on refusal */
	}
	CHECK_INT(blf_json_policy(NULL, 4, &v), -1);
	CHECK_INT(blf_json_policy("{}", 0, &v), -1);
	/* a raw NUL byte inside the body, and one after a complete object */
	CHECK_INT(T_POLICY("{\"visibility\":\"no\0ne\"}", &v), -1);
	CHECK_INT(T_POLICY("{\"visibility\":\"none\"}\0", &v), -1);
}

/* numbers and nesting a hostile service may use to exhaust the parser */
static void test_alias_numbers_nesting(void)
{
	blf_alias_answer_t a;
	char *s;

	/* numbers elsewhere in the answer: fine while jansson can hold them */
	CHECK_INT(t_alias("{\"entity\":\"sip:1@h\",\"ttl\":9223372036854775807,"
					  "\"r\":-1.5e308}",
					  &a),
			0);
	/* ... the whole answer refused when it cannot (never a wrapped value) */
	CHECK_INT(t_alias("{\"entity\":\"sip:1@h\",\"ttl\":9223372036854775808}",
					  &a),
			-1);
	CHECK_INT(t_alias("{\"entity\":\"sip:1@h\",\"r\":1e400}", &a), -1);
	CHECK_INT(t_alias("{\"entity\":\"sip:1@h\",\"r\":NaN}", &a), -1);
	CHECK_INT(t_alias("{\"entity\":\"sip:1@h\",\"r\":Infinity}", &a), -1);
	CHECK_INT(t_alias("{\"entity\":123456789012345678901234567890}", &a), -1);
	/* a raw NUL byte: inside the entity, and as a trailer */
	{
		static const char raw[] = "{\"entity\":\"sip:1\0@h\"}";
		static const char trail[] = "{\"entity\":\"sip:1@h\"}\0";
		char *b = malloc(sizeof(raw));

		if(b == NULL)
			abort();
		memcpy(b, raw, sizeof(raw) - 1);
		CHECK_INT(blf_json_alias(b, sizeof(raw) - 1, &a), -1);
		free(b);
		b = malloc(sizeof(trail));
		if(b == NULL)
			abort();
		memcpy(b, trail, sizeof(trail) - 1);
		CHECK_INT(blf_json_alias(b, sizeof(trail) - 1, &a), -1);
		free(b);
	}
	/* control characters jansson lets through escaped: refused by us */
	CHECK_INT(t_alias("{\"entity\":\"sip:1@h\\r\\nX-Evil: 1\"}", &a), -1);
	CHECK_INT(t_alias("{\"entity\":\"sip:1@h\\u007f\"}", &a), -1);
	/* valid UTF-8 beyond ASCII in the entity is kept as is */
	CHECK_INT(t_alias("{\"entity\":\"sip:j\xc3\xbcrgen@h\"}", &a), 0);
	CHECK_STR(a.entity, "sip:j\xc3\xbcrgen@h");
	/* an overlong NUL, a lone surrogate escape, a stray continuation */
	CHECK_INT(t_alias("{\"entity\":\"sip:\xc0\x80@h\"}", &a), -1);
	CHECK_INT(t_alias("{\"entity\":\"sip:\\ud800@h\"}", &a), -1);
	CHECK_INT(t_alias("{\"entity\":\"sip:\x80@h\"}", &a), -1);
	/* deep nesting of objects, closed properly: refused, no stack blowup */
	s = malloc(6 * 100000 + 64);
	if(s == NULL)
		abort();
	{
		char *p = s + sprintf(s, "{\"entity\":\"sip:1@h\",\"x\":");
		int i;

		for(i = 0; i < 100000; i++)
			p += sprintf(p, "{\"a\":");
		p += sprintf(p, "1");
		for(i = 0; i < 100000; i++)
			*p++ = '}';
		sprintf(p, "}");
	}
	CHECK_INT(t_alias(s, &a), -1);
	free(s);
}

/* 1 MB bodies: a huge unused field, a huge entity, a huge orbit list */
static void test_one_mb(void)
{
	blf_alias_answer_t a;
	blf_park_orbit_t o[8];
	char *s, *p;
	int i;

	s = t_long('x', 1 << 20, "{\"entity\":\"sip:1@h\",\"pad\":\"", "\"}");
	CHECK_INT(t_alias(s, &a), 0);
	CHECK_STR(a.entity, "sip:1@h");
	free(s);
	s = t_long('x', 1 << 20, "{\"entity\":\"sip:", "@h\"}");
	CHECK_INT(t_alias(s, &a), -1);
	free(s);
	/* 1 MB of orbits into 8: the first 8, in order */
	s = malloc((1 << 20) + 64);
	if(s == NULL)
		abort();
	p = s + sprintf(s, "{\"orbits\":[");
	for(i = 0; p - s < (1 << 20); i++)
		p += sprintf(p, "%s{\"orbit\":\"%d\"}", i ? "," : "", 100000 + i);
	sprintf(p, "]}");
	CHECK_INT(t_parks(s, o, 8), 8);
	CHECK_STR(o[0].orbit, "100000");
	CHECK_STR(o[7].orbit, "100007");
	free(s);
	/* 1 MB of one orbit name: skipped, the list is valid and empty */
	s = t_long('7', 1 << 20, "{\"orbits\":[{\"orbit\":\"", "\"}]}");
	CHECK_INT(t_parks(s, o, 8), 0);
	free(s);
}

static void test_parks_hostile(void)
{
	static const char *bad[] = {"{\"orbits\":\"701\"}", "{\"orbits\":701}",
			"{\"orbits\":null}", "{\"orbits\":true}",
			"{\"Orbits\":[{\"orbit\":\"701\"}]}",
			"{\"orbits\":[{\"orbit\":\"7\xff\"}]}", /* not UTF-8 */
			"{\"orbits\":[{\"orbit\":\"701\"}]} x",
			"{\"orbits\":[],\"orbits\":[{\"orbit\":\"701\"}]}", /* dup */
			"{\"orbits\":[{\"orbit\":\"701\",\"orbit\":\"702\"}]}",
			"{\"orbits\":[{\"orbit\":\"701\"}],\"n\":1e99999}", NULL};
	blf_park_orbit_t o[4];
	char *s;
	int i;

	for(i = 0; bad[i]; i++)
		if(!CHECK(t_parks(bad[i], o, 4) == -1))
			printf("     accepted: %s\n", bad[i]);
	/* orbit names that would be trouble in a URI, a dial string or XML */
	CHECK_INT(t_parks("{\"orbits\":[{\"orbit\":\"70 1\"},{\"orbit\":\"7;x\"},"
					  "{\"orbit\":\"<7>\"},{\"orbit\":\"7@h\"},"
					  "{\"orbit\":\"7\\r\\n\"},{\"orbit\":\"\xc3\xa9\"},"
					  "{\"orbit\":\"*7#+._-a\"}]}",
					  o, 4),
			1);
	CHECK_STR(o[0].orbit, "*7#+._-a");
	/* wrong types in the optional fields skip only their entry */
	CHECK_INT(t_parks("{\"orbits\":[{\"orbit\":\"1\",\"call_id\":[]},"
					  "{\"orbit\":\"2\",\"parker\":{}},"
					  "{\"orbit\":\"3\",\"parked\":true},"
					  "{\"orbit\":\"4\",\"call_id\":\"c\\u0001\"},"
					  "{\"orbit\":\"5\",\"call_id\":\"ok\"}]}",
					  o, 4),
			1);
	CHECK_STR(o[0].orbit, "5");
	/* deep nesting inside the list */
	s = t_long('[', 100000, "{\"orbits\":[", "");
	CHECK_INT(t_parks(s, o, 4), -1);
	free(s);
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
	const char *alias = "{\"entity\":\"sip:207@example.com\","
						"\"visibility\":\"state\",\"x\":[1,2,{\"y\":3}]}";
	const char *parks = "{\"orbits\":[{\"orbit\":\"701\",\"call_id\":\"c\"},"
						"{\"orbit\":\"702\"},{\"orbit\":\"703\"}]}";
	blf_alias_answer_t a;
	blf_park_orbit_t o[4];
	long budget;
	int rc, ok = 1;

	json_set_alloc_funcs(t_malloc, free);
	for(budget = 0; budget < 200; budget++) {
		t_budget = budget;
		t_fails = 0;
		rc = t_alias(alias, &a);
		if(t_fails == 0) {
			ok &= CHECK(rc == 0);
			break; /* enough memory: done */
		}
		ok &= CHECK(rc == -1);
	}
	CHECK(budget < 200);
	for(budget = 0; budget < 200; budget++) {
		t_budget = budget;
		t_fails = 0;
		rc = t_parks(parks, o, 4);
		if(t_fails == 0) {
			ok &= CHECK(rc == 3);
			break;
		}
		/* no memory: no list at all, never a partial one */
		ok &= CHECK(rc == -1);
	}
	CHECK(budget < 200);
	for(budget = 0; budget < 200; budget++) {
		blf_vis_t v = BLF_VIS_FULL;

		t_budget = budget;
		t_fails = 0;
		rc = T_POLICY("{\"visibility\":\"none\",\"x\":[{},{}]}", &v);
		if(t_fails == 0) {
			ok &= CHECK(rc == 0 && v == BLF_VIS_NONE);
			break;
		}
		ok &= CHECK(rc == -1);
	}
	CHECK(budget < 200);
	t_budget = -1;
	json_set_alloc_funcs(malloc, free);
	(void)ok;
}

int main(void)
{
	test_alias_ok();
	test_alias_bad();
	test_parks();
	test_max_age();
	test_policy();
	test_alias_numbers_nesting();
	test_one_mb();
	test_parks_hostile();
	test_alloc_failures();
	return tap_done("test_json");
}
