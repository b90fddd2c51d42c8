/*
 * blf_reply.c — stateless replies to the requests the module answers
 * (SUBSCRIBE, PUBLISH), and their rejections with a rate-limited log line.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>

#include "core/dprint.h"
#include "core/ip_addr.h"
#include "core/data_lump_rpl.h"

#include "blf_cfg.h"
#include "blf_reply.h"

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
