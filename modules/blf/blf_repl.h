/*
 * blf_repl.h — checking a cluster replica (a blf DMQ message body) before
 * any of it is applied. Pure code: jansson and libc only, no Kamailio
 * headers, so the unit tests and the fuzz harness build it with plain cc.
 *
 * A replica comes from another node over KDMQ. Even from an admitted peer
 * it is checked as strictly as a SIP request: every string bounded and of
 * its charset (URIs look like sip:/sips: URIs, tags and Event ids are
 * tokens, Call-IDs printable words, display names without control
 * characters), every enum and count in range, versions, CSeqs and times
 * sane. One bad record rejects the whole message: nothing of it is applied.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_REPL_H
#define BLF_REPL_H

#include <stddef.h>
#include <jansson.h>

/* the record layouts (blf.h's BLF_CF_N and BLF_SF_N, checked in blf_dmq.c) */
#define BLF_REPL_CF_N 9  /* fields of a call */
#define BLF_REPL_SF_N 13 /* fields of a subscription */

/* bounds of a replica; every one rejects the whole message */
#define BLF_REPL_BODY_MAX (1 << 20) /* bytes of a message body */
#define BLF_REPL_RECORDS_MAX 1024	/* records of one batch */
#define BLF_REPL_NAME_MAX 127		/* node name */
#define BLF_REPL_KEY_MAX 255		/* user@host (blf.h BLF_KEY_MAX - 1) */
#define BLF_REPL_CALLID_MAX 255		/* Call-ID */
#define BLF_REPL_TAG_MAX 128		/* From/To tag */
#define BLF_REPL_EVID_MAX 128		/* Event id parameter */
#define BLF_REPL_URI_MAX 512		/* an identity or remote target */
#define BLF_REPL_DISP_MAX 256		/* a display name */
#define BLF_REPL_RR_MAX 4096		/* a route set (blf_subs.c's buffer) */
#define BLF_REPL_SOCK_MAX 128		/* proto:ip:port */
#define BLF_REPL_HIST_MAX 6			/* blf.h BLF_CALL_HIST */
#define BLF_REPL_SKEW 86400			/* s a peer's clock may be ahead */
#define BLF_REPL_ETAG_MAX 32		/* a publication's ETag */
#define BLF_REPL_PUB_BODY_MAX 65536 /* a publication's raw PIDF body (the
									 * glue parses it, publish_max_body) */

/* what a check needs from its caller */
typedef struct blf_repl_limits {
	long long now;		   /* time(NULL) */
	long long max_expires; /* modparam max_expires */
} blf_repl_limits_t;

/*
 * Checks a whole message (the JSON object of one DMQ body): its sender
 * ("n", "b"), its type, and each record of a batch. 0: fine; -1: bad, and
 * why (NUL-terminated, at most whysize bytes) names the record and field.
 */
int blf_repl_check(json_t *root, const blf_repl_limits_t *lim, char *why,
		size_t whysize);

/* json_loadb with the bounds above, then blf_repl_check; *root is the
 * parsed message on 0 (the caller decrefs it), NULL on -1 */
int blf_repl_decode(const char *body, size_t len, const blf_repl_limits_t *lim,
		json_t **root, char *why, size_t whysize);

/*
 * Compact versions ("vc", optional, gated by the receiver's "cv": 1): a
 * batch may carry its "ver" records as one string instead of JSON objects,
 * one line each, "<entity> <to tag> <version> <cseq>[/<cd>][ <owner>]\n":
 * the same fields and checks as a "ver" record ("cd", the digest of the
 * calls the NOTIFY showed, 1 to 2^32 - 1), one JSON string to parse
 * instead of an object of six. At most BLF_REPL_RECORDS_MAX lines.
 */
typedef struct blf_repl_vrec {
	const char *key, *tag, *owner; /* owner NULL when absent */
	size_t klen, tlen, olen;
	unsigned int v, q;
	unsigned int cd; /* 0 when absent */
} blf_repl_vrec_t;

/* the line at *pos of s[0..len) into *r (pointing into s), *pos past it.
 * 1: a record; 0: the end; -1: malformed (a field missing, out of range,
 * of a bad charset, or a line not ended by \n) */
int blf_repl_vc_next(
		const char *s, size_t len, size_t *pos, blf_repl_vrec_t *r);

/* the string checks, also used by the glue */
int blf_repl_token_ok(const char *s, size_t len, size_t min, size_t max);
int blf_repl_uri_ok(const char *s, size_t len, size_t max);
int blf_repl_key_ok(const char *s, size_t len);
int blf_repl_name_ok(const char *s, size_t len);

#endif
