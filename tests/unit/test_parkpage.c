/* UNIT-SOURCES: blf_parkpage.c */
/*
 * test_parkpage.c — unit tests of blf_parkpage.c: the park orbit phone
 * page (Yealink, Cisco, JSON) with hostile labels, visibility, the page
 * bound and buffers that are too small.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <stdlib.h>
#include <string.h>
#include <libxml/parser.h>

#include "tap.h"

#include "blf_parkpage.h"

static blf_park_orbit_t orbit(const char *name, const char *callid,
		const char *parked, const char *parker)
{
	blf_park_orbit_t o;

	memset(&o, 0, sizeof(o));
	snprintf(o.orbit, sizeof(o.orbit), "%s", name);
	snprintf(o.call_id, sizeof(o.call_id), "%s", callid);
	snprintf(o.parked, sizeof(o.parked), "%s", parked);
	snprintf(o.parker, sizeof(o.parker), "%s", parker);
	return o;
}

/* renders (measure, allocate, render) and checks the two agree */
static char *render(blf_page_fmt_t f, const blf_park_orbit_t *o, int n,
		const blf_vis_t *vis, size_t limit, int *shown)
{
	size_t len = blf_parkpage_render(f, o, n, vis, NULL, 0, limit, shown);
	char *buf = malloc(len + 1);
	size_t len2;

	if(buf == NULL)
		return NULL;
	memset(buf, 'Z', len + 1);
	len2 = blf_parkpage_render(f, o, n, vis, buf, len + 1, limit, shown);
	CHECK_INT(len2, len);
	CHECK_INT(strlen(buf), len);
	return buf;
}

static int well_formed(const char *s)
{
	xmlDocPtr d = xmlReadMemory(s, strlen(s), "page.xml", NULL,
			XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);

	if(d == NULL)
		return 0;
	xmlFreeDoc(d);
	return 1;
}

static void test_format(void)
{
	CHECK_INT(blf_parkpage_format("yealink", 7), BLF_PAGE_YEALINK);
	CHECK_INT(blf_parkpage_format("CISCO", 5), BLF_PAGE_CISCO);
	CHECK_INT(blf_parkpage_format("json", 4), BLF_PAGE_JSON);
	CHECK_INT(blf_parkpage_format("jsonx", 5), -1);
	CHECK_INT(blf_parkpage_format("json", 3), -1);
	CHECK_INT(blf_parkpage_format(NULL, 0), -1);
	CHECK_STR(blf_parkpage_ctype(BLF_PAGE_JSON), "application/json");
	CHECK_STR(blf_parkpage_ctype(BLF_PAGE_CISCO), "text/xml");
}

static void test_yealink_full(void)
{
	blf_park_orbit_t o[2];
	char *p;

	o[0] = orbit("701", "c1@h", "sip:211@blf.test", "sip:207@blf.test");
	o[1] = orbit("702", "", "", "");
	p = render(BLF_PAGE_YEALINK, o, 2, NULL, BLF_PARKPAGE_MAX, NULL);
	CHECK_STR(p, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
				 "<YealinkIPPhoneTextMenu style=\"numbered\">\n"
				 "<Title>Parked calls</Title>\n"
				 "<MenuItem>\n<Prompt>701 parked: 211</Prompt>\n"
				 "<URI>Dial:701</URI>\n<Dial>701</Dial>\n</MenuItem>\n"
				 "<MenuItem>\n<Prompt>702 empty</Prompt>\n"
				 "<URI>Dial:702</URI>\n<Dial>702</Dial>\n</MenuItem>\n"
				 "</YealinkIPPhoneTextMenu>\n");
	CHECK(well_formed(p));
	free(p);
}

static void test_json_visibility(void)
{
	blf_park_orbit_t o = orbit("701", "secret-call@h",
			"\"O'Neil\" <sip:o'neil&co@blf.test>", "sip:207@blf.test");
	blf_vis_t v;
	char *p;

	v = BLF_VIS_FULL;
	p = render(BLF_PAGE_JSON, &o, 1, &v, BLF_PARKPAGE_MAX, NULL);
	CHECK_STR(p, "{\"orbits\":[{\"orbit\":\"701\",\"state\":\"parked\","
				 "\"call_id\":\"secret-call@h\",\"parked\":\"\\\"O'Neil\\\" "
				 "\\u003csip:o'neil\\u0026co@blf.test\\u003e\","
				 "\"dial\":\"701\"}]}\n");
	free(p);
	v = BLF_VIS_STATE;
	p = render(BLF_PAGE_JSON, &o, 1, &v, BLF_PARKPAGE_MAX, NULL);
	CHECK_STR(p, "{\"orbits\":[{\"orbit\":\"701\",\"state\":\"parked\","
				 "\"dial\":\"701\"}]}\n");
	free(p);
	v = BLF_VIS_NONE;
	p = render(BLF_PAGE_JSON, &o, 1, &v, BLF_PARKPAGE_MAX, NULL);
	CHECK_STR(p, "{\"orbits\":[{\"orbit\":\"701\",\"dial\":\"701\"}]}\n");
	free(p);
	/* an out-of-range visibility is the strictest */
	v = (blf_vis_t)7;
	p = render(BLF_PAGE_JSON, &o, 1, &v, BLF_PARKPAGE_MAX, NULL);
	CHECK(strstr(p, "secret") == NULL && strstr(p, "parked") == NULL);
	free(p);
}

static void test_xml_visibility(void)
{
	blf_park_orbit_t o = orbit("701", "secret-call@h", "sip:211@blf.test",
			"sip:207@blf.test");
	blf_vis_t v[] = {BLF_VIS_STATE};
	char *p;

	p = render(BLF_PAGE_CISCO, &o, 1, v, BLF_PARKPAGE_MAX, NULL);
	CHECK(strstr(p, "<Name>701 parked</Name>") != NULL);
	CHECK(strstr(p, "211") == NULL && strstr(p, "secret") == NULL);
	CHECK(well_formed(p));
	free(p);
	v[0] = BLF_VIS_NONE;
	p = render(BLF_PAGE_YEALINK, &o, 1, v, BLF_PARKPAGE_MAX, NULL);
	CHECK(strstr(p, "<Prompt>701</Prompt>") != NULL);
	CHECK(well_formed(p));
	free(p);
}

/* the label that ran past the old 1.5 KB escape buffer: 255 '&' */
static void test_hostile_labels(void)
{
	blf_park_orbit_t o[3];
	char parked[BLF_JSON_URI_MAX];
	char *p;
	int f;

	memset(parked, '&', sizeof(parked) - 1);
	parked[sizeof(parked) - 1] = '\0';
	o[0] = orbit("701", "c@h", parked, parked);
	/* controls, invalid UTF-8, overlong '/', a surrogate, valid é and € */
	o[1] = orbit("7<2>", "c2", "sip:\x01\x1f\x7f\xff\xfe\xc0\xaf"
			"\xed\xa0\x80\xc3\xa9\xe2\x82\xac@x", "");
	/* a multi-byte character cut by the label bound */
	memset(parked, 'a', sizeof(parked) - 1);
	memcpy(parked + 4 + BLF_PARKPAGE_WHO_MAX - 1, "\xc3\xa9", 2);
	memcpy(parked, "sip:", 4);
	o[2] = orbit("703", "c3", parked, "");
	for(f = BLF_PAGE_YEALINK; f <= BLF_PAGE_JSON; f++) {
		p = render(f, o, 3, NULL, BLF_PARKPAGE_MAX, NULL);
		CHECK(p != NULL && strlen(p) > 100);
		if(f != BLF_PAGE_JSON) {
			CHECK(well_formed(p));
			CHECK(strstr(p, "&amp;&amp;&amp;") != NULL);
			CHECK(strstr(p, "7&lt;2&gt; parked: ??????????\xc3\xa9"
							"\xe2\x82\xac<")
					!= NULL);
		} else {
			CHECK(strstr(p, "\\u0001\\u001f\\u007f???????\xc3\xa9") != NULL);
		}
		CHECK(strstr(p, "\x01") == NULL && strstr(p, "\xff") == NULL);
		free(p);
	}
}

static void test_bound(void)
{
	blf_park_orbit_t *o = calloc(512, sizeof(*o));
	char name[16], *p;
	int i, shown = -1;
	size_t len;

	for(i = 0; i < 512; i++) {
		snprintf(name, sizeof(name), "%d", 1000 + i);
		o[i] = orbit(name, "c", "sip:x@y", "");
	}
	/* everything fits */
	p = render(BLF_PAGE_YEALINK, o, 512, NULL, BLF_PARKPAGE_MAX, &shown);
	CHECK_INT(shown, 512);
	CHECK(well_formed(p));
	free(p);
	/* a 2 KB bound: the first orbits, a complete page */
	p = render(BLF_PAGE_CISCO, o, 512, NULL, 2048, &shown);
	CHECK(shown > 0 && shown < 512);
	CHECK(strlen(p) <= 2048);
	CHECK(well_formed(p));
	free(p);
	p = render(BLF_PAGE_JSON, o, 512, NULL, 2048, &shown);
	CHECK(shown > 0 && strlen(p) <= 2048);
	CHECK(strcmp(p + strlen(p) - 4, "}]}\n") == 0);
	free(p);
	/* a bound below the frame: the frame alone, never an empty answer */
	p = render(BLF_PAGE_JSON, o, 512, NULL, 1, &shown);
	CHECK_INT(shown, 0);
	CHECK_STR(p, "{\"orbits\":[]}\n");
	free(p);
	/* no orbits */
	p = render(BLF_PAGE_YEALINK, NULL, 0, NULL, BLF_PARKPAGE_MAX, &shown);
	CHECK_INT(shown, 0);
	CHECK(well_formed(p));
	free(p);
	/* a buffer too small: cut and terminated, never written past */
	{
		char small[32];
		len = blf_parkpage_render(BLF_PAGE_YEALINK, o, 512, NULL, small,
				sizeof(small), BLF_PARKPAGE_MAX, NULL);
		CHECK(len > sizeof(small));
		CHECK_INT(strlen(small), sizeof(small) - 1);
	}
	free(o);
}

int main(void)
{
	test_format();
	test_yealink_full();
	test_json_visibility();
	test_xml_visibility();
	test_hostile_labels();
	test_bound();
	xmlCleanupParser();
	return tap_done("test_parkpage");
}
