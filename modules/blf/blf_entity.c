/*
 * blf_entity.c — the entity table: entities, their calls, and what a call
 * event does to them.
 *
 * Records live in shared memory, one block each (a call and its strings are
 * one allocation; a field that changes rebuilds the block). Every entity
 * hashes to a slot guarded by its own lock. A call event takes the lock of
 * its entity's slot and, when the domain has wildcard (any-dn) watchers, the
 * slot of the wildcard pseudo-entity too, always in slot order; it applies
 * the event, builds the NOTIFY jobs (a copy of the content once per package
 * for all watchers, blf_pkg.h) and notes what changed for the change
 * listeners (blf_chg.h: copies only), and releases the locks before any
 * body is built or anything is sent, replicated or written.
 * The table calls nothing above it; the alias service's policy of a new
 * entity comes through a callback given at init.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>
#include <stdlib.h>
#include <ctype.h>

#include "core/mem/shm_mem.h"
#include "core/mem/mem.h"
#include "core/hashes.h"
#include "core/dprint.h"
#include "core/parser/parse_uri.h"

#include "blf_table.h"
#include "blf_chg.h"
#include "blf_sipcheck.h"
#include "blf_vis.h"
#include "blf_coalesce.h"
#include "blf_lograte.h"

/* its rate-limited log line: the last second one went out (per process) */
static time_t blf_entity_log_last = 0;

blf_table_t *blf_table = NULL;
int blf_ul_on = 0; /* set by blf_ul.c when usrloc is loaded */
/* the visibility policy of a new entity (the alias service's), set at init */
static int (*blf_table_policy)(const str *key) = NULL;

void blf_table_set_policy(int (*fn)(const str *key))
{
	blf_table_policy = fn;
}

/* the per-watcher visibility (visibility_url), set at init: 1 with *vis
 * decided, 0 when unknown yet (hidden) */
static int (*blf_table_wvis)(
		const str *entity, const str *watcher, blf_vis_t *vis) = NULL;

void blf_table_set_watcher_vis(
		int (*fn)(const str *entity, const str *watcher, blf_vis_t *vis))
{
	blf_table_wvis = fn;
}

int blf_table_init(unsigned int size)
{
	unsigned int n;

	for(n = 1; n < size; n <<= 1)
		;
	blf_table = shm_malloc(sizeof(blf_table_t) + n * sizeof(blf_slot_t));
	if(blf_table == NULL) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(blf_table, 0, sizeof(blf_table_t) + n * sizeof(blf_slot_t));
	blf_table->size = n;
	blf_table->slots = (blf_slot_t *)(blf_table + 1);
	blf_sub_slots(n);
	blf_table->locks = lock_set_alloc(n);
	if(blf_table->locks == NULL || lock_set_init(blf_table->locks) == NULL) {
		LM_ERR("cannot allocate %u slot locks\n", n);
		if(blf_table->locks)
			lock_set_dealloc(blf_table->locks);
		shm_free(blf_table);
		blf_table = NULL;
		return -1;
	}
	return 0;
}

void blf_table_destroy(void)
{
	unsigned int i;
	blf_entity_t *e, *en;
	blf_call_t *c, *cn;
	blf_sub_t *s, *sn;

	if(blf_table == NULL)
		return;
	for(i = 0; i < blf_table->size; i++) {
		for(e = blf_table->slots[i].first; e; e = en) {
			en = e->next;
			for(c = e->calls; c; c = cn) {
				cn = c->next;
				shm_free(c);
			}
			for(s = e->subs; s; s = sn) {
				sn = s->next;
				blf_sub_free(s);
			}
			blf_tombs_purge(e, 0);
			blf_rhist_purge(e, 0);
			shm_free(e);
		}
	}
	lock_set_destroy(blf_table->locks);
	lock_set_dealloc(blf_table->locks);
	shm_free(blf_table);
	blf_table = NULL;
}

unsigned int blf_key_hash(const str *key)
{
	return get_hash1_raw(key->s, key->len);
}

/*
 * user@host of a SIP URI into buf: scheme, port and parameters dropped, host
 * lower-cased (hosts compare case-insensitively, users do not).
 */
int blf_key_from_uri(const str *uri, char *buf, int size, str *key)
{
	struct sip_uri pu;
	int i;

	if(parse_uri(uri->s, uri->len, &pu) < 0) {
		LM_ERR("invalid URI [%.*s]\n", uri->len, uri->s);
		return -1;
	}
	if(pu.user.len == 0 || pu.host.len == 0) {
		LM_ERR("URI without user or host [%.*s]\n", uri->len, uri->s);
		return -1;
	}
	if(pu.user.len + 1 + pu.host.len >= size) {
		LM_ERR("URI too long [%.*s]\n", uri->len, uri->s);
		return -1;
	}
	memcpy(buf, pu.user.s, pu.user.len);
	buf[pu.user.len] = '@';
	for(i = 0; i < pu.host.len; i++)
		buf[pu.user.len + 1 + i] = tolower((unsigned char)pu.host.s[i]);
	key->s = buf;
	key->len = pu.user.len + 1 + pu.host.len;
	buf[key->len] = '\0';
	return 0;
}

/* the slot lock must be held */
blf_entity_t *blf_entity_find(unsigned int hash, const str *key)
{
	blf_entity_t *e;

	for(e = blf_table->slots[blf_slot_idx(hash)].first; e; e = e->next) {
		if(e->hash == hash && e->key.len == key->len
				&& memcmp(e->key.s, key->s, key->len) == 0)
			return e;
	}
	return NULL;
}

/* find or create; the slot lock must be held */
blf_entity_t *blf_entity_get(unsigned int hash, const str *key)
{
	blf_entity_t *e;
	blf_slot_t *slot;

	e = blf_entity_find(hash, key);
	if(e)
		return e;
	e = shm_malloc(sizeof(blf_entity_t) + key->len + 1);
	if(e == NULL) {
		SHM_MEM_ERROR;
		return NULL;
	}
	memset(e, 0, sizeof(blf_entity_t));
	e->vis = blf_table_policy ? blf_table_policy(key) : -1;
	e->hash = hash;
	e->key.s = (char *)(e + 1);
	e->key.len = key->len;
	memcpy(e->key.s, key->s, key->len);
	e->key.s[key->len] = '\0';
	slot = &blf_table->slots[blf_slot_idx(hash)];
	e->next = slot->first;
	slot->first = e;
	return e;
}

/* drops the tombstones of e that expired at now (now 0: all of them) */
void blf_tombs_purge(blf_entity_t *e, time_t now)
{
	blf_tomb_t **pt, *t;

	for(pt = &e->tombs; (t = *pt);) {
		if(now == 0 || t->until <= now) {
			*pt = t->next;
			shm_free(t);
		} else {
			pt = &t->next;
		}
	}
}

/* frees e when nothing refers to it any more; the slot lock must be held */
void blf_entity_gc(unsigned int hash, blf_entity_t *e)
{
	blf_entity_t **pe;

	if(e->calls || e->subs || e->tombs || e->pubs
			|| e->contacts /* registered (blf_entity_reg.c) */
			|| (e->flags
					& (BLF_ENT_PARK | BLF_ENT_OWED | BLF_ENT_WOWED
							| BLF_ENT_REGDUE)))
		return; /* an owed entity waits for the timer to send its state */
	for(pe = &blf_table->slots[blf_slot_idx(hash)].first; *pe;
			pe = &(*pe)->next) {
		if(*pe == e) {
			*pe = e->next;
			blf_rhist_purge(e, 0); /* a replay's copies: nobody to serve */
			shm_free(e);
			return;
		}
	}
}

int blf_entity_end_subs(const str *key,
		int (*match)(const blf_sub_t *s, const void *arg), const void *arg,
		const char *reason)
{
	blf_notify_job_t *jobs = NULL, *j;
	blf_frags_t fr;
	blf_entity_t *e;
	blf_sub_t **ps, *s;
	unsigned int hash = blf_key_hash(key);
	time_t now = time(NULL);
	int n = 0;

	memset(&fr, 0, sizeof(fr));
	blf_slot_lock(hash);
	e = blf_entity_find(hash, key);
	for(ps = e ? &e->subs : NULL; ps && *ps;) {
		s = *ps;
		if(!match(s, arg)) {
			ps = &s->next;
			continue;
		}
		j = blf_sub_job(e, s, &fr, NULL, 1, reason, now);
		if(j) {
			j->next = jobs;
			jobs = j;
		}
		blf_sub_unlink(e, ps);
		n++;
	}
	if(e)
		blf_entity_gc(hash, e);
	blf_slot_unlock(hash);
	blf_chg_send(jobs);
	blf_frags_free(&fr);
	return n;
}

/* ---- walking the table: no other file touches its slots ---- */

unsigned int blf_table_slots(void)
{
	return blf_table->size;
}

/* a racy read, only to skip empty slots cheaply (no lock needed) */
int blf_table_slot_empty(unsigned int i)
{
	return blf_table->slots[i].first == NULL;
}

/*
 * fn on every entity of slot i, whose lock the caller holds; fn may free
 * the entity it is given (blf_entity_gc), and stops the walk by returning
 * non-zero, which is returned.
 */
int blf_slot_each(unsigned int i, blf_entity_each_f fn, void *arg)
{
	blf_entity_t *e, *en;
	int r;

	for(e = blf_table->slots[i].first; e; e = en) {
		en = e->next;
		r = fn(e, arg);
		if(r)
			return r;
	}
	return 0;
}

/* blf_slot_each(), slot i's lock taken around it */
int blf_table_slot_each(unsigned int i, blf_entity_each_f fn, void *arg)
{
	int r;

	lock_set_get(blf_table->locks, i);
	r = blf_slot_each(i, fn, arg);
	lock_set_release(blf_table->locks, i);
	return r;
}

/*
 * The subscription (Call-ID, From tag, our tag) kept on an entity of hash
 * (our tag carries it); its entity and link into *pe and *pps. The slot
 * lock must be held.
 */
blf_sub_t *blf_table_sub_find(unsigned int hash, const str *callid,
		const str *ftag, const str *ttag, blf_entity_t **pe, blf_sub_t ***pps)
{
	blf_entity_t *e;
	blf_sub_t *s;

	for(e = blf_table->slots[blf_slot_idx(hash)].first; e; e = e->next) {
		if(e->hash == hash && (s = blf_sub_find(e, callid, ftag, ttag, pps))) {
			*pe = e;
			return s;
		}
	}
	return NULL;
}

/* removes a subscription (a NOTIFY got 481 or no answer) */
int blf_subs_remove(unsigned int hash, const str *callid, const str *ftag,
		const str *ttag)
{
	blf_entity_t *e;
	blf_sub_t **ps;
	int found = 0;

	blf_slot_lock(hash);
	if(blf_table_sub_find(hash, callid, ftag, ttag, &e, &ps)) {
		blf_sub_unlink(e, ps);
		blf_entity_gc(hash, e);
		found = 1;
	}
	blf_slot_unlock(hash);
	blf_chg_flush();
	return found;
}

/* ---- calls ---- */

blf_call_t *blf_call_find(
		blf_entity_t *e, const str *callid, blf_dir_t dir, blf_call_t ***prev)
{
	blf_call_t **pc;

	for(pc = &e->calls; *pc; pc = &(*pc)->next) {
		if((*pc)->dir == dir && (*pc)->f[BLF_CF_CALLID].len == callid->len
				&& memcmp((*pc)->f[BLF_CF_CALLID].s, callid->s, callid->len)
						   == 0) {
			if(prev)
				*prev = pc;
			return *pc;
		}
	}
	return NULL;
}

/*
 * A new block holding old's (or, with old NULL, empty) fields overlaid by
 * upd's. Returns NULL on no memory; old is left untouched.
 */
blf_call_t *blf_call_build(
		const blf_call_t *old, const blf_call_upd_t *upd)
{
	const str *src[BLF_CF_N];
	blf_call_t *c;
	size_t len = sizeof(blf_call_t);
	char *p;
	int i;

	for(i = 0; i < BLF_CF_N; i++) {
		src[i] = (upd && upd->f[i].s) ? &upd->f[i]
									  : (old ? &old->f[i] : NULL);
		len += (src[i] ? src[i]->len : 0) + 1;
	}
	c = shm_malloc(len);
	if(c == NULL) {
		SHM_MEM_ERROR;
		return NULL;
	}
	if(old)
		memcpy(c, old, sizeof(blf_call_t));
	else
		memset(c, 0, sizeof(blf_call_t));
	p = (char *)(c + 1);
	for(i = 0; i < BLF_CF_N; i++) {
		c->f[i].s = p;
		c->f[i].len = src[i] ? src[i]->len : 0;
		if(c->f[i].len)
			memcpy(p, src[i]->s, c->f[i].len);
		p[c->f[i].len] = '\0';
		p += c->f[i].len + 1;
	}
	return c;
}

/* does upd change anything in c? */
static int blf_call_upd_differs(const blf_call_t *c, const blf_call_upd_t *upd)
{
	int i;

	if(upd == NULL)
		return 0;
	for(i = 0; i < BLF_CF_N; i++) {
		if(upd->f[i].s == NULL)
			continue;
		if(upd->f[i].len != c->f[i].len
				|| memcmp(upd->f[i].s, c->f[i].s, c->f[i].len) != 0)
			return 1;
	}
	return 0;
}

void blf_call_set_id(blf_call_t *c)
{
	/* RFC 4235 wants the id stable for the dialog's life and unique within
	 * the entity; it must not link the two sides of one call (visibility
	 * state shows no call-id): a keyed hash of this side's identity,
	 * direction and Call-ID. Every input travels in the call itself, so
	 * cluster replicas and calls restored after a restart get the same id
	 * (dialog_id_secret must then be the same on every node). */
	static const u_int8_t sep = 0;
	const str *ci = &c->f[BLF_CF_CALLID];
	const str *lu = &c->f[BLF_CF_LURI];
	char hex[SHA256_DIGEST_STRING_LENGTH];
	u_int8_t d = c->dir == BLF_DIR_INITIATOR ? 'i' : 'r';
	SHA256_CTX ctx;

	sr_SHA256_Init(&ctx);
	if(blf_cfg.dialog_id_secret.len > 0)
		sr_SHA256_Update(&ctx, (u_int8_t *)blf_cfg.dialog_id_secret.s,
				blf_cfg.dialog_id_secret.len);
	sr_SHA256_Update(&ctx, &sep, 1);
	sr_SHA256_Update(&ctx, &d, 1);
	if(lu->len > 0)
		sr_SHA256_Update(&ctx, (u_int8_t *)lu->s, lu->len);
	sr_SHA256_Update(&ctx, &sep, 1);
	if(ci->len > 0)
		sr_SHA256_Update(&ctx, (u_int8_t *)ci->s, ci->len);
	sr_SHA256_End(&ctx, hex);
	memcpy(c->id, hex, BLF_CALL_ID_LEN);
	c->id[BLF_CALL_ID_LEN] = '\0';
}

/* remembers the change c just went through (for cluster replicas) */
void blf_call_hist_add(blf_call_t *c)
{
	blf_hist_t *h;

	if(c->nhist == BLF_CALL_HIST) {
		memmove(&c->hist[0], &c->hist[1],
				(BLF_CALL_HIST - 1) * sizeof(blf_hist_t));
		c->nhist--;
	}
	h = &c->hist[c->nhist++];
	h->seq = c->seq;
	h->state = (unsigned char)c->st.state;
	h->term = (unsigned char)c->st.term;
	h->code = (short)c->st.code;
}

void blf_entity_drop_terminated(blf_entity_t *e)
{
	blf_call_t **pc, *c;

	for(pc = &e->calls; *pc;) {
		c = *pc;
		if(c->st.state == BLF_STATE_TERMINATED) {
			*pc = c->next;
			e->ncalls--;
			shm_free(c);
		} else {
			pc = &c->next;
		}
	}
}

/* ---- call events ---- */

/* the wildcard pseudo-entity of key's domain: <wildcard_user>@host */
static int blf_wildcard_key(const str *key, char *buf, int size, str *wkey)
{
	char *at;
	int hlen;

	if(blf_cfg.wildcard_user.len == 0)
		return -1;
	at = memchr(key->s, '@', key->len);
	if(at == NULL)
		return -1;
	hlen = key->len - (int)(at - key->s);
	if(blf_cfg.wildcard_user.len + hlen >= size)
		return -1;
	memcpy(buf, blf_cfg.wildcard_user.s, blf_cfg.wildcard_user.len);
	memcpy(buf + blf_cfg.wildcard_user.len, at, hlen);
	wkey->s = buf;
	wkey->len = blf_cfg.wildcard_user.len + hlen;
	return 0;
}

/*
 * What wildcard subscription s may see of entity e: e's own policy (from
 * the alias service, else the visibility parameter), never more than the
 * subscription's; the entity itself sees all. -1: nothing (policy none).
 */
int blf_wildcard_vis(const blf_entity_t *e, const blf_sub_t *s, blf_vis_t *vis)
{
	int self = STR_EQ(BLF_SF(s, BLF_SF_WATCHER), e->key), w = BLF_VIS_UNSET;
	blf_vis_t pv;

	/* a per-watcher answer (visibility_url) decides; while it is unknown
	 * the entity stays hidden from this watcher (its answer, when it
	 * lands, sends the entity: blf_visapply.c) */
	if(!self && blf_table_wvis) {
		if(blf_table_wvis(&e->key, &BLF_SF(s, BLF_SF_WATCHER), &pv) == 0) {
			*vis = BLF_VIS_NONE;
			return -1;
		}
		w = pv;
	}
	*vis = blf_vis_decide(blf_cfg.visibility, e->vis, w, s->vis, self);
	return *vis == BLF_VIS_NONE ? -1 : 0;
}

/* the policy of entity key changed: kept on the entity for its watchers */
void blf_entity_set_policy(const str *key, blf_vis_t vis)
{
	blf_entity_t *e;
	unsigned int hash = blf_key_hash(key);

	blf_slot_lock(hash);
	e = blf_entity_find(hash, key);
	if(e)
		e->vis = vis;
	blf_slot_unlock(hash);
}

/* "sip:user@host" of e, XML-escaped for the entity attribute */
int blf_entity_uri_esc(blf_entity_t *e, char *buf, int size, str *out)
{
	char uri[BLF_KEY_MAX + 8], pct[3 * (BLF_KEY_MAX + 8)];
	int n;

	n = snprintf(uri, sizeof(uri), "sip:%.*s", e->key.len, e->key.s);
	if(n < 0 || n >= (int)sizeof(uri))
		return -1;
	/* an anyURI, as a subscription's own entity (blf_subs.c): an IPv6
	 * host's brackets percent-encoded */
	n = blf_uri_pct_encode(uri, n, pct, sizeof(pct));
	if(n < 0)
		return -1;
	n = blf_xml_escape_attr(pct, n, buf, size);
	if(n < 0)
		return -1;
	out->s = buf;
	out->len = n;
	return 0;
}

/*
 * Takes the locks of n slots (given by hashes) in ascending slot order,
 * each lock once: every path that holds more than one slot lock goes
 * through here, so two of them can never wait on each other.
 */
static int blf_slots_sorted(unsigned int *h, int n, unsigned int *idx)
{
	unsigned int t;
	int i, j, m = 0;

	for(i = 0; i < n; i++) {
		t = blf_slot_idx(h[i]);
		for(j = 0; j < m && idx[j] != t; j++)
			;
		if(j == m)
			idx[m++] = t;
	}
	for(i = 1; i < m; i++)
		for(j = i; j > 0 && idx[j - 1] > idx[j]; j--) {
			t = idx[j];
			idx[j] = idx[j - 1];
			idx[j - 1] = t;
		}
	return m;
}

void blf_slots_lockn(unsigned int *h, int n)
{
	unsigned int idx[8];
	int i, m;

	m = blf_slots_sorted(h, n, idx);
	for(i = 0; i < m; i++)
		lock_set_get(blf_table->locks, idx[i]);
}

void blf_slots_unlockn(unsigned int *h, int n)
{
	unsigned int idx[8];
	int i, m;

	m = blf_slots_sorted(h, n, idx);
	for(i = m - 1; i >= 0; i--)
		lock_set_release(blf_table->locks, idx[i]);
}

void blf_slots_lock2(unsigned int h1, unsigned int h2)
{
	unsigned int h[2] = {h1, h2};

	blf_slots_lockn(h, 2);
}

void blf_slots_unlock2(unsigned int h1, unsigned int h2)
{
	unsigned int h[2] = {h1, h2};

	blf_slots_unlockn(h, 2);
}

/*
 * Jobs for the wildcard watchers of e's domain (their entity attribute
 * names e). Both slot locks must be held.
 */
int blf_wildcard_jobs(blf_entity_t *w, blf_entity_t *e, blf_frags_t *fr,
		blf_notify_job_t **jobs, time_t now)
{
	char esc[BLF_KEY_MAX * 6 + 16];
	blf_notify_job_t *j;
	blf_sub_t *s;
	blf_vis_t vis;
	str uri;

	if(w == NULL || w->subs == NULL)
		return 0;
	if(blf_entity_uri_esc(e, esc, sizeof(esc), &uri) < 0)
		return -1;
	for(s = w->subs; s; s = s->next) {
		if(s->expires <= now || s->owner || (s->flags & BLF_SUB_ENDING))
			continue; /* the timer (or the owner node) sends it; ended,
					   * its final NOTIFY waits (blf_sub_takeover_end) */
		if(blf_wildcard_vis(e, s, &vis) < 0)
			continue; /* e's policy hides it from this watcher */
		j = blf_sub_job_vis(e, s, fr, &uri, vis, 0, NULL, now);
		if(j) {
			j->next = *jobs;
			*jobs = j;
		}
	}
	return 0;
}

/*
 * The hash of the wildcard pseudo-entity of key's domain (into wkey), or
 * hash itself when there is no wildcard (one lock then serves both).
 */
unsigned int blf_wildcard_hash(
		const str *key, char *buf, int size, str *wkey, unsigned int hash)
{
	if(blf_wildcard_key(key, buf, size, wkey) < 0
			|| (wkey->len == key->len
					&& memcmp(wkey->s, key->s, key->len) == 0)) {
		wkey->s = NULL;
		wkey->len = 0;
		return hash;
	}
	return blf_key_hash(wkey);
}

/*
 * Jobs for everyone who watches e: its own watchers and the wildcard
 * watchers of its domain. The slot locks of e and of the wildcard must be
 * held.
 */
static void (*blf_entity_list_hook)(
		blf_entity_t *e, unsigned int deps, blf_frags_t *fr) = NULL;

void blf_entity_set_list_hook(
		void (*fn)(blf_entity_t *e, unsigned int deps, blf_frags_t *fr))
{
	blf_entity_list_hook = fn;
}

void blf_entity_jobs_from(blf_entity_t *e, blf_frags_t *fr,
		blf_notify_job_t **jobs, time_t now, int origin)
{
	char wbuf[BLF_KEY_MAX + 64];
	blf_entity_t *w;
	str wkey;

	/* a copy of its calls for a takeover's replay (cluster) */
	blf_rhist_note(e, now, origin);
	/* RFC 4662 lists watching e take their snapshot now (blf_lsub.c) */
	if(blf_entity_list_hook)
		blf_entity_list_hook(e, BLF_DEP_CALLS, fr);
	blf_subs_notify_watchers(e, fr, jobs);
	if(blf_wildcard_key(&e->key, wbuf, sizeof(wbuf), &wkey) < 0
			|| STR_EQ(wkey, e->key))
		return;
	w = blf_entity_find(blf_key_hash(&wkey), &wkey);
	blf_wildcard_jobs(w, e, fr, jobs, now);
}

void blf_entity_jobs(
		blf_entity_t *e, blf_frags_t *fr, blf_notify_job_t **jobs, time_t now)
{
	blf_entity_jobs_from(e, fr, jobs, now, 0);
}

int blf_entity_changed(blf_entity_t *e, unsigned int deps, blf_frags_t *fr,
		blf_notify_job_t **jobs)
{
	if(e == NULL || deps == 0)
		return 0;
	/* RFC 4662 lists watching e take their snapshot now (blf_lsub.c) */
	if(blf_entity_list_hook)
		blf_entity_list_hook(e, deps, fr);
	return blf_subs_notify_dep(e, deps, fr, jobs);
}

/*
 * Applies a call event to the call callid/dir of entity key, creating both on
 * BLF_EV_REQUEST, updating the call's fields from upd, and notifying the
 * entity's watchers (and its domain's wildcard watchers) when what they see
 * changed. A terminated call is reported once and dropped.
 * Returns 1 when watchers were notified of a change, 0 when nothing changed,
 * -2 when the entity has no such call (and the event is not a REQUEST).
 */
int blf_entity_call_event(const str *key, const str *callid, blf_dir_t dir,
		blf_event_t ev, int code, const blf_call_upd_t *upd)
{
	char wbuf[BLF_KEY_MAX + 64];
	blf_notify_job_t *jobs = NULL;
	blf_frags_t fr;
	blf_entity_t *e;
	blf_call_t *c, *nc, **pc;
	unsigned int hash, whash;
	str wkey;
	int changed = 0;
	time_t now = time(NULL);

	memset(&fr, 0, sizeof(fr));
	hash = blf_key_hash(key);
	whash = blf_wildcard_hash(key, wbuf, sizeof(wbuf), &wkey, hash);

	blf_slots_lock2(hash, whash);
	e = (ev == BLF_EV_REQUEST) ? blf_entity_get(hash, key)
							   : blf_entity_find(hash, key);
	if(e == NULL) {
		changed = -2;
		goto unlock;
	}
	c = blf_call_find(e, callid, dir, &pc);
	if(c == NULL) {
		changed = -2;
		if(ev != BLF_EV_REQUEST)
			goto gc;
		if(blf_cfg.max_calls_per_entity > 0
				&& e->ncalls >= (unsigned int)blf_cfg.max_calls_per_entity) {
			/* the entity is busy with as many calls as it may show: this
			 * one is not tracked (its later events find no call) */
			update_stat(blf_st_calls_untracked, 1);
			if(blf_log_ok(&blf_entity_log_last))
				LM_NOTICE("%.*s has %u calls (max_calls_per_entity): call "
						  "%.*s not tracked (see blf:calls_untracked)\n",
						key->len, key->s, e->ncalls,
						callid->len > 128 ? 128 : callid->len, callid->s);
			goto gc;
		}
		c = blf_call_build(NULL, upd);
		if(c == NULL)
			goto gc;
		c->dir = dir;
		c->start = now;
		blf_dstate_init(&c->st);
		blf_call_set_id(c);
		c->next = e->calls;
		e->calls = c;
		e->ncalls++;
		changed = 1;
	} else {
		if(blf_call_upd_differs(c, upd)) {
			nc = blf_call_build(c, upd);
			if(nc) {
				*pc = nc;
				shm_free(c);
				c = nc;
			}
		}
		changed = blf_dstate_apply(&c->st, ev, code);
	}
	if(changed > 0) {
		c->seq++;
		blf_call_hist_add(c);
		blf_chg_call(e, c);
		blf_entity_jobs(e, &fr, &jobs, now);
		LM_DBG("%.*s call %.*s (%s) -> %s\n", key->len, key->s, callid->len,
				callid->s, blf_dir_name(dir), blf_state_name(c->st.state));
	}
	if(c->st.state == BLF_STATE_TERMINATED)
		blf_entity_drop_terminated(e);
gc:
	blf_entity_gc(hash, e);
unlock:
	blf_slots_unlock2(hash, whash);

	blf_chg_send(jobs);
	blf_frags_free(&fr);
	return changed;
}

/* ---- park orbits ---- */

/*
 * The state of a park orbit's entity: exists or not, and its parked call
 * (call NULL: empty). A new orbit is announced even when empty, so wildcard
 * watchers learn of it; a parked call shows as one confirmed dialog.
 */
int blf_entity_park_set(const str *key, int exists, const blf_call_upd_t *call)
{
	char wbuf[BLF_KEY_MAX + 64], ubuf[BLF_KEY_MAX + 8];
	blf_notify_job_t *jobs = NULL;
	blf_call_upd_t upd;
	blf_frags_t fr;
	blf_entity_t *e;
	blf_call_t *c, *nc, **pc;
	unsigned int hash, whash;
	str wkey;
	int changed = 0;
	time_t now = time(NULL);

	memset(&fr, 0, sizeof(fr));
	hash = blf_key_hash(key);
	whash = blf_wildcard_hash(key, wbuf, sizeof(wbuf), &wkey, hash);
	if(call) {
		upd = *call;
		upd.f[BLF_CF_LURI].s = ubuf;
		upd.f[BLF_CF_LURI].len =
				snprintf(ubuf, sizeof(ubuf), "sip:%.*s", key->len, key->s);
	}
	blf_slots_lock2(hash, whash);
	e = exists ? blf_entity_get(hash, key) : blf_entity_find(hash, key);
	if(e == NULL)
		goto unlock;
	if(exists && !(e->flags & BLF_ENT_PARK)) {
		e->flags |= BLF_ENT_PARK;
		changed = 1;
	} else if(!exists) {
		e->flags &= ~BLF_ENT_PARK;
	}
	/* the call parked until now, if another one (or none) is there now */
	for(pc = &e->calls; (c = *pc); pc = &c->next) {
		if(call && STR_EQ(c->f[BLF_CF_CALLID], upd.f[BLF_CF_CALLID]))
			break;
		changed |= blf_dstate_apply(&c->st, BLF_EV_BYE_REMOTE, 0);
	}
	if(call && c == NULL) {
		c = blf_call_build(NULL, &upd);
		if(c) {
			c->dir = BLF_DIR_RECIPIENT;
			c->start = now;
			blf_dstate_init(&c->st);
			blf_dstate_apply(&c->st, BLF_EV_ANSWER, 200);
			blf_call_set_id(c);
			c->next = e->calls;
			e->calls = c;
			e->ncalls++;
			changed = 1;
		}
	} else if(call && blf_call_upd_differs(c, &upd)) {
		nc = blf_call_build(c, &upd);
		if(nc) {
			*pc = nc;
			shm_free(c);
			changed = 1;
		}
	}
	if(changed)
		blf_entity_jobs(e, &fr, &jobs, now);
	blf_entity_drop_terminated(e);
	blf_entity_gc(hash, e);
unlock:
	blf_slots_unlock2(hash, whash);
	blf_chg_send(jobs);
	blf_frags_free(&fr);
	return changed;
}

/* the tags of call callid as entity key sees them; 0 when found */
int blf_entity_call_tags(const str *key, const str *callid, char *ltag,
		int lsize, char *rtag, int rsize)
{
	blf_entity_t *e;
	blf_call_t *c;
	unsigned int hash = blf_key_hash(key);
	int ret = -1;

	blf_slot_lock(hash);
	e = blf_entity_find(hash, key);
	for(c = e ? e->calls : NULL; c; c = c->next) {
		if(!STR_EQ(c->f[BLF_CF_CALLID], *callid))
			continue;
		if(c->f[BLF_CF_LTAG].len < lsize && c->f[BLF_CF_RTAG].len < rsize) {
			memcpy(ltag, c->f[BLF_CF_LTAG].s, c->f[BLF_CF_LTAG].len + 1);
			memcpy(rtag, c->f[BLF_CF_RTAG].s, c->f[BLF_CF_RTAG].len + 1);
			ret = 0;
		}
		break;
	}
	blf_slot_unlock(hash);
	return ret;
}

/*
 * Moves every call of entity from to entity to: the alias from turned out
 * to stand for to after its calls had started. Both sides' watchers (and
 * wildcard watchers) are told.
 */
int blf_entity_move_calls(const str *from, const str *to)
{
	char wb1[BLF_KEY_MAX + 64], wb2[BLF_KEY_MAX + 64];
	blf_notify_job_t *jobs = NULL;
	blf_frags_t fr1, fr2;
	blf_entity_t *ef, *et;
	blf_call_t *c;
	unsigned int h[4];
	str w1, w2;
	int moved = 0;
	time_t now = time(NULL);

	memset(&fr1, 0, sizeof(fr1));
	memset(&fr2, 0, sizeof(fr2));
	h[0] = blf_key_hash(from);
	h[1] = blf_key_hash(to);
	h[2] = blf_wildcard_hash(from, wb1, sizeof(wb1), &w1, h[0]);
	h[3] = blf_wildcard_hash(to, wb2, sizeof(wb2), &w2, h[1]);
	blf_slots_lockn(h, 4);
	ef = blf_entity_find(h[0], from);
	if(ef == NULL || ef->calls == NULL)
		goto unlock;
	et = blf_entity_get(h[1], to);
	if(et == NULL)
		goto unlock;
	while((c = ef->calls)) {
		ef->calls = c->next;
		ef->ncalls--;
		if(blf_call_find(et, &c->f[BLF_CF_CALLID], c->dir, NULL)) {
			shm_free(c); /* already there */
			continue;
		}
		if(blf_cfg.max_calls_per_entity > 0
				&& et->ncalls >= (unsigned int)blf_cfg.max_calls_per_entity) {
			update_stat(blf_st_calls_untracked, 1);
			shm_free(c); /* as a new call there would not be tracked */
			continue;
		}
		c->next = et->calls;
		et->calls = c;
		et->ncalls++;
		moved++;
		blf_chg_call_move(ef, et, c); /* the cluster's copies move too */
	}
	blf_entity_jobs(ef, &fr1, &jobs, now);
	if(moved)
		blf_entity_jobs(et, &fr2, &jobs, now);
	blf_entity_gc(h[0], ef);
	blf_entity_gc(h[1], et);
unlock:
	blf_slots_unlockn(h, 4);
	blf_chg_send(jobs);
	blf_frags_free(&fr1);
	blf_frags_free(&fr2);
	if(moved)
		LM_INFO("%d call(s) of %.*s moved to %.*s\n", moved, from->len,
				from->s, to->len, to->s);
	return moved;
}

/*
 * The timer's second chance: entity key had NOTIFYs deferred (see
 * blf_inflight.c); now that there is room, its owed subscriptions, and its
 * domain's wildcard watchers when they were owed, get one full-state
 * NOTIFY each. A NOTIFY deferred again marks it owed again.
 */
void blf_entity_owed_send(const str *key)
{
	blf_notify_job_t *jobs = NULL, *j;
	blf_frags_t fr;
	blf_entity_t *e;
	blf_sub_t *s, **ps;
	unsigned int hash;
	time_t now = time(NULL);
	int ended = 0;

	memset(&fr, 0, sizeof(fr));
	hash = blf_key_hash(key);
	blf_slot_lock(hash);
	e = blf_entity_find(hash, key);
	if(e == NULL || !(e->flags & BLF_ENT_OWED))
		goto unlock;
	e->flags &= ~BLF_ENT_OWED;
	for(s = e->subs; s; s = s->next) {
		if(!(s->flags & BLF_SUB_OWED) || s->owner
				|| (s->flags & BLF_SUB_WILDCARD)
				|| blf_expiry_due(s->expires, now))
			continue; /* expired: its final NOTIFY is the timer's */
		/* a refresh's takeover waiting for the former owner's version
		 * (blf_sub_takeover_hold): sent when it comes, or after
		 * BLF_VWAIT_MS (the timer looks again) */
		if(s->flags & BLF_SUB_VWAIT) {
			if(blf_coal_now() - s->sent_ms < BLF_VWAIT_MS) {
				e->flags |= BLF_ENT_OWED;
				blf_slot_wake(e->hash);
				continue;
			}
			s->flags &= ~BLF_SUB_VWAIT;
			s->sent_ms = 0;
		}
		/* unsubscribed meanwhile (blf_sub_takeover_end): its final
		 * NOTIFY, then it goes */
		if(s->flags & BLF_SUB_ENDING) {
			j = blf_sub_job(e, s, &fr, NULL, 1, "timeout", now);
			if(j) {
				j->next = jobs;
				jobs = j;
			}
			s->flags &= ~BLF_SUB_OWED;
			ended = 1;
			continue;
		}
		if(blf_coal_hold(e, s, 0))
			continue; /* still inside notify_min_interval: owed again */
		j = blf_sub_job(e, s, &fr, NULL, 0, NULL, now);
		if(j) {
			j->next = jobs;
			jobs = j;
		}
	}
	for(ps = &e->subs; ended && *ps;) {
		s = *ps;
		if((s->flags & BLF_SUB_ENDING) && !(s->flags & BLF_SUB_OWED)
				&& s->owner == 0)
			blf_sub_unlink(e, ps); /* its final NOTIFY is in jobs */
		else
			ps = &s->next;
	}
	blf_entity_gc(hash, e);
unlock:
	blf_slot_unlock(hash);
	blf_chg_send(jobs);
	blf_frags_free(&fr);
}
