/* UNIT-SOURCES: blf_pidf.c blf_xml.c blf_state.c blf_branch.c */
/*
 * test_pidf.c — unit tests of blf_pidf.c: every row of the SPEC's presence
 * table, the merge rule (published away kept during a call, newest note
 * wins, an expired publication leaves no trace, one person, tuples newest
 * first and one per id, own ids never colliding), the state visibility,
 * the output bound, PUBLISH bodies real clients send (baresip 1.0.0,
 * pjsip/MicroSIP, linphone) and hostile ones (DOCTYPE, entity bombs, 10k
 * tuples, deep nesting, wrong namespace, missing ids, huge note,
 * non-UTF-8, empty), ETags, and every libxml2 allocation failing in turn.
 * Every document built is validated against RFC 3863/4479/4480's schemas
 * (tests/schema/presence.xsd) with libxml2's xmlSchemaValidateDoc.
 *
 * baresip 1.0.0 (modules/presence/subscriber.c) does not parse the NOTIFY
 * body: it regex-matches the first "<basic[ \t]*>X</basic" (open when X is
 * "open"), then "<rpid:away/>" -> offline, else "<rpid:busy/>" or
 * "<rpid:on-the-phone/>" -> busy. t_baresip() below does the same so the
 * tests say what a baresip buddy list shows.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <stdlib.h>

#include "tap.h"
#include "t_xml.h"

#include "blf_pidf.h"

static xmlSchemaPtr t_pres;

#define PIDF_NS "urn:ietf:params:xml:ns:pidf"

/* what baresip 1.0.0 publishes (publisher.c), byte for byte */
static const char t_baresip_pub[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\" standalone=\"no\"?>\r\n"
		"<presence xmlns=\"urn:ietf:params:xml:ns:pidf\"\r\n"
		"    xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\"\r\n"
		"    xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:rpid\"\r\n"
		"    entity=\"sip:201@example.com\">\r\n"
		"  <dm:person id=\"p4159\"><rpid:activities/></dm:person>\r\n"
		"  <tuple id=\"t4109\">\r\n"
		"    <status>\r\n"
		"      <basic>open</basic>\r\n"
		"    </status>\r\n"
		"    <contact>sip:201@example.com</contact>\r\n"
		"  </tuple>\r\n"
		"</presence>\r\n";

/* the shape pjsip (MicroSIP) publishes: pjsip_pres_create_pidf() and
 * pjrpid_add_element() */
static const char t_pjsip_pub[] =
		"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
		"<presence entity=\"sip:201@example.com\" "
		"xmlns=\"urn:ietf:params:xml:ns:pidf\" "
		"xmlns:dm=\"urn:ietf:params:xml:ns:pidf:data-model\" "
		"xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:rpid\">\n"
		" <tuple id=\"pj5e1c0a2b7d9f4e3a\">\n"
		"  <status>\n   <basic>open</basic>\n  </status>\n"
		"  <contact>sip:201@192.0.2.7:5060</contact>\n"
		"  <timestamp>2026-12-05T03:00:00.000Z</timestamp>\n"
		"  <note>Busy</note>\n"
		" </tuple>\n"
		" <dm:person id=\"pj9a8b7c6d5e4f\">\n"
		"  <rpid:activities>\n   <rpid:busy/>\n  </rpid:activities>\n"
		"  <dm:note>Busy</dm:note>\n"
		" </dm:person>\n"
		"</presence>\n";

/* --- helpers ------------------------------------------------------------ */

typedef struct t_bs
{
	int open; /* basic says open */
	int away; /* closed by away */
	int busy;
} t_bs_t;

/* baresip 1.0.0's reading of a NOTIFY body (see the file header) */
static t_bs_t t_baresip(const char *body)
{
	t_bs_t r = {0, 0, 0};
	const char *p = strstr(body, "<basic"), *q;

	if(p) {
		p += 6;
		while(*p == ' ' || *p == '\t')
			p++;
		if(*p == '>') {
			q = strchr(p + 1, '<');
			r.open = q && q - p - 1 == 4 && strncasecmp(p + 1, "open", 4) == 0;
		}
	}
	if(strstr(body, "<rpid:away/>"))
		r.away = 1;
	else if(strstr(body, "<rpid:busy/>")
			|| strstr(body, "<rpid:on-the-phone/>"))
		r.busy = 1;
	return r;
}

static blf_pidf_pub_t *t_pub(const char *body)
{
	blf_pidf_pub_t *p = NULL;
	char err[256];
	int rc = blf_pidf_parse(body, strlen(body), NULL, &p, err, sizeof(err));

	if(!CHECK(rc == 0 && p != NULL))
		printf("     parse: %d %s\n", rc, err);
	return p;
}

static int t_mk_notes = 1; /* t_mkpub gives each tuple a <note> */

/* a publication with the given tuples ("id:basic:contact" each), person
 * activities and note (NULL: none) */
static blf_pidf_pub_t *t_mkpub(
		const char *tuples[], int n, const char *acts, const char *note)
{
	char body[8192];
	size_t o = 0;
	int i;

	o += snprintf(body + o, sizeof(body) - o,
			"<presence xmlns='%s' xmlns:dm='urn:ietf:params:xml:ns:pidf:"
			"data-model' xmlns:rpid='urn:ietf:params:xml:ns:pidf:rpid' "
			"entity='sip:201@example.com'>",
			PIDF_NS);
	for(i = 0; i < n; i++) {
		char id[64], basic[16], contact[128];
		if(sscanf(tuples[i], "%63[^:]:%15[^:]:%127s", id, basic, contact) != 3)
			return NULL;
		o += snprintf(body + o, sizeof(body) - o,
				"<tuple id='%s'><status><basic>%s</basic></status>"
				"<contact>%s</contact>",
				id, basic, contact);
		if(t_mk_notes)
			o += snprintf(body + o, sizeof(body) - o, "<note>tn-%s</note>", id);
		o += snprintf(body + o, sizeof(body) - o, "</tuple>");
	}
	if(acts != NULL || note != NULL) {
		o += snprintf(body + o, sizeof(body) - o, "<dm:person id='pp'>");
		if(acts)
			o += snprintf(body + o, sizeof(body) - o,
					"<rpid:activities>%s</rpid:activities>", acts);
		if(note)
			o += snprintf(
					body + o, sizeof(body) - o, "<dm:note>%s</dm:note>", note);
		o += snprintf(body + o, sizeof(body) - o, "</dm:person>");
	}
	snprintf(body + o, sizeof(body) - o, "</presence>");
	return t_pub(body);
}

/* builds, checks validity against the schemas; *doc the parsed body */
static char *t_build(blf_pres_call_t call, int reg, blf_vis_t vis,
		const blf_pidf_pub_t *const *pubs, int n, xmlDocPtr *doc)
{
	blf_pidf_in_t in = {"sip:201@example.com", call, reg, vis, pubs, n};
	char *out = NULL;
	size_t len = 0;
	int rc = blf_pidf_build(&in, 65536, &out, &len);

	*doc = NULL;
	if(!CHECK(rc == 0 && out != NULL && strlen(out) == len))
		return out;
	CHECK(t_valid(t_pres, out, len));
	*doc = t_parse(out, len);
	CHECK(*doc != NULL);
	return out;
}

static xmlNodePtr t_root(xmlDocPtr d)
{
	return d ? xmlDocGetRootElement(d) : NULL;
}

/* the n-th (0-based) element child of the root */
static xmlNodePtr t_nth(xmlDocPtr d, int n)
{
	xmlNodePtr c = t_elem(t_root(d) ? t_root(d)->children : NULL);

	while(c && n-- > 0)
		c = t_elem(c->next);
	return c;
}

static xmlNodePtr t_person(xmlDocPtr d)
{
	return t_child(t_root(d), "person");
}

/* 1 when the person's activities are exactly the names in want (space
 * separated, "" = no <activities> at all) */
static int t_acts_are(xmlDocPtr d, const char *want)
{
	xmlNodePtr a = t_child(t_person(d), "activities"), c;
	char got[512] = "";
	int ok;

	for(c = a ? a->children : NULL; c; c = c->next) {
		if(c->type != XML_ELEMENT_NODE)
			continue;
		if(got[0])
			strcat(got, " ");
		strncat(got, (const char *)c->name, sizeof(got) - strlen(got) - 1);
	}
	ok = strcmp(got, want) == 0 && (want[0] != '\0' || a == NULL);
	if(!ok)
		printf("     activities [%s], want [%s]\n", got, want);
	return ok;
}

/* --- the SPEC table ------------------------------------------------------ */

static void test_table(void)
{
	static const struct
	{
		blf_pres_call_t call;
		int reg;
		const char *basic, *acts, *note;
		int bs_open, bs_busy;
	} rows[] = {
			{BLF_PRES_IDLE, 0, "closed", "", "Unavailable", 0, 0},
			{BLF_PRES_RINGING, 1, "open", "on-the-phone", "Ringing", 1, 1},
			{BLF_PRES_CONFIRMED, 1, "open", "on-the-phone", "On the phone", 1,
					1},
			{BLF_PRES_IDLE, 1, "open", "", "Ready", 1, 0},
			/* a call wins over registration (see blf_pidf.h) */
			{BLF_PRES_CONFIRMED, 0, "open", "on-the-phone", "On the phone", 1,
					1},
	};
	size_t i;

	for(i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		xmlDocPtr d;
		char *b = t_build(rows[i].call, rows[i].reg, BLF_VIS_FULL, NULL, 0, &d);
		xmlNodePtr root = t_root(d), tu = t_nth(d, 0);
		t_bs_t bs;

		printf("# row %zu: %s reg=%d\n", i, blf_pres_call_name(rows[i].call),
				rows[i].reg);
		CHECK(root && root->ns && strcmp((char *)root->ns->href, PIDF_NS) == 0);
		CHECK(t_attr_is(root, "entity", "sip:201@example.com"));
		CHECK(t_is(tu, "tuple") && t_attr_is(tu, "id", "blf"));
		CHECK(t_text_is(
				t_child(t_child(tu, "status"), "basic"), rows[i].basic));
		CHECK(t_text_is(t_child(tu, "note"), rows[i].note));
		CHECK_INT(t_count(root, "person"), 1);
		CHECK(t_attr_is(t_person(d), "id", "blf-p"));
		CHECK(t_acts_are(d, rows[i].acts));
		CHECK(t_text_is(t_child(t_person(d), "note"), rows[i].note));
		/* the literal forms clients match */
		CHECK(b
				&& strstr(b, "xmlns:dm=\"urn:ietf:params:xml:ns:pidf:"
							 "data-model\""));
		CHECK(b
				&& strstr(b, "xmlns:rpid=\"urn:ietf:params:xml:ns:pidf:"
							 "rpid\""));
		CHECK(b && strstr(b, "<dm:person "));
		if(rows[i].acts[0])
			CHECK(b && strstr(b, "<rpid:on-the-phone/>"));
		bs = t_baresip(b ? b : "");
		CHECK_INT(bs.open, rows[i].bs_open);
		CHECK_INT(bs.busy, rows[i].bs_busy);
		CHECK_INT(bs.away, 0);
		xmlFreeDoc(d);
		free(b);
	}
}

/* --- the merge rule ----------------------------------------------------- */

static void test_merge(void)
{
	const char *t1[] = {"pc:open:sip:201@pc.example.com"};
	const char *t2[] = {"desk:open:sip:201@desk.example.com",
			"pc:closed:sip:201@pc2.example.com"};
	blf_pidf_pub_t *older = t_mkpub(t1, 1, "<rpid:away/>", "Lunch");
	blf_pidf_pub_t *newer = t_mkpub(t2, 2, NULL, NULL);
	blf_pidf_pub_t *noted = t_mkpub(t2, 2, "<rpid:meeting/>", "Meeting");
	const blf_pidf_pub_t *pubs[3];
	xmlDocPtr d;
	char *b, *b0, *b1;
	t_bs_t bs;

	if(!older || !newer || !noted)
		goto out;

	/* a published away is kept during a call; the person's note is the
	 * published one, our tuple keeps the call's */
	pubs[0] = older;
	b = t_build(BLF_PRES_CONFIRMED, 1, BLF_VIS_FULL, pubs, 1, &d);
	CHECK(t_acts_are(d, "away on-the-phone"));
	CHECK(t_text_is(t_child(t_person(d), "note"), "Lunch"));
	CHECK(t_text_is(t_child(t_nth(d, 0), "note"), "On the phone"));
	CHECK(t_attr_is(t_nth(d, 1), "id", "pc"));
	CHECK(t_is(t_nth(d, 2), "person"));
	CHECK_INT(t_count(t_root(d), "person"), 1);
	bs = t_baresip(b);
	CHECK(bs.open && bs.away); /* baresip shows away first */
	xmlFreeDoc(d);
	free(b);

	/* newest first, one per id (the newer "pc" wins), ids kept; the newest
	 * publication has no person: the activities come from the newest that
	 * has one; its note is its first tuple's (pjsip clients put theirs
	 * there), the newest note */
	pubs[0] = newer;
	pubs[1] = older;
	b = t_build(BLF_PRES_IDLE, 1, BLF_VIS_FULL, pubs, 2, &d);
	CHECK(t_attr_is(t_nth(d, 0), "id", "blf"));
	CHECK(t_attr_is(t_nth(d, 1), "id", "desk"));
	CHECK(t_attr_is(t_nth(d, 2), "id", "pc"));
	CHECK(t_text_is(
			t_child(t_child(t_nth(d, 2), "status"), "basic"), "closed"));
	CHECK(t_text_is(
			t_child(t_nth(d, 2), "contact"), "sip:201@pc2.example.com"));
	CHECK(t_is(t_nth(d, 3), "person"));
	CHECK(t_nth(d, 4) == NULL);
	CHECK(t_acts_are(d, "away"));
	CHECK(t_text_is(t_child(t_person(d), "note"), "tn-desk"));
	/* our <basic> comes first: it is the one baresip reads */
	CHECK(t_baresip(b).open);
	xmlFreeDoc(d);
	free(b);

	/* the newest note wins */
	pubs[0] = noted;
	pubs[1] = older;
	b = t_build(BLF_PRES_RINGING, 1, BLF_VIS_FULL, pubs, 2, &d);
	CHECK(t_acts_are(d, "meeting on-the-phone"));
	CHECK(t_text_is(t_child(t_person(d), "note"), "Meeting"));
	xmlFreeDoc(d);
	free(b);

	/* an expired publication (not passed any more) leaves no trace: the
	 * body is byte for byte the one built without it */
	b0 = t_build(BLF_PRES_CONFIRMED, 1, BLF_VIS_FULL, NULL, 0, &d);
	xmlFreeDoc(d);
	pubs[0] = older;
	b = t_build(BLF_PRES_CONFIRMED, 1, BLF_VIS_FULL, pubs, 1, &d);
	xmlFreeDoc(d);
	b1 = t_build(BLF_PRES_CONFIRMED, 1, BLF_VIS_FULL, pubs, 0, &d);
	xmlFreeDoc(d);
	CHECK(b0 && b1 && strcmp(b0, b1) == 0);
	CHECK(b && b0 && strcmp(b, b0) != 0);
	CHECK(b1 && strstr(b1, "away") == NULL && strstr(b1, "Lunch") == NULL);
	free(b0);
	free(b1);
	free(b);
out:
	free(older);
	free(newer);
	free(noted);
}

/* published tuples that use our ids: ours move aside (xs:ID is unique) */
static void test_own_ids(void)
{
	const char *t[] = {
			"blf:open:sip:a@b", "blf-p:open:sip:a@c", "blf-1:open:sip:a@d"};
	blf_pidf_pub_t *p = t_mkpub(t, 3, NULL, NULL);
	const blf_pidf_pub_t *pubs[1] = {p};
	xmlDocPtr d;
	char *b;

	if(p == NULL)
		return;
	CHECK(blf_pidf_pub_has_id(p, "blf-p"));
	CHECK(!blf_pidf_pub_has_id(p, "x"));
	b = t_build(BLF_PRES_IDLE, 1, BLF_VIS_FULL, pubs, 1, &d);
	CHECK(t_attr_is(t_nth(d, 0), "id", "blf-2"));
	CHECK(t_attr_is(t_nth(d, 1), "id", "blf"));
	CHECK(t_attr_is(t_person(d), "id", "blf-p-1"));
	xmlFreeDoc(d);
	free(b);
	free(p);
}

/* --- visibility "state" ------------------------------------------------- */

static void test_state_vis(void)
{
	const char *t[] = {"pc:open:sip:201@pc.example.com"};
	blf_pidf_pub_t *p = t_mkpub(t, 1, "<rpid:away/>", "Lunch with Bob");
	const blf_pidf_pub_t *pubs[1] = {p};
	xmlDocPtr d;
	char *b;

	if(p == NULL)
		return;
	b = t_build(BLF_PRES_CONFIRMED, 1, BLF_VIS_STATE, pubs, 1, &d);
	CHECK(t_attr_is(t_nth(d, 1), "id", "pc"));
	CHECK_INT(t_count_deep(t_root(d), "contact"), 0);
	CHECK(b && strstr(b, "Lunch") == NULL && strstr(b, "tn-pc") == NULL
			&& strstr(b, "pc.example.com") == NULL);
	/* the state itself stays: activities and our fixed notes */
	CHECK(t_acts_are(d, "away on-the-phone"));
	CHECK(t_text_is(t_child(t_person(d), "note"), "On the phone"));
	CHECK(t_text_is(t_child(t_nth(d, 0), "note"), "On the phone"));
	xmlFreeDoc(d);
	free(b);
	/* regression (found by fuzz_pidf): a contact or note nested in an
	 * extension element, or a note of another namespace, passed "state" */
	{
		blf_pidf_pub_t *q =
				t_pub("<presence xmlns='urn:ietf:params:xml:ns:pidf' "
					  "xmlns:r='urn:ietf:params:xml:ns:pidf:rpid' entity='a:b'>"
					  "<tuple id='t'><status><basic>open</basic></status>"
					  "<x:ext xmlns:x='urn:x'><contact>sip:leak@x</contact>"
					  "<x:note>secret1</x:note></x:ext><r:note>secret2</r:note>"
					  "</tuple></presence>");
		const blf_pidf_pub_t *qs[1] = {q};
		if(q) {
			char *s = t_build(BLF_PRES_IDLE, 1, BLF_VIS_STATE, qs, 1, &d);
			CHECK(s && strstr(s, "leak") == NULL
					&& strstr(s, "secret") == NULL);
			CHECK(s && strstr(s, "<x:ext") != NULL);
			xmlFreeDoc(d);
			free(s);
			free(q);
		}
	}
	/* NONE never gets a body; given anyway it is treated as STATE */
	b = t_build(BLF_PRES_IDLE, 1, BLF_VIS_NONE, pubs, 1, &d);
	CHECK(b && strstr(b, "Lunch") == NULL && strstr(b, "<contact") == NULL);
	xmlFreeDoc(d);
	free(b);
	free(p);
}

/* --- real clients' PUBLISH bodies --------------------------------------- */

static void test_clients(void)
{
	blf_pidf_pub_t *bp = t_pub(t_baresip_pub), *pj = t_pub(t_pjsip_pub);
	const blf_pidf_pub_t *pubs[2];
	xmlDocPtr d;
	char *b;

	if(bp) {
		CHECK_INT(bp->ntuples, 1);
		CHECK_STR(BLF_PIDF_STR(bp, bp->t[0].id_off), "t4109");
		CHECK_STR(BLF_PIDF_STR(bp, bp->entity_off), "sip:201@example.com");
		CHECK(bp->flags & BLF_PIDF_PUB_PERSON);
		CHECK_INT(bp->acts, 0);
		CHECK_INT(bp->note_len, 0);
		CHECK(strstr(BLF_PIDF_STR(bp, bp->t[0].full_off),
					  "<contact>sip:201@example.com</contact>")
				!= NULL);
		CHECK(strstr(BLF_PIDF_STR(bp, bp->t[0].bare_off), "contact") == NULL);
	}
	if(pj) {
		CHECK_INT(pj->ntuples, 1);
		CHECK_INT(pj->acts, BLF_PIDF_ACT("busy"));
		CHECK_STR(BLF_PIDF_STR(pj, pj->note_off), "Busy");
	}
	if(bp && pj) {
		pubs[0] = pj;
		pubs[1] = bp;
		b = t_build(BLF_PRES_IDLE, 1, BLF_VIS_FULL, pubs, 2, &d);
		CHECK(t_attr_is(t_nth(d, 1), "id", "pj5e1c0a2b7d9f4e3a"));
		CHECK(t_attr_is(t_nth(d, 2), "id", "t4109"));
		CHECK(t_acts_are(d, "busy"));
		CHECK(t_baresip(b).busy);
		xmlFreeDoc(d);
		free(b);
	}
	free(bp);
	free(pj);
}

/* --- hostile PUBLISH bodies --------------------------------------------- */

static void t_reject(const char *what, const char *body, size_t len,
		const blf_pidf_limits_t *lim, const char *errpart)
{
	blf_pidf_pub_t *p = (blf_pidf_pub_t *)"junk";
	char err[256];
	int rc;

	t_quiet = 1;
	rc = blf_pidf_parse(body, len, lim, &p, err, sizeof(err));
	t_quiet = 0;
	printf("# %s -> %d %s\n", what, rc, err);
	CHECK_INT(rc, 1);
	CHECK(p == NULL);
	CHECK(err[0] != '\0' && strchr(err, '\n') == NULL);
	if(errpart && !CHECK(strstr(err, errpart) != NULL))
		printf("     want [%s] in the error\n", errpart);
}

#define T_REJECT(what, s, part) t_reject(what, s, strlen(s), NULL, part)

static void test_hostile(void)
{
	static const char bomb[] =
			"<?xml version='1.0'?><!DOCTYPE presence [<!ENTITY a "
			"'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;'>"
			"<!ENTITY c '&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;'>"
			"<!ENTITY d '&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;'>]>"
			"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='&d;'>"
			"<tuple id='x'><status/><note>&d;&d;&d;</note></tuple></presence>";
	char *big;
	size_t o, i;
	blf_pidf_limits_t lim = {1 << 22, 16, 16, 256, 64};
	blf_pidf_pub_t *p;
	char err[256];
	int rc;

	T_REJECT("empty", "", "empty");
	T_REJECT("blank", "   \r\n", "well-formed");
	T_REJECT("not XML", "hello", "well-formed");
	T_REJECT("entity bomb", bomb, "DOCTYPE");
	T_REJECT("external DTD",
			"<!DOCTYPE presence SYSTEM 'http://192.0.2.1/x.dtd'>"
			"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='a:b'/>",
			"DOCTYPE");
	T_REJECT("XXE",
			"<!DOCTYPE p [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
			"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='a:b'>"
			"<note>&x;</note></presence>",
			"DOCTYPE");
	T_REJECT("undeclared entity",
			"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='a:b'>"
			"<note>&x;</note></presence>",
			"well-formed");
	T_REJECT("wrong namespace",
			"<presence xmlns='urn:ietf:params:xml:ns:cpim-pidf' "
			"entity='a:b'/>",
			"<presence>");
	T_REJECT("no namespace", "<presence entity='a:b'/>", "<presence>");
	T_REJECT("wrong root",
			"<dialog-info xmlns='urn:ietf:params:xml:ns:pidf' entity='a:b'/>",
			"<presence>");
	T_REJECT("no entity", "<presence xmlns='urn:ietf:params:xml:ns:pidf'/>",
			"entity");
	T_REJECT("tuple without id",
			"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='a:b'>"
			"<tuple><status/></tuple></presence>",
			"id");
	T_REJECT("tuple id not a name",
			"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='a:b'>"
			"<tuple id='1x'><status/></tuple></presence>",
			"id");
	T_REJECT("tuple id with a quote",
			"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='a:b'>"
			"<tuple id='a&quot;b'><status/></tuple></presence>",
			"id");
	T_REJECT("two tuples, one id",
			"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='a:b'>"
			"<tuple id='a'><status/></tuple><tuple id='a'><status/></tuple>"
			"</presence>",
			"two tuples");
	T_REJECT("tuple without status",
			"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='a:b'>"
			"<tuple id='a'><contact>sip:a@b</contact></tuple></presence>",
			"status");
	T_REJECT("status in another namespace",
			"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='a:b'>"
			"<tuple id='a'><x:status xmlns:x='urn:x'/></tuple></presence>",
			"status");
	T_REJECT("basic neither open nor closed",
			"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='a:b'>"
			"<tuple id='a'><status><basic>busy</basic></status></tuple>"
			"</presence>",
			"neither open nor closed");
	/* regression (found by fuzz_pidf): an undeclared prefix is only a
	 * namespace error for libxml2; pasted into a NOTIFY that declares
	 * dm: and rpid:, "dm:note" would become a real note */
	T_REJECT("undeclared prefix",
			"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='a:b'>"
			"<tuple id='a'><status/><x><dm:note>hi</dm:note></x></tuple>"
			"</presence>",
			"namespace-well-formed");
	T_REJECT("undeclared prefix on the person",
			"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='a:b'>"
			"<dm:person id='p'><rpid:activities><rpid:away/>"
			"</rpid:activities></dm:person></presence>",
			"namespace-well-formed");
	T_REJECT("latin-1 byte",
			"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='a:b'>"
			"<note>caf\xe9</note></presence>",
			"well-formed");
	T_REJECT("declared latin-1",
			"<?xml version='1.0' encoding='ISO-8859-1'?>"
			"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='a:b'>"
			"<note>caf\xe9</note></presence>",
			"well-formed");
	T_REJECT("overlong UTF-8",
			"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='a:b'>"
			"<note>\xc0\xaf</note></presence>",
			"well-formed");
	T_REJECT("unclosed", "<presence xmlns='urn:ietf:params:xml:ns:pidf'",
			"well-formed");
	t_reject("NUL inside", "<presence\0/>", 11, NULL, "well-formed");

	/* 10k tuples: first the body size, then (with room) the tuple count */
	big = malloc(1 << 22);
	if(!CHECK(big != NULL))
		return;
	o = (size_t)sprintf(
			big, "<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='a:b'>");
	for(i = 0; i < 10000; i++)
		o += (size_t)sprintf(big + o, "<tuple id='t%zu'><status/></tuple>", i);
	o += (size_t)sprintf(big + o, "</presence>");
	t_reject("10k tuples", big, o, NULL, "at most 16384");
	t_reject("10k tuples, room", big, o, &lim, "at most 16 allowed");

	/* deep nesting, under the size bound */
	o = (size_t)sprintf(big,
			"<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='a:b'>"
			"<tuple id='a'><status>");
	for(i = 0; i < 100; i++)
		o += (size_t)sprintf(big + o, "<x:e xmlns:x='urn:x'>");
	for(i = 0; i < 100; i++)
		o += (size_t)sprintf(big + o, "</x:e>");
	o += (size_t)sprintf(big + o, "</status></tuple></presence>");
	t_reject("deep nesting", big, o, &lim, "nested deeper");
	/* 100000 levels: libxml2's own limit stops it first */
	o = 0;
	for(i = 0; i < 100000; i++)
		o += (size_t)sprintf(big + o, "<a>");
	t_reject("very deep nesting", big, o, &lim, NULL);

	/* a huge note is cut at a character boundary, not refused */
	o = (size_t)sprintf(big,
			"<presence xmlns='urn:ietf:params:xml:ns:pidf' "
			"xmlns:dm='urn:ietf:params:xml:ns:pidf:data-model' "
			"entity='a:b'><dm:person id='p'><dm:note>x");
	for(i = 0; i < 3000; i++)
		o += (size_t)sprintf(big + o, "\xe2\x82\xac"); /* euro sign */
	o += (size_t)sprintf(big + o, "</dm:note></dm:person></presence>");
	p = NULL;
	rc = blf_pidf_parse(big, o, NULL, &p, err, sizeof(err));
	CHECK_INT(rc, 0);
	if(p) {
		CHECK(p->note_len <= BLF_PIDF_MAX_NOTE);
		CHECK_INT(p->note_len, 1 + 3 * ((BLF_PIDF_MAX_NOTE - 1) / 3));
		CHECK_INT(strlen(BLF_PIDF_STR(p, p->note_off)), p->note_len);
		free(p);
	}
	free(big);

	/* bad arguments */
	CHECK_INT(blf_pidf_parse("x", 1, NULL, NULL, err, sizeof(err)), -1);
	p = (blf_pidf_pub_t *)"junk";
	CHECK_INT(blf_pidf_parse(NULL, 5, NULL, &p, NULL, 0), -1);
	CHECK(p == NULL);
	/* no err buffer is fine */
	CHECK_INT(blf_pidf_parse("<a/>", 4, NULL, &p, NULL, 0), 1);
}

/* elements the merge must ignore or keep as they are */
static void test_lenient(void)
{
	blf_pidf_pub_t *p;
	const blf_pidf_pub_t *pubs[1];
	xmlDocPtr d;
	char *b;

	/* prefixed PIDF (RFC 3863 section 5), unknown activities, a second
	 * person (ignored), activities in another namespace (ignored), a
	 * document-level note */
	p = t_pub("<impp:presence xmlns:impp='urn:ietf:params:xml:ns:pidf' "
			  "xmlns:dm='urn:ietf:params:xml:ns:pidf:data-model' "
			  "xmlns:r='urn:ietf:params:xml:ns:pidf:rpid' "
			  "xmlns:o='urn:other' entity='pres:someone@example.com'>"
			  "<impp:tuple id='sg89ae'><impp:status><impp:basic>open"
			  "</impp:basic></impp:status><o:x a='1'/>"
			  "<impp:contact priority='0.8'>tel:+09012345678</impp:contact>"
			  "</impp:tuple><impp:note>doc note</impp:note>"
			  "<dm:person id='p1'><r:activities><r:note>n</r:note>"
			  "<r:vacation/><r:other>gone fishing</r:other><o:busy/><r:bogus/>"
			  "</r:activities></dm:person>"
			  "<dm:person id='p2'><r:activities><r:busy/></r:activities>"
			  "</dm:person></impp:presence>");
	if(p == NULL)
		return;
	CHECK_INT(p->acts, BLF_PIDF_ACT("vacation"));
	CHECK_STR(BLF_PIDF_STR(p, p->note_off), "doc note");
	pubs[0] = p;
	b = t_build(BLF_PRES_IDLE, 1, BLF_VIS_FULL, pubs, 1, &d);
	CHECK(t_attr_is(t_nth(d, 1), "id", "sg89ae"));
	CHECK(t_acts_are(d, "vacation"));
	CHECK(t_text_is(t_child(t_person(d), "note"), "doc note"));
	xmlFreeDoc(d);
	free(b);
	free(p);

	/* <basic> case and blanks are forgiven, written canonical */
	p = t_pub("<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='a:b'>"
			  "<tuple id='a'><status><basic> OPEN\n</basic></status></tuple>"
			  "</presence>");
	if(p) {
		CHECK(strstr(BLF_PIDF_STR(p, p->t[0].full_off), "<basic>open</basic>")
				!= NULL);
		pubs[0] = p;
		b = t_build(BLF_PRES_IDLE, 1, BLF_VIS_FULL, pubs, 1, &d);
		xmlFreeDoc(d);
		free(b);
		free(p);
	}

	/* the tuple note is the fallback before the document's */
	p = t_pub("<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='a:b'>"
			  "<note>doc</note><tuple id='a'><status/><note>  tuple \n"
			  "</note></tuple></presence>");
	if(p) {
		CHECK_STR(BLF_PIDF_STR(p, p->note_off), "tuple");
		CHECK(!(p->flags & BLF_PIDF_PUB_PERSON));
		free(p);
	}
}

/* --- the output bound --------------------------------------------------- */

static void test_bound(void)
{
	const char *t1[] = {
			"a:open:sip:201@a.example.com", "b:open:sip:201@b.example.com"};
	const char *t2[] = {"c:open:sip:201@c.example.com"};
	blf_pidf_pub_t *older, *newer;
	const blf_pidf_pub_t *pubs[2] = {NULL, NULL};
	blf_pidf_in_t in = {
			"sip:201@example.com", BLF_PRES_IDLE, 1, BLF_VIS_FULL, pubs, 2};
	char *out = NULL, *full = NULL;
	size_t len, flen, base;
	xmlDocPtr d;
	int rc;

	/* without notes the published tuples only add themselves */
	t_mk_notes = 0;
	older = t_mkpub(t1, 2, NULL, NULL);
	newer = t_mkpub(t2, 1, NULL, NULL);
	t_mk_notes = 1;
	pubs[0] = newer;
	pubs[1] = older;
	if(!older || !newer)
		goto out;
	rc = blf_pidf_build(&in, 65536, &full, &flen);
	CHECK_INT(rc, 0);
	in.npubs = 0;
	rc = blf_pidf_build(&in, 65536, &out, &base);
	CHECK_INT(rc, 0);
	free(out);
	in.npubs = 2;
	/* exactly the full size: all fit */
	CHECK_INT(blf_pidf_build(&in, flen, &out, &len), 0);
	CHECK(out && len == flen);
	free(out);
	/* one byte less: the oldest tuple goes */
	rc = blf_pidf_build(&in, flen - 1, &out, &len);
	CHECK_INT(rc, 1);
	CHECK(out && len <= flen - 1);
	if(out) {
		CHECK(t_valid(t_pres, out, len));
		d = t_parse(out, len);
		CHECK(t_attr_is(t_nth(d, 1), "id", "c"));
		CHECK(t_attr_is(t_nth(d, 2), "id", "a"));
		CHECK(t_is(t_nth(d, 3), "person"));
		xmlFreeDoc(d);
	}
	free(out);
	/* room for nothing published: our tuple and the person stay */
	rc = blf_pidf_build(&in, base, &out, &len);
	CHECK_INT(rc, 3);
	CHECK(out && len == base);
	free(out);
	/* not even that: -1, nothing sent */
	out = (char *)"junk";
	CHECK_INT(blf_pidf_build(&in, base - 1, &out, &len), -1);
	CHECK(out == NULL);
	/* bad arguments */
	in.entity = NULL;
	CHECK_INT(blf_pidf_build(&in, 65536, &out, &len), -1);
	in.entity = "sip:a@b";
	in.call = (blf_pres_call_t)7;
	CHECK_INT(blf_pidf_build(&in, 65536, &out, &len), -1);
	in.call = BLF_PRES_IDLE;
	in.pubs = NULL;
	CHECK_INT(blf_pidf_build(&in, 65536, &out, &len), -1);
	CHECK_INT(blf_pidf_build(NULL, 65536, &out, &len), -1);
	CHECK_STR(blf_pres_call_name((blf_pres_call_t)9), "?");
out:
	free(full);
	free(older);
	free(newer);
}

/* hostile values in the entity: cleaned, the body stays valid */
static void test_entity(void)
{
	blf_pidf_in_t in = {"sip:a\"<&>\x01 b@\xff"
						"example.com",
			BLF_PRES_IDLE, 1, BLF_VIS_FULL, NULL, 0};
	char *out;
	size_t len;

	CHECK_INT(blf_pidf_build(&in, 65536, &out, &len), 0);
	if(out) {
		CHECK(t_valid(t_pres, out, len));
		free(out);
	}
}

/* the flat block is position-independent: a byte copy builds the same */
static void test_copy(void)
{
	blf_pidf_pub_t *p = t_pub(t_pjsip_pub), *c;
	const blf_pidf_pub_t *pubs[1];
	blf_pidf_in_t in = {
			"sip:201@example.com", BLF_PRES_IDLE, 1, BLF_VIS_FULL, pubs, 1};
	char *a = NULL, *b = NULL;
	size_t la, lb;

	if(p == NULL)
		return;
	c = malloc(p->size);
	if(!CHECK(c != NULL))
		goto out;
	memcpy(c, p, p->size);
	pubs[0] = p;
	CHECK_INT(blf_pidf_build(&in, 65536, &a, &la), 0);
	memset(p, 0x5a, p->size); /* the original is gone */
	pubs[0] = c;
	CHECK_INT(blf_pidf_build(&in, 65536, &b, &lb), 0);
	CHECK(a && b && la == lb && strcmp(a, b) == 0);
out:
	free(a);
	free(b);
	free(c);
	free(p);
}

static void test_etag(void)
{
	static const unsigned char k1[16] = "0123456789abcdef",
							   k2[16] = "0123456789abcdeg";
	char a[BLF_PIDF_ETAG_LEN + 1], b[BLF_PIDF_ETAG_LEN + 1];
	char c[BLF_PIDF_ETAG_LEN + 1], d[BLF_PIDF_ETAG_LEN + 1];
	const unsigned char r1[] = "bob@x|c1@h|1|tag", r2[] = "bob@x|c1@h|2|tag";
	size_t i;
	int ok = 1, same = 0, n;

	blf_pidf_etag_of(k1, r1, sizeof(r1) - 1, a);
	blf_pidf_etag_of(k1, r1, sizeof(r1) - 1, b);
	CHECK_INT(strlen(a), BLF_PIDF_ETAG_LEN);
	for(i = 0; i < BLF_PIDF_ETAG_LEN; i++)
		if(!((a[i] >= 'a' && a[i] <= 'z') || (a[i] >= 'A' && a[i] <= 'Z')
				   || (a[i] >= '0' && a[i] <= '9')))
			ok = 0;
	CHECK(ok);
	/* the same request, the same ETag (a retransmission finds it) */
	CHECK(strcmp(a, b) == 0);
	/* the next CSeq, another; another key, another */
	blf_pidf_etag_of(k1, r2, sizeof(r2) - 1, c);
	blf_pidf_etag_of(k2, r1, sizeof(r1) - 1, d);
	CHECK(strcmp(a, c) != 0);
	CHECK(strcmp(a, d) != 0);
	/* the empty input still gives 20 characters */
	blf_pidf_etag_of(k1, r1, 0, c);
	CHECK_INT(strlen(c), BLF_PIDF_ETAG_LEN);
	/* 10,000 requests, no two alike (a collision of 119 bits: never) */
	{
		static char seen[10000][BLF_PIDF_ETAG_LEN + 1];
		char req[32];
		for(n = 0; n < 10000; n++) {
			int l = snprintf(req, sizeof(req), "bob@x|c@h|%d|t", n);
			blf_pidf_etag_of(k1, (const unsigned char *)req, (size_t)l, seen[n]);
		}
		qsort(seen, 10000, sizeof(seen[0]),
				(int (*)(const void *, const void *))strcmp);
		for(n = 1; n < 10000; n++)
			if(strcmp(seen[n - 1], seen[n]) == 0)
				same++;
		CHECK_INT(same, 0);
	}
}

static void test_acts(void)
{
	int i;

	for(i = 0; i < BLF_PIDF_NACTS; i++)
		CHECK_INT(blf_pidf_act_bit(blf_pidf_act_name(i)), i);
	CHECK(blf_pidf_act_name(-1) == NULL);
	CHECK(blf_pidf_act_name(BLF_PIDF_NACTS) == NULL);
	CHECK_INT(blf_pidf_act_bit("other"), -1);
	CHECK_INT(blf_pidf_act_bit("unknown"), -1);
	CHECK_INT(blf_pidf_act_bit(NULL), -1);
}

/* every libxml2 allocation failing in turn: -1 (or, for the parser, a
 * refusal), never a crash or a leak; then the same result as without */
/* ---- the builder as it was, through xmlTextWriter: the reference the
 * direct one must match byte for byte (blf_pidf.c's comment) ---- */
#include <libxml/xmlwriter.h>
#ifndef BLF_XC
#define BLF_XC(s) ((const xmlChar *)(s))
#endif
/* one published tuple chosen for the body */
typedef struct ref_pick
{
	const char *id;
	const char *xml;
	size_t len;
} ref_pick_t;

static int ref_id_used(const ref_pick_t *p, int n, const char *id)
{
	int i;

	for(i = 0; i < n; i++)
		if(strcmp(p[i].id, id) == 0)
			return 1;
	return 0;
}

/* base, then base-1, base-2, ... : the first no published tuple uses */
static void ref_own_id(
		const ref_pick_t *p, int n, const char *base, char *buf, size_t size)
{
	int k;

	snprintf(buf, size, "%s", base);
	for(k = 1; ref_id_used(p, n, buf); k++)
		snprintf(buf, size, "%s-%d", base, k);
}

#define REF_CHK(x)    \
	do {              \
		if((x) < 0)   \
			goto out; \
	} while(0)

/* the document with the first k picks; *out malloc()ed */
static int ref_write(const blf_pidf_in_t *in, const ref_pick_t *p, int k,
		const char *tid, const char *pid, uint32_t acts, const char *pnote,
		char **out, size_t *len)
{
	xmlBufferPtr b = xmlBufferCreate();
	xmlTextWriterPtr w = NULL;
	const char *basic, *note;
	int i, rc = -1;

	*out = NULL;
	if(b == NULL)
		return -1;
	xmlResetLastError();
	w = xmlNewTextWriterMemory(b, 0);
	if(w == NULL)
		goto out;
	if(in->call != BLF_PRES_IDLE) {
		basic = "open";
		note = in->call == BLF_PRES_RINGING ? BLF_PIDF_NOTE_RINGING
											: BLF_PIDF_NOTE_BUSY;
	} else if(in->registered) {
		basic = "open";
		note = BLF_PIDF_NOTE_READY;
	} else {
		basic = "closed";
		note = BLF_PIDF_NOTE_OFFLINE;
	}
	REF_CHK(xmlTextWriterStartDocument(w, "1.0", "UTF-8", NULL));
	REF_CHK(xmlTextWriterStartElement(w, BLF_XC("presence")));
	REF_CHK(xmlTextWriterWriteAttribute(
			w, BLF_XC("xmlns"), BLF_XC(BLF_PIDF_NS)));
	REF_CHK(xmlTextWriterWriteAttribute(
			w, BLF_XC("xmlns:dm"), BLF_XC(BLF_PIDF_NS_DM)));
	REF_CHK(xmlTextWriterWriteAttribute(
			w, BLF_XC("xmlns:rpid"), BLF_XC(BLF_PIDF_NS_RPID)));
	REF_CHK(blf_xml_write_uri(w, "entity", in->entity));

	REF_CHK(xmlTextWriterStartElement(w, BLF_XC("tuple")));
	REF_CHK(xmlTextWriterWriteAttribute(w, BLF_XC("id"), BLF_XC(tid)));
	REF_CHK(xmlTextWriterStartElement(w, BLF_XC("status")));
	REF_CHK(xmlTextWriterWriteElement(w, BLF_XC("basic"), BLF_XC(basic)));
	REF_CHK(xmlTextWriterEndElement(w)); /* status */
	REF_CHK(xmlTextWriterWriteElement(w, BLF_XC("note"), BLF_XC(note)));
	REF_CHK(xmlTextWriterEndElement(w)); /* tuple */

	for(i = 0; i < k; i++)
		REF_CHK(xmlTextWriterWriteRawLen(w, BLF_XC(p[i].xml), (int)p[i].len));

	REF_CHK(xmlTextWriterStartElement(w, BLF_XC("dm:person")));
	REF_CHK(xmlTextWriterWriteAttribute(w, BLF_XC("id"), BLF_XC(pid)));
	if(acts) {
		REF_CHK(xmlTextWriterStartElement(w, BLF_XC("rpid:activities")));
		for(i = 0; i < BLF_PIDF_NACTS; i++) {
			char name[48];
			if(!(acts & (1u << i)))
				continue;
			snprintf(name, sizeof(name), "rpid:%s", blf_pidf_act_name(i));
			REF_CHK(xmlTextWriterStartElement(w, BLF_XC(name)));
			REF_CHK(xmlTextWriterEndElement(w));
		}
		REF_CHK(xmlTextWriterEndElement(w)); /* activities */
	}
	REF_CHK(xmlTextWriterStartElement(w, BLF_XC("dm:note")));
	REF_CHK(blf_xml_write_text(w, NULL, pnote ? pnote : note));
	REF_CHK(xmlTextWriterEndElement(w));  /* dm:note */
	REF_CHK(xmlTextWriterEndElement(w));  /* dm:person */
	REF_CHK(xmlTextWriterEndDocument(w)); /* closes presence */
	rc = blf_xml_take(w, b, out, len);
	w = NULL;
out:
	if(w)
		xmlFreeTextWriter(w);
	xmlBufferFree(b);
	return rc;
}

static int ref_build(
		const blf_pidf_in_t *in, size_t max, char **out, size_t *len)
{
	ref_pick_t *p = NULL;
	const blf_pidf_pub_t *pub, *acts_pub = NULL, *note_pub = NULL;
	const char *pnote = NULL;
	char tid[32], pid[32];
	uint32_t acts = 0;
	size_t base_len, used;
	int i, j, n = 0, total = 0, k, rc = -1;

	if(out)
		*out = NULL;
	if(len)
		*len = 0;
	if(in == NULL || out == NULL || len == NULL || in->entity == NULL
			|| in->npubs < 0 || (in->npubs > 0 && in->pubs == NULL)
			|| in->call < BLF_PRES_IDLE || in->call > BLF_PRES_CONFIRMED)
		return -1;
	for(i = 0; i < in->npubs; i++) {
		if(in->pubs[i] == NULL || in->pubs[i]->ntuples < 0)
			return -1;
		total += in->pubs[i]->ntuples;
	}
	p = calloc((size_t)(total ? total : 1), sizeof(*p));
	if(p == NULL)
		return -1;
	/* newest first, one per id: an older publication's tuple with an id
	 * already taken is the stale state of the same service */
	for(i = 0; i < in->npubs; i++) {
		pub = in->pubs[i];
		if(acts_pub == NULL && (pub->flags & BLF_PIDF_PUB_PERSON))
			acts_pub = pub;
		if(note_pub == NULL && pub->note_len > 0)
			note_pub = pub;
		for(j = 0; j < pub->ntuples; j++) {
			const char *id = BLF_PIDF_STR(pub, pub->t[j].id_off);
			if(ref_id_used(p, n, id))
				continue;
			p[n].id = id;
			if(in->vis == BLF_VIS_FULL) {
				p[n].xml = BLF_PIDF_STR(pub, pub->t[j].full_off);
				p[n].len = pub->t[j].full_len;
			} else {
				p[n].xml = BLF_PIDF_STR(pub, pub->t[j].bare_off);
				p[n].len = pub->t[j].bare_len;
			}
			n++;
		}
	}
	if(in->call != BLF_PRES_IDLE)
		acts |= 1u << blf_pidf_act_bit("on-the-phone");
	if(acts_pub)
		acts |= acts_pub->acts & ((1u << BLF_PIDF_NACTS) - 1);
	if(note_pub && in->vis == BLF_VIS_FULL)
		pnote = BLF_PIDF_STR(note_pub, note_pub->note_off);
	ref_own_id(p, n, "blf", tid, sizeof(tid));
	ref_own_id(p, n, "blf-p", pid, sizeof(pid));

	/* the base document tells what room the published tuples have; the
	 * raw fragments add exactly their length */
	if(ref_write(in, p, 0, tid, pid, acts, pnote, out, &base_len) < 0)
		goto out;
	if(base_len > max) {
		free(*out);
		*out = NULL;
		goto out;
	}
	used = base_len;
	for(k = 0; k < n && used + p[k].len <= max; k++)
		used += p[k].len;
	if(k > 0) {
		free(*out);
		*out = NULL;
		if(ref_write(in, p, k, tid, pid, acts, pnote, out, len) < 0)
			goto out;
		if(*len > max) { /* cannot happen; never send over max */
			free(*out);
			*out = NULL;
			goto out;
		}
	} else {
		*len = base_len;
	}
	rc = n - k;
out:
	free(p);
	return rc;
}


/* the direct builder prints what xmlTextWriter printed, byte for byte,
 * over entities, notes and tuples that need escaping, every call state,
 * registration, visibility and room */
static void test_same_as_writer(void)
{
	static const char *const ents[] = {"sip:201@example.com",
			"sip:a&b@x.org;p=\"q\"", "sip:<x>@h", "sip:\xc3\xa9t\xc3\xa9@h",
			"sip:%zz%41@h", "sip:bad\x01\xff\xfe@h", "", "sip:tab\there@h",
			"sips:[::1]:5061", "//x:y"};
	static const char *const notes[] = {NULL, "plain",
			"q\"uote 'a' &amp; "
			"&lt;b&gt;",
			"cr&#13;lf&#10;tab&#9;",
			"\xc3\xa9\xe2\x82\xac "
			"\xf0\x9f\x98\x80"};
	static const char *const acts[] = {NULL, "<rpid:away/>",
			"<rpid:meeting/><rpid:on-the-phone/><rpid:vacation/>"};
	const char *t1[] = {"pc:open:sip:201@pc.example.com", "blf:closed:sip:a@b",
			"blf-p:open:sip:c@d"};
	const char *t2[] = {"pc:closed:sip:old@pc", "m2:open:sip:m@x"};
	blf_pidf_pub_t *pubs[6];
	const blf_pidf_pub_t *in_pubs[2];
	size_t maxes[] = {65536, 700, 500, 300, 10};
	int np = 0, i, e, nt, a, c, r, v, m, k, cases = 0, bad = 0;

	for(nt = 0; nt < (int)(sizeof(notes) / sizeof(notes[0])); nt++)
		for(a = 0; a < 3; a++)
			if(np < 6 && (nt + a) % 2 == 0)
				pubs[np++] = t_mkpub(t1, 1 + (nt + a) % 3, acts[a], notes[nt]);
	for(e = 0; e < (int)(sizeof(ents) / sizeof(ents[0])); e++)
		for(k = 0; k <= np; k++) /* k: no publication, or pubs[k-1] (+ t2) */
			for(c = BLF_PRES_IDLE; c <= BLF_PRES_CONFIRMED; c++)
				for(r = 0; r < 2; r++)
					for(v = BLF_VIS_FULL; v <= BLF_VIS_STATE; v++)
						for(m = 0; m < 5; m++) {
							blf_pidf_pub_t *older =
									k ? t_mkpub(t2, 2, NULL, notes[k % 5])
									  : NULL;
							blf_pidf_in_t in = {ents[e], c, r, v, in_pubs, 0};
							char *o1 = NULL, *o2 = NULL;
							size_t l1 = 0, l2 = 0;
							int r1, r2;
							if(k) {
								in_pubs[0] = pubs[k - 1];
								in_pubs[1] = older;
								in.npubs = older ? 2 : 1;
							}
							r1 = blf_pidf_build(&in, maxes[m], &o1, &l1);
							r2 = ref_build(&in, maxes[m], &o2, &l2);
							cases++;
							if(r1 != r2 || l1 != l2
									|| (o1 == NULL) != (o2 == NULL)
									|| (o1 && memcmp(o1, o2, l1) != 0)) {
								if(bad++ < 3)
									printf("     differs (%d/%d):\n%s\n%s\n",
											r1, r2, o1 ? o1 : "(null)",
											o2 ? o2 : "(null)");
							}
							free(o1);
							free(o2);
							free(older);
						}
	CHECK(cases > 1000);
	CHECK_INT(bad, 0);
	for(i = 0; i < np; i++)
		free(pubs[i]);
}

static void test_alloc_failures(void)
{
	blf_pidf_pub_t *ref = t_pub(t_pjsip_pub), *p, *older;
	const char *t1[] = {"pc:open:sip:201@pc.example.com"};
	const blf_pidf_pub_t *pubs[2];
	blf_pidf_in_t in = {"sip:201@example.com", BLF_PRES_CONFIRMED, 1,
			BLF_VIS_FULL, pubs, 2};
	char *rb = NULL, *b, err[256];
	size_t rl, l;
	long k;
	int rc, bad = 0, done = 0;

	older = t_mkpub(t1, 1, "<rpid:away/>", "x");
	if(ref == NULL || older == NULL)
		goto out;
	t_quiet = 1;
	for(k = 0; k < 5000 && !done; k++) {
		t_budget = k;
		t_fails = 0;
		p = (blf_pidf_pub_t *)"junk";
		rc = blf_pidf_parse(
				t_pjsip_pub, strlen(t_pjsip_pub), NULL, &p, err, sizeof(err));
		t_budget = -1;
		if(rc == 0) {
			if(p->size != ref->size || memcmp(p, ref, ref->size) != 0)
				bad++;
			free(p);
			done = t_fails == 0;
		} else if(p != NULL) {
			bad++;
		}
	}
	CHECK(done);
	CHECK_INT(bad, 0);

	pubs[0] = ref;
	pubs[1] = older;
	CHECK_INT(blf_pidf_build(&in, 65536, &rb, &rl), 0);
	done = 0;
	for(k = 0; k < 5000 && !done; k++) {
		t_budget = k;
		t_fails = 0;
		b = (char *)"junk";
		rc = blf_pidf_build(&in, 65536, &b, &l);
		t_budget = -1;
		if(rc == 0) {
			if(rb == NULL || l != rl || strcmp(b, rb) != 0) {
				printf("     budget %ld: %s\n", k, b);
				bad++;
			}
			free(b);
			done = t_fails == 0;
		} else if(rc != -1 || b != NULL) {
			printf("     budget %ld: rc %d\n", k, rc);
			bad++;
		}
	}
	t_quiet = 0;
	CHECK(done);
	CHECK_INT(bad, 0);
out:
	free(rb);
	free(ref);
	free(older);
}

int main(int argc, char **argv)
{
	const char *dir = argc > 1 ? argv[1] : BLF_TEST_SCHEMA_DIR;

	t_xml_init();
	t_pres = t_schema_load(dir, "presence.xsd");
	if(!CHECK(t_pres != NULL)) {
		printf("     cannot load %s/presence.xsd\n", dir);
		return tap_done("test_pidf");
	}
	test_table();
	test_merge();
	test_own_ids();
	test_state_vis();
	test_clients();
	test_hostile();
	test_lenient();
	test_bound();
	test_entity();
	test_copy();
	test_etag();
	test_acts();
	test_alloc_failures();
	test_same_as_writer();
	xmlSchemaFree(t_pres);
	xmlCleanupParser(); /* process exit */
	return tap_done("test_pidf");
}
