/*
 * blf_reply.h — stateless replies to the requests the module answers
 * (SUBSCRIBE, PUBLISH), and their rejections with a rate-limited log line.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_REPLY_H
#define BLF_REPLY_H

#include <time.h>

#include "core/parser/msg_parser.h"

/* log lines of rejected requests per second, process and method: a peer
 * can send them in a loop; the rest are counted and said with the next */
#define BLF_REJECT_LOGS_PER_S 10
#define BLF_LOG_CALLID_MAX 64 /* bytes of a Call-ID in a log line */

/* one method's log budget (a static per caller: per process) */
typedef struct blf_reject_log {
	time_t sec;
	int lines;
	unsigned long quiet;
} blf_reject_log_t;

/* a stateless reply with extra headers (CRLF-terminated, may be NULL) */
int blf_reply(
		struct sip_msg *msg, int code, const char *reason, const char *hdrs);

/* the 200 to a SUBSCRIBE with tag as To tag (when the To has none) and
 * extra headers hdrs (hlen bytes, CRLF-terminated): written and sent by
 * the module in the usual case, else by sl (blf_reply.c) */
int blf_reply_200(
		struct sip_msg *msg, const str *tag, const char *hdrs, int hlen);

/* per process, after every module's mod_init: whether anything hooks sl's
 * replies (reply_direct, blf_reply.c) */
void blf_reply_child_init(void);
/* the main process before the forks (child_init PROC_INIT), before the
 * module adds its own listener: whether anything else listens for
 * SREV_SIP_REPLY_OUT (then sl sends every 200) */
void blf_reply_proc_init(void);

/* the error reply and a log line saying why (rate-limited by rl);
 * returns -code */
int blf_reply_reject(struct sip_msg *msg, blf_reject_log_t *rl,
		const char *method, int code, const char *reason, const char *hdrs,
		const char *why);

#endif
