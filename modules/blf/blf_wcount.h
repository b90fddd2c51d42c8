/*
 * blf_wcount.h — live subscriptions per watcher and per source address, so
 * that one watcher (or one address) cannot take every slot: a small shm
 * table of counters keyed by the watcher's entity (alias-resolved) or the
 * SUBSCRIBE's source IP, one lock per bucket. A subscription that counts
 * holds a reference to its two counters (blf_sub_t.wc), taken when it is
 * linked as ours and given back when its block is freed, so every removal
 * path (expiry, unsubscribe, 481/408, takeover by another node, rebuild)
 * keeps the count exact without a table walk.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_WCOUNT_H
#define BLF_WCOUNT_H

#include "core/str.h"
#include "core/ip_addr.h"

#include <time.h>

#define BLF_WC_WATCHER 0
#define BLF_WC_SOURCE 1
#define BLF_WC_KINDS 2

/* chains, and the locks guarding them (bucket i under lock i mod
 * BLF_WC_LOCKS); both powers of two. A watcher has a counter of its own,
 * so there are about as many counters as subscriptions: 1024 chains made
 * every SUBSCRIBE walk ~40 of them at 40k subscriptions (5% of its CPU
 * in bench/) and ~1000 at 1M; 65536 keep the chains short to a million
 * for 512 KB of shm, and the locks stay 1024. */
#define BLF_WC_BUCKETS 65536
#define BLF_WC_LOCKS 1024

struct blf_wc;
struct blf_sub;

int blf_wc_init(void);
void blf_wc_destroy(void);
/*
 * Shutdown (main process, mod_destroy, every child already gone): from now
 * on blf_wc_sub_release takes no lock and frees nothing, blf_wc_destroy
 * frees the whole table. A child _exit()s on SIGTERM wherever it is, so a
 * bucket lock may be held by a dead process: waiting on it hung the stop.
 */
void blf_wc_shutdown(void);

/*
 * Counts s (just linked as ours) for its watcher (BLF_SF_WATCHER) and, when
 * src is not NULL, for that source address. With check set, a counter at
 * its limit (max_watcher_subscriptions / max_source_subscriptions, 0: no
 * limit) refuses: returns BLF_WC_WATCHER+1 or BLF_WC_SOURCE+1 and counts
 * nothing. 0: counted; -1: no memory (nothing counted).
 */
int blf_wc_sub_take(struct blf_sub *s, const struct ip_addr *src, int check);
/* gives back what s counts (blf_sub_free calls it) */
void blf_wc_sub_release(struct blf_sub *s);
/* moves the counts of old onto its rebuilt copy n */
void blf_wc_sub_move(struct blf_sub *old, struct blf_sub *n);

/*
 * Wildcard bursts (one NOTIFY per entity of a domain) a watcher may cause
 * per wildcard_burst_interval, over all its wildcard subscriptions, new or
 * refreshed: a subscribe/unsubscribe loop cannot flood either. Kept in a
 * fixed table of BLF_WB_SLOTS by hash of the watcher (two watchers on one
 * slot share a budget). 1: this burst may go (counted), 0: over budget.
 */
#define BLF_WATCHER_BURSTS 16
#define BLF_WB_SLOTS 4096 /* a power of two */
int blf_wc_burst_ok(const str *watcher, time_t now);

/* statistics: subscriptions counted per kind, counters alive */
unsigned long blf_wc_watcher_counted(void);
unsigned long blf_wc_source_counted(void);
unsigned long blf_wc_entries(void);

#endif
