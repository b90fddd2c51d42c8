/* FUZZ-SOURCES: blf_pidf.c blf_xml.c blf_state.c blf_branch.c */
/*
 * fuzz_pidf.c — the PUBLISH body parser (blf_pidf_parse) fed any bytes,
 * then the NOTIFY builder (blf_pidf_build) fed what it accepted. The whole
 * input is the body, so the seeds in corpus/pidf/ are plain PIDF documents
 * (baresip 1.0.0, pjsip/MicroSIP, liblinphone, RFC examples).
 *
 * Checked, beyond no crash, overrun, leak, UB or hang:
 *  - parse: 0 with a block, or 1 with a one-line reason and no block;
 *  - the block: every offset and length inside it, every string
 *    NUL-terminated where its length says, at most 16 tuples with
 *    distinct non-empty ids, a note of at most 256 bytes, activity bits
 *    only among the 24 known, each serialized tuple well-formed on its
 *    own, its "bare" variant without a PIDF <contact> or any <note> at
 *    any depth;
 *  - build, for each call state and both visibilities: a well-formed
 *    <presence>, the module's tuple first, exactly one <dm:person>, last;
 *    "state" leaves no PIDF <contact> nor <note> in a published tuple; a
 *    smaller bound is obeyed
 *    (or -1).
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "fuzz.h"

#include "blf_pidf.h"

static void fz_silent(void *ctx, const char *fmt, ...)
{
	(void)ctx;
	(void)fmt;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	xmlInitParser();
	if(!getenv("FUZZ_XML_ERRORS"))
		xmlSetGenericErrorFunc(NULL, fz_silent);
	return 0;
}

static xmlDocPtr fz_parse(const char *s, size_t n)
{
	return xmlReadMemory(s, (int)n, "fz.xml", NULL,
			XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
}

static int fz_is(const xmlNode *n, const char *ns, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && n->ns
		   && strcmp((const char *)n->ns->href, ns) == 0
		   && strcmp((const char *)n->name, name) == 0;
}

/* 1 when a PIDF <contact> or a <note> of any namespace is at n, a
 * following sibling, or under them: what "state" must not pass on from
 * a published tuple */
static int fz_has_contact(const xmlNode *n)
{
	for(; n; n = n->next) {
		if(n->type != XML_ELEMENT_NODE)
			continue;
		if(fz_is(n, BLF_PIDF_NS, "contact")
				|| strcmp((const char *)n->name, "note") == 0)
			return 1;
		if(fz_has_contact(n->children))
			return 1;
	}
	return 0;
}

static void fz_str_ok(const blf_pidf_pub_t *p, uint32_t off, uint32_t len)
{
	FZ_CHECK(off < p->size && len < p->size - off);
	FZ_CHECK(BLF_PIDF_STR(p, off)[len] == '\0');
	FZ_CHECK(strlen(BLF_PIDF_STR(p, off)) == len);
}

static void fz_block(const blf_pidf_pub_t *p)
{
	int i, j;
	xmlDocPtr d;

	FZ_CHECK(p->size >= sizeof(*p));
	FZ_CHECK(p->ntuples >= 0 && p->ntuples <= BLF_PIDF_MAX_TUPLES);
	FZ_CHECK((p->acts >> BLF_PIDF_NACTS) == 0);
	fz_str_ok(p, p->entity_off, p->entity_len);
	FZ_CHECK(p->entity_len > 0);
	if(p->note_len)
		fz_str_ok(p, p->note_off, p->note_len);
	FZ_CHECK(p->note_len <= BLF_PIDF_MAX_NOTE);
	for(i = 0; i < p->ntuples; i++) {
		const blf_pidf_ptuple_t *t = &p->t[i];
		fz_str_ok(p, t->id_off, t->id_len);
		fz_str_ok(p, t->full_off, t->full_len);
		fz_str_ok(p, t->bare_off, t->bare_len);
		FZ_CHECK(t->id_len > 0 && t->id_len <= BLF_PIDF_MAX_ID);
		for(j = 0; j < i; j++)
			FZ_CHECK(strcmp(BLF_PIDF_STR(p, t->id_off),
							 BLF_PIDF_STR(p, p->t[j].id_off))
					 != 0);
		d = fz_parse(BLF_PIDF_STR(p, t->full_off), t->full_len);
		FZ_CHECK(d != NULL);
		FZ_CHECK(fz_is(xmlDocGetRootElement(d), BLF_PIDF_NS, "tuple"));
		xmlFreeDoc(d);
		d = fz_parse(BLF_PIDF_STR(p, t->bare_off), t->bare_len);
		FZ_CHECK(d != NULL);
		FZ_CHECK(!fz_has_contact(xmlDocGetRootElement(d)->children));
		xmlFreeDoc(d);
	}
}

static void fz_build(
		const blf_pidf_pub_t *p, blf_pres_call_t call, blf_vis_t vis)
{
	const blf_pidf_pub_t *pubs[2] = {p, p};
	blf_pidf_in_t in = {
			"sip:201@example.com", call, call == BLF_PRES_IDLE, vis, pubs, 2};
	char *out = NULL;
	size_t len = 0, max;
	xmlDocPtr d;
	xmlNodePtr root, c, last = NULL, first = NULL;
	int rc, persons = 0;

	rc = blf_pidf_build(&in, 1 << 20, &out, &len);
	FZ_CHECK(rc == 0 && out != NULL && strlen(out) == len);
	d = fz_parse(out, len);
	FZ_CHECK(d != NULL);
	root = xmlDocGetRootElement(d);
	FZ_CHECK(fz_is(root, BLF_PIDF_NS, "presence"));
	for(c = root->children; c; c = c->next) {
		if(c->type != XML_ELEMENT_NODE)
			continue;
		if(last == NULL) {
			first = c;
			xmlChar *id = xmlGetNoNsProp(c, (const xmlChar *)"id");
			FZ_CHECK(fz_is(c, BLF_PIDF_NS, "tuple"));
			FZ_CHECK(id && strncmp((char *)id, "blf", 3) == 0);
			xmlFree(id);
		}
		if(fz_is(c, BLF_PIDF_NS_DM, "person"))
			persons++;
		last = c;
	}
	FZ_CHECK(persons == 1 && fz_is(last, BLF_PIDF_NS_DM, "person"));
	/* the published tuples: between ours and the person */
	if(vis != BLF_VIS_FULL)
		for(c = root->children; c; c = c->next)
			if(fz_is(c, BLF_PIDF_NS, "tuple") && c != first)
				if(fz_has_contact(c->children)) {
					fprintf(stderr, "%s\n", out);
					FZ_CHECK(!"a contact or note passed state");
				}
	xmlFreeDoc(d);
	free(out);

	/* a bound half the size: obeyed or refused */
	max = len / 2;
	out = (char *)"junk";
	rc = blf_pidf_build(&in, max, &out, &len);
	if(rc < 0) {
		FZ_CHECK(rc == -1 && out == NULL);
	} else {
		FZ_CHECK(out != NULL && len <= max && strlen(out) == len);
		d = fz_parse(out, len);
		FZ_CHECK(d != NULL);
		xmlFreeDoc(d);
		free(out);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	blf_pidf_pub_t *p = (blf_pidf_pub_t *)"junk";
	char err[200];
	int rc;

	rc = blf_pidf_parse((const char *)data, size, NULL, &p, err, sizeof(err));
	if(rc != 0) {
		FZ_CHECK(rc == 1 && p == NULL);
		FZ_CHECK(err[0] != '\0' && strchr(err, '\n') == NULL);
		return 0;
	}
	FZ_CHECK(p != NULL);
	fz_block(p);
	fz_build(p, BLF_PRES_IDLE, BLF_VIS_FULL);
	fz_build(p, BLF_PRES_RINGING, BLF_VIS_STATE);
	fz_build(p, BLF_PRES_CONFIRMED, BLF_VIS_FULL);
	free(p);
	return 0;
}
