/*
 * blf_pidf.c — presence documents, pure (libxml2 only): parsing a PUBLISH
 * body into a flat publication block, and building the NOTIFY body from
 * the first-party state merged with the live publications (blf_pidf.h
 * says what each produces and why the output looks as it does).
 *
 * A PUBLISH body comes from any UA: it is read with no DTD at all (a
 * DOCTYPE stops the parser at once, so no entity is ever declared, expanded
 * or fetched), no network, bounded in size, depth and tuple count before
 * anything is kept. What is kept is re-serialized by libxml2, so the
 * fragments pasted into NOTIFY bodies are well-formed by construction.
 * (libxml2 2.9.14 itself refuses a "billion laughs" body, with or without
 * XML_PARSE_NOENT, as "Detected an entity reference loop"; refusing every
 * DOCTYPE first does not depend on that guard nor on its limits.)
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlsave.h>
#include <libxml/xmlwriter.h>

#include "blf_pidf.h"
#include "blf_branch.h"

#define BLF_XC(s) ((const xmlChar *)(s))

/* RFC 4480 section 4, the activities typed "empty" (schema order) */
static const char *const blf_pidf_acts[BLF_PIDF_NACTS] = {"appointment", "away",
		"breakfast", "busy", "dinner", "holiday", "in-transit",
		"looking-for-work", "meal", "meeting", "on-the-phone", "performance",
		"permanent-absence", "playing", "presentation", "shopping", "sleeping",
		"spectator", "steering", "travel", "tv", "vacation", "working",
		"worship"};

const char *blf_pidf_act_name(int i)
{
	return (i >= 0 && i < BLF_PIDF_NACTS) ? blf_pidf_acts[i] : NULL;
}

int blf_pidf_act_bit(const char *name)
{
	int i;

	if(name == NULL)
		return -1;
	for(i = 0; i < BLF_PIDF_NACTS; i++)
		if(strcmp(blf_pidf_acts[i], name) == 0)
			return i;
	return -1;
}

const char *blf_pres_call_name(blf_pres_call_t c)
{
	switch(c) {
		case BLF_PRES_IDLE:
			return "idle";
		case BLF_PRES_RINGING:
			return "ringing";
		case BLF_PRES_CONFIRMED:
			return "confirmed";
	}
	return "?";
}

/* === parsing ============================================================ */

/* what the walk over one document collects before the block is built */
typedef struct blf_pidf_tmp
{
	int n;
	struct
	{
		xmlChar *id;
		xmlChar *full;
		xmlChar *bare;
		size_t full_len, bare_len;
	} t[1]; /* n of them, allocated with the struct */
} blf_pidf_tmp_t;

static void blf_pidf_err(char *err, size_t size, const char *fmt, ...)
{
	va_list ap;

	if(err == NULL || size == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, size, fmt, ap);
	va_end(ap);
}

/* SAX internalSubset: any <!DOCTYPE ...> ends the parse (see header) */
static void blf_pidf_no_dtd(void *ctx, const xmlChar *name,
		const xmlChar *ext_id, const xmlChar *sys_id)
{
	xmlParserCtxtPtr c = ctx;

	(void)name;
	(void)ext_id;
	(void)sys_id;
	c->_private = (void *)1;
	xmlStopParser(c);
}

static int blf_pidf_in_ns(const xmlNode *n, const char *ns, const char *name)
{
	return n != NULL && n->type == XML_ELEMENT_NODE && n->ns != NULL
		   && n->ns->href != NULL && strcmp((const char *)n->ns->href, ns) == 0
		   && strcmp((const char *)n->name, name) == 0;
}

/*
 * RFC 3863 allows only "open" and "closed" in <basic>; surrounding blanks
 * and case are forgiven (rewritten canonical, since the tuple is pasted
 * into NOTIFYs that must stay valid), anything else refused. 0 ok (or no
 * <basic>), 1 refused, -1 no memory.
 */
static int blf_pidf_basic(xmlNodePtr status)
{
	xmlNodePtr b;
	xmlChar *v;
	const char *canon = NULL;
	size_t i, e;

	for(b = status->children; b != NULL; b = b->next)
		if(blf_pidf_in_ns(b, BLF_PIDF_NS, "basic"))
			break;
	if(b == NULL)
		return 0;
	v = xmlNodeGetContent(b);
	if(v == NULL)
		return -1;
	for(i = 0; v[i] && strchr(" \t\r\n", v[i]); i++)
		;
	for(e = strlen((char *)v); e > i && strchr(" \t\r\n", v[e - 1]); e--)
		;
	if(e - i == 4 && strncasecmp((char *)v + i, "open", 4) == 0)
		canon = "open";
	else if(e - i == 6 && strncasecmp((char *)v + i, "closed", 6) == 0)
		canon = "closed";
	xmlFree(v);
	if(canon == NULL)
		return 1;
	xmlNodeSetContent(b, BLF_XC(canon));
	return blf_xml_oom() ? -1 : 0;
}

/* the deepest element level under n (n itself at depth d), stopping as soon
 * as max is passed so a hostile nesting costs no more than max levels */
static int blf_pidf_depth(const xmlNode *n, int d, int max)
{
	const xmlNode *c;
	int m = d, k;

	if(d > max)
		return d;
	for(c = n->children; c != NULL; c = c->next) {
		if(c->type != XML_ELEMENT_NODE)
			continue;
		k = blf_pidf_depth(c, d + 1, max);
		if(k > m)
			m = k;
		if(m > max)
			break;
	}
	return m;
}

/* XML NCName, ASCII subset (what xs:ID needs; ids are machine-made) */
static int blf_pidf_ncname(const char *s, size_t max)
{
	size_t i, n = strlen(s);

	if(n == 0 || n > max)
		return 0;
	if(!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z')
			   || s[0] == '_'))
		return 0;
	for(i = 1; i < n; i++) {
		char c = s[i];
		if(!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
				   || (c >= '0' && c <= '9') || c == '_' || c == '-'
				   || c == '.'))
			return 0;
	}
	return 1;
}

/* the text of element n, trimmed and cut to max bytes at a UTF-8
 * character boundary (libxml2 gives valid UTF-8); NULL when empty */
static xmlChar *blf_pidf_note(const xmlNode *n, size_t max)
{
	xmlChar *s = xmlNodeGetContent(n);
	size_t b, e;

	if(s == NULL)
		return NULL;
	e = strlen((char *)s);
	for(b = 0; b < e && strchr(" \t\r\n", s[b]); b++)
		;
	while(e > b && strchr(" \t\r\n", s[e - 1]))
		e--;
	if(e - b > max) {
		e = b + max;
		while(e > b && (s[e] & 0xc0) == 0x80)
			e--; /* s[e] continues a character: cut before it */
	}
	if(e == b) {
		xmlFree(s);
		return NULL;
	}
	memmove(s, s + b, e - b);
	s[e - b] = '\0';
	return s;
}

/* drops the text nodes that are only blanks (the indentation of the
 * sender), so pasted tuples do not carry it into every NOTIFY */
static void blf_pidf_strip_blanks(xmlNodePtr n)
{
	xmlNodePtr c, next;

	for(c = n->children; c != NULL; c = next) {
		next = c->next;
		if(c->type == XML_TEXT_NODE && xmlIsBlankNode(c)) {
			xmlUnlinkNode(c);
			xmlFreeNode(c);
		} else if(c->type == XML_ELEMENT_NODE) {
			blf_pidf_strip_blanks(c);
		}
	}
}

/* the rank of a <tuple> child in RFC 3863's sequence (status, other
 * namespaces, contact, note*, timestamp); -1: dropped (an unknown PIDF
 * element, which the schema does not allow, or, bare, contact and note) */
static int blf_pidf_rank(const xmlNode *c, int bare)
{
	if(c->type != XML_ELEMENT_NODE)
		return -1;
	if(c->ns == NULL || strcmp((const char *)c->ns->href, BLF_PIDF_NS) != 0)
		return 1;
	if(strcmp((const char *)c->name, "status") == 0)
		return 0;
	if(strcmp((const char *)c->name, "contact") == 0)
		return bare ? -1 : 2;
	if(strcmp((const char *)c->name, "note") == 0)
		return bare ? -1 : 3;
	if(strcmp((const char *)c->name, "timestamp") == 0)
		return 4;
	return -1;
}

/* bare: drops, at any depth under n, every PIDF <contact> and every <note>
 * of any namespace (free text), so an address or a note nested in an
 * extension element does not pass either */
static void blf_pidf_drop_deep(xmlNodePtr n)
{
	xmlNodePtr c, next;

	for(c = n->children; c != NULL; c = next) {
		next = c->next;
		if(c->type != XML_ELEMENT_NODE)
			continue;
		if(blf_pidf_in_ns(c, BLF_PIDF_NS, "contact")
				|| strcmp((const char *)c->name, "note") == 0) {
			xmlUnlinkNode(c);
			xmlFreeNode(c);
		} else {
			blf_pidf_drop_deep(c);
		}
	}
}

/*
 * Puts the tuple's children in the schema's order (clients differ:
 * pjsip writes <timestamp> before <note>, liblinphone a second one) and
 * <basic> first in <status>, so a pasted tuple does not make the whole
 * NOTIFY invalid; one <status>, <contact> and <timestamp> are kept.
 */
static void blf_pidf_order(xmlNodePtr t, int bare)
{
	xmlNodePtr c, next, basic = NULL, sorted = NULL, last = NULL;
	int r, seen[5] = {0, 0, 0, 0, 0};

	for(r = 0; r < 5; r++) {
		for(c = t->children; c != NULL; c = next) {
			next = c->next;
			if(blf_pidf_rank(c, bare) != r)
				continue;
			xmlUnlinkNode(c);
			if(seen[r] && r != 1 && r != 3) {
				xmlFreeNode(c); /* a second status/contact/timestamp */
				continue;
			}
			seen[r] = 1;
			c->prev = last;
			c->next = NULL;
			if(last)
				last->next = c;
			else
				sorted = c;
			last = c;
		}
	}
	for(c = t->children; c != NULL; c = next) { /* what is left: dropped */
		next = c->next;
		xmlUnlinkNode(c);
		xmlFreeNode(c);
	}

	for(c = sorted; c != NULL; c = next) {
		next = c->next;
		c->prev = c->next = NULL;
		xmlAddChild(t, c);
	}
	if(bare)
		blf_pidf_drop_deep(t);
	/* <status>: <basic> first */
	for(c = t->children; c != NULL; c = c->next)
		if(blf_pidf_in_ns(c, BLF_PIDF_NS, "status"))
			break;
	if(c == NULL || c->children == NULL)
		return;
	for(basic = c->children; basic != NULL; basic = basic->next)
		if(blf_pidf_in_ns(basic, BLF_PIDF_NS, "basic"))
			break;
	if(basic != NULL && basic != c->children) {
		xmlUnlinkNode(basic);
		xmlAddPrevSibling(c->children, basic);
	}
}

/*
 * Declares on the tuple every namespace in scope there, so its
 * serialization can be pasted anywhere. Done in place on the parsed
 * document (it is thrown away after): libxml2 2.9's xmlDocCopyNode leaks
 * the partial copy when an allocation fails. -1 on no memory.
 */
static int blf_pidf_own_ns(xmlDocPtr doc, xmlNodePtr t)
{
	xmlNsPtr *all = xmlGetNsList(doc, t), d;
	int i, rc = 0;

	if(all == NULL)
		return -1; /* never empty: the root is in the PIDF namespace */
	for(i = 0; all[i] != NULL && rc == 0; i++) {
		for(d = t->nsDef; d != NULL; d = d->next)
			if(xmlStrEqual(d->prefix, all[i]->prefix))
				break;
		if(d == NULL && xmlNewNs(t, all[i]->href, all[i]->prefix) == NULL)
			rc = -1;
	}
	xmlFree(all);
	return rc;
}

/*
 * Serializes a tuple (namespaces declared on it by blf_pidf_own_ns) with
 * xmlSave, not xmlNodeDump: libxml2 2.9's xmlNodeDump frees its buffer
 * twice when an allocation fails inside it.
 */
static xmlChar *blf_pidf_dump(xmlNodePtr t, size_t *len)
{
	xmlBufferPtr b = xmlBufferCreate();
	xmlSaveCtxtPtr sc;
	xmlChar *s = NULL;
	int rc;

	if(b == NULL)
		return NULL;
	xmlResetLastError();
	sc = xmlSaveToBuffer(b, "UTF-8", XML_SAVE_NO_DECL);
	if(sc == NULL)
		goto out;
	rc = xmlSaveTree(sc, t) < 0;
	if(xmlSaveClose(sc) < 0 || rc || blf_xml_oom())
		goto out;
	*len = (size_t)xmlBufferLength(b);
	while(*len > 0 && xmlBufferContent(b)[*len - 1] == '\n')
		(*len)--;
	s = xmlStrndup(xmlBufferContent(b), (int)*len);
out:
	xmlBufferFree(b);
	return s;
}

static void blf_pidf_tmp_free(blf_pidf_tmp_t *t)
{
	int i;

	if(t == NULL)
		return;
	for(i = 0; i < t->n; i++) {
		xmlFree(t->t[i].id);
		xmlFree(t->t[i].full);
		xmlFree(t->t[i].bare);
	}
	free(t);
}

/* appends s (n bytes + NUL) to the block at *pos; returns its offset */
static uint32_t blf_pidf_put(char *blk, size_t *pos, const void *s, size_t n)
{
	uint32_t off = (uint32_t)*pos;

	memcpy(blk + *pos, s, n);
	blk[*pos + n] = '\0';
	*pos += n + 1;
	return off;
}

/* the walk over a parsed document: 0, 1 (unacceptable, err set), -1 */
static int blf_pidf_walk(xmlDocPtr doc, const blf_pidf_limits_t *lim,
		blf_pidf_pub_t **out, char *err, size_t errsize)
{
	xmlNodePtr root = xmlDocGetRootElement(doc), c, a;
	blf_pidf_tmp_t *tmp = NULL;
	xmlChar *entity = NULL, *pnote = NULL, *tnote = NULL, *dnote = NULL;
	xmlChar *note, *id;
	blf_pidf_pub_t *pub;
	uint32_t acts = 0;
	size_t total, pos, elen, nlen;
	int rc = 1, n = 0, i, bit, has_person = 0, depth;

	if(root == NULL || !blf_pidf_in_ns(root, BLF_PIDF_NS, "presence")) {
		blf_pidf_err(err, errsize, "root element is not <presence> in %s",
				BLF_PIDF_NS);
		return 1;
	}
	entity = xmlGetNoNsProp(root, BLF_XC("entity"));
	if(entity == NULL || entity[0] == '\0') {
		blf_pidf_err(err, errsize, "<presence> has no entity attribute");
		goto out;
	}
	depth = blf_pidf_depth(root, 1, lim->max_depth);
	if(depth > lim->max_depth) {
		blf_pidf_err(
				err, errsize, "elements nested deeper than %d", lim->max_depth);
		goto out;
	}
	for(c = root->children; c != NULL; c = c->next)
		if(blf_pidf_in_ns(c, BLF_PIDF_NS, "tuple"))
			n++;
	if(n > lim->max_tuples) {
		blf_pidf_err(err, errsize, "%d tuples, at most %d allowed", n,
				lim->max_tuples);
		goto out;
	}
	tmp = calloc(1, sizeof(*tmp) + (size_t)(n ? n : 1) * sizeof(tmp->t[0]));
	if(tmp == NULL) {
		rc = -1;
		goto out;
	}
	for(c = root->children; c != NULL; c = c->next) {
		if(blf_pidf_in_ns(c, BLF_PIDF_NS, "note")) {
			if(dnote == NULL)
				dnote = blf_pidf_note(c, lim->max_note);
			continue;
		}
		if(blf_pidf_in_ns(c, BLF_PIDF_NS_DM, "person")) {
			if(has_person)
				continue; /* the first person speaks */
			has_person = 1;
			for(a = c->children; a != NULL; a = a->next) {
				if(blf_pidf_in_ns(a, BLF_PIDF_NS_DM, "note")) {
					if(pnote == NULL)
						pnote = blf_pidf_note(a, lim->max_note);
				} else if(blf_pidf_in_ns(a, BLF_PIDF_NS_RPID, "activities")) {
					xmlNodePtr k;
					for(k = a->children; k != NULL; k = k->next) {
						if(k->type != XML_ELEMENT_NODE || k->ns == NULL
								|| strcmp((const char *)k->ns->href,
										BLF_PIDF_NS_RPID))
							continue;
						bit = blf_pidf_act_bit((const char *)k->name);
						if(bit >= 0)
							acts |= 1u << bit;
					}
				}
			}
			continue;
		}
		if(!blf_pidf_in_ns(c, BLF_PIDF_NS, "tuple"))
			continue;
		id = xmlGetNoNsProp(c, BLF_XC("id"));
		if(id == NULL || !blf_pidf_ncname((const char *)id, lim->max_id)) {
			blf_pidf_err(err, errsize,
					"<tuple> without a valid id (an XML name of at most %zu "
					"bytes)",
					lim->max_id);
			xmlFree(id);
			goto out;
		}
		for(i = 0; i < tmp->n; i++)
			if(xmlStrEqual(tmp->t[i].id, id))
				break;
		if(i < tmp->n) {
			blf_pidf_err(err, errsize, "two tuples with the id \"%s\"", id);
			xmlFree(id);
			goto out;
		}
		tmp->t[tmp->n++].id = id;
		for(a = c->children; a != NULL; a = a->next)
			if(blf_pidf_in_ns(a, BLF_PIDF_NS, "status"))
				break;
		if(a == NULL) {
			blf_pidf_err(err, errsize, "<tuple id=\"%s\"> has no <status>", id);
			goto out;
		}
		rc = blf_pidf_basic(a);
		if(rc != 0) {
			if(rc > 0)
				blf_pidf_err(err, errsize,
						"<tuple id=\"%s\">: <basic> is neither open nor "
						"closed",
						id);
			goto out;
		}
		rc = 1;
		if(tnote == NULL)
			for(a = c->children; a != NULL && tnote == NULL; a = a->next)
				if(blf_pidf_in_ns(a, BLF_PIDF_NS, "note"))
					tnote = blf_pidf_note(a, lim->max_note);
		/* in place: the document is freed after the walk */
		i = tmp->n - 1;
		if(blf_pidf_own_ns(doc, c) < 0) {
			rc = -1;
			goto out;
		}
		blf_pidf_strip_blanks(c);
		blf_pidf_order(c, 0);
		tmp->t[i].full = blf_pidf_dump(c, &tmp->t[i].full_len);
		blf_pidf_order(c, 1);
		tmp->t[i].bare = blf_pidf_dump(c, &tmp->t[i].bare_len);
		if(tmp->t[i].full == NULL || tmp->t[i].bare == NULL) {
			rc = -1;
			goto out;
		}
	}

	/* one block: header, tuple offsets, strings */
	note = pnote ? pnote : tnote ? tnote : dnote;
	elen = strlen((const char *)entity);
	nlen = note ? strlen((const char *)note) : 0;
	total = sizeof(*pub) + (size_t)tmp->n * sizeof(pub->t[0]) + elen + 1
			+ (note ? nlen + 1 : 0);
	for(i = 0; i < tmp->n; i++)
		total += strlen((const char *)tmp->t[i].id) + 1 + tmp->t[i].full_len + 1
				 + tmp->t[i].bare_len + 1;
	if(total > UINT32_MAX) {
		blf_pidf_err(err, errsize, "document too large");
		goto out;
	}
	pub = calloc(1, total);
	if(pub == NULL) {
		rc = -1;
		goto out;
	}
	pos = sizeof(*pub) + (size_t)tmp->n * sizeof(pub->t[0]);
	pub->size = (uint32_t)total;
	pub->acts = acts;
	pub->flags = has_person ? BLF_PIDF_PUB_PERSON : 0;
	pub->ntuples = tmp->n;
	pub->entity_len = (uint32_t)elen;
	pub->entity_off = blf_pidf_put((char *)pub, &pos, entity, elen);
	if(note) {
		pub->note_len = (uint32_t)nlen;
		pub->note_off = blf_pidf_put((char *)pub, &pos, note, nlen);
	}
	for(i = 0; i < tmp->n; i++) {
		blf_pidf_ptuple_t *t = &pub->t[i];
		t->id_len = (uint32_t)strlen((const char *)tmp->t[i].id);
		t->id_off = blf_pidf_put((char *)pub, &pos, tmp->t[i].id, t->id_len);
		t->full_len = (uint32_t)tmp->t[i].full_len;
		t->full_off =
				blf_pidf_put((char *)pub, &pos, tmp->t[i].full, t->full_len);
		t->bare_len = (uint32_t)tmp->t[i].bare_len;
		t->bare_off =
				blf_pidf_put((char *)pub, &pos, tmp->t[i].bare, t->bare_len);
	}
	*out = pub;
	rc = 0;
out:
	blf_pidf_tmp_free(tmp);
	xmlFree(entity);
	xmlFree(pnote);
	xmlFree(tnote);
	xmlFree(dnote);
	return rc;
}

int blf_pidf_parse(const char *body, size_t len, const blf_pidf_limits_t *lim,
		blf_pidf_pub_t **out, char *err, size_t errsize)
{
	static const blf_pidf_limits_t dflt = {BLF_PIDF_MAX_BODY,
			BLF_PIDF_MAX_TUPLES, BLF_PIDF_MAX_DEPTH, BLF_PIDF_MAX_NOTE,
			BLF_PIDF_MAX_ID};
	xmlParserCtxtPtr ctxt;
	xmlDocPtr doc;
	int rc;

	if(err && errsize)
		err[0] = '\0';
	if(out == NULL)
		return -1;
	*out = NULL;
	if(body == NULL && len > 0)
		return -1;
	if(lim == NULL)
		lim = &dflt;
	if(len == 0) {
		blf_pidf_err(err, errsize, "empty body");
		return 1;
	}
	if(len > lim->max_body || len > INT_MAX) {
		blf_pidf_err(err, errsize, "body of %zu bytes, at most %zu allowed",
				len, lim->max_body);
		return 1;
	}
	ctxt = xmlNewParserCtxt();
	if(ctxt == NULL)
		return -1;
	if(ctxt->sax != NULL)
		ctxt->sax->internalSubset = blf_pidf_no_dtd;
	/* no NOENT (entities stay references), no DTDLOAD/DTDATTR/DTDVALID,
	 * no HUGE (libxml2's own text and depth limits stay on), no network;
	 * the body is read as UTF-8 whatever it declares */
	xmlResetLastError();
	doc = xmlCtxtReadMemory(ctxt, body, (int)len, "publish.xml", "UTF-8",
			XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
	if(ctxt->_private != NULL) {
		blf_pidf_err(err, errsize, "DOCTYPE not allowed");
		rc = 1;
	} else if(doc == NULL || !ctxt->wellFormed || !ctxt->nsWellFormed) {
		/* nsWellFormed: an undeclared prefix is only a namespace error
		 * for libxml2, which keeps "dm:note" as a plain name; pasted into
		 * a NOTIFY that declares dm:, it would become a real element */
		xmlErrorPtr e = xmlCtxtGetLastError(ctxt);
		if(e != NULL && e->code == XML_ERR_NO_MEMORY) {
			rc = -1;
		} else {
			size_t l;
			blf_pidf_err(err, errsize, "not %swell-formed XML (line %d: %s",
					doc != NULL && ctxt->wellFormed ? "namespace-" : "",
					e ? e->line : 0,
					e && e->message ? e->message : "unknown error");
			/* one log line: libxml2's messages hold newlines */
			l = err ? strlen(err) : 0;
			while(l > 0 && (err[l - 1] == '\n' || err[l - 1] == ' '))
				err[--l] = '\0';
			for(size_t i = 0; i < l; i++)
				if(err[i] == '\n' || err[i] == '\r')
					err[i] = ' ';
			if(err && l + 1 < errsize) {
				err[l] = ')';
				err[l + 1] = '\0';
			}
			rc = 1;
		}
	} else if(blf_xml_oom()) {
		rc = -1; /* libxml2 may drop what it had no memory for */
	} else {
		rc = blf_pidf_walk(doc, lim, out, err, errsize);
	}
	if(doc)
		xmlFreeDoc(doc);
	xmlFreeParserCtxt(ctxt);
	if(rc != 0 && *out != NULL) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

int blf_pidf_pub_has_id(const blf_pidf_pub_t *pub, const char *id)
{
	int i;

	if(pub == NULL || id == NULL)
		return 0;
	for(i = 0; i < pub->ntuples; i++)
		if(strcmp(BLF_PIDF_STR(pub, pub->t[i].id_off), id) == 0)
			return 1;
	return 0;
}

/* === building =========================================================== */

/* one published tuple chosen for the body */
typedef struct blf_pidf_pick
{
	const char *id;
	const char *xml;
	size_t len;
} blf_pidf_pick_t;

static int blf_pidf_id_used(const blf_pidf_pick_t *p, int n, const char *id)
{
	int i;

	for(i = 0; i < n; i++)
		if(strcmp(p[i].id, id) == 0)
			return 1;
	return 0;
}

/* base, then base-1, base-2, ... : the first no published tuple uses */
static void blf_pidf_own_id(const blf_pidf_pick_t *p, int n, const char *base,
		char *buf, size_t size)
{
	size_t bl = strlen(base);
	int k;

	/* base is one of ours (short): copied; snprintf() only when a
	 * published tuple took it (twice per document, once per change) */
	if(bl >= size)
		bl = size - 1;
	memcpy(buf, base, bl);
	buf[bl] = '\0';
	for(k = 1; blf_pidf_id_used(p, n, buf); k++)
		snprintf(buf, size, "%s-%d", base, k);
}

#define BLF_PIDF_CHK(x) \
	do {                \
		if((x) < 0)     \
			goto out;   \
	} while(0)

/*
 * The document is printed directly (blf_xml_out_t, the dialog elements'
 * writer) rather than through xmlTextWriter: it is built once per change
 * and visibility, but a writer, its buffer and encoder, twice per document
 * (once to measure) were most of what a presence NOTIFY cost beyond a
 * dialog one. The bytes are xmlTextWriter's, as the old builder wrote them
 * (tests/unit/test_pidf.c compares the two): no indentation, empty
 * activities as "<rpid:x/>", "\n" after the declaration and at the end.
 */

/* the declaration, <presence ...> and the module's own tuple */
static void blf_pidf_head(
		blf_xml_out_t *o, const blf_pidf_in_t *in, const char *tid)
{
	const char *basic, *note;

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
	blf_xml_out_lit(o,
			"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			"<presence xmlns=\"" BLF_PIDF_NS "\" xmlns:dm=\"" BLF_PIDF_NS_DM
			"\" xmlns:rpid=\"" BLF_PIDF_NS_RPID "\" entity=\"");
	blf_xml_out_uri(o, in->entity);
	blf_xml_out_lit(o, "\"><tuple id=\"");
	blf_xml_out_put(o, tid, strlen(tid)); /* "blf" or "blf-N": no escape */
	blf_xml_out_lit(o, "\"><status><basic>");
	blf_xml_out_put(o, basic, strlen(basic));
	blf_xml_out_lit(o, "</basic></status><note>");
	blf_xml_out_put(o, note, strlen(note)); /* fixed notes: no escape */
	blf_xml_out_lit(o, "</note></tuple>");
}

/* the person and the end of the document */
static void blf_pidf_tail(blf_xml_out_t *o, const blf_pidf_in_t *in,
		const char *pid, uint32_t acts, const char *pnote)
{
	const char *note;
	int i;

	if(in->call != BLF_PRES_IDLE)
		note = in->call == BLF_PRES_RINGING ? BLF_PIDF_NOTE_RINGING
											: BLF_PIDF_NOTE_BUSY;
	else
		note = in->registered ? BLF_PIDF_NOTE_READY : BLF_PIDF_NOTE_OFFLINE;
	blf_xml_out_lit(o, "<dm:person id=\"");
	blf_xml_out_put(o, pid, strlen(pid));
	blf_xml_out_lit(o, "\">");
	if(acts) {
		blf_xml_out_lit(o, "<rpid:activities>");
		for(i = 0; i < BLF_PIDF_NACTS; i++) {
			if(!(acts & (1u << i)))
				continue;
			blf_xml_out_lit(o, "<rpid:");
			blf_xml_out_put(o, blf_pidf_acts[i], strlen(blf_pidf_acts[i]));
			blf_xml_out_lit(o, "/>");
		}
		blf_xml_out_lit(o, "</rpid:activities>");
	}
	blf_xml_out_lit(o, "<dm:note>");
	blf_xml_out_text(o, pnote ? pnote : note);
	blf_xml_out_lit(o, "</dm:note></dm:person></presence>\n");
}

int blf_pidf_build(const blf_pidf_in_t *in, size_t max, char **out, size_t *len)
{
	blf_pidf_pick_t *p = NULL;
	const blf_pidf_pub_t *pub, *acts_pub = NULL, *note_pub = NULL;
	const char *pnote = NULL;
	char tid[32], pid[32];
	blf_xml_out_t o = {NULL, 0, 0, 0}, t = {NULL, 0, 0, 0};
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
			if(blf_pidf_id_used(p, n, id))
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
	blf_pidf_own_id(p, n, "blf", tid, sizeof(tid));
	blf_pidf_own_id(p, n, "blf-p", pid, sizeof(pid));

	/* the head and the tail tell what room the published tuples have; the
	 * raw fragments add exactly their length */
	blf_pidf_head(&o, in, tid);
	blf_pidf_tail(&t, in, pid, acts, pnote);
	if(o.err || t.err)
		goto out;
	base_len = o.len + t.len;
	if(base_len > max)
		goto out;
	used = base_len;
	for(k = 0; k < n && used + p[k].len <= max; k++)
		used += p[k].len;
	for(i = 0; i < k; i++)
		blf_xml_out_put(&o, p[i].xml, p[i].len);
	blf_xml_out_put(&o, t.s, t.len);
	if(blf_xml_out_take(&o, out, len) < 0)
		goto out;
	if(*len > max) { /* cannot happen; never send over max */
		free(*out);
		*out = NULL;
		*len = 0;
		goto out;
	}
	rc = n - k;
out:
	free(p);
	if(o.s)
		xmlFree(o.s);
	if(t.s)
		xmlFree(t.s);
	return rc;
}

/* === ETags ============================================================== */

void blf_pidf_etag_of(const unsigned char key[16], const unsigned char *in,
		size_t len, char *out)
{
	static const char abc[] =
			"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
	unsigned char key2[16];
	uint64_t h[2];
	int i;

	h[0] = blf_siphash(key, in, len);
	memcpy(key2, key, 16);
	key2[0] ^= 0x5c; /* a second value under a related key: 128 bits */
	h[1] = blf_siphash(key2, in, len);
	/* 10 characters of 6 bits from each (62 of 64 values kept apart: two
	 * letters fold onto two others, ~119 bits are left) */
	for(i = 0; i < BLF_PIDF_ETAG_LEN; i++) {
		out[i] = abc[(h[i & 1] & 0x3f) % 62];
		h[i & 1] >>= 6;
	}
	out[BLF_PIDF_ETAG_LEN] = '\0';
}
