/*
 * blf_rlmi.c — the RFC 4662 list NOTIFY body (multipart/related, RLMI
 * first), its identifiers and its splitting over several NOTIFYs; see
 * blf_rlmi.h for the rules. Pure: no Kamailio, no allocation.
 *
 * Every piece of a body is written through one writer that counts what it
 * would write even past the end of the buffer (or with no buffer at all),
 * so measuring, splitting and rendering share one code path and cannot
 * disagree on a size.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem */
#endif
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "blf_rlmi.h"

#define RL_DEFAULT_HOST "blf.invalid"
#define RL_BOUNDARY_PREFIX "blf-rlmi-"
#define RL_BOUNDARY_TRIES 16
#define RL_CT_RLMI "application/rlmi+xml;charset=\"UTF-8\""

/* --- SipHash-2-4 (Aumasson, Bernstein), the reference algorithm ------- */

#define RL_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define RL_ROUND(v0, v1, v2, v3) \
	do {                         \
		v0 += v1;                \
		v1 = RL_ROTL(v1, 13);    \
		v1 ^= v0;                \
		v0 = RL_ROTL(v0, 32);    \
		v2 += v3;                \
		v3 = RL_ROTL(v3, 16);    \
		v3 ^= v2;                \
		v0 += v3;                \
		v3 = RL_ROTL(v3, 21);    \
		v3 ^= v0;                \
		v2 += v1;                \
		v1 = RL_ROTL(v1, 17);    \
		v1 ^= v2;                \
		v2 = RL_ROTL(v2, 32);    \
	} while(0)

static uint64_t rl_le64(const unsigned char *p)
{
	uint64_t v = 0;
	int i;

	for(i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

uint64_t blf_rlmi_siphash(
		const unsigned char *key, const unsigned char *msg, size_t len)
{
	uint64_t k0 = rl_le64(key), k1 = rl_le64(key + 8);
	uint64_t v0 = 0x736f6d6570736575ULL ^ k0;
	uint64_t v1 = 0x646f72616e646f6dULL ^ k1;
	uint64_t v2 = 0x6c7967656e657261ULL ^ k0;
	uint64_t v3 = 0x7465646279746573ULL ^ k1;
	uint64_t b = ((uint64_t)len) << 56, m;
	size_t i, left = len & 7, end = len - left;

	for(i = 0; i < end; i += 8) {
		m = rl_le64(msg + i);
		v3 ^= m;
		RL_ROUND(v0, v1, v2, v3);
		RL_ROUND(v0, v1, v2, v3);
		v0 ^= m;
	}
	for(i = 0; i < left; i++)
		b |= ((uint64_t)msg[end + i]) << (8 * i);
	v3 ^= b;
	RL_ROUND(v0, v1, v2, v3);
	RL_ROUND(v0, v1, v2, v3);
	v0 ^= b;
	v2 ^= 0xff;
	RL_ROUND(v0, v1, v2, v3);
	RL_ROUND(v0, v1, v2, v3);
	RL_ROUND(v0, v1, v2, v3);
	RL_ROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

/*
 * H(secret, tag, n, s): the message is tag, n (4 bytes big-endian), then s.
 * s is hashed in blocks through a small stack buffer: member URIs are
 * bounded by validation but the hash must not depend on that.
 */
static uint64_t rl_hash(const unsigned char *secret, char tag, uint32_t n,
		const char *s, size_t slen)
{
	unsigned char msg[5 + 512];

	msg[0] = (unsigned char)tag;
	msg[1] = (unsigned char)(n >> 24);
	msg[2] = (unsigned char)(n >> 16);
	msg[3] = (unsigned char)(n >> 8);
	msg[4] = (unsigned char)n;
	if(slen > sizeof(msg) - 5) {
		/* long input: hash it first, then hash the digest with the tag */
		uint64_t h = blf_rlmi_siphash(secret, (const unsigned char *)s, slen);
		int i;

		for(i = 0; i < 8; i++)
			msg[5 + i] = (unsigned char)(h >> (8 * i));
		return blf_rlmi_siphash(secret, msg, 5 + 8);
	}
	memcpy(msg + 5, s, slen);
	return blf_rlmi_siphash(secret, msg, 5 + slen);
}

static void rl_hex(uint64_t h, char *out)
{
	static const char hx[] = "0123456789abcdef";
	int i;

	for(i = 15; i >= 0; i--, h >>= 4)
		out[i] = hx[h & 15];
	out[16] = '\0';
}

/* --- validation --------------------------------------------------------- */

/* length of the well-formed UTF-8 character at s (n bytes left), 0 if not */
static size_t rl_utf8_len(const unsigned char *s, size_t n)
{
	size_t k, i;
	unsigned int c;

	if(s[0] < 0x80)
		return 1;
	if(s[0] >= 0xc2 && s[0] <= 0xdf)
		k = 2, c = s[0] & 0x1f;
	else if(s[0] >= 0xe0 && s[0] <= 0xef)
		k = 3, c = s[0] & 0x0f;
	else if(s[0] >= 0xf0 && s[0] <= 0xf4)
		k = 4, c = s[0] & 0x07;
	else
		return 0;
	if(n < k)
		return 0;
	for(i = 1; i < k; i++) {
		if((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF, U+FFFE/U+FFFF */
	if((k == 3 && c < 0x800) || (k == 4 && c < 0x10000) || c > 0x10ffff
			|| (c >= 0xd800 && c <= 0xdfff) || c == 0xfffe || c == 0xffff)
		return 0;
	return k;
}

/*
 * A string that goes into the RLMI document or a part header: no control
 * character (a CR or LF would end a MIME header, most are not XML 1.0),
 * well-formed UTF-8. need: may not be NULL nor empty.
 */
static int rl_text_ok(const char *s, int need)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n, k;

	if(s == NULL || *s == '\0')
		return !need;
	n = strlen(s);
	while(n > 0) {
		if(*p < 0x20 || *p == 0x7f)
			return 0;
		k = rl_utf8_len(p, n);
		if(k == 0)
			return 0;
		p += k;
		n -= k;
	}
	return 1;
}

/* a Content-Type of a member part: printable ASCII, no quote, no space */
static int rl_ctype_ok(const char *s)
{
	if(s == NULL || *s == '\0' || strchr(s, '/') == NULL)
		return 0;
	for(; *s; s++)
		if(*s <= 0x20 || *s >= 0x7f || *s == '"' || *s == '\\')
			return 0;
	return 1;
}

/* a reason: an RFC 6665 token */
static int rl_token_ok(const char *s)
{
	if(s == NULL || *s == '\0')
		return 0;
	for(; *s; s++)
		if(!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z')
				   || (*s >= '0' && *s <= '9') || strchr("-.!%*_+`'~", *s)))
			return 0;
	return 1;
}

/* a cid host: letters, digits, '.' and '-', not empty, bounded */
static const char *rl_host(const char *h)
{
	size_t i, n;

	if(h == NULL)
		return RL_DEFAULT_HOST;
	n = strlen(h);
	if(n == 0 || n > BLF_RLMI_HOST_MAX)
		return RL_DEFAULT_HOST;
	for(i = 0; i < n; i++)
		if(!((h[i] >= 'a' && h[i] <= 'z') || (h[i] >= 'A' && h[i] <= 'Z')
				   || (h[i] >= '0' && h[i] <= '9') || h[i] == '.'
				   || h[i] == '-'))
			return RL_DEFAULT_HOST;
	return h;
}

static int rl_member_ok(const blf_rlmi_member_t *m)
{
	if(!rl_text_ok(m->uri, 1) || !rl_text_ok(m->name, 0))
		return 0;
	if(m->state != BLF_RLMI_ACTIVE && m->state != BLF_RLMI_PENDING
			&& m->state != BLF_RLMI_TERMINATED)
		return 0;
	if(m->reason != NULL && !rl_token_ok(m->reason))
		return 0;
	if((m->body != NULL || m->small != NULL) && !rl_ctype_ok(m->ctype))
		return 0;
	return 1;
}

static int rl_args_ok(
		const blf_rlmi_list_t *l, const blf_rlmi_member_t *m, int n)
{
	int i;

	if(l == NULL || l->secret == NULL || n < 0 || (n > 0 && m == NULL))
		return 0;
	if(!rl_text_ok(l->uri, 1) || !rl_text_ok(l->name, 0))
		return 0;
	for(i = 0; i < n; i++)
		if(!rl_member_ok(&m[i]))
			return 0;
	return 1;
}

/* --- identifiers -------------------------------------------------------- */

int blf_rlmi_instance_id(const unsigned char *secret, const char *uri,
		unsigned int gen, char out[BLF_RLMI_ID_MAX])
{
	if(secret == NULL || uri == NULL || out == NULL)
		return EINVAL;
	rl_hex(rl_hash(secret, 'i', gen, uri, strlen(uri)), out);
	return 0;
}

static void rl_cid(const unsigned char *secret, char tag, const char *host,
		const char *uri, unsigned int gen, char out[BLF_RLMI_CID_MAX])
{
	rl_hex(rl_hash(secret, tag, gen, uri, strlen(uri)), out);
	out[16] = '@';
	strcpy(out + 17, rl_host(host)); /* bounded by rl_host */
}

/* a stand-in of the same length as any rl_hex() output, for a writer that
 * only measures: an identifier's bytes do not change a body's size, and
 * hashing them was most of what splitting a member's change cost */
static const char rl_hex_measure[] = "0000000000000000";

int blf_rlmi_member_cid(const unsigned char *secret, const char *host,
		const char *uri, unsigned int gen, char out[BLF_RLMI_CID_MAX])
{
	if(secret == NULL || uri == NULL || out == NULL)
		return EINVAL;
	rl_cid(secret, 'c', host, uri, gen, out);
	return 0;
}

static int rl_has(const char *hay, size_t n, const char *needle, size_t k)
{
	if(hay == NULL || n < k)
		return 0;
	/* (libc's search: every member body is searched once per NOTIFY) */
	return memmem(hay, n, needle, k) != NULL;
}

static int rl_str_has(const char *s, const char *b, size_t k)
{
	return s != NULL && rl_has(s, strlen(s), b, k);
}

/*
 * The boundary of the body with RLMI version v: the first try whose string
 * occurs in no input of the body (RFC 2046 section 5.1.1: it must not
 * occur in the encapsulated parts). Every member is checked, not only
 * those of this body, so the choice does not depend on the split.
 * Escaping cannot create an occurrence: the boundary's characters are
 * letters, digits and '-', and an entity starts with '&'.
 */
static int rl_boundary(const blf_rlmi_list_t *l, const blf_rlmi_member_t *m,
		int n, unsigned int v, char out[BLF_RLMI_BOUNDARY_MAX])
{
	char vs[4];
	size_t k, p = sizeof(RL_BOUNDARY_PREFIX) - 1;
	uint32_t t;
	int i, hit;

	vs[0] = (char)(v >> 24);
	vs[1] = (char)(v >> 16);
	vs[2] = (char)(v >> 8);
	vs[3] = (char)v;
	memcpy(out, RL_BOUNDARY_PREFIX, p);
	for(t = 0; t < RL_BOUNDARY_TRIES; t++) {
		rl_hex(rl_hash(l->secret, 'b', t, vs, 4), out + p);
		k = strlen(out);
		hit = rl_str_has(l->uri, out, k) || rl_str_has(l->name, out, k);
		for(i = 0; i < n && !hit; i++)
			hit = rl_str_has(m[i].uri, out, k) || rl_str_has(m[i].name, out, k)
				  || rl_has(m[i].body, m[i].body_len, out, k)
				  || rl_has(m[i].small, m[i].small_len, out, k);
		if(!hit)
			return 0;
	}
	return -1;
}

/* --- the writer --------------------------------------------------------- */

typedef struct rl_w {
	char *buf; /* NULL: measure only */
	size_t size;
	size_t pos; /* what has been written, or would have been */
} rl_w_t;

/* rl_cid() for what w writes: measuring needs its length only */
static void rl_cid_w(const rl_w_t *w, const unsigned char *secret, char tag,
		const char *host, const char *uri, unsigned int gen,
		char out[BLF_RLMI_CID_MAX])
{
	if(w->buf != NULL) {
		rl_cid(secret, tag, host, uri, gen, out);
		return;
	}
	memcpy(out, rl_hex_measure, 16);
	out[16] = '@';
	strcpy(out + 17, rl_host(host)); /* bounded by rl_host */
}

static void rl_put(rl_w_t *w, const char *s, size_t n)
{
	if(w->buf != NULL && w->pos < w->size)
		memcpy(w->buf + w->pos, s,
				(n < w->size - w->pos) ? n : w->size - w->pos);
	w->pos += n;
}

static void rl_puts(rl_w_t *w, const char *s)
{
	rl_put(w, s, strlen(s));
}

/* XML-escapes s; attr: also quotes */
static void rl_esc(rl_w_t *w, const char *s, int attr)
{
	const char *run = s;

	for(; *s; s++) {
		const char *e = NULL;

		switch(*s) {
			case '&':
				e = "&amp;";
				break;
			case '<':
				e = "&lt;";
				break;
			case '>':
				e = "&gt;";
				break;
			case '"':
				e = attr ? "&quot;" : NULL;
				break;
			case '\'':
				e = attr ? "&apos;" : NULL;
				break;
		}
		if(e != NULL) {
			rl_put(w, run, (size_t)(s - run));
			rl_puts(w, e);
			run = s + 1;
		}
	}
	rl_put(w, run, (size_t)(s - run));
}

/* --- the pieces of a body ------------------------------------------------ */

/* v in decimal into num (at least 10 bytes, not NUL-ended): its length */
static size_t rl_uint(char *num, unsigned int v)
{
	char t[10];
	size_t n = 0, i;

	do {
		t[n++] = (char)('0' + v % 10);
		v /= 10;
	} while(v && n < sizeof(t));
	for(i = 0; i < n; i++)
		num[i] = t[n - 1 - i];
	return n;
}

/* the first boundary line, the RLMI part's headers and <list ...> */
static void rl_head(rl_w_t *w, const blf_rlmi_list_t *l, unsigned int v,
		int full, const char *cid, const char *b)
{
	char num[16];

	rl_puts(w, "--");
	rl_puts(w, b);
	rl_puts(w, "\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <");
	rl_puts(w, cid);
	rl_puts(w, ">\r\nContent-Type: " RL_CT_RLMI "\r\n\r\n"
			   "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
			   "<list xmlns=\"urn:ietf:params:xml:ns:rlmi\" uri=\"");
	rl_esc(w, l->uri, 1);
	rl_puts(w, "\" version=\"");
	rl_put(w, num, rl_uint(num, v));
	rl_puts(w, full ? "\" fullState=\"true\">\n" : "\" fullState=\"false\">\n");
	if(l->name != NULL && l->name[0] != '\0') {
		rl_puts(w, "<name>");
		rl_esc(w, l->name, 0);
		rl_puts(w, "</name>\n");
	}
}

static const char *rl_part_body(
		const blf_rlmi_member_t *m, blf_rlmi_mode_t mode, size_t *len)
{
	if(mode == BLF_RLMI_PART && m->body != NULL) {
		*len = m->body_len;
		return m->body;
	}
	if(mode == BLF_RLMI_SMALL && m->small != NULL) {
		*len = m->small_len;
		return m->small;
	}
	*len = 0;
	return NULL;
}

/* <resource> with its <instance> (inst) or none (a skeleton entry) */
static void rl_resource(rl_w_t *w, const blf_rlmi_list_t *l,
		const blf_rlmi_member_t *m, blf_rlmi_mode_t mode, int inst)
{
	char id[BLF_RLMI_ID_MAX], cid[BLF_RLMI_CID_MAX];
	size_t blen;

	rl_puts(w, "<resource uri=\"");
	rl_esc(w, m->uri, 1);
	rl_puts(w, "\">\n");
	if(m->name != NULL && m->name[0] != '\0') {
		rl_puts(w, "<name>");
		rl_esc(w, m->name, 0);
		rl_puts(w, "</name>\n");
	}
	if(inst) {
		if(w->buf != NULL)
			blf_rlmi_instance_id(l->secret, m->uri, m->gen, id);
		else
			memcpy(id, rl_hex_measure, sizeof(rl_hex_measure));
		rl_puts(w, "<instance id=\"");
		rl_puts(w, id);
		rl_puts(w, "\" state=\"");
		rl_puts(w, blf_rlmi_state_name(m->state));
		rl_puts(w, "\"");
		if(m->state == BLF_RLMI_TERMINATED && m->reason != NULL) {
			rl_puts(w, " reason=\"");
			rl_puts(w, m->reason); /* a token: nothing to escape */
			rl_puts(w, "\"");
		}
		if(rl_part_body(m, mode, &blen) != NULL) {
			rl_cid_w(w, l->secret, 'c', l->host, m->uri, m->gen, cid);
			rl_puts(w, " cid=\"");
			rl_puts(w, cid);
			rl_puts(w, "\"");
		}
		rl_puts(w, "/>\n");
	}
	rl_puts(w, "</resource>\n");
}

/* a member's part (nothing when it has none in this mode) */
static void rl_part(rl_w_t *w, const blf_rlmi_list_t *l,
		const blf_rlmi_member_t *m, blf_rlmi_mode_t mode, const char *b)
{
	char cid[BLF_RLMI_CID_MAX];
	const char *body;
	size_t blen;

	body = rl_part_body(m, mode, &blen);
	if(body == NULL)
		return;
	rl_cid_w(w, l->secret, 'c', l->host, m->uri, m->gen, cid);
	rl_puts(w, "\r\n--");
	rl_puts(w, b);
	rl_puts(w, "\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <");
	rl_puts(w, cid);
	rl_puts(w, ">\r\nContent-Type: ");
	rl_puts(w, m->ctype);
	rl_puts(w, "\r\n\r\n");
	rl_put(w, body, blen);
}

static void rl_tail(rl_w_t *w, const char *b)
{
	rl_puts(w, "\r\n--");
	rl_puts(w, b);
	rl_puts(w, "--\r\n");
}

/* --- splitting ---------------------------------------------------------- */

/* the mode a member's own data allows: a member without a body is bare */
static blf_rlmi_mode_t rl_mode(const blf_rlmi_member_t *m, blf_rlmi_mode_t want)
{
	if(want == BLF_RLMI_PART && m->body != NULL)
		return BLF_RLMI_PART;
	if(want != BLF_RLMI_BARE && m->small != NULL)
		return BLF_RLMI_SMALL;
	return BLF_RLMI_BARE;
}

/* bytes member m adds to a body: its resource (instance or not) + part */
static size_t rl_cost(const blf_rlmi_list_t *l, const blf_rlmi_member_t *m,
		blf_rlmi_mode_t mode, int inst)
{
	static const char b[] = RL_BOUNDARY_PREFIX "0123456789abcdef";
	rl_w_t w = {NULL, 0, 0};

	rl_resource(&w, l, m, mode, inst);
	if(inst)
		rl_part(&w, l, m, mode, b);
	return w.pos;
}

/* the frame of any body: the largest version, fullState="false" */
static size_t rl_frame(const blf_rlmi_list_t *l)
{
	static const char b[] = RL_BOUNDARY_PREFIX "0123456789abcdef";
	char cid[BLF_RLMI_CID_MAX];
	rl_w_t w = {NULL, 0, 0};

	rl_cid_w(&w, l->secret, 'r', l->host, l->uri, 0, cid);
	rl_head(&w, l, 4294967295U, 0, cid, b);
	rl_puts(&w, "</list>\n");
	rl_tail(&w, b);
	return w.pos;
}

int blf_rlmi_split(const blf_rlmi_list_t *l, const blf_rlmi_member_t *m, int n,
		size_t max, blf_rlmi_slot_t *slots, int *nbodies)
{
	size_t frame, used, skel, c;
	int i, body, first_out;

	if(!rl_args_ok(l, m, n) || nbodies == NULL || (n > 0 && slots == NULL))
		return EINVAL;
	if(max < BLF_RLMI_MIN_MAX)
		return E2BIG;
	frame = rl_frame(l);
	if(frame >= max)
		return E2BIG;
	/* the common case first (a member's change, a list that fits): every
	 * member whole in body 0, each cost measured once. It is what the
	 * layout below gives then: each member fits alone in its richest mode,
	 * the resources without instances (full state) cost less than with,
	 * and greedy filling never starts a second body */
	used = frame;
	for(i = 0; i < n && used <= max; i++)
		used += rl_cost(l, &m[i], rl_mode(&m[i], BLF_RLMI_PART), 1);
	if(used <= max) {
		for(i = 0; i < n; i++) {
			slots[i].mode = rl_mode(&m[i], BLF_RLMI_PART);
			slots[i].body = 0;
			slots[i].listed = 0;
		}
		*nbodies = 1;
		return 0;
	}
	/* each member's mode: the richest that fits a body of its own */
	skel = frame;
	for(i = 0; i < n; i++) {
		blf_rlmi_mode_t md = rl_mode(&m[i], BLF_RLMI_PART);

		while(frame + rl_cost(l, &m[i], md, 1) > max && md != BLF_RLMI_BARE)
			md = rl_mode(&m[i], (blf_rlmi_mode_t)(md + 1));
		if(frame + rl_cost(l, &m[i], md, 1) > max)
			return E2BIG;
		slots[i].mode = md;
		slots[i].body = 0;
		slots[i].listed = 0;
		skel += rl_cost(l, &m[i], md, 0);
	}
	*nbodies = 1;
	first_out = 0;
	if(l->full && skel <= max) {
		/* body 0 lists everyone; fill it with whole members in order */
		used = skel;
		for(i = 0; i < n; i++) {
			c = rl_cost(l, &m[i], slots[i].mode, 1)
				- rl_cost(l, &m[i], slots[i].mode, 0);
			if(used + c > max)
				break;
			used += c;
		}
		first_out = i;
		for(; i < n; i++)
			slots[i].listed = 1;
		body = 1;
		used = frame;
		i = first_out;
		if(i == n)
			return 0;
	} else {
		body = 0;
		used = frame;
		i = 0;
	}
	for(; i < n; i++) {
		c = rl_cost(l, &m[i], slots[i].mode, 1);
		if(used + c > max && used > frame) {
			body++;
			used = frame;
		}
		used += c;
		slots[i].body = body;
	}
	*nbodies = (n > 0) ? body + 1 : 1;
	return 0;
}

/* --- rendering ---------------------------------------------------------- */

static int rl_slot_ok(const blf_rlmi_slot_t *s)
{
	return s->body >= 0
		   && (s->mode == BLF_RLMI_PART || s->mode == BLF_RLMI_SMALL
				   || s->mode == BLF_RLMI_BARE);
}

int blf_rlmi_render(const blf_rlmi_list_t *l, const blf_rlmi_member_t *m, int n,
		const blf_rlmi_slot_t *slots, int k, char *buf, size_t size,
		size_t *len)
{
	char b[BLF_RLMI_BOUNDARY_MAX], cid[BLF_RLMI_CID_MAX];
	rl_w_t w = {buf, size, 0};
	blf_rlmi_mode_t md;
	unsigned int v;
	int i;

	if(len != NULL)
		*len = 0;
	if(!rl_args_ok(l, m, n) || len == NULL || k < 0
			|| (slots == NULL && k != 0))
		return EINVAL;
	for(i = 0; slots != NULL && i < n; i++)
		if(!rl_slot_ok(&slots[i]))
			return EINVAL;
	v = l->version + (unsigned int)k;
	if(rl_boundary(l, m, n, v, b) < 0)
		return EINVAL;
	rl_cid_w(&w, l->secret, 'r', l->host, l->uri, 0, cid);
	rl_head(&w, l, v, l->full && k == 0, cid, b);
	for(i = 0; i < n; i++) {
		md = slots ? slots[i].mode : rl_mode(&m[i], BLF_RLMI_PART);
		if(slots == NULL || slots[i].body == k)
			rl_resource(&w, l, &m[i], md, 1);
		else if(k == 0 && slots[i].listed)
			rl_resource(&w, l, &m[i], md, 0);
	}
	rl_puts(&w, "</list>\n");
	for(i = 0; i < n; i++) {
		md = slots ? slots[i].mode : rl_mode(&m[i], BLF_RLMI_PART);
		if(slots == NULL || slots[i].body == k)
			rl_part(&w, l, &m[i], md, b);
	}
	rl_tail(&w, b);
	*len = w.pos;
	if(buf == NULL || w.pos > size)
		return ENOSPC;
	if(w.pos < size)
		buf[w.pos] = '\0';
	return 0;
}

int blf_rlmi_ctype(const blf_rlmi_list_t *l, const blf_rlmi_member_t *m, int n,
		const blf_rlmi_slot_t *slots, int k, char *buf, size_t size)
{
	char b[BLF_RLMI_BOUNDARY_MAX], cid[BLF_RLMI_CID_MAX];
	int r;

	(void)slots;
	if(!rl_args_ok(l, m, n) || buf == NULL || k < 0)
		return -1;
	if(rl_boundary(l, m, n, l->version + (unsigned int)k, b) < 0)
		return -1;
	rl_cid(l->secret, 'r', l->host, l->uri, 0, cid);
	r = snprintf(buf, size,
			"multipart/related;type=\"application/rlmi+xml\";"
			"start=\"<%s>\";boundary=\"%s\"",
			cid, b);
	if(r < 0 || (size_t)r >= size)
		return -1;
	return r;
}

int blf_rlmi_ctype_of(const char *body, size_t len, char *buf, size_t size)
{
	static const char mid[] =
			"\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <";
	static const char c1[] =
			"multipart/related;type=\"application/rlmi+xml\";start=\"<";
	static const char c2[] = ">\";boundary=\"";
	const char *b, *e, *cid, *ce;
	char *p;
	size_t bl, cl;
	int r;

	if(body == NULL || buf == NULL || len < 2 || body[0] != '-'
			|| body[1] != '-')
		return -1;
	b = body + 2;
	e = memchr(b, '\r', len - 2);
	if(e == NULL || (bl = (size_t)(e - b)) == 0 || bl >= BLF_RLMI_BOUNDARY_MAX
			|| (size_t)(body + len - e) < sizeof(mid) - 1
			|| memcmp(e, mid, sizeof(mid) - 1) != 0)
		return -1;
	cid = e + sizeof(mid) - 1;
	ce = memchr(cid, '>', (size_t)(body + len - cid));
	if(ce == NULL || (cl = (size_t)(ce - cid)) == 0 || cl >= BLF_RLMI_CID_MAX)
		return -1;
	/* the bytes of snprintf("...start=\"<%.*s>\";boundary=\"%.*s\"") by
	 * copies (once per list NOTIFY) */
	r = (int)(sizeof(c1) - 1 + cl + sizeof(c2) - 1 + bl + 1);
	if((size_t)r >= size)
		return -1;
	p = buf;
	memcpy(p, c1, sizeof(c1) - 1);
	p += sizeof(c1) - 1;
	memcpy(p, cid, cl);
	p += cl;
	memcpy(p, c2, sizeof(c2) - 1);
	p += sizeof(c2) - 1;
	memcpy(p, b, bl);
	p += bl;
	*p++ = '"';
	*p = '\0';
	return r;
}

const char *blf_rlmi_state_name(blf_rlmi_state_t s)
{
	switch(s) {
		case BLF_RLMI_ACTIVE:
			return "active";
		case BLF_RLMI_PENDING:
			return "pending";
		case BLF_RLMI_TERMINATED:
			return "terminated";
	}
	return "terminated";
}
