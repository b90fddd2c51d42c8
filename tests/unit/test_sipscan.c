/* UNIT-SOURCES: blf_sipscan.c blf_sipcheck.c */
/*
 * test_sipscan.c — unit tests of blf_sipscan.c: the fields of a SIP reply
 * read in place (status, top Via branch, Call-ID, CSeq, tags), the shapes
 * it hands back to the core's parser, and hostile datagrams (truncated,
 * huge, binary, every prefix of a valid reply); and the rest of a
 * SUBSCRIBE's headers read in place (blf_sipscan_req_rest): what it takes,
 * what it leaves to the core's parser, every prefix, hostile input.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <stdlib.h>
#include <string.h>

#include "tap.h"

#include "blf_sipscan.h"

#define OK200                                                            \
	"SIP/2.0 200 OK\r\n"                                                 \
	"Via: SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKblf.1.2.3.4;rport=5\r\n" \
	"Via: SIP/2.0/UDP 10.0.0.1;branch=second\r\n"                        \
	"From: <sip:alice@example.com>;tag=ourtag\r\n"                        \
	"To: \"W\" <sip:w@example.com>;tag=theirs\r\n"                       \
	"Call-ID: abc@host\r\n"                                              \
	"CSeq: 4711 NOTIFY\r\n"                                              \
	"Content-Length: 0\r\n\r\n"

static int scan(const char *s, blf_sipscan_t *o)
{
	return blf_sipscan_reply(s, (int)strlen(s), o);
}

static int eq(const char *p, int n, const char *want)
{
	return p != NULL && n == (int)strlen(want) && memcmp(p, want, n) == 0;
}

static void test_good(void)
{
	blf_sipscan_t o;

	CHECK_INT(scan(OK200, &o), 0);
	CHECK_INT(o.code, 200);
	CHECK(eq(o.branch, o.branch_len, "z9hG4bKblf.1.2.3.4"));
	CHECK(eq(o.callid, o.callid_len, "abc@host"));
	CHECK(eq(o.ftag, o.ftag_len, "ourtag"));
	CHECK(eq(o.ttag, o.ttag_len, "theirs"));
	CHECK_INT((int)o.cseq, 4711);
	CHECK_INT(o.cseq_notify, 1);

	/* compact forms, odd spacing and case, LF-only lines, a 481 */
	CHECK_INT(scan("SIP/2.0 481 Gone\n"
				   "v : SIP/2.0/UDP h ; BRANCH = z9hG4bKx ;rport\n"
				   "f:<sip:a@b>;tag=t1\n"
				   "t:sip:c@d;tag=t2\n"
				   "i:  cid  \n"
				   "cseq: 4294967295   NOTIFY\n\n",
					  &o),
			0);
	CHECK_INT(o.code, 481);
	CHECK(eq(o.branch, o.branch_len, "z9hG4bKx"));
	CHECK(eq(o.callid, o.callid_len, "cid"));
	CHECK(eq(o.ftag, o.ftag_len, "t1"));
	CHECK(eq(o.ttag, o.ttag_len, "t2"));
	CHECK(o.cseq == 4294967295u);

	/* another method, a Via of several values: the first one's branch */
	CHECK_INT(scan("SIP/2.0 100 Trying\r\n"
				   "Via: SIP/2.0/UDP a;branch=one, SIP/2.0/UDP b;branch=two\r\n"
				   "From: <sip:a@b>;tag=x\r\nTo: <sip:c@d>;tag=y\r\n"
				   "Call-ID: c\r\nCSeq: 1 INVITE\r\n\r\n",
					  &o),
			0);
	CHECK(eq(o.branch, o.branch_len, "one"));
	CHECK_INT(o.cseq_notify, 0);
	CHECK_INT(o.code, 100);
}

static void test_not_for_me(void)
{
	blf_sipscan_t o;
	static const char *const bad[] = {
			/* requests, other versions, bad status lines */
			"NOTIFY sip:a@b SIP/2.0\r\nVia: x;branch=y\r\n\r\n",
			"SIP/3.0 200 OK\r\n\r\n",
			"SIP/2.0 20 OK\r\n\r\n",
			"SIP/2.0 700 Hm\r\n",
			"SIP/2.0 099 Hm\r\n",
			"SIP/2.0 2x0 OK\r\n",
			/* a header missing, twice, folded, without a tag */
			"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=b\r\nFrom: <sip:a@b>;"
			"tag=x\r\nTo: <sip:c@d>;tag=y\r\nCSeq: 1 NOTIFY\r\n\r\n",
			"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=b\r\nFrom: <sip:a@b>;"
			"tag=x\r\nTo: <sip:c@d>;tag=y\r\nCall-ID: a\r\nCall-ID: b\r\n"
			"CSeq: 1 NOTIFY\r\n\r\n",
			"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=b\r\nFrom: <sip:a@b>;"
			"tag=x\r\nTo: <sip:c@d>\r\n ;tag=y\r\nCall-ID: a\r\n"
			"CSeq: 1 NOTIFY\r\n\r\n",
			"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=b\r\nFrom: <sip:a@b>;"
			"tag=x\r\nTo: <sip:c@d>\r\nCall-ID: a\r\nCSeq: 1 NOTIFY\r\n\r\n",
			/* a Via without a branch, with a quote, an empty branch */
			"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;rport\r\nFrom: <sip:a@b>;"
			"tag=x\r\nTo: <sip:c@d>;tag=y\r\nCall-ID: a\r\nCSeq: 1 NOTIFY\r\n\r\n",
			"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;x=\"q\";branch=b\r\nFrom: "
			"<sip:a@b>;tag=x\r\nTo: <sip:c@d>;tag=y\r\nCall-ID: a\r\nCSeq: 1 "
			"NOTIFY\r\n\r\n",
			"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=\r\nFrom: <sip:a@b>;"
			"tag=x\r\nTo: <sip:c@d>;tag=y\r\nCall-ID: a\r\nCSeq: 1 NOTIFY\r\n\r\n",
			/* CSeq: too big, no method, not a number; a Call-ID with a space */
			"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=b\r\nFrom: <sip:a@b>;"
			"tag=x\r\nTo: <sip:c@d>;tag=y\r\nCall-ID: a\r\nCSeq: 4294967296 "
			"NOTIFY\r\n\r\n",
			"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=b\r\nFrom: <sip:a@b>;"
			"tag=x\r\nTo: <sip:c@d>;tag=y\r\nCall-ID: a\r\nCSeq: 1\r\n\r\n",
			"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=b\r\nFrom: <sip:a@b>;"
			"tag=x\r\nTo: <sip:c@d>;tag=y\r\nCall-ID: a\r\nCSeq: x NOTIFY\r\n\r\n",
			"SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a;branch=b\r\nFrom: <sip:a@b>;"
			"tag=x\r\nTo: <sip:c@d>;tag=y\r\nCall-ID: a b\r\nCSeq: 1 NOTIFY\r\n\r\n",
			/* the headers end before all were seen; no line end at all */
			"SIP/2.0 200 OK\r\n\r\nVia: SIP/2.0/UDP a;branch=b\r\n",
			"SIP/2.0 200 OK",
			"",
	};
	unsigned int i;

	for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if(!CHECK(scan(bad[i], &o) == -1))
			printf("     case %u\n", i);
	CHECK_INT(blf_sipscan_reply(NULL, 10, &o), -1);
	CHECK_INT(blf_sipscan_reply(OK200, -1, &o), -1);
	CHECK_INT(blf_sipscan_reply(OK200, (int)strlen(OK200), NULL), -1);
}

/* every prefix of a good reply: never a read past it (ASan), and only
 * prefixes that hold every needed header succeed */
static void test_prefixes(void)
{
	blf_sipscan_t o;
	size_t n = strlen(OK200), i, need;
	char *b;
	int bad = 0;

	need = strstr(OK200, "Content-Length") - OK200; /* CSeq's line ended */
	for(i = 0; i <= n; i++) {
		b = malloc(i ? i : 1);
		if(b == NULL)
			return;
		memcpy(b, OK200, i);
		if((blf_sipscan_reply(b, (int)i, &o) == 0) != (i >= need))
			bad++;
		free(b);
	}
	CHECK_INT(bad, 0);
}

/* hostile: many header lines, binary bytes, a huge datagram */
static void test_hostile(void)
{
	blf_sipscan_t o;
	char *b;
	size_t n = 65000, i;

	b = malloc(n);
	if(b == NULL)
		return;
	memcpy(b, "SIP/2.0 200 OK\r\n", 16);
	for(i = 16; i + 4 <= n; i += 4)
		memcpy(b + i, "X:\r\n", 4);
	CHECK_INT(blf_sipscan_reply(b, (int)n, &o), -1); /* line bound */
	for(i = 16; i < n; i++)
		b[i] = (char)(i * 131);
	CHECK_INT(blf_sipscan_reply(b, (int)n, &o), -1);
	memset(b + 16, ':', n - 16);
	CHECK_INT(blf_sipscan_reply(b, (int)n, &o), -1);
	free(b);
}

/* ---- blf_sipscan_req_rest ---- */

#define REST                                          \
	"Contact: <sip:w1@127.0.0.1:5000>\r\n"            \
	"Event: dialog;id=7\r\n"                          \
	"Accept: application/dialog-info+xml\r\n"         \
	"Expires: 3600\r\n"                               \
	"Supported: replaces, eventlist\r\n"              \
	"User-Agent: blfgen\r\n"                          \
	"Content-Length: 0\r\n\r\n"

static int rest(const char *s, blf_reqscan_t *o)
{
	return blf_sipscan_req_rest(s, s + strlen(s), o);
}

static void test_req_good(void)
{
	blf_reqscan_t o;

	CHECK_INT(rest(REST, &o), 0);
	CHECK(eq(o.contact, o.contact_len, "<sip:w1@127.0.0.1:5000>"));
	CHECK(eq(o.event, o.event_len, "dialog;id=7"));
	CHECK(eq(o.expires, o.expires_len, "3600"));
	CHECK_INT(o.naccept, 1);
	CHECK(eq(o.accept[0], o.accept_len[0], "application/dialog-info+xml"));
	CHECK_INT(o.evlist, 1);

	/* compact forms, odd spacing and case, LF-only lines, no Expires,
	 * several Accept headers, a Supported without eventlist, an empty
	 * Accept (RFC 3261 20.1: still a header) */
	CHECK_INT(rest("m :<sip:a@b>  \n"
				   "o:  presence \n"
				   "ACCEPT: application/pidf+xml\n"
				   "accept:\n"
				   "k: eventlists, 100rel\n"
				   "l: 12\n"
				   "X-Other: a, b\n\nbody",
					  &o),
			0);
	CHECK(eq(o.contact, o.contact_len, "<sip:a@b>"));
	CHECK(eq(o.event, o.event_len, "presence"));
	CHECK(o.expires == NULL);
	CHECK_INT(o.naccept, 2);
	CHECK_INT(o.accept_len[1], 0);
	CHECK_INT(o.evlist, 0);

	/* Content-Length once, of 9 digits, white space before the CR */
	CHECK_INT(rest("Content-Length: 123456789 \t\r\n\r\n", &o), 0);
	CHECK_INT(o.clen, 1);
	/* Max-Forwards once; the core's other header name characters */
	CHECK_INT(rest("Max-Forwards: 70\r\nX_y.z+w~v-1: a\r\n\r\n", &o), 0);
	CHECK_INT(o.maxfwd, 1);

	/* nothing at all before the empty line */
	CHECK_INT(rest("\r\n", &o), 0);
	CHECK(o.event == NULL && o.contact == NULL && o.naccept == 0);
}

static void test_req_core(void)
{
	blf_reqscan_t o;
	static const char *const core[] = {
			"Via: SIP/2.0/UDP h;branch=z9hG4bKx\r\n\r\n", "v: x\r\n\r\n",
			"From: <sip:a@b>;tag=1\r\n\r\n", "f: x\r\n\r\n",
			"To: <sip:a@b>\r\n\r\n", "t: x\r\n\r\n", "Call-ID: x\r\n\r\n",
			"i: x\r\n\r\n", "CSeq: 2 SUBSCRIBE\r\n\r\n",
			"Record-Route: <sip:p;lr>\r\n\r\n",
			/* twice */
			"Event: dialog\r\no: dialog\r\n\r\n",
			"Expires: 1\r\nExpires: 2\r\n\r\n",
			"Contact: <sip:a@b>\r\nm: <sip:c@d>\r\n\r\n",
			/* shapes */
			"Event: dialog\r\n folded\r\n\r\n", " Event: dialog\r\n\r\n",
			"Event dialog\r\n\r\n", "Ev ent: dialog\r\n\r\n",
			"Ev\"ent: dialog\r\n\r\n", ": dialog\r\n\r\n",
			"Event: dia\rlog\r\n\r\n", "Content-Length: 1x\r\n\r\n",
			"Content-Length:\r\n\r\n", "l: 12345678901\r\n\r\n",
			/* what the core's parser refuses (tests/fuzz/fuzz_subcore.c
			 * found each): Content-Length twice, of 10 digits, with a
			 * second CR */
			"Content-Length: 0\r\nl: 0\r\n\r\n", "l: 1234567890\r\n\r\n",
			"l: 0\r\r\n\r\n",
			/* a CR before the CRLF's (the core keeps it in the body) */
			"Event: a\r\t\r\n\r\n", "Event: dialog\r\r\n\r\n",
			/* Max-Forwards twice; a Retry-After (the core parses it as it
			 * reads the line) */
			"Max-Forwards: 70\r\nMax-Forwards: 69\r\n\r\n",
			"Retry-After: 5\r\n\r\n",
			/* a token the core does not take as a header name */
			"X*Y: z\r\n\r\n", "A!: b\r\n\r\n", "A%b: c\r\n\r\n",
			"A`: b\r\n\r\n", "A'b: c\r\n\r\n",
			"Event: dialog\r\n", /* no empty line */
			"Event: dialog", "", "\r", NULL};
	int i;

	for(i = 0; core[i]; i++)
		CHECK_INT(rest(core[i], &o), -1);
	/* a NUL inside a value */
	CHECK_INT(blf_sipscan_req_rest("Event: a\0b\r\n\r\n",
					  "Event: a\0b\r\n\r\n" + 15, &o),
			-1);
	/* more Accept headers than kept */
	{
		char b[1024] = "";
		for(i = 0; i <= BLF_SCAN_ACCEPT_MAX; i++)
			strcat(b, "Accept: a/b\r\n");
		strcat(b, "\r\n");
		CHECK_INT(rest(b, &o), -1);
	}
	CHECK_INT(blf_sipscan_req_rest(NULL, NULL, &o), -1);
	CHECK_INT(blf_sipscan_req_rest(REST + 5, REST, &o), -1);
}

/* every prefix of the rest (a cut datagram) is refused, never read past */
static void test_req_prefixes(void)
{
	blf_reqscan_t o;
	size_t n = strlen(REST), i;
	int bad = 0;
	char *b;

	for(i = 0; i < n - 1; i++) {
		b = malloc(i ? i : 1);
		if(b == NULL)
			return;
		memcpy(b, REST, i);
		if(blf_sipscan_req_rest(b, b + i, &o) != -1)
			bad++;
		free(b);
	}
	CHECK_INT(bad, 0);
}

static void test_req_hostile(void)
{
	blf_reqscan_t o;
	size_t n = 65000, i;
	char *b = malloc(n);

	if(b == NULL)
		return;
	for(i = 0; i + 4 <= n; i += 4)
		memcpy(b + i, "X:\r\n", 4);
	CHECK_INT(blf_sipscan_req_rest(b, b + n, &o), -1); /* line bound */
	for(i = 0; i < n; i++)
		b[i] = (char)(i * 131);
	CHECK_INT(blf_sipscan_req_rest(b, b + n, &o), -1);
	memset(b, ':', n);
	CHECK_INT(blf_sipscan_req_rest(b, b + n, &o), -1);
	free(b);
}

int main(void)
{
	test_req_good();
	test_req_core();
	test_req_prefixes();
	test_req_hostile();
	test_good();
	test_not_for_me();
	test_prefixes();
	test_hostile();
	return tap_done("test_sipscan");
}
