/*
 * blf_coaltimer.c — the "BLF COALESCE" process: sends the NOTIFYs that
 * notify_min_interval held back (blf_coalesce.c) once their interval ends.
 *
 * The expiry timer ticks in seconds, too coarse. This process wakes every
 * blf_coal_tick_ms() (a quarter of the interval, 5..50 ms), reads each
 * slot's due time (a racy read: an unset one is skipped, a set one is
 * checked again under the slot lock) and, for a slot that is due, copies
 * out its owed entity keys under the lock and sends them after it
 * (blf_entity_owed_send). Idle, that costs one wake-up and hash_size reads
 * per tick: at the default 4096 slots and 200 ms, 20 wake-ups a second of
 * a few microseconds each. The expiry timer still resumes owed entities
 * every second too: a safety net, and harmless (a NOTIFY still inside its
 * interval is held again).
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>

#include "core/dprint.h"

#include "blf_table.h"
#include "blf_coalesce.h"

/* keys copied out of one slot per visit; more: the next tick goes on */
#define BLF_COAL_BATCH 64

typedef struct blf_coal_walk
{
	int n;
	char key[BLF_COAL_BATCH][BLF_KEY_MAX];
	int len[BLF_COAL_BATCH];
} blf_coal_walk_t;

static int blf_coal_collect(blf_entity_t *e, void *arg)
{
	blf_coal_walk_t *w = arg;

	if(!(e->flags & BLF_ENT_OWED) || e->key.len >= BLF_KEY_MAX)
		return 0;
	if(w->n == BLF_COAL_BATCH)
		return 1;
	memcpy(w->key[w->n], e->key.s, e->key.len);
	w->len[w->n++] = e->key.len;
	return 0;
}

void blf_coal_timer(unsigned int ticks, void *param)
{
	static blf_coal_walk_t w;
	unsigned int i, n, now, d;
	str key;
	int k;

	if(blf_coal_due == NULL)
		return;
	n = blf_table_slots();
	now = blf_coal_now();
	for(i = 0; i < n; i++) {
		d = blf_coal_due[i];
		if(d == 0 || (int)(now - d) < 0)
			continue;
		w.n = 0;
		blf_slot_lock(i);
		d = blf_coal_due[i];
		if(d != 0 && (int)(now - d) >= 0) {
			blf_coal_due[i] = 0;
			if(blf_slot_each(i, blf_coal_collect, &w))
				blf_coal_due[i] = now; /* more than a batch: next tick */
		}
		blf_slot_unlock(i);
		/* one NOTIFY per owed subscription, built and sent outside our
		 * lock; one still inside its interval is held (and due) again */
		for(k = 0; k < w.n; k++) {
			key.s = w.key[k];
			key.len = w.len[k];
			blf_entity_owed_send(&key);
		}
	}
}
