/*
 * blf_ntx.h — NOTIFY transactions over UDP without tm (blf_ntx.c), and what
 * blf_dtx.c's KDMQ transactions share with them: the ms clock, tm's timers,
 * the queue of retransmissions sent after the bucket lock.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_NTX_H
#define BLF_NTX_H

#include <stddef.h>
#include "core/str.h"
#include "core/parser/msg_parser.h"
#include "blf_table.h"

/* blf_ntx.c: NOTIFY transactions over UDP, without tm */
int blf_ntx_init(void);
int blf_ntx_child_init(int rank);
void blf_ntx_destroy(void);
/* 0: built and kept (sent by blf_ntx_flush, retransmitted until answered),
 * -1: error, 1: not for us (tm) */
int blf_ntx_send(const blf_notify_job_t *j, const str *hdrs, const str *body);
/* sends what blf_ntx_send() kept: after the last NOTIFY of a change */
void blf_ntx_flush(void);
int blf_ntx_response(struct sip_msg *msg);
unsigned long blf_ntx_pending(void); /* NOTIFYs waiting for an answer */
unsigned long blf_ntx_blocks(void);	 /* shm blocks held (pending + pool) */
/* the monotonic ms clock (wrapping) and tm's timers in ms, as the
 * configuration framework has them now (blf_dtx.c times its KDMQs alike) */
typedef enum
{
	BLF_TM_T1,
	BLF_TM_T2,
	BLF_TM_FR
} blf_tm_timer_t;
unsigned int blf_ntx_ms(void);
unsigned int blf_ntx_tm_ms(blf_tm_timer_t which);
/* a is later than b on the wrapping ms clock */
#define BLF_MS_AFTER(a, b) ((int)((a) - (b)) > 0)
/* retransmissions are copied under their bucket lock and sent after it
 * (no I/O under a lock): the timer's per-process queue (blf_ntx.c, used
 * by blf_dtx.c too). add: 0, or -1 when full (BLF_RESEND_MAX bytes a
 * round: the message stays due and goes next round) */
struct dest_info;
typedef struct blf_resend
{
	char *buf;
	size_t len, size;
} blf_resend_t;
int blf_resend_add(
		blf_resend_t *q, const struct dest_info *dst, const char *m, int len);
void blf_resend_flush(blf_resend_t *q, const char *what);

#endif
