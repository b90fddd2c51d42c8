/* blf_alias.h — the alias cache (blf_alias.c) */
#ifndef BLF_ALIAS_H
#define BLF_ALIAS_H

#include "core/str.h"
#include "core/rpc.h"

#include "blf_xml.h" /* blf_vis_t */

/*
 * What the alias service needs of the others, given at init (mod_init):
 * it calls nothing of theirs directly (no loop between the files).
 */
typedef struct blf_alias_hooks {
	/* queues a question for the HTTP process; -1: the queue is full */
	int (*ask)(const str *key);
	/* the policy of entity ekey changed (blf_subs_apply_policy) */
	int (*apply_policy)(const str *ekey, blf_vis_t vis);
	/* asked stopped being an alias of ekey (blf_subs_deactivate_uri) */
	int (*deactivate_uri)(const str *ekey, const str *asked);
} blf_alias_hooks_t;

void blf_alias_set_hooks(const blf_alias_hooks_t *h);
int blf_alias_init(void);
void blf_alias_destroy(void);
int blf_alias_enabled(void);

/*
 * The entity key stands for: its canonical entity when it is a known alias,
 * else key itself (*out then equals *key). *vis gets the entity's policy
 * when the alias service gave one, else -1. On a miss a request is queued
 * for the HTTP process; with wait_ms > 0 the caller waits for the answer at
 * most that long. Returns 1 when the answer came from the cache.
 */
int blf_alias_resolve(const str *key, char *buf, int size, str *out, int *vis,
		int wait_ms);

/* in the HTTP process: an answer (status 0: none could be had) */
void blf_alias_answer(const str *key, int status, const char *body,
		size_t len, int max_age);

/* the visibility policy of a canonical entity, -1 when unknown */
int blf_alias_policy(const str *key);

void blf_alias_rpc_list(rpc_t *rpc, void *c);
int blf_alias_flush(void);
int blf_alias_sweep(void);
unsigned long blf_alias_count(void);

#endif
