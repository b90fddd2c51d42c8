/*
 * blf_entity_reg.c — an entity's registered contacts, as usrloc reports
 * them (blf_ul.c): what an insert, update, delete or expiry does to
 * e->contacts, and the NOTIFYs of the subscriptions that depend on it
 * (BLF_DEP_REG: presence, reg).
 *
 * A contact is one shm block (record + strings), matched by usrloc's ruid.
 * One that ends is kept, inactive, while the change's NOTIFY jobs are taken
 * (so a reg watcher sees it terminated with its event), then freed in the
 * same critical section. Bounded by max_contacts_per_entity: a contact over
 * it is not tracked (logged); the entity still counts as registered.
 *
 * Callers run inside usrloc's callbacks, under usrloc's own record lock:
 * nothing here calls usrloc, and only one slot lock is taken, so no lock
 * order with usrloc's locks can invert. The table changes at once (so
 * usrloc's lock orders the changes of one AOR), but nothing is sent from
 * under usrloc's lock: in a SIP request the NOTIFY jobs wait in the
 * process's change batch until its script is done (BLF_CT_BATCH, blf_ul.c
 * flushes it); elsewhere (usrloc's timer, dmq_usrloc's workers, an RPC) the
 * entity is marked BLF_ENT_REGDUE, its ended contacts stay inactive, and
 * "BLF REG" process makes and sends the NOTIFYs within BLF_REG_TICK_MS
 * (BLF_CT_TIMER, blf_entity_reg_due): the marked entity's slot goes into a
 * small shm queue that process empties; when the queue is full (or usrloc
 * changes faster than it empties it) the expiry timer still sends them at
 * its next tick (timer_interval). Several changes of one entity before
 * that make one NOTIFY per watcher, showing every contact that ended.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>
#include <stdio.h>
#include <time.h>

#include "core/mem/shm_mem.h"
#include "core/dprint.h"
#include "core/hashes.h"
#include "core/locking.h"

#include "blf_table.h"
#include "blf_chg.h"
#include "blf_reginfo.h"
#include "blf_lograte.h"

/* its rate-limited log line: the last second one went out (per process) */
static time_t blf_ct_log_last = 0;

/* a new block for contact u (event ev), the id kept from old if any */
static blf_contact_t *blf_contact_build(
		const blf_ct_upd_t *u, const blf_contact_t *old, int ev)
{
	blf_contact_t *c;
	size_t len;
	char *p;
	unsigned int h1, h2;

	len = sizeof(*c) + u->ruid.len + u->uri.len + u->callid.len + u->q.len + 4;
	c = shm_malloc(len);
	if(c == NULL) {
		SHM_MEM_ERROR;
		return NULL;
	}
	memset(c, 0, sizeof(*c));
	p = (char *)(c + 1);
#define BLF_CT_STR(dst, src)               \
	do {                                   \
		(dst).s = p;                       \
		(dst).len = (src).len;             \
		if((src).len)                      \
			memcpy(p, (src).s, (src).len); \
		p[(src).len] = '\0';               \
		p += (src).len + 1;                \
	} while(0)
	BLF_CT_STR(c->ruid, u->ruid);
	BLF_CT_STR(c->uri, u->uri);
	BLF_CT_STR(c->callid, u->callid);
	BLF_CT_STR(c->q, u->q);
#undef BLF_CT_STR
	c->expires = u->expires;
	c->cseq = u->cseq;
	c->active = 1;
	c->event = (unsigned char)ev;
	if(old) {
		memcpy(c->id, old->id, sizeof(c->id));
		c->since = old->since;
	} else {
		/* stable per binding: two hashes of usrloc's unique id */
		h1 = core_hash(&u->ruid, NULL, 0);
		h2 = core_hash(&u->uri, &u->ruid, 0);
		snprintf(c->id, sizeof(c->id), "%08x%08x", h1, h2);
		c->since = time(NULL);
	}
	return c;
}

static blf_contact_t *blf_contact_find(
		blf_entity_t *e, const str *ruid, blf_contact_t ***prev)
{
	blf_contact_t **pc;

	for(pc = &e->contacts; *pc; pc = &(*pc)->next) {
		if((*pc)->ruid.len == ruid->len
				&& memcmp((*pc)->ruid.s, ruid->s, ruid->len) == 0) {
			if(prev)
				*prev = pc;
			return *pc;
		}
	}
	return NULL;
}

/* the reg event an update means: longer or equal is a refresh */
static int blf_ct_update_event(const blf_contact_t *old, const blf_ct_upd_t *u)
{
	if(old->expires != 0 && u->expires != 0 && u->expires < old->expires)
		return BLF_REGINFO_EV_SHORTENED;
	return BLF_REGINFO_EV_REFRESHED;
}

/* the contacts that ended and were shown go; the entity owes nothing */
static void blf_contacts_settle(blf_entity_t *e)
{
	blf_contact_t **pc, *c;

	for(pc = &e->contacts; (c = *pc);) {
		if(c->active) {
			pc = &c->next;
			continue;
		}
		*pc = c->next;
		shm_free(c);
	}
	e->flags &= ~BLF_ENT_REGDUE;
}

/* ---- the prompt queue: slots with entities marked BLF_ENT_REGDUE ---- */

/* slots waiting for the "BLF REG" process (each at most once: a flag per
 * slot, under its lock); a slot more when it is full waits for the expiry
 * timer instead */
#define BLF_REG_QUEUE 1024
/* entities of one slot made due per visit: their snapshots are on the
 * process's stack; more: the slot is queued again */
#define BLF_REG_BATCH 32

typedef struct blf_reg_queue {
	gen_lock_t lock; /* n and slot[]: held for an append or a copy */
	volatile int n;	 /* read without the lock: 0 = nothing to do */
	unsigned int slot[BLF_REG_QUEUE];
	unsigned char in[]; /* per table slot: queued (its slot lock held) */
} blf_reg_queue_t;

static blf_reg_queue_t *blf_regq = NULL;

int blf_reg_prompt_init(void)
{
	size_t sz = sizeof(*blf_regq) + blf_table_slots();

	blf_regq = shm_malloc(sz);
	if(blf_regq == NULL) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(blf_regq, 0, sz);
	lock_init(&blf_regq->lock);
	return 0;
}

void blf_reg_prompt_destroy(void)
{
	if(blf_regq) {
		shm_free(blf_regq);
		blf_regq = NULL;
	}
}

/* slot i has an entity marked BLF_ENT_REGDUE (its lock held: the queue's
 * lock nests inside it, held for an append) */
static void blf_reg_queue_add(unsigned int i)
{
	if(blf_regq == NULL || blf_regq->in[i])
		return;
	lock_get(&blf_regq->lock);
	if(blf_regq->n < BLF_REG_QUEUE) {
		blf_regq->slot[blf_regq->n++] = i;
		blf_regq->in[i] = 1;
	}
	lock_release(&blf_regq->lock);
}

typedef struct blf_reg_walk {
	int n, more;
	blf_frags_t fr[BLF_REG_BATCH];
	blf_notify_job_t *jobs;
} blf_reg_walk_t;

static int blf_reg_walk_entity(blf_entity_t *e, void *arg)
{
	blf_reg_walk_t *w = arg;

	if(!(e->flags & BLF_ENT_REGDUE))
		return 0;
	if(w->n == BLF_REG_BATCH) {
		w->more = 1;
		return 1;
	}
	memset(&w->fr[w->n], 0, sizeof(w->fr[w->n]));
	blf_entity_reg_due(e, &w->fr[w->n], &w->jobs); /* may free e */
	w->n++;
	return 0;
}

/*
 * The "BLF REG" process, every BLF_REG_TICK_MS: the NOTIFYs of the
 * contacts that changed outside a SIP request (usrloc's timer, dmq_usrloc,
 * an RPC), made under each slot's lock and sent after it, in this process:
 * never under usrloc's lock nor from the process usrloc called us in.
 * Idle, one read of the queue's count.
 */
void blf_reg_prompt_timer(unsigned int ticks, void *param)
{
	static blf_reg_walk_t w;
	unsigned int slots[BLF_REG_QUEUE];
	int n, k, i;

	if(blf_regq == NULL || blf_regq->n == 0)
		return;
	lock_get(&blf_regq->lock);
	n = blf_regq->n;
	memcpy(slots, blf_regq->slot, n * sizeof(slots[0]));
	blf_regq->n = 0;
	lock_release(&blf_regq->lock);
	for(k = 0; k < n; k++) {
		w.n = w.more = 0;
		w.jobs = NULL;
		blf_slot_lock(slots[k]);
		blf_regq->in[slots[k]] = 0;
		blf_slot_each(slots[k], blf_reg_walk_entity, &w);
		if(w.more)
			blf_reg_queue_add(slots[k]); /* the next tick goes on */
		blf_slot_unlock(slots[k]);
		blf_chg_send(w.jobs);
		for(i = 0; i < w.n; i++)
			blf_frags_free(&w.fr[i]);
	}
}

/* e's contacts changed: its watchers' NOTIFYs now (into *jobs), or
 * marked for the "BLF REG" process (the expiry timer when that cannot
 * take it); the count of jobs */
static int blf_contacts_changed(blf_entity_t *e, blf_ct_when_t when,
		blf_frags_t *fr, blf_notify_job_t **jobs)
{
	int n;

	if(when == BLF_CT_TIMER) {
		e->flags |= BLF_ENT_REGDUE;
		blf_slot_wake(e->hash); /* the timer skips slots with nothing due */
		blf_reg_queue_add(blf_slot_idx(e->hash));
		return 0;
	}
	n = blf_entity_changed(e, BLF_DEP_REG, fr, jobs);
	blf_contacts_settle(e); /* the snapshots are taken */
	return n;
}

int blf_entity_reg_due(
		blf_entity_t *e, blf_frags_t *fr, blf_notify_job_t **jobs)
{
	if(!(e->flags & BLF_ENT_REGDUE))
		return 0;
	blf_contacts_changed(e, BLF_CT_SEND, fr, jobs);
	/* what blf_entity_gc keeps an entity for (it cannot say it freed e) */
	if(e->calls || e->subs || e->tombs || e->pubs || e->contacts
			|| (e->flags & (BLF_ENT_PARK | BLF_ENT_OWED | BLF_ENT_WOWED)))
		return 0;
	blf_entity_gc(e->hash, e);
	return 1;
}

int blf_entity_contact(const str *key, blf_ct_op_t op, const blf_ct_upd_t *u,
		blf_ct_when_t when)
{
	blf_notify_job_t *jobs = NULL;
	blf_frags_t fr;
	blf_entity_t *e;
	blf_contact_t *c, *n, **pc = NULL;
	unsigned int hash;
	int ev, rc = 0;

	if(key == NULL || key->len <= 0 || u == NULL || u->ruid.len <= 0)
		return -1;
	hash = blf_key_hash(key);
	memset(&fr, 0, sizeof(fr));
	blf_slot_lock(hash);
	if(op == BLF_CT_DELETE || op == BLF_CT_EXPIRE)
		e = blf_entity_find(hash, key);
	else
		e = blf_entity_get(hash, key);
	if(e == NULL) {
		blf_slot_unlock(hash);
		if(op == BLF_CT_DELETE || op == BLF_CT_EXPIRE)
			return 0; /* never tracked (over the bound, or before us) */
		LM_ERR("no memory for the entity %.*s\n", key->len, key->s);
		return -1;
	}
	c = blf_contact_find(e, &u->ruid, &pc);
	if(c && op == BLF_CT_LOAD)
		goto done; /* a callback was first: it knows better */
	switch(op) {
		case BLF_CT_LOAD:
		case BLF_CT_INSERT:
		case BLF_CT_UPDATE:
			if(c && !c->active) {
				/* ended, its NOTIFY not made yet (BLF_CT_TIMER), and back
				 * (a replica): a new binding in its place */
				n = blf_contact_build(u, NULL, BLF_REGINFO_EV_CREATED);
				if(n == NULL) {
					rc = -1;
					goto done;
				}
				n->next = c->next;
				*pc = n;
				shm_free(c);
				e->ncontacts++;
			} else if(c == NULL) {
				if(blf_cfg.max_contacts_per_entity <= 0
						|| e->ncontacts >= (unsigned int)blf_cfg
												   .max_contacts_per_entity) {
					if(blf_log_ok(&blf_ct_log_last))
						LM_NOTICE("%.*s has %u contacts "
								  "(max_contacts_per_entity): contact "
								  "%.*s not tracked\n",
								key->len, key->s, e->ncontacts, u->uri.len,
								u->uri.s);
					blf_entity_gc(hash, e);
					goto done;
				}
				ev = op == BLF_CT_LOAD ? BLF_REGINFO_EV_REGISTERED
									   : BLF_REGINFO_EV_CREATED;
				n = blf_contact_build(u, NULL, ev);
				if(n == NULL) {
					blf_entity_gc(hash, e);
					rc = -1;
					goto done;
				}
				/* newest last: the order a reg watcher sees them come */
				for(pc = &e->contacts; *pc; pc = &(*pc)->next)
					;
				*pc = n;
				e->ncontacts++;
			} else {
				ev = blf_ct_update_event(c, u);
				n = blf_contact_build(u, c, ev);
				if(n == NULL) {
					rc = -1;
					goto done;
				}
				n->next = c->next;
				*pc = n;
				shm_free(c);
			}
			rc = blf_contacts_changed(e, when, &fr, &jobs);
			break;
		case BLF_CT_DELETE:
		case BLF_CT_EXPIRE:
			if(c == NULL || !c->active)
				goto done;
			c->active = 0;
			c->event = op == BLF_CT_EXPIRE ? BLF_REGINFO_EV_EXPIRED
										   : BLF_REGINFO_EV_UNREGISTERED;
			/* ncontacts: what presence shows; the snapshots see it gone */
			e->ncontacts--;
			/* shown terminated once, then it goes (settle) */
			rc = blf_contacts_changed(e, when, &fr, &jobs);
			blf_entity_gc(hash, e);
			break;
	}
done:
	blf_slot_unlock(hash);
	blf_chg_jobs(jobs);
	if(when == BLF_CT_SEND)
		blf_chg_flush();
	blf_frags_free(&fr);
	return rc;
}

void blf_entity_contacts_free(blf_entity_t *e)
{
	blf_contact_t *c;

	while((c = e->contacts)) {
		e->contacts = c->next;
		shm_free(c);
	}
	e->ncontacts = 0;
}
