/*
 * blf_publish.c — PUBLISH (RFC 3903) of presence documents: checks the
 * request, answers it and hands the parsed document to the publication
 * store (blf_entity_pub.c), which notifies the presence watchers.
 *
 *   initial (body, no SIP-If-Match)      -> 200 + new SIP-ETag + Expires
 *   refresh (SIP-If-Match, no body)      -> 200 + new SIP-ETag + Expires
 *   modify  (SIP-If-Match + body)        -> 200 + new SIP-ETag + Expires
 *   remove  (SIP-If-Match, Expires: 0)   -> 200 + Expires: 0
 * A request seen again (a retransmission over UDP, answered statelessly: the
 * same Call-ID, CSeq and From tag) gets the same 200 and changes nothing:
 * the new ETag is a keyed hash of those, so the second copy finds its
 * publication already there (blf_pub_put's BLF_PUB_SEEN) instead of adding
 * one more or failing on the SIP-If-Match the first copy replaced.
 * Errors: 412 unknown ETag, 489 Event not presence, 415 not
 * application/pidf+xml, 400 not acceptable PIDF (reason logged), 413 body
 * over publish_max_body, 423 Expires below min_expires, 403 From entity not
 * the target entity (both alias-resolved), 503 + Retry-After when the
 * entity has max_publications live ones already (a clear error rather than
 * evicting the state another device of the same user published).
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <time.h>

#include "core/dprint.h"
#include "core/ut.h"
#include "core/trim.h"
#include "core/data_lump_rpl.h"
#include "core/parser/msg_parser.h"
#include "core/parser/parse_from.h"
#include "core/parser/parse_uri.h"
#include "core/parser/parse_event.h"
#include "core/parser/parse_content.h"

#include "blf.h"
#include "blf_alias.h"
#include "blf_branch.h"
#include "blf_pidf.h"
#include "blf_publish.h"
#include "blf_reply.h"

#define BLF_PUB_ETAG_MAX 64	  /* an SIP-If-Match longer cannot be ours */

/* the ETags' key: drawn in mod_init, so every process derives the same
 * ETag from the same request (a retransmission may reach another worker) */
static unsigned char blf_pub_key_etag[16];

int blf_publish_init(void)
{
	if(blf_random_key(blf_pub_key_etag, sizeof(blf_pub_key_etag)) < 0) {
		LM_ERR("no random source for the PUBLISH ETags' key\n");
		return -1;
	}
	return 0;
}

/* the ETag of this request: 20 characters of two SipHash-2-4 values of
 * (target entity, Call-ID, CSeq, From tag) under the key; another request
 * gets another ETag, a retransmission the same (RFC 3261 section 17.2.3:
 * Call-ID, CSeq and From tag name an out-of-dialog request) */
static void blf_pub_etag_of(struct sip_msg *msg, const str *target,
		const str *ftag, char out[BLF_PIDF_ETAG_LEN + 1])
{
	const str *part[4];
	unsigned char buf[4 * (BLF_KEY_MAX + 4)];
	size_t len = 0;
	int i, k;

	part[0] = target;
	part[1] = &msg->callid->body;
	part[2] = &get_cseq(msg)->number;
	part[3] = ftag;
	for(i = 0; i < 4; i++) {
		/* each field length-prefixed and cut to BLF_KEY_MAX: a Call-ID
		 * longer than that still hashes (its first bytes and length) */
		k = part[i]->len < BLF_KEY_MAX ? part[i]->len : BLF_KEY_MAX;
		memcpy(buf + len, &part[i]->len, 4);
		memcpy(buf + len + 4, part[i]->s, k);
		len += 4 + (size_t)k;
	}
	blf_pidf_etag_of(blf_pub_key_etag, buf, len, out);
}

/* a SIP error with a (rate-limited) log line saying why; returns -code */
static int blf_pub_reject(struct sip_msg *msg, int code, const char *reason,
		const char *hdrs, const char *why)
{
	static blf_reject_log_t log; /* per process */

	return blf_reply_reject(msg, &log, "PUBLISH", code, reason, hdrs, why);
}

/* user@host of a parsed URI into buf (key), -1 when it has none */
static int blf_pub_key(
		str *uri, struct sip_uri *pu, char *buf, int size, str *key)
{
	if(pu == NULL || pu->user.len == 0 || pu->host.len == 0
			|| pu->user.len + 1 + pu->host.len >= size)
		return -1;
	return blf_key_from_uri(uri, buf, size, key);
}

/* 1 when the Content-Type is application/pidf+xml (parameters allowed) */
static int blf_pub_ctype_ok(struct sip_msg *msg)
{
	str ct;
	char *semi;

	if(msg->content_type == NULL)
		return 0;
	ct = msg->content_type->body;
	semi = memchr(ct.s, ';', ct.len);
	if(semi)
		ct.len = (int)(semi - ct.s);
	trim(&ct);
	return ct.len == (int)sizeof(BLF_PIDF_CTYPE) - 1
		   && strncasecmp(ct.s, BLF_PIDF_CTYPE, ct.len) == 0;
}

/* the granted Expires (RFC 3903 reuses SUBSCRIBE's rules) */
static int blf_pub_expires(struct sip_msg *msg, unsigned int *granted)
{
	char hdr[64];
	long req = -1;

	if(msg->expires
			&& blf_expiry_parse(
					   msg->expires->body.s, msg->expires->body.len, &req)
					   < 0)
		return blf_pub_reject(
				msg, 400, "Bad Expires", NULL, "unparsable Expires");
	if(blf_expiry_grant(&blf_cfg.expiry, req, granted)
			== BLF_EXPIRY_TOO_BRIEF) {
		snprintf(hdr, sizeof(hdr), "Min-Expires: %u\r\n",
				blf_cfg.expiry.min_expires);
		return blf_pub_reject(msg, 423, "Interval Too Brief", hdr,
				"Expires below min_expires");
	}
	return 0;
}

int blf_publish_handle(struct sip_msg *msg)
{
	static char tkbuf[BLF_KEY_MAX], fkbuf[BLF_KEY_MAX];
	static char tcbuf[BLF_KEY_MAX], fcbuf[BLF_KEY_MAX];
	char match[BLF_PUB_ETAG_MAX + 1], etag[BLF_PIDF_ETAG_LEN + 1];
	char hdrs[128], err[128];
	blf_pidf_limits_t lim = {0};
	blf_pidf_pub_t *doc = NULL;
	struct to_body *from;
	event_t *ev;
	str body = STR_NULL, tkey, fkey, tcan, fcan, m = STR_NULL;
	unsigned int granted;
	time_t retry = 0;
	int rc, n;

	if(msg->first_line.type != SIP_REQUEST
			|| msg->first_line.u.request.method_value != METHOD_PUBLISH) {
		LM_ERR("blf_handle_publish() called for a non-PUBLISH\n");
		return -1;
	}
	if(parse_headers(msg, HDR_EOH_F, 0) < 0)
		return blf_pub_reject(
				msg, 400, "Bad Request", NULL, "unparsable headers");
	if(msg->callid == NULL || msg->from == NULL || msg->to == NULL
			|| msg->cseq == NULL)
		return blf_pub_reject(msg, 400, "Bad Request", NULL,
				"missing Call-ID, From, To or CSeq");
	/* RFC 3903 section 6 step 2: the event package */
	if(msg->event == NULL || parse_event(msg->event) < 0
			|| msg->event->parsed == NULL)
		return blf_pub_reject(msg, 489, "Bad Event",
				"Allow-Events: presence\r\n", "no or bad Event header");
	ev = (event_t *)msg->event->parsed;
	if(ev->name.len != 8 || strncasecmp(ev->name.s, "presence", 8) != 0)
		return blf_pub_reject(msg, 489, "Bad Event",
				"Allow-Events: presence\r\n", "Event is not presence");
	/* the body: bounded before anything reads it */
	if(msg->content_length) {
		n = get_content_length(msg);
		body.s = get_body(msg);
		if(n > 0 && body.s == NULL)
			return blf_pub_reject(
					msg, 400, "Bad Request", NULL, "no body where one is said");
		if(body.s && n > msg->len - (int)(body.s - msg->buf))
			return blf_pub_reject(msg, 400, "Bad Content-Length", NULL,
					"Content-Length beyond the message");
		body.len = n;
	}
	if(body.len > blf_cfg.publish_max_body)
		return blf_pub_reject(msg, 413, "Request Entity Too Large", NULL,
				"body over publish_max_body");
	if(body.len > 0 && !blf_pub_ctype_ok(msg))
		return blf_pub_reject(msg, 415, "Unsupported Media Type",
				"Accept: application/pidf+xml\r\n",
				"Content-Type not application/pidf+xml");
	if(msg->sipifmatch) {
		m = msg->sipifmatch->body;
		trim(&m);
		if(m.len == 0)
			return blf_pub_reject(
					msg, 400, "Bad SIP-If-Match", NULL, "empty SIP-If-Match");
		/* an entity-tag that cannot be one of ours matches nothing */
		if(m.len > BLF_PUB_ETAG_MAX)
			return blf_pub_reject(msg, 412, "Conditional Request Failed", NULL,
					"SIP-If-Match too long");
		memcpy(match, m.s, m.len);
		match[m.len] = '\0';
		if(strlen(match) != (size_t)m.len)
			return blf_pub_reject(msg, 412, "Conditional Request Failed", NULL,
					"SIP-If-Match with a NUL");
	} else if(body.len == 0) {
		return blf_pub_reject(msg, 400, "Bad Request", NULL,
				"an initial PUBLISH without a body");
	}
	if((rc = blf_pub_expires(msg, &granted)) < 0)
		return rc;
	/* the target (Request-URI) and the publisher (From), alias-resolved */
	if(parse_sip_msg_uri(msg) < 0
			|| blf_pub_key(GET_RURI(msg), &msg->parsed_uri, tkbuf,
					   sizeof(tkbuf), &tkey)
					   < 0)
		return blf_pub_reject(msg, 400, "Bad Request-URI", NULL,
				"Request-URI without user@host");
	if(parse_from_header(msg) < 0 || (from = get_from(msg)) == NULL)
		return blf_pub_reject(msg, 400, "Bad From", NULL, "unparsable From");
	if(blf_pub_key(&from->uri, parse_from_uri(msg), fkbuf, sizeof(fkbuf), &fkey)
			< 0)
		return blf_pub_reject(
				msg, 400, "Bad From URI", NULL, "From URI without user@host");
	tcan = tkey;
	fcan = fkey;
	if(blf_alias_enabled()) {
		blf_alias_resolve(
				&tkey, tcbuf, sizeof(tcbuf), &tcan, NULL, blf_cfg.http_timeout);
		blf_alias_resolve(
				&fkey, fcbuf, sizeof(fcbuf), &fcan, NULL, blf_cfg.http_timeout);
	}
	if(!STR_EQ(tcan, fcan))
		return blf_pub_reject(msg, 403, "Forbidden", NULL,
				"From entity is not the target entity");
	/* removal */
	if(granted == 0) {
		if(m.len == 0)
			return blf_pub_reject(msg, 400, "Bad Request", NULL,
					"Expires: 0 without SIP-If-Match");
		if(blf_pub_del(&tcan, match, 0) == BLF_PUB_E_NOETAG)
			return blf_pub_reject(msg, 412, "Conditional Request Failed", NULL,
					"unknown SIP-If-Match");
		LM_DBG("publication %s of %.*s removed\n", match, tcan.len, tcan.s);
		blf_reply(msg, 200, "OK", "Expires: 0\r\n");
		return 1;
	}
	if(body.len > 0) {
		lim.max_body = (size_t)blf_cfg.publish_max_body;
		lim.max_tuples = BLF_PIDF_MAX_TUPLES;
		lim.max_depth = BLF_PIDF_MAX_DEPTH;
		lim.max_note = BLF_PIDF_MAX_NOTE;
		lim.max_id = BLF_PIDF_MAX_ID;
		err[0] = '\0';
		rc = blf_pidf_parse(body.s, body.len, &lim, &doc, err, sizeof(err));
		if(rc == 1)
			return blf_pub_reject(msg, 400, "Bad PIDF Document", NULL, err);
		if(rc < 0)
			return blf_pub_reject(msg, 500, "Server Internal Error", NULL,
					"no memory to parse the body");
	}
	blf_pub_etag_of(msg, &tcan, &from->tag_value, etag);
	rc = blf_pub_put(&tcan, m.len ? match : NULL, etag, time(NULL) + granted,
			doc, &body, 0, blf_cfg.max_publications, &retry);
	free(doc);
	if(rc == BLF_PUB_E_NOETAG)
		return blf_pub_reject(msg, 412, "Conditional Request Failed", NULL,
				"unknown SIP-If-Match");
	if(rc == BLF_PUB_E_FULL) {
		snprintf(hdrs, sizeof(hdrs), "Retry-After: %ld\r\n", (long)retry);
		return blf_pub_reject(msg, 503, "Too Many Publications", hdrs,
				"max_publications of the entity reached");
	}
	if(rc < 0)
		return blf_pub_reject(msg, 500, "Server Internal Error", NULL,
				"no memory to store the publication");
	if(rc == BLF_PUB_SEEN)
		LM_DBG("PUBLISH %.*s seen again: the same answer, nothing changed\n",
				msg->callid->body.len, msg->callid->body.s);
	snprintf(hdrs, sizeof(hdrs), "SIP-ETag: %s\r\nExpires: %u\r\n", etag,
			granted);
	blf_reply(msg, 200, "OK", hdrs);
	return 1;
}
