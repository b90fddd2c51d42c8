/*
 * blf_inflight.c — how many NOTIFYs are in flight, and the bounds on it.
 *
 * A NOTIFY costs shared memory from the moment it is handed over until its
 * transaction ends: a module transaction (blf_ntx.c) holds a 2 KB block
 * until the answer or Timer F; a tm transaction holds its cell, ~9-10 KB,
 * until tm frees it after the wait timer. A watcher that never answers thus
 * holds every NOTIFY it is sent for fr_timer, and one call fans out to
 * every watcher: without a bound, silent watchers turn calls into shm
 * exhaustion, and then calls fail (issue #9).
 *
 * So a NOTIFY takes a place here when its job is made (under the slot
 * lock, before it consumes a version) and gives it back when its
 * transaction ends (or when it could not be sent). Past a bound the job is
 * not made: the subscription (or, for wildcard watchers, the entity
 * described) is marked as owing a full-state NOTIFY, which the expiry timer
 * sends once there is room (blf_entity_owed_send). Lamp updates are
 * delayed, never lost (versions stay consecutive, the owed NOTIFY carries
 * the current full state), and calls never wait on any of this.
 *
 * Through tm a place ends when the transaction completes (an answer or
 * tm's 408), as the module's own transactions' do. The cell tm keeps for
 * its wait timer after that (Timer K, to absorb the answer's
 * retransmissions) is not counted: at wt_timer (5 s) a place it would cap
 * tm's NOTIFYs at max_notifies_inflight / 5 a second and defer the rest,
 * with the watchers answering. Those cells come at the rate the calls make
 * NOTIFYs, never from a silent watcher, and their shared memory is guarded
 * by notify_min_free_shm (no lamp update below it).
 *
 * Bounds: max_notifies_inflight in total; max_notifies_per_sub per
 * subscription (wildcard ones BLF_INFLIGHT_WILDCARD_FACTOR times more: a
 * burst describes every entity of a domain); and none while free shm is
 * below notify_min_free_shm percent. Per subscription the count lives in a
 * bucket picked by a keyed hash of its Call-ID and From tag (a fixed table,
 * no record to find again when an answer comes; the key is random so a
 * peer cannot aim its own subscriptions at a victim's bucket).
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>
#include <time.h>

#include "core/mem/shm_mem.h"
#include "core/dprint.h"
#include "core/globals.h"

#include "blf_inflight.h"
#include "blf_branch.h"

#define BLF_INFLIGHT_BUCKETS 16384 /* a power of two: 64 KB of counters */

typedef struct blf_inflight {
	atomic_t total;
	unsigned char key[16];
	atomic_t per[BLF_INFLIGHT_BUCKETS];
} blf_inflight_t;

static blf_inflight_t *blf_infl = NULL;

int blf_inflight_init(void)
{
	int i;

	blf_infl = shm_malloc(sizeof(*blf_infl));
	if(blf_infl == NULL) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(blf_infl, 0, sizeof(*blf_infl));
	if(blf_random_key(blf_infl->key, sizeof(blf_infl->key)) < 0)
		for(i = 0; i < (int)sizeof(blf_infl->key); i++)
			blf_infl->key[i] = (unsigned char)(rand() ^ time(NULL) >> i);
	atomic_set(&blf_infl->total, 0);
	/* not freed at shutdown: tm frees its last cells (and runs our
	 * TMCB_DESTROY callback) after our mod_destroy */
	return 0;
}

unsigned long blf_inflight_count(void)
{
	int n = blf_infl ? atomic_get(&blf_infl->total) : 0;

	return n > 0 ? (unsigned long)n : 0;
}

/* free shm is below notify_min_free_shm percent */
static int blf_inflight_shm_low(void)
{
	if(blf_cfg.notify_min_free_shm <= 0)
		return 0;
	return shm_available_safe()
		   < shm_mem_size / 100 * (unsigned long)blf_cfg.notify_min_free_shm;
}

int blf_inflight_room(void)
{
	if(blf_infl == NULL)
		return 1;
	if(blf_cfg.max_notifies_inflight > 0
			&& atomic_get(&blf_infl->total) >= blf_cfg.max_notifies_inflight)
		return 0;
	return !blf_inflight_shm_low();
}

/* a rate-limited line about NOTIFYs deferred (per process, one a second) */
static void blf_inflight_log(const str *callid, const char *why)
{
	static time_t last = 0;
	static unsigned long quiet = 0;
	time_t now = time(NULL);

	if(now == last) {
		quiet++;
		return;
	}
	LM_NOTICE("NOTIFY of %.*s deferred: %s (%lu more deferred in this "
			  "process since the last line; see blf:notifies_deferred)\n",
			callid->len > 128 ? 128 : callid->len, callid->s, why, quiet);
	last = now;
	quiet = 0;
}

int blf_inflight_take(const blf_sub_t *s, int force, unsigned int *slot)
{
	str cid = BLF_SF(s, BLF_SF_CALLID), ftag = BLF_SF(s, BLF_SF_FTAG);
	unsigned char in[2 * 64];
	unsigned int b;
	int cl = cid.len > 64 ? 64 : cid.len, fl = ftag.len > 64 ? 64 : ftag.len;
	int lim;

	*slot = 0;
	if(blf_infl == NULL)
		return 0;
	memcpy(in, cid.s, cl);
	memcpy(in + cl, ftag.s, fl);
	b = (unsigned int)blf_siphash(blf_infl->key, in, cl + fl)
		& (BLF_INFLIGHT_BUCKETS - 1);
	if(!force) {
		if(blf_cfg.max_notifies_inflight > 0
				&& atomic_get(&blf_infl->total)
						   >= blf_cfg.max_notifies_inflight) {
			blf_inflight_log(&cid, "max_notifies_inflight reached");
			goto refuse;
		}
		lim = blf_cfg.max_notifies_per_sub;
		if(s->flags & BLF_SUB_WILDCARD)
			lim *= BLF_INFLIGHT_WILDCARD_FACTOR;
		if(lim > 0 && atomic_get(&blf_infl->per[b]) >= lim) {
			blf_inflight_log(&cid, "max_notifies_per_sub reached");
			goto refuse;
		}
		if(blf_inflight_shm_low()) {
			blf_inflight_log(&cid, "free shm below notify_min_free_shm");
			goto refuse;
		}
	}
	atomic_inc(&blf_infl->total);
	atomic_inc(&blf_infl->per[b]);
	*slot = b + 1;
	return 0;
refuse:
	update_stat(blf_st_notifies_deferred, 1);
	return -1;
}

/* the place of a NOTIFY answered, timed out, or not sent */
void blf_inflight_put(unsigned int slot)
{
	if(blf_infl == NULL || slot == 0 || slot > BLF_INFLIGHT_BUCKETS)
		return;
	atomic_dec(&blf_infl->per[slot - 1]);
	atomic_dec(&blf_infl->total);
}
