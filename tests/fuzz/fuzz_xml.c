/* FUZZ-SOURCES: blf_xml.c blf_state.c */
/*
 * fuzz_xml.c — the dialog-info builders (blf_xml.c) fed the hostile strings
 * any UA can put in its From, To, Contact, Call-ID and tags: control
 * characters, broken UTF-8, quotes, markup, "]]>", very long values.
 *
 * The input is cut into: the number of dialogs (0..4) and the visibility
 * (including an unknown one), per dialog its direction and state (including
 * values out of range) and ten strings (NUL separated; a string starting
 * with 0x01 stands for NULL), then the entity URI, the size of the escape
 * buffer, the size of the head buffer and the version.
 *
 * Checked, beyond no crash, overrun (buffers of exactly the given size),
 * leak or UB:
 *  - blf_xml_escape_attr: -1 only when the buffer is too small; otherwise a
 *    NUL-terminated string of the returned length that, put in an
 *    attribute, parses back to the input (to the input with each byte XML
 *    forbids replaced by '?');
 *  - blf_xml_head: -1 only when the buffer is too small;
 *  - blf_xml_dialogs: fails exactly on invalid dialogs; head + fragment +
 *    tail parses with libxml2, has one <dialog> per dialog with the id
 *    given, is valid against RFC 4235's schema (tests/schema) when the
 *    URIs given are valid xs:anyURI values, and under
 *    "state" (or an unknown visibility) carries no call-id, tag, <remote>
 *    nor <target>.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlschemas.h>
#include <libxml/xmlschemastypes.h>

#include "fuzz.h"

#include "blf_xml.h"

#define FZ_MAXD 4
#define FZ_NSTR 10

static xmlSchemaPtr fz_schema;
static int fz_quiet_errors = 1;

static void fz_xml_silent(void *ctx, const char *fmt, ...)
{
	(void)ctx;
	(void)fmt;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	xmlSchemaParserCtxtPtr pc;

	(void)argc;
	(void)argv;
	xmlInitParser();
	if(getenv("FUZZ_XML_ERRORS"))
		fz_quiet_errors = 0;
	pc = xmlSchemaNewParserCtxt(BLF_FUZZ_SCHEMA);
	FZ_CHECK(pc != NULL);
	fz_schema = xmlSchemaParse(pc);
	xmlSchemaFreeParserCtxt(pc);
	FZ_CHECK(fz_schema != NULL);
	if(fz_quiet_errors)
		xmlSetGenericErrorFunc(NULL, fz_xml_silent);
	return 0;
}

/*
 * Length of the valid XML 1.0 character at s (n bytes left), 0 when none:
 * written apart from blf_xml.c's so that the two can disagree.
 */
static size_t fz_xml_char(const unsigned char *s, size_t n)
{
	unsigned int c, need, i;

	if(s[0] < 0x80)
		return (s[0] >= 0x20 || s[0] == 9 || s[0] == 10 || s[0] == 13) ? 1
																	   : 0;
	if((s[0] & 0xe0) == 0xc0) {
		need = 2;
		c = s[0] & 0x1f;
	} else if((s[0] & 0xf0) == 0xe0) {
		need = 3;
		c = s[0] & 0x0f;
	} else if((s[0] & 0xf8) == 0xf0) {
		need = 4;
		c = s[0] & 0x07;
	} else {
		return 0;
	}
	if(n < need)
		return 0;
	for(i = 1; i < need; i++) {
		if((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if((need == 2 && c < 0x80) || (need == 3 && c < 0x800)
			|| (need == 4 && c < 0x10000))
		return 0;
	if(c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff) || c == 0xfffe
			|| c == 0xffff)
		return 0;
	return need;
}

/* s with every byte XML forbids replaced by '?' (malloc()ed) */
static char *fz_cleaned(const char *s, size_t n)
{
	char *o = malloc(n + 1);
	size_t i = 0, l;

	FZ_CHECK(o != NULL);
	while(i < n) {
		l = fz_xml_char((const unsigned char *)s + i, n - i);
		if(l == 0) {
			o[i++] = '?';
			continue;
		}
		memcpy(o + i, s + i, l);
		i += l;
	}
	o[n] = '\0';
	return o;
}

static xmlDocPtr fz_parse(const char *doc, size_t len)
{
	xmlDocPtr x = xmlReadMemory(doc, (int)len, "fuzz.xml", NULL,
			XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);

	if(x == NULL) {
		xmlErrorPtr e = xmlGetLastError();
		fprintf(stderr, "not well-formed (%s): %.*s\n",
				e && e->message ? e->message : "?", (int)len, doc);
	}
	return x;
}

static void fz_escape(const char *s, size_t slen, size_t size)
{
	char *buf = malloc(size ? size : 1), *big, *doc, *want;
	size_t bsize = 6 * slen + 1, dlen;
	int rc, brc;
	xmlDocPtr x;
	xmlChar *val;

	FZ_CHECK(buf != NULL);
	rc = blf_xml_escape_attr(s, slen, buf, size);
	big = malloc(bsize);
	FZ_CHECK(big != NULL);
	brc = blf_xml_escape_attr(s, slen, big, bsize);
	/* no character needs more than six bytes ("&quot;") */
	FZ_CHECK(brc >= 0 && (size_t)brc < bsize);
	FZ_CHECK(strlen(big) == (size_t)brc);
	if(size == 0)
		FZ_CHECK(rc == -1);
	else if(rc < 0)
		FZ_CHECK((size_t)brc + 1 > size);
	else
		FZ_CHECK(rc == brc && memcmp(buf, big, (size_t)rc + 1) == 0);
	FZ_CHECK(strpbrk(big, "<>\"'\t\r\n") == NULL);

	/* it parses back, inside an attribute, to the cleaned input */
	dlen = (size_t)brc + 16;
	doc = malloc(dlen);
	FZ_CHECK(doc != NULL);
	dlen = (size_t)snprintf(doc, dlen, "<a x=\"%s\"/>", big);
	x = fz_parse(doc, dlen);
	FZ_CHECK(x != NULL);
	val = xmlGetProp(xmlDocGetRootElement(x), (const xmlChar *)"x");
	FZ_CHECK(val != NULL);
	want = fz_cleaned(s, slen);
	if(strcmp((char *)val, want) != 0) {
		fprintf(stderr, "escaped %s\nparsed  %s\nwanted  %s\n", big,
				(char *)val, want);
		FZ_CHECK(!"attribute does not parse back to its value");
	}
	free(want);
	xmlFree(val);
	xmlFreeDoc(x);
	free(doc);
	free(big);
	free(buf);
}

/*
 * 1 when s, cleaned as the builders clean it, is an xs:anyURI for libxml2.
 * The schema types entity, <identity> and <target uri> as anyURI; what a
 * SIP URI from Kamailio's parser may hold there is the SIP code's business
 * (see the report of issue #9): here the body is checked against the schema
 * when the URIs given are valid ones, so any failure is the builders'.
 */
static int fz_any_uri(const char *s)
{
	char *c;
	int ok;

	if(s == NULL || s[0] == '\0')
		return 1; /* left out */
	c = fz_cleaned(s, strlen(s));
	ok = xmlSchemaValidatePredefinedType(
				 xmlSchemaGetBuiltInType(XML_SCHEMAS_ANYURI),
				 (const xmlChar *)c, NULL)
		 == 0;
	free(c);
	return ok;
}

/* the entity comes escaped by the caller (blf_uri_pct_encode); the
 * dialogs' identities and targets the builder makes anyURI itself, so
 * their bodies must validate whatever they hold */
static int fz_uris_ok(const blf_xml_dialog_t *d, int n, const char *entity)
{
	(void)d;
	(void)n;
	return fz_any_uri(entity);
}

/* elements and attributes that only "full" visibility may carry */
static void fz_no_detail(xmlNodePtr n)
{
	for(; n; n = n->next) {
		if(n->type != XML_ELEMENT_NODE)
			continue;
		FZ_CHECK(strcmp((const char *)n->name, "remote") != 0);
		FZ_CHECK(strcmp((const char *)n->name, "target") != 0);
		if(strcmp((const char *)n->name, "dialog") == 0) {
			FZ_CHECK(!xmlHasProp(n, (const xmlChar *)"call-id"));
			FZ_CHECK(!xmlHasProp(n, (const xmlChar *)"local-tag"));
			FZ_CHECK(!xmlHasProp(n, (const xmlChar *)"remote-tag"));
		}
		fz_no_detail(n->children);
	}
}

static void fz_document(const blf_xml_dialog_t *d, int n, blf_vis_t vis,
		const char *frag, size_t flen, const char *entity, size_t elen,
		unsigned int version)
{
	size_t esize = 6 * elen + 1, hsize, dsize;
	char *esc = malloc(esize), *head, *doc;
	int elen_esc, hlen, i, k;
	xmlDocPtr x;
	xmlNodePtr root, c;
	xmlSchemaValidCtxtPtr vc;
	xmlChar *id;
	char *want;

	FZ_CHECK(esc != NULL);
	elen_esc = blf_xml_escape_attr(entity, elen, esc, esize);
	FZ_CHECK(elen_esc >= 0);
	hsize = (size_t)elen_esc + 256;
	head = malloc(hsize);
	FZ_CHECK(head != NULL);
	hlen = blf_xml_head(head, hsize, version, esc, (size_t)elen_esc);
	FZ_CHECK(hlen > 0 && (size_t)hlen < hsize);
	dsize = (size_t)hlen + flen + BLF_XML_TAIL_LEN;
	doc = malloc(dsize);
	FZ_CHECK(doc != NULL);
	memcpy(doc, head, (size_t)hlen);
	memcpy(doc + hlen, frag, flen);
	memcpy(doc + hlen + flen, BLF_XML_TAIL, BLF_XML_TAIL_LEN);

	x = fz_parse(doc, dsize);
	FZ_CHECK(x != NULL);
	root = xmlDocGetRootElement(x);
	FZ_CHECK(root && strcmp((const char *)root->name, "dialog-info") == 0);
	for(k = 0, c = root->children; c; c = c->next) {
		if(c->type != XML_ELEMENT_NODE)
			continue;
		FZ_CHECK(strcmp((const char *)c->name, "dialog") == 0);
		FZ_CHECK(k < n);
		id = xmlGetProp(c, (const xmlChar *)"id");
		FZ_CHECK(id != NULL);
		want = fz_cleaned(d[k].id, strlen(d[k].id));
		FZ_CHECK(strcmp((char *)id, want) == 0);
		free(want);
		xmlFree(id);
		k++;
	}
	FZ_CHECK(k == n);
	if(vis != BLF_VIS_FULL)
		fz_no_detail(root->children);
	if(!fz_uris_ok(d, n, entity))
		goto out;
	vc = xmlSchemaNewValidCtxt(fz_schema);
	FZ_CHECK(vc != NULL);
	if(fz_quiet_errors)
		xmlSchemaSetValidErrors(vc, fz_xml_silent, fz_xml_silent, NULL);
	i = xmlSchemaValidateDoc(vc, x);
	if(i != 0) {
		xmlErrorPtr e = xmlGetLastError();
		fprintf(stderr, "schema-invalid (%s):\n%.*s\n",
				e && e->message ? e->message : "?", (int)dsize, doc);
		FZ_CHECK(!"body not valid against RFC 4235's schema");
	}
	xmlSchemaFreeValidCtxt(vc);
out:
	xmlFreeDoc(x);
	free(doc);
	free(head);
	free(esc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_in_t in = {data, size};
	blf_xml_dialog_t d[FZ_MAXD];
	char *strs[FZ_MAXD * FZ_NSTR], *entity, *frag = NULL, *hbuf, *big;
	const char **slot;
	size_t elen, flen = 12345, hsize, esize;
	unsigned int b, version;
	int n, i, k, ok = 1, rc, brc;
	blf_vis_t vis, pv;

	b = fz_u8(&in);
	n = (int)(b % (FZ_MAXD + 1));
	vis = (blf_vis_t)((b >> 3) % 4); /* 3: unknown */
	memset(d, 0, sizeof(d));
	for(i = 0; i < n; i++) {
		b = fz_u8(&in);
		d[i].direction = (blf_dir_t)(b % 3); /* 2: unknown */
		d[i].st.state = (blf_state_t)((b >> 2) % 6); /* 5: unknown */
		d[i].st.term = (blf_term_t)((b >> 5) % 8);
		d[i].st.code = (int)(fz_u16(&in) % 1000) - 100;
		if(d[i].direction > BLF_DIR_RECIPIENT
				|| d[i].st.state > BLF_STATE_TERMINATED)
			ok = 0;
	}
	for(i = 0; i < n * FZ_NSTR; i++) {
		strs[i] = fz_str(&in, NULL);
		slot = (const char **[]){&d[i / FZ_NSTR].id, &d[i / FZ_NSTR].call_id,
				&d[i / FZ_NSTR].local_tag, &d[i / FZ_NSTR].remote_tag,
				&d[i / FZ_NSTR].local.identity, &d[i / FZ_NSTR].local.display,
				&d[i / FZ_NSTR].local.target, &d[i / FZ_NSTR].remote.identity,
				&d[i / FZ_NSTR].remote.display,
				&d[i / FZ_NSTR].remote.target}[i % FZ_NSTR];
		*slot = (strs[i][0] == 1) ? NULL : strs[i];
	}
	for(i = 0; i < n; i++)
		if(d[i].id == NULL || d[i].id[0] == '\0')
			ok = 0;
	entity = fz_str(&in, &elen);
	esize = fz_u16(&in) % 2048;
	hsize = fz_u16(&in) % 2048;
	version = (unsigned int)fz_u64(&in);

	/* names of whatever value */
	FZ_CHECK(blf_dir_name(d[0].direction) != NULL);
	FZ_CHECK(blf_vis_name(vis) != NULL);
	if(blf_vis_parse(entity, elen, &pv) == 0)
		FZ_CHECK(strcasecmp(blf_vis_name(pv), entity) == 0);

	fz_escape(entity, elen, esize);

	/* the head with a buffer of the size asked for */
	hbuf = malloc(hsize ? hsize : 1);
	FZ_CHECK(hbuf != NULL);
	rc = blf_xml_head(hbuf, hsize, version, entity, elen);
	big = malloc(elen + 256); /* the fixed text is under 150 bytes */
	FZ_CHECK(big != NULL);
	brc = blf_xml_head(big, elen + 256, version, entity, elen);
	FZ_CHECK(brc > 0 && strlen(big) == (size_t)brc);
	if(rc >= 0)
		FZ_CHECK(rc == brc && strcmp(hbuf, big) == 0);
	else
		FZ_CHECK((size_t)brc >= hsize); /* -1 only when too small */
	free(big);
	free(hbuf);

	rc = blf_xml_dialogs(d, n, vis, &frag, &flen);
	if(!ok) {
		FZ_CHECK(rc == -1 && frag == NULL && flen == 0);
	} else {
		FZ_CHECK(rc == 0 && frag != NULL && strlen(frag) == flen);
		fz_document(d, n, vis, frag, flen, entity, elen, version);
	}
	free(frag);
	free(entity);
	for(k = 0; k < n * FZ_NSTR; k++)
		free(strs[k]);
	return 0;
}
