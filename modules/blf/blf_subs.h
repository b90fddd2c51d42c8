/*
 * blf_subs.h — SUBSCRIBE handling (blf_subs.c), the expiry timer
 * (blf_expire.c), our own Contact (blf_sock.c) and tags.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_SUBS_H
#define BLF_SUBS_H

#include "blf_table.h"

int blf_subs_handle(struct sip_msg *msg);
void blf_subs_timer(unsigned int ticks, void *param);
int blf_subs_deactivate_uri(const str *ekey, const str *asked);
int blf_subs_apply_policy(const str *ekey, blf_vis_t vis);
/* a wildcard's burst a takeover by refresh held (blf_sub_takeover_hold):
 * sent once its wait is over */
void blf_subs_takeover_burst(
		const str *wkey, const str *callid, const str *ftag, const str *ttag);
/* our Contact URI on socket si (sip:host:port;transport=...) */
int blf_sock_contact(struct socket_info *si, char *buf, int size, str *out);

#endif
