/*
 * blf_list.h — the resource-list cache (blf_list.c): which URIs are
 * RFC 4662 lists, and their members, as list_url answers them.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_LIST_H
#define BLF_LIST_H

#include "core/str.h"
#include "core/rpc.h"

/* list_url, list_full_state, list_max_members (modparams, blf_mod.c) */
extern str blf_list_url;
extern int blf_list_full_state;
extern int blf_list_max_members;

/* a list as cached, copied out for one caller (malloc, one block) */
typedef struct blf_list_copy {
	char name[128]; /* "" when none */
	int n;
	struct {
		char *uri;	/* sip:user@host as the service gave it */
		char *name; /* "" when none */
	} m[];
} blf_list_copy_t;

typedef struct blf_list_hooks {
	/* queues a question for the HTTP process; -1: the queue is full */
	int (*ask)(const str *key);
	/* a new answer about list key: live list subscriptions compare it
	 * with their members and get a NOTIFY when they differ (blf_lsub.c) */
	void (*changed)(const str *key);
	/* the HTTP process's pass, once a second: lists in use asked again
	 * when their answer is gone or stale (blf_lsub.c) */
	void (*sweep)(void);
} blf_list_hooks_t;

void blf_list_set_hooks(const blf_list_hooks_t *h);
int blf_list_enabled(void);
int blf_list_init(void);
void blf_list_destroy(void);

/*
 * Is key (user@host) a list? 1 and *out (free() it) when the cache says so
 * (fresh, or stale while the service fails); otherwise the URI stands for
 * itself: 2 when an answer is coming (asked, not waited for or not within
 * wait_ms: the changed hook runs when it is a list), 3 when none could be
 * had (the service failed, now or a moment ago, or no question could be
 * queued: it may still be a list), 0 when it is not a list (the service
 * said so, or lists are off). On a miss a question is queued; with
 * wait_ms > 0 the caller waits at most that long.
 */
int blf_list_get(const str *key, int wait_ms, blf_list_copy_t **out);

/* subscriptions of key made before a list answer (2 or 3 above) wait for
 * it: should the question fail, the HTTP process's sweep asks again every
 * BLF_HC_RETRY_S s for 5 min, and the changed hook runs when the answer
 * says list. 1 when so marked, 0 when an answer is there already (or no
 * entry: the cache was full) */
int blf_list_want(const str *key);

/* in the HTTP process: an answer (status 0: none could be had) */
void blf_list_answer(const str *key, int status, const char *body,
		size_t len, int max_age);
/* in the HTTP process, once a second: lists past their TTL that live
 * subscriptions use are asked again */
void blf_list_sweep(void);

int blf_list_flush(void);
unsigned long blf_list_count(void);
/* blf.lists, blf.flush_lists */
int blf_list_rpc_init(void);

/* HTTP queue keys of list questions start with this byte */
#define BLF_LIST_QMARK '\001'

#endif
