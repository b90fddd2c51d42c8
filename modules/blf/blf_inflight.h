/*
 * blf_inflight.h — NOTIFYs in flight and their bounds (blf_inflight.c): a
 * leaf the subscription records consult under the slot lock.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_INFLIGHT_H
#define BLF_INFLIGHT_H

#include "blf_table.h"

#define BLF_INFLIGHT_WILDCARD_FACTOR 8 /* a wildcard subscription's bound is
										* max_notifies_per_sub times this */
int blf_inflight_init(void);
/* a place for one more NOTIFY of s (slot lock held); -1: past a bound
 * (counted, logged). force: a final NOTIFY, always sent, still counted */
int blf_inflight_take(const blf_sub_t *s, int force, unsigned int *slot);
void blf_inflight_put(unsigned int slot);
/* set in a tm NOTIFY's callback parameter once its place is given back
 * (at completion, else at TMCB_DESTROY) */
#define BLF_INFLIGHT_DONE 0x80000000u
int blf_inflight_room(void); /* below the total bound and the shm floor */
unsigned long blf_inflight_count(void);

#endif
