/*
 * blf_sipscan.c — reads the few fields of a SIP reply that match it to a
 * NOTIFY, in place (see blf_sipscan.h).
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>
#include <strings.h>

#include "blf_sipcheck.h"
#include "blf_sipscan.h"

/* at most this many header lines are read before giving up */
#define BLF_SCAN_LINES_MAX 64

enum { BLF_H_VIA = 0, BLF_H_CALLID, BLF_H_CSEQ, BLF_H_FROM, BLF_H_TO, BLF_H_N };

static int blf_scan_ws(char c)
{
	return c == ' ' || c == '\t';
}

/* which of the headers we read name[0..n) is (long or compact form) */
static int blf_scan_name(const char *s, int n)
{
	if(n == 1) {
		switch(s[0] | 0x20) {
			case 'v':
				return BLF_H_VIA;
			case 'i':
				return BLF_H_CALLID;
			case 'f':
				return BLF_H_FROM;
			case 't':
				return BLF_H_TO;
		}
		return -1;
	}
	if(n == 3 && strncasecmp(s, "via", 3) == 0)
		return BLF_H_VIA;
	if(n == 7 && strncasecmp(s, "call-id", 7) == 0)
		return BLF_H_CALLID;
	if(n == 4 && strncasecmp(s, "cseq", 4) == 0)
		return BLF_H_CSEQ;
	if(n == 4 && strncasecmp(s, "from", 4) == 0)
		return BLF_H_FROM;
	if(n == 2 && strncasecmp(s, "to", 2) == 0)
		return BLF_H_TO;
	return -1;
}

/* the branch parameter of the first via-parm of a Via value */
static int blf_scan_via(const char *v, int n, blf_sipscan_t *o)
{
	int i, j, e;

	if(memchr(v, '"', n) != NULL)
		return -1; /* a quoted parameter: the core's parser */
	for(e = 0; e < n && v[e] != ','; e++)
		;
	for(i = 0; i < e; i++) {
		if(v[i] != ';')
			continue;
		for(j = i + 1; j < e && blf_scan_ws(v[j]); j++)
			;
		if(e - j >= 6 && strncasecmp(v + j, "branch", 6) == 0) {
			j += 6;
			while(j < e && blf_scan_ws(v[j]))
				j++;
			if(j >= e || v[j] != '=')
				continue;
			j++;
			while(j < e && blf_scan_ws(v[j]))
				j++;
			o->branch = v + j;
			for(o->branch_len = 0; j < e && v[j] != ';' && !blf_scan_ws(v[j]);
					j++)
				o->branch_len++;
			return o->branch_len > 0 ? 0 : -1;
		}
	}
	return -1;
}

static int blf_scan_cseq(const char *v, int n, blf_sipscan_t *o)
{
	unsigned long long c = 0;
	int i = 0, d = 0;

	while(i < n && v[i] >= '0' && v[i] <= '9' && d < 11) {
		c = c * 10 + (unsigned long long)(v[i] - '0');
		i++;
		d++;
	}
	if(d == 0 || d > 10 || c > 0xffffffffull || i >= n || !blf_scan_ws(v[i]))
		return -1;
	while(i < n && blf_scan_ws(v[i]))
		i++;
	o->cseq = (unsigned int)c;
	o->cseq_notify = (n - i == 6 && memcmp(v + i, "NOTIFY", 6) == 0);
	return 0;
}

int blf_sipscan_reply(const char *buf, int len, blf_sipscan_t *o)
{
	const char *p, *end, *eol, *colon, *v;
	int seen = 0, h, lines = 0, vn;

	if(buf == NULL || len < 12 || o == NULL)
		return -1;
	memset(o, 0, sizeof(*o));
	end = buf + len;
	/* "SIP/2.0 ddd " */
	if(memcmp(buf, "SIP/2.0 ", 8) != 0 || buf[8] < '1' || buf[8] > '6'
			|| buf[9] < '0' || buf[9] > '9' || buf[10] < '0' || buf[10] > '9'
			|| buf[11] != ' ')
		return -1;
	o->code = (buf[8] - '0') * 100 + (buf[9] - '0') * 10 + (buf[10] - '0');
	p = memchr(buf, '\n', len);
	if(p == NULL)
		return -1;
	p++;
	while(seen != (1 << BLF_H_N) - 1) {
		if(p >= end || ++lines > BLF_SCAN_LINES_MAX)
			return -1;
		eol = memchr(p, '\n', end - p);
		if(eol == NULL)
			return -1; /* a line the datagram cuts: the core's parser */
		/* the end of the headers before all were seen; or a folded line */
		if(*p == '\r' || *p == '\n' || blf_scan_ws(*p))
			return -1;
		if(eol + 1 < end && blf_scan_ws(eol[1]))
			return -1; /* the next line continues this one */
		colon = memchr(p, ':', eol - p);
		if(colon == NULL)
			return -1;
		for(vn = (int)(colon - p); vn > 0 && blf_scan_ws(p[vn - 1]); vn--)
			;
		h = blf_scan_name(p, vn);
		if(h >= 0) {
			v = colon + 1;
			vn = (int)(eol - v);
			while(vn > 0 && blf_scan_ws(*v)) {
				v++;
				vn--;
			}
			while(vn > 0 && (blf_scan_ws(v[vn - 1]) || v[vn - 1] == '\r'))
				vn--;
			if(seen & (1 << h)) {
				if(h != BLF_H_VIA)
					return -1; /* twice: the core's parser decides */
			} else {
				switch(h) {
					case BLF_H_VIA:
						if(blf_scan_via(v, vn, o) < 0)
							return -1;
						break;
					case BLF_H_CALLID:
						if(vn == 0 || memchr(v, ' ', vn) || memchr(v, '\t', vn))
							return -1;
						o->callid = v;
						o->callid_len = vn;
						break;
					case BLF_H_CSEQ:
						if(blf_scan_cseq(v, vn, o) < 0)
							return -1;
						break;
					case BLF_H_FROM:
						if(blf_sip_hdr_tag(v, vn, &o->ftag, &o->ftag_len) != 0)
							return -1;
						break;
					case BLF_H_TO:
						if(blf_sip_hdr_tag(v, vn, &o->ttag, &o->ttag_len) != 0)
							return -1;
						break;
				}
				seen |= 1 << h;
			}
		}
		p = eol + 1;
	}
	return 0;
}

/* ---- the rest of a SUBSCRIBE's headers ---- */

enum {
	BLF_R_OTHER = 0,
	BLF_R_CORE, /* copied into the reply or parsed by the core: not here */
	BLF_R_EVENT,
	BLF_R_EXPIRES,
	BLF_R_CONTACT,
	BLF_R_ACCEPT,
	BLF_R_SUPPORTED,
	BLF_R_CLEN,
	BLF_R_MAXFWD
};

static int blf_scan_is(const char *s, int n, const char *name, int nlen)
{
	return n == nlen && strncasecmp(s, name, nlen) == 0;
}

/* which header name[0..n) is, for a SUBSCRIBE (long or compact form) */
static int blf_scan_req_name(const char *s, int n)
{
	if(n == 1) {
		switch(s[0] | 0x20) {
			case 'v': /* Via */
			case 'f': /* From */
			case 't': /* To */
			case 'i': /* Call-ID */
				return BLF_R_CORE;
			case 'o':
				return BLF_R_EVENT;
			case 'm':
				return BLF_R_CONTACT;
			case 'k':
				return BLF_R_SUPPORTED;
			case 'l':
				return BLF_R_CLEN;
		}
		return BLF_R_OTHER;
	}
	if(blf_scan_is(s, n, "via", 3) || blf_scan_is(s, n, "from", 4)
			|| blf_scan_is(s, n, "to", 2) || blf_scan_is(s, n, "call-id", 7)
			|| blf_scan_is(s, n, "cseq", 4)
			|| blf_scan_is(s, n, "record-route", 12)
			/* parsed as the core reads the line: a bad one fails it */
			|| blf_scan_is(s, n, "retry-after", 11))
		return BLF_R_CORE;
	if(blf_scan_is(s, n, "event", 5))
		return BLF_R_EVENT;
	if(blf_scan_is(s, n, "expires", 7))
		return BLF_R_EXPIRES;
	if(blf_scan_is(s, n, "contact", 7))
		return BLF_R_CONTACT;
	if(blf_scan_is(s, n, "accept", 6))
		return BLF_R_ACCEPT;
	if(blf_scan_is(s, n, "supported", 9))
		return BLF_R_SUPPORTED;
	if(blf_scan_is(s, n, "content-length", 14))
		return BLF_R_CLEN;
	if(blf_scan_is(s, n, "max-forwards", 12))
		return BLF_R_MAXFWD;
	return BLF_R_OTHER;
}

/*
 * 1 when name[0..n) is a header name the core's parser takes: letters,
 * digits and "-._+~" (parse_hname2.c; its hdr_name_extra_chars parameter
 * may add more, which then go to the core). A token (RFC 3261) may also
 * hold "!%*`'": the core refuses such a line, so blf must not read the
 * message in place and accept it.
 */
static int blf_scan_hname_ok(const char *s, int n)
{
	int i;
	char c;

	if(n <= 0)
		return 0;
	for(i = 0; i < n; i++) {
		c = s[i];
		if(!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
				   || (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_'
				   || c == '+' || c == '~'))
			return 0;
	}
	return 1;
}

int blf_sipscan_req_rest(const char *p, const char *end, blf_reqscan_t *o)
{
	const char *eol, *colon, *v;
	int lines = 0, h, vn, nn, i;

	if(p == NULL || end == NULL || o == NULL || p > end)
		return -1;
	memset(o, 0, sizeof(*o));
	for(;;) {
		if(p >= end || ++lines > BLF_SCAN_LINES_MAX)
			return -1;
		eol = memchr(p, '\n', end - p);
		if(eol == NULL)
			return -1; /* a line the datagram cuts */
		if(*p == '\n' || (*p == '\r' && eol == p + 1))
			return 0; /* the empty line: the end of the headers */
		if(*p == '\r' || blf_scan_ws(*p))
			return -1;
		if(eol + 1 < end && blf_scan_ws(eol[1]))
			return -1; /* the next line continues this one */
		colon = memchr(p, ':', eol - p);
		if(colon == NULL)
			return -1;
		for(nn = (int)(colon - p); nn > 0 && blf_scan_ws(p[nn - 1]); nn--)
			;
		if(!blf_scan_hname_ok(p, nn))
			return -1;
		v = colon + 1;
		vn = (int)(eol - v);
		while(vn > 0 && blf_scan_ws(*v)) {
			v++;
			vn--;
		}
		/* the CR of CRLF, then white space (the core keeps that in a
		 * body, its readers skip it); any other CR is a bare one: the
		 * core drops only CRs at the end (trim_r), so "a\r\t\r" would be
		 * "a\r\t" there */
		if(vn > 0 && v[vn - 1] == '\r')
			vn--;
		while(vn > 0 && blf_scan_ws(v[vn - 1]))
			vn--;
		if(memchr(v, '\r', vn) != NULL || memchr(v, '\0', vn) != NULL)
			return -1; /* a bare CR or a NUL inside a value */
		h = blf_scan_req_name(p, nn);
		switch(h) {
			case BLF_R_CORE:
				return -1;
			case BLF_R_EVENT:
				if(o->event)
					return -1;
				o->event = v;
				o->event_len = vn;
				break;
			case BLF_R_EXPIRES:
				if(o->expires)
					return -1;
				o->expires = v;
				o->expires_len = vn;
				break;
			case BLF_R_CONTACT:
				if(o->contact)
					return -1;
				o->contact = v;
				o->contact_len = vn;
				break;
			case BLF_R_ACCEPT:
				if(o->naccept == BLF_SCAN_ACCEPT_MAX)
					return -1;
				o->accept[o->naccept] = v;
				o->accept_len[o->naccept++] = vn;
				break;
			case BLF_R_SUPPORTED:
				if(blf_sip_supported_eventlist(v, vn))
					o->evlist = 1;
				break;
			case BLF_R_CLEN:
				/* the core's parser refuses a second Content-Length (its
				 * strict mode, the default: a message framed two ways)
				 * and a value of INT_MAX/10 before the last digit */
				if(o->clen || vn == 0 || vn > 9)
					return -1;
				o->clen = 1;
				for(i = 0; i < vn; i++)
					if(v[i] < '0' || v[i] > '9')
						return -1;
				break;
			case BLF_R_MAXFWD:
				/* the core refuses a second Max-Forwards */
				if(o->maxfwd)
					return -1;
				o->maxfwd = 1;
				break;
			default:
				break;
		}
		p = eol + 1;
	}
}
