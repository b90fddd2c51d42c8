/*
 * blf_xml.c — RFC 4235 dialog-info bodies, pure (libxml2 only).
 *
 * Prints the <dialog> elements of an entity's calls (directly, escaped
 * exactly as libxml2's xmlTextWriter would: see blf_ob_esc) and the small
 * per-watcher document head around them; lends its value writers, which do
 * go through xmlTextWriter, to the other pure builders. Values come from SIP headers that
 * any UA may fill with bytes XML forbids; those are replaced here, because a
 * body that does not parse turns off the lamps of every watcher it reaches.
 * Nothing here reads module state, allocates from Kamailio or sets up or
 * tears down libxml2 (xmlCleanupParser is for process exit only).
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <libxml/xmlwriter.h>

#include "blf_xml.h"

#define BLF_XML_NS "urn:ietf:params:xml:ns:dialog-info"

/* libxml2 takes unsigned char strings */
#define BLF_XC(s) ((const xmlChar *)(s))

/* values up to this size are cleaned on the stack, longer ones in malloc */
#define BLF_XML_CLEAN_STACK 256

/*
 * Length of the valid XML 1.0 character that starts at s (n bytes left), or
 * 0 when there is none: C0 controls other than TAB, LF and CR, malformed or
 * overlong UTF-8, surrogates, U+FFFE and U+FFFF (XML 1.0 section 2.2).
 */
static size_t blf_xml_char_len(const unsigned char *s, size_t n)
{
	unsigned int c;
	size_t len, i;

	if(s[0] < 0x80) {
		if(s[0] >= 0x20 || s[0] == '\t' || s[0] == '\n' || s[0] == '\r')
			return 1;
		return 0;
	}
	if(s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		c = s[0] & 0x1f;
	} else if(s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		c = s[0] & 0x0f;
	} else if(s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		c = s[0] & 0x07;
	} else {
		return 0; /* continuation byte, 0xc0/0xc1 or beyond U+10FFFF */
	}
	if(n < len)
		return 0;
	for(i = 1; i < len; i++) {
		if((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if((len == 3 && c < 0x800) || (len == 4 && c < 0x10000) || c > 0x10ffff)
		return 0; /* overlong or out of range */
	if((c >= 0xd800 && c <= 0xdfff) || c == 0xfffe || c == 0xffff)
		return 0;
	return len;
}

/* 1 when the n bytes at s are all valid XML characters */
static int blf_xml_is_clean(const char *s, size_t n)
{
	size_t i = 0, l;

	while(i < n) {
		l = blf_xml_char_len((const unsigned char *)s + i, n - i);
		if(l == 0)
			return 0;
		i += l;
	}
	return 1;
}

/* copies s into dst (n + 1 bytes), each invalid byte replaced by '?' */
static void blf_xml_clean(const char *s, size_t n, char *dst)
{
	size_t i = 0, l;

	while(i < n) {
		l = blf_xml_char_len((const unsigned char *)s + i, n - i);
		if(l == 0) {
			dst[i++] = '?';
			continue;
		}
		memcpy(dst + i, s + i, l);
		i += l;
	}
	dst[n] = '\0';
}

/*
 * Writes an attribute (attr != NULL) or the text content (attr == NULL) of
 * the open element, cleaned of characters XML forbids. libxml2 would copy a
 * control character verbatim and print malformed UTF-8 as if it were
 * Latin-1, with an error on stderr.
 */
static int blf_xml_put(xmlTextWriterPtr w, const char *attr, const char *val)
{
	char stack[BLF_XML_CLEAN_STACK];
	char *buf = NULL;
	size_t n = strlen(val);
	int rc;

	if(!blf_xml_is_clean(val, n)) {
		buf = (n < sizeof(stack)) ? stack : malloc(n + 1);
		if(buf == NULL)
			return -1;
		blf_xml_clean(val, n, buf);
		val = buf;
	}
	if(attr != NULL)
		rc = xmlTextWriterWriteAttribute(w, BLF_XC(attr), BLF_XC(val));
	else
		rc = xmlTextWriterWriteString(w, BLF_XC(val));
	if(buf != NULL && buf != stack)
		free(buf);
	return rc < 0 ? -1 : 0;
}

/* the length of s's scheme and its ':' (RFC 3986: ALPHA *( ALPHA / DIGIT
 * / "+" / "-" / "." ) ":"), 0 when it has none */
static size_t blf_xml_uri_scheme(const unsigned char *s, size_t n)
{
	size_t i;

	if(n == 0 || !isalpha(s[0]))
		return 0;
	for(i = 1; i < n; i++) {
		if(s[i] == ':')
			return i + 1;
		if(!isalnum(s[i]) && s[i] != '+' && s[i] != '-' && s[i] != '.')
			return 0;
	}
	return 0;
}

/* RFC 3986 characters an opaque URI (sip:user@host;params) may carry as
 * they are after its scheme (sl: its length, 0: none); '%' only when an
 * escape (two hex digits) follows; ':' only after a scheme (else the
 * first segment of a relative reference would hold one); no '#' (a SIP
 * URI has no fragment) and no "//" right after the scheme or at the start
 * (an authority a SIP URI does not have, with rules of its own) */
static int blf_xml_uri_keep(
		const unsigned char *s, size_t i, size_t n, size_t sl)
{
	unsigned char c = s[i];

	if(i < sl)
		return 1;
	if((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
			|| (c >= '0' && c <= '9'))
		return 1;
	if(c == '%')
		return i + 2 < n && isxdigit(s[i + 1]) && isxdigit(s[i + 2]);
	if(c == ':')
		return sl > 0;
	if(c == '/' && (i == sl || i == sl + 1) && n > sl + 1 && s[sl] == '/'
			&& s[sl + 1] == '/')
		return 0;
	return c != 0 && strchr("-._~/?@!$&'()*+,;=", c) != NULL;
}

/*
 * Writes a URI (the schema types <identity> and <target uri> as
 * xs:anyURI): what a SIP parser accepts may not be one (a '%' that starts
 * no escape, an IPv6 host's brackets outside an authority, spaces, bytes
 * past ASCII), so every other byte is percent-encoded. A valid URI stays
 * as it is.
 */
static int blf_xml_put_uri(
		xmlTextWriterPtr w, const char *attr, const char *val)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *u = (const unsigned char *)val;
	char stack[BLF_XML_CLEAN_STACK];
	char *buf;
	size_t n = strlen(val), i, o = 0, sl = blf_xml_uri_scheme(u, n);
	int rc;

	for(i = 0; i < n; i++)
		if(!blf_xml_uri_keep(u, i, n, sl))
			break;
	if(i == n)
		return blf_xml_put(w, attr, val);
	buf = (3 * n < sizeof(stack)) ? stack : malloc(3 * n + 1);
	if(buf == NULL)
		return -1;
	for(i = 0; i < n; i++) {
		if(blf_xml_uri_keep(u, i, n, sl)) {
			buf[o++] = (char)u[i];
		} else {
			buf[o++] = '%';
			buf[o++] = hex[u[i] >> 4];
			buf[o++] = hex[u[i] & 15];
		}
	}
	buf[o] = '\0';
	rc = blf_xml_put(w, attr, buf);
	if(buf != stack)
		free(buf);
	return rc;
}

static int blf_xml_set(const char *s)
{
	return s != NULL && s[0] != '\0';
}

/*
 * The <dialog> elements are printed here directly rather than through
 * xmlTextWriter: they are built once per change, but with a writer, a
 * document, a buffer and a string copy per element that was most of what
 * a NOTIFY's body cost (bench/README.md, "Where the CPU goes"). The output
 * is the writer's, byte for byte: attribute values escape & < > " TAB LF CR
 * and print characters past ASCII as hexadecimal references (what
 * libxml2 does without a document encoding), text escapes & < > and CR;
 * bytes XML forbids become '?' first (blf_xml_char_len), and URIs are
 * percent-encoded as blf_xml_put_uri does. The working buffer comes from
 * libxml2's allocator (xmlRealloc) only so that the unit tests' failure
 * injection (xmlMemSetup) reaches it; the result is a malloc() copy.
 */
typedef blf_xml_out_t blf_ob_t; /* (blf_xml.h: lent to blf_pidf.c) */

/* room for n more bytes and a NUL; 0 when there is */
static int blf_ob_room(blf_ob_t *o, size_t n)
{
	char *ns;
	size_t sz;

	if(o->err)
		return -1;
	if(o->len + n + 1 <= o->size)
		return 0;
	sz = o->size ? o->size : 1024;
	while(sz < o->len + n + 1) {
		if(sz > ((size_t)1 << 30)) {
			o->err = 1;
			return -1;
		}
		sz *= 2;
	}
	ns = xmlRealloc(o->s, sz);
	if(ns == NULL) {
		o->err = 1;
		return -1;
	}
	o->s = ns;
	o->size = sz;
	return 0;
}

static void blf_ob_put(blf_ob_t *o, const char *s, size_t n)
{
	if(blf_ob_room(o, n) < 0)
		return;
	memcpy(o->s + o->len, s, n);
	o->len += n;
}

#define blf_ob_lit(o, lit) blf_ob_put((o), (lit), sizeof(lit) - 1)

/* val escaped as an attribute value (attr 1) or text (0), invalid bytes
 * as '?'; attr 2 is text as xmlTextWriterWriteString prints it, '"' as
 * &quot; too (xmlEncodeSpecialChars), which the dialog elements never hold */
static void blf_ob_esc(blf_ob_t *o, const char *val, int attr)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *u = (const unsigned char *)val;
	size_t n = strlen(val), i = 0, l, run;
	unsigned int c;
	char ref[12];
	int k, r;

	while(i < n) {
		/* a run of bytes that need nothing */
		for(run = i; run < n; run++) {
			c = u[run];
			if(c < 0x20 || c >= 0x80 || c == '&' || c == '<' || c == '>'
					|| (attr && c == '"'))
				break;
		}
		if(run > i) {
			blf_ob_put(o, val + i, run - i);
			i = run;
			if(i >= n)
				break;
		}
		c = u[i];
		l = blf_xml_char_len(u + i, n - i);
		if(l == 0) {
			blf_ob_lit(o, "?");
			i++;
			continue;
		}
		if(c == '&')
			blf_ob_lit(o, "&amp;");
		else if(c == '<')
			blf_ob_lit(o, "&lt;");
		else if(c == '>')
			blf_ob_lit(o, "&gt;");
		else if(c == '"')
			blf_ob_lit(o, "&quot;");
		else if(c == '\r')
			blf_ob_lit(o, "&#13;");
		else if(c == '\n' && attr == 1)
			blf_ob_lit(o, "&#10;");
		else if(c == '\t' && attr == 1)
			blf_ob_lit(o, "&#9;");
		else if(c < 0x80 || attr != 1)
			blf_ob_put(o, val + i, l); /* TAB, LF in text; UTF-8 text */
		else {
			/* a character past ASCII in an attribute: &#xHEX; */
			c = (l == 2) ? (u[i] & 0x1fu) : (l == 3) ? (u[i] & 0x0fu)
													 : (u[i] & 0x07u);
			for(k = 1; k < (int)l; k++)
				c = (c << 6) | (u[i + k] & 0x3fu);
			r = 0;
			ref[r++] = '&';
			ref[r++] = '#';
			ref[r++] = 'x';
			for(k = 20; k >= 0; k -= 4)
				if((c >> k) || k == 0) {
					for(; k >= 0; k -= 4)
						ref[r++] = hex[(c >> k) & 15];
					break;
				}
			ref[r++] = ';';
			blf_ob_put(o, ref, (size_t)r);
		}
		i += l;
	}
}

/* " name=\"value\"" */
static void blf_ob_attr(blf_ob_t *o, const char *name, const char *val)
{
	blf_ob_lit(o, " ");
	blf_ob_put(o, name, strlen(name));
	blf_ob_lit(o, "=\"");
	blf_ob_esc(o, val, 1);
	blf_ob_lit(o, "\"");
}

/* a URI as blf_xml_put_uri writes it: bytes a URI may not hold
 * percent-encoded, then escaped */
static void blf_ob_uri(blf_ob_t *o, const char *val, int attr)
{
	static const char hex[] = "0123456789ABCDEF";
	const unsigned char *u = (const unsigned char *)val;
	char stack[BLF_XML_CLEAN_STACK];
	char *buf;
	size_t n = strlen(val), i, k = 0, sl = blf_xml_uri_scheme(u, n);

	for(i = 0; i < n; i++)
		if(!blf_xml_uri_keep(u, i, n, sl))
			break;
	if(i == n) {
		blf_ob_esc(o, val, attr);
		return;
	}
	buf = (3 * n < sizeof(stack)) ? stack : xmlMalloc(3 * n + 1);
	if(buf == NULL) {
		o->err = 1;
		return;
	}
	for(i = 0; i < n; i++) {
		if(blf_xml_uri_keep(u, i, n, sl)) {
			buf[k++] = (char)u[i];
		} else {
			buf[k++] = '%';
			buf[k++] = hex[u[i] >> 4];
			buf[k++] = hex[u[i] & 15];
		}
	}
	buf[k] = '\0';
	blf_ob_esc(o, buf, attr);
	if(buf != stack)
		xmlFree(buf);
}

void blf_xml_out_put(blf_xml_out_t *o, const char *s, size_t n)
{
	blf_ob_put(o, s, n);
}

void blf_xml_out_text(blf_xml_out_t *o, const char *val)
{
	blf_ob_esc(o, val ? val : "", 2);
}

void blf_xml_out_uri(blf_xml_out_t *o, const char *val)
{
	blf_ob_uri(o, val ? val : "", 1);
}

int blf_xml_out_take(blf_xml_out_t *o, char **out, size_t *len)
{
	*out = NULL;
	*len = 0;
	if(!o->err && blf_ob_room(o, 0) == 0 && (*out = malloc(o->len + 1))) {
		memcpy(*out, o->s, o->len);
		(*out)[o->len] = '\0';
		*len = o->len;
	}
	if(o->s != NULL)
		xmlFree(o->s);
	o->s = NULL;
	o->len = o->size = 0;
	return *out ? 0 : -1;
}

/* <state event="..." code="...">name</state> */
static void blf_ob_state(blf_ob_t *o, const blf_dstate_t *st)
{
	const char *ev = NULL;
	char code[16];

	blf_ob_lit(o, "<state");
	if(st->state == BLF_STATE_TERMINATED)
		ev = blf_term_name(st->term);
	if(ev != NULL)
		blf_ob_attr(o, "event", ev);
	/* the schema allows 100..699 only; 0 means "no code" */
	if(st->code >= 100 && st->code <= 699) {
		snprintf(code, sizeof(code), "%d", st->code);
		blf_ob_attr(o, "code", code);
	}
	blf_ob_lit(o, ">");
	blf_ob_esc(o, blf_state_name(st->state), 0);
	blf_ob_lit(o, "</state>");
}

/*
 * <local> or <remote>: identity (display name as attribute, RFC 4235's
 * schema) then target, in schema order. Left out when it would be empty.
 */
static void blf_ob_party(blf_ob_t *o, const char *name,
		const blf_xml_party_t *p, int with_target)
{
	int has_id = blf_xml_set(p->identity);
	int has_tg = with_target && blf_xml_set(p->target);

	if(!has_id && !has_tg)
		return;
	blf_ob_lit(o, "<");
	blf_ob_put(o, name, strlen(name));
	blf_ob_lit(o, ">");
	if(has_id) {
		blf_ob_lit(o, "<identity");
		if(blf_xml_set(p->display))
			blf_ob_attr(o, "display", p->display);
		blf_ob_lit(o, ">");
		blf_ob_uri(o, p->identity, 0);
		blf_ob_lit(o, "</identity>");
	}
	if(has_tg) {
		blf_ob_lit(o, "<target uri=\"");
		blf_ob_uri(o, p->target, 1);
		blf_ob_lit(o, "\"/>");
	}
	blf_ob_lit(o, "</");
	blf_ob_put(o, name, strlen(name));
	blf_ob_lit(o, ">");
}

static void blf_ob_dialog(blf_ob_t *o, const blf_xml_dialog_t *d, int full)
{
	blf_ob_lit(o, "<dialog");
	blf_ob_attr(o, "id", d->id);
	if(full) {
		if(blf_xml_set(d->call_id))
			blf_ob_attr(o, "call-id", d->call_id);
		if(blf_xml_set(d->local_tag))
			blf_ob_attr(o, "local-tag", d->local_tag);
		if(blf_xml_set(d->remote_tag))
			blf_ob_attr(o, "remote-tag", d->remote_tag);
	}
	blf_ob_attr(o, "direction", blf_dir_name(d->direction));
	blf_ob_lit(o, ">");
	blf_ob_state(o, &d->st);
	/* state visibility keeps who is busy, not with whom nor where */
	blf_ob_party(o, "local", &d->local, full);
	if(full)
		blf_ob_party(o, "remote", &d->remote, 1);
	/* one dialog a line keeps NOTIFY bodies readable in traces */
	blf_ob_lit(o, "</dialog>\n");
}

static int blf_xml_dialog_ok(const blf_xml_dialog_t *d)
{
	return blf_xml_set(d->id)
		   && (d->direction == BLF_DIR_INITIATOR
				   || d->direction == BLF_DIR_RECIPIENT)
		   && (unsigned int)d->st.state <= BLF_STATE_TERMINATED;
}

int blf_xml_dialogs(const blf_xml_dialog_t *d, int n, blf_vis_t vis, char **out,
		size_t *len)
{
	blf_ob_t o = {NULL, 0, 0, 0};
	int full, i;

	if(out == NULL)
		return -1;
	*out = NULL;
	if(len != NULL)
		*len = 0;
	if(n < 0 || (n > 0 && d == NULL))
		return -1;
	for(i = 0; i < n; i++)
		if(!blf_xml_dialog_ok(&d[i]))
			return -1;
	/* "none" only ever reaches the entity itself, but should it be passed
	 * here it gets the least detail rather than the most */
	full = (vis == BLF_VIS_FULL);

	if(blf_ob_room(&o, 0) < 0)
		return -1;
	for(i = 0; i < n; i++)
		blf_ob_dialog(&o, &d[i], full);
	/* a copy in plain malloc() memory, as the other builders hand out */
	if(!o.err && (*out = malloc(o.len + 1)) != NULL) {
		memcpy(*out, o.s, o.len);
		(*out)[o.len] = '\0';
		if(len != NULL)
			*len = o.len;
	}
	if(o.s != NULL)
		xmlFree(o.s);
	return *out ? 0 : -1;
}

int blf_xml_escape_attr(const char *s, size_t slen, char *buf, size_t size)
{
	size_t i = 0, o = 0, l, rl;
	const char *rep;
	char one[5];

	if(buf == NULL || size == 0 || (s == NULL && slen > 0))
		return -1;
	/* the common case, printable ASCII with nothing to escape (a list
	 * member's URI, once per NOTIFY): one copy, the same bytes */
	for(i = 0; i < slen; i++) {
		unsigned char c = (unsigned char)s[i];
		if(c < 0x20 || c >= 0x80 || c == '&' || c == '<' || c == '>'
				|| c == '"' || c == '\'')
			break;
	}
	if(i == slen) {
		if(slen >= size || slen > (size_t)0x7fffffff)
			return -1;
		if(slen)
			memcpy(buf, s, slen);
		buf[slen] = '\0';
		return (int)slen;
	}
	i = 0;
	while(i < slen) {
		l = blf_xml_char_len((const unsigned char *)s + i, slen - i);
		rep = one;
		rl = l;
		switch(l ? s[i] : '\0') {
			case '&':
				rep = "&amp;";
				break;
			case '<':
				rep = "&lt;";
				break;
			case '>':
				rep = "&gt;";
				break;
			case '"':
				rep = "&quot;";
				break;
			case '\'':
				rep = "&apos;";
				break;
			/* character references, or attribute-value normalisation
			 * would turn them into spaces */
			case '\t':
				rep = "&#9;";
				break;
			case '\n':
				rep = "&#10;";
				break;
			case '\r':
				rep = "&#13;";
				break;
			default:
				if(l == 0) {
					one[0] = '?'; /* a byte XML forbids */
					l = rl = 1;
				} else {
					memcpy(one, s + i, l);
				}
				break;
		}
		if(rep != one)
			rl = strlen(rep);
		if(o + rl >= size || o + rl > (size_t)0x7fffffff)
			return -1;
		memcpy(buf + o, rep, rl);
		o += rl;
		i += l;
	}
	buf[o] = '\0';
	return (int)o;
}

int blf_xml_head(char *buf, size_t size, unsigned int version,
		const char *entity_esc, size_t entity_len)
{
	/* the bytes of snprintf("...version=\"%u\" state=\"full\"
	 * entity=\"%.*s\">\n") without its format parsing (once per NOTIFY:
	 * bench/README.md) */
	static const char h1[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
							 "<dialog-info xmlns=\"" BLF_XML_NS
							 "\" version=\"";
	static const char h2[] = "\" state=\"full\" entity=\"";
	static const char h3[] = "\">\n";
	char num[10];
	size_t nl = 0, n;
	unsigned int v = version;

	if(buf == NULL || entity_esc == NULL || entity_len > 0x7fffffff)
		return -1;
	entity_len = strnlen(entity_esc, entity_len); /* as %.*s stops */
	do {
		num[nl++] = (char)('0' + v % 10);
		v /= 10;
	} while(v);
	n = sizeof(h1) - 1 + nl + sizeof(h2) - 1 + entity_len + sizeof(h3) - 1;
	if(n >= size || n > 0x7fffffff)
		return -1;
	memcpy(buf, h1, sizeof(h1) - 1);
	buf += sizeof(h1) - 1;
	while(nl)
		*buf++ = num[--nl];
	memcpy(buf, h2, sizeof(h2) - 1);
	buf += sizeof(h2) - 1;
	memcpy(buf, entity_esc, entity_len);
	buf += entity_len;
	memcpy(buf, h3, sizeof(h3) - 1);
	buf[sizeof(h3) - 1] = '\0';
	return (int)n;
}

const char *blf_dir_name(blf_dir_t d)
{
	switch(d) {
		case BLF_DIR_INITIATOR:
			return "initiator";
		case BLF_DIR_RECIPIENT:
			return "recipient";
	}
	return "unknown";
}

static const char *const blf_vis_names[] = {"full", "state", "none"};

const char *blf_vis_name(blf_vis_t v)
{
	if((unsigned int)v >= sizeof(blf_vis_names) / sizeof(blf_vis_names[0]))
		return "unknown";
	return blf_vis_names[v];
}

int blf_vis_parse(const char *s, size_t len, blf_vis_t *out)
{
	unsigned int i;

	if(s == NULL || out == NULL)
		return -1;
	/* operators write modparams and HTTP answers by hand: any case */
	for(i = 0; i < sizeof(blf_vis_names) / sizeof(blf_vis_names[0]); i++) {
		if(strlen(blf_vis_names[i]) == len
				&& strncasecmp(s, blf_vis_names[i], len) == 0) {
			*out = (blf_vis_t)i;
			return 0;
		}
	}
	return -1;
}

/*
 * The value writers, for the other pure builders (blf_pidf.c,
 * blf_winfo.c, blf_reginfo.c) so every body cleans text and URIs the same
 * way. w is an xmlTextWriterPtr (void * keeps libxml2 out of the header).
 */
int blf_xml_write_text(void *w, const char *attr, const char *val)
{
	return blf_xml_put((xmlTextWriterPtr)w, attr, val ? val : "");
}

int blf_xml_write_uri(void *w, const char *attr, const char *val)
{
	return blf_xml_put_uri((xmlTextWriterPtr)w, attr, val ? val : "");
}

int blf_xml_oom(void)
{
	xmlErrorPtr e = xmlGetLastError();

	return e != NULL && e->code == XML_ERR_NO_MEMORY;
}

int blf_xml_take(void *wp, void *bp, char **out, size_t *len)
{
	xmlTextWriterPtr w = wp;
	xmlBufferPtr b = bp;

	xmlFreeTextWriter(w); /* flushes into b */
	if(blf_xml_oom())
		return -1;
	*len = (size_t)xmlBufferLength(b);
	*out = malloc(*len + 1);
	if(*out == NULL)
		return -1;
	memcpy(*out, xmlBufferContent(b), *len);
	(*out)[*len] = '\0';
	return 0;
}
