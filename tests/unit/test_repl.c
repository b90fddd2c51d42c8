/* UNIT-SOURCES: blf_repl.c blf_mvers.c */
/*
 * test_repl.c — unit tests of blf_repl.c: the checks a cluster replica
 * passes before anything of it is applied. Valid replicas as blf_dmq.c
 * sends them pass; each hostile change of one field rejects the message.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <stdlib.h>
#include <string.h>

#include "tap.h"

#include "blf_repl.h"
#include "blf_mvers.h"

static const blf_repl_limits_t lim = {1700000000LL, 3600};

static json_t *call_rec(void)
{
	return json_pack("{s:s, s:s, s:i, s:i, s:i, s:i, s:i, s:I, "
					 "s:[s,s,s,s,s,s,s,s,s], s:[[i,i,i,i],[i,i,i,i]]}",
			"t", "call", "e", "201@pbx.example.com", "d", 0, "s", 2, "x", 0,
			"c", 180, "q", 2, "st", (json_int_t)1699999990, "f",
			"a84b4c76e66710@pc33.example.com", "1928301774", "a6c85cf",
			"sip:201@pbx.example.com", "Alice \xc3\x89", "sip:201@192.0.2.4:5060",
			"sip:202@pbx.example.com", "", "", "h", 0, 0, 0, 0, 1, 1, 0, 100);
}

static json_t *sub_rec(void)
{
	return json_pack("{s:s, s:s, s:I, s:i, s:i, s:i, s:i, "
					 "s:[s,s,s,s,s,s,s,s,s,s,s,s,s]}",
			"t", "sub", "e", "202@pbx.example.com", "x",
			(json_int_t)1700003000, "v", 3, "q", 4, "fl", 0, "vi", 1, "f",
			"sub-1@192.0.2.5", "ft1", "blf.1.2.abc", "watcher@pbx.example.com",
			"sip:watcher@pbx.example.com", "sip:202@pbx.example.com", "",
			"sip:watcher@192.0.2.5:5060;transport=udp",
			"<sip:192.0.2.1;lr>,<sip:192.0.2.2;lr>", "udp:127.0.0.1:5060", "",
			"1", "");
}

static json_t *msg(const char *t, json_t *rec)
{
	json_t *m;

	if(rec) {
		json_object_set_new(rec, "n", json_string("udp:127.0.0.1:5060"));
		json_object_set_new(rec, "b", json_integer(12345));
		return rec;
	}
	m = json_pack("{s:s, s:s, s:i}", "t", t, "n", "blf-a", "b", 7);
	return m;
}

static json_t *batch(json_t *rec)
{
	json_t *m = json_pack("{s:s, s:s, s:i, s:[o]}", "t", "batch", "n",
			"blf-a", "b", 7, "m", rec);
	return m;
}

/* 0 when check accepts m; m is consumed */
static int check(json_t *m)
{
	char why[200];
	int rc = blf_repl_check(m, &lim, why, sizeof(why));

	if(rc < 0 && getenv("BLF_TEST_VERBOSE"))
		printf("     rejected: %s\n", why);
	json_decref(m);
	return rc;
}

static void set_f(json_t *rec, int i, const char *v)
{
	json_array_set_new(json_object_get(rec, "f"), i, json_string(v));
}

static void set_fn(json_t *rec, int i, const char *v, size_t n)
{
	json_array_set_new(json_object_get(rec, "f"), i, json_stringn(v, n));
}

static char *rep(char c, size_t n)
{
	char *s = malloc(n + 1);

	memset(s, c, n);
	s[n] = '\0';
	return s;
}

static void test_valid(void)
{
	CHECK_INT(check(msg("hello", NULL)), 0);
	CHECK_INT(check(msg("sync", NULL)), 0);
	CHECK_INT(check(msg(NULL, call_rec())), 0);
	CHECK_INT(check(msg(NULL, sub_rec())), 0);
	CHECK_INT(check(batch(call_rec())), 0);
	CHECK_INT(check(batch(sub_rec())), 0);
	CHECK_INT(check(batch(json_pack("{s:s, s:s, s:[s,s,s]}", "t", "unsub",
					  "e", "202@pbx.example.com", "f", "c@h", "ft", "tt"))),
			0);
	CHECK_INT(check(batch(json_pack("{s:s, s:s, s:s, s:i, s:i}", "t", "ver",
					  "e", "202@pbx.example.com", "g", "blf.1.2.abc", "v", 9,
					  "q", 10))),
			0);
	CHECK_INT(check(batch(json_pack("{s:s, s:s, s:s, s:i, s:i, s:[s]}", "t",
					  "mv", "e", "301@pbx.example.com", "to",
					  "201@pbx.example.com", "d", 1, "q", 4, "f", "c@h"))),
			0);
	/* IPv6 node names, targets and keys */
	{
		json_t *c = call_rec();
		json_object_set_new(c, "e", json_string("202@[::1]"));
		set_f(c, 5, "sip:201@[2001:db8::1]:5060");
		json_t *m = msg(NULL, c);
		json_object_set_new(m, "n", json_string("udp:[::1]:5060"));
		CHECK_INT(check(m), 0);
	}
	/* a call without history or start */
	{
		json_t *c = call_rec();
		json_object_del(c, "h");
		json_object_del(c, "st");
		CHECK_INT(check(msg(NULL, c)), 0);
	}
	/* unknown members are ignored (a newer peer) */
	{
		json_t *c = call_rec();
		json_object_set_new(c, "zz", json_string("x"));
		CHECK_INT(check(msg(NULL, c)), 0);
	}
}

static void test_sender(void)
{
	json_t *m;

	CHECK_INT(check(json_array()), -1);
	CHECK_INT(check(json_string("hello")), -1);
	m = msg("hello", NULL);
	json_object_del(m, "n");
	CHECK_INT(check(m), -1);
	m = msg("hello", NULL);
	json_object_set_new(m, "n", json_string(""));
	CHECK_INT(check(m), -1);
	m = msg("hello", NULL);
	json_object_set_new(m, "n", json_string("evil node"));
	CHECK_INT(check(m), -1);
	m = msg("hello", NULL);
	json_object_set_new(m, "n", json_string("a\nb"));
	CHECK_INT(check(m), -1);
	{
		char *s = rep('n', BLF_REPL_NAME_MAX + 1);
		m = msg("hello", NULL);
		json_object_set_new(m, "n", json_string(s));
		CHECK_INT(check(m), -1);
		s[BLF_REPL_NAME_MAX] = '\0';
		m = msg("hello", NULL);
		json_object_set_new(m, "n", json_string(s));
		CHECK_INT(check(m), 0);
		free(s);
	}
	m = msg("hello", NULL);
	json_object_set_new(m, "n", json_integer(3));
	CHECK_INT(check(m), -1);
	m = msg("hello", NULL);
	json_object_del(m, "b");
	CHECK_INT(check(m), -1);
	m = msg("hello", NULL);
	json_object_set_new(m, "b", json_integer(-1));
	CHECK_INT(check(m), -1);
	m = msg("hello", NULL);
	json_object_set_new(m, "b", json_integer(4294967296LL));
	CHECK_INT(check(m), -1);
	m = msg("hello", NULL);
	json_object_set_new(m, "t", json_string("nuke"));
	CHECK_INT(check(m), -1);
	m = msg("hello", NULL);
	json_object_del(m, "t");
	CHECK_INT(check(m), -1);
}

static void test_batch(void)
{
	json_t *m, *a;
	int i;

	m = msg("batch", NULL);
	CHECK_INT(check(m), -1); /* no "m" */
	m = msg("batch", NULL);
	json_object_set_new(m, "m", json_object());
	CHECK_INT(check(m), -1);
	/* no nesting, no hello or sync inside */
	CHECK_INT(check(batch(batch(call_rec()))), -1);
	CHECK_INT(check(batch(json_pack("{s:s}", "t", "sync"))), -1);
	CHECK_INT(check(batch(json_integer(1))), -1);
	/* the bound on records */
	a = json_array();
	for(i = 0; i < BLF_REPL_RECORDS_MAX; i++)
		json_array_append_new(a, json_pack("{s:s, s:s, s:[s,s,s]}", "t",
				"unsub", "e", "a@b", "f", "c", "f", "t"));
	m = msg("batch", NULL);
	json_object_set(m, "m", a);
	CHECK_INT(check(m), 0);
	json_array_append_new(a, json_pack("{s:s, s:s, s:[s,s,s]}", "t",
			"unsub", "e", "a@b", "f", "c", "f", "t"));
	m = msg("batch", NULL);
	json_object_set_new(m, "m", a);
	CHECK_INT(check(m), -1);
	/* one bad record rejects the whole batch */
	a = json_array();
	json_array_append_new(a, call_rec());
	json_array_append_new(a, json_pack("{s:s}", "t", "call"));
	m = msg("batch", NULL);
	json_object_set_new(m, "m", a);
	CHECK_INT(check(m), -1);
}

static void test_call_fields(void)
{
	static const struct {
		const char *name;
		json_int_t bad;
	} ints[] = {{"d", 2}, {"d", -1}, {"s", 5}, {"x", 8}, {"c", 700},
			{"c", -1}, {"q", 65536}, {"st", -5}, {"st", 1800000000LL}};
	json_t *c;
	unsigned i;
	char *s;

	for(i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		c = call_rec();
		json_object_set_new(c, ints[i].name, json_integer(ints[i].bad));
		CHECK_INT(check(msg(NULL, c)), -1);
		c = call_rec();
		json_object_set_new(c, ints[i].name, json_string("1"));
		CHECK_INT(check(msg(NULL, c)), -1);
	}
	c = call_rec();
	json_object_del(c, "s");
	CHECK_INT(check(msg(NULL, c)), -1);
	/* entity keys */
	{
		static const char *keys[] = {"", "nobody", "@host", "user@",
				"a b@c", "a<b@c", "a@c\r\nX: y", "a\"@b"};
		for(i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
			c = call_rec();
			json_object_set_new(c, "e", json_string(keys[i]));
			CHECK_INT(check(msg(NULL, c)), -1);
		}
		s = rep('u', BLF_REPL_KEY_MAX + 1);
		s[3] = '@';
		c = call_rec();
		json_object_set_new(c, "e", json_string(s));
		CHECK_INT(check(msg(NULL, c)), -1);
		free(s);
	}
	/* fields: count, type, charset, bounds */
	c = call_rec();
	json_array_remove(json_object_get(c, "f"), 8);
	CHECK_INT(check(msg(NULL, c)), -1);
	c = call_rec();
	json_array_append_new(json_object_get(c, "f"), json_string(""));
	CHECK_INT(check(msg(NULL, c)), -1);
	c = call_rec();
	json_array_set_new(json_object_get(c, "f"), 0, json_integer(5));
	CHECK_INT(check(msg(NULL, c)), -1);
	c = call_rec();
	set_f(c, 0, ""); /* empty Call-ID */
	CHECK_INT(check(msg(NULL, c)), -1);
	c = call_rec();
	set_f(c, 0, "abc def");
	CHECK_INT(check(msg(NULL, c)), -1);
	c = call_rec();
	set_fn(c, 0, "ab\0cd", 5); /* an embedded NUL */
	CHECK_INT(check(msg(NULL, c)), -1);
	s = rep('c', BLF_REPL_CALLID_MAX + 1);
	c = call_rec();
	set_f(c, 0, s);
	CHECK_INT(check(msg(NULL, c)), -1);
	s[BLF_REPL_CALLID_MAX] = '\0';
	c = call_rec();
	set_f(c, 0, s);
	CHECK_INT(check(msg(NULL, c)), 0);
	free(s);
	c = call_rec();
	set_f(c, 1, "tag;x=y");
	CHECK_INT(check(msg(NULL, c)), -1);
	c = call_rec();
	set_f(c, 2, "tag\"");
	CHECK_INT(check(msg(NULL, c)), -1);
	s = rep('t', BLF_REPL_TAG_MAX + 1);
	c = call_rec();
	set_f(c, 2, s);
	CHECK_INT(check(msg(NULL, c)), -1);
	free(s);
	/* URIs: the identities and the remote targets (pickup dials them) */
	{
		static const char *uris[] = {"tel:+15551234", "http://evil/",
				"sip:", "sip:a b@c", "sip:<a@b>", "sip:a@b\r\nVia: x",
				"mailto:a@b", "sip:a@b>"};
		int fi[] = {3, 5, 6, 8};
		unsigned k;
		for(k = 0; k < 4; k++)
			for(i = 0; i < sizeof(uris) / sizeof(uris[0]); i++) {
				c = call_rec();
				set_f(c, fi[k], uris[i]);
				CHECK_INT(check(msg(NULL, c)), -1);
			}
		s = rep('u', BLF_REPL_URI_MAX + 1);
		memcpy(s, "sip:", 4);
		c = call_rec();
		set_f(c, 8, s);
		CHECK_INT(check(msg(NULL, c)), -1);
		free(s);
		c = call_rec();
		set_f(c, 8, "SIPS:bob@[2001:db8::2]:5061;transport=tls");
		CHECK_INT(check(msg(NULL, c)), 0);
	}
	/* display names: UTF-8 fine, no control characters, bounded */
	c = call_rec();
	set_f(c, 4, "Bob\r\nSubject: hi");
	CHECK_INT(check(msg(NULL, c)), -1);
	c = call_rec();
	set_f(c, 7, "x\x7f");
	CHECK_INT(check(msg(NULL, c)), -1);
	s = rep('d', BLF_REPL_DISP_MAX + 1);
	c = call_rec();
	set_f(c, 7, s);
	CHECK_INT(check(msg(NULL, c)), -1);
	free(s);
	/* history */
	c = call_rec();
	json_object_set_new(c, "h", json_pack("[[i,i,i,i]]", 0, 9, 0, 0));
	CHECK_INT(check(msg(NULL, c)), -1);
	c = call_rec();
	json_object_set_new(c, "h", json_pack("[[i,i,i]]", 0, 1, 0));
	CHECK_INT(check(msg(NULL, c)), -1);
	c = call_rec();
	json_object_set_new(c, "h", json_pack("[[i,i,i,s]]", 0, 1, 0, "x"));
	CHECK_INT(check(msg(NULL, c)), -1);
	c = call_rec();
	json_object_set_new(c, "h", json_pack("{}"));
	CHECK_INT(check(msg(NULL, c)), -1);
	c = call_rec();
	json_object_set_new(c, "h",
			json_pack("[[i,i,i,i],[i,i,i,i],[i,i,i,i],[i,i,i,i],[i,i,i,i],"
					  "[i,i,i,i],[i,i,i,i]]",
					0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0,
					5, 0, 0, 0, 6, 0, 0, 0));
	CHECK_INT(check(msg(NULL, c)), -1);
}

static void test_sub_fields(void)
{
	static const struct {
		const char *name;
		json_int_t bad;
	} ints[] = {{"x", -1}, {"x", 1700000000LL + 3600 + 86400 + 1},
			{"v", 2147483648LL}, {"v", -1}, {"q", -2}, {"fl", 2},
			{"fl", 3}, {"fl", 66}, {"fl", 128}, {"vi", 3}, {"vi", -1}};
	static const struct {
		int i;
		const char *v;
	} strs[] = {{0, ""}, {1, ""}, {2, ""}, {1, "a b"}, {2, "t=1"},
			{3, "nobody"}, {3, "a@b c"}, {4, ""}, {4, "tel:1"}, {5, ""},
			{5, "sip:a\"@b"}, {6, "<x>"}, {6, "&quot;\n"}, {7, ""},
			{7, "tel:+1555"}, {7, "sip:a@b\r\n"}, {8, "<sip:a;lr>\r\nX: y"},
			{9, "udp:1.2.3.4:5060;x"}, {9, "udp 1"}, {10, "tel:1"},
			{11, "a;b"}, {11, "\"q\""}, {12, "http://x"}};
	json_t *s;
	unsigned i;
	char *b;

	for(i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		s = sub_rec();
		json_object_set_new(s, ints[i].name, json_integer(ints[i].bad));
		CHECK_INT(check(msg(NULL, s)), -1);
	}
	/* the flags a replica may carry: wildcard (1), RFC 4662 list (64) */
	for(i = 0; i < 4; i++) {
		static const json_int_t ok[] = {0, 1, 64, 65};
		s = sub_rec();
		json_object_set_new(s, "fl", json_integer(ok[i]));
		CHECK_INT(check(msg(NULL, s)), 0);
	}
	for(i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
		s = sub_rec();
		set_f(s, strs[i].i, strs[i].v);
		if(!CHECK(check(msg(NULL, s)) == -1))
			printf("     field %d [%s]\n", strs[i].i, strs[i].v);
	}
	/* the Event id of issue #9: 620 bytes crashed the NOTIFY builder */
	b = rep('i', 620);
	s = sub_rec();
	set_f(s, 11, b);
	CHECK_INT(check(msg(NULL, s)), -1);
	b[BLF_REPL_EVID_MAX] = '\0';
	s = sub_rec();
	set_f(s, 11, b);
	CHECK_INT(check(msg(NULL, s)), 0);
	b[BLF_REPL_EVID_MAX] = 'i';
	b[BLF_REPL_EVID_MAX + 1] = '\0';
	s = sub_rec();
	set_f(s, 11, b);
	CHECK_INT(check(msg(NULL, s)), -1);
	free(b);
	/* a route set up to its bound */
	b = rep('r', BLF_REPL_RR_MAX + 1);
	s = sub_rec();
	set_f(s, 8, b);
	CHECK_INT(check(msg(NULL, s)), -1);
	b[BLF_REPL_RR_MAX] = '\0';
	s = sub_rec();
	set_f(s, 8, b);
	CHECK_INT(check(msg(NULL, s)), 0);
	free(b);
	/* 12 fields, 14 fields */
	s = sub_rec();
	json_array_remove(json_object_get(s, "f"), 12);
	CHECK_INT(check(msg(NULL, s)), -1);
	s = sub_rec();
	json_array_append_new(json_object_get(s, "f"), json_string(""));
	CHECK_INT(check(msg(NULL, s)), -1);
	/* unsub and ver */
	CHECK_INT(check(batch(json_pack("{s:s, s:s, s:[s,s]}", "t", "unsub", "e",
					  "a@b", "f", "c", "f"))),
			-1);
	CHECK_INT(check(batch(json_pack("{s:s, s:s, s:[s,s,s]}", "t", "unsub",
					  "e", "a@b", "f", "c", "f", "t t"))),
			-1);
	CHECK_INT(check(batch(json_pack("{s:s, s:s, s:i, s:i}", "t", "ver", "e",
					  "a@b", "v", 1, "q", 1))),
			-1);
	CHECK_INT(check(batch(json_pack("{s:s, s:s, s:s, s:i, s:I}", "t", "ver",
					  "e", "a@b", "g", "tag", "v", 1, "q",
					  (json_int_t)1 << 40))),
			-1);
	CHECK_INT(check(batch(json_pack("{s:s, s:s, s:s, s:i, s:i, s:[s]}", "t",
					  "mv", "e", "a@b", "to", "nobody", "d", 1, "q", 4, "f",
					  "c@h"))),
			-1);
}

static void test_decode(void)
{
	char why[128];
	json_t *root;
	const char *ok = "{\"t\":\"hello\",\"n\":\"blf-a\",\"b\":1}";
	char *big;

	CHECK_INT(blf_repl_decode(ok, strlen(ok), &lim, &root, why, sizeof(why)),
			0);
	CHECK(root != NULL);
	json_decref(root);
	CHECK_INT(blf_repl_decode("{", 1, &lim, &root, why, sizeof(why)), -1);
	CHECK(root == NULL);
	CHECK(strncmp(why, "bad JSON", 8) == 0);
	CHECK_INT(blf_repl_decode(NULL, 0, &lim, &root, why, sizeof(why)), -1);
	CHECK_INT(blf_repl_decode("{\"t\":\"hello\",\"n\":\"a\",\"n\":\"b\",\"b\":1}",
					  35, &lim, &root, why, sizeof(why)),
			-1);
	CHECK_INT(blf_repl_decode("{\"t\":\"hello\",\"n\":\"a\\u0000b\",\"b\":1}",
					  34, &lim, &root, why, sizeof(why)),
			-1);
	big = rep(' ', BLF_REPL_BODY_MAX + 1);
	memcpy(big, ok, strlen(ok));
	CHECK_INT(blf_repl_decode(big, BLF_REPL_BODY_MAX + 1, &lim, &root, why,
					  sizeof(why)),
			-1);
	free(big);
	/* deep nesting: rejected, not a stack overflow */
	big = rep('[', 100000);
	CHECK_INT(blf_repl_decode(big, 100000, &lim, &root, why, sizeof(why)), -1);
	free(big);
	/* a reason is always bounded and terminated */
	CHECK_INT(blf_repl_decode("[]", 2, &lim, &root, why, 4), -1);
	CHECK_INT((int)strlen(why), 3);
}

static void test_helpers(void)
{
	CHECK(blf_repl_uri_ok("sip:a@b", 7, 512));
	CHECK(blf_repl_uri_ok("SIP:a@b", 7, 512));
	CHECK(blf_repl_uri_ok("sips:[::1]:5061;transport=tls", 29, 512));
	CHECK(!blf_repl_uri_ok("sip:", 4, 512));
	CHECK(!blf_repl_uri_ok("sipx:a", 6, 512));
	CHECK(!blf_repl_uri_ok("sip:a@b", 7, 6));
	CHECK(!blf_repl_uri_ok(NULL, 0, 512));
	CHECK(blf_repl_token_ok("abc-1.x!%*_+`'~", 15, 1, 128));
	CHECK(!blf_repl_token_ok("", 0, 1, 128));
	CHECK(blf_repl_token_ok("", 0, 0, 128));
	CHECK(!blf_repl_token_ok("a\"", 2, 1, 128));
	CHECK(!blf_repl_token_ok("a\0b", 3, 1, 128));
	CHECK(blf_repl_key_ok("201@pbx", 7));
	CHECK(!blf_repl_key_ok("201pbx", 6));
	CHECK(!blf_repl_key_ok("@pbx", 4));
	CHECK(!blf_repl_key_ok("201@", 4));
	CHECK(blf_repl_name_ok("udp:[2001:db8::1]:5060", 22));
	CHECK(!blf_repl_name_ok("a/b", 3));
	CHECK(!blf_repl_name_ok("", 0));
}

/* a publication replica as blf_dmq.c sends it */
static json_t *pub_rec(void)
{
	return json_pack("{s:s, s:s, s:s, s:I, s:I, s:s}", "t", "pub", "e",
			"202@pbx.example.com", "g", "Zx81bQ0aT7mYp2LcZeKq", "x",
			(json_int_t)1700003000, "md", (json_int_t)1699999000, "bd",
			"<presence xmlns='urn:ietf:params:xml:ns:pidf' "
			"entity='sip:202@pbx.example.com'/>");
}

static void test_pub_fields(void)
{
	json_t *r;
	char *big;

	CHECK_INT(check(batch(pub_rec())), 0);
	CHECK_INT(check(batch(json_pack("{s:s, s:s, s:s}", "t", "unpub", "e",
					  "202@pbx.example.com", "g", "Zx81bQ0aT7mYp2LcZeKq"))),
			0);
	/* an ETag that is not one a node makes */
	r = pub_rec();
	json_object_set_new(r, "g", json_string("ab;c"));
	CHECK_INT(check(batch(r)), -1);
	r = pub_rec();
	json_object_set_new(r, "g", json_string(""));
	CHECK_INT(check(batch(r)), -1);
	big = rep('A', BLF_REPL_ETAG_MAX + 1);
	r = pub_rec();
	json_object_set_new(r, "g", json_string(big));
	CHECK_INT(check(batch(r)), -1);
	free(big);
	CHECK_INT(check(batch(json_pack("{s:s, s:s, s:s}", "t", "unpub", "e",
					  "202@pbx.example.com", "g", "a b"))),
			-1);
	/* no, empty, too long or NUL-carrying body */
	r = pub_rec();
	json_object_del(r, "bd");
	CHECK_INT(check(batch(r)), -1);
	r = pub_rec();
	json_object_set_new(r, "bd", json_string(""));
	CHECK_INT(check(batch(r)), -1);
	big = rep('x', BLF_REPL_PUB_BODY_MAX + 1);
	r = pub_rec();
	json_object_set_new(r, "bd", json_string(big));
	CHECK_INT(check(batch(r)), -1);
	free(big);
	r = pub_rec();
	json_object_set_new(r, "bd", json_stringn("<a>\0</a>", 8));
	CHECK_INT(check(batch(r)), -1);
	/* expiry beyond max_expires + skew, negative, missing */
	r = pub_rec();
	json_object_set_new(r, "x", json_integer(1700000000LL + 3600 + 86401));
	CHECK_INT(check(batch(r)), -1);
	r = pub_rec();
	json_object_set_new(r, "x", json_integer(-1));
	CHECK_INT(check(batch(r)), -1);
	r = pub_rec();
	json_object_del(r, "md");
	CHECK_INT(check(batch(r)), -1);
	/* a bad entity */
	r = pub_rec();
	json_object_set_new(r, "e", json_string("no-at-sign"));
	CHECK_INT(check(batch(r)), -1);
}

/* a list subscription's member versions (optional "mv", "mvd" + "fa",
 * "mvx"): checked whole, bounded; a hostile one rejects the message */
static void test_sub_mv(void)
{
	static const char *bad[] = {"", "x", "1", "1;DEADBEEF:1", "1;deadbeef:",
			"1;deadbeef:1,", "-1;", "4294967296;", "1;deadbeef:4294967296",
			"1;deadbeef:1 ", NULL};
	json_t *s, *b;
	char *big;
	size_t i, n;

	s = sub_rec();
	json_object_set_new(s, "fl", json_integer(64));
	json_object_set_new(s, "mv", json_string("7;0000000a:3,ffffffff:0"));
	CHECK_INT(check(msg(NULL, s)), 0);
	s = sub_rec();
	json_object_set_new(s, "mvd", json_string("8;0000000a:4"));
	json_object_set_new(s, "fa", json_integer(7));
	CHECK_INT(check(msg(NULL, s)), 0);
	s = sub_rec();
	json_object_set_new(s, "mvx", json_integer(1));
	CHECK_INT(check(msg(NULL, s)), 0);
	for(i = 0; bad[i]; i++) {
		s = sub_rec();
		json_object_set_new(s, i % 2 ? "mv" : "mvd", json_string(bad[i]));
		json_object_set_new(s, "fa", json_integer(1));
		if(!CHECK(check(msg(NULL, s)) == -1))
			printf("     accepted [%s]\n", bad[i]);
	}
	/* not a string; a delta without its anchor; anchors out of range */
	s = sub_rec();
	json_object_set_new(s, "mv", json_integer(7));
	CHECK_INT(check(msg(NULL, s)), -1);
	s = sub_rec();
	json_object_set_new(s, "mvd", json_string("8;"));
	CHECK_INT(check(msg(NULL, s)), -1);
	s = sub_rec();
	json_object_set_new(s, "mvd", json_string("8;"));
	json_object_set_new(s, "fa", json_integer(4294967296LL));
	CHECK_INT(check(msg(NULL, s)), -1);
	s = sub_rec();
	json_object_set_new(s, "mvd", json_string("8;"));
	json_object_set_new(s, "fa", json_string("7"));
	CHECK_INT(check(msg(NULL, s)), -1);
	s = sub_rec();
	json_object_set_new(s, "mvx", json_integer(2));
	CHECK_INT(check(msg(NULL, s)), -1);
	/* one entry more than any list may have, inside a batch */
	big = malloc(BLF_MVERS_TEXT_MAX + 64);
	if(!CHECK(big))
		return;
	n = (size_t)sprintf(big, "1;");
	for(i = 0; i <= BLF_MVERS_MAX; i++)
		n += (size_t)sprintf(big + n, "%s%08zx:1", i ? "," : "", i);
	s = sub_rec();
	json_object_set_new(s, "mv", json_stringn(big, n));
	b = batch(s);
	CHECK_INT(check(b), -1);
	/* the most a list has passes */
	n = (size_t)(strrchr(big, ',') - big);
	s = sub_rec();
	json_object_set_new(s, "mv", json_stringn(big, n));
	CHECK_INT(check(batch(s)), 0);
	free(big);
}

/* "tk" (a subscription taken over by the watcher's refresh): optional,
 * 0 or 1; anything else rejects the message */
static void test_sub_tk(void)
{
	json_t *s;

	s = sub_rec();
	CHECK_INT(check(msg(NULL, s)), 0);
	s = sub_rec();
	json_object_set_new(s, "tk", json_integer(1));
	CHECK_INT(check(msg(NULL, s)), 0);
	s = sub_rec();
	json_object_set_new(s, "tk", json_integer(0));
	CHECK_INT(check(batch(s)), 0);
	s = sub_rec();
	json_object_set_new(s, "tk", json_integer(2));
	CHECK_INT(check(msg(NULL, s)), -1);
	s = sub_rec();
	json_object_set_new(s, "tk", json_integer(-1));
	CHECK_INT(check(batch(s)), -1);
	s = sub_rec();
	json_object_set_new(s, "tk", json_string("1"));
	CHECK_INT(check(msg(NULL, s)), -1);
	s = sub_rec();
	json_object_set_new(s, "tk", json_true());
	CHECK_INT(check(msg(NULL, s)), -1);
}

/* a version passed on from its owner's answer ("o"), and the "rv" flag a
 * sender puts on every message (optional: an older node has neither) */
static void test_ver_owner(void)
{
	json_t *m;
	char *s;

	CHECK_INT(check(batch(json_pack("{s:s, s:s, s:s, s:i, s:i, s:s}", "t",
					  "ver", "e", "202@pbx.example.com", "g", "blf.1.2.abc",
					  "v", 9, "q", 10, "o", "udp:127.0.0.1:5061"))),
			0);
	/* the owner must be a node name */
	CHECK_INT(check(batch(json_pack("{s:s, s:s, s:s, s:i, s:i, s:s}", "t",
					  "ver", "e", "a@b", "g", "tag", "v", 1, "q", 1, "o",
					  "evil node"))),
			-1);
	CHECK_INT(check(batch(json_pack("{s:s, s:s, s:s, s:i, s:i, s:s}", "t",
					  "ver", "e", "a@b", "g", "tag", "v", 1, "q", 1, "o", ""))),
			-1);
	CHECK_INT(check(batch(json_pack("{s:s, s:s, s:s, s:i, s:i, s:i}", "t",
					  "ver", "e", "a@b", "g", "tag", "v", 1, "q", 1, "o", 2))),
			-1);
	CHECK_INT(check(batch(json_pack("{s:s, s:s, s:s, s:i, s:i, s:s%}", "t",
					  "ver", "e", "a@b", "g", "tag", "v", 1, "q", 1, "o",
					  "a\0b", (size_t)3))),
			-1);
	s = rep('n', BLF_REPL_NAME_MAX + 1);
	CHECK_INT(check(batch(json_pack("{s:s, s:s, s:s, s:i, s:i, s:s}", "t",
					  "ver", "e", "a@b", "g", "tag", "v", 1, "q", 1, "o", s))),
			-1);
	free(s);
	/* "rv": 0 or 1 when present */
	m = msg("hello", NULL);
	json_object_set_new(m, "rv", json_integer(1));
	CHECK_INT(check(m), 0);
	m = msg("hello", NULL);
	json_object_set_new(m, "rv", json_integer(0));
	CHECK_INT(check(m), 0);
	m = msg("hello", NULL);
	json_object_set_new(m, "rv", json_integer(2));
	CHECK_INT(check(m), -1);
	m = msg("hello", NULL);
	json_object_set_new(m, "rv", json_string("1"));
	CHECK_INT(check(m), -1);
}

/* "cd": which state of the calls a NOTIFY showed (blf_calls_digest, never
 * 0), optional on a version record, direct or passed on (an older node
 * sends none) */
static void test_ver_digest(void)
{
	static const json_int_t ok[] = {1, 2166136261LL, 4294967295LL};
	static const json_int_t bad[] = {0, -1, 4294967296LL, 9007199254740993LL};
	json_t *r;
	size_t i;

	for(i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		r = json_pack("{s:s, s:s, s:s, s:i, s:i, s:I}", "t", "ver", "e",
				"202@pbx.example.com", "g", "blf.1.2.abc", "v", 9, "q", 10,
				"cd", ok[i]);
		CHECK_INT(check(batch(r)), 0);
		r = json_pack("{s:s, s:s, s:s, s:i, s:i, s:s, s:I}", "t", "ver", "e",
				"a@b", "g", "tag", "v", 1, "q", 1, "o", "udp:127.0.0.1:5061",
				"cd", ok[i]);
		CHECK_INT(check(batch(r)), 0);
	}
	for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = json_pack("{s:s, s:s, s:s, s:i, s:i, s:I}", "t", "ver", "e",
				"a@b", "g", "tag", "v", 1, "q", 1, "cd", bad[i]);
		CHECK_INT(check(batch(r)), -1);
	}
	CHECK_INT(check(batch(json_pack("{s:s, s:s, s:s, s:i, s:i, s:s}", "t",
					  "ver", "e", "a@b", "g", "tag", "v", 1, "q", 1, "cd",
					  "12345"))),
			-1);
	CHECK_INT(check(batch(json_pack("{s:s, s:s, s:s, s:i, s:i, s:f}", "t",
					  "ver", "e", "a@b", "g", "tag", "v", 1, "q", 1, "cd",
					  1.5))),
			-1);
	CHECK_INT(check(batch(json_pack("{s:s, s:s, s:s, s:i, s:i, s:n}", "t",
					  "ver", "e", "a@b", "g", "tag", "v", 1, "q", 1, "cd"))),
			-1);
}

/* a batch with compact versions vc (len bytes) and no records */
static int check_vc(const char *vc, size_t len)
{
	json_t *m = json_pack("{s:s, s:s, s:i, s:[], s:s%}", "t", "batch", "n",
			"blf-a", "b", 7, "m", "vc", vc, len);

	return check(m);
}

/* the lines of vc, as "key|tag|v|q|cd|owner;" (owner "-" when absent); -1
 * when a line is malformed */
static int vc_lines(const char *vc, char *out, size_t size)
{
	blf_repl_vrec_t r;
	size_t pos = 0, o = 0;
	int k, n;

	out[0] = '\0';
	while((k = blf_repl_vc_next(vc, strlen(vc), &pos, &r)) == 1) {
		n = snprintf(out + o, size - o, "%.*s|%.*s|%u|%u|%u|%.*s;",
				(int)r.klen, r.key, (int)r.tlen, r.tag, r.v, r.q, r.cd,
				r.owner ? (int)r.olen : 1, r.owner ? r.owner : "-");
		if(n < 0 || (size_t)n >= size - o)
			return -2;
		o += (size_t)n;
	}
	return k;
}

static void test_compact_versions(void)
{
	char out[512], *big;
	const char *s;
	char *t;
	size_t i, n;

	/* as blf_dmq.c writes them: with and without an owner */
	CHECK_INT(vc_lines("202@pbx.example.com blf.1.2.abc 9 10\n"
					   "203@pbx.example.com t2 0 2147483647 udp:127.0.0.1:5061\n",
					  out, sizeof(out)),
			0);
	CHECK_STR(out, "202@pbx.example.com|blf.1.2.abc|9|10|0|-;"
				   "203@pbx.example.com|t2|0|2147483647|0|udp:127.0.0.1:5061;");
	/* with the digest of the state shown ("cd"), with and without owner */
	CHECK_INT(vc_lines("a@b t 9 10/1\n"
					   "a@b t 9 10/4294967295 udp:127.0.0.1:5061\n",
					  out, sizeof(out)),
			0);
	CHECK_STR(out, "a@b|t|9|10|1|-;"
				   "a@b|t|9|10|4294967295|udp:127.0.0.1:5061;");
	s = "202@pbx.example.com blf.1.2.abc 9 10\n";
	CHECK_INT(check_vc(s, strlen(s)), 0);
	CHECK_INT(check_vc("", 0), 0);
	/* hostile lines: each rejects the message */
	static const char *bad[] = {
			"202@pbx.example.com blf.1.2.abc 9 10",		/* no \n */
			"202@pbx.example.com blf.1.2.abc 9\n",		/* no cseq */
			"202@pbx.example.com blf.1.2.abc\n",		/* no version */
			"202@pbx.example.com\n",					/* no tag */
			"\n",										/* empty */
			"202 tag 1 1\n",							/* key without @ */
			"a@b t\"g 1 1\n",							/* tag charset */
			"a@b  1 1\n",								/* empty tag */
			"a@b t -1 1\n",							/* sign */
			"a@b t 1 2147483648\n",					/* over INT31 */
			"a@b t 1 99999999999\n",					/* 11 digits */
			"a@b t 1 1x\n",							/* not a number */
			"a@b t 1 1 evil/node\n",					/* owner charset */
			"a@b t 1 1 \n",							/* empty owner */
			"a@b t 1 1 o extra\n",						/* a sixth field */
			"a@b t 1 1\r\n",							/* CR */
			"a@b t 1 1\nx",							/* unended last */
			"a@b t 1 1/0\n",							/* cd 0 */
			"a@b t 1 1/\n",							/* cd empty */
			"a@b t 1 /5\n",							/* cseq empty */
			"a@b t 1 1/4294967296\n",					/* cd over 2^32-1 */
			"a@b t 1 1/x\n",							/* cd not a number */
			"a@b t 1 1/2/3\n",						/* two digests */
			"a@b t 1 1/-2\n",							/* cd sign */
	};
	for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		CHECK_INT(vc_lines(bad[i], out, sizeof(out)), -1);
		CHECK_INT(check_vc(bad[i], strlen(bad[i])), -1);
	}
	/* a NUL inside */
	CHECK_INT(check_vc("a@b t\0 1 1\n", 11), -1);
	/* bounds: a tag of BLF_REPL_TAG_MAX passes, one more does not */
	t = rep('t', BLF_REPL_TAG_MAX + 1);
	big = malloc(BLF_REPL_TAG_MAX + 32);
	if(big == NULL)
		abort();
	snprintf(big, BLF_REPL_TAG_MAX + 32, "a@b %s 1 1\n", t);
	CHECK_INT(check_vc(big, strlen(big)), -1);
	t[BLF_REPL_TAG_MAX] = '\0';
	snprintf(big, BLF_REPL_TAG_MAX + 32, "a@b %s 1 1\n", t);
	CHECK_INT(check_vc(big, strlen(big)), 0);
	free(t);
	free(big);
	/* at most BLF_REPL_RECORDS_MAX lines */
	n = (BLF_REPL_RECORDS_MAX + 1) * 10;
	big = malloc(n + 1);
	if(big == NULL)
		abort();
	for(i = 0; i < BLF_REPL_RECORDS_MAX + 1; i++)
		memcpy(big + i * 10, "a@b t 1 1\n", 10);
	big[n] = '\0';
	CHECK_INT(check_vc(big, n), -1);
	CHECK_INT(check_vc(big, n - 10), 0);
	free(big);
	/* not a string; "cv" 0 or 1 */
	CHECK_INT(check(json_pack("{s:s, s:s, s:i, s:[], s:i}", "t", "batch",
					  "n", "blf-a", "b", 7, "m", "vc", 1)),
			-1);
	CHECK_INT(check(json_pack("{s:s, s:s, s:i, s:i}", "t", "hello", "n",
					  "blf-a", "b", 7, "cv", 1)),
			0);
	CHECK_INT(check(json_pack("{s:s, s:s, s:i, s:i}", "t", "hello", "n",
					  "blf-a", "b", 7, "cv", 2)),
			-1);
	/* "pa" (reads versions passed on in answers): 0 or 1, an integer */
	CHECK_INT(check(json_pack("{s:s, s:s, s:i, s:i}", "t", "hello", "n",
					  "blf-a", "b", 7, "pa", 1)),
			0);
	CHECK_INT(check(json_pack("{s:s, s:s, s:i, s:i}", "t", "hello", "n",
					  "blf-a", "b", 7, "pa", 0)),
			0);
	CHECK_INT(check(json_pack("{s:s, s:s, s:i, s:i}", "t", "hello", "n",
					  "blf-a", "b", 7, "pa", 2)),
			-1);
	CHECK_INT(check(json_pack("{s:s, s:s, s:i, s:i}", "t", "hello", "n",
					  "blf-a", "b", 7, "pa", -1)),
			-1);
	CHECK_INT(check(json_pack("{s:s, s:s, s:i, s:s}", "t", "hello", "n",
					  "blf-a", "b", 7, "pa", "1")),
			-1);
}

int main(void)
{
	test_helpers();
	test_valid();
	test_sender();
	test_batch();
	test_call_fields();
	test_sub_fields();
	test_sub_mv();
	test_sub_tk();
	test_decode();
	test_pub_fields();
	test_ver_owner();
	test_ver_digest();
	test_compact_versions();
	return tap_done("test_repl");
}
