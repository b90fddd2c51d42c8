/*
 * blf_lsub.c — RFC 4662 list subscriptions (SPEC "Resource lists
 * (RFC 4662) over HTTP").
 *
 * A list subscription is an ordinary subscription record on the list URI's
 * entity, flagged BLF_SUB_LIST; what a list needs beyond it lives here, in
 * two shm hash tables with a lock per bucket:
 *   - the list state per subscription (keyed by our To tag): the random
 *     secret that keys every instance id and Content-ID (blf_rlmi.h), the
 *     list's name, and per member its URI, name, entity key
 *     (alias-resolved), generation and the next version of its own body;
 *   - a reverse index member entity -> list subscriptions (our To tags),
 *     so a member's change reaches the lists that show it.
 * The RLMI version is the subscription record's own version, taken with
 * the CSeq under the list entity's slot lock like any NOTIFY's; one
 * NOTIFY of a list is built and sent at a time, so they leave in version
 * order (blf_lsub_gate: the sending mark, what is owed to its holder).
 *
 * The NOTIFY machinery knows nothing of lists: a job of a list
 * subscription carries a list "package" (one per real package, same
 * Event name) whose snapshot is a small marker (taken under the list's
 * slot lock: malloc only); its body() runs after every unlock and does the
 * work: member versions (bucket lock, alone), one snapshot per member
 * entity (that entity's slot lock alone, one at a time), the member bodies
 * by the real package, then blf_rlmi_split/render. When the state does
 * not fit one body (notify_max_body), the rest goes out in the following
 * NOTIFYs (the package's more() step: versions and CSeqs taken under the
 * list's slot lock again).
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>
#include <stdlib.h>
#include <stdio.h>
#include <strings.h>
#include <time.h>
#include <stdint.h>
#include <unistd.h>

#include "core/mem/shm_mem.h"
#include "core/atomic_ops.h"
#include "core/dprint.h"
#include "core/pt.h"
#include "core/hashes.h"
#include "core/parser/parse_supported.h"
#include "core/parser/msg_parser.h"

#include "blf.h"
#include "blf_alias.h"
#include "blf_list.h"
#include "blf_lsub.h"
#include "blf_rlmi.h"
#include "blf_sipcheck.h"
#include "blf_tag.h"
#include "blf_xml.h"
#include "blf_json.h"
#include "blf_viscache.h"
#include "blf_mvers.h"

/* ---- list state per subscription ---- */

typedef struct blf_loff {
	unsigned int off, len;
} blf_loff_t;

#define BLF_LM_ADDED (1 << 0)	/* not sent yet since it was added */
#define BLF_LM_REMOVED (1 << 1) /* to be sent once as terminated */
#define BLF_LM_GONE (1 << 2)	/* sent as terminated: no longer listed */
/* changed while another NOTIFY of the list was on its way: in the next */
#define BLF_LM_OWED (1 << 3)

typedef struct blf_lmem {
	unsigned int khash;	  /* blf_key_hash of key */
	unsigned int gen;	  /* instance generation (blf_rlmi.h) */
	unsigned int version; /* the next version of its own body */
	unsigned int flags;	  /* BLF_LM_* */
	unsigned int seq;	  /* the newest change its NOTIFYs showed
						   * (blf_lseq), 0: none yet */
	blf_loff_t uri, name, key;
} blf_lmem_t;

typedef struct blf_ls {
	struct blf_ls *next;
	unsigned int th;	/* hash of ttag */
	unsigned int lhash; /* the list entity's hash (its slot) */
	unsigned char secret[BLF_RLMI_SECRET_LEN];
	blf_loff_t callid, ftag, ttag, lkey, luri, name, watcher;
	int n;
	time_t born; /* when it was made (the orphan sweep spares new ones) */
	size_t size; /* of the whole block */
	/* one NOTIFY of the list at a time (blf_lsub_gate): its sender, from
	 * taking the version to after the send; what changes meanwhile is
	 * owed to it */
	int sending;
	unsigned int token; /* which sender (a new one each time) */
	time_t since;		/* when it took the mark */
	int pid;			/* the process that took it */
	unsigned int owed;	/* BLF_LS_OWED_* */
	/* the RLMI version the members' versions are current for (the
	 * subscription's next one after the last NOTIFY that took them):
	 * stored and replicated with them (blf_lsub_mvers) */
	unsigned int mat;
	/* n blf_lmem_t, then the strings */
} blf_ls_t;

#define BLF_LS_OWED_FULL (1 << 0) /* a full state (refresh, restore) */
#define BLF_LS_OWED_MEM (1 << 1)  /* members flagged (a hint for the sweep) */
/* rounds a sender sends what others owed it before it leaves the rest to
 * the next sender, or the HTTP process's sweep (a second at most) */
#define BLF_LSUB_ROUNDS 16
/* how long a member's change waits for the mark before it is merged */
#define BLF_LSUB_WAIT_US 2000
/* a mark older than this is a sender that died: the sweep takes it back */
#define BLF_LSUB_STUCK 10

#define BLF_LS(b, o) ((str){(char *)(b) + (o).off, (int)(o).len})
#define BLF_LS_M(ls) ((blf_lmem_t *)((ls) + 1))

/* a member as given to blf_ls_build */
typedef struct blf_lmin {
	const char *uri, *name, *key;
	unsigned int gen, version, flags, seq;
} blf_lmin_t;

/* 4096: the reverse index holds one entry per (list, member), 10k for 200
 * lists of 50; at 256 buckets each member change walked ~40 of them twice */
#define BLF_LSUB_SLOTS 4096
typedef struct blf_lhtab {
	gen_lock_set_t *locks;
	void *slots[BLF_LSUB_SLOTS];
} blf_lhtab_t;

static blf_lhtab_t *blf_lstab = NULL; /* blf_ls_t by our tag */
static blf_lhtab_t *blf_lrev = NULL;  /* blf_lref_t by member key */
#define blf_lidx(h) ((h) & (BLF_LSUB_SLOTS - 1))

/*
 * The order of member changes (shm, counted under each member entity's
 * slot lock as its change is stashed): a member snapshot older than one a
 * NOTIFY already showed of that member is not sent again (its state now
 * is); two workers' NOTIFYs of one member can reach the list in either
 * order, its newest state must be the last one shown.
 */
static atomic_t *blf_lseq = NULL;

/* the cluster replicates member versions (blf_lsub_mvers_replicate) */
static int blf_lmv_repl = 0;
/* mod_destroy's last DB flush: no other process is left, and one may have
 * died holding a bucket lock: the copies below take none */
static int blf_lsub_nolock = 0;
#define BLF_SEQ_BEFORE(a, b) ((int)((a) - (b)) < 0)

/* one list subscription watching a member entity */
typedef struct blf_lref {
	struct blf_lref *next;
	unsigned int khash;
	str key;  /* member entity */
	str ttag; /* the list subscription */
} blf_lref_t;

static blf_lhtab_t *blf_lhtab_new(void)
{
	blf_lhtab_t *t = shm_malloc(sizeof(*t));

	if(t == NULL) {
		SHM_MEM_ERROR;
		return NULL;
	}
	memset(t, 0, sizeof(*t));
	t->locks = lock_set_alloc(BLF_LSUB_SLOTS);
	if(t->locks == NULL || lock_set_init(t->locks) == NULL) {
		LM_ERR("cannot allocate list subscription locks\n");
		return NULL;
	}
	return t;
}

static unsigned int blf_lhash(const str *s)
{
	return get_hash1_raw(s->s, s->len);
}

static void blf_loff_put(char *base, char **p, blf_loff_t *o, const char *s,
		size_t len)
{
	o->off = (unsigned int)(*p - base);
	o->len = (unsigned int)len;
	if(len)
		memcpy(*p, s, len);
	(*p)[len] = '\0';
	*p += len + 1;
}

static blf_ls_t *blf_ls_build(const str *callid, const str *ftag,
		const str *ttag, const str *lkey, unsigned int lhash, const str *luri,
		const str *watcher, const char *name, const blf_lmin_t *m, int n)
{
	size_t sz = sizeof(blf_ls_t) + (size_t)n * sizeof(blf_lmem_t);
	blf_ls_t *ls;
	blf_lmem_t *lm;
	char *p;
	int i;

	sz += callid->len + ftag->len + ttag->len + lkey->len + luri->len
		  + watcher->len + strlen(name) + 7;
	for(i = 0; i < n; i++)
		sz += strlen(m[i].uri) + strlen(m[i].name) + strlen(m[i].key) + 3;
	ls = shm_malloc(sz);
	if(ls == NULL) {
		SHM_MEM_ERROR;
		return NULL;
	}
	memset(ls, 0, sizeof(*ls));
	ls->size = sz;
	ls->born = time(NULL);
	ls->n = n;
	ls->lhash = lhash;
	ls->th = blf_lhash(ttag);
	lm = BLF_LS_M(ls);
	p = (char *)(lm + n);
	blf_loff_put((char *)ls, &p, &ls->callid, callid->s, callid->len);
	blf_loff_put((char *)ls, &p, &ls->ftag, ftag->s, ftag->len);
	blf_loff_put((char *)ls, &p, &ls->ttag, ttag->s, ttag->len);
	blf_loff_put((char *)ls, &p, &ls->lkey, lkey->s, lkey->len);
	blf_loff_put((char *)ls, &p, &ls->luri, luri->s, luri->len);
	blf_loff_put((char *)ls, &p, &ls->name, name, strlen(name));
	blf_loff_put((char *)ls, &p, &ls->watcher, watcher->s, watcher->len);
	for(i = 0; i < n; i++) {
		memset(&lm[i], 0, sizeof(lm[i]));
		lm[i].gen = m[i].gen;
		lm[i].version = m[i].version;
		lm[i].flags = m[i].flags;
		lm[i].seq = m[i].seq;
		blf_loff_put((char *)ls, &p, &lm[i].uri, m[i].uri, strlen(m[i].uri));
		blf_loff_put(
				(char *)ls, &p, &lm[i].name, m[i].name, strlen(m[i].name));
		blf_loff_put((char *)ls, &p, &lm[i].key, m[i].key, strlen(m[i].key));
		lm[i].khash = blf_key_hash(&BLF_LS(ls, lm[i].key));
	}
	return ls;
}

/* the entry of ttag in its bucket (locked); pp: where it is linked */
static blf_ls_t *blf_ls_find(const str *ttag, unsigned int th, blf_ls_t ***pp)
{
	blf_ls_t **p, *ls;

	for(p = (blf_ls_t **)&blf_lstab->slots[blf_lidx(th)]; (ls = *p);
			p = &ls->next)
		if(ls->th == th && STR_EQ(BLF_LS(ls, ls->ttag), *ttag)) {
			if(pp)
				*pp = p;
			return ls;
		}
	return NULL;
}

/* a private copy of ttag's entry (malloc), NULL when there is none */
static blf_ls_t *blf_ls_copy(const str *ttag)
{
	unsigned int th = blf_lhash(ttag);
	blf_ls_t *ls, *c = NULL;

	if(!blf_lsub_nolock)
		lock_set_get(blf_lstab->locks, blf_lidx(th));
	ls = blf_ls_find(ttag, th, NULL);
	if(ls && (c = malloc(ls->size)) != NULL)
		memcpy(c, ls, ls->size);
	if(!blf_lsub_nolock)
		lock_set_release(blf_lstab->locks, blf_lidx(th));
	return c;
}

/* what a job needs of ttag's entry (its dialog, the list's slot), a
 * private copy (malloc) of the head alone: no member (n is 0), the other
 * strings empty; *busy: another process sends this list's NOTIFY. NULL
 * when there is none. A member's change makes one job per list that shows
 * it: a whole copy each was most of what the job cost */
static blf_ls_t *blf_ls_copy_head(const str *ttag, int *busy)
{
	unsigned int th = blf_lhash(ttag);
	blf_ls_t *ls, *c = NULL;
	char *p;

	if(!blf_lsub_nolock)
		lock_set_get(blf_lstab->locks, blf_lidx(th));
	ls = blf_ls_find(ttag, th, NULL);
	if(ls
			&& (c = malloc(sizeof(*c) + ls->callid.len + ls->ftag.len
						   + ls->ttag.len + 4))
					   != NULL) {
		*c = *ls;
		c->next = NULL;
		c->n = 0;
		p = (char *)(c + 1);
		*p++ = '\0';
		c->lkey.len = c->luri.len = c->name.len = c->watcher.len = 0;
		c->lkey.off = c->luri.off = c->name.off = c->watcher.off =
				(unsigned int)sizeof(*c);
		blf_loff_put((char *)c, &p, &c->callid, (char *)ls + ls->callid.off,
				ls->callid.len);
		blf_loff_put((char *)c, &p, &c->ftag, (char *)ls + ls->ftag.off,
				ls->ftag.len);
		blf_loff_put((char *)c, &p, &c->ttag, (char *)ls + ls->ttag.off,
				ls->ttag.len);
		c->size = (size_t)(p - (char *)c);
		*busy = ls->sending && ls->pid != my_pid();
	}
	if(!blf_lsub_nolock)
		lock_set_release(blf_lstab->locks, blf_lidx(th));
	return c;
}

/* ---- reverse index ---- */

static void blf_lref_add(const str *key, unsigned int kh, const str *ttag)
{
	blf_lref_t *r;

	r = shm_malloc(sizeof(*r) + key->len + ttag->len + 2);
	if(r == NULL) {
		SHM_MEM_ERROR;
		return;
	}
	r->khash = kh;
	r->key.s = (char *)(r + 1);
	r->key.len = key->len;
	memcpy(r->key.s, key->s, key->len);
	r->key.s[key->len] = '\0';
	r->ttag.s = r->key.s + key->len + 1;
	r->ttag.len = ttag->len;
	memcpy(r->ttag.s, ttag->s, ttag->len);
	r->ttag.s[ttag->len] = '\0';
	lock_set_get(blf_lrev->locks, blf_lidx(kh));
	r->next = blf_lrev->slots[blf_lidx(kh)];
	blf_lrev->slots[blf_lidx(kh)] = r;
	lock_set_release(blf_lrev->locks, blf_lidx(kh));
}

static void blf_lref_del(const str *key, unsigned int kh, const str *ttag)
{
	blf_lref_t **p, *r;

	lock_set_get(blf_lrev->locks, blf_lidx(kh));
	for(p = (blf_lref_t **)&blf_lrev->slots[blf_lidx(kh)]; (r = *p);) {
		if(r->khash == kh && STR_EQ(r->key, *key) && STR_EQ(r->ttag, *ttag)) {
			*p = r->next;
			shm_free(r);
			break;
		}
		p = &r->next;
	}
	lock_set_release(blf_lrev->locks, blf_lidx(kh));
}

/* the list subscriptions (our tags, malloc'd, NUL-separated) watching
 * member entity key; *n gets their number */
static char *blf_lref_find(const str *key, unsigned int kh, int *n)
{
	blf_lref_t *r;
	size_t sz = 0;
	char *out = NULL, *p;

	*n = 0;
	lock_set_get(blf_lrev->locks, blf_lidx(kh));
	for(r = blf_lrev->slots[blf_lidx(kh)]; r; r = r->next)
		if(r->khash == kh && STR_EQ(r->key, *key))
			sz += r->ttag.len + 1;
	if(sz && (out = malloc(sz)) != NULL) {
		p = out;
		for(r = blf_lrev->slots[blf_lidx(kh)]; r; r = r->next)
			if(r->khash == kh && STR_EQ(r->key, *key)) {
				memcpy(p, r->ttag.s, r->ttag.len + 1);
				p += r->ttag.len + 1;
				(*n)++;
			}
	}
	lock_set_release(blf_lrev->locks, blf_lidx(kh));
	return out;
}

static int blf_lsub_add_v(const str *callid, const str *ftag,
		const str *ttag, const str *lkey, unsigned int lhash, const str *luri,
		const str *watcher, const blf_list_copy_t *l, unsigned int version,
		int restored);
static int blf_lmv_take(const str *ttag, uint32_t *anchor, blf_mver_t **mv);
static void blf_lmv_drop(const str *ttag);
static int blf_lmv_peek(const str *ttag, char **out);

/* ---- members ---- */

/* the entity key a member URI stands for (alias-resolved, no waiting) */
static int blf_member_key(const char *uri, char *buf, int size)
{
	char kb[BLF_KEY_MAX], cb[BLF_KEY_MAX];
	str u = {(char *)uri, (int)strlen(uri)}, k, can;

	if(blf_key_from_uri(&u, kb, sizeof(kb), &k) < 0)
		return -1;
	blf_alias_resolve(&k, cb, sizeof(cb), &can, NULL, 0);
	if(can.len >= size)
		return -1;
	memcpy(buf, can.s, can.len);
	buf[can.len] = '\0';
	return 0;
}

int blf_lsub_supported(struct sip_msg *msg)
{
	struct hdr_field *h;

	/* a plain scan of every Supported header (parse_supported knows no
	 * eventlist bit in Kamailio 5.6) */
	for(h = msg->headers; h; h = h->next)
		if(h->type == HDR_SUPPORTED_T
				&& blf_sip_supported_eventlist(h->body.s, h->body.len))
			return 1;
	return 0;
}

/*
 * The secret of a list subscription: a keyed hash of its dialog (Call-ID,
 * both tags) under dialog_id_secret, so it comes out the same after a
 * restart and on the node that takes the subscription over (which share
 * dialog_id_secret), without being stored; no other watcher knows the
 * dialog, so it cannot derive the ids.
 */
static void blf_lsub_secret(const str *callid, const str *ftag,
		const str *ttag, unsigned char out[BLF_RLMI_SECRET_LEN])
{
	unsigned char key[16];
	char buf[3 * 256 + 4];
	uint64_t h[2];
	int i, n;

	memset(key, 0, sizeof(key));
	for(i = 0; i < blf_cfg.dialog_id_secret.len; i++)
		key[i % 16] ^= (unsigned char)blf_cfg.dialog_id_secret.s[i];
	n = snprintf(buf, sizeof(buf), "L%.*s|%.*s|%.*s",
			callid->len > 256 ? 256 : callid->len, callid->s,
			ftag->len > 256 ? 256 : ftag->len, ftag->s,
			ttag->len > 256 ? 256 : ttag->len, ttag->s);
	if(n < 0)
		n = 0;
	if(n >= (int)sizeof(buf))
		n = (int)sizeof(buf) - 1;
	h[0] = blf_rlmi_siphash(key, (unsigned char *)buf, (size_t)n);
	buf[0] = 'M';
	h[1] = blf_rlmi_siphash(key, (unsigned char *)buf, (size_t)n);
	memcpy(out, h, BLF_RLMI_SECRET_LEN);
}

int blf_lsub_add(const str *callid, const str *ftag, const str *ttag,
		const str *lkey, unsigned int lhash, const str *luri,
		const str *watcher, const blf_list_copy_t *l)
{
	return blf_lsub_add_v(
			callid, ftag, ttag, lkey, lhash, luri, watcher, l, 0, 0);
}

/* as blf_lsub_add for a subscription whose next RLMI version is version;
 * restored (from the database, or taken over): each member's body version
 * continues from the stored ones (blf_lmv_take, blf_mvers_resume), else
 * (a row or replica without them) at version: never a repeat */
static int blf_lsub_add_v(const str *callid, const str *ftag,
		const str *ttag, const str *lkey, unsigned int lhash, const str *luri,
		const str *watcher, const blf_list_copy_t *l, unsigned int version,
		int restored)
{
	blf_lmin_t *m;
	char *keys;
	blf_ls_t *ls, *old, **pp;
	blf_lmem_t *lm;
	blf_mver_t *mv = NULL;
	uint32_t anchor = 0;
	int i, k = 0, nmv = -1;

	if(blf_lstab == NULL)
		return -1;
	if(restored)
		nmv = blf_lmv_take(ttag, &anchor, &mv);
	m = calloc((size_t)l->n + 1, sizeof(*m));
	keys = malloc((size_t)(l->n + 1) * BLF_KEY_MAX);
	if(m == NULL || keys == NULL) {
		free(m);
		free(keys);
		free(mv);
		return -1;
	}
	for(i = 0; i < l->n; i++) {
		char *kb = keys + (size_t)k * BLF_KEY_MAX;
		if(blf_member_key(l->m[i].uri, kb, BLF_KEY_MAX) < 0) {
			LM_NOTICE("list %.*s: member %.64s skipped (not user@host)\n",
					lkey->len, lkey->s, l->m[i].uri);
			continue;
		}
		m[k].uri = l->m[i].uri;
		m[k].name = l->m[i].name;
		m[k].key = kb;
		m[k].version = nmv < 0 ? version
							   : blf_mvers_resume(mv, nmv, anchor, version,
									   blf_mvers_hash(l->m[i].uri,
											   strlen(l->m[i].uri)));
		k++;
	}
	if(nmv >= 0)
		LM_INFO("list %.*s: %d member versions restored (anchor %u, "
				"version %u)\n",
				lkey->len, lkey->s, nmv, (unsigned int)anchor, version);
	free(mv);
	ls = blf_ls_build(
			callid, ftag, ttag, lkey, lhash, luri, watcher, l->name, m, k);
	free(m);
	free(keys);
	if(ls == NULL)
		return -1;
	ls->mat = version;
	blf_lsub_secret(callid, ftag, ttag, ls->secret);
	lock_set_get(blf_lstab->locks, blf_lidx(ls->th));
	old = blf_ls_find(ttag, ls->th, &pp);
	if(old) { /* a retransmission: the first one stays */
		lock_set_release(blf_lstab->locks, blf_lidx(ls->th));
		shm_free(ls);
		return 0;
	}
	ls->next = blf_lstab->slots[blf_lidx(ls->th)];
	blf_lstab->slots[blf_lidx(ls->th)] = ls;
	lm = BLF_LS_M(ls);
	/* the references are added after the unlock from a private copy */
	{
		blf_ls_t *c = malloc(ls->size);
		if(c)
			memcpy(c, ls, ls->size);
		lock_set_release(blf_lstab->locks, blf_lidx(ls->th));
		if(c == NULL)
			return -1;
		lm = BLF_LS_M(c);
		for(i = 0; i < c->n; i++)
			blf_lref_add(&BLF_LS(c, lm[i].key), lm[i].khash, ttag);
		free(c);
	}
	return 0;
}

int blf_lsub_members(const str *ttag)
{
	unsigned int th;
	blf_ls_t *ls;
	int i, n = -1;

	if(blf_lstab == NULL || ttag->len <= 0)
		return -1;
	th = blf_lhash(ttag);
	lock_set_get(blf_lstab->locks, blf_lidx(th));
	ls = blf_ls_find(ttag, th, NULL);
	if(ls)
		for(i = 0, n = 0; i < ls->n; i++)
			if(!(BLF_LS_M(ls)[i].flags & (BLF_LM_GONE | BLF_LM_REMOVED)))
				n++;
	lock_set_release(blf_lstab->locks, blf_lidx(th));
	return n;
}

void blf_lsub_del(const str *ttag)
{
	unsigned int th;
	blf_ls_t *ls, **pp;
	blf_lmem_t *lm;
	int i;

	if(blf_lstab == NULL || ttag->len <= 0)
		return;
	blf_lmv_drop(ttag);
	th = blf_lhash(ttag);
	lock_set_get(blf_lstab->locks, blf_lidx(th));
	ls = blf_ls_find(ttag, th, &pp);
	if(ls)
		*pp = ls->next;
	lock_set_release(blf_lstab->locks, blf_lidx(th));
	if(ls == NULL)
		return;
	lm = BLF_LS_M(ls);
	for(i = 0; i < ls->n; i++)
		if(!(lm[i].flags & BLF_LM_GONE))
			blf_lref_del(&BLF_LS(ls, lm[i].key), lm[i].khash, ttag);
	shm_free(ls);
}

/* ---- member versions: stored, replicated, restored ---- */

int blf_lsub_mvers(const str *ttag, char **out)
{
	blf_ls_t *ls;
	blf_lmem_t *lm;
	blf_mver_t *mv;
	char *buf;
	int i, n = 0, len;

	*out = NULL;
	if(blf_lstab == NULL)
		return -1;
	if((ls = blf_ls_copy(ttag)) == NULL)
		return blf_lmv_peek(ttag, out); /* not rebuilt yet: as kept */
	lm = BLF_LS_M(ls);
	mv = calloc((size_t)ls->n + 1, sizeof(*mv));
	buf = malloc(12 + (size_t)ls->n * BLF_MVERS_ENTRY + 1);
	if(mv == NULL || buf == NULL) {
		free(mv);
		free(buf);
		free(ls);
		return -1;
	}
	for(i = 0; i < ls->n && n < BLF_MVERS_MAX; i++) {
		str u = BLF_LS(ls, lm[i].uri);
		if(lm[i].flags & BLF_LM_GONE)
			continue; /* no longer listed */
		mv[n].h = blf_mvers_hash(u.s, (size_t)u.len);
		mv[n].v = lm[i].version;
		n++;
	}
	len = blf_mvers_format(
			ls->mat, mv, n, buf, 12 + (size_t)ls->n * BLF_MVERS_ENTRY + 1);
	free(mv);
	free(ls);
	if(len < 0) {
		free(buf);
		return -1;
	}
	*out = buf;
	return len;
}

/*
 * The stored member versions of subscriptions this node has no list state
 * for yet (restored rows, replicas of other nodes' subscriptions), by our
 * tag, until blf_lsub_add_v rebuilds the state (blf_lmv_take), or the
 * subscription is gone (blf_lmv_sweep). Shm; one entry per subscription,
 * each at most BLF_MVERS_TEXT_MAX bytes (checked before it is kept).
 */
typedef struct blf_lmv {
	struct blf_lmv *next;
	unsigned int th;
	uint32_t anchor;
	time_t born;
	str ttag;
	str text;
} blf_lmv_t;

static blf_lhtab_t *blf_lmvtab = NULL;

int blf_lsub_mvers_init(void)
{
	if(!blf_list_enabled())
		return 0;
	blf_lmvtab = blf_lhtab_new();
	return blf_lmvtab ? 0 : -1;
}

/* ttag's kept entry, unlinked (the caller frees it); NULL when none */
static blf_lmv_t *blf_lmv_unlink(const str *ttag)
{
	blf_lmv_t *v = NULL, **pp;
	unsigned int th = blf_lhash(ttag);

	if(blf_lmvtab == NULL)
		return NULL;
	lock_set_get(blf_lmvtab->locks, blf_lidx(th));
	for(pp = (blf_lmv_t **)&blf_lmvtab->slots[blf_lidx(th)]; *pp;
			pp = &(*pp)->next)
		if((*pp)->th == th && STR_EQ((*pp)->ttag, *ttag)) {
			v = *pp;
			*pp = v->next;
			break;
		}
	lock_set_release(blf_lmvtab->locks, blf_lidx(th));
	return v;
}

/* ttag's kept entry goes (its subscription ended) */
static void blf_lmv_drop(const str *ttag)
{
	blf_lmv_t *v = blf_lmv_unlink(ttag);

	if(v)
		shm_free(v);
}

int blf_lsub_mvers_keep(const str *ttag, const char *text, size_t len)
{
	blf_lmv_t *v, **pp, *old = NULL;
	uint32_t anchor;
	unsigned int th;

	if(blf_lmvtab == NULL)
		return -2; /* no lists here (list_url unset): nothing to keep */
	if(ttag->len <= 0 || ttag->len > BLF_TAG_LEN + 7)
		return -1;
	if(blf_mvers_parse(text, len, &anchor, NULL, BLF_MVERS_MAX) < 0)
		return -1;
	v = shm_malloc(sizeof(*v) + ttag->len + len + 2);
	if(v == NULL) {
		SHM_MEM_ERROR;
		return -1;
	}
	th = blf_lhash(ttag);
	v->th = th;
	v->born = time(NULL);
	v->ttag.s = (char *)(v + 1);
	v->ttag.len = ttag->len;
	memcpy(v->ttag.s, ttag->s, ttag->len);
	v->ttag.s[ttag->len] = '\0';
	v->text.s = v->ttag.s + ttag->len + 1;
	v->text.len = (int)len;
	memcpy(v->text.s, text, len);
	v->text.s[len] = '\0';
	v->anchor = anchor;
	lock_set_get(blf_lmvtab->locks, blf_lidx(th));
	for(pp = (blf_lmv_t **)&blf_lmvtab->slots[blf_lidx(th)]; *pp;
			pp = &(*pp)->next)
		if((*pp)->th == th && STR_EQ((*pp)->ttag, *ttag)) {
			old = *pp;
			if((int)(anchor - old->anchor) < 0) {
				/* an older set applied after a newer one (the peer's
				 * replicas reach this node's workers in parallel) */
				lock_set_release(blf_lmvtab->locks, blf_lidx(th));
				shm_free(v);
				return 0;
			}
			*pp = old->next;
			break;
		}
	v->next = blf_lmvtab->slots[blf_lidx(th)];
	blf_lmvtab->slots[blf_lidx(th)] = v;
	lock_set_release(blf_lmvtab->locks, blf_lidx(th));
	if(old)
		shm_free(old);
	return 0;
}

/* a copy of ttag's kept text (*out, malloc'd): its length, -1 if none */
static int blf_lmv_peek(const str *ttag, char **out)
{
	blf_lmv_t *v;
	unsigned int th = blf_lhash(ttag);
	int len = -1;

	*out = NULL;
	if(blf_lmvtab == NULL)
		return -1;
	if(!blf_lsub_nolock)
		lock_set_get(blf_lmvtab->locks, blf_lidx(th));
	for(v = blf_lmvtab->slots[blf_lidx(th)]; v; v = v->next)
		if(v->th == th && STR_EQ(v->ttag, *ttag)) {
			if((*out = malloc(v->text.len + 1)) != NULL) {
				memcpy(*out, v->text.s, v->text.len + 1);
				len = v->text.len;
			}
			break;
		}
	if(!blf_lsub_nolock)
		lock_set_release(blf_lmvtab->locks, blf_lidx(th));
	return len;
}

/* ttag's kept entry, unlinked: its anchor and entries (*mv, malloc'd);
 * their number, or -1 when none was kept */
static int blf_lmv_take(const str *ttag, uint32_t *anchor, blf_mver_t **mv)
{
	blf_lmv_t *v;
	int n = -1;

	*mv = NULL;
	if((v = blf_lmv_unlink(ttag)) == NULL)
		return -1;
	*mv = malloc(sizeof(blf_mver_t) * BLF_MVERS_MAX);
	if(*mv)
		n = blf_mvers_parse(
				v->text.s, (size_t)v->text.len, anchor, *mv, BLF_MVERS_MAX);
	if(n < 0) {
		free(*mv);
		*mv = NULL;
	}
	shm_free(v);
	return n;
}

void blf_lsub_mvers_nolocks(void)
{
	blf_lsub_nolock = 1;
}

void blf_lsub_mvers_replicate(void)
{
	blf_lmv_repl = 1;
}

void blf_lsub_mvers_forget(const str *ttag)
{
	blf_lmv_drop(ttag);
}

int blf_lsub_mvers_merge(
		const str *ttag, unsigned int fa, const char *text, size_t len)
{
	blf_mver_t *m = NULL, *d = NULL;
	uint32_t anchor, to;
	int n, nd, rc = -1;
	char *buf = NULL;

	if(blf_lmvtab == NULL)
		return -1;
	n = blf_lmv_take(ttag, &anchor, &m);
	if(n < 0)
		return -1; /* nothing kept: the next full replica brings it */
	if(anchor != fa)
		goto out; /* a delta missed (or reordered): never-repeat instead */
	d = malloc(sizeof(*d) * BLF_MVERS_MAX);
	if(d == NULL
			|| (nd = blf_mvers_parse(text, len, &to, d, BLF_MVERS_MAX)) < 0
			|| (n = blf_mvers_merge(m, n, BLF_MVERS_MAX, d, nd)) < 0)
		goto out;
	buf = malloc(BLF_MVERS_TEXT_MAX);
	if(buf == NULL || (nd = blf_mvers_format(to, m, n, buf, BLF_MVERS_TEXT_MAX))
							  < 0)
		goto out;
	rc = blf_lsub_mvers_keep(ttag, buf, (size_t)nd);
out:
	free(buf);
	free(d);
	free(m);
	return rc;
}

/* ---- the list packages: snapshot marker, body, more ---- */

enum blf_lmode {
	BLF_LMODE_FULL = 0, /* every member (first NOTIFY, refresh, final) */
	BLF_LMODE_MEMBER,	/* the member entity mkey changed */
	BLF_LMODE_LIST,		/* members added or removed */
	BLF_LMODE_CONT,		/* body idx of a split state rendered before */
	BLF_LMODE_BUSY,		/* the members with calls (a state rebuilt) */
	BLF_LMODE_PARTIAL,	/* only what is owed (flagged members) */
};

/* one rendered list state (possibly several bodies), shared by the
 * NOTIFYs that carry it */
typedef struct blf_lrender {
	int refs;
	int n, nbodies;
	blf_rlmi_list_t l;
	blf_rlmi_member_t *m;	 /* one block: m, bodies, slots */
	blf_rlmi_slot_t *slots;
	blf_buf_t *bodies; /* n member bodies */
	blf_ls_t *ls;	   /* the selection the strings point into */
	char host[BLF_RLMI_HOST_MAX];
} blf_lrender_t;

typedef struct blf_lsnap {
	blf_snap_t head;
	const blf_pkg_t *real;
	int mode;
	int idx;
	blf_lrender_t *rest;
	str ttag;
	blf_snap_t *msnap; /* BLF_LMODE_MEMBER: mkey's, taken at its change */
	unsigned int mseq; /* and that change's blf_lseq */
	unsigned int version; /* the subscription's, when it was taken */
	char *dlg;	/* Call-ID, From tag, URI, watcher (NUL-ended, after m in
				 * its block): to rebuild a state this node lacks (a
				 * replica taken over) */
	int holder; /* holds the list's sending mark (token) */
	unsigned int token;
	int round; /* owed NOTIFYs its sender sent before it */
	char ttagbuf[BLF_TAG_LEN + 8];
	char mkey[BLF_KEY_MAX];
	char ctype[BLF_RLMI_CTYPE_MAX];
} blf_lsnap_t;

/*
 * What the NOTIFY blf_sub_job() is about to make is for, when this file
 * asks for it (blf_lsub_job, blf_lsub_more): read by blf_lsub_snap under
 * the list's slot lock; otherwise (a SUBSCRIBE, its refresh, the timer) a
 * full state. Per process, set and cleared around one blf_sub_job().
 */
static struct
{
	int on;
	int mode;		  /* BLF_LMODE_* */
	const str *mkey;  /* BLF_LMODE_MEMBER: the member entity */
	blf_snap_t **sn;  /* its snapshots per package, taken at its change */
	unsigned int mseq; /* that change's blf_lseq */
	int pass;		  /* the sender's own next NOTIFY (token) */
	unsigned int token;
} blf_lreq;

static blf_pkg_t blf_lpkgs[BLF_PKG_MAX];

static void blf_lrender_put(blf_lrender_t *R)
{
	int i;

	if(R == NULL || --R->refs > 0)
		return;
	for(i = 0; i < R->n; i++)
		blf_buf_free(&R->bodies[i]);
	free(R->m); /* bodies and slots are in its block */
	free(R->ls);
	free(R);
}

static void blf_lsub_release(blf_lsnap_t *m);

static void blf_lsnap_free(blf_snap_t *sn)
{
	blf_lsnap_t *m = (blf_lsnap_t *)sn;

	/* a NOTIFY that went (its sender found nothing more owed, or handed
	 * the mark on) or could not: the mark goes back; what is still owed
	 * is sent by the next sender or the sweep */
	blf_lsub_release(m);
	blf_lrender_put(m->rest);
	blf_snap_put(m->msnap);
	free(m); /* m->dlg with it */
}

/* 1 when a member of ls is owed to a NOTIFY (bucket lock held) */
static int blf_ls_owes(const blf_ls_t *ls)
{
	const blf_lmem_t *lm = BLF_LS_M(ls);
	int i;

	for(i = 0; i < ls->n; i++)
		if(!(lm[i].flags & BLF_LM_GONE)
				&& (lm[i].flags
						& (BLF_LM_OWED | BLF_LM_ADDED | BLF_LM_REMOVED)))
			return 1;
	return 0;
}

/*
 * The order of a list's NOTIFYs (RLMI versions must reach the watcher
 * 0,1,2...): a NOTIFY takes its version under the list's slot lock but is
 * built and sent after the unlock, so two workers changing two members of
 * one list could send versions n+1 before n. Here, under that slot lock
 * (and the state's bucket lock), before blf_sub_job() takes the version:
 * the first NOTIFY takes the list's sending mark and goes; while the mark
 * is held, another one records what it would carry (its member flagged,
 * or a full state) and is not made (-1, *held). The holder, after its
 * send (blf_lsub_more), sends what is owed as one partial NOTIFY, and so
 * on (BLF_LSUB_ROUNDS); the mark goes back when nothing is owed, or
 * when its snapshot is freed (a failed send). A final NOTIFY always goes.
 * A list with no state here (not rebuilt yet) is not ordered.
 */
static int blf_lsub_gate(const blf_sub_t *s, blf_lsnap_t *m, int *held)
{
	unsigned int th = blf_lhash(&m->ttag);
	blf_lmem_t *lm;
	blf_ls_t *ls;
	int i, pass = blf_lreq.on && blf_lreq.pass, r = 0;

	lock_set_get(blf_lstab->locks, blf_lidx(th));
	ls = blf_ls_find(&m->ttag, th, NULL);
	if(ls == NULL)
		goto out;
	lm = BLF_LS_M(ls);
	if(pass) {
		/* the sender's next NOTIFY, if it still is the sender */
		if(!ls->sending || ls->token != blf_lreq.token) {
			*held = 1;
			r = -1;
			goto out;
		}
		if(m->mode == BLF_LMODE_CONT)
			goto out; /* the rest of a split state: the mark stays */
	} else if(ls->sending) {
		/* owed to the sender */
		if(m->mode == BLF_LMODE_MEMBER && blf_lreq.mkey) {
			unsigned int kh = blf_key_hash(blf_lreq.mkey);
			for(i = 0; i < ls->n; i++)
				if(lm[i].khash == kh
						&& STR_EQ(BLF_LS(ls, lm[i].key), *blf_lreq.mkey))
					lm[i].flags |= BLF_LM_OWED;
			ls->owed |= BLF_LS_OWED_MEM;
		} else if(m->mode == BLF_LMODE_LIST || m->mode == BLF_LMODE_PARTIAL)
			ls->owed |= BLF_LS_OWED_MEM; /* members flagged already */
		else
			ls->owed |= BLF_LS_OWED_FULL;
		*held = 1;
		r = -1;
		goto out;
	}
	/* this NOTIFY goes and carries what is owed: here, or a NOTIFY
	 * deferred past max_notifies_per_sub (BLF_SUB_OWED, which this job
	 * clears: a partial one would lose that change) */
	if((ls->owed & BLF_LS_OWED_FULL) || (s->flags & BLF_SUB_OWED))
		m->mode = BLF_LMODE_FULL;
	if(m->mode == BLF_LMODE_PARTIAL && !blf_ls_owes(ls)) {
		if(pass)
			ls->sending = 0; /* nothing more: the mark goes back */
		ls->owed = 0;
		*held = 1;
		r = -1;
		goto out;
	}
	ls->owed = 0;
	if(!pass)
		ls->token++;
	ls->sending = 1;
	ls->since = time(NULL);
	ls->pid = my_pid();
	m->holder = 1;
	m->token = ls->token;
out:
	lock_set_release(blf_lstab->locks, blf_lidx(th));
	return r;
}

/* m's sending mark goes back (no lock held, or a slot lock only) */
static void blf_lsub_release(blf_lsnap_t *m)
{
	unsigned int th;
	blf_ls_t *ls;

	if(!m->holder || blf_lstab == NULL)
		return;
	m->holder = 0;
	th = blf_lhash(&m->ttag);
	lock_set_get(blf_lstab->locks, blf_lidx(th));
	ls = blf_ls_find(&m->ttag, th, NULL);
	if(ls && ls->sending && ls->token == m->token)
		ls->sending = 0;
	lock_set_release(blf_lstab->locks, blf_lidx(th));
}

/* under the list's slot lock (blf_subrec.c's hook): malloc only */
static blf_snap_t *blf_lsub_snap(const blf_sub_t *s, int terminated,
		const blf_pkg_t **pkg, int *held)
{
	const blf_pkg_t *real = blf_pkg_get(s->pkg);
	blf_lsnap_t *m;
	str t = BLF_SF(s, BLF_SF_TTAG);

	if(real == NULL || t.len > BLF_TAG_LEN + 7)
		return NULL;
	/* the dialog's strings (m->dlg) in the same block */
	m = calloc(1, sizeof(*m) + blf_sf_len(s, BLF_SF_CALLID)
						  + blf_sf_len(s, BLF_SF_FTAG) + blf_sf_len(s, BLF_SF_URI)
						  + blf_sf_len(s, BLF_SF_WATCHER) + 4);
	if(m == NULL)
		return NULL;
	m->head.refs = 1;
	m->head.pkg = &blf_lpkgs[real->id];
	m->real = real;
	m->mode = blf_lreq.on ? blf_lreq.mode : BLF_LMODE_FULL;
	memcpy(m->ttagbuf, t.s, t.len);
	m->ttag.s = m->ttagbuf;
	m->ttag.len = t.len;
	if(!terminated && blf_lsub_gate(s, m, held) < 0) {
		free(m);
		return NULL;
	}
	if(blf_lreq.on && blf_lreq.mkey && blf_lreq.mkey->len < BLF_KEY_MAX) {
		memcpy(m->mkey, blf_lreq.mkey->s, blf_lreq.mkey->len);
		m->mkey[blf_lreq.mkey->len] = '\0';
	}
	if(blf_lreq.on && blf_lreq.sn && (m->msnap = blf_lreq.sn[real->id])) {
		blf_snap_hold(m->msnap);
		m->mseq = blf_lreq.mseq;
	}
	m->version = s->version;
	m->dlg = (char *)(m + 1);
	{
		char *p = m->dlg;
		memcpy(p, BLF_SF(s, BLF_SF_CALLID).s, blf_sf_len(s, BLF_SF_CALLID));
		p += blf_sf_len(s, BLF_SF_CALLID);
		*p++ = '\0';
		memcpy(p, BLF_SF(s, BLF_SF_FTAG).s, blf_sf_len(s, BLF_SF_FTAG));
		p += blf_sf_len(s, BLF_SF_FTAG);
		*p++ = '\0';
		memcpy(p, BLF_SF(s, BLF_SF_URI).s, blf_sf_len(s, BLF_SF_URI));
		p += blf_sf_len(s, BLF_SF_URI);
		*p++ = '\0';
		memcpy(p, BLF_SF(s, BLF_SF_WATCHER).s, blf_sf_len(s, BLF_SF_WATCHER));
		p += blf_sf_len(s, BLF_SF_WATCHER);
		*p = '\0';
	}
	*pkg = &blf_lpkgs[real->id];
	return &m->head;
}

/*
 * What the list's watcher (BLF_LS(ls, ls->watcher), alias-resolved) may
 * see of member entity mkey: the visibility cache's decision
 * (blf_vis_lookup, never waits), where "not known yet" means
 * BLF_VIS_NONE. A member the watcher may not see (BLF_VIS_NONE) is sent as
 * <instance state="terminated" reason="rejected"> without a body.
 */
static blf_vis_t blf_lsub_member_vis(
		const blf_ls_t *ls, const str *mkey, blf_vis_t list_vis)
{
	blf_vis_t vis = BLF_VIS_NONE;
	str w = BLF_LS(ls, ls->watcher);

	(void)list_vis;
	/* per-watcher answer > the member's policy > the global one; unknown
	 * yet: none (shown when the answer arrives: blf_lsub_vis_changed) */
	if(w.len == 0 || blf_vis_lookup(mkey, &w, &vis) != 1)
		vis = BLF_VIS_NONE;
	return vis;
}

/*
 * Calls that ended, kept a few seconds for the list NOTIFYs that owe them.
 * A call that ends is dropped from its entity at once (SPEC "NOTIFY": it is
 * reported once as terminated). A list member's change normally goes out
 * with the snapshot taken at the change, which still shows the call
 * terminated; but a change owed to another NOTIFY (the list's sending mark
 * held, the subscription's NOTIFYs in flight past max_notifies_per_sub)
 * goes out later with the member's state by then, where the ended call is
 * simply gone: RFC 4235 ends it implicitly (a full document without it),
 * yet the watcher never sees it "terminated", as the member's watchers on
 * the member itself do. So a terminated call of an entity some list
 * watches is copied here (shm, under the entity's slot lock, by
 * blf_lsub_entity_hook) with the blf_lseq of its change, and a member body
 * built from the state now shows the ones ended after the change the list
 * last showed of that member (blf_lend_calls). Bounded per entity and in
 * time; the HTTP process's sweep drops the old ones.
 */
typedef struct blf_lend {
	struct blf_lend *next;
	unsigned int khash; /* blf_key_hash of the entity */
	unsigned int seq;	/* blf_lseq of the change that ended it */
	time_t at;
	str key;
	blf_call_t call; /* a copy, its strings after the key */
} blf_lend_t;

#define BLF_LEND_KEEP 10   /* s: the sweep's second, a stuck mark's bound */
#define BLF_LEND_PER_KEY 8 /* ended calls kept per entity at most */

static blf_lhtab_t *blf_lend = NULL;

/* drops the entries of bucket i older than BLF_LEND_KEEP (its lock held;
 * another process's clock read may be a second ahead of now: both ways) */
static void blf_lend_prune(unsigned int i, time_t now)
{
	blf_lend_t **pp, *x;

	for(pp = (blf_lend_t **)&blf_lend->slots[i]; (x = *pp);) {
		if(now - x->at > BLF_LEND_KEEP || x->at - now > BLF_LEND_KEEP) {
			*pp = x->next;
			shm_free(x);
		} else
			pp = &x->next;
	}
}

/* e's terminated calls, ended by the change of blf_lseq seq (e's slot lock
 * held): copied, newest first, each once (a call kept already is not: one
 * the entity did not drop at once); the oldest of the entity's go past
 * BLF_LEND_PER_KEY */
static void blf_lend_keep(const blf_entity_t *e, unsigned int seq)
{
	const blf_call_t *c;
	blf_lend_t *x, **pp, **last;
	unsigned int i = blf_lidx(e->hash), n;
	time_t now = time(NULL);
	size_t sz;
	char *p;
	int k;

	for(c = e->calls; c; c = c->next) {
		if(c->st.state != BLF_STATE_TERMINATED)
			continue;
		sz = sizeof(*x) + (size_t)e->key.len + 1;
		for(k = 0; k < BLF_CF_N; k++)
			sz += (size_t)c->f[k].len + 1;
		x = shm_malloc(sz);
		if(x == NULL) {
			SHM_MEM_ERROR;
			return;
		}
		memset(x, 0, sizeof(*x));
		x->khash = e->hash;
		x->seq = seq;
		x->at = now;
		x->call = *c;
		x->call.next = NULL;
		p = (char *)(x + 1);
		x->key.s = p;
		x->key.len = e->key.len;
		memcpy(p, e->key.s, e->key.len);
		p[e->key.len] = '\0';
		p += e->key.len + 1;
		for(k = 0; k < BLF_CF_N; k++) {
			if(c->f[k].s == NULL)
				continue;
			x->call.f[k].s = p;
			memcpy(p, c->f[k].s, c->f[k].len);
			p[c->f[k].len] = '\0';
			p += c->f[k].len + 1;
		}
		lock_set_get(blf_lend->locks, i);
		blf_lend_prune(i, now);
		for(pp = (blf_lend_t **)&blf_lend->slots[i]; *pp; pp = &(*pp)->next)
			if((*pp)->khash == e->hash && (*pp)->call.dir == c->dir
					&& !memcmp((*pp)->call.id, c->id, sizeof(c->id))
					&& STR_EQ((*pp)->key, e->key))
				break;
		if(*pp) {
			lock_set_release(blf_lend->locks, i);
			shm_free(x);
			continue;
		}
		x->next = blf_lend->slots[i];
		blf_lend->slots[i] = x;
		/* the entity's oldest past the bound */
		for(n = 0, last = NULL, pp = (blf_lend_t **)&blf_lend->slots[i]; *pp;
				pp = &(*pp)->next)
			if((*pp)->khash == e->hash && STR_EQ((*pp)->key, e->key)) {
				n++;
				last = pp;
			}
		if(n > BLF_LEND_PER_KEY && last) {
			blf_lend_t *old = *last;
			*last = old->next;
			shm_free(old);
		}
		lock_set_release(blf_lend->locks, i);
	}
}

/*
 * The ended calls of entity key (kh) a list showing its changes up to
 * blf_lseq `shown` has not shown, ended up to `upto`, as a chain of
 * shallow copies (malloc, one block, *n of them) ending in `rest`; NULL
 * when none. The entity's slot lock and the store's bucket lock (kh's) are
 * held, and stay held until the snapshot that reads them is taken: the
 * copies' strings are the store's.
 */
static blf_call_t *blf_lend_calls(const str *key, unsigned int kh,
		unsigned int shown, unsigned int upto, blf_call_t *rest, int *n)
{
	blf_call_t *v = NULL;
	blf_lend_t *x;
	unsigned int i = blf_lidx(kh);
	int k = 0, cap = 0;

	*n = 0;
	for(x = blf_lend->slots[i]; x; x = x->next) {
		if(x->khash != kh || !STR_EQ(x->key, *key)
				|| !BLF_SEQ_BEFORE(shown, x->seq)
				|| BLF_SEQ_BEFORE(upto, x->seq))
			continue;
		if(k == cap) {
			blf_call_t *nv;
			cap = cap ? cap * 2 : 4;
			nv = realloc(v, (size_t)cap * sizeof(*v));
			if(nv == NULL)
				break;
			v = nv;
		}
		v[k++] = x->call;
	}
	if(k == 0) {
		free(v);
		return NULL;
	}
	for(i = 0; i + 1 < (unsigned int)k; i++)
		v[i].next = &v[i + 1];
	v[k - 1].next = rest;
	*n = k;
	return v;
}

/*
 * 1 when entity key (kh) has a call kept here that ended after the change
 * of blf_lseq lo (0: none shown) and before the one of hi: a snapshot taken
 * at hi no longer holds it (several changes of the member merged into one
 * NOTIFY, the newest one's snapshot: blf_lsub_chg; another worker's newer
 * NOTIFY of the member first). Any lock but the store's may be held.
 */
static int blf_lend_between(
		const str *key, unsigned int kh, unsigned int lo, unsigned int hi)
{
	unsigned int i = blf_lidx(kh);
	blf_lend_t *x;
	int r = 0;

	if(blf_lend == NULL || lo == 0 || blf_lend->slots[i] == NULL)
		return 0;
	lock_set_get(blf_lend->locks, i);
	for(x = blf_lend->slots[i]; x && !r; x = x->next)
		r = x->khash == kh && STR_EQ(x->key, *key) && BLF_SEQ_BEFORE(lo, x->seq)
			&& BLF_SEQ_BEFORE(x->seq, hi);
	lock_set_release(blf_lend->locks, i);
	return r;
}

/* the HTTP process's sweep: the old ones go */
static void blf_lend_sweep(time_t now)
{
	unsigned int i;

	if(blf_lend == NULL)
		return;
	for(i = 0; i < BLF_LSUB_SLOTS; i++) {
		if(blf_lend->slots[i] == NULL)
			continue;
		lock_set_get(blf_lend->locks, i);
		blf_lend_prune(i, now);
		lock_set_release(blf_lend->locks, i);
	}
}

/* one member entity's body by the real package (its slot lock alone while
 * its snapshot is taken) */
static int blf_member_body(const blf_pkg_t *real, blf_snap_t *ready,
		const str *key, unsigned int kh, const char *uri, unsigned int version,
		blf_vis_t vis, unsigned int shown, unsigned int upto, blf_buf_t *out)
{
	char esc[BLF_JSON_URI_MAX * 6];
	blf_entity_t *e, tmp, et;
	blf_call_t *ended = NULL;
	blf_snap_t *sn;
	blf_body_req_t r;
	int n, rc, lend, ne = 0;

	n = blf_xml_escape_attr(uri, strlen(uri), esc, sizeof(esc));
	if(n < 0)
		return -1;
	if(ready) {
		sn = ready;
		blf_snap_hold(sn);
		goto body;
	}
	blf_slot_lock(kh);
	e = blf_entity_find(kh, key);
	if(e == NULL) {
		memset(&tmp, 0, sizeof(tmp));
		tmp.hash = kh;
		tmp.key = *key;
		tmp.vis = -1;
		e = &tmp;
	}
	/* the dialog package: with the calls that ended since the change the
	 * list last showed of it (blf_lend_calls), each shown terminated once */
	lend = blf_lend && shown && !strcmp(real->name, "dialog")
		   && blf_lend->slots[blf_lidx(kh)];
	if(lend) {
		lock_set_get(blf_lend->locks, blf_lidx(kh));
		ended = blf_lend_calls(key, kh, shown, upto, e->calls, &ne);
		if(ended) {
			et = *e;
			et.calls = ended;
			et.ncalls = e->ncalls + (unsigned int)ne;
			e = &et;
		}
	}
	sn = real->snapshot(e);
	if(lend)
		lock_set_release(blf_lend->locks, blf_lidx(kh));
	blf_slot_unlock(kh);
	free(ended);
	if(sn == NULL)
		return -1;
	sn->refs = 1;
	sn->pkg = real;
body:
	memset(&r, 0, sizeof(r));
	r.version = version;
	r.entity_esc = esc;
	r.entity_len = (size_t)n;
	r.vis = vis;
	rc = real->body(sn, &r, out);
	blf_snap_put(sn);
	return rc;
}

/* 1 when a and b list the same members in the same order */
static int blf_ls_same_members(const blf_ls_t *a, const blf_ls_t *b)
{
	const blf_lmem_t *ma = BLF_LS_M(a), *mb = BLF_LS_M(b);
	int i;

	if(a->n != b->n)
		return 0;
	for(i = 0; i < a->n; i++)
		if(!STR_EQ(BLF_LS(a, ma[i].uri), BLF_LS(b, mb[i].uri))
				|| ma[i].gen != mb[i].gen)
			return 0;
	return 1;
}

/*
 * This process's member-version deltas not handed to the cluster yet, per
 * list subscription: from anchor fa to anchor to, the members the NOTIFYs
 * in between carried with their next versions. Taken by the DMQ listener
 * (blf_lsub_mvers_delta) at the BLF_CHG_SUB_LMV noted with them; one per
 * list subscription at most (a later NOTIFY's delta merges in).
 */
typedef struct blf_lmvd {
	struct blf_lmvd *next;
	uint32_t fa, to;
	int n;
	blf_mver_t *m;
	char ttag[BLF_TAG_LEN + 8];
} blf_lmvd_t;

static blf_lmvd_t *blf_lmvd = NULL;
#define BLF_LMVD_MAX 256

static void blf_lmvd_add(const str *ttag, uint32_t fa, uint32_t to,
		const blf_mver_t *dv, int nd)
{
	blf_lmvd_t *p;
	blf_mver_t *m;
	int n;

	if(ttag->len >= (int)sizeof(p->ttag))
		return;
	for(p = blf_lmvd; p; p = p->next)
		if(strlen(p->ttag) == (size_t)ttag->len
				&& memcmp(p->ttag, ttag->s, ttag->len) == 0)
			break;
	if(p && p->to == fa) {
		/* the next NOTIFY of a delta not sent yet: one delta */
		m = realloc(p->m, sizeof(*m) * ((size_t)p->n + (size_t)nd + 1));
		if(m) {
			p->m = m;
			n = blf_mvers_merge(m, p->n, p->n + nd, dv, nd);
			if(n >= 0) {
				p->n = n;
				p->to = to;
				return;
			}
		}
	}
	if(p == NULL) {
		blf_lmvd_t **pp;
		int k = 0;
		/* at most BLF_LMVD_MAX waiting (the cluster not on yet, changes
		 * lost): the oldest goes, its peers see the gap (fa) */
		for(pp = &blf_lmvd; *pp && ++k < BLF_LMVD_MAX; pp = &(*pp)->next)
			;
		if(*pp) {
			free((*pp)->m);
			free(*pp);
			*pp = NULL;
		}
		p = calloc(1, sizeof(*p));
		if(p == NULL)
			return; /* the receiver sees the gap (fa) */
		memcpy(p->ttag, ttag->s, ttag->len);
		p->next = blf_lmvd;
		blf_lmvd = p;
	}
	/* a new one, or after another process's NOTIFY (a gap: the receiver
	 * drops what it kept and resumes never-repeat) */
	m = malloc(sizeof(*m) * ((size_t)nd + 1));
	free(p->m);
	p->m = m;
	p->n = 0;
	if(m) {
		memcpy(m, dv, sizeof(*m) * (size_t)nd);
		p->n = nd;
	}
	p->fa = fa;
	p->to = to;
}

/* a delta larger than this goes as "forget" (a full state of a long list:
 * no replica is sent that a peer could refuse for its size) */
#define BLF_LMVD_TEXT_MAX 65536

/* a list whose whole set is at most this long replicates the whole set
 * after each NOTIFY (about 400 members): a peer keeps the newest anchor,
 * whatever order its workers apply the replicas in; a longer one sends
 * deltas, which a peer can only chain in order */
#define BLF_LMV_WHOLE_MAX 8192

int blf_lsub_mvers_delta(
		const str *ttag, char **out, unsigned int *fa, int *whole)
{
	blf_lmvd_t *p, **pp;
	char *buf;
	int len = -1;

	*out = NULL;
	*whole = 0;
	for(pp = &blf_lmvd; (p = *pp); pp = &p->next)
		if(strlen(p->ttag) == (size_t)ttag->len
				&& memcmp(p->ttag, ttag->s, ttag->len) == 0)
			break;
	if(p == NULL)
		return -1;
	*pp = p->next;
	*fa = p->fa;
	if((len = blf_lsub_mvers(ttag, out)) > 0 && len <= BLF_LMV_WHOLE_MAX) {
		*whole = 1;
		free(p->m);
		free(p);
		return len;
	}
	free(*out);
	*out = NULL;
	len = -1;
	if(p->m == NULL)
		len = -2;
	else if((size_t)p->n * BLF_MVERS_ENTRY + 13 > BLF_LMVD_TEXT_MAX)
		len = -2;
	else if((buf = malloc((size_t)p->n * BLF_MVERS_ENTRY + 13)) != NULL) {
		len = blf_mvers_format(
				p->to, p->m, p->n, buf, (size_t)p->n * BLF_MVERS_ENTRY + 13);
		if(len < 0) {
			free(buf);
			len = -2;
		} else
			*out = buf;
	} else
		len = -2;
	free(p->m);
	free(p);
	return len;
}

/*
 * After a NOTIFY of version version took its members' versions (nbodies
 * NOTIFYs for a split state): the anchor covers its further bodies, and
 * the subscription's row is written again with them (BLF_SUB_DIRTY: the
 * flush may have taken the row between the version and this point).
 */
static void blf_lsub_touch(const blf_ls_t *ls, unsigned int version,
		int nbodies, unsigned int fa, unsigned int to, const blf_mver_t *dv,
		int nd)
{
	str cid = BLF_LS(ls, ls->callid), ft = BLF_LS(ls, ls->ftag);
	str tt = BLF_LS(ls, ls->ttag), lk = BLF_LS(ls, ls->lkey);
	unsigned int th = blf_lhash(&tt);
	blf_entity_t *e;
	blf_sub_t *s;
	blf_ls_t *cur;

	if(nbodies > 1) {
		lock_set_get(blf_lstab->locks, blf_lidx(th));
		cur = blf_ls_find(&tt, th, NULL);
		if(cur && cur->mat == version + 1)
			to = cur->mat = version + (unsigned int)nbodies;
		lock_set_release(blf_lstab->locks, blf_lidx(th));
	}
	/* no row to write again (no db_url) and no replica to make: the
	 * list's slot lock is not taken a second time for this NOTIFY */
	if(blf_cfg.db_url.len == 0 && !(dv && fa != to))
		return;
	blf_slot_lock(ls->lhash);
	e = blf_entity_find(ls->lhash, &lk);
	s = e ? blf_sub_find(e, &cid, &ft, &tt, NULL) : NULL;
	if(s && s->owner == 0) {
		s->flags |= BLF_SUB_DIRTY;
		blf_slot_dirty(ls->lhash); /* the DB flush walks dirty slots only */
		/* the cluster: a replica of it with the delta, before the NOTIFY
		 * leaves (blf_dmq.c; malloc only here) */
		if(dv && fa != to) {
			blf_lmvd_add(&tt, fa, to, dv, nd);
			blf_chg_sub(BLF_CHG_SUB_LMV, e, s);
		}
	}
	blf_slot_unlock(ls->lhash);
	if(dv && fa != to)
		blf_chg_flush();
}

/* body k of R appended to out: rendered straight into the room out has
 * (the process's NOTIFY buffer: after the first NOTIFY, room enough), and
 * measured first only when it does not fit */
static int blf_lsub_put_body(blf_lrender_t *R, int k, blf_buf_t *out)
{
	size_t len = 0, room = out->s ? out->size - out->len : 0;
	int rc;

	/* ENOSPC leaves the length needed in len; a body that fills the room
	 * exactly is done again with room for the NUL, as before */
	rc = blf_rlmi_render(&R->l, R->m, R->n, R->slots, k,
			room ? out->s + out->len : NULL, room, &len);
	if(rc == 0 && len >= room)
		rc = ENOSPC;
	if(rc == ENOSPC) {
		if(len == 0 || blf_buf_need(out, len + 1) < 0)
			return -1;
		rc = blf_rlmi_render(&R->l, R->m, R->n, R->slots, k, out->s + out->len,
				out->size - out->len, &len);
	}
	if(rc != 0)
		return -1;
	out->len += len;
	return 0;
}

/* what the render takes of one member of the list beyond its entry */
typedef struct blf_lsel {
	int inc;				  /* 1: active, 2: removed; | 4: its state now */
	unsigned int ver;		  /* the version of its body */
	unsigned int shown, upto; /* inc & 4: blf_lend_calls' window */
} blf_lsel_t;
#define BLF_LSEL_SEEN 512
/* after the members of a selection (blf_ls_select) */
#define BLF_LS_SEL(ls) ((blf_lsel_t *)(BLF_LS_M(ls) + (ls)->n))

/* what blf_ls_select decides with */
typedef struct blf_lsel_req {
	const blf_lsnap_t *m;
	int full;
	str mk;			  /* the changed member (BLF_LMODE_MEMBER) */
	unsigned int mkh; /* its hash: the members' keys compared only on it */
	/* BLF_LMODE_BUSY: the copy busy[] was taken from, which members of it
	 * have calls (each slot lock alone, before the bucket lock) */
	const blf_ls_t *busy_ls;
	const int *busy;
	unsigned int version; /* this NOTIFY's */
} blf_lsel_req_t;

/* whether member i of ls goes in, and how: 0, 1 active, 2 removed */
static inline int blf_lsel_inc(const blf_lsel_req_t *q, const blf_ls_t *ls, int i)
{
	const blf_lmem_t *lm = BLF_LS_M(ls) + i;
	int rm = (lm->flags & BLF_LM_REMOVED) ? 1 : 0;

	if(lm->flags & BLF_LM_GONE)
		return 0;
	if(q->busy && q->busy[i]) /* BLF_LMODE_BUSY: a member with calls */
		return 1 + rm;
	if(q->full || (lm->flags & (BLF_LM_ADDED | BLF_LM_REMOVED | BLF_LM_OWED))
			|| (q->m->mode == BLF_LMODE_MEMBER && lm->khash == q->mkh
					&& STR_EQ(BLF_LS(ls, lm->key), q->mk)))
		return 1 + rm;
	return 0;
}

/*
 * The members of ttag's list this NOTIFY carries, chosen in the shared
 * state under its bucket lock, their versions taken there (and the
 * members' marks updated), and copied out: a private entry (malloc) with
 * the list's own strings and those members alone, each with its
 * blf_lsel_t (BLF_LS_SEL). A member's change carries one member of 50:
 * copying the whole entry first, then comparing it with the shared one,
 * was most of what the body cost beyond the member's own.
 * *st: 0 no entry, 1 its members are no longer those of q->busy_ls (take
 * a new copy; unless give_up: then chosen from that copy, nothing taken),
 * -1 no memory. *cm: 1 when the versions were taken (the shared entry),
 * 0 when chosen from the copy. dv (cluster): the members' next versions.
 */
static blf_ls_t *blf_ls_select(const blf_lsel_req_t *q, int give_up,
		blf_mver_t **dv, int *nd, unsigned int *fa, unsigned int *to, int *cm,
		int *st)
{
	const blf_lsnap_t *m = q->m;
	unsigned int th = blf_lhash(&m->ttag);
	const blf_ls_t *src;
	blf_ls_t *cur, *c = NULL;
	blf_lmem_t *sm, *cmm = NULL, *dm;
	blf_lsel_t *sel;
	/* the first pass's answers, for the second (lists of up to this
	 * many members; longer ones are asked again) */
	unsigned char seen[BLF_LSEL_SEEN];
	size_t sz;
	char *p;
	int i, j, k, inc;

	*st = 0;
	*cm = 0;
	*nd = 0;
	lock_set_get(blf_lstab->locks, blf_lidx(th));
	cur = blf_ls_find(&m->ttag, th, NULL);
	src = cur;
	if(q->busy_ls
			&& (cur == NULL || !blf_ls_same_members(cur, q->busy_ls))) {
		if(cur && !give_up) {
			*st = 1;
			goto out;
		}
		src = q->busy_ls; /* as the copy says, no version taken */
	}
	if(src == NULL)
		goto out;
	if(src == cur)
		cmm = BLF_LS_M(cur);
	sm = BLF_LS_M(src);
	/* what goes in: its size */
	sz = sizeof(*c) + src->callid.len + src->ftag.len + src->ttag.len
		 + src->lkey.len + src->luri.len + src->name.len + src->watcher.len
		 + 7;
	for(i = 0, k = 0; i < src->n; i++) {
		inc = blf_lsel_inc(q, src, i);
		if(i < BLF_LSEL_SEEN)
			seen[i] = (unsigned char)inc;
		if(inc) {
			sz += sizeof(blf_lmem_t) + sizeof(blf_lsel_t) + sm[i].uri.len
				  + sm[i].name.len + sm[i].key.len + 3;
			k++;
		}
	}
	c = malloc(sz);
	if(c == NULL || (cmm && blf_lmv_repl && *dv == NULL
							&& (*dv = calloc((size_t)k + 1, sizeof(**dv)))
									   == NULL)) {
		free(c);
		c = NULL;
		*st = -1;
		goto out;
	}
	*c = *src;
	c->next = NULL;
	c->n = k;
	c->size = sz;
	dm = BLF_LS_M(c);
	sel = BLF_LS_SEL(c);
	p = (char *)(sel + k);
	blf_loff_put((char *)c, &p, &c->callid, (char *)src + src->callid.off,
			src->callid.len);
	blf_loff_put((char *)c, &p, &c->ftag, (char *)src + src->ftag.off,
			src->ftag.len);
	blf_loff_put((char *)c, &p, &c->ttag, (char *)src + src->ttag.off,
			src->ttag.len);
	blf_loff_put((char *)c, &p, &c->lkey, (char *)src + src->lkey.off,
			src->lkey.len);
	blf_loff_put((char *)c, &p, &c->luri, (char *)src + src->luri.off,
			src->luri.len);
	blf_loff_put((char *)c, &p, &c->name, (char *)src + src->name.off,
			src->name.len);
	blf_loff_put((char *)c, &p, &c->watcher, (char *)src + src->watcher.off,
			src->watcher.len);
	for(i = 0, j = 0; i < src->n && j < k; i++) {
		unsigned int fl = sm[i].flags;
		inc = i < BLF_LSEL_SEEN ? seen[i] : blf_lsel_inc(q, src, i);
		if(inc == 0)
			continue;
		dm[j] = sm[i];
		blf_loff_put((char *)c, &p, &dm[j].uri, (char *)src + sm[i].uri.off,
				sm[i].uri.len);
		blf_loff_put((char *)c, &p, &dm[j].name, (char *)src + sm[i].name.off,
				sm[i].name.len);
		blf_loff_put((char *)c, &p, &dm[j].key, (char *)src + sm[i].key.off,
				sm[i].key.len);
		memset(&sel[j], 0, sizeof(sel[j]));
		if(cmm) {
			if(inc == 1) {
				sel[j].ver = cmm[i].version++;
				if(*dv) {
					str u = BLF_LS(src, sm[i].uri);
					(*dv)[*nd].h = blf_mvers_hash(u.s, (size_t)u.len);
					(*dv)[(*nd)++].v = cmm[i].version;
				}
			}
			/* its snapshot taken at m's change, unless it changed since
			 * (owed) or a NOTIFY showed a newer change, or a call of it
			 * ended unseen before m's change (blf_lend_between; the
			 * state's bucket lock, then the store's): then its state now
			 * (taken after this point: newer than seq), with the calls
			 * that ended meanwhile */
			if((fl & BLF_LM_OWED) || !m->msnap || m->mode == BLF_LMODE_CONT
					|| sm[i].khash != q->mkh
					|| !STR_EQ(BLF_LS(src, sm[i].key), q->mk)
					|| (cmm[i].seq && BLF_SEQ_BEFORE(m->mseq, cmm[i].seq))
					|| blf_lend_between(&BLF_LS(src, sm[i].key), sm[i].khash,
							cmm[i].seq, m->mseq)) {
				inc |= 4;
				sel[j].shown = cmm[i].seq;
				cmm[i].seq = (unsigned int)atomic_get(blf_lseq);
				sel[j].upto = cmm[i].seq;
			} else
				cmm[i].seq = m->mseq;
			cmm[i].flags &= ~(BLF_LM_ADDED | BLF_LM_OWED);
			if(fl & BLF_LM_REMOVED)
				cmm[i].flags = BLF_LM_GONE;
		}
		sel[j++].inc = inc;
	}
	/* the member versions are now current for the NOTIFYs up to this
	 * one (one more per further body of a split state: blf_lsub_touch) */
	if(cmm) {
		*cm = 1;
		*fa = *to = cur->mat;
		if((int)(q->version + 1 - cur->mat) > 0)
			*to = cur->mat = q->version + 1;
	}
out:
	lock_set_release(blf_lstab->locks, blf_lidx(th));
	return c;
}

/* the RLMI and parts of what m says, rendered; body 0 into out */
static int blf_lsub_render(
		blf_lsnap_t *m, const blf_body_req_t *r, blf_buf_t *out)
{
	blf_lrender_t *R = NULL;
	blf_ls_t *ls = NULL, *copy = NULL;
	blf_lsel_req_t q;
	blf_lsel_t *sel;
	blf_lmem_t *lm;
	unsigned int fa = 0, to = 0;
	int i, k, n, st, cm = 0, retry = 0, nd = 0, rebuilt = 0, *busy = NULL;
	blf_mver_t *dv = NULL; /* the members this NOTIFY carried (cluster) */
	size_t max, start;
	const char *at;

	memset(&q, 0, sizeof(q));
	q.m = m;
	q.full = m->mode == BLF_LMODE_FULL || blf_list_full_state || r->terminated;
	q.mk.s = (char *)m->mkey;
	q.mk.len = (int)strlen(m->mkey);
	q.mkh = blf_key_hash(&q.mk);
	q.version = r->version;
again:
	if(m->mode == BLF_LMODE_BUSY) {
		/* which members have calls now (each slot lock alone, before
		 * the state's bucket lock: never the other way round) */
		free(copy);
		free(busy);
		busy = NULL;
		copy = blf_ls_copy(&m->ttag);
		if(copy) {
			busy = calloc((size_t)copy->n + 1, sizeof(int));
			if(busy == NULL)
				goto fail;
			lm = BLF_LS_M(copy);
			for(i = 0; i < copy->n; i++) {
				blf_entity_t *e;
				blf_slot_lock(lm[i].khash);
				e = blf_entity_find(lm[i].khash, &BLF_LS(copy, lm[i].key));
				busy[i] = e && e->ncalls > 0;
				blf_slot_unlock(lm[i].khash);
			}
		}
		q.busy_ls = copy;
		q.busy = busy;
	}
	ls = blf_ls_select(&q, retry >= 3, &dv, &nd, &fa, &to, &cm, &st);
	if(ls == NULL && st == 1) {
		/* its members changed since the copy: again from a new one */
		retry++;
		goto again;
	}
	if(ls == NULL && st < 0)
		goto fail;
	if(ls == NULL && !rebuilt && m->dlg) {
		/* a subscription this node has no list state for (a replica it
		 * took over, one restored before the HTTP process rebuilt it):
		 * rebuilt now, waiting for the list at most http_timeout (no lock
		 * is held here) */
		blf_list_copy_t *l = NULL;
		str cid = {m->dlg, (int)strlen(m->dlg)}, ft, uri, lk, wt;
		ft.s = cid.s + cid.len + 1;
		ft.len = (int)strlen(ft.s);
		uri.s = ft.s + ft.len + 1;
		uri.len = (int)strlen(uri.s);
		wt.s = uri.s + uri.len + 1;
		wt.len = (int)strlen(wt.s);
		lk = uri;
		if(lk.len > 4 && strncasecmp(lk.s, "sip:", 4) == 0) {
			lk.s += 4;
			lk.len -= 4;
		}
		rebuilt = 1;
		if(blf_list_get(&lk, blf_cfg.http_timeout, &l) == 1
				&& blf_lsub_add_v(&cid, &ft, &m->ttag, &lk, blf_key_hash(&lk),
						   &uri, &wt, l, m->version, 1)
						   == 0) {
			free(l);
			goto again;
		}
		free(l);
	}
	if(ls == NULL)
		LM_NOTICE("list subscription %.*s: no list state here (a replica "
				  "or restored subscription): an empty list is sent\n",
				m->ttag.len, m->ttag.s);
	free(copy);
	free(busy);
	copy = NULL;
	busy = NULL;
	R = calloc(1, sizeof(*R));
	n = ls ? ls->n : 0;
	/* the members, their bodies and their places: one block */
	if(R == NULL
			|| (R->m = calloc((size_t)n + 1, sizeof(*R->m) + sizeof(blf_buf_t)
													  + sizeof(*R->slots)))
					   == NULL) {
		free(R);
		R = NULL;
		goto fail;
	}
	R->refs = 1;
	R->ls = ls;
	R->bodies = (blf_buf_t *)(R->m + n + 1);
	R->slots = (blf_rlmi_slot_t *)(R->bodies + n + 1);
	/* the bodies, one member entity at a time */
	lm = ls ? BLF_LS_M(ls) : NULL;
	sel = ls ? BLF_LS_SEL(ls) : NULL;
	for(i = 0; i < n; i++) {
		blf_rlmi_member_t *rm = &R->m[R->n];
		blf_vis_t mvis;
		rm->uri = BLF_LS(ls, lm[i].uri).s;
		rm->name = BLF_LS(ls, lm[i].name).s;
		rm->gen = lm[i].gen;
		rm->ctype = m->real->ctype;
		if((sel[i].inc & 3) == 2) {
			rm->state = BLF_RLMI_TERMINATED;
			rm->reason = "noresource";
		} else if((mvis = blf_lsub_member_vis(
						   ls, &BLF_LS(ls, lm[i].key), r->vis))
				   == BLF_VIS_NONE) {
			rm->state = BLF_RLMI_TERMINATED; /* nothing of it shown */
			rm->reason = "rejected";
		} else {
			blf_buf_t *b = &R->bodies[R->n];
			blf_snap_t *ready = NULL;
			rm->state = BLF_RLMI_ACTIVE;
			if(m->msnap && !(sel[i].inc & 4) && cm)
				ready = m->msnap;
			if(blf_member_body(m->real, ready, &BLF_LS(ls, lm[i].key),
					   lm[i].khash, rm->uri, sel[i].ver, mvis, sel[i].shown,
					   sel[i].upto, b)
					< 0) {
				LM_ERR("list %.*s: no body for member %s\n",
						BLF_LS(ls, ls->lkey).len, BLF_LS(ls, ls->lkey).s,
						rm->uri);
				rm->state = BLF_RLMI_PENDING;
			} else {
				rm->body = b->s;
				rm->body_len = b->len;
			}
		}
		R->n++;
	}
	R->l.uri = ls ? BLF_LS(ls, ls->luri).s : "sip:list@blf.invalid";
	R->l.name = ls ? BLF_LS(ls, ls->name).s : NULL;
	R->l.version = r->version;
	R->l.full = q.full;
	at = ls ? strchr(BLF_LS(ls, ls->lkey).s, '@') : NULL;
	{
		/* (a copy cut to the buffer, as snprintf did: once per NOTIFY) */
		const char *h = at ? at + 1 : "blf.invalid";
		size_t hl = strnlen(h, sizeof(R->host) - 1);
		memcpy(R->host, h, hl);
		R->host[hl] = '\0';
	}
	R->l.host = R->host;
	R->l.secret = ls ? ls->secret : (const unsigned char *)"blf-no-secret!!!";
	max = r->max ? r->max : BLF_NOTIFY_BODY_UDP_MAX;
	if(max < BLF_RLMI_MIN_MAX)
		max = BLF_RLMI_MIN_MAX;
	if((k = blf_rlmi_split(&R->l, R->m, R->n, max, R->slots, &R->nbodies))
			!= 0) {
		LM_ERR("list %s: cannot lay out %d members in %zu bytes\n",
				R->l.uri, R->n, max);
		goto fail;
	}
	start = out->len;
	if(blf_lsub_put_body(R, 0, out) < 0
			|| blf_rlmi_ctype_of(out->s + start, out->len - start, m->ctype,
					   sizeof(m->ctype))
					   < 0)
		goto fail;
	if(ls)
		blf_lsub_touch(ls, r->version, R->nbodies, fa, to, dv, nd);
	free(dv);
	if(R->nbodies > 1) {
		m->rest = R; /* for more(): the following bodies */
		m->idx = 0;
	} else
		blf_lrender_put(R);
	return 0;
fail:
	free(copy);
	free(busy);
	free(dv);
	if(R)
		blf_lrender_put(R);
	else
		free(ls);
	return -1;
}

static int blf_lsub_body(blf_snap_t *sn, const blf_body_req_t *r, blf_buf_t *out)
{
	blf_lsnap_t *m = (blf_lsnap_t *)sn;
	blf_lrender_t *R = m->rest;
	size_t start;

	if(m->mode != BLF_LMODE_CONT)
		return blf_lsub_render(m, r, out);
	/* body idx of a split state: its RLMI version is this NOTIFY's */
	R->l.version = r->version - (unsigned int)m->idx;
	start = out->len;
	if(blf_lsub_put_body(R, m->idx, out) < 0
			|| blf_rlmi_ctype_of(out->s + start, out->len - start, m->ctype,
					   sizeof(m->ctype))
					   < 0)
		return -1;
	return 0;
}

static const char *blf_lsub_ctype(blf_snap_t *sn)
{
	blf_lsnap_t *m = (blf_lsnap_t *)sn;

	return m->ctype[0] ? m->ctype : "multipart/related";
}

/*
 * After a NOTIFY went, when no other worker owed its sender anything (the
 * common case): the mark goes back here, under the state's bucket lock
 * alone, as blf_lsub_gate would give it back to a partial NOTIFY with
 * nothing to carry, without the list's slot lock, its subscription's
 * lookup and a snapshot made to be dropped. A subscription owed a full
 * state (BLF_SUB_OWED, deferred past max_notifies_per_sub) is the
 * timer's then (blf_entity_owed_send). 1: the mark went back; 0: owed,
 * or not m's to give (the caller's way).
 */
static int blf_lsub_done(blf_lsnap_t *m)
{
	unsigned int th = blf_lhash(&m->ttag);
	blf_ls_t *ls;
	int r = 0;

	if(!m->holder || blf_lstab == NULL)
		return 0;
	lock_set_get(blf_lstab->locks, blf_lidx(th));
	ls = blf_ls_find(&m->ttag, th, NULL);
	if(ls && ls->sending && ls->token == m->token
			&& !(ls->owed & BLF_LS_OWED_FULL) && !blf_ls_owes(ls)) {
		ls->sending = 0;
		ls->owed = 0;
		m->holder = 0;
		r = 1;
	}
	lock_set_release(blf_lstab->locks, blf_lidx(th));
	return r;
}

/* after a NOTIFY of a split state went: the NOTIFYs of its other bodies
 * (versions and CSeqs taken under the list's slot lock) */
static blf_notify_job_t *blf_lsub_more(blf_notify_job_t *j)
{
	blf_lsnap_t *m = (blf_lsnap_t *)j->snap, *mm, *last = NULL;
	blf_notify_job_t *first = NULL, **tail = &first, *nj;
	blf_entity_t *e;
	blf_sub_t *s;
	blf_frags_t fr;
	time_t now = time(NULL);
	int k, cont;

	if(m == NULL || j->terminated)
		return NULL;
	cont = m->rest != NULL && m->mode != BLF_LMODE_CONT;
	if(!cont && !m->holder)
		return NULL;
	if(!cont && m->round + 1 >= BLF_LSUB_ROUNDS) {
		/* enough for this worker: the next sender or the sweep */
		blf_lsub_release(m);
		return NULL;
	}
	if(!cont && blf_lsub_done(m))
		return NULL; /* nothing owed: the mark went back */
	memset(&fr, 0, sizeof(fr));
	blf_slot_lock(j->hash);
	s = blf_table_sub_find(j->hash, &j->f[BLF_SF_CALLID], &j->f[BLF_SF_FTAG],
			&j->f[BLF_SF_TTAG], &e, NULL);
	if(s && (!(s->flags & BLF_SUB_LIST) || s->owner))
		s = NULL;
	memset(&blf_lreq, 0, sizeof(blf_lreq));
	blf_lreq.on = 1;
	blf_lreq.pass = 1;
	blf_lreq.token = m->token;
	/* the other bodies of a split state, each its own NOTIFY */
	blf_lreq.mode = BLF_LMODE_CONT;
	for(k = 1; cont && s && k < m->rest->nbodies; k++) {
		nj = blf_sub_job(e, s, &fr, NULL, 0, NULL, now);
		if(nj == NULL)
			break; /* deferred: the full state is owed */
		mm = (blf_lsnap_t *)nj->snap;
		mm->mode = BLF_LMODE_CONT;
		mm->idx = k;
		mm->rest = m->rest;
		m->rest->refs++;
		*tail = nj;
		tail = &nj->next;
		last = mm;
	}
	if(cont && last && k == m->rest->nbodies && m->holder) {
		/* the last of them sends what is owed meanwhile */
		last->holder = 1;
		last->token = m->token;
		last->round = m->round;
		m->holder = 0;
	} else if(m->holder && s && m->round + 1 < BLF_LSUB_ROUNDS) {
		/* what other workers owed this sender: one partial NOTIFY (none
		 * when nothing is owed: the mark then goes back) */
		blf_lreq.mode = BLF_LMODE_PARTIAL;
		nj = blf_sub_job(e, s, &fr, NULL, 0, NULL, now);
		if(nj) {
			mm = (blf_lsnap_t *)nj->snap;
			mm->holder = 1;
			mm->token = m->token;
			mm->round = m->round + 1;
			m->holder = 0;
			*tail = nj;
			tail = &nj->next;
		}
	}
	memset(&blf_lreq, 0, sizeof(blf_lreq));
	blf_slot_unlock(j->hash);
	blf_frags_free(&fr);
	/* still the holder (nothing owed, no job, gone): the mark goes back */
	blf_lsub_release(m);
	return first;
}

/* ---- changes ---- */

/*
 * The snapshots of member entities taken at their change, under their slot
 * lock (blf_entity_jobs calls blf_lsub_entity_hook), kept in this process
 * until the change's listeners run: a call that ends is dropped from its
 * entity at once, so a snapshot taken later would miss its "terminated".
 */
#define BLF_LSTASH_MAX 8192 /* entries per batch at most (grown as needed) */
typedef struct blf_lstash {
	unsigned int seq; /* blf_lseq of the change */
	char key[BLF_KEY_MAX];
	blf_snap_t *sn[BLF_PKG_MAX];
} blf_lstash_t;
static blf_lstash_t *blf_lstash = NULL; /* per process */
static int blf_nlstash = 0, blf_lstash_size = 0;

static void blf_lsub_entity_hook(
		blf_entity_t *e, unsigned int deps, blf_frags_t *fr)
{
	blf_lstash_t *st;
	blf_lref_t *r;
	int i, found = 0;

	/* a change no list package depends on (a REGISTER for dialog lists) */
	for(i = 0; i < BLF_PKG_MAX && !found; i++)
		found = blf_lpkgs[i].body && blf_lpkgs[i].served
				&& (blf_lpkgs[i].deps & deps);
	if(!found)
		return;
	found = 0;

	lock_set_get(blf_lrev->locks, blf_lidx(e->hash));
	for(r = blf_lrev->slots[blf_lidx(e->hash)]; r && !found; r = r->next)
		found = r->khash == e->hash && STR_EQ(r->key, e->key);
	lock_set_release(blf_lrev->locks, blf_lidx(e->hash));
	if(!found || e->key.len >= BLF_KEY_MAX)
		return;
	if(blf_nlstash == blf_lstash_size) {
		int nsz = blf_lstash_size ? blf_lstash_size * 2 : 16;
		blf_lstash_t *ns;
		if(nsz > BLF_LSTASH_MAX
				|| (ns = realloc(blf_lstash, nsz * sizeof(*ns))) == NULL) {
			static time_t last = 0;
			if(last != time(NULL)) {
				last = time(NULL);
				LM_ERR("list member change of %.*s not passed on: %d "
					   "changes in one batch\n",
						e->key.len, e->key.s, blf_nlstash);
			}
			return;
		}
		blf_lstash = ns;
		blf_lstash_size = nsz;
	}
	st = &blf_lstash[blf_nlstash];
	memset(st->sn, 0, sizeof(st->sn));
	for(i = 0; i < BLF_PKG_MAX; i++)
		if(blf_lpkgs[i].body && blf_lpkgs[i].served
				&& (blf_lpkgs[i].deps & deps))
			st->sn[i] = blf_pkg_snap(fr, blf_pkg_get(i), e);
	memcpy(st->key, e->key.s, e->key.len);
	st->key[e->key.len] = '\0';
	st->seq = (unsigned int)atomic_add(blf_lseq, 1);
	/* a call this change ended: kept for NOTIFYs built later (blf_lend) */
	if(blf_lend && (deps & BLF_DEP_CALLS))
		blf_lend_keep(e, st->seq);
	blf_nlstash++;
	blf_chg_poke(); /* a replica's change notes nothing else */
}

/* a NOTIFY in mode for the list subscription of our tag ttag */
static blf_notify_job_t *blf_lsub_job(
		const str *ttag, int mode, const str *mkey, blf_lstash_t *st)
{
	blf_ls_t *ls;
	blf_notify_job_t *j = NULL;
	blf_entity_t *e;
	blf_sub_t *s;
	blf_frags_t fr;
	int k;

	/* a member's change with its own snapshot, while another worker sends
	 * this list's NOTIFY (a few tens of microseconds): it waits a moment
	 * (no lock held) rather than be merged into the sender's next NOTIFY,
	 * where the member shows its state by then -- a call that ended is
	 * gone from it, and the watcher would not see it terminated. Past
	 * BLF_LSUB_WAIT_US it is merged. */
	for(k = 0;; k++) {
		int busy = 0;
		ls = blf_ls_copy_head(ttag, &busy);
		if(ls == NULL)
			return NULL;
		if(!st || !busy || k >= BLF_LSUB_WAIT_US / 50)
			break;
		free(ls);
		usleep(50);
	}
	memset(&fr, 0, sizeof(fr));
	blf_slot_lock(ls->lhash);
	s = blf_table_sub_find(ls->lhash, &BLF_LS(ls, ls->callid),
			&BLF_LS(ls, ls->ftag), &BLF_LS(ls, ls->ttag), &e, NULL);
	/* a member's change its package does not depend on: nothing to send
	 * (its snapshot was not taken) */
	if(s && st && (s->pkg >= BLF_PKG_MAX || st->sn[s->pkg] == NULL))
		s = NULL;
	if(s && (s->flags & BLF_SUB_LIST) && !s->owner) {
		/* read by blf_lsub_snap: the mode, or what is owed to the
		 * list's sender when it is sending */
		memset(&blf_lreq, 0, sizeof(blf_lreq));
		blf_lreq.on = 1;
		blf_lreq.mode = mode;
		blf_lreq.mkey = mkey;
		blf_lreq.sn = st ? st->sn : NULL;
		blf_lreq.mseq = st ? st->seq : 0;
		j = blf_sub_job(e, s, &fr, NULL, 0, NULL, time(NULL));
		memset(&blf_lreq, 0, sizeof(blf_lreq));
	}
	blf_slot_unlock(ls->lhash);
	blf_frags_free(&fr);
	free(ls);
	return j;
}

/* a member entity changed: a partial NOTIFY to each list showing it */
static void blf_lsub_member_changed(
		const str *key, blf_lstash_t *st, blf_notify_job_t ***tail)
{
	unsigned int kh = blf_key_hash(key);
	char *tags, *p;
	blf_notify_job_t *j;
	str t;
	int n, i;

	tags = blf_lref_find(key, kh, &n);
	for(i = 0, p = tags; i < n; i++) {
		t.s = p;
		t.len = (int)strlen(p);
		p += t.len + 1;
		j = blf_lsub_job(&t, BLF_LMODE_MEMBER, key, st);
		if(j) {
			**tail = j;
			while(j->next)
				j = j->next;
			*tail = &j->next;
		}
	}
	free(tags);
}

/*
 * What watcher may see of member entity changed (a new visibility answer,
 * visibility_url): the list subscriptions of that watcher showing entity
 * get a partial NOTIFY of that member, rendered with the new visibility
 * (blf_lsub_member_vis). For P4's blf_viscache_set_list_hook().
 */
void blf_lsub_vis_changed(const str *entity, const str *watcher)
{
	blf_notify_job_t *jobs = NULL, **tail = &jobs, *j;
	unsigned int kh;
	char *tags, *p;
	blf_ls_t *ls;
	str t;
	int n, i, mine;

	if(blf_lstab == NULL)
		return;
	kh = blf_key_hash(entity);
	tags = blf_lref_find(entity, kh, &n);
	for(i = 0, p = tags; i < n; i++) {
		t.s = p;
		t.len = (int)strlen(p);
		p += t.len + 1;
		ls = blf_ls_copy(&t);
		mine = ls && STR_EQ(BLF_LS(ls, ls->watcher), *watcher);
		free(ls);
		if(!mine || (j = blf_lsub_job(&t, BLF_LMODE_MEMBER, entity, NULL))
							== NULL)
			continue;
		*tail = j;
		while(j->next)
			j = j->next;
		tail = &j->next;
	}
	free(tags);
	if(jobs)
		blf_chg_send(jobs);
}

static void blf_lsub_chg(blf_chg_batch_t *b, void *param)
{
	blf_notify_job_t *jobs = NULL, **tail = &jobs;
	blf_chg_t *g = NULL;
	blf_lstash_t *st;
	int i, n, k;

	/* the member entities that changed (their snapshots were taken at the
	 * change: blf_lsub_entity_hook), each once per batch */
	n = blf_nlstash;
	blf_nlstash = 0;
	for(i = 0; i < n; i++) {
		str key;
		st = &blf_lstash[i];
		key.s = st->key;
		key.len = (int)strlen(st->key);
		for(k = 0; k < i; k++)
			if(strcmp(blf_lstash[k].key, st->key) == 0)
				break;
		if(k == i) {
			/* the newest snapshot of that entity in this batch */
			for(k = n - 1; k > i; k--)
				if(strcmp(blf_lstash[k].key, st->key) == 0)
					break;
			blf_lsub_member_changed(&key, &blf_lstash[k], &tail);
		}
	}
	for(i = 0; i < n; i++)
		for(k = 0; k < BLF_PKG_MAX; k++)
			blf_snap_put(blf_lstash[i].sn[k]);
	while((g = blf_chg_next(b, g, BLF_CHG_SUB_DEL | BLF_CHG_SUB_GONE))) {
		if(g->sub && (g->sub->flags & BLF_SUB_LIST)) {
			str t = BLF_SF(g->sub, BLF_SF_TTAG);
			blf_lsub_del(&t);
		}
	}
	if(jobs)
		blf_chg_send(jobs);
}

/*
 * A new answer about list key (the HTTP process): each live subscription
 * of it whose members differ gets the new set (added members new,
 * versions 0; removed ones sent once as terminated, then dropped) and a
 * NOTIFY with what changed.
 */
static struct blf_lpend *blf_lpend; /* below */
static void blf_lsub_restore_pending(const str *key);

/* a plain subscription of ours made before its list answer came
 * (BLF_SUB_LISTQ) */
static int blf_lsub_was_listq(const blf_sub_t *s, const void *arg)
{
	return (s->flags & BLF_SUB_LISTQ) && !s->owner
		   && !(s->flags & (BLF_SUB_LIST | BLF_SUB_WILDCARD));
}

int blf_lsub_plain_ended(const str *key)
{
	int n = blf_entity_end_subs(key, blf_lsub_was_listq, NULL, "deactivated");

	if(n)
		LM_INFO("%.*s is a list: %d subscription(s) made before the list "
				"service answered ended (deactivated: they subscribe "
				"again and get the list)\n",
				key->len, key->s, n);
	return n;
}

static void blf_lsub_list_changed(const str *key)
{
	blf_list_copy_t *l = NULL;
	char *tags = NULL, *keys = NULL;
	size_t tsz = 0, tlen = 0;
	blf_ls_t *ls;
	unsigned int i;
	int k;

	if(blf_lpend) /* the HTTP process: states waiting for this answer */
		blf_lsub_restore_pending(key);
	if(blf_list_get(key, 0, &l) != 1)
		return;
	blf_lsub_plain_ended(key);
	/* the subscriptions of this list (our tags) */
	for(i = 0; i < BLF_LSUB_SLOTS; i++) {
		lock_set_get(blf_lstab->locks, i);
		for(ls = blf_lstab->slots[i]; ls; ls = ls->next) {
			str t = BLF_LS(ls, ls->ttag);
			if(!STR_EQ(BLF_LS(ls, ls->lkey), *key))
				continue;
			if(tlen + t.len + 1 > tsz) {
				char *nt = realloc(tags, tsz * 2 + t.len + 64);
				if(nt == NULL)
					continue;
				tags = nt;
				tsz = tsz * 2 + t.len + 64;
			}
			memcpy(tags + tlen, t.s, t.len + 1);
			tlen += t.len + 1;
		}
		lock_set_release(blf_lstab->locks, i);
	}
	keys = malloc((size_t)(l->n + 1) * BLF_KEY_MAX);
	if(keys == NULL)
		goto out;
	for(k = 0; k < l->n; k++)
		if(blf_member_key(l->m[k].uri, keys + (size_t)k * BLF_KEY_MAX,
				   BLF_KEY_MAX)
				< 0)
			keys[(size_t)k * BLF_KEY_MAX] = '\0';
	for(i = 0; i < tlen;) {
		str t = {tags + i, (int)strlen(tags + i)};
		unsigned int th = blf_lhash(&t);
		blf_ls_t *cur, **pp, *nls = NULL, *oldc = NULL;
		blf_lmin_t *m = NULL;
		blf_lmem_t *om;
		int j, nm = 0, same, changed = 0;

		i += t.len + 1;
		lock_set_get(blf_lstab->locks, blf_lidx(th));
		cur = blf_ls_find(&t, th, &pp);
		if(cur == NULL
				|| (m = calloc((size_t)(cur->n + l->n + 1), sizeof(*m)))
						   == NULL) {
			lock_set_release(blf_lstab->locks, blf_lidx(th));
			continue;
		}
		om = BLF_LS_M(cur);
		/* the new members in the service's order, with what they had */
		for(k = 0; k < l->n; k++) {
			char *kb = keys + (size_t)k * BLF_KEY_MAX;
			if(kb[0] == '\0')
				continue;
			m[nm].uri = l->m[k].uri;
			m[nm].name = l->m[k].name;
			m[nm].key = kb;
			m[nm].flags = BLF_LM_ADDED;
			for(j = 0; j < cur->n; j++) {
				if(strcmp(BLF_LS(cur, om[j].uri).s, l->m[k].uri) != 0)
					continue;
				if(om[j].flags & (BLF_LM_GONE | BLF_LM_REMOVED)) {
					m[nm].gen = om[j].gen + 1; /* a new instance */
					break;
				}
				m[nm].gen = om[j].gen;
				m[nm].version = om[j].version;
				m[nm].seq = om[j].seq;
				m[nm].flags = om[j].flags & (BLF_LM_ADDED | BLF_LM_OWED);
				break;
			}
			if(m[nm].flags & BLF_LM_ADDED)
				changed = 1;
			nm++;
		}
		/* the old ones no longer there: removed (sent once) */
		for(j = 0; j < cur->n; j++) {
			if(om[j].flags & BLF_LM_GONE)
				continue;
			same = 0;
			for(k = 0; k < nm && !same; k++)
				same = strcmp(m[k].uri, BLF_LS(cur, om[j].uri).s) == 0;
			if(same)
				continue;
			m[nm].uri = BLF_LS(cur, om[j].uri).s;
			m[nm].name = BLF_LS(cur, om[j].name).s;
			m[nm].key = BLF_LS(cur, om[j].key).s;
			m[nm].gen = om[j].gen;
			m[nm].version = om[j].version;
			m[nm].flags = BLF_LM_REMOVED;
			nm++;
			changed = 1;
		}
		if(changed) {
			nls = blf_ls_build(&BLF_LS(cur, cur->callid),
					&BLF_LS(cur, cur->ftag), &BLF_LS(cur, cur->ttag),
					&BLF_LS(cur, cur->lkey), cur->lhash,
					&BLF_LS(cur, cur->luri), &BLF_LS(cur, cur->watcher),
					l->name, m, nm);
			if(nls) {
				memcpy(nls->secret, cur->secret, sizeof(nls->secret));
				/* its sender and what is owed stay */
				nls->sending = cur->sending;
				nls->token = cur->token;
				nls->since = cur->since;
				nls->pid = cur->pid;
				nls->owed = cur->owed;
				nls->born = cur->born;
				nls->mat = cur->mat;
				nls->next = cur->next;
				*pp = nls;
				oldc = cur;
			}
		}
		lock_set_release(blf_lstab->locks, blf_lidx(th));
		free(m);
		if(oldc == NULL)
			continue;
		/* the reverse index follows: refs of the old set out, new in */
		om = BLF_LS_M(oldc);
		for(j = 0; j < oldc->n; j++)
			if(!(om[j].flags & BLF_LM_GONE))
				blf_lref_del(&BLF_LS(oldc, om[j].key), om[j].khash, &t);
		shm_free(oldc);
		{
			blf_ls_t *c = blf_ls_copy(&t);
			blf_lmem_t *cm;
			blf_notify_job_t *jb;
			if(c) {
				cm = BLF_LS_M(c);
				for(j = 0; j < c->n; j++)
					if(!(cm[j].flags & (BLF_LM_GONE | BLF_LM_REMOVED)))
						blf_lref_add(&BLF_LS(c, cm[j].key), cm[j].khash, &t);
				free(c);
			}
			LM_INFO("list %.*s: members changed, subscription %.*s "
					"notified\n",
					key->len, key->s, t.len, t.s);
			jb = blf_lsub_job(&t, BLF_LMODE_LIST, NULL, NULL);
			if(jb)
				blf_chg_send(jb);
		}
	}
out:
	free(keys);
	free(tags);
	free(l);
}

/*
 * List subscriptions restored from the database or replicated by the
 * cluster carry BLF_SUB_LIST but no list state here: the HTTP process
 * finds them (a walk of the table at its first sweeps, then once a
 * minute), asks for their list, and rebuilds their state when the answer
 * is there. The secret is derived (blf_lsub_secret), so the instance ids
 * stay; each member's body versions resume at the subscription's RLMI
 * version, which no earlier NOTIFY of that member can have reached
 * (versions keep rising; one may be skipped).
 */
typedef struct blf_lpend {
	struct blf_lpend *next;
	int tries;
	unsigned int lhash, version;
	str callid, ftag, ttag, key, uri, watcher;
} blf_lpend_t;

static blf_lpend_t *blf_lpend = NULL; /* the HTTP process's */

static int blf_lsub_find_restored(blf_entity_t *e, void *arg)
{
	blf_sub_t *s;
	blf_lpend_t *p, **head = arg;
	str f[6];
	size_t sz;
	char *c;
	int i;

	for(s = e->subs; s; s = s->next) {
		/* ours only: a replica gets its state when it is taken over */
		if(!(s->flags & BLF_SUB_LIST) || s->owner)
			continue;
		f[0] = BLF_SF(s, BLF_SF_CALLID);
		f[1] = BLF_SF(s, BLF_SF_FTAG);
		f[2] = BLF_SF(s, BLF_SF_TTAG);
		f[3] = e->key;
		f[4] = BLF_SF(s, BLF_SF_URI);
		f[5] = BLF_SF(s, BLF_SF_WATCHER);
		for(sz = sizeof(*p), i = 0; i < 6; i++)
			sz += f[i].len + 1;
		p = calloc(1, sz);
		if(p == NULL)
			return 0;
		p->lhash = e->hash;
		p->version = s->version;
		c = (char *)(p + 1);
		for(i = 0; i < 6; i++) {
			str *d = i == 0   ? &p->callid
					 : i == 1 ? &p->ftag
					 : i == 2 ? &p->ttag
					 : i == 3 ? &p->key
					 : i == 4 ? &p->uri
							  : &p->watcher;
			d->s = c;
			d->len = f[i].len;
			memcpy(c, f[i].s, f[i].len);
			c[f[i].len] = '\0';
			c += f[i].len + 1;
		}
		p->next = *head;
		*head = p;
	}
	return 0;
}

/* 1 when a member of the list subscription of tag ttag has calls */
static int blf_lsub_any_busy(const str *ttag)
{
	blf_ls_t *ls = blf_ls_copy(ttag);
	blf_lmem_t *lm;
	blf_entity_t *e;
	int i, busy = 0;

	if(ls == NULL)
		return 0;
	lm = BLF_LS_M(ls);
	for(i = 0; i < ls->n && !busy; i++) {
		blf_slot_lock(lm[i].khash);
		e = blf_entity_find(lm[i].khash, &BLF_LS(ls, lm[i].key));
		busy = e && e->ncalls > 0;
		blf_slot_unlock(lm[i].khash);
	}
	free(ls);
	return busy;
}

/* rebuilds the pending states of list key (all lists: key NULL) whose
 * answer is there; each gets a NOTIFY of its members with calls (they may
 * have changed before the state was back) */
static void blf_lsub_restore_pending(const str *key)
{
	blf_lpend_t *p, **pp;
	blf_list_copy_t *l;
	blf_notify_job_t *j;

	for(pp = &blf_lpend; (p = *pp);) {
		if(key && !STR_EQ(p->key, *key)) {
			pp = &p->next;
			continue;
		}
		l = NULL;
		if(blf_list_get(&p->key, 0, &l) == 1) {
			blf_lsub_add_v(&p->callid, &p->ftag, &p->ttag, &p->key,
					p->lhash, &p->uri, &p->watcher, l, p->version, 1);
			LM_INFO("list subscription %.*s of %.*s: state rebuilt "
					"(restored or taken over)\n",
					p->callid.len, p->callid.s, p->key.len, p->key.s);
			if(blf_lsub_any_busy(&p->ttag)
					&& (j = blf_lsub_job(&p->ttag, BLF_LMODE_BUSY, NULL, NULL)))
				blf_chg_send(j);
		} else if(++p->tries < 120) {
			pp = &p->next;
			continue;
		}
		free(l);
		*pp = p->next;
		free(p);
	}
}

/*
 * List states whose subscription is gone without an end noted here (a
 * replica deleted, a subscription ended while its state was being
 * rebuilt): dropped when older than a minute and not among live (the list
 * subscriptions of ours the walk just found).
 */
static void blf_lsub_orphans(const blf_lpend_t *live)
{
	char *tags = NULL, *p;
	size_t sz = 0, len = 0;
	const blf_lpend_t *q;
	blf_ls_t *ls;
	time_t now = time(NULL);
	unsigned int i;

	for(i = 0; i < BLF_LSUB_SLOTS; i++) {
		if(blf_lstab->slots[i] == NULL)
			continue;
		lock_set_get(blf_lstab->locks, i);
		for(ls = blf_lstab->slots[i]; ls; ls = ls->next) {
			str t = BLF_LS(ls, ls->ttag);
			if(now - ls->born < 60)
				continue;
			for(q = live; q && !STR_EQ(q->ttag, t); q = q->next)
				;
			if(q)
				continue;
			if(len + t.len + 1 > sz) {
				char *nt = realloc(tags, sz * 2 + t.len + 64);
				if(nt == NULL)
					continue;
				tags = nt;
				sz = sz * 2 + t.len + 64;
			}
			memcpy(tags + len, t.s, t.len + 1);
			len += t.len + 1;
		}
		lock_set_release(blf_lstab->locks, i);
	}
	for(p = tags; p && p < tags + len; p += strlen(p) + 1) {
		str t = {p, (int)strlen(p)};
		LM_INFO("list state of subscription tag %.*s dropped: no such "
				"subscription here\n",
				t.len, t.s);
		blf_lsub_del(&t);
	}
	free(tags);
}

/* the tags of every list subscription in the table, ours or not */
typedef struct blf_ltags {
	char *s;
	size_t len, size;
} blf_ltags_t;

static int blf_lmv_live_each(blf_entity_t *e, void *arg)
{
	blf_ltags_t *t = arg;
	blf_sub_t *s;

	for(s = e->subs; s; s = s->next) {
		str g = BLF_SF(s, BLF_SF_TTAG);
		if(!(s->flags & BLF_SUB_LIST))
			continue;
		if(t->len + g.len + 1 > t->size) {
			char *n = realloc(t->s, t->size * 2 + g.len + 64);
			if(n == NULL)
				return 1;
			t->s = n;
			t->size = t->size * 2 + g.len + 64;
		}
		memcpy(t->s + t->len, g.s, g.len);
		t->s[t->len + g.len] = '\0';
		t->len += g.len + 1;
	}
	return 0;
}

/* kept member versions whose subscription is gone (a replica deleted, a
 * row that expired before its list answered): dropped after a minute */
static void blf_lmv_sweep(void)
{
	blf_ltags_t live = {NULL, 0, 0};
	char *gone = NULL, *p;
	size_t gsz = 0, glen = 0;
	time_t now = time(NULL);
	blf_lmv_t *v;
	unsigned int i;

	if(blf_lmvtab == NULL)
		return;
	for(i = 0; i < blf_table_slots(); i++)
		if(!blf_table_slot_empty(i)
				&& blf_table_slot_each(i, blf_lmv_live_each, &live) != 0)
			goto out; /* no memory: none is dropped */
	for(i = 0; i < BLF_LSUB_SLOTS; i++) {
		if(blf_lmvtab->slots[i] == NULL)
			continue;
		lock_set_get(blf_lmvtab->locks, i);
		for(v = blf_lmvtab->slots[i]; v; v = v->next) {
			int found = 0;
			if(now - v->born < 60)
				continue;
			for(p = live.s; p && p < live.s + live.len && !found;
					p += strlen(p) + 1)
				found = (int)strlen(p) == v->ttag.len
						&& memcmp(p, v->ttag.s, v->ttag.len) == 0;
			if(found)
				continue;
			if(glen + v->ttag.len + 1 > gsz) {
				char *n = realloc(gone, gsz * 2 + v->ttag.len + 64);
				if(n == NULL)
					continue;
				gone = n;
				gsz = gsz * 2 + v->ttag.len + 64;
			}
			memcpy(gone + glen, v->ttag.s, v->ttag.len + 1);
			glen += v->ttag.len + 1;
		}
		lock_set_release(blf_lmvtab->locks, i);
	}
	for(p = gone; p && p < gone + glen; p += strlen(p) + 1) {
		str t = {p, (int)strlen(p)};
		blf_lmv_drop(&t);
	}
out:
	free(gone);
	free(live.s);
}

static void blf_lsub_restore(void)
{
	static unsigned int sweeps = 0;
	blf_lpend_t *found = NULL, *p;
	blf_ls_t *ls;
	unsigned int i;

	sweeps++;
	if(sweeps <= 3 || sweeps % 60 == 0) {
		for(i = 0; i < blf_table_slots(); i++)
			if(!blf_table_slot_empty(i))
				blf_table_slot_each(i, blf_lsub_find_restored, &found);
		blf_lsub_orphans(found);
		blf_lmv_sweep();
		while((p = found)) {
			blf_lpend_t *q;
			found = p->next;
			ls = blf_ls_copy(&p->ttag);
			for(q = blf_lpend; q && !STR_EQ(q->ttag, p->ttag); q = q->next)
				;
			if(ls || q) {
				free(ls);
				free(p);
				continue;
			}
			p->next = blf_lpend;
			blf_lpend = p;
		}
	}
	blf_lsub_restore_pending(NULL);
}

/* the HTTP process, once a second: the lists live subscriptions use are
 * asked again when their answer is gone or past its TTL */
static void blf_lsub_sweep(void)
{
	char *keys = NULL, *p;
	/* the subscriptions owed a NOTIFY with no sender (a failed send, a
	 * sender that stopped at BLF_LSUB_ROUNDS); more wait a second */
	char owed[4096];
	size_t sz = 0, len = 0, olen = 0;
	time_t now = time(NULL);
	blf_list_copy_t *l;
	blf_ls_t *ls;
	unsigned int i;

	if(blf_lstab == NULL)
		return;
	blf_lend_sweep(now);
	blf_lsub_restore();
	for(i = 0; i < BLF_LSUB_SLOTS; i++) {
		if(blf_lstab->slots[i] == NULL)
			continue;
		lock_set_get(blf_lstab->locks, i);
		for(ls = blf_lstab->slots[i]; ls; ls = ls->next) {
			str k = BLF_LS(ls, ls->lkey);
			str t = BLF_LS(ls, ls->ttag);
			if(ls->sending && now - ls->since > BLF_LSUB_STUCK) {
				/* its sender died with the mark (or lost its job) */
				LM_NOTICE("list subscription %.*s: sending mark of %d s "
						  "taken back\n",
						t.len, t.s, (int)(now - ls->since));
				ls->sending = 0;
			}
			if(!ls->sending && ls->owed && olen + t.len + 1 <= sizeof(owed)) {
				/* owed and no sender left to send it */
				memcpy(owed + olen, t.s, t.len + 1);
				olen += t.len + 1;
			}
			if(len + k.len + 1 > sz) {
				char *nk = realloc(keys, sz * 2 + k.len + 64);
				if(nk == NULL)
					continue;
				keys = nk;
				sz = sz * 2 + k.len + 64;
			}
			memcpy(keys + len, k.s, k.len + 1);
			len += k.len + 1;
		}
		lock_set_release(blf_lstab->locks, i);
	}
	for(p = keys; p && p < keys + len; p += strlen(p) + 1) {
		str k = {p, (int)strlen(p)};
		l = NULL;
		blf_list_get(&k, 0, &l); /* asks when missing or stale */
		free(l);
	}
	free(keys);
	for(p = owed; p < owed + olen; p += strlen(p) + 1) {
		str t = {p, (int)strlen(p)};
		blf_notify_job_t *j = blf_lsub_job(&t, BLF_LMODE_PARTIAL, NULL, NULL);
		if(j)
			blf_chg_send(j);
	}
}

int blf_lsub_init(int (*ask)(const str *key))
{
	int i;

	if(!blf_list_enabled())
		return 0;
	blf_lstab = blf_lhtab_new();
	blf_lrev = blf_lhtab_new();
	blf_lend = blf_lhtab_new();
	blf_lseq = shm_malloc(sizeof(*blf_lseq));
	if(blf_lstab == NULL || blf_lrev == NULL || blf_lend == NULL
			|| blf_lseq == NULL)
		return -1;
	atomic_set(blf_lseq, 0);
	/* one list package per real one, same Event name */
	for(i = 0; i < BLF_PKG_MAX; i++) {
		const blf_pkg_t *p = blf_pkg_get(i);
		if(p == NULL)
			continue;
		blf_lpkgs[i] = *p;
		blf_lpkgs[i].ctype = "multipart/related";
		blf_lpkgs[i].snapshot = NULL;
		blf_lpkgs[i].body = blf_lsub_body;
		blf_lpkgs[i].snap_free = blf_lsnap_free;
		blf_lpkgs[i].ctype_of = blf_lsub_ctype;
		blf_lpkgs[i].hdrs = "Require: eventlist\r\n";
		blf_lpkgs[i].more = blf_lsub_more;
	}
	blf_sub_set_list_snap(blf_lsub_snap);
	blf_entity_set_list_hook(blf_lsub_entity_hook);
	blf_list_set_hooks(&(blf_list_hooks_t){.ask = ask,
			.changed = blf_lsub_list_changed,
			.sweep = blf_lsub_sweep});
	/* every batch after blf_lsub_entity_hook took snapshots, and ends */
	if(blf_chg_listen(BLF_CHG_POKE | BLF_CHG_SUB_DEL | BLF_CHG_SUB_GONE,
			   blf_lsub_chg, NULL)
			< 0)
		return -1;
	return blf_list_rpc_init();
}

void blf_lsub_destroy(void)
{
	/* shm goes with the process tree; nothing to write back */
}
