/*
 * t_xml.h — what the presence, watcherinfo and reginfo unit tests share:
 * libxml2 allocation hooks that fail on purpose after a budget (the OOM
 * checks), quiet error handlers, schema loading from tests/schema/ and
 * validation, parsing and a few DOM helpers.
 *
 * Header-only (static functions), like tap.h.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_T_XML_H
#define BLF_T_XML_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlmemory.h>
#include <libxml/xmlschemas.h>

#ifndef BLF_TEST_SCHEMA_DIR
#define BLF_TEST_SCHEMA_DIR "../schema"
#endif

static long t_budget = -1; /* allocations left; -1 = no limit */
static long t_fails;	   /* allocations refused so far */

static inline int t_may_alloc(void)
{
	if(t_budget < 0)
		return 1;
	if(t_budget == 0) {
		t_fails++;
		return 0;
	}
	t_budget--;
	return 1;
}

static inline void *t_malloc(size_t n)
{
	return t_may_alloc() ? malloc(n) : NULL;
}

static inline void *t_realloc(void *p, size_t n)
{
	return t_may_alloc() ? realloc(p, n) : NULL;
}

static inline char *t_strdup(const char *s)
{
	return t_may_alloc() ? strdup(s) : NULL;
}

static inline void t_free(void *p)
{
	free(p);
}

static int t_quiet;

#if LIBXML_VERSION >= 21200
static inline void t_xml_error(void *ctx, const xmlError *err)
#else
static inline void t_xml_error(void *ctx, xmlErrorPtr err)
#endif
{
	(void)ctx;
	if(!t_quiet && err != NULL && err->message != NULL)
		printf("     libxml2: %s", err->message);
}

static inline void t_xml_generic(void *ctx, const char *fmt, ...)
{
	va_list ap;

	(void)ctx;
	if(t_quiet)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

/* before any other libxml2 call, as xmlMemSetup requires */
static inline void t_xml_init(void)
{
	xmlMemSetup(t_free, t_malloc, t_realloc, t_strdup);
	xmlInitParser();
	xmlSetStructuredErrorFunc(NULL, t_xml_error);
	xmlSetGenericErrorFunc(NULL, t_xml_generic);
}

/* the schema tests/schema/<name>; NULL when it does not compile */
static inline xmlSchemaPtr t_schema_load(const char *dir, const char *name)
{
	char path[1024];
	xmlSchemaParserCtxtPtr pc;
	xmlSchemaPtr s;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	pc = xmlSchemaNewParserCtxt(path);
	if(pc == NULL)
		return NULL;
	xmlSchemaSetParserStructuredErrors(pc, t_xml_error, NULL);
	s = xmlSchemaParse(pc);
	xmlSchemaFreeParserCtxt(pc);
	return s;
}

static inline xmlDocPtr t_parse(const char *body, size_t len)
{
	return xmlReadMemory(body, (int)len, "body.xml", NULL, XML_PARSE_NONET);
}

/* 1 when body parses and is valid against s (errors printed) */
static inline int t_valid(xmlSchemaPtr s, const char *body, size_t len)
{
	xmlDocPtr d = t_parse(body, len);
	xmlSchemaValidCtxtPtr vc;
	int rc;

	if(d == NULL || s == NULL) {
		xmlFreeDoc(d);
		return 0;
	}
	vc = xmlSchemaNewValidCtxt(s);
	xmlSchemaSetValidStructuredErrors(vc, t_xml_error, NULL);
	rc = xmlSchemaValidateDoc(vc, d);
	xmlSchemaFreeValidCtxt(vc);
	xmlFreeDoc(d);
	if(rc != 0)
		printf("     invalid body:\n%.*s\n", (int)len, body);
	return rc == 0;
}

static inline int t_is(const xmlNode *n, const char *name)
{
	return n != NULL && n->type == XML_ELEMENT_NODE
		   && xmlStrcmp(n->name, (const xmlChar *)name) == 0;
}

/* the next element sibling from n on (n included) */
static inline xmlNodePtr t_elem(xmlNodePtr n)
{
	while(n != NULL && n->type != XML_ELEMENT_NODE)
		n = n->next;
	return n;
}

static inline xmlNodePtr t_child(xmlNodePtr n, const char *name)
{
	xmlNodePtr c;

	for(c = n ? n->children : NULL; c != NULL; c = c->next)
		if(t_is(c, name))
			return c;
	return NULL;
}

static inline int t_count(xmlNodePtr n, const char *name)
{
	xmlNodePtr c;
	int k = 0;

	for(c = n ? n->children : NULL; c != NULL; c = c->next)
		if(t_is(c, name))
			k++;
	return k;
}

/* the number of elements named name anywhere under n */
static inline int t_count_deep(xmlNodePtr n, const char *name)
{
	xmlNodePtr c;
	int k = 0;

	for(c = n ? n->children : NULL; c != NULL; c = c->next) {
		if(t_is(c, name))
			k++;
		k += t_count_deep(c, name);
	}
	return k;
}

/* 1 when attribute `name` of n is `want` (want NULL: absent) */
static inline int t_attr_is(xmlNodePtr n, const char *name, const char *want)
{
	xmlChar *v = n ? xmlGetNoNsProp(n, (const xmlChar *)name) : NULL;
	int ok;

	if(want == NULL)
		ok = v == NULL;
	else
		ok = v != NULL && strcmp((const char *)v, want) == 0;
	if(!ok)
		printf("     attribute %s: [%s], want [%s]\n", name,
				v ? (const char *)v : "(none)", want ? want : "(none)");
	xmlFree(v);
	return ok;
}

/* 1 when the text of n is want */
static inline int t_text_is(xmlNodePtr n, const char *want)
{
	xmlChar *v = n ? xmlNodeGetContent(n) : NULL;
	int ok = v != NULL && strcmp((const char *)v, want) == 0;

	if(!ok)
		printf("     text [%s], want [%s]\n", v ? (const char *)v : "(none)",
				want);
	xmlFree(v);
	return ok;
}

#endif
