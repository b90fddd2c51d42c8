/*
 * blf_coalesce.h — notify_min_interval: at most one NOTIFY per
 * subscription per interval (SPEC "Parameters"); see blf_coalesce.c.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#ifndef BLF_COALESCE_H
#define BLF_COALESCE_H

#include "core/counters.h"

#include "blf_table.h"

/* the modparam, ms (0: off) */
extern int blf_coal_interval;
/* per table slot, the earliest time (ms, blf_coal_now) an owed NOTIFY of
 * one of its entities is due; NULL when coalescing is off */
extern unsigned int *blf_coal_due;
/* blf:notifies_coalesced: changes merged into a later NOTIFY */
extern stat_var *blf_st_notifies_coalesced;

int blf_coal_init(void);
void blf_coal_destroy(void);
/* the resume process's period, ms */
int blf_coal_tick_ms(void);
/* the timer function of the "BLF COALESCE" process (blf_coaltimer.c) */
void blf_coal_timer(unsigned int ticks, void *param);

/* a monotonic clock in ms (wraps after 49 days: compare differences) */
unsigned int blf_coal_now(void);

/*
 * Called for a change's NOTIFY to s (a watcher of e), the slot lock held:
 * 1 when s got a NOTIFY less than the interval ago, so this one is not
 * built now: s and e are marked owed (full state, BLF_SUB_OWED) and the
 * slot's resume time is set. 0: send now (off, a wildcard or another
 * node's subscription, the interval passed, or the change ends a call).
 * change: 1 for a new change (counted in notifies_coalesced), 0 for an
 * owed NOTIFY held again.
 */
int blf_coal_hold(blf_entity_t *e, blf_sub_t *s, int change);

/* a NOTIFY job was made for s: the interval starts again */
static inline void blf_coal_sent(blf_sub_t *s)
{
	if(blf_coal_due)
		s->sent_ms = blf_coal_now();
}

#endif
