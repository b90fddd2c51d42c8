/*
 * blf_notify.h — sending NOTIFYs: over tm (blf_notify.c) or our own UDP
 * transactions (blf_ntx.c).
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_NOTIFY_H
#define BLF_NOTIFY_H

#include "blf_table.h"

/* blf_notify.c */
/* blf_pkg_dialog.c: the dialog event package (RFC 4235) */
extern blf_pkg_t blf_pkg_dialog;
/* blf_pkg_presence.c: the presence event package (RFC 3856, PIDF) */
extern blf_pkg_t blf_pkg_presence;
/* blf_pkg_winfo.c: presence.winfo, dialog.winfo (RFC 3857) */
extern blf_pkg_t blf_pkg_presence_winfo;
extern blf_pkg_t blf_pkg_dialog_winfo;
int blf_winfo_listen(void); /* mod_init: watchers come/go -> NOTIFYs */
/* blf_pkg_reg.c: reg (RFC 3680), registered only with usrloc */
extern blf_pkg_t blf_pkg_reg;
/* blf_ul.c: binds usrloc's callbacks when it is loaded (sets blf_ul_on) */
int blf_ul_init(void);

void blf_notify_send_all(blf_notify_job_t *jobs);
void blf_job_free(blf_notify_job_t *j);

/* blf_ntx.c: NOTIFY transactions over UDP, without tm */
int blf_ntx_init(void);
int blf_ntx_child_init(int rank);
void blf_ntx_destroy(void);
/* 0: sent (or queued for retransmission), -1: error, 1: not for us (tm) */
int blf_ntx_send(const blf_notify_job_t *j, const str *hdrs, const str *body);
int blf_ntx_response(struct sip_msg *msg);
unsigned long blf_ntx_pending(void); /* NOTIFYs waiting for an answer */
unsigned long blf_ntx_blocks(void);  /* shm blocks held (pending + pool) */
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
