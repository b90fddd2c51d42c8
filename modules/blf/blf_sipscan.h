/*
 * blf_sipscan.h — a light, allocation-free reader of a SIP reply as it
 * came off the wire, pure (no Kamailio): the answer to one of the module's
 * own NOTIFYs needs only its status code, its top Via's branch, Call-ID,
 * CSeq and the two tags, and reading them in place spares the core's full
 * parse (a pkg allocation per header; see blf_ntx.c and bench/README.md,
 * "Where the CPU goes against the floor").
 *
 * blf_sipscan_req_rest() does the same for the rest of a SUBSCRIBE's
 * headers once the core has parsed those the reply copies (see blf_subs.c).
 *
 * It reads the common shape only and says so otherwise: anything unusual
 * (folded lines, a header it needs twice, a quoted Via, a missing tag) is
 * "not for me" (-1) and the message goes to the core's parser as before.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_SIPSCAN_H
#define BLF_SIPSCAN_H

typedef struct blf_sipscan {
	int code;			/* 100..699 */
	const char *branch; /* the top Via's branch parameter */
	int branch_len;
	const char *callid;
	int callid_len;
	unsigned int cseq;	/* the CSeq number */
	int cseq_notify;	/* 1 when its method is NOTIFY */
	const char *ftag; /* From's tag */
	int ftag_len;
	const char *ttag; /* To's tag */
	int ttag_len;
} blf_sipscan_t;

/*
 * Reads the reply buf[0..len) (not NUL-terminated) into *o, pointing into
 * buf. 0: a reply with all of them (each header taken once; From and To
 * with a tag); -1: not a reply, or not in the shape this reader takes.
 */
int blf_sipscan_reply(const char *buf, int len, blf_sipscan_t *o);

/* Accept headers blf_sipscan_req_rest() keeps; more: the core's parser */
#define BLF_SCAN_ACCEPT_MAX 8

/*
 * What a SUBSCRIBE needs of the header lines the core has not parsed yet
 * (after its From, To, Call-ID and CSeq): each body trimmed, pointing into
 * the buffer; NULL when the header is not there.
 */
typedef struct blf_reqscan {
	const char *event;
	int event_len;
	const char *expires;
	int expires_len;
	const char *contact;
	int contact_len;
	const char *accept[BLF_SCAN_ACCEPT_MAX];
	int accept_len[BLF_SCAN_ACCEPT_MAX];
	int naccept;
	int evlist; /* a Supported header names eventlist */
	int clen;	/* a Content-Length was read */
	int maxfwd; /* a Max-Forwards was read */
} blf_reqscan_t;

/*
 * Reads the header lines p[0..end) (p at the start of a line) up to the
 * empty line ending them into *o, without allocating. 0: read; -1: a shape
 * only the core's parser may judge (then nothing is taken from *o): a
 * folded or cut line, a line without a colon or whose name is not of the
 * core's header name characters (letters, digits, "-._+~"),
 * a header the reply copies or the core parses (Via, From, To, Call-ID,
 * CSeq, Record-Route, Retry-After), Event, Expires, Contact, Content-Length
 * or Max-Forwards twice (the core refuses the last two twice),
 * more than BLF_SCAN_ACCEPT_MAX Accept headers, a Content-Length that is
 * not a number of at most 9 digits (the core refuses one of INT_MAX or
 * more), more than 64 lines, no empty line. The caller falls back too when
 * the core had parsed one of the once-only headers before (blf_subs.c).
 */
int blf_sipscan_req_rest(const char *p, const char *end, blf_reqscan_t *o);

#endif
