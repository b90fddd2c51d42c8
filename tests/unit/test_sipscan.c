/* UNIT-SOURCES: blf_sipscan.c blf_sipcheck.c */
/*
 * test_sipscan.c — unit tests of blf_sipscan.c: the fields of a SIP reply
 * read in place (status, top Via branch, Call-ID, CSeq, tags), the shapes
 * it hands back to the core's parser, and hostile datagrams (truncated,
 * huge, binary, every prefix of a valid reply).
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

int main(void)
{
	test_good();
	test_not_for_me();
	test_prefixes();
	test_hostile();
	return tap_done("test_sipscan");
}
