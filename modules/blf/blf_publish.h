/*
 * blf_publish.h — PUBLISH (RFC 3903) of presence documents, the handler
 * behind blf_handle_publish() (blf_publish.c).
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_PUBLISH_H
#define BLF_PUBLISH_H

#include "core/parser/msg_parser.h"

/* answers the PUBLISH (200 or an error); 1 when stored/refreshed/removed,
 * -code when rejected, -1 when called for something else */
int blf_publish_handle(struct sip_msg *msg);
/* mod_init: the ETags' key (every process must share it); 0, or -1 */
int blf_publish_init(void);

#endif
