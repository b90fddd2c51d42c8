/*
 * blf_subs.c — SUBSCRIBE handling (RFC 6665) and the subscriptions it keeps.
 *
 * A subscription is stored on the entity it watches, under that entity's
 * slot lock, as one shm block. Our To tag starts with the entity's hash in
 * hex, so an in-dialog SUBSCRIBE or a NOTIFY reply finds its slot without a
 * second index. Wildcard (any-dn) subscriptions live on the pseudo-entity
 * <wildcard_user>@domain and are fed by every change in that domain.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>

#include "core/mem/shm_mem.h"
#include "core/mem/mem.h"
#include "core/dprint.h"
#include "core/ut.h"
#include "core/trim.h"
#include "core/data_lump_rpl.h"
#include "core/parser/parse_from.h"
#include "core/parser/parse_to.h"
#include "core/parser/parse_uri.h"
#include "core/parser/parse_event.h"
#include "core/parser/parse_expires.h"
#include "core/parser/contact/parse_contact.h"
#include "core/parser/parse_rr.h"
#include "core/socket_info.h"
#include "core/resolve.h"

#include "blf.h"
#include "blf_chg.h"
#include "blf_alias.h"
#include "blf_lsub.h"
#include "blf_sipcheck.h"
#include "blf_sipscan.h"
#include "blf_subscan.h"
#include "blf_tag.h"
#include "blf_vis.h"
#include "blf_viscache.h"
#include "blf_visapply.h"
#include "blf_wcount.h"
#include "blf_reply.h"
#include "blf_put.h"

#define BLF_LIMIT_RETRY_AFTER 300 /* s, in a 503 of a per-watcher limit */

/* ---- replies ---- */

/* rejects the SUBSCRIBE: a log line (rate-limited), a SIP error reply and
 * the statistic subscribes_rejected */
static int blf_reject(struct sip_msg *msg, int code, const char *reason,
		const char *hdrs, const char *why)
{
	static blf_reject_log_t log; /* per process */

	update_stat(blf_st_subscribes_rejected, 1);
	return blf_reply_reject(msg, &log, "SUBSCRIBE", code, reason, hdrs, why);
}

/* ---- parsing helpers ---- */

/* media ranges of every Accept header (blf_sipcheck.c) against the
 * package's media type */
static int blf_accept_hdrs_ok(
		struct sip_msg *msg, const blf_reqscan_t *sc, const blf_pkg_t *pkg)
{
	blf_accept_st_t st;
	struct hdr_field *h;
	int i;

	blf_accept_init_type(&st, pkg->accept);
	for(h = msg->headers; h; h = h->next)
		if(h->type == HDR_ACCEPT_T)
			blf_accept_add(&st, h->body.s, h->body.len);
	for(i = 0; sc && i < sc->naccept; i++)
		blf_accept_add(&st, sc->accept[i], sc->accept_len[i]);
	return blf_accept_ok(&st);
}

/* the Record-Route bodies, comma separated, into buf */
static int blf_route_set(struct sip_msg *msg, char *buf, int size, str *out)
{
	struct hdr_field *h;
	int len = 0;
	str b;

	for(h = msg->headers; h; h = h->next) {
		if(h->type != HDR_RECORDROUTE_T)
			continue;
		b = h->body;
		trim(&b);
		if(b.len == 0)
			return -2;
		if(len + b.len + 1 >= size)
			return -1;
		if(len)
			buf[len++] = ',';
		memcpy(buf + len, b.s, b.len);
		len += b.len;
	}
	out->s = buf;
	out->len = len;
	return 0;
}

/*
 * Over TCP, TLS or SCTP the NOTIFYs go back to where the SUBSCRIBE came
 * from, over the same connection: a phone's Contact seldom names a port it
 * listens on for streams. Empty for UDP (the Contact is the target, as
 * RFC 3261 says; behind NAT the script fixes it before).
 */
static int blf_stream_dst(struct sip_msg *msg, char *buf, int size, str *out)
{
	const char *tr;
	char *ip;
	int n;

	out->s = buf;
	out->len = 0;
	switch(msg->rcv.proto) {
		case PROTO_TCP:
			tr = "tcp";
			break;
		case PROTO_TLS:
			tr = "tls";
			break;
		case PROTO_SCTP:
			tr = "sctp";
			break;
		default:
			return 0;
	}
	ip = ip_addr2a(&msg->rcv.src_ip);
	if(ip == NULL)
		return -1;
	n = snprintf(buf, size,
			msg->rcv.src_ip.af == AF_INET6 ? "sip:[%s]:%d;transport=%s"
										   : "sip:%s:%d;transport=%s",
			ip, (int)msg->rcv.src_port, tr);
	if(n < 0 || n >= size)
		return -1;
	out->len = n;
	return 0;
}

static void blf_new_tag(unsigned int hash, char *buf, str *tag)
{
	static unsigned int seq = 0;

	tag->len = blf_tag_encode(buf, BLF_TAG_LEN + 1, hash, (unsigned)my_pid(),
			(unsigned)rand(), ++seq);
	tag->s = buf;
}

/* ---- the wildcard burst ---- */

/* a NOTIFY of wildcard subscription s naming its URI, without dialogs;
 * the slot lock of whash is held */
static blf_notify_job_t *blf_wildcard_idle_job(
		unsigned int whash, blf_sub_t *s, blf_frags_t *fr, time_t now)
{
	blf_entity_t empty;

	memset(&empty, 0, sizeof(empty));
	empty.hash = whash;
	return blf_sub_job(&empty, s, fr, NULL, 0, NULL, now);
}

/*
 * The first NOTIFYs of a wildcard subscription: one per entity of the
 * domain with a current call (blf_wildcard_walk), or one empty dialog-info
 * naming the wildcard URI when there is none.
 */
static void blf_wildcard_burst(unsigned int whash, const str *wkey,
		const str *callid, const str *ftag, const str *ttag)
{
	blf_notify_job_t *jobs;
	blf_frags_t fr;
	blf_entity_t *w;
	blf_sub_t *s;

	if(blf_wildcard_walk(wkey, callid, ftag, ttag, 0, 0) != 0)
		return; /* sent, or gone meanwhile */
	/* nothing in the domain: one idle NOTIFY naming the wildcard URI */
	jobs = NULL;
	memset(&fr, 0, sizeof(fr));
	blf_slot_lock(whash);
	w = blf_entity_find(whash, wkey);
	s = w ? blf_sub_find(w, callid, ftag, ttag, NULL) : NULL;
	if(s)
		jobs = blf_wildcard_idle_job(whash, s, &fr, time(NULL));
	blf_slot_unlock(whash);
	blf_chg_send(jobs);
	blf_frags_free(&fr);
}

/*
 * The burst of a wildcard subscription (on wkey) taken over by a refresh
 * from a live node, once that node's last version came, or BLF_VWAIT_MS
 * passed (blf_sub_takeover_hold): what the refresh would have sent, once
 * (the version's arrival and the timer may both try).
 */
void blf_subs_takeover_burst(
		const str *wkey, const str *callid, const str *ftag, const str *ttag)
{
	unsigned int whash = blf_key_hash(wkey);
	blf_notify_job_t *job = NULL;
	blf_frags_t fr;
	blf_entity_t *w;
	blf_sub_t *s, **ps;
	int go;

	memset(&fr, 0, sizeof(fr));
	blf_slot_lock(whash);
	w = blf_entity_find(whash, wkey);
	s = w ? blf_sub_find(w, callid, ftag, ttag, &ps) : NULL;
	go = s && s->owner == 0 && (s->flags & BLF_SUB_WILDCARD)
		 && (s->flags & BLF_SUB_OWED) && !(s->flags & BLF_SUB_VWAIT)
		 && blf_sub_wx(s)->owed_from == BLF_WX_BURST;
	if(go && (s->flags & BLF_SUB_ENDING)) {
		/* unsubscribed (blf_sub_takeover_end): its final NOTIFY, then it
		 * goes, as an unsubscribe here */
		go = 0;
		job = blf_sub_job(w, s, &fr, NULL, 1, "timeout", time(NULL));
		blf_sub_unlink(w, ps);
		blf_entity_gc(whash, w);
	} else if(go) {
		s->flags &= ~BLF_SUB_OWED;
		blf_sub_wx(s)->burst_at = (unsigned int)time(NULL);
	}
	blf_slot_unlock(whash);
	blf_chg_send(job);
	blf_frags_free(&fr);
	if(go)
		blf_wildcard_burst(whash, wkey, callid, ftag, ttag);
}

/* 0 when a parsed URI makes a user@host key (blf_key_from_uri), -1 when
 * it has no user or host, -2 when the key would be too long */
static int blf_uri_key_check(struct sip_uri *u)
{
	if(u == NULL || u->user.len == 0 || u->host.len == 0)
		return -1;
	if(u->user.len + 1 + u->host.len >= BLF_KEY_MAX)
		return -2;
	return 0;
}

/* ---- where NOTIFYs can go ---- */

/* a socket of this Kamailio of proto and address family af, or NULL */
static struct socket_info *blf_find_socket(int proto, int af)
{
	struct socket_info **list, *si;

	list = get_sock_info_list(proto);
	for(si = list ? *list : NULL; si; si = si->next)
		if(si->address.af == af)
			return si;
	return NULL;
}

/*
 * Whether the next hop named by uri can be reached from one of our sockets:
 * an IP literal host needs a socket of its family for its transport (host
 * names are resolved when sending and not checked here). 0: yes, else the
 * reason for the log line. When the hop is an address of another family
 * than rcv (the socket the SUBSCRIBE came in on), *other is a socket of
 * its family the NOTIFYs can leave from.
 */
static const char *blf_hop_unreachable(struct sip_uri *pu,
		struct socket_info *rcv, struct socket_info **other)
{
	struct socket_info *si;
	struct ip_addr *ip;
	int proto, af;

	if(pu->host.len == 0)
		return "no host";
	if(pu->host.s[0] == '[')
		af = AF_INET6;
	else if((ip = str2ip(&pu->host)) != NULL)
		af = ip->af;
	else
		return NULL;
	proto = pu->proto;
	if(proto == PROTO_NONE)
		proto = pu->type == SIPS_URI_T ? PROTO_TLS : PROTO_UDP;
	if(proto != PROTO_UDP && proto != PROTO_TCP && proto != PROTO_TLS
			&& proto != PROTO_SCTP)
		return NULL; /* ws & co.: over the SUBSCRIBE's connection */
	si = blf_find_socket(proto, af);
	if(si == NULL)
		return af == AF_INET6 ? "IPv6 host, no IPv6 socket of its transport"
							  : "IPv4 host, no IPv4 socket of its transport";
	if(proto == PROTO_UDP && rcv && rcv->address.af != af)
		*other = si;
	return NULL;
}

/*
 * The Contact (remote target) and the route set of a SUBSCRIBE: the
 * Contact must be a sip/sips URI with a host, and the first hop (the first
 * Record-Route, else the Contact) reachable from our sockets unless the
 * SUBSCRIBE came over a stream connection (NOTIFYs go back over it).
 * Replies and returns < 0 when not.
 */
static int blf_check_target(struct sip_msg *msg, const str *contact,
		const str *rr, int stream, struct socket_info **other)
{
	struct sip_uri pu, hu;
	rr_t *route = NULL;
	const char *why;
	int rc = 0;

	if(contact->len > BLF_URI_MAX)
		return blf_reject(
				msg, 400, "Contact Too Long", NULL, "Contact URI too long");
	if(!(contact->len > 4 && strncasecmp(contact->s, "sip:", 4) == 0)
			&& !(contact->len > 5 && strncasecmp(contact->s, "sips:", 5) == 0))
		return blf_reject(msg, 400, "Contact Not A SIP URI", NULL,
				"Contact URI cannot take a NOTIFY (not sip: or sips:)");
	if(parse_uri(contact->s, contact->len, &pu) < 0)
		return blf_reject(msg, 400, "Bad Contact", NULL,
				"unparsable Contact URI");
	if(pu.type != SIP_URI_T && pu.type != SIPS_URI_T)
		return blf_reject(msg, 400, "Contact Not A SIP URI", NULL,
				"Contact URI cannot take a NOTIFY (not sip: or sips:)");
	if(pu.host.len == 0)
		return blf_reject(
				msg, 400, "Bad Contact", NULL, "Contact URI without host");
	if(rr->len) {
		if(parse_rr_body(rr->s, rr->len, &route) < 0 || route == NULL)
			return blf_reject(msg, 400, "Bad Record-Route", NULL,
					"unparsable Record-Route");
		if(parse_uri(route->nameaddr.uri.s, route->nameaddr.uri.len, &hu) < 0
				|| (hu.type != SIP_URI_T && hu.type != SIPS_URI_T)) {
			rc = blf_reject(msg, 400, "Bad Record-Route", NULL,
					"Record-Route URI is not a sip: or sips: URI");
			goto done;
		}
		if(!stream
				&& (why = blf_hop_unreachable(
							&hu, msg->rcv.bind_address, other))
						   != NULL) {
			rc = blf_reject(msg, 400, "Record-Route Unreachable", NULL, why);
			goto done;
		}
	} else if(!stream
			  && (why = blf_hop_unreachable(&pu, msg->rcv.bind_address, other))
						 != NULL) {
		rc = blf_reject(msg, 400, "Contact Unreachable", NULL, why);
	}
done:
	if(route)
		free_rr(&route);
	return rc;
}

/* ---- SUBSCRIBE ---- */

typedef struct blf_subreq {
	str f[BLF_SF_N];
	long expires; /* -1: no header */
	unsigned int granted;
	str key;	  /* entity user@host */
	unsigned int hash;
	int wildcard;
	const blf_pkg_t *pkg; /* the Event header's package */
	int vis; /* policy from the alias service, -1: none */
	struct socket_info *sock; /* NOTIFYs leave from here */
	int list; /* an RFC 4662 list subscription (blf_lsub.c) */
	blf_list_copy_t *lst; /* a new one: its members (free()d at the end) */
	/* From, Event and Contact parsed here into these, not into pkg blocks
	 * hung on the message (one qm walk less each: bench/README.md); what
	 * they point to is freed by blf_subreq_free() */
	struct to_body from;
	event_t ev;
	contact_t *cts;
	/* the headers after CSeq read in place (blf_subreq_headers) */
	int scanned;
	blf_reqscan_t sc;
	str hev, hexp, hct;		/* Event, Expires, Contact bodies (s NULL: none) */
	struct hdr_field *hct_h; /* the Contact header the core parsed, if so */
	/* buffers from here on: written before they are read */
	char keybuf[BLF_KEY_MAX];
	char canbuf[BLF_KEY_MAX]; /* the entity an alias stands for */
	char wcanbuf[BLF_KEY_MAX];
	char wbuf[BLF_KEY_MAX];
	char uribuf[BLF_KEY_MAX + 8];
	char pctbuf[(BLF_KEY_MAX + 8) * 3];
	char escbuf[(BLF_KEY_MAX + 8) * 6];
	char rrbuf[BLF_RR_MAX + 1];
	char lcbuf[256];
	char dstbuf[128];
	char tagbuf[BLF_TAG_LEN + 1];
} blf_subreq_t;

static blf_subreq_t blf_subreq_buf; /* per process */

/* 489: an event package this node does not serve (the `events` list) */
static int blf_reject_event(struct sip_msg *msg)
{
	char hdr[32 + BLF_PKG_MAX * (BLF_PKG_NAME_MAX + 2)];
	int n;

	memcpy(hdr, "Allow-Events: ", 14);
	n = blf_pkg_allow_events(hdr + 14, sizeof(hdr) - 16);
	if(n < 0)
		n = 0; /* cannot happen: the buffer holds every name */
	memcpy(hdr + 14 + n, "\r\n", 3);
	return blf_reject(
			msg, 489, "Bad Event", hdr, "event package not supported");
}

/* our Contact on socket si into r->lcbuf: printed once per socket and
 * process (the sockets are fixed before the fork), copied after */
static int blf_subreq_lcontact(struct socket_info *si, blf_subreq_t *r)
{
	static struct socket_info *last;
	static char buf[sizeof(r->lcbuf)];
	static str c;

	if(si != last || si == NULL) {
		last = NULL;
		if(blf_sock_contact(si, buf, sizeof(buf), &c) < 0)
			return -1;
		last = si;
	}
	memcpy(r->lcbuf, c.s, c.len);
	r->f[BLF_SF_LCONTACT].s = r->lcbuf;
	r->f[BLF_SF_LCONTACT].len = c.len;
	return 0;
}

/* frees what blf_subreq_parse() parsed into r */
static void blf_subreq_free(blf_subreq_t *r)
{
	if(r->ev.params.list)
		free_params(r->ev.params.list);
	r->ev.params.list = NULL;
	free_to_params(&r->from);
	if(r->cts)
		free_contacts(&r->cts);
	r->cts = NULL;
}

/* the body of a header the core parsed (h may be NULL) into *b */
static void blf_subreq_hbody(struct hdr_field *h, str *b)
{
	if(h) {
		*b = h->body;
		if(b->s == NULL)
			b->s = h->name.s; /* an empty body is still a header */
	} else {
		b->s = NULL;
		b->len = 0;
	}
}

/*
 * Finds the headers a SUBSCRIBE needs. The core's parse of every header
 * (parse_headers(HDR_EOH_F)) costs a pkg block per header, and with its
 * default allocator (q_malloc) each is a walk over the free lists
 * (bench/README.md, "Where the CPU goes against the floor"). So, once the
 * core has parsed up to From, To, Call-ID and CSeq (what the reply copies,
 * usually done already for the script), the rest is read in place
 * (blf_sipscan_req_rest). Any unusual shape there -- a Via, Record-Route,
 * From, To, Call-ID or CSeq after them, a folded line, a header twice --
 * and the core parses everything as before. The message itself is left
 * as the core had it: the script after blf_handle_subscribe() and sl
 * (error replies) parse on as they always do.
 */
static int blf_subreq_headers(struct sip_msg *msg, blf_subreq_t *r)
{
	if(blf_subscan_rest(msg, &r->sc)) {
		r->scanned = 1;
		if(r->sc.event) {
			r->hev.s = (char *)r->sc.event;
			r->hev.len = r->sc.event_len;
		} else
			blf_subreq_hbody(msg->event, &r->hev);
		if(r->sc.expires) {
			r->hexp.s = (char *)r->sc.expires;
			r->hexp.len = r->sc.expires_len;
		} else
			blf_subreq_hbody(msg->expires, &r->hexp);
		if(r->sc.contact) {
			r->hct.s = (char *)r->sc.contact;
			r->hct.len = r->sc.contact_len;
		} else {
			blf_subreq_hbody(msg->contact, &r->hct);
			r->hct_h = msg->contact;
		}
		return 0;
	}
	r->scanned = 0;
	if(parse_headers(msg, HDR_EOH_F, 0) < 0)
		return -1;
	blf_subreq_hbody(msg->event, &r->hev);
	blf_subreq_hbody(msg->expires, &r->hexp);
	blf_subreq_hbody(msg->contact, &r->hct);
	r->hct_h = msg->contact;
	return 0;
}

/* parses and checks what every SUBSCRIBE must carry; replies on error */
static int blf_subreq_parse(struct sip_msg *msg, blf_subreq_t *r)
{
	struct to_body *from, *to;
	event_t *ev;
	param_t *p;
	int n;

	if(blf_subreq_headers(msg, r) < 0)
		return blf_reject(msg, 400, "Bad Request", NULL, "unparsable headers");
	if(msg->callid == NULL || msg->from == NULL || msg->to == NULL
			|| msg->cseq == NULL)
		return blf_reject(msg, 400, "Bad Request", NULL,
				"missing Call-ID, From, To or CSeq");
	if(r->hev.s == NULL)
		return blf_reject(
				msg, 400, "Missing Event Header", NULL, "no Event header");
	if(!r->sc.event && msg->event->parsed) { /* the script parsed it */
		ev = (event_t *)msg->event->parsed;
	} else {
		if(event_parser(r->hev.s, r->hev.len, &r->ev) < 0)
			return blf_reject(msg, 400, "Bad Event Header", NULL, "bad Event");
		ev = &r->ev;
	}
	r->pkg = blf_pkg_find(ev->name.s, ev->name.len);
	if(r->pkg == NULL)
		return blf_reject_event(msg);
	for(p = ev->params.list; p; p = p->next) {
		if(p->name.len == 2 && strncasecmp(p->name.s, "id", 2) == 0)
			r->f[BLF_SF_EVID] = p->body;
	}
	/* RFC 6665 8.4: id is a token; bounded so every NOTIFY header fits */
	if(r->f[BLF_SF_EVID].len > BLF_EVID_MAX)
		return blf_reject(
				msg, 400, "Event id Too Long", NULL, "Event id too long");
	if(r->f[BLF_SF_EVID].len
			&& !blf_sip_is_token(r->f[BLF_SF_EVID].s, r->f[BLF_SF_EVID].len))
		return blf_reject(
				msg, 400, "Bad Event id", NULL, "Event id is not a token");
	if(!blf_accept_hdrs_ok(msg, r->scanned ? &r->sc : NULL, r->pkg))
		return blf_reject(msg, 406, "Not Acceptable", NULL,
				"Accept without the package's media type");
	r->expires = -1;
	if(r->hexp.s) {
		if(blf_expiry_parse(r->hexp.s, r->hexp.len, &r->expires) < 0)
			return blf_reject(
					msg, 400, "Bad Expires", NULL, "unparsable Expires");
	}
	from = blf_subscan_from(msg, &r->from);
	if(from == NULL)
		return blf_reject(msg, 400, "Bad From", NULL, "unparsable From");
	if(from->tag_value.len == 0)
		return blf_reject(msg, 400, "Missing From Tag", NULL, "no From tag");
	to = get_to(msg);
	if(to == NULL)
		return blf_reject(msg, 400, "Bad To", NULL, "unparsable To");
	r->f[BLF_SF_CALLID] = msg->callid->body;
	trim(&r->f[BLF_SF_CALLID]);
	r->f[BLF_SF_FTAG] = from->tag_value;
	r->f[BLF_SF_TTAG] = to->tag_value;
	r->f[BLF_SF_WURI] = from->uri;
	/* every stored field bounded: the NOTIFY can always be built */
	if(r->f[BLF_SF_CALLID].len > BLF_CALLID_MAX)
		return blf_reject(
				msg, 400, "Call-ID Too Long", NULL, "Call-ID too long");
	if(!blf_sip_is_callid(r->f[BLF_SF_CALLID].s, r->f[BLF_SF_CALLID].len))
		return blf_reject(msg, 400, "Bad Call-ID", NULL,
				"Call-ID with white space or a control character");
	if(r->f[BLF_SF_FTAG].len > BLF_TAG_MAX)
		return blf_reject(
				msg, 400, "From Tag Too Long", NULL, "From tag too long");
	if(!blf_sip_is_tag(r->f[BLF_SF_FTAG].s, r->f[BLF_SF_FTAG].len))
		return blf_reject(msg, 400, "Bad From Tag", NULL,
				"From tag with a separator or a control character");
	if(r->f[BLF_SF_TTAG].len > BLF_TAG_MAX)
		return blf_reject(msg, 400, "To Tag Too Long", NULL, "To tag too long");
	if(r->f[BLF_SF_WURI].len > BLF_URI_MAX)
		return blf_reject(
				msg, 400, "From URI Too Long", NULL, "From URI too long");
	/* checked here so that blf_key_from_uri() (which logs every failure
	 * with the whole URI) never sees a hostile one */
	if((n = blf_uri_key_check(
				parse_uri(from->uri.s, from->uri.len, &from->parsed_uri) < 0
						? NULL
						: &from->parsed_uri))
			< 0)
		return blf_reject(msg, 400,
				n == -2 ? "From URI Too Long" : "Bad From URI", NULL,
				n == -2 ? "From user@host too long"
						: "From URI without user@host");
	if(blf_key_from_uri(&from->uri, r->wbuf, sizeof(r->wbuf),
			   &r->f[BLF_SF_WATCHER])
			< 0)
		return blf_reject(msg, 400, "Bad From URI", NULL, "bad From URI");
	if(r->hct.s) {
		if((n = blf_subscan_contact(r->hct_h, &r->hct, &r->cts,
					&r->f[BLF_SF_CONTACT]))
				< 0)
			return blf_reject(
					msg, 400, "Bad Contact", NULL, "unparsable Contact");
		if(n == 1)
			return blf_reject(msg, 400, "Bad Contact", NULL,
					"Contact: * in a SUBSCRIBE");
		if(r->f[BLF_SF_CONTACT].len == 0)
			return blf_reject(msg, 400, "Bad Contact", NULL, "empty Contact");
	}
	if((n = blf_route_set(msg, r->rrbuf, sizeof(r->rrbuf), &r->f[BLF_SF_RR]))
			< 0)
		return blf_reject(msg, 400,
				n == -1 ? "Record-Route Too Long" : "Bad Record-Route", NULL,
				n == -1 ? "route set too long" : "empty Record-Route");
	if(blf_subreq_lcontact(msg->rcv.bind_address, r) < 0)
		return blf_reject(msg, 500, "Server Internal Error", NULL,
				"no local contact");
	r->f[BLF_SF_SOCKET] = msg->rcv.bind_address->sock_str;
	if(blf_stream_dst(msg, r->dstbuf, sizeof(r->dstbuf), &r->f[BLF_SF_DST])
			< 0)
		return blf_reject(msg, 500, "Server Internal Error", NULL,
				"no source address");
	r->sock = msg->rcv.bind_address;
	if(r->f[BLF_SF_CONTACT].len
			&& (n = blf_check_target(msg, &r->f[BLF_SF_CONTACT],
						&r->f[BLF_SF_RR], r->f[BLF_SF_DST].len > 0, &r->sock))
					   < 0)
		return n;
	/* an IPv6 watcher of a SUBSCRIBE that came over IPv4 (or the other
	 * way round): its NOTIFYs leave from a socket of its family */
	r->f[BLF_SF_SOCKET] = r->sock->sock_str;
	return 0;
}

/* 200 OK with our tag, the granted Expires and our Contact
 * (blf_reply_200: written here in the usual case, else by sl) */
static int blf_reply_ok(struct sip_msg *msg, blf_subreq_t *r, const str *tag)
{
	char hdrs[BLF_KEY_MAX + 128], *p = hdrs;
	const str *lc = &r->f[BLF_SF_LCONTACT];

	if(lc->len > BLF_KEY_MAX + 64)
		return -1; /* cannot happen: blf_sock_contact() bounds it */
	BLF_PUTS(p, "Expires: ");
	p = blf_put_uint(p, r->granted);
	BLF_PUTS(p, "\r\nContact: <");
	BLF_PUT(p, lc->s, lc->len);
	BLF_PUTS(p, ">\r\n");
	if(r->list)
		BLF_PUTS(p, "Require: eventlist\r\n");
	return blf_reply_200(msg, tag, hdrs, (int)(p - hdrs));
}

static int blf_expiry_check(struct sip_msg *msg, blf_subreq_t *r)
{
	char hdr[64];

	if(blf_expiry_grant(&blf_cfg.expiry, r->expires, &r->granted)
			== BLF_EXPIRY_TOO_BRIEF) {
		snprintf(hdr, sizeof(hdr), "Min-Expires: %u\r\n",
				blf_cfg.expiry.min_expires);
		return blf_reject(msg, 423, "Interval Too Brief", hdr,
				"Expires below min_expires");
	}
	return 0;
}

/* refresh or unsubscribe of an existing subscription (found by our tag) */
static int blf_subs_refresh(struct sip_msg *msg, blf_subreq_t *r)
{
	blf_notify_job_t *job = NULL;
	blf_frags_t fr;
	blf_entity_t *e;
	blf_sub_t *s, **ps, *ns;
	unsigned int hash;
	int rc, wild = 0, prev = 0;
	time_t now = time(NULL);

	if(blf_tag_hash(&r->f[BLF_SF_TTAG], &hash) < 0)
		return blf_reject(msg, 481, "Subscription Does Not Exist", NULL,
				"To tag is not ours");
	if((rc = blf_expiry_check(msg, r)) < 0)
		return rc;
	memset(&fr, 0, sizeof(fr));
	blf_slot_lock(hash);
	s = blf_table_sub_find(hash, &r->f[BLF_SF_CALLID], &r->f[BLF_SF_FTAG],
			&r->f[BLF_SF_TTAG], &e, &ps);
	if(s == NULL) {
		blf_slot_unlock(hash);
		return blf_reject(msg, 481, "Subscription Does Not Exist", NULL,
				"no such subscription");
	}
	/* one subscription per dialog here: another package in the same
	 * dialog (RFC 6665 4.5.2) is a subscription we do not have */
	if(s->pkg != r->pkg->id) {
		blf_slot_unlock(hash);
		return blf_reject(msg, 481, "Subscription Does Not Exist", NULL,
				"no subscription of that event package in this dialog");
	}
	/* unsubscribed, its final NOTIFY waiting for the former owner's
	 * version (blf_sub_takeover_end): it has ended */
	if(s->flags & BLF_SUB_ENDING) {
		blf_slot_unlock(hash);
		return blf_reject(msg, 481, "Subscription Does Not Exist", NULL,
				"subscription terminated by an unsubscribe");
	}
	/* a copy of another node's subscription: the phone now talks to us,
	 * so it becomes ours (the cluster learns it from the replica below) */
	if(s->owner) {
		prev = s->owner; /* the rebuilt copy is ours (owner 0) */
		ns = blf_sub_rebuild(s, BLF_SF_LCONTACT, &r->f[BLF_SF_LCONTACT]);
		if(ns) {
			ns->next = s->next;
			*ps = ns;
			blf_sub_free(s);
			s = ns;
		}
		LM_INFO("subscription %.*s taken over from cluster node #%d by its "
				"refresh\n",
				BLF_SF(s, BLF_SF_CALLID).len, BLF_SF(s, BLF_SF_CALLID).s, prev);
		s->owner = 0;
		blf_sub_set_sock(s, msg->rcv.bind_address);
		atomic_inc(blf_nsubs);
		blf_sub_repl_add(-1); /* no longer a replica */
		/* counted for its watcher and source from now on (not limited:
		 * it exists already) */
		blf_wc_sub_take(s, &msg->rcv.src_ip, 0);
	}
	/* a target refresh: the watcher may have moved */
	if(r->f[BLF_SF_CONTACT].len && !STR_EQ(r->f[BLF_SF_CONTACT], BLF_SF(s, BLF_SF_CONTACT))) {
		ns = blf_sub_rebuild(s, BLF_SF_CONTACT, &r->f[BLF_SF_CONTACT]);
		if(ns) {
			ns->next = s->next;
			*ps = ns;
			blf_sub_free(s);
			s = ns;
		}
	}
	s->expires = now + r->granted;
	s->flags |= BLF_SUB_DIRTY;
	blf_slot_dirty(hash);
	r->list = (s->flags & BLF_SUB_LIST) != 0;
	blf_entity_sub_due(e, s->expires);
	/* a later refresh does not wait for the former owner any more (a
	 * wildcard's waiting burst: this refresh's is sent instead) */
	if((s->flags & BLF_SUB_WILDCARD) && (s->flags & BLF_SUB_VWAIT)
			&& blf_sub_wx(s)->owed_from == BLF_WX_BURST)
		s->flags &= ~BLF_SUB_OWED;
	s->flags &= ~BLF_SUB_VWAIT;
	if(r->granted) {
		/* taken over: the replica says so ("tk"), the former owner yields
		 * and answers with its last version (transient: the copy only) */
		if(prev)
			s->flags |= BLF_SUB_TAKEN;
		blf_chg_sub(BLF_CHG_SUB_NEW, e, s);
		s->flags &= ~BLF_SUB_TAKEN;
	}
	if(r->granted == 0) {
		/* taken from a live node: the final NOTIFY waits for that node's
		 * last version too (s stays until then) */
		if(!blf_sub_takeover_end(e, s, prev, now)) {
			job = blf_sub_job(e, s, &fr, NULL, 1, "timeout", now);
			blf_sub_unlink(e, ps);
			blf_entity_gc(hash, e);
		}
	} else if(!(s->flags & BLF_SUB_WILDCARD)
			  && blf_visapply_refresh(e, s) == BLF_VIS_NONE) {
		/* its per-watcher rule is none now (visibility_url) */
		job = blf_visapply_reject_job(e, s, &fr, now);
		blf_sub_unlink(e, ps);
		blf_entity_gc(hash, e);
	} else if(!(s->flags & BLF_SUB_WILDCARD)) {
		/* taken from a live node: its NOTIFY waits for that node's last
		 * version (a round trip), else it could repeat it */
		if(!blf_sub_takeover_hold(e, s, prev))
			job = blf_sub_job(e, s, &fr, NULL, 0, NULL, now);
	} else if(blf_sub_takeover_hold(e, s, prev)) {
		/* a wildcard taken from a live node: its burst waits for that
		 * node's last version (blf_subs_takeover_burst) */
	} else if((blf_cfg.wildcard_burst_interval > 0 && blf_sub_wx(s)->burst_at
					  && now >= blf_sub_wx(s)->burst_at
					  && now - blf_sub_wx(s)->burst_at
								 < blf_cfg.wildcard_burst_interval)
			  || !blf_wc_burst_ok(&BLF_SF(s, BLF_SF_WATCHER), now)) {
		/* a burst was sent a moment ago (or its watcher used its burst
		 * budget): this refresh gets one NOTIFY naming the wildcard URI
		 * (RFC 6665 4.2.2), not another NOTIFY per entity; changes keep
		 * coming as they happen */
		job = blf_wildcard_idle_job(hash, s, &fr, now);
		update_stat(blf_st_wildcard_bursts_limited, 1);
	} else {
		blf_sub_wx(s)->burst_at = (unsigned int)now;
		wild = 1; /* its full state is the burst, sent after the reply */
		memcpy(r->keybuf, e->key.s, e->key.len);
		r->key.s = r->keybuf;
		r->key.len = e->key.len;
	}
	blf_slot_unlock(hash);

	blf_reply_ok(msg, r, &r->f[BLF_SF_TTAG]);
	if(wild)
		blf_wildcard_burst(hash, &r->key, &r->f[BLF_SF_CALLID],
				&r->f[BLF_SF_FTAG], &r->f[BLF_SF_TTAG]);
	blf_chg_send(job);
	blf_frags_free(&fr);
	return 1;
}

/* the entity a SUBSCRIBE's Request-URI names */
static int blf_subreq_entity(struct sip_msg *msg, blf_subreq_t *r)
{
	str *ruri;
	char *at;
	int n;

	if(parse_sip_msg_uri(msg) < 0)
		return blf_reject(
				msg, 400, "Bad Request-URI", NULL, "unparsable Request-URI");
	ruri = GET_RURI(msg);
	if((n = blf_uri_key_check(&msg->parsed_uri)) < 0)
		return blf_reject(msg, 400,
				n == -2 ? "Request-URI Too Long" : "Bad Request-URI", NULL,
				n == -2 ? "Request-URI user@host too long"
						: "Request-URI without user@host");
	if(blf_key_from_uri(ruri, r->keybuf, sizeof(r->keybuf), &r->key) < 0)
		return blf_reject(msg, 400, "Bad Request-URI", NULL,
				"Request-URI without user@host");
	r->hash = blf_key_hash(&r->key);
	at = memchr(r->key.s, '@', r->key.len);
	r->wildcard = (blf_cfg.wildcard_user.len > 0
				   && at - r->key.s == blf_cfg.wildcard_user.len
				   && memcmp(r->key.s, blf_cfg.wildcard_user.s,
							  blf_cfg.wildcard_user.len)
							  == 0);
	/* the key is under BLF_KEY_MAX (blf_key_from_uri) */
	memcpy(r->uribuf, "sip:", 4);
	memcpy(r->uribuf + 4, r->key.s, r->key.len);
	n = 4 + r->key.len;
	r->f[BLF_SF_URI].s = r->uribuf;
	r->f[BLF_SF_URI].len = n;
	/* the entity attribute is an anyURI: sip:202@[::1] goes out as
	 * sip:202@%5B::1%5D (blf_sipcheck.h) */
	n = blf_uri_pct_encode(r->uribuf, n, r->pctbuf, sizeof(r->pctbuf));
	if(n >= 0)
		n = blf_xml_escape_attr(r->pctbuf, n, r->escbuf, sizeof(r->escbuf));
	if(n < 0)
		return blf_reject(msg, 400, "Bad Request-URI", NULL, "URI too long");
	r->f[BLF_SF_ENTITY_ESC].s = r->escbuf;
	/* kept only when escaping changed it: the URI serves otherwise */
	r->f[BLF_SF_ENTITY_ESC].len =
			(n == r->f[BLF_SF_URI].len
					&& memcmp(r->escbuf, r->uribuf, n) == 0)
					? 0
					: n;
	return 0;
}

/*
 * Alias resolution of a new subscription: the entity it watches is the one
 * the subscribed URI stands for (its URI as asked stays the entity
 * attribute), and the watcher is compared by what its From URI stands for.
 * An unknown alias is asked at once and waited for, at most http_timeout.
 */
static void blf_subreq_resolve(blf_subreq_t *r, str *watcher)
{
	str can;

	struct timespec t0, t1;
	int left;

	r->vis = -1;
	*watcher = r->f[BLF_SF_WATCHER];
	if(!blf_alias_enabled())
		return;
	/* both questions go out at once; the waits share one http_timeout */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if(blf_alias_resolve(&r->f[BLF_SF_WATCHER], r->wcanbuf,
			   sizeof(r->wcanbuf), watcher, NULL, 0)
			== 1)
		watcher = NULL; /* known already */
	if(!r->wildcard && !r->list) { /* a list is itself */
		blf_alias_resolve(&r->key, r->canbuf, sizeof(r->canbuf), &can,
				&r->vis, blf_cfg.http_timeout);
		if(!STR_EQ(can, r->key)) {
			r->key = can;
			r->hash = blf_key_hash(&r->key);
		}
	}
	if(watcher == NULL)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	left = blf_cfg.http_timeout - (int)((t1.tv_sec - t0.tv_sec) * 1000
										+ (t1.tv_nsec - t0.tv_nsec) / 1000000);
	blf_alias_resolve(&r->f[BLF_SF_WATCHER], r->wcanbuf, sizeof(r->wcanbuf),
			watcher, NULL, left > 0 ? left : 0);
}

/* 1 when user@host keys a and b have the same host (case-insensitive) */
static int blf_same_domain(const str *a, const str *b)
{
	char *ha = memchr(a->s, '@', a->len), *hb = memchr(b->s, '@', b->len);
	int la, lb;

	if(ha == NULL || hb == NULL)
		return 0;
	la = a->len - (int)(ha - a->s);
	lb = b->len - (int)(hb - b->s);
	return la == lb && strncasecmp(ha, hb, la) == 0;
}

/* 1 when the host of user@host key a is park_domain */
static int blf_is_park_domain(const str *a)
{
	char *h = memchr(a->s, '@', a->len);
	int l;

	if(h == NULL || blf_cfg.park_domain.len == 0)
		return 0;
	h++;
	l = a->len - (int)(h - a->s);
	return l == blf_cfg.park_domain.len
		   && strncasecmp(h, blf_cfg.park_domain.s, l) == 0;
}

/* a new subscription not kept after all (a limit, a retransmission) */
static void blf_subs_drop_new(blf_subreq_t *r, blf_sub_t *s)
{
	if(r->list)
		blf_lsub_del(&BLF_SF(s, BLF_SF_TTAG));
	blf_sub_free(s);
}

static int blf_subs_new(struct sip_msg *msg, blf_subreq_t *r)
{
	blf_notify_job_t *job = NULL;
	blf_frags_t fr;
	blf_entity_t *e, tmp;
	blf_sub_t *s, *old;
	blf_vis_t vis;
	str watcher, sf[BLF_SF_N];
	int rc, self, lq = 0, evlist = 0;
	time_t now = time(NULL);
	char hdr[64];
	struct timespec t0, t1;

	if((rc = blf_subreq_entity(msg, r)) < 0)
		return rc;
	/* an RFC 4662 list (list_url; the URI as asked, before aliases) */
	if(!r->wildcard && blf_list_enabled()) {
		lq = blf_list_get(&r->key, blf_cfg.http_timeout, &r->lst);
		if(lq != 0)
			evlist = (r->scanned && r->sc.evlist) || blf_lsub_supported(msg);
		if(lq == 1) {
			if(!evlist)
				return blf_reject(msg, 421, "Extension Required",
						"Require: eventlist\r\n",
						"a list without Supported: eventlist");
			r->list = 1;
		}
		/* its answer still coming, or failed: plain for now, ended when
		 * it says list (blf_lsub_plain_ended), for a watcher that takes
		 * lists; a failed question is asked again (blf_list_want) */
		lq = (lq == 2 || lq == 3) && evlist;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	blf_subreq_resolve(r, &watcher);
	/* kept as resolved: the watcher is who it stands for */
	r->f[BLF_SF_WATCHER] = watcher;
	self = STR_EQ(r->key, watcher);
	if((r->pkg->flags & BLF_PKG_SELF_ONLY) && !self)
		return blf_reject(msg, 403, "Forbidden", NULL,
				"only the entity itself may subscribe to this package");
	if(r->wildcard && !(r->pkg->flags & BLF_PKG_WILDCARD))
		return blf_reject(msg, 403, "Forbidden", NULL,
				"this package cannot be subscribed on the wildcard user");
	vis = blf_vis_decide(blf_cfg.visibility, r->vis, BLF_VIS_UNSET,
			BLF_VIS_UNSET, self);
	if(!(r->pkg->flags & BLF_PKG_VIS))
		vis = BLF_VIS_FULL; /* the policy does not apply */
	else if(!self && !r->wildcard && !r->list && blf_viscache_enabled()) {
		/* (a list: each member's, blf_lsub.c) */
		/* the per-watcher rule (visibility_url), waited for like an alias
		 * within what is left of http_timeout; unknown is none */
		clock_gettime(CLOCK_MONOTONIC, &t1);
		rc = blf_cfg.http_timeout
			 - (int)((t1.tv_sec - t0.tv_sec) * 1000
					 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
		blf_vis_lookup_wait(&r->key, &watcher, r->vis, rc > 0 ? rc : 0, &vis);
	}
	if(vis == BLF_VIS_NONE && !self)
		return blf_reject(msg, 403, "Forbidden", NULL,
				"visibility none: only the entity itself may watch");
	/* a wildcard shows every call of its domain: to watchers of that
	 * domain only (the park domain's orbits are everyone's) */
	if(r->wildcard && !blf_same_domain(&r->key, &watcher)
			&& !blf_is_park_domain(&r->key))
		return blf_reject(msg, 403, "Forbidden", NULL,
				"wildcard of a domain that is not the watcher's");
	if(r->f[BLF_SF_CONTACT].len == 0)
		return blf_reject(msg, 400, "Missing Contact", NULL, "no Contact");
	if((rc = blf_expiry_check(msg, r)) < 0)
		return rc;

	blf_new_tag(r->hash, r->tagbuf, &r->f[BLF_SF_TTAG]);
	/* our Contact follows from the socket: not stored (NOTIFY derives it) */
	memcpy(sf, r->f, sizeof(sf));
	sf[BLF_SF_LCONTACT].len = 0;
	s = blf_sub_build(sf, (r->wildcard ? BLF_SUB_WILDCARD : 0) | BLF_SUB_DIRTY
								  | (r->list ? BLF_SUB_LIST : 0)
								  | (lq ? BLF_SUB_LISTQ : 0));
	if(s == NULL)
		return blf_reject(msg, 500, "Server Internal Error", NULL, "no memory");
	s->expires = (unsigned int)(now + r->granted);
	s->vis = (unsigned char)(self ? BLF_VIS_FULL : vis);
	s->pkg = r->pkg->id;
	if(r->list
			&& blf_lsub_add(&r->f[BLF_SF_CALLID], &r->f[BLF_SF_FTAG],
					   &r->f[BLF_SF_TTAG], &r->key, r->hash,
					   &r->f[BLF_SF_URI], &r->f[BLF_SF_WATCHER], r->lst)
					   < 0) {
		blf_sub_free(s);
		return blf_reject(msg, 500, "Server Internal Error", NULL,
				"no memory for the list");
	}
	blf_sub_set_sock(s, r->sock);
	s->cseq = 0;
	s->version = 0;
	memset(&fr, 0, sizeof(fr));

	if(r->granted == 0) {
		/* a fetch: one NOTIFY with the state, nothing kept */
		blf_slot_lock(r->hash);
		e = blf_entity_find(r->hash, &r->key);
		if(e == NULL) {
			memset(&tmp, 0, sizeof(tmp));
			tmp.hash = r->hash;
			e = &tmp;
		}
		job = blf_sub_job(e, s, &fr, NULL, 1, "timeout", now);
		blf_slot_unlock(r->hash);
		blf_reply_ok(msg, r, &BLF_SF(s, BLF_SF_TTAG));
		blf_sub_free(s);
		blf_chg_send(job);
		blf_frags_free(&fr);
		if(r->list) /* a fetch keeps nothing */
			blf_lsub_del(&r->f[BLF_SF_TTAG]);
		return 1;
	}

	blf_slot_lock(r->hash);
	e = blf_entity_get(r->hash, &r->key);
	if(e == NULL) {
		blf_slot_unlock(r->hash);
		blf_subs_drop_new(r, s);
		return blf_reject(msg, 500, "Server Internal Error", NULL, "no memory");
	}
	/* a retransmitted initial SUBSCRIBE: the subscription exists already */
	old = blf_sub_find(e, &r->f[BLF_SF_CALLID], &r->f[BLF_SF_FTAG], NULL, NULL);
	if(old) {
		blf_subs_drop_new(r, s);
		old->expires = now + r->granted;
		old->flags |= BLF_SUB_DIRTY;
		blf_slot_dirty(e->hash);
		blf_entity_sub_due(e, old->expires);
		blf_chg_sub(BLF_CHG_SUB_NEW, e, old);
		r->f[BLF_SF_TTAG] = BLF_SF(old, BLF_SF_TTAG);
		memcpy(r->tagbuf, BLF_SF(old, BLF_SF_TTAG).s, BLF_SF(old, BLF_SF_TTAG).len);
		r->f[BLF_SF_TTAG].s = r->tagbuf;
		if(!r->wildcard)
			job = blf_sub_job(e, old, &fr, NULL, 0, NULL, now);
		blf_slot_unlock(r->hash);
		blf_reply_ok(msg, r, &r->f[BLF_SF_TTAG]);
		goto send;
	}
	if(blf_cfg.max_subscriptions > 0
			&& atomic_get(blf_nsubs) >= blf_cfg.max_subscriptions) {
		blf_entity_gc(r->hash, e);
		blf_slot_unlock(r->hash);
		blf_subs_drop_new(r, s);
		snprintf(hdr, sizeof(hdr), "Retry-After: %u\r\n", 60);
		return blf_reject(msg, 503, "Service Unavailable", hdr,
				"max_subscriptions reached");
	}
	/* per watcher and per source address (blf_wcount.c) */
	if((rc = blf_wc_sub_take(s, &msg->rcv.src_ip, 1)) != 0) {
		blf_entity_gc(r->hash, e);
		blf_slot_unlock(r->hash);
		blf_subs_drop_new(r, s);
		if(rc < 0)
			return blf_reject(
					msg, 500, "Server Internal Error", NULL, "no memory");
		snprintf(hdr, sizeof(hdr), "Retry-After: %u\r\n",
				BLF_LIMIT_RETRY_AFTER);
		if(rc == BLF_WC_WATCHER + 1) {
			update_stat(blf_st_watcher_limited, 1);
			return blf_reject(msg, 503, "Too Many Subscriptions Of Watcher",
					hdr, "max_watcher_subscriptions reached");
		}
		update_stat(blf_st_source_limited, 1);
		return blf_reject(msg, 503, "Too Many Subscriptions From Address",
				hdr, "max_source_subscriptions reached");
	}
	if(r->wildcard && !blf_wc_burst_ok(&watcher, now)) {
		/* a new wildcard subscription is its full state: refused, not
		 * accepted without it */
		blf_entity_gc(r->hash, e);
		blf_slot_unlock(r->hash);
		blf_subs_drop_new(r, s);
		update_stat(blf_st_wildcard_bursts_limited, 1);
		snprintf(hdr, sizeof(hdr), "Retry-After: %d\r\n",
				blf_cfg.wildcard_burst_interval);
		return blf_reject(msg, 503, "Too Many Wildcard Subscriptions", hdr,
				"the watcher's wildcard bursts per wildcard_burst_interval "
				"used up");
	}
	if(r->wildcard)
		blf_sub_wx(s)->burst_at = (unsigned int)now;
	s->next = e->subs;
	e->subs = s;
	blf_slot_dirty(e->hash); /* built BLF_SUB_DIRTY */
	e->nsubs++;
	blf_entity_sub_due(e, s->expires);
	atomic_inc(blf_nsubs);
	blf_chg_sub(BLF_CHG_SUB_NEW, e, s);
	if(!r->wildcard)
		job = blf_sub_job(e, s, &fr, NULL, 0, NULL, now);
	blf_slot_unlock(r->hash);

	blf_reply_ok(msg, r, &r->f[BLF_SF_TTAG]);
	LM_DBG("new subscription of %.*s to %.*s, %u s\n",
			r->f[BLF_SF_WATCHER].len, r->f[BLF_SF_WATCHER].s, r->key.len,
			r->key.s, r->granted);
	if(r->wildcard) {
		blf_wildcard_burst(r->hash, &r->key, &r->f[BLF_SF_CALLID],
				&r->f[BLF_SF_FTAG], &r->f[BLF_SF_TTAG]);
		return 1;
	}
	if(lq) {
		/* the answer may have come between the look and the link:
		 * the changed hook then found no subscription to end */
		blf_list_copy_t *l = NULL;

		blf_chg_send(job);
		job = NULL;
		if(blf_list_get(&r->key, 0, &l) == 1)
			blf_lsub_plain_ended(&r->key);
		else
			blf_list_want(&r->key);
		free(l);
	}
send:
	blf_chg_send(job);
	blf_frags_free(&fr);
	return 1;
}

/*
 * blf_handle_subscribe(): validate, reply, store, NOTIFY. Returns 1 when
 * the SUBSCRIBE was accepted, -<code> when an error reply was sent.
 */
int blf_subs_handle(struct sip_msg *msg)
{
	blf_subreq_t *r;
	int rc;

	if(msg->first_line.type != SIP_REQUEST
			|| msg->first_line.u.request.method_value != METHOD_SUBSCRIBE) {
		LM_ERR("blf_handle_subscribe() called for a non-SUBSCRIBE\n");
		return -1;
	}
	/* a few KB of buffers, off the stack and out of pkg (a large pkg block
	 * per request is slow with qm); a SIP worker handles one request at a
	 * time, so one per process will do */
	r = &blf_subreq_buf;
	memset(r, 0, offsetof(blf_subreq_t, keybuf));
	rc = blf_subreq_parse(msg, r);
	if(rc == 0)
		rc = r->f[BLF_SF_TTAG].len ? blf_subs_refresh(msg, r)
								   : blf_subs_new(msg, r);
	free(r->lst);
	r->lst = NULL;
	blf_subreq_free(r);
	return rc;
}

/*
 * Ends every subscription of entity ekey that was made to the URI of key
 * asked (an alias whose meaning changed) with a final NOTIFY
 * terminated;reason=deactivated: RFC 6665 tells the phone to subscribe
 * again at once, and the new subscription reaches the right entity.
 */
/* not a wildcard's, made to the URI arg (a str) */
static int blf_subs_made_to(const blf_sub_t *s, const void *arg)
{
	const str *uri = arg;

	return !(s->flags & BLF_SUB_WILDCARD)
		   && STR_EQ(BLF_SF(s, BLF_SF_URI), *uri);
}

int blf_subs_deactivate_uri(const str *ekey, const str *asked)
{
	char ubuf[BLF_KEY_MAX + 8];
	str uri;

	uri.s = ubuf;
	uri.len = snprintf(ubuf, sizeof(ubuf), "sip:%.*s", asked->len, asked->s);
	return blf_entity_end_subs(ekey, blf_subs_made_to, &uri, "deactivated");
}

/*
 * The visibility policy of entity ekey is now vis (learnt from the alias
 * service): kept on the entity, and every live subscription of another
 * watcher follows at once. A stricter policy lowers the subscription's
 * visibility from its next NOTIFY; `none` ends it with a final NOTIFY
 * terminated;reason=rejected that shows no call. The entity's own
 * subscriptions (watcher == entity) keep seeing everything; wildcard
 * subscriptions read the entity's policy per NOTIFY (blf_wildcard_vis).
 * Subscriptions another cluster node owns are that node's to end.
 * Returns the number of subscriptions ended.
 * (blf_alias.c's helper "http" appended this function.)
 */
int blf_subs_apply_policy(const str *ekey, blf_vis_t vis)
{
	blf_notify_job_t *jobs = NULL, *j;
	blf_frags_t fr;
	blf_entity_t *e, empty;
	blf_sub_t **ps, *s;
	unsigned int hash = blf_key_hash(ekey);
	time_t now = time(NULL);
	int n = 0;

	memset(&fr, 0, sizeof(fr));
	blf_slot_lock(hash);
	e = blf_entity_find(hash, ekey);
	if(e == NULL) {
		blf_slot_unlock(hash);
		return 0;
	}
	e->vis = vis;
	/* the final NOTIFY of a rejected watcher describes no call */
	memset(&empty, 0, sizeof(empty));
	empty.hash = e->hash;
	empty.key = e->key;
	for(ps = &e->subs; *ps;) {
		s = *ps;
		if((s->flags & BLF_SUB_WILDCARD)
				|| STR_EQ(BLF_SF(s, BLF_SF_WATCHER), e->key)
				|| s->vis >= vis) {
			ps = &s->next;
			continue;
		}
		if(vis != BLF_VIS_NONE || s->owner) {
			s->vis = vis; /* from its next NOTIFY on */
			s->flags |= BLF_SUB_DIRTY;
			e->pdig = 0; /* its next one is news even if the rest is not */
			blf_slot_dirty(e->hash);
			if(s->owner == 0)
				blf_chg_sub(BLF_CHG_SUB_NEW, e, s);
			ps = &s->next;
			continue;
		}
		j = blf_sub_job_vis(&empty, s, &fr, NULL, BLF_VIS_STATE, 1,
				"rejected", now);
		if(j) {
			j->next = jobs;
			jobs = j;
		}
		blf_sub_unlink(e, ps);
		n++;
	}
	blf_entity_gc(hash, e);
	blf_slot_unlock(hash);
	blf_chg_send(jobs);
	blf_frags_free(&fr);
	if(n)
		LM_INFO("visibility of %.*s is %s: %d subscription(s) ended\n",
				ekey->len, ekey->s, blf_vis_name(vis), n);
	return n;
}
