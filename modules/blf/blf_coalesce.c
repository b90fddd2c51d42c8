/*
 * blf_coalesce.c — notify_min_interval: a subscription gets at most one
 * NOTIFY per interval; the states a change brings inside it are merged
 * into one full-state NOTIFY sent when the interval ends.
 *
 * It reuses the deferral of blf_inflight.c: a change inside the interval
 * builds no job (takes no version) and marks the subscription owed
 * (BLF_SUB_OWED, BLF_ENT_OWED on its entity); blf_entity_owed_send() later
 * builds one NOTIFY with the state of that moment. Versions therefore rise
 * by exactly one per NOTIFY sent.
 *
 * Never held back: a change that ends a call (its entity still holds the
 * terminated call while the jobs are made, and drops it right after: sent
 * at once, so a call that ends inside the interval is reported once as
 * terminated), final NOTIFYs (terminated subscriptions, other paths), the
 * NOTIFY that answers a SUBSCRIBE (other paths), wildcard subscriptions
 * (their bursts are bounded by wildcard_burst_interval already) and
 * another node's subscriptions.
 *
 * Resume: each table slot has the earliest time one of its owed NOTIFYs is
 * due (blf_coal_due, set under the slot lock); blf_coaltimer.c's process
 * sends them. Nothing global is written on the hot path (only the slot's
 * own due time, under its lock).
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>
#include <time.h>

#include "core/mem/shm_mem.h"
#include "core/dprint.h"

#include "blf_table.h"
#include "blf_chg.h"
#include "blf_coalesce.h"

int blf_coal_interval = 0;
unsigned int *blf_coal_due = NULL;
stat_var *blf_st_notifies_coalesced;

unsigned int blf_coal_now(void)
{
	struct timespec ts;
	unsigned int ms;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ms = (unsigned int)ts.tv_sec * 1000u + (unsigned int)(ts.tv_nsec / 1000000);
	return ms ? ms : 1; /* 0 means "none" in blf_coal_due */
}

int blf_coal_init(void)
{
	size_t n;

	if(blf_coal_interval < 0 || blf_coal_interval > 60000) {
		LM_ERR("notify_min_interval must be 0..60000 ms, not %d\n",
				blf_coal_interval);
		return -1;
	}
	if(blf_coal_interval == 0)
		return 0;
	n = blf_table->size; /* a leaf: no call into the table's file */
	blf_coal_due = shm_malloc(n * sizeof(*blf_coal_due));
	if(blf_coal_due == NULL) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(blf_coal_due, 0, n * sizeof(*blf_coal_due));
	return 0;
}

void blf_coal_destroy(void)
{
	if(blf_coal_due) {
		shm_free(blf_coal_due);
		blf_coal_due = NULL;
	}
}

/* a quarter of the interval (a NOTIFY waits at most that much past it),
 * 5..50 ms */
int blf_coal_tick_ms(void)
{
	int t = blf_coal_interval / 4;

	return t < 5 ? 5 : (t > 50 ? 50 : t);
}

/* the change being notified ends a call of e: it holds the terminated call
 * until its jobs are made (blf_entity_call_event drops it after) */
static int blf_coal_ends_call(const blf_entity_t *e)
{
	const blf_call_t *c;

	for(c = e->calls; c; c = c->next)
		if(c->st.state == BLF_STATE_TERMINATED)
			return 1;
	return 0;
}

int blf_coal_hold(blf_entity_t *e, blf_sub_t *s, int change)
{
	unsigned int now, due, *d;

	if(blf_coal_due == NULL || (s->flags & BLF_SUB_WILDCARD) || s->owner)
		return 0;
	now = blf_coal_now();
	if(now - s->sent_ms >= (unsigned int)blf_coal_interval)
		return 0;
	if(blf_coal_ends_call(e))
		return 0;
	if(change)
		update_stat(blf_st_notifies_coalesced, 1);
	s->flags |= BLF_SUB_OWED;
	e->flags |= BLF_ENT_OWED;
	blf_slot_wake(e->hash);
	due = s->sent_ms + (unsigned int)blf_coal_interval;
	if(due == 0)
		due = 1;
	d = &blf_coal_due[blf_slot_idx(e->hash)];
	if(*d == 0 || (int)(due - *d) < 0)
		*d = due;
	return 1;
}
