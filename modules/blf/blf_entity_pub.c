/*
 * blf_entity_pub.c — the publication store (RFC 3903): the presence
 * documents PUBLISHed for an entity, kept on its record (e->pubs, newest
 * first) under its slot lock.
 *
 * A publication is ONE shm block: the blf_pub_t record, then the parsed
 * document (blf_pidf.h's flat, position-independent block) memcpy'd after
 * it. A refresh only moves the record to the head with a new ETag; a
 * modify replaces the block. Every change notes a change record for the
 * listeners (BLF_CHG_PUB_PUT / BLF_CHG_PUB_DEL) and collects the NOTIFYs of
 * the entity's presence watchers (dependency BLF_DEP_PUB), sent after the
 * unlock. Expiry is a walk of the table from the expiry timer, skipped
 * whole while no publication exists anywhere.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>
#include <stdlib.h>

#include "core/mem/shm_mem.h"
#include "core/dprint.h"
#include "core/atomic_ops.h"

#include "blf_table.h"
#include "blf_chg.h"
#include "blf_pidf.h"

static atomic_t *blf_npubs = NULL; /* publications in the whole table */

/* the NOTIFYs of e's watchers whose package depends on what was published
 * (the presence package) */
static void blf_pub_notify(
		blf_entity_t *e, blf_frags_t *fr, blf_notify_job_t **jobs)
{
	blf_entity_changed(e, BLF_DEP_PUB, fr, jobs);
}

int blf_pub_init(void)
{
	blf_npubs = shm_malloc(sizeof(*blf_npubs));
	if(blf_npubs == NULL) {
		SHM_MEM_ERROR;
		return -1;
	}
	atomic_set(blf_npubs, 0);
	return 0;
}

void blf_pub_destroy(void)
{
	if(blf_npubs) {
		shm_free(blf_npubs);
		blf_npubs = NULL;
	}
}

unsigned long blf_pub_count(void)
{
	return blf_npubs ? (unsigned long)atomic_get(blf_npubs) : 0;
}

#define BLF_PUB_ALIGN(n) (((n) + 7) & ~(size_t)7)

/* a new block: the record, a copy of doc (doc->size bytes), the body */
static blf_pub_t *blf_pub_build(const blf_pidf_pub_t *doc, const str *body)
{
	blf_pub_t *p;
	size_t hl = BLF_PUB_ALIGN(sizeof(blf_pub_t));
	size_t dl = BLF_PUB_ALIGN(doc->size);

	p = shm_malloc(hl + dl + body->len + 1);
	if(p == NULL) {
		SHM_MEM_ERROR;
		return NULL;
	}
	memset(p, 0, sizeof(*p));
	p->doc = (blf_pidf_pub_t *)((char *)p + hl);
	memcpy(p->doc, doc, doc->size);
	p->body = (char *)p + hl + dl;
	if(body->len)
		memcpy(p->body, body->s, body->len);
	p->body[body->len] = '\0';
	p->body_len = body->len;
	return p;
}

/* the link to e's live publication of ETag etag, NULL when none */
static blf_pub_t **blf_pub_find(blf_entity_t *e, const char *etag, time_t now)
{
	blf_pub_t **pp;

	for(pp = &e->pubs; *pp; pp = &(*pp)->next)
		if((*pp)->expires > now && strcmp((*pp)->etag, etag) == 0)
			return pp;
	return NULL;
}

static void blf_pub_unlink(blf_entity_t *e, blf_pub_t **pp)
{
	blf_pub_t *p = *pp;

	*pp = p->next;
	e->npubs--;
	atomic_dec(blf_npubs);
	shm_free(p);
}

/* the end of a change: the unlock, then the NOTIFYs and the listeners */
static void blf_pub_done(unsigned int hash, blf_entity_t *e, blf_frags_t *fr,
		blf_notify_job_t **jobs)
{
	if(e)
		blf_entity_gc(hash, e);
	blf_slot_unlock(hash);
	blf_chg_send(*jobs);
	blf_frags_free(fr);
}

int blf_pub_put(const str *key, const char *match, const char *etag,
		time_t expires, const blf_pidf_pub_t *doc, const str *body, int origin,
		int max, time_t *retry)
{
	unsigned int hash = blf_key_hash(key);
	blf_notify_job_t *jobs = NULL;
	blf_frags_t fr;
	blf_entity_t *e;
	blf_pub_t **pp = NULL, *p, *np, **last;
	time_t now = time(NULL);
	int rc = 0;

	if((doc == NULL && match == NULL) || (doc && body == NULL)
			|| strlen(etag) >= sizeof(((blf_pub_t *)0)->etag))
		return -1;
	memset(&fr, 0, sizeof(fr));
	blf_slot_lock(hash);
	e = match ? blf_entity_find(hash, key) : blf_entity_get(hash, key);
	if(e == NULL) {
		rc = match ? BLF_PUB_E_NOETAG : -1;
		goto done;
	}
	/* the new ETag is derived from the request (blf_publish.c): one
	 * already live is this request seen again, and done already */
	if(blf_pub_find(e, etag, now)) {
		rc = BLF_PUB_SEEN;
		goto done;
	}
	if(match) {
		pp = blf_pub_find(e, match, now);
		if(pp == NULL) {
			rc = BLF_PUB_E_NOETAG;
			goto done;
		}
	} else if(max > 0 && e->npubs >= (unsigned int)max) {
		/* a clear error, not an eviction: another device of the same
		 * user keeps its state; the earliest expiry says when to retry */
		for(*retry = 0, p = e->pubs; p; p = p->next)
			if(*retry == 0 || p->expires < *retry)
				*retry = p->expires;
		*retry = *retry > now ? *retry - now : 1;
		rc = BLF_PUB_E_FULL;
		goto done;
	}
	if(doc) {
		np = blf_pub_build(doc, body);
		if(np == NULL) {
			rc = -1;
			goto done;
		}
		np->modified = now;
		if(pp) {
			/* listeners follow ETags: the old one is gone (ours now,
			 * even when another node took it first: the client moved) */
			if(origin == 0)
				(*pp)->origin = 0;
			blf_chg_pub(BLF_CHG_PUB_DEL, e, *pp);
			p = *pp;
			*pp = p->next; /* the old block goes: modify = replace */
			shm_free(p);
		} else {
			e->npubs++;
			atomic_inc(blf_npubs);
		}
	} else {
		if(origin == 0)
			(*pp)->origin = 0;
		blf_chg_pub(BLF_CHG_PUB_DEL, e, *pp);
		np = *pp; /* a refresh: the same document, a new ETag */
		*pp = np->next;
	}
	strcpy(np->etag, etag);
	np->expires = expires;
	np->origin = (unsigned char)origin;
	np->next = e->pubs; /* newest first */
	e->pubs = np;
	/* the records expired but not yet swept go with this change */
	for(last = &np->next; *last;) {
		if((*last)->expires <= now) {
			blf_chg_pub(BLF_CHG_PUB_DEL, e, *last);
			blf_pub_unlink(e, last);
		} else
			last = &(*last)->next;
	}
	blf_chg_pub(BLF_CHG_PUB_PUT, e, np);
	blf_pub_notify(e, &fr, &jobs);
done:
	blf_pub_done(hash, e, &fr, &jobs);
	return rc;
}

int blf_pub_del(const str *key, const char *match, int origin)
{
	unsigned int hash = blf_key_hash(key);
	blf_notify_job_t *jobs = NULL;
	blf_frags_t fr;
	blf_entity_t *e;
	blf_pub_t **pp;
	int rc = 0;

	memset(&fr, 0, sizeof(fr));
	blf_slot_lock(hash);
	e = blf_entity_find(hash, key);
	pp = e ? blf_pub_find(e, match, time(NULL)) : NULL;
	if(pp == NULL) {
		rc = BLF_PUB_E_NOETAG;
		goto done;
	}
	/* a removal asked here is ours to tell, whoever took the publication;
	 * one a node replicates is noted only when it was ours (the DB's row
	 * goes; the other nodes find nothing to remove) */
	if(origin == 0)
		(*pp)->origin = 0;
	blf_chg_pub(BLF_CHG_PUB_DEL, e, *pp);
	blf_pub_unlink(e, pp);
	blf_pub_notify(e, &fr, &jobs);
done:
	blf_pub_done(hash, e, &fr, &jobs);
	return rc;
}

#define BLF_PUB_BATCH 16 /* entities whose NOTIFYs go out at once */

typedef struct blf_pub_tick
{
	time_t now;
	blf_notify_job_t *jobs;
	blf_frags_t fr[BLF_PUB_BATCH];
	int nfr;
	int more;
} blf_pub_tick_t;

/* one entity of the slot (its lock held); 1 stops the walk (batch full) */
static int blf_pub_expire_entity(blf_entity_t *e, void *arg)
{
	blf_pub_tick_t *t = arg;
	blf_pub_t **pp;
	int n = 0;

	if(e->pubs == NULL)
		return 0;
	for(pp = &e->pubs; *pp; pp = &(*pp)->next)
		if((*pp)->expires <= t->now)
			n++;
	if(n == 0)
		return 0;
	if(t->nfr == BLF_PUB_BATCH) {
		t->more = 1;
		return 1;
	}
	for(pp = &e->pubs; *pp;) {
		if((*pp)->expires > t->now) {
			pp = &(*pp)->next;
			continue;
		}
		LM_DBG("publication %s of %.*s expired\n", (*pp)->etag, e->key.len,
				e->key.s);
		blf_chg_pub(BLF_CHG_PUB_DEL, e, *pp);
		blf_pub_unlink(e, pp);
	}
	/* an expired publication leaves no trace: its watchers are told */
	memset(&t->fr[t->nfr], 0, sizeof(t->fr[0]));
	blf_pub_notify(e, &t->fr[t->nfr], &t->jobs);
	t->nfr++;
	blf_entity_gc(e->hash, e);
	return 0;
}

void blf_pub_expire(time_t now)
{
	static blf_pub_tick_t t; /* big: not on the timer's stack */
	unsigned int i, n;

	if(blf_pub_count() == 0)
		return;
	n = blf_table_slots();
	t.now = now;
	for(i = 0; i < n; i++) {
		if(blf_table_slot_empty(i))
			continue;
		do {
			t.jobs = NULL;
			t.nfr = 0;
			t.more = 0;
			blf_table_slot_each(i, blf_pub_expire_entity, &t);
			blf_chg_send(t.jobs);
			while(t.nfr > 0)
				blf_frags_free(&t.fr[--t.nfr]);
		} while(t.more);
	}
}

int blf_pub_restore(const str *key, const char *etag, time_t expires,
		time_t modified, const blf_pidf_pub_t *doc, const str *body)
{
	unsigned int hash = blf_key_hash(key);
	blf_entity_t *e;
	blf_pub_t *np;
	int rc = -1;

	if(strlen(etag) >= sizeof(((blf_pub_t *)0)->etag))
		return -1;
	blf_slot_lock(hash);
	e = blf_entity_get(hash, key);
	if(e == NULL || (np = blf_pub_build(doc, body)) == NULL)
		goto done;
	strcpy(np->etag, etag);
	np->expires = expires;
	np->modified = modified;
	np->next = e->pubs; /* the caller restores them oldest first */
	e->pubs = np;
	e->npubs++;
	atomic_inc(blf_npubs);
	rc = 0;
done:
	if(e)
		blf_entity_gc(hash, e);
	blf_slot_unlock(hash);
	return rc;
}

int blf_pub_replica_put(const str *key, const char *etag, time_t expires,
		time_t modified, const blf_pidf_pub_t *doc, const str *body, int origin,
		int max)
{
	unsigned int hash = blf_key_hash(key);
	blf_notify_job_t *jobs = NULL;
	blf_frags_t fr;
	blf_entity_t *e;
	blf_pub_t **pp, *np, *p;
	time_t now = time(NULL);
	int rc = 0;

	if(origin <= 0 || strlen(etag) >= sizeof(((blf_pub_t *)0)->etag))
		return -1;
	memset(&fr, 0, sizeof(fr));
	blf_slot_lock(hash);
	e = blf_entity_get(hash, key);
	if(e == NULL) {
		rc = -1;
		goto done;
	}
	pp = blf_pub_find(e, etag, now);
	if(pp == NULL && max > 0 && e->npubs >= (unsigned int)max) {
		rc = BLF_PUB_E_FULL; /* bounded like a PUBLISH here */
		goto done;
	}
	np = blf_pub_build(doc, body);
	if(np == NULL) {
		rc = -1;
		goto done;
	}
	if(pp) {
		p = *pp;
		*pp = p->next;
		shm_free(p);
	} else {
		e->npubs++;
		atomic_inc(blf_npubs);
	}
	strcpy(np->etag, etag);
	np->expires = expires;
	np->modified = modified;
	np->origin = (unsigned char)origin;
	np->next = e->pubs; /* the newest change of the cluster */
	e->pubs = np;
	blf_pub_notify(e, &fr, &jobs);
done:
	blf_pub_done(hash, e, &fr, &jobs);
	return rc;
}
