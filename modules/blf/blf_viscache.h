/*
 * blf_viscache.h — the per-watcher visibility cache (visibility_url, SPEC
 * "Per-watcher visibility over HTTP"): what a watcher may see of an
 * entity, asked over HTTP per (entity, watcher) and kept in shm like the
 * alias answers (blf_alias.c). The decision itself is blf_vis_decide.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_VISCACHE_H
#define BLF_VISCACHE_H

#include <stddef.h>

#include "core/str.h"
#include "core/rpc.h"

#include "blf_xml.h" /* blf_vis_t */

/*
 * What the cache needs of the others, given at init (it calls nothing of
 * theirs directly: no loop between the files).
 */
typedef struct blf_viscache_hooks
{
	/* wakes the HTTP process: a question is on the ring */
	void (*wake)(void);
	/* the answer about (entity, watcher) is new or changed: live
	 * subscriptions follow (blf_visapply_pair); in the HTTP process */
	void (*apply)(const str *entity, const str *watcher);
} blf_viscache_hooks_t;

void blf_viscache_set_hooks(const blf_viscache_hooks_t *h);
/* for the list subscriptions (P3): called after apply, same arguments */
void blf_viscache_set_list_hook(
		void (*fn)(const str *entity, const str *watcher));

int blf_viscache_enabled(void);
int blf_viscache_init(void);
void blf_viscache_destroy(void);

/*
 * What watcher (an alias-resolved user@host key) may see of entity (a
 * canonical user@host key): the per-watcher answer of visibility_url,
 * else (404: no rule) the entity's policy from its alias answer, else the
 * global `visibility`; the entity itself sees everything. Never waits and
 * takes no table slot lock (it may be called with one held); a miss
 * queues a question for the HTTP process.
 * Returns 1 with *vis decided (a cached answer, fresh or stale, or
 * visibility_url off), 0 when unknown (asked, or the service failed with
 * nothing stale kept): *vis is then BLF_VIS_NONE, never more than allowed.
 */
int blf_vis_lookup(const str *entity, const str *watcher, blf_vis_t *vis);

/*
 * The same for a new SUBSCRIBE: entpol is the entity's policy from its
 * alias answer (-1: none), and a miss is waited for at most wait_ms (a
 * bounded number of SIP workers at once, as for aliases).
 */
int blf_vis_lookup_wait(const str *entity, const str *watcher, int entpol,
		int wait_ms, blf_vis_t *vis);

/* the HTTP process: the next question (entity and watcher, NUL-ended,
 * BLF_KEY_MAX bytes each); 0 when there is none */
int blf_viscache_take(char *entity, char *watcher);
/* the HTTP process: the answer (status 0: none could be had) */
void blf_viscache_answer(const char *entity, const char *watcher, int status,
		const char *body, size_t len, int max_age);
/* the HTTP process: drops answers past their TTL unused for
 * alias_cache_idle s */
int blf_viscache_sweep(void);
/* empties the cache; returns the answers dropped */
int blf_viscache_flush(void);
/* 1 while the question about (entity, watcher) is unanswered or its
 * answer is being applied to live subscriptions */
int blf_viscache_pending(const str *entity, const str *watcher);
unsigned long blf_viscache_count(void);
void blf_viscache_rpc_list(rpc_t *rpc, void *c);

#endif
