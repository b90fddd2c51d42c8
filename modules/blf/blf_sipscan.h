/*
 * blf_sipscan.h — a light, allocation-free reader of a SIP reply as it
 * came off the wire, pure (no Kamailio): the answer to one of the module's
 * own NOTIFYs needs only its status code, its top Via's branch, Call-ID,
 * CSeq and the two tags, and reading them in place spares the core's full
 * parse (a pkg allocation per header; see blf_ntx.c and bench/README.md,
 * "Where the CPU goes against the floor").
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

#endif
