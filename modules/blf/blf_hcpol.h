/*
 * blf_hcpol.h — the decisions of the shm HTTP cache (blf_hcache.c), pure
 * (no Kamailio): an entry's header, when to ask the service again, how
 * long an answer lives, how many SIP workers may wait, which entry makes
 * room, which entry a sweep drops. blf_hcache.c holds the locks and the
 * memory; these functions only look at entries, so unit tests build them
 * alone (tests/unit/test_hcpol.c).
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_HCPOL_H
#define BLF_HCPOL_H

#include <time.h>

/* an entry's state: the cache's own answer states follow BLF_HC_ANSWER */
#define BLF_HC_PENDING 0 /* asked (or to ask), no answer yet */
#define BLF_HC_ERROR 1	 /* no answer could be had, nothing stale kept */
#define BLF_HC_ANSWER \
	2					  /* the first of the cache's answer states: a
						  * positive answer (200) */
#define BLF_HC_NEGATIVE 3 /* a negative answer (404) */

#define BLF_HC_RETRY_S 5 /* s between questions after an error */

/*
 * One cached answer: this header, the cache's value (val) and the key
 * (NUL-ended) in one shm block. The header is the cache's; val is the
 * user's, read and written under the slot lock.
 */
typedef struct blf_hc_ent
{
	struct blf_hc_ent *next;
	unsigned int hash;
	unsigned char state;   /* BLF_HC_PENDING, BLF_HC_ERROR, or an answer */
	unsigned char queued;  /* a question is queued or in flight */
	unsigned char waiting; /* SIP workers waiting for its answer */
	unsigned char wanted;  /* questions the sweep still asks after errors
							* (blf_hc_want: subscriptions wait for the
							* answer); 0: none */
	time_t expires;		   /* the answer is fresh until then */
	time_t retry_at;	   /* after an error: next question not before */
	time_t used;		   /* last looked up */
	char *key;			   /* in the block, NUL-ended */
	int klen;
	void *val; /* in the block, 8-byte aligned */
} blf_hc_ent_t;

/* the entry of chain with hash h and key k (klen bytes), NULL if none */
blf_hc_ent_t *blf_hcpol_find(
		blf_hc_ent_t *chain, unsigned int h, const char *k, int klen);

/* 1 when a lookup at now must ask the service: nothing asked yet, no
 * answer, or a stale one; never while a question is on its way, nor
 * before retry_at after an error */
int blf_hcpol_should_ask(const blf_hc_ent_t *e, time_t now);

/* what an answer's kind is worth */
enum blf_hcpol_kind
{
	BLF_HCPOL_POSITIVE, /* 200 with a usable body */
	BLF_HCPOL_NEGATIVE, /* 404 */
	BLF_HCPOL_FAILED,	/* anything else: kept stale, asked again later */
};

/* the kind of an answer of HTTP status (0: none could be had; a 200 the
 * caller could not read is a failure: pass -1) */
int blf_hcpol_kind(int status);

/* seconds an answer of kind lives: ttl (positive) or neg_ttl (negative),
 * the answer's Cache-Control max-age instead when it has one (>= 0); 0
 * for a failure (it holds no answer) */
int blf_hcpol_ttl(int kind, int max_age, int ttl, int neg_ttl);

/* SIP workers that may wait for answers at once: workers (0 or less:
 * children/8), never more than children/4, at least 1 */
int blf_hcpol_wait_cap(int workers, int children);

/*
 * The link to the entry of chain *head that best makes room at now: one
 * no answer is on its way to (nor waited for), past its TTL when
 * stale_only, the least recently useful (the older of its expiry and its
 * last use). NULL when there is none.
 */
blf_hc_ent_t **blf_hcpol_evict_pick(
		blf_hc_ent_t **head, time_t now, int stale_only);

/* the sweep's rule: past its TTL, unused for idle s, nothing on its way */
int blf_hcpol_idle(const blf_hc_ent_t *e, time_t now, int idle);

/* 1 when the sweep at now must ask the service again for e: wanted, no
 * answer could be had (error), and its retry time has come; a wanted
 * entry is never swept while it is so */
int blf_hcpol_sweep_ask(const blf_hc_ent_t *e, time_t now);

#endif
