/*
 * blf_reply.c — stateless replies to the requests the module answers
 * (SUBSCRIBE, PUBLISH), and their rejections with a rate-limited log line.
 *
 * The 200 to a SUBSCRIBE is most of what a subscription costs besides the
 * parse (bench/README.md, "Where the CPU goes against the floor"): sl's
 * generic builder takes five pkg blocks (reply lumps, received, rport, the
 * buffer), and with Kamailio's default qm allocator each one walks the free
 * lists. So, in the usual case, blf_reply_200() writes the same bytes sl
 * would (build_res_buf_from_sip_req(): status line, every Via with the top
 * one's rport/received, Record-Route, From, To with our tag, Call-ID, CSeq,
 * our headers, Server, Content-Length) into a static buffer and sends it
 * with the core's msg_send(), so the core's send hooks (topoh, siptrace's
 * SREV_NET_DATA_OUT) still see it. Whenever something would have seen or
 * changed sl's reply, sl sends it as before: see blf_reply_direct_ok().
 * These 200s are not in sl's statistics (sl.stats, sl:200_replies,
 * sl:sent_replies); blf:subscribe_replies_direct counts them.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>

#include "core/dprint.h"
#include "core/ip_addr.h"
#include "core/data_lump_rpl.h"
#include "core/config.h"
#include "core/forward.h"
#include "core/globals.h"
#include "core/events.h"
#include "core/route.h"
#include "core/sr_module.h"
#include "core/msg_translator.h"
#include "core/kemi.h"
#include "core/parser/parse_to.h"
#include "core/counters.h"

#include "blf_cfg.h"
#include "blf_reply.h"
#include "blf_put.h"

/* 0 when something registered at startup would see or change sl's replies
 * (set per process by blf_reply_child_init) */
static int blf_rpl_direct = 0;

/* the modules that hook sl's replies (SLCB_REPLY_READY in Kamailio 5.6):
 * with any of them loaded, sl sends every 200 */
static const char *const blf_rpl_sl_hookers[] = {"siptrace", "sipcapture",
		"sca", "nat_traversal", "debugger", "sipdump", "topos", NULL};

/* 1 when a listener other than the module's own was registered for
 * SREV_SIP_REPLY_OUT (blf_reply_proc_init); 1 until known */
static int blf_rpl_evt_others = 1;

void blf_reply_proc_init(void)
{
	blf_rpl_evt_others = sr_event_enabled(SREV_SIP_REPLY_OUT);
}

void blf_reply_child_init(void)
{
	int i;

	blf_rpl_direct = blf_cfg.reply_direct != 0
					 && route_lookup(&event_rt, "sl:local-response") < 0;
	for(i = 0; blf_rpl_direct && blf_rpl_sl_hookers[i]; i++)
		if(module_loaded((char *)blf_rpl_sl_hookers[i]))
			blf_rpl_direct = 0;
}

/*
 * 1 when blf_reply_200() may write the 200 itself: reply_direct on, no
 * module hooking sl's replies, no event_route[sl:local-response], no KEMI
 * engine (sl runs its local-response callback), nothing but the module
 * itself (blf_dmq_proc_init) listening for SREV_SIP_REPLY_OUT at
 * startup (a module adding one in its own child_init later is not seen:
 * none of Kamailio's does); a UDP request with a parsed top Via that is not
 * compressed and has no received parameter of its own, no reply lump the
 * script added (append_to_reply), no Warning header asked for
 * (sip_warning), replies to the source address (reply_to_via=0). Anything
 * else goes through sl, which then builds exactly what it always did.
 */
static int blf_reply_direct_ok(struct sip_msg *msg)
{
	return blf_rpl_direct && msg->rcv.proto == PROTO_UDP
		   && !(msg->msg_flags & FL_MSG_NOREPLY) && msg->reply_lump == NULL
		   && !reply_to_via && !sip_warning && msg->via1 != NULL
		   && msg->h_via1 != NULL && msg->via1->received == NULL
#ifdef USE_COMP
		   && msg->via1->comp_no == 0
#endif
		   && msg->to != NULL && msg->to->parsed != NULL && !IS_HTTP(msg)
		   && sr_kemi_eng_get() == NULL
		   && !blf_rpl_evt_others;
}

/* the largest 200 written here; a longer one goes through sl */
#define BLF_RPL_MAX 16384

/*
 * The 200 as build_res_buf_from_sip_req() writes it with tag as the To tag
 * when the To has none; hdrs (hlen bytes, CRLF-terminated) after the
 * copied headers. The length of the reply, or -1 when it does not fit.
 */
static int blf_reply_200_build(struct sip_msg *msg, const str *tag,
		const char *hdrs, int hlen, char *buf, int size)
{
	struct hdr_field *h;
	struct via_param *rp;
	struct to_body *to = get_to(msg);
	char *p = buf, *end, *via_end;
	char *ip;
	int rport, rcvd, len, iplen = 0;

	rport = ((msg->msg_flags | global_req_flags) & FL_FORCE_RPORT)
			|| msg->via1->rport;
	rcvd = received_test(msg);
	ip = rcvd ? ip_addr2a(&msg->rcv.src_ip) : NULL;
	if(rcvd && ip == NULL)
		return -1;
	if(ip)
		iplen = strlen(ip);
	/* room: the copied headers, our additions, 64 for the fixed parts */
	len = msg->first_line.u.request.version.len + 16 + hlen
		  + RPORT_LEN + 5 + RECEIVED_LEN + iplen
		  + (server_signature ? server_hdr.len + 2 : 0) + 64;
	for(h = msg->headers; h; h = h->next)
		switch(h->type) {
			case HDR_TO_T: /* per To header, as sl writes it (the core
							* refuses a second To today) */
				len += (tag ? tag->len + 5 : 0);
				/* fall through */
			case HDR_VIA_T:
			case HDR_RECORDROUTE_T:
			case HDR_FROM_T:
			case HDR_CALLID_T:
			case HDR_CSEQ_T:
				len += h->len + 2;
				break;
			default:
				break;
		}
	if(len > size)
		return -1;
	BLF_PUT(p, msg->first_line.u.request.version.s,
			msg->first_line.u.request.version.len);
	BLF_PUTS(p, " 200 OK\r\n");
	for(h = msg->headers; h; h = h->next) {
		switch(h->type) {
			case HDR_VIA_T:
				via_end = h->body.s + h->body.len;
				if(h == msg->h_via1 && rport) {
					rp = msg->via1->rport;
					if(rp) { /* its value replaced, where it stands */
						BLF_PUT(p, h->name.s, rp->start - h->name.s - 1);
						BLF_PUTS(p, RPORT);
						p = blf_put_uint(p, msg->rcv.src_port);
						BLF_PUT(p, rp->start + rp->size,
								via_end - (rp->start + rp->size));
					} else {
						BLF_PUT(p, h->name.s, via_end - h->name.s);
						BLF_PUTS(p, RPORT);
						p = blf_put_uint(p, msg->rcv.src_port);
					}
				} else {
					BLF_PUT(p, h->name.s, via_end - h->name.s);
				}
				if(h == msg->h_via1 && ip) {
					BLF_PUTS(p, RECEIVED);
					BLF_PUT(p, ip, iplen);
				}
				BLF_PUTS(p, "\r\n");
				break;
			case HDR_TO_T:
				if(tag && tag->len && to->tag_value.len == 0) {
					end = h->body.s + h->body.len;
					BLF_PUT(p, h->name.s, end - h->name.s);
					BLF_PUTS(p, ";tag=");
					BLF_PUT(p, tag->s, tag->len);
					BLF_PUT(p, end, h->name.s + h->len - end);
					break;
				}
				BLF_PUT(p, h->name.s, h->len);
				break;
			case HDR_RECORDROUTE_T: /* in 1xx (from 180) and 2xx replies */
			case HDR_FROM_T:
			case HDR_CALLID_T:
			case HDR_CSEQ_T:
				BLF_PUT(p, h->name.s, h->len);
				break;
			default:
				break;
		}
	}
	BLF_PUT(p, hdrs, hlen);
	if(server_signature && server_hdr.len > 0) {
		BLF_PUT(p, server_hdr.s, server_hdr.len);
		BLF_PUTS(p, "\r\n");
	}
	BLF_PUTS(p, CONTENT_LENGTH "0\r\n\r\n");
	return (int)(p - buf);
}

int blf_reply_200(
		struct sip_msg *msg, const str *tag, const char *hdrs, int hlen)
{
	static char buf[BLF_RPL_MAX];
	struct dest_info dst;
	str reason = str_init("OK");
	int n, mh;

	if(blf_reply_direct_ok(msg)
			&& (n = blf_reply_200_build(msg, tag, hdrs, hlen, buf, sizeof(buf)))
					   > 0) {
		/* where sl sends it: the source address, from the socket the
		 * request came in on (sl_reply_helper) */
		init_dest_info(&dst);
		update_sock_struct_from_ip(&dst.to, msg);
		dst.proto = msg->rcv.proto;
		dst.send_sock = msg->rcv.bind_address;
		dst.id = msg->rcv.proto_reserved1;
		dst.send_flags = msg->rpl_send_flags;
		/* counted before it leaves: whoever got the 200 sees it counted */
		update_stat(blf_st_subscribe_replies_direct, 1);
		mh = mhomed;
		mhomed = 0;
		n = msg_send(&dst, buf, n);
		mhomed = mh;
		if(n < 0) {
			update_stat(blf_st_subscribe_replies_direct, -1);
			LM_ERR("cannot send 200 reply\n");
			return -1;
		}
		return 0;
	}
	if(hlen && add_lump_rpl(msg, (char *)hdrs, hlen, LUMP_RPL_HDR) == 0) {
		LM_ERR("cannot add reply headers\n");
		return -1;
	}
	if(blf_slb.dreply(msg, 200, &reason, (str *)tag) < 0) {
		LM_ERR("cannot send 200 reply\n");
		return -1;
	}
	return 0;
}

int blf_reply(
		struct sip_msg *msg, int code, const char *reason, const char *hdrs)
{
	str r;

	if(hdrs && *hdrs
			&& add_lump_rpl(msg, (char *)hdrs, strlen(hdrs), LUMP_RPL_HDR)
					   == 0) {
		LM_ERR("cannot add reply headers\n");
		return -1;
	}
	r.s = (char *)reason;
	r.len = strlen(reason);
	if(blf_slb.sreply(msg, code, &r) < 0) {
		LM_ERR("cannot send %d reply\n", code);
		return -1;
	}
	return 0;
}

int blf_reply_reject(struct sip_msg *msg, blf_reject_log_t *rl,
		const char *method, int code, const char *reason, const char *hdrs,
		const char *why)
{
	str cid = STR_NULL;
	time_t now = time(NULL);

	if(msg->callid)
		cid = msg->callid->body;
	if(cid.len > BLF_LOG_CALLID_MAX)
		cid.len = BLF_LOG_CALLID_MAX;
	if(now != rl->sec) {
		rl->sec = now;
		rl->lines = 0;
	}
	if(rl->lines++ < BLF_REJECT_LOGS_PER_S) {
		if(rl->quiet)
			LM_NOTICE("%s %.*s from %s rejected with %d: %s (and %lu more "
					  "rejected without a log line)\n",
					method, cid.len, cid.s, ip_addr2a(&msg->rcv.src_ip), code,
					why, rl->quiet);
		else
			LM_NOTICE("%s %.*s from %s rejected with %d: %s\n", method,
					cid.len, cid.s, ip_addr2a(&msg->rcv.src_ip), code, why);
		rl->quiet = 0;
	} else {
		rl->quiet++;
	}
	blf_reply(msg, code, reason, hdrs);
	return -code;
}
