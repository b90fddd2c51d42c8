/*
 * blf_repl.c — checking a cluster replica before any of it is applied
 * (see blf_repl.h). Pure code: jansson and libc only.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <stdio.h>
#include <string.h>
#include <ctype.h>
#include <strings.h>

#include "blf_repl.h"
#include "blf_state.h"
#include "blf_xml.h"
#include "blf_mvers.h"

#define BLF_REPL_INT31 2147483647LL
#define BLF_REPL_UINT32 4294967295LL

/* RFC 3261 token */
static int blf_repl_tokc(unsigned char c)
{
	if((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
			|| (c >= '0' && c <= '9'))
		return 1;
	return c != 0 && strchr("-.!%*_+`'~", c) != NULL;
}

/* RFC 3261 word, the Call-ID's charset (with its "@") */
static int blf_repl_wordc(unsigned char c)
{
	return blf_repl_tokc(c)
		   || (c != 0 && strchr("()<>:\\\"/[]?{}@", c) != NULL);
}

/* a character of a URI as blf stores it: printable, no space, nothing
 * that would end it inside a header (<, >, ", \) */
static int blf_repl_uric(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '<' && c != '>' && c != '"'
		   && c != '\\';
}

int blf_repl_token_ok(const char *s, size_t len, size_t min, size_t max)
{
	size_t i;

	if(s == NULL || len < min || len > max)
		return 0;
	for(i = 0; i < len; i++)
		if(!blf_repl_tokc((unsigned char)s[i]))
			return 0;
	return 1;
}

static int blf_repl_word_ok(const char *s, size_t len, size_t min, size_t max)
{
	size_t i;

	if(s == NULL || len < min || len > max)
		return 0;
	for(i = 0; i < len; i++)
		if(!blf_repl_wordc((unsigned char)s[i]))
			return 0;
	return 1;
}

/* sip:/sips: followed by at least one URI character; max bounds it */
int blf_repl_uri_ok(const char *s, size_t len, size_t max)
{
	size_t i, sl;

	if(s == NULL || len > max)
		return 0;
	if(len > 4 && strncasecmp(s, "sip:", 4) == 0)
		sl = 4;
	else if(len > 5 && strncasecmp(s, "sips:", 5) == 0)
		sl = 5;
	else
		return 0;
	for(i = sl; i < len; i++)
		if(!blf_repl_uric((unsigned char)s[i]))
			return 0;
	return 1;
}

/* user@host: URI characters, a non-empty user and host */
int blf_repl_key_ok(const char *s, size_t len)
{
	const char *at;
	size_t i;

	if(s == NULL || len < 3 || len > BLF_REPL_KEY_MAX)
		return 0;
	for(i = 0; i < len; i++)
		if(!blf_repl_uric((unsigned char)s[i]))
			return 0;
	at = memchr(s, '@', len);
	return at != NULL && at > s && at < s + len - 1;
}

/* a node name: letters, digits and . _ : @ [ ] - */
int blf_repl_name_ok(const char *s, size_t len)
{
	size_t i;
	unsigned char c;

	if(s == NULL || len == 0 || len > BLF_REPL_NAME_MAX)
		return 0;
	for(i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if(!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
				   || (c >= '0' && c <= '9') || strchr("._:@[]-", c)))
			return 0;
	}
	return 1;
}

/* no control characters (a display name, an escaped URI, a route set) */
static int blf_repl_text_ok(const char *s, size_t len, size_t max)
{
	size_t i;

	if(s == NULL || len > max)
		return 0;
	for(i = 0; i < len; i++)
		if((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
			return 0;
	return 1;
}

/* ---- the message walk ---- */

typedef struct blf_repl_ctx {
	const blf_repl_limits_t *lim;
	char *why;
	size_t whysize;
	int rec; /* index of the record in its batch, -1: the message */
} blf_repl_ctx_t;

static int blf_repl_bad(blf_repl_ctx_t *x, const char *what, const char *field)
{
	if(x->why && x->whysize) {
		if(x->rec >= 0)
			snprintf(x->why, x->whysize, "record %d: %s %s", x->rec, what,
					field);
		else
			snprintf(x->why, x->whysize, "%s %s", what, field);
	}
	return -1;
}

/* the string member name of o, or NULL (absent or not a string without
 * NUL bytes) */
static const char *blf_repl_str(json_t *o, const char *name, size_t *len)
{
	json_t *v = json_object_get(o, name);
	const char *s;

	if(!json_is_string(v))
		return NULL;
	s = json_string_value(v);
	*len = json_string_length(v);
	if(strlen(s) != *len)
		return NULL;
	return s;
}

/* integer member name of o within [min, max]; absent is bad unless opt */
static int blf_repl_int(blf_repl_ctx_t *x, json_t *o, const char *name,
		long long min, long long max, int opt)
{
	json_t *v = json_object_get(o, name);
	json_int_t i;

	if(v == NULL && opt)
		return 0;
	if(!json_is_integer(v))
		return blf_repl_bad(x, "missing or non-integer", name);
	i = json_integer_value(v);
	if((long long)i < min || (long long)i > max)
		return blf_repl_bad(x, "out of range:", name);
	return 0;
}

/* "fl": the subscription flags a replica carries: 1 wildcard, 64 an
 * RFC 4662 list (blf_table.h BLF_SUB_WILDCARD, BLF_SUB_LIST) */
static int blf_repl_key(blf_repl_ctx_t *x, json_t *o, const char *name)
{
	const char *s;
	size_t len;

	s = blf_repl_str(o, name, &len);
	if(s == NULL || !blf_repl_key_ok(s, len))
		return blf_repl_bad(x, "bad entity", name);
	return 0;
}

/* the kinds of string field */
enum {
	BLF_RF_CALLID,
	BLF_RF_TAG,	   /* token, may be empty */
	BLF_RF_TAG1,   /* token, not empty */
	BLF_RF_URI,	   /* URI, may be empty */
	BLF_RF_URI1,   /* URI, not empty */
	BLF_RF_DISP,
	BLF_RF_KEY,
	BLF_RF_ESC,	   /* the XML-escaped entity URI */
	BLF_RF_RR,
	BLF_RF_SOCK,
	BLF_RF_EVID,
	BLF_RF_DST
};

static const unsigned char blf_repl_call_kinds[BLF_REPL_CF_N] = {
		BLF_RF_CALLID, BLF_RF_TAG, BLF_RF_TAG, BLF_RF_URI, BLF_RF_DISP,
		BLF_RF_URI, BLF_RF_URI, BLF_RF_DISP, BLF_RF_URI};
static const char *blf_repl_call_names[BLF_REPL_CF_N] = {"callid",
		"local tag", "remote tag", "local uri", "local display",
		"local target", "remote uri", "remote display", "remote target"};

static const unsigned char blf_repl_sub_kinds[BLF_REPL_SF_N] = {
		BLF_RF_CALLID, BLF_RF_TAG1, BLF_RF_TAG1, BLF_RF_KEY, BLF_RF_URI1,
		BLF_RF_URI1, BLF_RF_ESC, BLF_RF_URI1, BLF_RF_RR, BLF_RF_SOCK,
		BLF_RF_URI, BLF_RF_EVID, BLF_RF_DST};
static const char *blf_repl_sub_names[BLF_REPL_SF_N] = {"callid",
		"from tag", "to tag", "watcher", "watcher uri", "uri", "entity",
		"contact", "route set", "socket", "local contact", "event id",
		"destination"};

static int blf_repl_sock_ok(const char *s, size_t len)
{
	size_t i;
	unsigned char c;

	if(len > BLF_REPL_SOCK_MAX)
		return 0;
	for(i = 0; i < len; i++) {
		c = (unsigned char)s[i];
		if(!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
				   || (c >= '0' && c <= '9') || strchr(".:[]-_", c)))
			return 0;
	}
	return 1;
}

static int blf_repl_field_ok(int kind, const char *s, size_t len)
{
	switch(kind) {
		case BLF_RF_CALLID:
			return blf_repl_word_ok(s, len, 1, BLF_REPL_CALLID_MAX);
		case BLF_RF_TAG:
			return blf_repl_token_ok(s, len, 0, BLF_REPL_TAG_MAX);
		case BLF_RF_TAG1:
			return blf_repl_token_ok(s, len, 1, BLF_REPL_TAG_MAX);
		case BLF_RF_URI:
			return len == 0 || blf_repl_uri_ok(s, len, BLF_REPL_URI_MAX);
		case BLF_RF_URI1:
			return blf_repl_uri_ok(s, len, BLF_REPL_URI_MAX);
		case BLF_RF_DISP:
			return blf_repl_text_ok(s, len, BLF_REPL_DISP_MAX);
		case BLF_RF_KEY:
			return blf_repl_key_ok(s, len);
		case BLF_RF_ESC:
			return blf_repl_text_ok(s, len, 6 * BLF_REPL_KEY_MAX)
				   && memchr(s, '<', len) == NULL
				   && memchr(s, '>', len) == NULL
				   && memchr(s, '"', len) == NULL;
		case BLF_RF_RR:
			return blf_repl_text_ok(s, len, BLF_REPL_RR_MAX);
		case BLF_RF_SOCK:
			return blf_repl_sock_ok(s, len);
		case BLF_RF_EVID:
			return blf_repl_token_ok(s, len, 0, BLF_REPL_EVID_MAX);
		case BLF_RF_DST:
			return len == 0 || blf_repl_uri_ok(s, len, BLF_REPL_SOCK_MAX);
	}
	return 0;
}

/* member "f": an array of exactly n strings of the given kinds */
static int blf_repl_fields(blf_repl_ctx_t *x, json_t *o, int n,
		const unsigned char *kinds, const char **names)
{
	json_t *a = json_object_get(o, "f"), *v;
	const char *s;
	size_t len;
	int i;

	if(!json_is_array(a) || (int)json_array_size(a) != n)
		return blf_repl_bad(x, "missing or wrong-sized", "field array");
	for(i = 0; i < n; i++) {
		v = json_array_get(a, i);
		if(!json_is_string(v))
			return blf_repl_bad(x, "non-string field", names[i]);
		s = json_string_value(v);
		len = json_string_length(v);
		if(strlen(s) != len || !blf_repl_field_ok(kinds[i], s, len))
			return blf_repl_bad(x, "bad field", names[i]);
	}
	return 0;
}

static int blf_repl_call(blf_repl_ctx_t *x, json_t *o)
{
	json_t *h, *v;
	size_t i, j;

	if(blf_repl_key(x, o, "e") < 0 || blf_repl_int(x, o, "d", 0, 1, 0) < 0
			|| blf_repl_int(x, o, "s", 0, BLF_STATE_TERMINATED, 0) < 0
			|| blf_repl_int(x, o, "x", 0, BLF_TERM_TIMEOUT, 0) < 0
			|| blf_repl_int(x, o, "c", 0, 699, 0) < 0
			|| blf_repl_int(x, o, "q", 0, 65535, 0) < 0
			|| blf_repl_int(x, o, "st", 0, x->lim->now + BLF_REPL_SKEW, 1) < 0
			|| blf_repl_fields(x, o, BLF_REPL_CF_N, blf_repl_call_kinds,
					   blf_repl_call_names)
					   < 0)
		return -1;
	h = json_object_get(o, "h");
	if(h == NULL)
		return 0;
	if(!json_is_array(h) || json_array_size(h) > BLF_REPL_HIST_MAX)
		return blf_repl_bad(x, "bad or too long", "history");
	json_array_foreach(h, i, v)
	{
		static const long long hmax[4] = {
				65535, BLF_STATE_TERMINATED, BLF_TERM_TIMEOUT, 699};
		if(!json_is_array(v) || json_array_size(v) != 4)
			return blf_repl_bad(x, "bad entry of", "history");
		for(j = 0; j < 4; j++) {
			json_t *n = json_array_get(v, j);
			if(!json_is_integer(n) || json_integer_value(n) < 0
					|| (long long)json_integer_value(n) > hmax[j])
				return blf_repl_bad(x, "bad value in", "history");
		}
	}
	return 0;
}

/* a list subscription's member versions (optional: blf_dmq.c
 * blf_sub_json_mv): well-formed texts of bounded size, fa a uint32 */
static int blf_repl_sub_mv(blf_repl_ctx_t *x, json_t *o)
{
	static const char *const keys[] = {"mv", "mvd"};
	uint32_t anchor;
	json_t *v;
	int i;

	for(i = 0; i < 2; i++) {
		if((v = json_object_get(o, keys[i])) == NULL)
			continue;
		if(!json_is_string(v) || json_string_length(v) > BLF_MVERS_TEXT_MAX
				|| blf_mvers_parse(json_string_value(v), json_string_length(v),
						   &anchor, NULL, BLF_MVERS_MAX)
						   < 0)
			return blf_repl_bad(x, "bad", "member versions");
	}
	if(json_object_get(o, "mvd") && !json_object_get(o, "fa"))
		return blf_repl_bad(x, "no anchor of", "member versions");
	if(blf_repl_int(x, o, "fa", 0, BLF_REPL_UINT32, 1) < 0
			|| blf_repl_int(x, o, "mvx", 0, 1, 1) < 0)
		return -1;
	return 0;
}

static int blf_repl_sub(blf_repl_ctx_t *x, json_t *o)
{
	long long exp_max = x->lim->now + x->lim->max_expires + BLF_REPL_SKEW;

	return (blf_repl_key(x, o, "e") < 0
				   || blf_repl_int(x, o, "x", 0, exp_max, 0) < 0
				   || blf_repl_int(x, o, "v", 0, BLF_REPL_INT31, 0) < 0
				   || blf_repl_int(x, o, "q", 0, BLF_REPL_INT31, 0) < 0
				   || blf_repl_int(x, o, "fl", 0, 65, 0) < 0
				   || ((json_integer_value(json_object_get(o, "fl")) & ~0x41)
						   && blf_repl_bad(x, "out of range:", "fl") < 0)
				   || blf_repl_int(x, o, "vi", 0, BLF_VIS_NONE, 0) < 0
				   /* optional: taken over by the watcher's refresh */
				   || blf_repl_int(x, o, "tk", 0, 1, 1) < 0
				   || blf_repl_fields(x, o, BLF_REPL_SF_N, blf_repl_sub_kinds,
							  blf_repl_sub_names)
							  < 0
				   || blf_repl_sub_mv(x, o) < 0)
				   ? -1
				   : 0;
}

static int blf_repl_unsub(blf_repl_ctx_t *x, json_t *o)
{
	return (blf_repl_key(x, o, "e") < 0
				   || blf_repl_fields(x, o, 3, blf_repl_sub_kinds,
							  blf_repl_sub_names)
							  < 0)
				   ? -1
				   : 0;
}

static int blf_repl_ver(blf_repl_ctx_t *x, json_t *o)
{
	const char *s;
	size_t len;

	if(blf_repl_key(x, o, "e") < 0
			|| blf_repl_int(x, o, "v", 0, BLF_REPL_INT31, 0) < 0
			|| blf_repl_int(x, o, "q", 0, BLF_REPL_INT31, 0) < 0
			/* optional: the digest of the calls its NOTIFY showed (0 is
			 * never one: blf_calls_digest) */
			|| blf_repl_int(x, o, "cd", 1, BLF_REPL_UINT32, 1) < 0)
		return -1;
	s = blf_repl_str(o, "g", &len);
	if(s == NULL || !blf_repl_token_ok(s, len, 1, BLF_REPL_TAG_MAX))
		return blf_repl_bad(x, "bad", "to tag");
	/* optional: the owner, when the sender passes on another node's
	 * versions (they came in that node's answer to the sender) */
	if(json_object_get(o, "o")
			&& ((s = blf_repl_str(o, "o", &len)) == NULL
					|| !blf_repl_name_ok(s, len)))
		return blf_repl_bad(x, "bad", "owner");
	return 0;
}

/* calls moved from entity e to entity "to" (an alias answer) */
static int blf_repl_mv(blf_repl_ctx_t *x, json_t *o)
{
	if(blf_repl_key(x, o, "e") < 0 || blf_repl_key(x, o, "to") < 0
			|| blf_repl_int(x, o, "d", 0, 1, 0) < 0
			|| blf_repl_int(x, o, "q", 0, 65535, 0) < 0
			|| blf_repl_fields(x, o, 1, blf_repl_sub_kinds,
					   blf_repl_sub_names)
					   < 0)
		return -1;
	return 0;
}

/* a publication's ETag: letters and digits (blf_pidf_etag) */
static int blf_repl_etag(blf_repl_ctx_t *x, json_t *o)
{
	const char *s;
	size_t len, i;

	s = blf_repl_str(o, "g", &len);
	if(s == NULL || len == 0 || len > BLF_REPL_ETAG_MAX)
		return blf_repl_bad(x, "bad", "etag");
	for(i = 0; i < len; i++)
		if(!isalnum((unsigned char)s[i]))
			return blf_repl_bad(x, "bad", "etag");
	return 0;
}

/* a publication (PUBLISH) taken by the sender: its raw body, parsed by the
 * glue (blf_pidf_parse) before anything is stored */
static int blf_repl_pub(blf_repl_ctx_t *x, json_t *o)
{
	long long exp_max = x->lim->now + x->lim->max_expires + BLF_REPL_SKEW;
	const char *s;
	size_t len;

	if(blf_repl_key(x, o, "e") < 0 || blf_repl_etag(x, o) < 0
			|| blf_repl_int(x, o, "x", 0, exp_max, 0) < 0
			|| blf_repl_int(x, o, "md", 0, exp_max, 0) < 0)
		return -1;
	s = blf_repl_str(o, "bd", &len);
	if(s == NULL || len == 0 || len > BLF_REPL_PUB_BODY_MAX)
		return blf_repl_bad(x, "missing or too long", "body");
	return 0;
}

static int blf_repl_unpub(blf_repl_ctx_t *x, json_t *o)
{
	return (blf_repl_key(x, o, "e") < 0 || blf_repl_etag(x, o) < 0) ? -1 : 0;
}

/* one record: a replica of a call or a subscription */
static int blf_repl_record(blf_repl_ctx_t *x, json_t *o)
{
	const char *t;
	size_t len;

	if(!json_is_object(o))
		return blf_repl_bad(x, "not an object:", "record");
	t = blf_repl_str(o, "t", &len);
	if(t == NULL)
		return blf_repl_bad(x, "no", "type");
	if(strcmp(t, "call") == 0)
		return blf_repl_call(x, o);
	if(strcmp(t, "sub") == 0)
		return blf_repl_sub(x, o);
	if(strcmp(t, "unsub") == 0)
		return blf_repl_unsub(x, o);
	if(strcmp(t, "ver") == 0)
		return blf_repl_ver(x, o);
	if(strcmp(t, "mv") == 0)
		return blf_repl_mv(x, o);
	if(strcmp(t, "pub") == 0)
		return blf_repl_pub(x, o);
	if(strcmp(t, "unpub") == 0)
		return blf_repl_unpub(x, o);
	return blf_repl_bad(x, "unknown record", "type");
}

/* one space-ended (or line-ended) field of a "vc" line at *p */
static const char *blf_repl_vc_field(
		const char **p, const char *end, size_t *len, int *last)
{
	const char *s = *p, *e = s;

	while(e < end && *e != ' ' && *e != '\n')
		e++;
	if(e == end)
		return NULL; /* every line ends with \n */
	*len = (size_t)(e - s);
	*last = (*e == '\n');
	*p = e + 1;
	return s;
}

/* a decimal number of at most 10 digits, no sign, <= max */
static int blf_repl_vc_num(
		const char *s, size_t len, unsigned long long max, unsigned int *v)
{
	unsigned long long n = 0;
	size_t i;

	if(len == 0 || len > 10)
		return -1;
	for(i = 0; i < len; i++) {
		if(s[i] < '0' || s[i] > '9')
			return -1;
		n = n * 10 + (unsigned)(s[i] - '0');
	}
	if(n > max)
		return -1;
	*v = (unsigned int)n;
	return 0;
}

int blf_repl_vc_next(
		const char *s, size_t len, size_t *pos, blf_repl_vrec_t *r)
{
	const char *p, *end = s + len, *f, *d;
	size_t fl;
	int last = 0;

	if(*pos >= len)
		return 0;
	p = s + *pos;
	memset(r, 0, sizeof(*r));
	r->key = blf_repl_vc_field(&p, end, &r->klen, &last);
	if(r->key == NULL || last || !blf_repl_key_ok(r->key, r->klen))
		return -1;
	r->tag = blf_repl_vc_field(&p, end, &r->tlen, &last);
	if(r->tag == NULL || last
			|| !blf_repl_token_ok(r->tag, r->tlen, 1, BLF_REPL_TAG_MAX))
		return -1;
	f = blf_repl_vc_field(&p, end, &fl, &last);
	if(f == NULL || last || blf_repl_vc_num(f, fl, BLF_REPL_INT31, &r->v) < 0)
		return -1;
	f = blf_repl_vc_field(&p, end, &fl, &last);
	if(f == NULL)
		return -1;
	/* "<cseq>/<cd>": the state its NOTIFY showed, optional */
	d = memchr(f, '/', fl);
	if(d
			&& (blf_repl_vc_num(
						d + 1, (size_t)(f + fl - d - 1), 0xffffffffULL, &r->cd)
							< 0
					|| r->cd == 0))
		return -1;
	if(blf_repl_vc_num(f, d ? (size_t)(d - f) : fl, BLF_REPL_INT31, &r->q) < 0)
		return -1;
	if(!last) {
		r->owner = blf_repl_vc_field(&p, end, &r->olen, &last);
		if(r->owner == NULL || !last || !blf_repl_name_ok(r->owner, r->olen))
			return -1;
	}
	*pos = (size_t)(p - s);
	return 1;
}

/* the optional compact versions of a batch: every line well-formed */
static int blf_repl_vc(blf_repl_ctx_t *x, json_t *root)
{
	json_t *vc = json_object_get(root, "vc");
	blf_repl_vrec_t r;
	size_t pos = 0, len;
	const char *s;
	int n = 0, k;

	if(vc == NULL)
		return 0;
	if(!json_is_string(vc))
		return blf_repl_bad(x, "not a string:", "compact versions");
	s = json_string_value(vc);
	len = json_string_length(vc);
	while((k = blf_repl_vc_next(s, len, &pos, &r)) == 1)
		if(++n > BLF_REPL_RECORDS_MAX)
			return blf_repl_bad(x, "too many", "compact versions");
	if(k < 0)
		return blf_repl_bad(x, "malformed line of", "compact versions");
	return 0;
}

int blf_repl_check(json_t *root, const blf_repl_limits_t *lim, char *why,
		size_t whysize)
{
	blf_repl_ctx_t x;
	json_t *m, *v;
	const char *s;
	size_t len, i;

	x.lim = lim;
	x.why = why;
	x.whysize = whysize;
	x.rec = -1;
	if(why && whysize)
		why[0] = '\0';
	if(!json_is_object(root))
		return blf_repl_bad(&x, "not an object:", "message");
	s = blf_repl_str(root, "n", &len);
	if(s == NULL || !blf_repl_name_ok(s, len))
		return blf_repl_bad(&x, "bad", "node name");
	if(blf_repl_int(&x, root, "b", 0, BLF_REPL_UINT32, 0) < 0
			|| blf_repl_int(&x, root, "rv", 0, 1, 1) < 0
			|| blf_repl_int(&x, root, "cv", 0, 1, 1) < 0
			|| blf_repl_int(&x, root, "pa", 0, 1, 1) < 0)
		return -1;
	s = blf_repl_str(root, "t", &len);
	if(s == NULL)
		return blf_repl_bad(&x, "no", "type");
	if(strcmp(s, "hello") == 0 || strcmp(s, "sync") == 0)
		return 0;
	if(strcmp(s, "batch") != 0)
		return blf_repl_record(&x, root);
	m = json_object_get(root, "m");
	if(!json_is_array(m) || json_array_size(m) > BLF_REPL_RECORDS_MAX)
		return blf_repl_bad(&x, "missing or too long", "batch");
	if(blf_repl_vc(&x, root) < 0)
		return -1;
	json_array_foreach(m, i, v)
	{
		x.rec = (int)i;
		if(blf_repl_record(&x, v) < 0)
			return -1;
	}
	return 0;
}

int blf_repl_decode(const char *body, size_t len, const blf_repl_limits_t *lim,
		json_t **root, char *why, size_t whysize)
{
	json_error_t err;

	*root = NULL;
	if(body == NULL || len == 0 || len > BLF_REPL_BODY_MAX) {
		if(why && whysize)
			snprintf(why, whysize, "empty or too long body (%lu bytes)",
					(unsigned long)len);
		return -1;
	}
	*root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &err);
	if(*root == NULL) {
		if(why && whysize)
			snprintf(why, whysize, "bad JSON: %s", err.text);
		return -1;
	}
	if(blf_repl_check(*root, lim, why, whysize) < 0) {
		json_decref(*root);
		*root = NULL;
		return -1;
	}
	return 0;
}
