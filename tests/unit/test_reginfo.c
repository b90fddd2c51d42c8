/* UNIT-SOURCES: blf_reginfo.c blf_xml.c blf_state.c */
/*
 * test_reginfo.c — unit tests of blf_reginfo.c: RFC 3680 reginfo bodies
 * (init with no contact, active, terminated) validated against
 * tests/schema/reginfo.xsd (xmlSchemaValidateDoc), every attribute,
 * hostile Contact URIs and Call-IDs, the output bound, bad arguments and
 * every libxml2 allocation failing in turn.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <stdlib.h>

#include "tap.h"
#include "t_xml.h"

#include "blf_reginfo.h"

static xmlSchemaPtr t_ri;

static const blf_reginfo_contact_t t_c[] = {
		{"c1", "sip:201@192.0.2.10:5060;transport=udp", 1,
				BLF_REGINFO_EV_REGISTERED, 3600, 20, "0.8", "abc@host", 7},
		{"c2", "sip:201@192.0.2.11", 0, BLF_REGINFO_EV_EXPIRED, 0, -1, NULL,
				NULL, 0},
};

static void test_docs(void)
{
	static const struct
	{
		int n, first; /* contacts t_c[first..first+n) */
		const char *state;
	} cases[] = {{0, 0, "init"}, {2, 0, "active"}, {1, 1, "terminated"}};
	size_t i;

	for(i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *out = NULL;
		size_t len = 0;
		xmlDocPtr d;
		xmlNodePtr root, r, c;

		CHECK_INT(blf_reginfo_build("sip:201@example.com", "r1", 5,
						  t_c + cases[i].first, cases[i].n, 65536, &out, &len),
				0);
		if(!CHECK(out != NULL))
			continue;
		CHECK(t_valid(t_ri, out, len));
		d = t_parse(out, len);
		root = d ? xmlDocGetRootElement(d) : NULL;
		CHECK(t_is(root, "reginfo"));
		CHECK(root && root->ns
				&& strcmp((char *)root->ns->href, BLF_REGINFO_NS) == 0);
		CHECK(t_attr_is(root, "version", "5"));
		CHECK(t_attr_is(root, "state", "full"));
		r = t_child(root, "registration");
		CHECK(t_attr_is(r, "aor", "sip:201@example.com"));
		CHECK(t_attr_is(r, "id", "r1"));
		CHECK(t_attr_is(r, "state", cases[i].state));
		CHECK_INT(t_count(r, "contact"), cases[i].n);
		if(cases[i].n == 2) {
			c = t_child(r, "contact");
			CHECK(t_attr_is(c, "id", "c1"));
			CHECK(t_attr_is(c, "state", "active"));
			CHECK(t_attr_is(c, "event", "registered"));
			CHECK(t_attr_is(c, "expires", "3600"));
			CHECK(t_attr_is(c, "duration-registered", "20"));
			CHECK(t_attr_is(c, "q", "0.8"));
			CHECK(t_attr_is(c, "callid", "abc@host"));
			CHECK(t_attr_is(c, "cseq", "7"));
			CHECK(t_text_is(t_child(c, "uri"),
					"sip:201@192.0.2.10:5060;transport=udp"));
			c = t_elem(c->next);
			CHECK(t_attr_is(c, "state", "terminated"));
			CHECK(t_attr_is(c, "event", "expired"));
			CHECK(t_attr_is(c, "expires", "0"));
			CHECK(t_attr_is(c, "q", NULL));
			CHECK(t_attr_is(c, "cseq", NULL));
		}
		xmlFreeDoc(d);
		free(out);
	}
}

static void test_hostile(void)
{
	blf_reginfo_contact_t c = {"i\"<&", "sip:a b<>\"@\xff\x01h", 1,
			BLF_REGINFO_EV_CREATED, 1, 1, "1\"", "x\x02<y>\xc3", 1};
	char *out;
	size_t len;

	CHECK_INT(blf_reginfo_build(
					  "sip:x\"y@\xfe", "r\"1", 0, &c, 1, 65536, &out, &len),
			0);
	if(out) {
		CHECK(t_valid(t_ri, out, len));
		free(out);
	}
}

static void test_bound_args(void)
{
	char *out = NULL, *full = NULL;
	size_t len, flen;
	blf_reginfo_contact_t bad = t_c[0];

	CHECK_INT(blf_reginfo_build("sip:a@b", "r", 1, t_c, 2, 65536, &full, &flen),
			0);
	CHECK_INT(
			blf_reginfo_build("sip:a@b", "r", 1, t_c, 2, flen - 1, &out, &len),
			1);
	CHECK(out && len < flen);
	if(out) {
		CHECK(t_valid(t_ri, out, len));
		/* the state counts every contact, also those cut */
		CHECK(strstr(out, "state=\"active\"") != NULL);
	}
	free(out);
	out = (char *)"junk";
	CHECK_INT(blf_reginfo_build("sip:a@b", "r", 1, t_c, 2, 10, &out, &len), -1);
	CHECK(out == NULL);
	CHECK_INT(blf_reginfo_build(NULL, "r", 1, t_c, 2, 65536, &out, &len), -1);
	CHECK_INT(blf_reginfo_build("sip:a@b", NULL, 1, t_c, 2, 65536, &out, &len),
			-1);
	CHECK_INT(blf_reginfo_build("sip:a@b", "r", 1, NULL, 2, 65536, &out, &len),
			-1);
	bad.id = NULL;
	CHECK_INT(blf_reginfo_build("sip:a@b", "r", 1, &bad, 1, 65536, &out, &len),
			-1);
	bad = t_c[0];
	bad.event = (blf_reginfo_event_t)42;
	CHECK_INT(blf_reginfo_build("sip:a@b", "r", 1, &bad, 1, 65536, &out, &len),
			-1);
	CHECK_STR(blf_reginfo_event_name(BLF_REGINFO_EV_UNREGISTERED),
			"unregistered");
	free(full);
}

static void test_alloc_failures(void)
{
	char *ref = NULL, *b;
	size_t rl, l;
	long k;
	int rc, bad = 0, done = 0;

	CHECK_INT(
			blf_reginfo_build("sip:a@b", "r", 3, t_c, 2, 65536, &ref, &rl), 0);
	t_quiet = 1;
	for(k = 0; k < 2000 && !done; k++) {
		t_budget = k;
		t_fails = 0;
		b = (char *)"junk";
		rc = blf_reginfo_build("sip:a@b", "r", 3, t_c, 2, 65536, &b, &l);
		t_budget = -1;
		if(rc == 0) {
			if(ref == NULL || l != rl || strcmp(b, ref) != 0)
				bad++;
			free(b);
			done = t_fails == 0;
		} else if(rc != -1 || b != NULL) {
			bad++;
		}
	}
	t_quiet = 0;
	CHECK(done);
	CHECK_INT(bad, 0);
	free(ref);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : BLF_TEST_SCHEMA_DIR;

	t_xml_init();
	t_ri = t_schema_load(dir, "reginfo.xsd");
	if(!CHECK(t_ri != NULL))
		return tap_done("test_reginfo");
	test_docs();
	test_hostile();
	test_bound_args();
	test_alloc_failures();
	xmlSchemaFree(t_ri);
	xmlCleanupParser();
	return tap_done("test_reginfo");
}
