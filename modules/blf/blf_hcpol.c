/*
 * blf_hcpol.c — the decisions of the shm HTTP cache (see blf_hcpol.h).
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>

#include "blf_hcpol.h"

blf_hc_ent_t *blf_hcpol_find(
		blf_hc_ent_t *chain, unsigned int h, const char *k, int klen)
{
	blf_hc_ent_t *e;

	for(e = chain; e; e = e->next)
		if(e->hash == h && e->klen == klen && memcmp(e->key, k, klen) == 0)
			return e;
	return NULL;
}

int blf_hcpol_should_ask(const blf_hc_ent_t *e, time_t now)
{
	if(e == NULL || e->queued || now < e->retry_at)
		return 0;
	return e->state == BLF_HC_PENDING || e->state == BLF_HC_ERROR
		   || now >= e->expires;
}

int blf_hcpol_kind(int status)
{
	if(status == 200)
		return BLF_HCPOL_POSITIVE;
	if(status == 404)
		return BLF_HCPOL_NEGATIVE;
	return BLF_HCPOL_FAILED;
}

int blf_hcpol_ttl(int kind, int max_age, int ttl, int neg_ttl)
{
	if(kind != BLF_HCPOL_POSITIVE && kind != BLF_HCPOL_NEGATIVE)
		return 0;
	if(max_age >= 0)
		return max_age;
	return kind == BLF_HCPOL_POSITIVE ? ttl : neg_ttl;
}

int blf_hcpol_wait_cap(int workers, int children)
{
	int n = workers, max = children / 4;

	if(n <= 0)
		n = children / 8;
	if(n > max)
		n = max;
	return n > 0 ? n : 1;
}

blf_hc_ent_t **blf_hcpol_evict_pick(
		blf_hc_ent_t **head, time_t now, int stale_only)
{
	blf_hc_ent_t **pa, **best = NULL;
	time_t t, bt = 0;

	for(pa = head; *pa; pa = &(*pa)->next) {
		if((*pa)->queued || (*pa)->waiting)
			continue; /* an answer is on its way to it */
		if(stale_only && now < (*pa)->expires)
			continue;
		t = (*pa)->expires > (*pa)->used ? (*pa)->expires : (*pa)->used;
		if(best == NULL || t < bt) {
			best = pa;
			bt = t;
		}
	}
	return best;
}

int blf_hcpol_idle(const blf_hc_ent_t *e, time_t now, int idle)
{
	return !e->queued && !e->waiting && !e->wanted && now >= e->expires
		   && now - e->used >= idle;
}

int blf_hcpol_sweep_ask(const blf_hc_ent_t *e, time_t now)
{
	return e->wanted && e->state == BLF_HC_ERROR
		   && blf_hcpol_should_ask(e, now);
}
