/*
 * blf_notify.h — sending NOTIFYs: over tm (blf_notify.c) or our own UDP
 * transactions (blf_ntx.c).
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_NOTIFY_H
#define BLF_NOTIFY_H

#include "blf_table.h"
#include "blf_ntx.h"

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
/* per process: from blf_notify_hold() on, blf_notify_send_all() keeps the
 * jobs (in order) until blf_notify_release() sends them; blf_notify_holds()
 * says whether some wait */
void blf_notify_hold(void);
int blf_notify_holds(void);
void blf_notify_release(void);
void blf_job_free(blf_notify_job_t *j);

#endif
