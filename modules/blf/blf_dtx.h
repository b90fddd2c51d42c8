/*
 * blf_dtx.h — blf's KDMQ messages as the module's own UDP transactions
 * (blf_dtx.c): what blf_dmq.c sends through it, what blf_mod.c wires in.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_DTX_H
#define BLF_DTX_H

#include "core/str.h"
#include "core/parser/msg_parser.h"
#include "core/counters.h"
#include "modules/dmq/bind_dmq.h"

/* the final answer to a message (msg NULL and code 408 when none came
 * before Timer F), as dmq's reply callback gets it */
typedef void (*blf_dtx_answer_f)(
		struct sip_msg *msg, int code, dmq_node_t *node);

/* mod_init (enable_dmq): with dmq_direct, the table, and with own_timer
 * the "BLF DMQ TX" process (else some process calls blf_dtx_tick() every
 * 200 ms or more often); peer_id is blf's DMQ peer id (kept) */
int blf_dtx_init(const str *peer_id, blf_dtx_answer_f cb, int own_timer);
/* retransmissions and timeouts, when there is no process of our own */
void blf_dtx_tick(void);
int blf_dtx_child_init(int rank);
void blf_dtx_destroy(void);

/*
 * body to node (to every active node of dmq's list but except and this
 * one), as dmq's send_message (bcast_message) would put it on the wire.
 * 0: sent (answers go to the callback); 1: not for us, send it through
 * dmq (dmq_direct=0, a stream transport, a name, too large); -1: failed.
 */
int blf_dtx_send(const str *body, const str *ctype, const dmq_node_t *node);
int blf_dtx_bcast(const str *body, const str *ctype, const dmq_node_t *except);

/* the module's response callback: 0 when the reply answers one of ours */
int blf_dtx_response(struct sip_msg *msg);

/* messages kept for retransmission now */
unsigned long blf_dtx_pending(void);

extern stat_var *blf_st_dmq_direct;
extern stat_var *blf_st_dmq_direct_unkept;

#endif
