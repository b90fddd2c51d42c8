/* UNIT-SOURCES: blf_sipcheck.c */
/*
 * test_sipcheck.c — unit tests of blf_sipcheck.c: Accept media ranges
 * (type/subtype, parameters, q=0, wildcards, hostile text), tokens,
 * Call-ID words and the tag of a From/To header read in place.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <stdlib.h>
#include <string.h>

#include "tap.h"

#include "blf_sipcheck.h"

/* the verdict for one Accept header body */
static int acc1(const char *s)
{
	blf_accept_st_t st;

	blf_accept_init(&st);
	blf_accept_add(&st, s, (int)strlen(s));
	return blf_accept_ok(&st);
}

static void test_accept(void)
{
	blf_accept_st_t st;

	/* acceptable */
	CHECK_INT(acc1("application/dialog-info+xml"), 1);
	CHECK_INT(acc1("Application/Dialog-Info+XML"), 1);
	CHECK_INT(acc1("  application / dialog-info+xml  "), 1);
	CHECK_INT(acc1("application/pidf+xml, application/dialog-info+xml"), 1);
	CHECK_INT(acc1("application/dialog-info+xml;q=0.5"), 1);
	CHECK_INT(acc1("application/dialog-info+xml ; charset=\"a,b\" ; q=1"), 1);
	CHECK_INT(acc1("application/*"), 1);
	CHECK_INT(acc1("*/*"), 1);
	CHECK_INT(acc1("*/*;q=0.001"), 1);
	CHECK_INT(acc1(",,application/dialog-info+xml,"), 1);
	CHECK_INT(acc1("bad//, application/dialog-info+xml"), 1);
	CHECK_INT(acc1("application/dialog-info+xml;level"), 1);
	/* not acceptable */
	CHECK_INT(acc1("x-application/dialog-info+xml-not"), 0);
	CHECK_INT(acc1("application/dialog-info+xml-not"), 0);
	CHECK_INT(acc1("application/pidf+xml"), 0);
	CHECK_INT(acc1("text/*"), 0);
	CHECK_INT(acc1("application/dialog-info+xml;q=0"), 0);
	CHECK_INT(acc1("application/dialog-info+xml;q=0.000"), 0);
	CHECK_INT(acc1("*/*;q=0"), 0);
	/* the most specific range decides */
	CHECK_INT(acc1("application/*, application/dialog-info+xml;q=0"), 0);
	CHECK_INT(acc1("application/dialog-info+xml;q=0, */*"), 0);
	CHECK_INT(acc1("*/*;q=0, application/dialog-info+xml"), 1);
	CHECK_INT(acc1("application/*;q=0, application/dialog-info+xml;q=0.1"),
			1);
	/* malformed ranges count for nothing */
	CHECK_INT(acc1("application/dialog-info+xml;q=2"), 0);
	CHECK_INT(acc1("application/dialog-info+xml;q=0.5.5"), 0);
	CHECK_INT(acc1("application/dialog-info+xml;q="), 0);
	CHECK_INT(acc1("application/dialog-info+xml;q"), 0);
	CHECK_INT(acc1("application/dialog-info+xml;q=\"1\""), 0);
	CHECK_INT(acc1("application/dialog-info+xml junk"), 0);
	CHECK_INT(acc1("*/dialog-info+xml"), 0);
	CHECK_INT(acc1("application/dialog-info+xml;x=\"unterminated"), 0);
	CHECK_INT(acc1("application"), 0);
	CHECK_INT(acc1("/"), 0);
	CHECK_INT(acc1(""), 0); /* an empty Accept: no body is acceptable */
	/* no Accept header at all: dialog-info is the package's default */
	blf_accept_init(&st);
	CHECK_INT(blf_accept_ok(&st), 1);
	/* over several headers */
	blf_accept_init(&st);
	blf_accept_add(&st, "application/pidf+xml", 20);
	CHECK_INT(blf_accept_ok(&st), 0);
	blf_accept_add(&st, "application/*", 13);
	CHECK_INT(blf_accept_ok(&st), 1);
	/* length is honoured: no read past it */
	blf_accept_init(&st);
	blf_accept_add(&st, "application/dialog-info+xmlXX", 27);
	CHECK_INT(blf_accept_ok(&st), 1);
	blf_accept_init(&st);
	blf_accept_add(&st, "application/dialog-info+xml", 26);
	CHECK_INT(blf_accept_ok(&st), 0);
	blf_accept_init(&st);
	blf_accept_add(&st, NULL, 0);
	CHECK_INT(blf_accept_ok(&st), 0);
}

static void test_accept_hostile(void)
{
	/* a long run of junk, exact size on the heap so ASan sees overreads */
	int n = 100000, i;
	char *b = malloc(n);

	if(!CHECK(b != NULL))
		return;
	for(i = 0; i < n; i++)
		b[i] = ";\"\\,/=*"[i % 7];
	{
		blf_accept_st_t st;
		blf_accept_init(&st);
		blf_accept_add(&st, b, n);
		CHECK_INT(blf_accept_ok(&st), 0);
	}
	memset(b, '"', n);
	{
		blf_accept_st_t st;
		blf_accept_init(&st);
		blf_accept_add(&st, b, n);
		CHECK_INT(blf_accept_ok(&st), 0);
	}
	memcpy(b + n - 13, "application/*", 13);
	memset(b, ',', n - 13);
	{
		blf_accept_st_t st;
		blf_accept_init(&st);
		blf_accept_add(&st, b, n);
		CHECK_INT(blf_accept_ok(&st), 1);
	}
	free(b);
}

static void test_tokens(void)
{
	CHECK_INT(blf_sip_is_token("blf7", 4), 1);
	CHECK_INT(blf_sip_is_token("a-b.c!d%e*f_g+h`i'j~k", 21), 1);
	CHECK_INT(blf_sip_is_token("", 0), 0);
	CHECK_INT(blf_sip_is_token(NULL, 3), 0);
	CHECK_INT(blf_sip_is_token("a b", 3), 0);
	CHECK_INT(blf_sip_is_token("a;b", 3), 0);
	CHECK_INT(blf_sip_is_token("a\"b", 3), 0);
	CHECK_INT(blf_sip_is_token("a\r\nb", 4), 0);
	CHECK_INT(blf_sip_is_token("a\0b", 3), 0);
	CHECK_INT(blf_sip_is_token("\xc3\xa9", 2), 0);

	CHECK_INT(blf_sip_is_callid("abc@127.0.0.1", 13), 1);
	CHECK_INT(blf_sip_is_callid("a<b>c:d/[e]{f}?(g)\"h\\", 21), 1);
	CHECK_INT(blf_sip_is_callid("YWJj==@host", 11), 1); /* base64 */
	CHECK_INT(blf_sip_is_callid("a@b@c;d,e", 9), 1);
	CHECK_INT(blf_sip_is_callid("a b", 3), 0);
	CHECK_INT(blf_sip_is_callid("a\tb", 3), 0);
	CHECK_INT(blf_sip_is_callid("a\r\nb", 4), 0);
	CHECK_INT(blf_sip_is_callid("a\0b", 3), 0);
	CHECK_INT(blf_sip_is_callid("\xc3\xa9", 2), 0);
	CHECK_INT(blf_sip_is_callid("", 0), 0);
	CHECK_INT(blf_sip_is_callid(NULL, 1), 0);

	CHECK_INT(blf_sip_is_tag("a1b2-c3", 7), 1);
	CHECK_INT(blf_sip_is_tag("YWJj==", 6), 1);
	CHECK_INT(blf_sip_is_tag("a;b", 3), 0);
	CHECK_INT(blf_sip_is_tag("a,b", 3), 0);
	CHECK_INT(blf_sip_is_tag("a>b", 3), 0);
	CHECK_INT(blf_sip_is_tag("a\"b", 3), 0);
	CHECK_INT(blf_sip_is_tag("a\\b", 3), 0);
	CHECK_INT(blf_sip_is_tag("a b", 3), 0);
	CHECK_INT(blf_sip_is_tag("", 0), 0);
}

static void test_pct(void)
{
	char b[64];

	CHECK_INT(blf_uri_pct_encode("sip:202@[::1]", 13, b, sizeof(b)), 17);
	CHECK_STR(b, "sip:202@%5B::1%5D");
	CHECK_INT(blf_uri_pct_encode("sip:bob@blf.test", 16, b, sizeof(b)), 16);
	CHECK_STR(b, "sip:bob@blf.test");
	CHECK_INT(blf_uri_pct_encode("sip:a%20b&c'@h", 14, b, sizeof(b)), 14);
	CHECK_STR(b, "sip:a%20b&c'@h");
	CHECK_INT(blf_uri_pct_encode("a b\"<>\x01\xff", 8, b, sizeof(b)), 20);
	CHECK_STR(b, "a%20b%22%3C%3E%01%FF");
	CHECK_INT(blf_uri_pct_encode("", 0, b, sizeof(b)), 0);
	CHECK_STR(b, "");
	/* a '%' that starts no escape is encoded itself (anyURI) */
	CHECK_INT(blf_uri_pct_encode("sip:a%zz@h", 10, b, sizeof(b)), 12);
	CHECK_STR(b, "sip:a%25zz@h");
	CHECK_INT(blf_uri_pct_encode("sip:%@h%4", 9, b, sizeof(b)), 13);
	CHECK_STR(b, "sip:%25@h%254");
	/* exact fit and one short: never written past size */
	CHECK_INT(blf_uri_pct_encode("[a]", 3, b, 8), 7);
	CHECK_STR(b, "%5Ba%5D");
	CHECK_INT(blf_uri_pct_encode("[a]", 3, b, 7), -1);
	CHECK_INT(blf_uri_pct_encode("abc", 3, b, 3), -1);
	CHECK_INT(blf_uri_pct_encode(NULL, 3, b, 3), -1);
	CHECK_INT(blf_uri_pct_encode("abc", 3, NULL, 3), -1);
}

/* Accept against another package's media type (blf_accept_init_type) */
static int acct(const char *type, const char *s)
{
	blf_accept_st_t st;

	blf_accept_init_type(&st, type);
	blf_accept_add(&st, s, (int)strlen(s));
	return blf_accept_ok(&st);
}

static void test_accept_type(void)
{
	blf_accept_st_t st;

	CHECK_INT(acct("application/pidf+xml", "application/pidf+xml"), 1);
	CHECK_INT(acct("application/pidf+xml", "Application/PIDF+XML;q=0.5"), 1);
	CHECK_INT(acct("application/pidf+xml", "application/dialog-info+xml"), 0);
	CHECK_INT(acct("application/pidf+xml", "application/*"), 1);
	CHECK_INT(acct("application/pidf+xml", "*/*"), 1);
	CHECK_INT(acct("application/pidf+xml",
					  "application/pidf+xml;q=0, application/*"),
			0); /* the most specific decides */
	CHECK_INT(acct("application/pidf+xml", "application/pidf"), 0);
	CHECK_INT(acct("application/pidf+xml", "application/pidf+xmlx"), 0);
	CHECK_INT(acct("text/plain", "application/*, text/*"), 1);
	CHECK_INT(acct("text/plain", "application/*"), 0);
	/* the dialog default is unchanged */
	CHECK_INT(acct("application/dialog-info+xml",
					  "application/dialog-info+xml"),
			1);
	/* a type that is not type/subtype: only * / * */
	CHECK_INT(blf_accept_init_type(&st, "nonsense"), -1);
	CHECK_INT(blf_accept_init_type(&st, NULL), -1);
	CHECK_INT(blf_accept_init_type(&st, "/x"), -1);
	CHECK_INT(blf_accept_init_type(&st, "x/"), -1);
	CHECK_INT(blf_accept_init_type(&st, "a/b"), 0);
	CHECK_INT(acct("nonsense", "*/*"), 1);
	CHECK_INT(acct("nonsense", "nonsense/*"), 0);
	CHECK_INT(acct("x/", "x/*"), 0);
	CHECK_INT(acct("/x", "*/x"), 0);
}

/* blf_sip_hdr_tag on a NUL-terminated body: its verdict, and the tag
 * copied to out (at most 63 bytes) when found */
static int htag(const char *s, char *out)
{
	const char *t = NULL;
	int n = -7, r;

	out[0] = '\0';
	r = blf_sip_hdr_tag(s, (int)strlen(s), &t, &n);
	if(r == 0 && n >= 0 && n < 64) {
		memcpy(out, t, (size_t)n);
		out[n] = '\0';
	}
	return r;
}

static void test_hdr_tag(void)
{
	char o[64], *big;
	const char *t;
	int n, i;

	/* the forms phones send back in an answer's From */
	CHECK_INT(htag("<sip:a@b>;tag=abc", o), 0);
	CHECK_STR(o, "abc");
	CHECK_INT(htag("\"Alice\" <sip:a@b;tag=uri>;x=1;TAG=k1-2", o), 0);
	CHECK_STR(o, "k1-2");
	CHECK_INT(htag("Alice Smith <sip:a@b> ; tag = t9 ; y", o), 0);
	CHECK_STR(o, "t9");
	CHECK_INT(htag("sip:a@b;tag=bare", o), 0); /* header parameter */
	CHECK_STR(o, "bare");
	CHECK_INT(htag("  sip:a@b ;foo=\"q;tag=no\";tag=yes", o), 0);
	CHECK_STR(o, "yes");
	CHECK_INT(htag("\"a <b>;tag=no\" <sip:x@y>;tag=yes", o), 0);
	CHECK_STR(o, "yes");
	CHECK_INT(htag("\"q\\\"<x\" <sip:x@y>;tag=z", o), 0);
	CHECK_STR(o, "z");
	CHECK_INT(htag("<sip:a@b>;tag=", o), 0); /* empty */
	CHECK_STR(o, "");
	CHECK_INT(htag("<sip:a@b>;tag", o), 0);
	CHECK_STR(o, "");
	CHECK_INT(htag("<sip:a@b>;tag=\"quoted\"", o), 0);
	CHECK_STR(o, "\"quoted\"");
	/* no tag: a tag inside the URI or a look-alike name is not one */
	CHECK_INT(htag("<sip:a@b;tag=inuri>", o), 1);
	CHECK_INT(htag("<sip:a@b>;xtag=1;tags=2", o), 1);
	CHECK_INT(htag("<sip:a@b>", o), 1);
	CHECK_INT(htag("sip:a@b", o), 1);
	CHECK_INT(htag("", o), 1);
	/* malformed */
	CHECK_INT(htag("<sip:a@b;tag=x", o), -1);
	CHECK_INT(htag("\"open <sip:a@b>;tag=x", o), -1);
	CHECK_INT(htag("<sip:a@b> junk;tag=x", o), -1);
	CHECK_INT(htag("<sip:a@b>;=x;tag=y", o), -1);
	CHECK_INT(htag("<sip:a@b>;tag=\"open", o), -1);
	CHECK_INT(htag("<sip:a@b>;x=\"a\\", o), -1);
	CHECK_INT(blf_sip_hdr_tag(NULL, 0, &t, &n), -1);
	CHECK_INT(blf_sip_hdr_tag("x", -1, &t, &n), -1);
	CHECK_INT(blf_sip_hdr_tag("x", 1, NULL, &n), -1);
	/* the length bounds the read: the tag stops where len does */
	CHECK_INT(blf_sip_hdr_tag("<sip:a@b>;tag=abcdef", 17, &t, &n), 0);
	CHECK_INT(n, 3);
	CHECK_INT(blf_sip_hdr_tag("<sip:a@b>;tag=abc", 8, &t, &n), -1);
	/* hostile: a long body of parameters, quotes and brackets ends in
	 * one pass (no quadratic walk, no read past len: ASan) */
	big = malloc(200001);
	if(big == NULL)
		return;
	memset(big, ';', 200000);
	big[0] = '<';
	big[1] = '>';
	for(i = 2; i + 2 < 200000; i += 3) {
		big[i + 1] = 'a';
		big[i + 2] = 'b';
	}
	CHECK_INT(blf_sip_hdr_tag(big, 200000, &t, &n), 1);
	memset(big, '"', 200000); /* closed quotes, then no parameter */
	CHECK_INT(blf_sip_hdr_tag(big, 200000, &t, &n), 1);
	CHECK_INT(blf_sip_hdr_tag(big, 199999, &t, &n), -1); /* one open */
	memset(big, '<', 200000);
	CHECK_INT(blf_sip_hdr_tag(big, 200000, &t, &n), -1);
	free(big);
}

/* ---- blf_sip_nameaddr_simple ---- */

static int na(const char *s, char *uri, char *tag)
{
	const char *u = NULL, *t = NULL;
	int ul = -1, tl = -1, r;

	r = blf_sip_nameaddr_simple(s, (int)strlen(s), &u, &ul, &t, &tl);
	uri[0] = tag[0] = '\0';
	if(r == 0) {
		memcpy(uri, u, ul);
		uri[ul] = '\0';
		if(t) {
			memcpy(tag, t, tl);
			tag[tl] = '\0';
		} else {
			strcpy(tag, "(none)");
		}
	}
	return r;
}

static void test_nameaddr(void)
{
	char u[256], t[256];
	static const char *const other[] = {"sip:a@b", "sip:a@b;tag=1", "<>",
			"<sip:a@b", "<sip:a@b>,<sip:c@d>", "<sip:a@b>;", "<sip:a@b>;=1",
			"<sip:a@b>;tag", "<sip:a@b>;tag=", "<sip:a@b>;tag=\"q\"",
			"<sip:a@b>;tag=1;tag=2", "<sip:a@b>;x=\"a\\\"b\"",
			"<sip:a@b>;x=\"open", "<sip:a b@c>", "< sip:a@b>", "<sip:a\"@b>",
			"<sip:<a@b>", "\"A\\\"B\" <sip:a@b>", "\"open <sip:a@b>",
			"A,B <sip:a@b>", "<sip:a@b> x", "<sip:a@b>;x=[::1]", "<sip:\x01@b>",
			"<sip:\xc3\xa9@b>",
			/* parse_to() refuses a backslash in a URI (fuzz_subcore) */
			"<sip:a@b\\.c>;tag=1", "<;sip:a@b>;tag=1", "<sip:a@b>;q='.5",
			"<sip:a@b>;x='a;b'",
			/* Kamailio 6.0's parse_contacts() refuses a URI under 3 bytes */
			"<@h>", "<a:>", "", "   ", "*", NULL};
	int i;

	CHECK_INT(na("<sip:w1@127.0.0.1:5000>", u, t), 0);
	CHECK_STR(u, "sip:w1@127.0.0.1:5000");
	CHECK_STR(t, "(none)");
	CHECK_INT(na("<sip:w1@bench.local>;tag=w1", u, t), 0);
	CHECK_STR(u, "sip:w1@bench.local");
	CHECK_STR(t, "w1");
	CHECK_INT(na("  \"Alice, B.\" <sips:a@b;transport=tls> ; TAG = x.y-z ;"
				 " +sip.instance=\"<urn:uuid:1>\";expires=60;lr",
					 u, t),
			0);
	CHECK_STR(u, "sips:a@b;transport=tls");
	CHECK_STR(t, "x.y-z");
	CHECK_INT(na("Alice Smith<sip:a@[::1]:5060>;q=0.5 ", u, t), 0);
	CHECK_STR(u, "sip:a@[::1]:5060");
	CHECK_STR(t, "(none)");
	CHECK_INT(na("<s:a>", u, t), 0);
	CHECK_STR(u, "s:a");
	for(i = 0; other[i]; i++) {
		if(na(other[i], u, t) != -1)
			fprintf(stderr, "# took: %s\n", other[i]);
		CHECK_INT(na(other[i], u, t), -1);
	}
	CHECK_INT(blf_sip_nameaddr_simple(NULL, 3, NULL, NULL, NULL, NULL), -1);
}

int main(void)
{
	test_nameaddr();
	test_hdr_tag();
	test_accept_type();
	test_pct();
	test_accept();
	test_accept_hostile();
	test_tokens();
	return tap_done("test_sipcheck");
}
