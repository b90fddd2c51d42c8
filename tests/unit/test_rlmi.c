/* UNIT-SOURCES: blf_rlmi.c */
/*
 * test_rlmi.c — unit tests of blf_rlmi.c: RFC 4662 list bodies are taken
 * apart again with a small multipart parser written here (boundary lines,
 * part headers, Content-IDs), their RLMI part is validated against
 * tests/schema/rlmi.xsd with libxml2's xmlSchemaValidateDoc, and every
 * <instance cid> is matched to exactly one part. Then the splitting (no
 * member lost or repeated, every body within max, versions consecutive,
 * full state listing every member first), oversize members, hostile
 * strings (quotes, angle brackets, CRLF, bad UTF-8), a boundary that the
 * payload contains, exact-size buffers (ASan sees a byte written past),
 * and SipHash's published test vectors. blf_rlmi.c allocates nothing, so
 * there is no allocation to fail; LeakSanitizer checks the test itself.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <errno.h>
#include <stdlib.h>

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <libxml/xmlschemas.h>

#include "tap.h"

#include "blf_rlmi.h"

#ifndef BLF_TEST_SCHEMA_DIR
#define BLF_TEST_SCHEMA_DIR "../schema"
#endif

static const unsigned char t_secret[BLF_RLMI_SECRET_LEN] = {
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
static const unsigned char t_secret2[BLF_RLMI_SECRET_LEN] = {
		16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1};

static xmlSchemaPtr t_schema;
static int t_quiet;

#if LIBXML_VERSION >= 21200
static void t_xml_error(void *ctx, const xmlError *e)
#else
static void t_xml_error(void *ctx, xmlErrorPtr e)
#endif
{
	(void)ctx;
	if(!t_quiet)
		printf("     libxml2: %s", e->message);
}

/* --- a small multipart/related parser ------------------------------------ */

#define T_PARTS_MAX 700

typedef struct t_part {
	char cid[128];
	char ctype[128];
	int has_binary;
	const char *body;
	size_t len;
} t_part_t;

typedef struct t_mp {
	char boundary[64];
	char start[128];
	int n;
	t_part_t p[T_PARTS_MAX];
} t_mp_t;

/* the quoted parameter name="..." of a Content-Type value */
static int t_param(const char *ct, const char *name, char *out, size_t size)
{
	char key[32];
	const char *p, *e;

	snprintf(key, sizeof(key), ";%s=\"", name);
	p = strstr(ct, key);
	if(p == NULL)
		return -1;
	p += strlen(key);
	e = strchr(p, '"');
	if(e == NULL || (size_t)(e - p) >= size)
		return -1;
	memcpy(out, p, e - p);
	out[e - p] = '\0';
	return 0;
}

static const char *t_find(const char *h, size_t n, const char *s, size_t k)
{
	size_t i;

	for(i = 0; i + k <= n; i++)
		if(memcmp(h + i, s, k) == 0)
			return h + i;
	return NULL;
}

/* one header of a part's header block, "Name: value" */
static int t_header(
		const char *hb, size_t hn, const char *name, char *out, size_t size)
{
	size_t k = strlen(name);
	const char *p = hb, *end = hb + hn, *eol;

	while(p < end) {
		eol = t_find(p, end - p, "\r\n", 2);
		if(eol == NULL)
			eol = end;
		if((size_t)(eol - p) > k + 2 && strncasecmp(p, name, k) == 0
				&& p[k] == ':' && p[k + 1] == ' ') {
			if((size_t)(eol - p - k - 2) >= size)
				return -1;
			memcpy(out, p + k + 2, eol - p - k - 2);
			out[eol - p - k - 2] = '\0';
			return 0;
		}
		p = eol + 2;
	}
	return -1;
}

/*
 * Splits body by the boundary of ctype: "--B\r\n" first, each later part
 * after "\r\n--B\r\n", the end "\r\n--B--\r\n" and nothing after it.
 * Returns 0, or -1 on any framing error.
 */
static int t_mp_parse(
		const char *ctype, const char *body, size_t len, t_mp_t *mp)
{
	char delim[80], close[80];
	const char *p, *end = body + len, *next, *hend;
	size_t dl;

	memset(mp, 0, sizeof(*mp));
	if(strncmp(ctype, "multipart/related;", 18) != 0
			|| strstr(ctype, ";type=\"application/rlmi+xml\"") == NULL)
		return -1;
	if(t_param(ctype, "boundary", mp->boundary, sizeof(mp->boundary)) < 0
			|| t_param(ctype, "start", mp->start, sizeof(mp->start)) < 0)
		return -1;
	snprintf(delim, sizeof(delim), "\r\n--%s", mp->boundary);
	snprintf(close, sizeof(close), "\r\n--%s--\r\n", mp->boundary);
	dl = strlen(delim);
	if(len < dl || memcmp(body, delim + 2, dl - 2) != 0
			|| memcmp(body + dl - 2, "\r\n", 2) != 0)
		return -1;
	p = body + dl;
	for(;;) {
		t_part_t *pt;

		if(mp->n >= T_PARTS_MAX)
			return -1;
		pt = &mp->p[mp->n];
		next = t_find(p, end - p, delim, dl);
		if(next == NULL)
			return -1;
		hend = t_find(p, next - p, "\r\n\r\n", 4);
		if(hend == NULL)
			return -1;
		if(t_header(p, hend - p + 2, "Content-ID", pt->cid, sizeof(pt->cid)) < 0
				|| t_header(p, hend - p + 2, "Content-Type", pt->ctype,
						   sizeof(pt->ctype))
						   < 0)
			return -1;
		{
			char te[32];

			pt->has_binary =
					t_header(p, hend - p + 2, "Content-Transfer-Encoding", te,
							sizeof(te))
							== 0
					&& strcmp(te, "binary") == 0;
		}
		pt->body = hend + 4;
		pt->len = next - pt->body;
		mp->n++;
		if((size_t)(end - next) == strlen(close)
				&& memcmp(next, close, strlen(close)) == 0)
			return 0;
		if((size_t)(end - next) < dl + 2 || memcmp(next + dl, "\r\n", 2) != 0)
			return -1;
		p = next + dl + 2;
	}
}

/* --- the RLMI part -------------------------------------------------------- */

static int t_valid(xmlDocPtr doc)
{
	xmlSchemaValidCtxtPtr vc = xmlSchemaNewValidCtxt(t_schema);
	int rc;

	if(vc == NULL)
		return 0;
	xmlSchemaSetValidStructuredErrors(vc, t_xml_error, NULL);
	rc = xmlSchemaValidateDoc(vc, doc);
	xmlSchemaFreeValidCtxt(vc);
	return rc == 0;
}

static int t_is(const xmlNode *n, const char *name)
{
	return n != NULL && n->type == XML_ELEMENT_NODE
		   && xmlStrcmp(n->name, (const xmlChar *)name) == 0;
}

static xmlNodePtr t_child(xmlNodePtr n, const char *name)
{
	for(n = n ? n->children : NULL; n; n = n->next)
		if(t_is(n, name))
			return n;
	return NULL;
}

/* an attribute as a malloc()ed string ("" when absent), free() it */
static char *t_attr(xmlNodePtr n, const char *name)
{
	xmlChar *v = xmlGetProp(n, (const xmlChar *)name);
	char *s = strdup(v ? (const char *)v : "");

	xmlFree(v);
	if(s == NULL)
		abort();
	return s;
}

/* what one rendered body says, after every framing check passed */
typedef struct t_res {
	char uri[300];
	char name[300];
	int has_inst;
	char id[64];
	char state[16];
	char reason[32];
	char cid[128];
	int part; /* index of the part its cid names, -1 none */
} t_res_t;

typedef struct t_body {
	t_mp_t mp;
	unsigned int version;
	int full;
	char uri[300];
	char name[300];
	int nres;
	t_res_t res[T_PARTS_MAX];
} t_body_t;

static void t_copy(char *dst, size_t size, char *s)
{
	size_t n = strlen(s);

	if(n >= size)
		n = size - 1;
	memcpy(dst, s, n);
	dst[n] = '\0';
	free(s);
}

/*
 * Parses body+ctype into b and checks the rules of any body: framing,
 * Content-Transfer-Encoding, start = the RLMI part (first), the RLMI part
 * valid against the schema, every cid names exactly one part and every
 * part but the first is named by exactly one instance.
 */
static int t_check_body(
		const char *ctype, const char *body, size_t len, t_body_t *b)
{
	xmlDocPtr doc;
	xmlNodePtr root, r, c;
	char start[130], *s;
	int i, j, ok = 1, named;

	memset(b, 0, sizeof(*b));
	if(!CHECK(t_mp_parse(ctype, body, len, &b->mp) == 0))
		return 0;
	ok &= CHECK(b->mp.n >= 1);
	for(i = 0; i < b->mp.n; i++)
		ok &= CHECK(b->mp.p[i].has_binary);
	snprintf(start, sizeof(start), "%s", b->mp.start);
	ok &= CHECK(strcmp(start, b->mp.p[0].cid) == 0);
	ok &= CHECK(
			strcmp(b->mp.p[0].ctype, "application/rlmi+xml;charset=\"UTF-8\"")
			== 0);
	doc = xmlReadMemory(b->mp.p[0].body, (int)b->mp.p[0].len, "rlmi.xml", NULL,
			XML_PARSE_NONET);
	if(!CHECK(doc != NULL))
		return 0;
	ok &= CHECK(t_valid(doc));
	root = xmlDocGetRootElement(doc);
	ok &= CHECK(t_is(root, "list") && root->ns
				&& xmlStrcmp(root->ns->href,
						   (const xmlChar *)"urn:ietf:params:xml:ns:rlmi")
						   == 0);
	s = t_attr(root, "version");
	b->version = (unsigned int)strtoul(s, NULL, 10);
	free(s);
	s = t_attr(root, "fullState");
	b->full = strcmp(s, "true") == 0;
	free(s);
	t_copy(b->uri, sizeof(b->uri), t_attr(root, "uri"));
	if((c = t_child(root, "name")) != NULL) {
		xmlChar *t = xmlNodeGetContent(c);

		snprintf(b->name, sizeof(b->name), "%s", (const char *)t);
		xmlFree(t);
	}
	for(r = root->children; r; r = r->next) {
		t_res_t *x;

		if(!t_is(r, "resource"))
			continue;
		if(!CHECK(b->nres < T_PARTS_MAX))
			break;
		x = &b->res[b->nres++];
		x->part = -1;
		t_copy(x->uri, sizeof(x->uri), t_attr(r, "uri"));
		if((c = t_child(r, "name")) != NULL) {
			xmlChar *t = xmlNodeGetContent(c);

			snprintf(x->name, sizeof(x->name), "%s", (const char *)t);
			xmlFree(t);
		}
		c = t_child(r, "instance");
		if(c == NULL)
			continue;
		x->has_inst = 1;
		t_copy(x->id, sizeof(x->id), t_attr(c, "id"));
		t_copy(x->state, sizeof(x->state), t_attr(c, "state"));
		t_copy(x->reason, sizeof(x->reason), t_attr(c, "reason"));
		t_copy(x->cid, sizeof(x->cid), t_attr(c, "cid"));
		for(j = 1; j < b->mp.n && x->cid[0]; j++)
			if(b->mp.p[j].cid[0] == '<'
					&& strncmp(b->mp.p[j].cid + 1, x->cid, strlen(x->cid)) == 0
					&& strcmp(b->mp.p[j].cid + 1 + strlen(x->cid), ">") == 0) {
				ok &= CHECK(x->part < 0);
				x->part = j;
			}
		if(x->cid[0])
			ok &= CHECK(x->part > 0);
	}
	for(j = 1; j < b->mp.n; j++) {
		for(named = 0, i = 0; i < b->nres; i++)
			named += (b->res[i].part == j);
		ok &= CHECK(named == 1);
	}
	xmlFreeDoc(doc);
	return ok;
}

/* the last body rendered: b's parts point into it until the next one */
static char *t_last;

/* renders body k (exact-size buffer) and checks it */
static int t_render(const blf_rlmi_list_t *l, const blf_rlmi_member_t *m, int n,
		const blf_rlmi_slot_t *slots, int k, t_body_t *b, size_t *outlen)
{
	char ctype[BLF_RLMI_CTYPE_MAX];
	size_t len = 0, len2 = 0;
	char *buf;
	int ok = 1;

	if(!CHECK(blf_rlmi_render(l, m, n, slots, k, NULL, 0, &len) == ENOSPC))
		return 0;
	buf = malloc(len);
	if(buf == NULL)
		abort();
	ok &= CHECK(blf_rlmi_render(l, m, n, slots, k, buf, len, &len2) == 0);
	ok &= CHECK(len2 == len);
	ok &= CHECK(blf_rlmi_ctype(l, m, n, slots, k, ctype, sizeof(ctype)) > 0);
	if(ok) {
		/* what the sender reads back from the body is the same value */
		char back[BLF_RLMI_CTYPE_MAX];
		int bl = blf_rlmi_ctype_of(buf, len, back, sizeof(back));
		ok &= CHECK(bl > 0 && (size_t)bl == strlen(ctype)
					&& strcmp(back, ctype) == 0);
		ok &= t_check_body(ctype, buf, len, b);
	}
	if(outlen)
		*outlen = len;
	free(t_last);
	t_last = buf;
	return ok;
}

/* --- fixtures ----------------------------------------------------------- */

static blf_rlmi_list_t t_list(unsigned int version, int full)
{
	blf_rlmi_list_t l;

	memset(&l, 0, sizeof(l));
	l.uri = "sip:reception@example.com";
	l.name = "Reception";
	l.version = version;
	l.full = full;
	l.host = "example.com";
	l.secret = t_secret;
	return l;
}

#define T_DI_CT "application/dialog-info+xml"

/* n members sip:2NN@example.com, each with a dialog-info body of about
 * pad bytes; uris/bodies in one malloc()ed arena freed by t_free_members */
typedef struct t_members {
	blf_rlmi_member_t *m;
	char *arena;
	int n;
} t_members_t;

static t_members_t t_members(int n, size_t pad)
{
	t_members_t t;
	size_t stride = 64 + 64 + 200 + pad;
	int i;

	t.n = n;
	t.m = calloc(n ? n : 1, sizeof(*t.m));
	t.arena = malloc(n ? n * stride : 1);
	if(t.m == NULL || t.arena == NULL)
		abort();
	for(i = 0; i < n; i++) {
		char *uri = t.arena + i * stride, *name = uri + 64, *body = name + 64;
		int k;

		snprintf(uri, 64, "sip:%d@example.com", 200 + i);
		snprintf(name, 64, "Desk %d", 200 + i);
		k = snprintf(body, 200,
				"<?xml version=\"1.0\"?>\n<dialog-info xmlns=\"urn:ietf:"
				"params:xml:ns:dialog-info\" version=\"0\" state=\"full\" "
				"entity=\"sip:%d@example.com\">",
				200 + i);
		memset(body + k, ' ', pad);
		strcpy(body + k + pad, "</dialog-info>\n");
		t.m[i].uri = uri;
		t.m[i].name = name;
		t.m[i].ctype = T_DI_CT;
		t.m[i].body = body;
		t.m[i].body_len = strlen(body);
	}
	return t;
}

static void t_free_members(t_members_t *t)
{
	free(t->m);
	free(t->arena);
}

/* --- tests -------------------------------------------------------------- */

static void test_siphash(void)
{
	unsigned char key[16], msg[16];
	int i;

	for(i = 0; i < 16; i++)
		key[i] = msg[i] = (unsigned char)i;
	/* the reference implementation's vectors (vectors.h, SipHash-2-4) */
	CHECK(blf_rlmi_siphash(key, msg, 0) == 0x726fdb47dd0e0e31ULL);
	CHECK(blf_rlmi_siphash(key, msg, 1) == 0x74f839c593dc67fdULL);
	CHECK(blf_rlmi_siphash(key, msg, 15) == 0xa129ca6149be45e5ULL);
}

static void test_one_body(void)
{
	t_members_t t = t_members(3, 10);
	blf_rlmi_list_t l = t_list(0, 1);
	char id[BLF_RLMI_ID_MAX], cid[BLF_RLMI_CID_MAX];
	t_body_t *b = malloc(sizeof(*b));
	int i;

	if(b == NULL)
		abort();
	t.m[1].name = NULL;
	CHECK(t_render(&l, t.m, 3, NULL, 0, b, NULL));
	CHECK_INT(b->version, 0);
	CHECK(b->full);
	CHECK_STR(b->uri, "sip:reception@example.com");
	CHECK_STR(b->name, "Reception");
	CHECK_INT(b->nres, 3);
	CHECK_INT(b->mp.n, 4);
	for(i = 0; i < 3 && i < b->nres; i++) {
		CHECK_STR(b->res[i].uri, t.m[i].uri);
		CHECK_STR(b->res[i].name, i == 1 ? "" : t.m[i].name);
		CHECK_STR(b->res[i].state, "active");
		CHECK_STR(b->res[i].reason, "");
		blf_rlmi_instance_id(t_secret, t.m[i].uri, 0, id);
		CHECK_STR(b->res[i].id, id);
		blf_rlmi_member_cid(t_secret, "example.com", t.m[i].uri, 0, cid);
		CHECK_STR(b->res[i].cid, cid);
		/* parts in member order, each carrying the member's body */
		CHECK_INT(b->res[i].part, i + 1);
		if(b->res[i].part > 0) {
			t_part_t *p = &b->mp.p[b->res[i].part];

			CHECK_STR(p->ctype, T_DI_CT);
			CHECK(p->len == t.m[i].body_len
					&& memcmp(p->body, t.m[i].body, p->len) == 0);
		}
	}
	/* ids: 16 hex, distinct per member, the cid right-hand side the host */
	CHECK(strlen(b->res[0].id) == 16 && strcmp(b->res[0].id, b->res[1].id));
	CHECK(strstr(b->res[0].cid, "@example.com") != NULL);
	/* partial state, version 7 */
	l = t_list(7, 0);
	CHECK(t_render(&l, t.m, 1, NULL, 0, b, NULL));
	CHECK_INT(b->version, 7);
	CHECK(!b->full);
	CHECK_INT(b->nres, 1);
	/* an empty list is a valid full state */
	l = t_list(0, 1);
	l.name = NULL;
	CHECK(t_render(&l, NULL, 0, NULL, 0, b, NULL));
	CHECK_INT(b->nres, 0);
	CHECK_INT(b->mp.n, 1);
	free(b);
	t_free_members(&t);
}

static void test_ids_stable(void)
{
	char a[BLF_RLMI_ID_MAX], b2[BLF_RLMI_ID_MAX];
	char c1[BLF_RLMI_CID_MAX], c2[BLF_RLMI_CID_MAX];
	t_members_t t = t_members(2, 0);
	blf_rlmi_list_t l0 = t_list(0, 1), l9 = t_list(9, 0);
	t_body_t *x = malloc(sizeof(*x)), *y = malloc(sizeof(*y));

	if(x == NULL || y == NULL)
		abort();
	/* the same (secret, uri, gen): the same id, whatever the version */
	CHECK(t_render(&l0, t.m, 2, NULL, 0, x, NULL));
	CHECK(t_render(&l9, t.m, 2, NULL, 0, y, NULL));
	CHECK_STR(x->res[1].id, y->res[1].id);
	CHECK_STR(x->res[1].cid, y->res[1].cid);
	CHECK_STR(x->mp.start, y->mp.start);
	/* the boundary changes with the version, the ids do not */
	CHECK(strcmp(x->mp.boundary, y->mp.boundary) != 0);
	/* another subscription (secret) or generation: other ids */
	blf_rlmi_instance_id(t_secret, "sip:201@example.com", 0, a);
	blf_rlmi_instance_id(t_secret2, "sip:201@example.com", 0, b2);
	CHECK(strcmp(a, b2) != 0);
	blf_rlmi_instance_id(t_secret, "sip:201@example.com", 1, b2);
	CHECK(strcmp(a, b2) != 0);
	/* id and cid of one member are unrelated hashes */
	blf_rlmi_member_cid(t_secret, "example.com", "sip:201@example.com", 0, c1);
	CHECK(strncmp(a, c1, 16) != 0);
	/* a bad host falls back to blf.invalid */
	blf_rlmi_member_cid(t_secret, "ex ample\r\n", "sip:201@example.com", 0, c2);
	CHECK(strcmp(c2 + 16, "@blf.invalid") == 0);
	CHECK(strncmp(c1, c2, 16) == 0);
	CHECK_INT(blf_rlmi_instance_id(NULL, "x", 0, a), EINVAL);
	free(x);
	free(y);
	t_free_members(&t);
}

static void test_states(void)
{
	t_members_t t = t_members(3, 0);
	blf_rlmi_list_t l = t_list(3, 0);
	t_body_t *b = malloc(sizeof(*b));

	if(b == NULL)
		abort();
	t.m[0].state = BLF_RLMI_TERMINATED;
	t.m[0].reason = "noresource";
	t.m[0].body = NULL;
	t.m[1].state = BLF_RLMI_PENDING;
	t.m[1].body = NULL;
	CHECK(t_render(&l, t.m, 3, NULL, 0, b, NULL));
	CHECK_STR(b->res[0].state, "terminated");
	CHECK_STR(b->res[0].reason, "noresource");
	CHECK_STR(b->res[0].cid, "");
	CHECK_STR(b->res[1].state, "pending");
	CHECK_STR(b->res[1].cid, "");
	CHECK_STR(b->res[2].state, "active");
	CHECK_INT(b->mp.n, 2);
	/* a reason that is not a token is refused */
	t.m[0].reason = "no resource";
	CHECK_INT(blf_rlmi_render(&l, t.m, 3, NULL, 0, NULL, 0, &(size_t){0}),
			EINVAL);
	free(b);
	t_free_members(&t);
}

/* splits and renders every body; checks no member lost or repeated */
static int t_split_all(const blf_rlmi_list_t *l, const blf_rlmi_member_t *m,
		int n, size_t max, int *nb_out, size_t *biggest)
{
	blf_rlmi_slot_t *slots = calloc(n ? n : 1, sizeof(*slots));
	t_body_t *b = malloc(sizeof(*b));
	int *seen = calloc(n ? n : 1, sizeof(int));
	int nb = 0, k, i, j, ok = 1, listed_all = 0;
	size_t len;

	if(slots == NULL || b == NULL || seen == NULL)
		abort();
	*biggest = 0;
	if(!CHECK(blf_rlmi_split(l, m, n, max, slots, &nb) == 0))
		goto out;
	for(k = 0; k < nb; k++) {
		ok &= t_render(l, m, n, slots, k, b, &len);
		ok &= CHECK(len <= max);
		if(len > *biggest)
			*biggest = len;
		ok &= CHECK(b->version == l->version + (unsigned int)k);
		ok &= CHECK(b->full == (l->full && k == 0));
		if(k > 0)
			ok &= CHECK(b->nres > 0);
		if(k == 0 && l->full && b->nres == n)
			listed_all = 1;
		for(j = 0; j < b->nres; j++) {
			if(!b->res[j].has_inst)
				continue;
			for(i = 0; i < n; i++)
				if(strcmp(m[i].uri, b->res[j].uri) == 0)
					break;
			if(!CHECK(i < n))
				continue;
			seen[i]++;
			ok &= CHECK(slots[i].body == k);
		}
	}
	for(i = 0; i < n; i++)
		ok &= CHECK(seen[i] == 1);
	/* full state: either body 0 lists everyone or no member is "listed" */
	for(i = 0; i < n; i++)
		if(slots[i].listed)
			ok &= CHECK(listed_all);
out:
	*nb_out = nb;
	free(slots);
	free(b);
	free(seen);
	return ok;
}

static void test_split(void)
{
	t_members_t t = t_members(100, 500);
	blf_rlmi_list_t l = t_list(4, 1);
	blf_rlmi_slot_t one;
	size_t big;
	int nb;

	/* everything in one datagram when it fits */
	CHECK(t_split_all(&l, t.m, 100, 200000, &nb, &big));
	CHECK_INT(nb, 1);
	/* 100 x ~800 bytes in 8 KB: several bodies, body 0 lists everyone */
	CHECK(t_split_all(&l, t.m, 100, 8000, &nb, &big));
	CHECK(nb > 5);
	/* so small that even the list of every <resource> does not fit */
	CHECK(t_split_all(&l, t.m, 100, 1400, &nb, &big));
	CHECK(nb >= 50);
	/* partial state splits too */
	l.full = 0;
	CHECK(t_split_all(&l, t.m, 100, 8000, &nb, &big));
	CHECK(nb > 5);
	/* 500 members with 60 KB (one UDP datagram) */
	t_free_members(&t);
	t = t_members(500, 300);
	l.full = 1;
	CHECK(t_split_all(&l, t.m, 500, 60000, &nb, &big));
	CHECK(nb > 1 && nb < 10);
	/* max too small, arguments */
	CHECK_INT(blf_rlmi_split(&l, t.m, 1, 100, &one, &nb), E2BIG);
	CHECK_INT(blf_rlmi_split(&l, t.m, 1, 8000, NULL, &nb), EINVAL);
	CHECK_INT(blf_rlmi_split(&l, t.m, -1, 8000, &one, &nb), EINVAL);
	CHECK_INT(blf_rlmi_split(NULL, t.m, 1, 8000, &one, &nb), EINVAL);
	/* no member: one body */
	CHECK(t_split_all(&l, NULL, 0, 1000, &nb, &big));
	CHECK_INT(nb, 1);
	t_free_members(&t);
}

/* around the room where everything fits one body (the split's fast
 * path): every layout still carries each member once within max (rendered
 * and measured), and once every member goes whole in one body, so it
 * stays with more room (the number of bodies alone may grow: with little
 * room members go bare, several to a body) */
static void test_split_threshold(void)
{
	t_members_t t = t_members(6, 300);
	blf_rlmi_list_t l = t_list(7, 1);
	blf_rlmi_slot_t slots[6];
	size_t max, big;
	int nb, full, i, whole, seen, bad = 0, ones = 0, many = 0;

	for(full = 0; full < 2; full++) {
		l.full = full;
		seen = 0;
		for(max = BLF_RLMI_MIN_MAX; max < 8000; max += 7) {
			if(blf_rlmi_split(&l, t.m, 6, max, slots, &nb) == E2BIG)
				continue; /* not even one member alone */
			if(!t_split_all(&l, t.m, 6, max, &nb, &big)
					|| blf_rlmi_split(&l, t.m, 6, max, slots, &nb) != 0) {
				printf("     full %d max %zu: %d bodies\n", full, max, nb);
				bad++;
				break;
			}
			whole = nb == 1;
			for(i = 0; i < 6; i++)
				if(slots[i].body != 0 || slots[i].listed
						|| slots[i].mode != BLF_RLMI_PART)
					whole = 0;
			if(seen && !whole)
				bad++;
			seen |= whole;
			if(whole)
				ones++;
			else
				many++;
		}
	}
	CHECK_INT(bad, 0);
	if(!CHECK(ones > 10 && many > 10))
		printf("     ones %d many %d\n", ones, many);
	t_free_members(&t);
}

/* blf_rlmi_ctype_of on what is not a rendered body */
static void test_ctype_of_hostile(void)
{
	static const char ok[] = "--blf-rlmi-0123456789abcdef\r\nContent-Transfer-"
							 "Encoding: binary\r\nContent-ID: <c@h>\r\n";
	char buf[BLF_RLMI_CTYPE_MAX], big[400];
	size_t i;

	CHECK(blf_rlmi_ctype_of(ok, sizeof(ok) - 1, buf, sizeof(buf)) > 0);
	CHECK_STR(buf, "multipart/related;type=\"application/rlmi+xml\";"
				   "start=\"<c@h>\";boundary=\"blf-rlmi-0123456789abcdef\"");
	CHECK_INT(blf_rlmi_ctype_of(NULL, 10, buf, sizeof(buf)), -1);
	CHECK_INT(blf_rlmi_ctype_of(ok, sizeof(ok) - 1, NULL, 10), -1);
	CHECK_INT(blf_rlmi_ctype_of(ok, sizeof(ok) - 1, buf, 20), -1);
	CHECK_INT(blf_rlmi_ctype_of("", 0, buf, sizeof(buf)), -1);
	CHECK_INT(blf_rlmi_ctype_of("--", 2, buf, sizeof(buf)), -1);
	CHECK_INT(blf_rlmi_ctype_of("--\r\n", 4, buf, sizeof(buf)), -1);
	/* every cut of a good head before its cid's '>' fails cleanly (ASan:
	 * no read past len), every one after reads the same */
	for(i = 0; i < sizeof(ok) - 1; i++) {
		char *c = malloc(i ? i : 1);
		int want = i > (size_t)(strchr(ok, '>') - ok) ? 96 : -1;
		if(c == NULL)
			abort();
		memcpy(c, ok, i);
		CHECK_INT(blf_rlmi_ctype_of(c, i, buf, sizeof(buf)), want);
		free(c);
	}
	/* a boundary or a cid longer than any rendered one */
	memset(big, 'x', sizeof(big));
	memcpy(big, "--", 2);
	CHECK_INT(blf_rlmi_ctype_of(big, sizeof(big), buf, sizeof(buf)), -1);
	snprintf(big, sizeof(big),
			"--b\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <%0200d>",
			0);
	CHECK_INT(blf_rlmi_ctype_of(big, strlen(big), buf, sizeof(buf)), -1);
}

static void test_oversize_member(void)
{
	t_members_t t = t_members(3, 100);
	blf_rlmi_list_t l = t_list(0, 1);
	blf_rlmi_slot_t slots[3];
	static const char small[] = "<?xml version=\"1.0\"?>\n<dialog-info "
								"xmlns=\"urn:ietf:params:xml:ns:dialog-info\" "
								"version=\"0\" state=\"full\" entity=\"x\"/>\n";
	char *huge = malloc(20000);
	t_body_t *b = malloc(sizeof(*b));
	size_t big;
	int nb, k, i;

	if(huge == NULL || b == NULL)
		abort();
	memset(huge, 'x', 20000);
	t.m[1].body = huge;
	t.m[1].body_len = 20000;
	/* with a small stand-in: it is sent instead */
	t.m[1].small = small;
	t.m[1].small_len = sizeof(small) - 1;
	CHECK(t_split_all(&l, t.m, 3, 4000, &nb, &big));
	CHECK_INT(blf_rlmi_split(&l, t.m, 3, 4000, slots, &nb), 0);
	CHECK_INT(slots[0].mode, BLF_RLMI_PART);
	CHECK_INT(slots[1].mode, BLF_RLMI_SMALL);
	for(k = 0; k < nb; k++) {
		CHECK(t_render(&l, t.m, 3, slots, k, b, NULL));
		for(i = 0; i < b->nres; i++)
			if(b->res[i].part > 0 && strcmp(b->res[i].uri, t.m[1].uri) == 0)
				CHECK(b->mp.p[b->res[i].part].len == sizeof(small) - 1);
	}
	/* without one: a bare instance, state only, never a lost member */
	t.m[1].small = NULL;
	CHECK(t_split_all(&l, t.m, 3, 4000, &nb, &big));
	CHECK_INT(blf_rlmi_split(&l, t.m, 3, 4000, slots, &nb), 0);
	CHECK_INT(slots[1].mode, BLF_RLMI_BARE);
	for(k = 0; k < nb; k++) {
		CHECK(t_render(&l, t.m, 3, slots, k, b, NULL));
		for(i = 0; i < b->nres; i++)
			if(strcmp(b->res[i].uri, t.m[1].uri) == 0 && b->res[i].has_inst) {
				CHECK_STR(b->res[i].cid, "");
				CHECK_STR(b->res[i].state, "active");
			}
	}
	free(huge);
	free(b);
	t_free_members(&t);
}

static void test_hostile(void)
{
	t_members_t t = t_members(2, 0);
	blf_rlmi_list_t l = t_list(0, 1);
	t_body_t *b = malloc(sizeof(*b));
	size_t len;

	if(b == NULL)
		abort();
	/* quotes, angle brackets, ampersands: escaped, read back the same */
	t.m[0].uri = "sip:\"a'<b>&c\"@example.com";
	t.m[0].name = "<Boss> & \"Co\" '1'";
	l.uri = "sip:list\"><x>@example.com";
	l.name = "</name><resource uri=\"sip:evil\"/>";
	CHECK(t_render(&l, t.m, 2, NULL, 0, b, NULL));
	CHECK_INT(b->nres, 2);
	CHECK_STR(b->res[0].uri, t.m[0].uri);
	CHECK_STR(b->res[0].name, t.m[0].name);
	CHECK_STR(b->uri, l.uri);
	CHECK_STR(b->name, l.name);
	/* UTF-8 names are kept */
	t.m[1].name = "J\xc3\xbcrgen \xe5\xbc\xa0";
	CHECK(t_render(&l, t.m, 2, NULL, 0, b, NULL));
	CHECK_STR(b->res[1].name, t.m[1].name);
	/* CR/LF or any control character: refused, never a header injection */
	{
		static const char *bad[] = {"sip:a@b\r\nX-Evil: 1", "sip:a@b\n",
				"sip:a\x01@b", "sip:a\x7f@b", "sip:\xc3@b", "sip:\xc0\xaf@b",
				"sip:\xed\xa0\x80@b", "sip:\xef\xbf\xbf@b", ""};
		unsigned int i;

		for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			t_members_t u = t_members(1, 0);
			blf_rlmi_list_t l2 = t_list(0, 1);
			blf_rlmi_slot_t s;
			int nb;

			u.m[0].uri = bad[i];
			CHECK_INT(blf_rlmi_render(&l2, u.m, 1, NULL, 0, NULL, 0, &len),
					EINVAL);
			CHECK_INT(blf_rlmi_split(&l2, u.m, 1, 9000, &s, &nb), EINVAL);
			u.m[0].uri = "sip:a@b";
			u.m[0].name = bad[i][0] ? bad[i] : NULL;
			if(bad[i][0])
				CHECK_INT(blf_rlmi_render(&l2, u.m, 1, NULL, 0, NULL, 0, &len),
						EINVAL);
			u.m[0].name = NULL;
			l2.uri = bad[i];
			CHECK_INT(blf_rlmi_render(&l2, u.m, 1, NULL, 0, NULL, 0, &len),
					EINVAL);
			t_free_members(&u);
		}
	}
	/* a part Content-Type with CRLF, a quote or a space: refused */
	t.m[0].uri = "sip:201@example.com";
	t.m[0].name = NULL;
	l = t_list(0, 1);
	t.m[0].ctype = "application/dialog-info+xml\r\nX: y";
	CHECK_INT(blf_rlmi_render(&l, t.m, 2, NULL, 0, NULL, 0, &len), EINVAL);
	t.m[0].ctype = "text/plain; charset=\"x\"";
	CHECK_INT(blf_rlmi_render(&l, t.m, 2, NULL, 0, NULL, 0, &len), EINVAL);
	t.m[0].ctype = NULL;
	CHECK_INT(blf_rlmi_render(&l, t.m, 2, NULL, 0, NULL, 0, &len), EINVAL);
	t.m[0].ctype = T_DI_CT;
	/* bad state, bad slots, no secret */
	t.m[0].state = (blf_rlmi_state_t)7;
	CHECK_INT(blf_rlmi_render(&l, t.m, 2, NULL, 0, NULL, 0, &len), EINVAL);
	t.m[0].state = BLF_RLMI_ACTIVE;
	{
		blf_rlmi_slot_t s[2] = {{0, (blf_rlmi_mode_t)9, 0}, {0, 0, 0}};

		CHECK_INT(blf_rlmi_render(&l, t.m, 2, s, 0, NULL, 0, &len), EINVAL);
		CHECK_INT(blf_rlmi_render(&l, t.m, 2, NULL, 1, NULL, 0, &len), EINVAL);
	}
	l.secret = NULL;
	CHECK_INT(blf_rlmi_render(&l, t.m, 2, NULL, 0, NULL, 0, &len), EINVAL);
	free(b);
	t_free_members(&t);
}

/* a payload that contains the boundary: another one is chosen */
static void test_boundary_collision(void)
{
	t_members_t t = t_members(2, 0);
	blf_rlmi_list_t l = t_list(5, 1);
	char ct[BLF_RLMI_CTYPE_MAX], b1[64], b2[64], body[256];
	t_body_t *b = malloc(sizeof(*b));

	if(b == NULL)
		abort();
	CHECK(blf_rlmi_ctype(&l, t.m, 2, NULL, 0, ct, sizeof(ct)) > 0);
	CHECK(t_param(ct, "boundary", b1, sizeof(b1)) == 0);
	snprintf(body, sizeof(body), "<x>\r\n--%s--\r\n</x>", b1);
	t.m[1].body = body;
	t.m[1].body_len = strlen(body);
	CHECK(blf_rlmi_ctype(&l, t.m, 2, NULL, 0, ct, sizeof(ct)) > 0);
	CHECK(t_param(ct, "boundary", b2, sizeof(b2)) == 0);
	CHECK(strcmp(b1, b2) != 0);
	CHECK(t_render(&l, t.m, 2, NULL, 0, b, NULL));
	CHECK_INT(b->mp.n, 3);
	CHECK(b->mp.p[2].len == strlen(body)
			&& memcmp(b->mp.p[2].body, body, b->mp.p[2].len) == 0);
	/* and in a name (the RLMI part) */
	t.m[1].body = "<x/>";
	t.m[1].body_len = 4;
	t.m[0].name = b1;
	CHECK(blf_rlmi_ctype(&l, t.m, 2, NULL, 0, ct, sizeof(ct)) > 0);
	CHECK(t_param(ct, "boundary", b2, sizeof(b2)) == 0);
	CHECK(strcmp(b1, b2) != 0);
	/* a too small Content-Type buffer */
	CHECK_INT(blf_rlmi_ctype(&l, t.m, 2, NULL, 0, ct, 20), -1);
	free(b);
	t_free_members(&t);
}

/*
 * A fixed body (fixed secret, members, version) against golden_rlmi.txt:
 * its first line is the Content-Type, the rest the body. The same file is
 * read by tests/integration/test_rfc4662_reader.py with Python's email
 * package, so the builder and the integration tests' reader are checked
 * against each other. BLF_RLMI_GOLDEN_WRITE=1 rewrites it.
 */
static void test_golden(void)
{
	static const char di[] =
			"<?xml version=\"1.0\"?>\n<dialog-info xmlns=\"urn:ietf:params:"
			"xml:ns:dialog-info\" version=\"4\" state=\"full\" "
			"entity=\"sip:201@blf.test\"/>\n";
	blf_rlmi_member_t m[2];
	blf_rlmi_list_t l = t_list(7, 1);
	char ct[BLF_RLMI_CTYPE_MAX], *buf, *want = NULL;
	size_t len = 0, wlen = 0;
	const char *path = BLF_TEST_SCHEMA_DIR "/../unit/golden_rlmi.txt";
	FILE *f;

	memset(m, 0, sizeof(m));
	m[0].uri = "sip:201@blf.test";
	m[0].name = "Anna & \"Co\"";
	m[0].ctype = T_DI_CT;
	m[0].body = di;
	m[0].body_len = sizeof(di) - 1;
	m[1].uri = "sip:202@blf.test";
	m[1].state = BLF_RLMI_TERMINATED;
	m[1].reason = "noresource";
	l.uri = "sip:reception@blf.test";
	l.host = "blf.test";
	CHECK(blf_rlmi_ctype(&l, m, 2, NULL, 0, ct, sizeof(ct)) > 0);
	blf_rlmi_render(&l, m, 2, NULL, 0, NULL, 0, &len);
	buf = malloc(strlen(ct) + 1 + len + 1);
	if(buf == NULL)
		abort();
	sprintf(buf, "%s\n", ct);
	CHECK_INT(blf_rlmi_render(&l, m, 2, NULL, 0, buf + strlen(ct) + 1,
					  len + 1, &len),
			0);
	len += strlen(ct) + 1;
	if(getenv("BLF_RLMI_GOLDEN_WRITE")) {
		f = fopen(path, "wb");
		CHECK(f != NULL && fwrite(buf, 1, len, f) == len);
		if(f)
			fclose(f);
	}
	f = fopen(path, "rb");
	if(CHECK(f != NULL)) {
		want = malloc(len + 2);
		if(want == NULL)
			abort();
		wlen = fread(want, 1, len + 1, f);
		fclose(f);
		CHECK(wlen == len && memcmp(want, buf, len) == 0);
	}
	free(want);
	free(buf);
}

/* exact-size and one-short buffers: ENOSPC, never a byte past the end */
static void test_buffers(void)
{
	t_members_t t = t_members(4, 50);
	blf_rlmi_list_t l = t_list(1, 1);
	size_t len = 0, len2 = 0;
	char *a, *c;

	CHECK_INT(blf_rlmi_render(&l, t.m, 4, NULL, 0, NULL, 0, &len), ENOSPC);
	a = malloc(len + 1);
	c = malloc(len - 1);
	if(a == NULL || c == NULL)
		abort();
	CHECK_INT(blf_rlmi_render(&l, t.m, 4, NULL, 0, c, len - 1, &len2), ENOSPC);
	CHECK(len2 == len);
	CHECK_INT(blf_rlmi_render(&l, t.m, 4, NULL, 0, a, len + 1, &len2), 0);
	CHECK(a[len] == '\0' && strlen(a) == len);
	/* the same bytes twice */
	CHECK_INT(blf_rlmi_render(&l, t.m, 4, NULL, 0, c, len - 1, &len2), ENOSPC);
	CHECK(memcmp(a, c, len - 1) == 0);
	CHECK_INT(blf_rlmi_render(&l, t.m, 4, NULL, 0, a, len, NULL), EINVAL);
	free(a);
	free(c);
	t_free_members(&t);
}

static void test_validator_rejects(void)
{
	/* the schema is not a rubber stamp: a wrong state, a missing version */
	static const char *bad[] = {
			"<list xmlns=\"urn:ietf:params:xml:ns:rlmi\" uri=\"sip:a@b\" "
			"version=\"1\" fullState=\"true\"><resource uri=\"sip:c@d\">"
			"<instance id=\"x\" state=\"busy\"/></resource></list>",
			"<list xmlns=\"urn:ietf:params:xml:ns:rlmi\" uri=\"sip:a@b\" "
			"fullState=\"true\"/>",
			"<list xmlns=\"urn:ietf:params:xml:ns:rlmi\" uri=\"sip:a@b\" "
			"version=\"1\" fullState=\"yes\"/>",
	};
	unsigned int i;

	t_quiet = 1;
	for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		xmlDocPtr d = xmlReadMemory(
				bad[i], (int)strlen(bad[i]), "bad.xml", NULL, XML_PARSE_NONET);

		CHECK(d != NULL && !t_valid(d));
		xmlFreeDoc(d);
	}
	t_quiet = 0;
	CHECK_STR(blf_rlmi_state_name(BLF_RLMI_PENDING), "pending");
}

int main(void)
{
	xmlSchemaParserCtxtPtr pc;

	xmlInitParser();
	xmlSetStructuredErrorFunc(NULL, t_xml_error);
	pc = xmlSchemaNewParserCtxt(BLF_TEST_SCHEMA_DIR "/rlmi.xsd");
	if(pc != NULL) {
		t_schema = xmlSchemaParse(pc);
		xmlSchemaFreeParserCtxt(pc);
	}
	if(!CHECK(t_schema != NULL))
		return tap_done("test_rlmi");
	test_validator_rejects();
	test_siphash();
	test_one_body();
	test_ids_stable();
	test_states();
	test_split();
	test_split_threshold();
	test_ctype_of_hostile();
	test_oversize_member();
	test_hostile();
	test_boundary_collision();
	test_buffers();
	test_golden();
	free(t_last);
	xmlSchemaFree(t_schema);
	xmlCleanupParser();
	return tap_done("test_rlmi");
}
