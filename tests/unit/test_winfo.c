/* UNIT-SOURCES: blf_winfo.c blf_xml.c blf_state.c */
/*
 * test_winfo.c — unit tests of blf_winfo.c: RFC 3858 watcherinfo bodies
 * for 0, 1 and 3 watchers validated against tests/schema/watcherinfo.xsd
 * (xmlSchemaValidateDoc), every attribute, hostile watcher URIs and
 * display names, the output bound, bad arguments and every libxml2
 * allocation failing in turn (leaks are LeakSanitizer's job).
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <stdlib.h>

#include "tap.h"
#include "t_xml.h"

#include "blf_winfo.h"

static xmlSchemaPtr t_wi;

static const blf_winfo_watcher_t t_w[] = {
		{"w1", "sip:101@example.com", "Alice", BLF_WINFO_ACTIVE,
				BLF_WINFO_EV_SUBSCRIBE, 3600, 12},
		{"w2", "sip:102@example.com", NULL, BLF_WINFO_TERMINATED,
				BLF_WINFO_EV_TIMEOUT, -1, -1},
		{"w3", "sip:103@example.com;transport=tcp", "", BLF_WINFO_ACTIVE,
				BLF_WINFO_EV_APPROVED, 0, 0},
};

static char *t_build(int n, unsigned int version, xmlDocPtr *d)
{
	char *out = NULL;
	size_t len = 0;
	int rc = blf_winfo_build("sip:201@example.com", "presence", version, t_w, n,
			65536, &out, &len);

	*d = NULL;
	if(!CHECK(rc == 0 && out != NULL && strlen(out) == len))
		return out;
	CHECK(t_valid(t_wi, out, len));
	*d = t_parse(out, len);
	return out;
}

static void test_docs(void)
{
	xmlDocPtr d;
	xmlNodePtr root, wl, w;
	char *b;
	int n;

	for(n = 0; n <= 3; n++) {
		b = t_build(n, (unsigned)n + 7, &d);
		root = d ? xmlDocGetRootElement(d) : NULL;
		CHECK(t_is(root, "watcherinfo"));
		CHECK(root && root->ns
				&& strcmp((char *)root->ns->href, BLF_WINFO_NS) == 0);
		CHECK(t_attr_is(root, "state", "full"));
		wl = t_child(root, "watcher-list");
		CHECK_INT(t_count(root, "watcher-list"), 1);
		CHECK(t_attr_is(wl, "resource", "sip:201@example.com"));
		CHECK(t_attr_is(wl, "package", "presence"));
		CHECK_INT(t_count(wl, "watcher"), n);
		if(n == 3) {
			CHECK(t_attr_is(root, "version", "10"));
			w = t_child(wl, "watcher");
			CHECK(t_attr_is(w, "id", "w1"));
			CHECK(t_attr_is(w, "status", "active"));
			CHECK(t_attr_is(w, "event", "subscribe"));
			CHECK(t_attr_is(w, "display-name", "Alice"));
			CHECK(t_attr_is(w, "expiration", "3600"));
			CHECK(t_attr_is(w, "duration-subscribed", "12"));
			CHECK(t_text_is(w, "sip:101@example.com"));
			w = t_elem(w->next);
			CHECK(t_attr_is(w, "status", "terminated"));
			CHECK(t_attr_is(w, "event", "timeout"));
			CHECK(t_attr_is(w, "display-name", NULL));
			CHECK(t_attr_is(w, "expiration", NULL));
			w = t_elem(w->next);
			CHECK(t_attr_is(w, "event", "approved"));
			CHECK(t_attr_is(w, "display-name", NULL));
			CHECK(t_text_is(w, "sip:103@example.com;transport=tcp"));
		}
		xmlFreeDoc(d);
		free(b);
	}
}

static void test_hostile(void)
{
	blf_winfo_watcher_t w = {"id\"<&>\x01",
			"sip:a b\"<>@\xff"
			"ex\x02.com",
			"Eve \"</watcher>\xc3", BLF_WINFO_ACTIVE, BLF_WINFO_EV_SUBSCRIBE, 1,
			1};
	char *out;
	size_t len;

	CHECK_INT(blf_winfo_build("sip:x y@\xfe"
							  "a",
					  "dia\"log", 0, &w, 1, 65536, &out, &len),
			0);
	if(out) {
		CHECK(t_valid(t_wi, out, len));
		free(out);
	}
}

static void test_bound_args(void)
{
	char *out = NULL, *full = NULL, *none = NULL;
	size_t len, flen, nlen;
	blf_winfo_watcher_t bad = t_w[0];

	CHECK_INT(blf_winfo_build(
					  "sip:a@b", "dialog", 1, t_w, 3, 65536, &full, &flen),
			0);
	CHECK_INT(blf_winfo_build(
					  "sip:a@b", "dialog", 1, t_w, 0, 65536, &none, &nlen),
			0);
	CHECK_INT(blf_winfo_build("sip:a@b", "dialog", 1, t_w, 3, flen, &out, &len),
			0);
	CHECK(out && len == flen);
	free(out);
	/* one byte short: the last watcher goes */
	CHECK_INT(blf_winfo_build(
					  "sip:a@b", "dialog", 1, t_w, 3, flen - 1, &out, &len),
			1);
	CHECK(out && len < flen);
	if(out) {
		CHECK(t_valid(t_wi, out, len));
		CHECK(strstr(out, "w2") && !strstr(out, "w3"));
	}
	free(out);
	CHECK_INT(blf_winfo_build("sip:a@b", "dialog", 1, t_w, 3, nlen, &out, &len),
			3);
	CHECK(out && len == nlen);
	free(out);
	out = (char *)"junk";
	CHECK_INT(blf_winfo_build(
					  "sip:a@b", "dialog", 1, t_w, 3, nlen - 1, &out, &len),
			-1);
	CHECK(out == NULL);
	CHECK_INT(
			blf_winfo_build(NULL, "dialog", 1, t_w, 3, 65536, &out, &len), -1);
	CHECK_INT(
			blf_winfo_build("sip:a@b", NULL, 1, t_w, 3, 65536, &out, &len), -1);
	CHECK_INT(
			blf_winfo_build("sip:a@b", "d", 1, NULL, 3, 65536, &out, &len), -1);
	CHECK_INT(
			blf_winfo_build("sip:a@b", "d", 1, t_w, -1, 65536, &out, &len), -1);
	bad.id = NULL;
	CHECK_INT(
			blf_winfo_build("sip:a@b", "d", 1, &bad, 1, 65536, &out, &len), -1);
	bad = t_w[0];
	bad.status = (blf_winfo_status_t)9;
	CHECK_INT(
			blf_winfo_build("sip:a@b", "d", 1, &bad, 1, 65536, &out, &len), -1);
	bad = t_w[0];
	bad.event = (blf_winfo_event_t)-1;
	CHECK_INT(
			blf_winfo_build("sip:a@b", "d", 1, &bad, 1, 65536, &out, &len), -1);
	CHECK(out == NULL);
	CHECK_STR(blf_winfo_status_name(BLF_WINFO_WAITING), "waiting");
	CHECK_STR(blf_winfo_event_name(BLF_WINFO_EV_NORESOURCE), "noresource");
	CHECK(blf_winfo_event_name((blf_winfo_event_t)99) == NULL);
	free(full);
	free(none);
}

static void test_alloc_failures(void)
{
	char *ref = NULL, *b;
	size_t rl, l;
	long k;
	int rc, bad = 0, done = 0;

	CHECK_INT(
			blf_winfo_build("sip:a@b", "presence", 3, t_w, 3, 65536, &ref, &rl),
			0);
	t_quiet = 1;
	for(k = 0; k < 2000 && !done; k++) {
		t_budget = k;
		t_fails = 0;
		b = (char *)"junk";
		rc = blf_winfo_build("sip:a@b", "presence", 3, t_w, 3, 65536, &b, &l);
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
	t_wi = t_schema_load(dir, "watcherinfo.xsd");
	if(!CHECK(t_wi != NULL))
		return tap_done("test_winfo");
	test_docs();
	test_hostile();
	test_bound_args();
	test_alloc_failures();
	xmlSchemaFree(t_wi);
	xmlCleanupParser();
	return tap_done("test_winfo");
}
