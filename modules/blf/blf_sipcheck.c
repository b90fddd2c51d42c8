/*
 * blf_sipcheck.c — checks of SUBSCRIBE input, pure (see blf_sipcheck.h).
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "blf_sipcheck.h"

/* RFC 3261 25.1: token characters besides alphanumerics */
static int blf_tok_c(unsigned char c)
{
	if((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
			|| (c >= '0' && c <= '9'))
		return 1;
	return c != 0 && strchr("-.!%*_+`'~", c) != NULL;
}

int blf_sip_is_token(const char *s, int len)
{
	int i;

	if(s == NULL || len <= 0)
		return 0;
	for(i = 0; i < len; i++)
		if(!blf_tok_c((unsigned char)s[i]))
			return 0;
	return 1;
}

/* visible ASCII (0x21..0x7e) not in stop */
static int blf_visible_except(const char *s, int len, const char *stop)
{
	int i;

	if(s == NULL || len <= 0)
		return 0;
	for(i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if(c < 0x21 || c > 0x7e || (*stop && strchr(stop, c) != NULL))
			return 0;
	}
	return 1;
}

int blf_sip_is_callid(const char *s, int len)
{
	return blf_visible_except(s, len, "");
}

int blf_sip_is_tag(const char *s, int len)
{
	return blf_visible_except(s, len, ";,<>\"\\");
}

/* ---- Accept ---- */

void blf_accept_init(blf_accept_st_t *st)
{
	blf_accept_init_type(st, "application/dialog-info+xml");
}

int blf_accept_init_type(blf_accept_st_t *st, const char *mtype)
{
	const char *sl = mtype ? strchr(mtype, '/') : NULL;

	st->seen = 0;
	st->spec = 0;
	st->q = 0;
	/* a type that is not "type/subtype" matches nothing but * / * */
	st->type = mtype ? mtype : "";
	st->tlen = sl ? (int)(sl - mtype) : 0;
	st->sub = sl ? sl + 1 : "";
	st->slen = sl ? (int)strlen(sl + 1) : 0;
	if(st->tlen == 0 || st->slen == 0) {
		st->tlen = st->slen = -1;
		return -1;
	}
	return 0;
}

static int blf_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* the token at s[*i], *i moves past it; length 0 when there is none */
static int blf_tok_at(const char *s, int len, int *i)
{
	int b = *i;

	while(*i < len && blf_tok_c((unsigned char)s[*i]))
		(*i)++;
	return *i - b;
}

static void blf_skip_ws(const char *s, int len, int *i)
{
	while(*i < len && blf_ws(s[*i]))
		(*i)++;
}

/* RFC 3261 qvalue: "0" ["." 0*3DIGIT] / "1" ["." 0*3("0")]; -1 if not */
static int blf_qvalue(const char *s, int len)
{
	int q, i, m = 100;

	if(len < 1 || len > 5 || (s[0] != '0' && s[0] != '1'))
		return -1;
	q = (s[0] - '0') * 1000;
	if(len == 1)
		return q;
	if(s[1] != '.')
		return -1;
	for(i = 2; i < len; i++, m /= 10) {
		if(s[i] < '0' || s[i] > '9')
			return -1;
		q += (s[i] - '0') * m;
	}
	return q > 1000 ? -1 : q;
}

/* skips to the comma ending this element (quoted strings respected) */
static void blf_skip_elem(const char *s, int len, int *i)
{
	int quoted = 0;

	for(; *i < len; (*i)++) {
		if(quoted) {
			if(s[*i] == '\\' && *i + 1 < len)
				(*i)++;
			else if(s[*i] == '"')
				quoted = 0;
		} else if(s[*i] == '"') {
			quoted = 1;
		} else if(s[*i] == ',') {
			return;
		}
	}
}

/*
 * One media range at s[*i]: 0 and its specificity and q, or -1 when it is
 * malformed. *i ends on the comma after it (or len).
 */
static int blf_range(const blf_accept_st_t *acc, const char *s, int len,
		int *i, int *spec, int *q)
{
	const char *app = acc->type, *sub = acc->sub;
	int apl = acc->tlen, sbl = acc->slen;
	const char *ty, *st, *pn;
	int tl, sl, pl, vl, qv;

	*q = 1000;
	blf_skip_ws(s, len, i);
	ty = s + *i;
	tl = blf_tok_at(s, len, i);
	blf_skip_ws(s, len, i);
	if(tl == 0 || *i >= len || s[*i] != '/')
		return -1;
	(*i)++;
	blf_skip_ws(s, len, i);
	st = s + *i;
	sl = blf_tok_at(s, len, i);
	if(sl == 0)
		return -1;
	if(tl == 1 && ty[0] == '*')
		*spec = (sl == 1 && st[0] == '*') ? 1 : -1; /* * / x is invalid */
	else if(tl == apl && strncasecmp(ty, app, tl) == 0)
		*spec = (sl == 1 && st[0] == '*')
						? 2
						: ((sl == sbl && strncasecmp(st, sub, sl) == 0)
										  ? 3
										  : 0);
	else
		*spec = 0;
	if(*spec < 0)
		return -1;
	for(;;) {
		blf_skip_ws(s, len, i);
		if(*i >= len || s[*i] == ',')
			return 0;
		if(s[*i] != ';')
			return -1;
		(*i)++;
		blf_skip_ws(s, len, i);
		pn = s + *i;
		pl = blf_tok_at(s, len, i);
		if(pl == 0)
			return -1;
		blf_skip_ws(s, len, i);
		if(*i >= len || s[*i] != '=') {
			if(pl == 1 && (pn[0] == 'q' || pn[0] == 'Q'))
				return -1; /* q without a value */
			continue;
		}
		(*i)++;
		blf_skip_ws(s, len, i);
		if(*i < len && s[*i] == '"') {
			/* quoted-string value */
			for((*i)++; *i < len && s[*i] != '"'; (*i)++)
				if(s[*i] == '\\' && *i + 1 < len)
					(*i)++;
			if(*i >= len)
				return -1;
			(*i)++;
			if(pl == 1 && (pn[0] == 'q' || pn[0] == 'Q'))
				return -1;
			continue;
		}
		vl = blf_tok_at(s, len, i);
		if(vl == 0)
			return -1;
		if(pl == 1 && (pn[0] == 'q' || pn[0] == 'Q')) {
			qv = blf_qvalue(s + *i - vl, vl);
			if(qv < 0)
				return -1;
			*q = qv;
		}
	}
}

void blf_accept_add(blf_accept_st_t *st, const char *s, int len)
{
	int i = 0, spec, q;

	st->seen = 1;
	if(s == NULL || len <= 0)
		return;
	while(i < len) {
		spec = 0;
		if(blf_range(st, s, len, &i, &spec, &q) < 0) {
			blf_skip_elem(s, len, &i);
		} else if(spec > 0
				  && (spec > st->spec || (spec == st->spec && q > st->q))) {
			st->spec = spec;
			st->q = q;
		}
		if(i < len && s[i] == ',')
			i++;
		else if(i < len) /* cannot happen: both paths end on a comma */
			blf_skip_elem(s, len, &i);
	}
}

int blf_accept_ok(const blf_accept_st_t *st)
{
	if(!st->seen)
		return 1;
	return st->spec > 0 && st->q > 0;
}

/* RFC 3986: unreserved, sub-delims and the gen-delims an opaque URI may
 * carry (":/?#@"), and '%' of an existing escape */
static int blf_uri_c(unsigned char c)
{
	if((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
			|| (c >= '0' && c <= '9'))
		return 1;
	return c != 0 && strchr("-._~:/?#@!$&'()*+,;=%", c) != NULL;
}

int blf_uri_pct_encode(const char *s, int len, char *buf, int size)
{
	static const char hex[] = "0123456789ABCDEF";
	int i, o = 0;

	if(s == NULL || len < 0 || buf == NULL || size <= 0)
		return -1;
	for(i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		/* a '%' that starts no escape is a character of its own */
		if(c == '%'
				&& !(i + 2 < len && isxdigit((unsigned char)s[i + 1])
						&& isxdigit((unsigned char)s[i + 2])))
			c = 0;
		if(c != 0 && blf_uri_c(c)) {
			if(o + 1 >= size)
				return -1;
			buf[o++] = (char)c;
		} else {
			if(o + 3 >= size)
				return -1;
			buf[o++] = '%';
			c = (unsigned char)s[i];
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		}
	}
	buf[o] = '\0';
	return o;
}

/* s[i] is RFC 3261 LWS-ish white space */
static int blf_sip_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

/* past a quoted string starting at s[i] == '"': the index after the
 * closing quote, or -1 when it is not closed */
static int blf_sip_skip_quoted(const char *s, int len, int i)
{
	for(i++; i < len; i++) {
		if(s[i] == '\\') {
			if(++i >= len)
				return -1;
		} else if(s[i] == '"')
			return i + 1;
	}
	return -1;
}

int blf_sip_hdr_tag(const char *s, int len, const char **tag, int *tlen)
{
	int i = 0, j, lt = -1, nlen;

	if(s == NULL || len < 0 || tag == NULL || tlen == NULL)
		return -1;
	/* the name-addr's '<' (outside a quoted display name), if any */
	for(j = 0; j < len; j++) {
		if(s[j] == '"') {
			if((j = blf_sip_skip_quoted(s, len, j)) < 0)
				return -1;
			j--;
		} else if(s[j] == '<') {
			lt = j;
			break;
		} else if(s[j] == ';' || s[j] == ',')
			break; /* a bare addr-spec: no display name before it */
	}
	if(lt >= 0) {
		for(i = lt + 1; i < len && s[i] != '>'; i++)
			;
		if(i >= len)
			return -1;
		i++;
	} else {
		/* a bare addr-spec: the URI ends at the first ';' (its
		 * parameters are the header's) or white space */
		while(i < len && blf_sip_ws(s[i]))
			i++;
		while(i < len && s[i] != ';' && !blf_sip_ws(s[i]))
			i++;
	}
	/* the header parameters: *( SEMI name [ EQUAL value ] ) */
	for(;;) {
		while(i < len && blf_sip_ws(s[i]))
			i++;
		if(i >= len)
			return 1;
		if(s[i] != ';')
			return -1;
		i++;
		while(i < len && blf_sip_ws(s[i]))
			i++;
		for(j = i; j < len && s[j] != '=' && s[j] != ';' && !blf_sip_ws(s[j]);
				j++)
			;
		nlen = j - i;
		while(j < len && blf_sip_ws(s[j]))
			j++;
		if(j < len && s[j] == '=') {
			int vs, ve;
			j++;
			while(j < len && blf_sip_ws(s[j]))
				j++;
			vs = j;
			if(j < len && s[j] == '"') {
				if((j = blf_sip_skip_quoted(s, len, j)) < 0)
					return -1;
			} else
				while(j < len && s[j] != ';' && !blf_sip_ws(s[j]))
					j++;
			ve = j;
			if(nlen == 3 && strncasecmp(s + i, "tag", 3) == 0) {
				*tag = s + vs;
				*tlen = ve - vs;
				return 0;
			}
		} else if(nlen == 3 && strncasecmp(s + i, "tag", 3) == 0) {
			*tag = s + j; /* ";tag" without a value: an empty tag */
			*tlen = 0;
			return 0;
		}
		if(nlen == 0)
			return -1;
		i = j;
	}
}

int blf_sip_supported_eventlist(const char *s, int len)
{
	int i, j;

	for(i = 0; i + 9 <= len; i++) {
		if(strncasecmp(s + i, "eventlist", 9) != 0)
			continue;
		j = i + 9;
		if((i == 0 || s[i - 1] == ',' || s[i - 1] == ' ' || s[i - 1] == '\t')
				&& (j == len || s[j] == ',' || s[j] == ' ' || s[j] == '\t'
						|| s[j] == '\r'))
			return 1;
	}
	return 0;
}

/* a quoted string at s[i] without a backslash or a control character: the
 * index after its closing quote, or -1 */
static int blf_na_quoted(const char *s, int len, int i)
{
	for(i++; i < len; i++) {
		if(s[i] == '"')
			return i + 1;
		if(s[i] == '\\' || (unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return -1;
	}
	return -1;
}

static int blf_na_ws(char c)
{
	return c == ' ' || c == '\t';
}

int blf_sip_nameaddr_simple(const char *s, int len, const char **uri,
		int *ulen, const char **tag, int *tlen)
{
	int i = 0, j, n, v;

	if(s == NULL || len <= 0 || uri == NULL || ulen == NULL || tag == NULL
			|| tlen == NULL)
		return -1;
	*tag = NULL;
	*tlen = 0;
	while(i < len && blf_na_ws(s[i]))
		i++;
	/* display name: one quoted string, or tokens */
	if(i < len && s[i] == '"') {
		if((i = blf_na_quoted(s, len, i)) < 0)
			return -1;
	} else {
		while(i < len && s[i] != '<') {
			if(!blf_na_ws(s[i]) && !blf_tok_c((unsigned char)s[i]))
				return -1;
			i++;
		}
	}
	while(i < len && blf_na_ws(s[i]))
		i++;
	if(i >= len || s[i] != '<')
		return -1;
	/* a backslash too: parse_to() refuses it in a URI (parse_contacts()
	 * does not), so From's must go to the core to be refused there */
	for(j = ++i; j < len && s[j] != '>'; j++)
		if((unsigned char)s[j] <= 0x20 || (unsigned char)s[j] >= 0x7f
				|| s[j] == '<' || s[j] == '"' || s[j] == '\\')
			return -1;
	/* and not ";" first: parse_to() refuses that right after '<'; of 3
	 * bytes at least ("s:a"), as Kamailio 6.0's parse_contacts() wants */
	if(j >= len || j - i < 3 || s[i] == ';')
		return -1;
	*uri = s + i;
	*ulen = j - i;
	i = j + 1;
	for(;;) {
		while(i < len && blf_na_ws(s[i]))
			i++;
		if(i >= len)
			return 0;
		if(s[i] != ';')
			return -1;
		i++;
		while(i < len && blf_na_ws(s[i]))
			i++;
		for(n = i; i < len && blf_tok_c((unsigned char)s[i]); i++)
			;
		if(i == n)
			return -1;
		n = i - n; /* the name is s[i - n .. i) */
		j = i;
		while(j < len && blf_na_ws(s[j]))
			j++;
		v = -1; /* no value */
		if(j < len && s[j] == '=') {
			j++;
			while(j < len && blf_na_ws(s[j]))
				j++;
			v = j;
			/* a value starting with a single quote is a quoted string
			 * to parse_params() (a Contact's parser), so "x='y" is an
			 * error there and "x='a;b'" one parameter: the core's */
			if(j < len && s[j] == '\'')
				return -1;
			if(j < len && s[j] == '"') {
				if((j = blf_na_quoted(s, len, j)) < 0)
					return -1;
			} else {
				while(j < len && blf_tok_c((unsigned char)s[j]))
					j++;
				if(j == v)
					return -1;
			}
		}
		if(n == 3 && strncasecmp(s + i - n, "tag", 3) == 0) {
			if(*tag != NULL || v < 0 || s[v] == '"')
				return -1;
			*tag = s + v;
			*tlen = j - v;
		}
		i = j;
	}
}
