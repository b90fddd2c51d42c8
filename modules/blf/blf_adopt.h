/*
 * blf_adopt.h — a dead cluster node's calls held for takeover_call_hold
 * seconds and adopted from their in-dialog traffic (blf_adopt.c).
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#ifndef BLF_ADOPT_H
#define BLF_ADOPT_H

#include "core/str.h"

/* mod_init (enable_dmq, takeover_call_hold > 0): the index and the
 * core's pre-script callback */
int blf_adopt_init(void);
void blf_adopt_destroy(void);
/* the takeover: node dead's calls at entity key (not those its
 * incarnation keep sent) are held, or ended at once when there is no hold
 * (blf_entity_end_node_calls); how many were held */
int blf_adopt_hold(const str *key, int dead, unsigned int keep);
/* every second (the BLF DMQ timer): the calls whose hold ended end */
void blf_adopt_timer(void);
/* call sides held or adopted here (statistic orphans_held) */
int blf_adopt_held(void);
/* set by blf_dmq.c: whether node idx is alive in incarnation gen (its
 * held calls then do not end at the hold's end) */
extern int (*blf_adopt_origin_live)(int idx, unsigned int gen);

#endif
