/*
 * blf_sipcheck.h — checks of what a SUBSCRIBE asks the module to store,
 * pure (no Kamailio headers): Accept media ranges, tokens, Call-ID words
 * and the bounds of every stored field, so that a NOTIFY can always be
 * built from a stored subscription.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_SIPCHECK_H
#define BLF_SIPCHECK_H

/* bounds of the fields a subscription stores (bytes); each over-bound
 * field makes the SUBSCRIBE a 400 naming the header */
#define BLF_EVID_MAX 64	   /* Event id parameter (a token) */
#define BLF_CALLID_MAX 256 /* Call-ID */
#define BLF_TAG_MAX 128	   /* From tag (To tag: ours, fixed length) */
#define BLF_URI_MAX 512	   /* From URI, Contact URI */
#define BLF_RR_MAX 2048	   /* the route set: all Record-Route bodies */

/* 1 when s[0..len) is a non-empty RFC 3261 token, else 0 */
int blf_sip_is_token(const char *s, int len);

/*
 * 1 when s[0..len) is a non-empty Call-ID: RFC 3261 callid read leniently
 * (phones put '=' and the like in them): visible ASCII, no white space
 */
int blf_sip_is_callid(const char *s, int len);

/* 1 when s[0..len) is a non-empty tag value: RFC 3261 says token; read
 * leniently as visible ASCII without the separators ; , < > " \ */
int blf_sip_is_tag(const char *s, int len);

/*
 * Accept evaluation over one or more Accept header bodies (RFC 7231 5.3.2,
 * as RFC 3261 20.1 uses it): comma-separated media ranges, each with its
 * parameters; the most specific range that matches the media type of the
 * event package's bodies (application/dialog-info+xml unless
 * blf_accept_init_type says otherwise) decides, and q=0 there means "not
 * acceptable". Malformed ranges are ignored.
 */
typedef struct blf_accept_st {
	int seen; /* an Accept header was given */
	int spec; /* specificity of the best match: 0 none, 1 * / *,
			   * 2 type/ *, 3 the exact type */
	int q;	  /* its q, in thousandths */
	const char *type, *sub; /* the media type looked for, not owned */
	int tlen, slen;
} blf_accept_st_t;

/* looks for application/dialog-info+xml */
void blf_accept_init(blf_accept_st_t *st);
/* looks for mtype ("type/subtype", kept by pointer); -1 when it is not
 * of that form (then only * / * matches) */
int blf_accept_init_type(blf_accept_st_t *st, const char *mtype);
/* adds the media ranges of one Accept header body */
void blf_accept_add(blf_accept_st_t *st, const char *s, int len);
/* 1 when the type may be sent: no Accept at all, or a match with q>0 */
int blf_accept_ok(const blf_accept_st_t *st);

/*
 * A SIP URI as an RFC 3986 URI (XML's anyURI, the dialog-info entity
 * attribute): every byte RFC 3986 does not allow there is percent-encoded,
 * notably the brackets of an IPv6 reference, which RFC 3986 allows only in
 * an authority (sip:202@[::1] -> sip:202@%5B::1%5D). Writes a NUL-terminated
 * string; returns its length, or -1 when it does not fit in size bytes.
 */
int blf_uri_pct_encode(const char *s, int len, char *buf, int size);

/*
 * The tag parameter of a From or To header body s[0..len) (RFC 3261
 * 20.20, 25.1: [display-name] <URI> or a bare addr-spec, then header
 * parameters), read in place without allocating: an answer to one of the
 * module's NOTIFYs is matched on its From tag, and parsing the header
 * with the core's parser costs two pkg allocations per answer (see
 * blf_ntx.c). A bare addr-spec's parameters are header parameters (RFC
 * 3261 20), so ";tag=" right after it counts. 0 with *tag and *tlen set
 * (possibly empty), 1 when there is no tag parameter, -1 when the body is
 * malformed (an unterminated quoted string or <, a character that cannot
 * start a parameter).
 */
int blf_sip_hdr_tag(const char *s, int len, const char **tag, int *tlen);

/*
 * A From or Contact header body s[0..len) of the common shape
 * [display-name] <URI> *( ;name[=value] ), read in place without
 * allocating (the core's parse_to() and parse_contacts() take a pkg block
 * per parameter and per contact; see blf_subs.c). The display name is
 * tokens or one quoted string without a backslash; the URI is visible
 * ASCII without white space, '<', '"' or a backslash, not starting with
 * ';' (parse_to() refuses those), of 3 bytes at least (Kamailio 6.0's
 * parse_contacts() refuses fewer); a parameter name is a token and
 * its value a token not starting with a single quote (parse_params()
 * quotes with those) or a quoted string without a backslash. 0 with *uri
 * (inside the brackets) and *tag (the tag parameter's value, NULL when
 * there is none); -1 for any other shape (a bare addr-spec, a second
 * value after a comma, "tag" twice or without a token value, ...), which
 * the core's parser then judges.
 */
int blf_sip_nameaddr_simple(const char *s, int len, const char **uri,
		int *ulen, const char **tag, int *tlen);

/* 1 when a Supported header body s[0..len) names the option tag
 * eventlist (RFC 4662 4.1), case-insensitively, as a whole word of the
 * comma-separated list; else 0 */
int blf_sip_supported_eventlist(const char *s, int len);

#endif
