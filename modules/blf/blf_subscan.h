/*
 * blf_subscan.h — where a SUBSCRIBE's headers are read in place and where
 * the core's parser takes over: the three decisions blf_subs.c makes on
 * the core's struct sip_msg around the pure readers (blf_sipscan.c
 * blf_sipscan_req_rest, blf_sipcheck.c blf_sip_nameaddr_simple). They are
 * static inline here, not in blf_subs.c, so that the differential fuzz
 * harness (tests/fuzz/fuzz_subcore.c), which compiles the core's parser
 * in, runs exactly this code against the core's own reading.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_SUBSCAN_H
#define BLF_SUBSCAN_H

#include "core/str.h"
#include "core/trim.h"
#include "core/parser/msg_parser.h"
#include "core/parser/parse_from.h"
#include "core/parser/parse_to.h"
#include "core/parser/contact/contact.h"
#include "core/parser/contact/parse_contact.h"

#include "blf_sipcheck.h"
#include "blf_sipscan.h"

/*
 * Reads the headers after From, To, Call-ID and CSeq in place into *sc,
 * after the core has parsed up to those (the reply copies them). 1: read,
 * use *sc and, for what it lacks, the headers the core had parsed before;
 * 0: a shape only the core's parser may judge (*sc zeroed): the caller
 * parses every header (parse_headers(HDR_EOH_F)).
 */
static inline int blf_subscan_rest(struct sip_msg *msg, blf_reqscan_t *sc)
{
	/* (HDR_EOH_F is every bit: msg->eoh says the end was reached) */
	if(msg->eoh == NULL
			&& parse_headers(msg,
					   HDR_FROM_F | HDR_TO_F | HDR_CALLID_F | HDR_CSEQ_F, 0)
					   == 0
			&& msg->eoh == NULL && msg->unparsed && msg->unparsed >= msg->buf
			&& msg->unparsed <= msg->buf + msg->len
			&& blf_sipscan_req_rest(msg->unparsed, msg->buf + msg->len, sc) == 0
			/* one of Event, Expires or Contact both before and after: the
			 * core's parser links them (the first one counts); a second
			 * Content-Length or Max-Forwards: the core refuses the
			 * message */
			&& !((msg->event && sc->event) || (msg->expires && sc->expires)
					|| (msg->contact && sc->contact)
					|| (msg->content_length && sc->clen)
					|| (msg->maxforwards && sc->maxfwd)))
		return 1;
	memset(sc, 0, sizeof(*sc)); /* what a refused read left */
	return 0;
}

/*
 * The From header's URI and tag: as the core (or the script) parsed it;
 * else in place in the usual shape with a tag (parse_to() would take a pkg
 * block per parameter); else parse_to() into *tb, as parse_from_header()
 * does. The to_body read (tb, or the core's), whose uri and tag_value are
 * set; NULL when the core's parser refuses it. tb's parameters, if any,
 * are the caller's to free (free_to_params).
 */
static inline struct to_body *blf_subscan_from(
		struct sip_msg *msg, struct to_body *tb)
{
	const char *fu, *ft;
	int ful, ftl;

	if(msg->from->parsed)
		return get_from(msg);
	if(blf_sip_nameaddr_simple(msg->from->body.s, msg->from->body.len, &fu,
			   &ful, &ft,
			   &ftl) == 0
			&& ft != NULL) {
		tb->error = PARSE_OK;
		tb->body = msg->from->body;
		tb->uri.s = (char *)fu;
		tb->uri.len = ful;
		tb->tag_value.s = (char *)ft;
		tb->tag_value.len = ftl;
		return tb;
	}
	parse_to(
			msg->from->body.s, msg->from->body.s + msg->from->body.len + 1, tb);
	return tb->error == PARSE_ERROR ? NULL : tb;
}

/*
 * The URI of the contact a Contact header (h when the core has it, else
 * its body) names, as parse_contact() reads it (leading white space
 * skipped, "*" first is a star; of several, the one parse_contacts() puts
 * first in its list), but read in place in the usual shape
 * (blf_sip_nameaddr_simple) or parsed into *list instead of a block hung
 * on the header. 0 with *uri (empty: none), 1 for a star, -1 unparsable.
 */
static inline int blf_subscan_contact(
		struct hdr_field *h, const str *body, contact_t **list, str *uri)
{
	const char *u, *t;
	int ul, tl;
	contact_t *first;
	str b;

	uri->s = NULL;
	uri->len = 0;
	if(h && h->parsed) {
		if(((contact_body_t *)h->parsed)->star)
			return 1;
		first = ((contact_body_t *)h->parsed)->contacts;
		if(first)
			*uri = first->uri;
		return 0;
	}
	b = *body;
	trim_leading(&b);
	if(b.len == 0)
		return -1;
	if(b.s[0] == '*')
		return 1;
	/* the usual one contact, <URI> and simple parameters: read in place
	 * (parse_contacts() would take a pkg block per contact and parameter) */
	if(blf_sip_nameaddr_simple(b.s, b.len, &u, &ul, &t, &tl) == 0) {
		uri->s = (char *)u;
		uri->len = ul;
		return 0;
	}
	/* a body read in place ends before the white space at the end of its
	 * line, the core's keeps it: give parse_contacts() the core's, which
	 * reads "x sip:a@b" as sip:a@ and "x sip:a@b " as sip:a@b (the line
	 * goes on to its LF, so this stays inside the message) */
	if(h == NULL)
		while(b.s[b.len] == ' ' || b.s[b.len] == '\t')
			b.len++;
	if(parse_contacts(&b, list) < 0)
		return -1;
	if(*list)
		*uri = (*list)->uri;
	return 0;
}

#endif
