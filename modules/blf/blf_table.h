/*
 * blf_table.h — the entity table and the subscription records: the
 * records, the table's API (find, walk, lock, apply a change or a replica) and the
 * NOTIFY jobs copied out of it. The table calls nothing above it: what
 * changed goes to the listeners of blf_chg.h.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_TABLE_H
#define BLF_TABLE_H

#include "blf_cfg.h"
#include "blf_wcount.h"
#include "blf_pkg.h"
#include "blf_cdigest.h"

/* ---- calls, as seen by one entity ---- */
enum blf_call_field {
	BLF_CF_CALLID = 0,
	BLF_CF_LTAG,	/* this entity's tag */
	BLF_CF_RTAG,	/* the peer's tag */
	BLF_CF_LURI,	/* identity of this entity */
	BLF_CF_LDISP,
	BLF_CF_LTARGET, /* Contact of this entity's UA */
	BLF_CF_RURI,	/* identity of the peer */
	BLF_CF_RDISP,
	BLF_CF_RTARGET,
	BLF_CF_N
};

/* one visible change of a call, as replicated to the cluster */
typedef struct blf_hist {
	unsigned short seq;
	unsigned char state;
	unsigned char term;
	short code;
} blf_hist_t;

#define BLF_CALL_ID_LEN 16 /* hex digits of a dialog id (of a SHA-256) */
#define BLF_CALL_HIST 6 /* a call shows at most 5 states; one to spare */

typedef struct blf_call {
	struct blf_call *next;
	blf_dir_t dir;
	blf_dstate_t st;
	unsigned short seq;	  /* changes at its origin, orders replicas */
	unsigned char origin; /* cluster node that tracks it, 0: this one */
	unsigned char nhist;  /* its last changes (local calls), oldest first: */
	blf_hist_t hist[BLF_CALL_HIST]; /* replicas carry them all, so a node
									 * that gets them out of order still
									 * shows every state in turn */
	time_t start;
	unsigned int gen; /* a replica: its origin's incarnation that sent it */
	char id[20];		  /* RFC 4235 dialog id, unique within the entity:
						   * BLF_CALL_ID_LEN hex digits */
	str f[BLF_CF_N];	  /* strings, stored in the same shm block */
} blf_call_t;

/* which state of these calls a NOTIFY showed, the same on every cluster
 * node (blf_cdigest.h); never 0 */
static inline unsigned int blf_calls_digest(
		const blf_call_t *calls, unsigned int ncalls)
{
	const blf_call_t *c;
	blf_cdigest_t d;
	unsigned int n = 0;

	blf_cdigest_init(&d);
	for(c = calls; c && n < ncalls; c = c->next, n++)
		blf_cdigest_add(&d, c->f[BLF_CF_CALLID].s,
				(size_t)c->f[BLF_CF_CALLID].len, c->f[BLF_CF_LURI].s,
				(size_t)c->f[BLF_CF_LURI].len, (unsigned int)c->dir,
				(unsigned int)c->st.state, (unsigned int)c->st.term,
				(unsigned int)c->st.code);
	return blf_cdigest_end(&d);
}

/* a field update for blf_entity_call_event(): f[i].s == NULL keeps it */
typedef struct blf_call_upd {
	str f[BLF_CF_N];
} blf_call_upd_t;

/* ---- subscriptions ---- */
enum blf_sub_field {
	BLF_SF_CALLID = 0,
	BLF_SF_FTAG,	/* watcher's tag (From) */
	BLF_SF_TTAG,	/* our tag (To), encodes the entity hash */
	BLF_SF_WATCHER, /* watcher user@host (alias-resolved) */
	BLF_SF_WURI,	/* watcher's From URI, as sent */
	BLF_SF_URI,		/* the URI subscribed to, sip:user@host as asked */
	BLF_SF_ENTITY_ESC, /* that URI XML-escaped, for entity="" */
	BLF_SF_CONTACT, /* the watcher's remote target */
	BLF_SF_RR,		/* route set: Record-Route bodies, comma separated */
	BLF_SF_SOCKET,	/* local socket the SUBSCRIBE came over, proto:ip:port */
	BLF_SF_LCONTACT, /* our Contact */
	BLF_SF_EVID,	/* Event id parameter, may be empty */
	BLF_SF_DST,		/* stream transports: where the SUBSCRIBE came from
					 * (sip:ip:port;transport=tcp), so NOTIFYs reuse its
					 * connection; empty for UDP */
	BLF_SF_N
};

#define BLF_SUB_WILDCARD (1 << 0) /* any-dn: describes other entities */
#define BLF_SUB_DIRTY (1 << 1)	  /* changed since last written to the DB */
#define BLF_SUB_OWED (1 << 2) /* a NOTIFY was deferred: full state owed */
#define BLF_SUB_RESTORED (1 << 3) /* read from the database at start: in a
								   * cluster its NOTIFYs wait for the peers'
								   * takeover (blf_sub_restore_hold) */
/* a replica (or its change copy) whose owner took it over by the
 * watcher's refresh (wire "tk"): the former owner yields whatever the
 * versions, and answers with the version it sent last */
#define BLF_SUB_TAKEN (1 << 4)
/* ours, taken over by a refresh: its NOTIFY is owed until the former owner
 * tells its last version (blf_sub_takeover_hold), or BLF_VWAIT_MS passed
 * (sent_ms holds when the wait began) */
#define BLF_SUB_VWAIT (1 << 5)
#define BLF_VWAIT_MS 500
#define BLF_SUB_LIST (1 << 6) /* an RFC 4662 list subscription (blf_lsub.c):
							   * its NOTIFYs carry the list's package */
/* unsubscribed while waiting so (BLF_SUB_VWAIT): the owed NOTIFY is its
 * final one, then it goes (blf_sub_takeover_end) */
#define BLF_SUB_ENDING (1 << 7)
/* plain, made while the list service had not said yet whether its URI is
 * a list, for a watcher that takes lists (Supported: eventlist): when the
 * answer says it is one, it ends with reason=deactivated so the phone
 * subscribes again at once and gets the list (blf_lsub_plain_ended) */
#define BLF_SUB_LISTQ (1 << 8)

/*
 * A subscription: one shm block, this record then its strings (a million
 * of them on one node: every byte here is a megabyte there; 72 bytes on
 * 64-bit, 2 of them padding, none left for another field: see
 * bench/README.md "One million subscriptions").
 * Times are 32-bit seconds (unsigned: good until 2106), the socket and the
 * watcher counters small handles, and a string field is only its end: field
 * i runs from the end of field i - 1 (the record's end for field 0) to
 * end[i] - 1, where its NUL is. A wildcard subscription (BLF_SUB_WILDCARD,
 * fixed when the block is built) has a blf_sub_wx_t after its strings.
 */
typedef struct blf_sub {
	struct blf_sub *next;
	unsigned int expires; /* absolute (time(NULL) seconds) */
	unsigned int version; /* the next version to send */
	unsigned int cseq;	  /* the last local CSeq used */
	unsigned int sent_ms; /* notify_min_interval: when its last NOTIFY was
						   * made (blf_coalesce.h) */
	int wc[2]; /* its watcher and source counters (ours only, blf_wcount.c:
				* handles, 0: none); given back by blf_sub_free */
	unsigned short flags;
	unsigned short sock; /* where the SUBSCRIBE came in (NOTIFYs leave):
						  * blf_sub_sock(), 0: none (tm picks) */
	unsigned char vis;	 /* blf_vis_t */
	unsigned char owner; /* cluster node that NOTIFYs it, 0: this one */
	unsigned char pkg;	 /* its event package (blf_pkg_get), 0: dialog */
	unsigned char spare; /* keeps end[] 2-aligned */
	unsigned short end[BLF_SF_N]; /* where each string's NUL is + 1 */
	/* another node's (owner != 0): the digest (blf_calls_digest) of the
	 * calls its NOTIFY of version - 1 showed, as its version record said;
	 * 0: not known. What a takeover's replay starts after (blf_rhist.c) */
	unsigned int shown;
} blf_sub_t;

/* what only a wildcard subscription has, after its strings (4-aligned) */
typedef struct blf_sub_wx {
	unsigned int burst_at;	/* when its last burst was sent */
	unsigned int owed_from; /* BLF_SUB_OWED: the first table slot whose
							 * entities it is owed */
} blf_sub_wx_t;
/* owed_from of a wildcard subscription taken over by a refresh whose burst
 * waits for the former owner's version (blf_sub_takeover_hold) */
#define BLF_WX_BURST 0xffffffffu

static inline unsigned int blf_sf_off(const blf_sub_t *s, int i)
{
	return i ? s->end[i - 1] : (unsigned int)sizeof(blf_sub_t);
}

static inline int blf_sf_len(const blf_sub_t *s, int i)
{
	return (int)s->end[i] - (int)blf_sf_off(s, i) - 1;
}

/* field i of subscription s, as a str (an lvalue: &BLF_SF(s, i) is fine) */
#define BLF_SF(s, i) \
	((str){(char *)(s) + blf_sf_off((s), (i)), blf_sf_len((s), (i))})

#define BLF_SUB_WX_OFF(strend) (((strend) + 3u) & ~3u)

/* the wildcard part of s (BLF_SUB_WILDCARD only) */
static inline blf_sub_wx_t *blf_sub_wx(const blf_sub_t *s)
{
	return (blf_sub_wx_t *)((char *)s + BLF_SUB_WX_OFF(s->end[BLF_SF_N - 1]));
}

/* bytes of s's block: the record, its strings, a wildcard's part */
static inline size_t blf_sub_size(const blf_sub_t *s)
{
	return (s->flags & BLF_SUB_WILDCARD)
				   ? BLF_SUB_WX_OFF(s->end[BLF_SF_N - 1]) + sizeof(blf_sub_wx_t)
				   : (size_t)s->end[BLF_SF_N - 1];
}

/* ---- entities ---- */
#define BLF_ENT_PARK (1 << 0) /* a park orbit: exists while the list says so */
#define BLF_ENT_OWED (1 << 1)  /* a subscription of it is owed a NOTIFY */
#define BLF_ENT_WOWED (1 << 2) /* a wildcard watcher is owed its state: kept
								* (even idle) until wowed_until */
#define BLF_ENT_REGDUE (1 << 5) /* its contacts changed outside a SIP
								 * request (usrloc's timer, dmq_usrloc, RPC):
								 * the expiry timer sends the NOTIFYs
								 * (blf_entity_reg_due); ended contacts wait
								 * for it, inactive */

typedef struct blf_entity {
	struct blf_entity *next;
	unsigned int hash;
	unsigned short flags;
	signed char vis; /* its visibility policy from the alias service, -1 */
	str key;		  /* user@host, host lower-case */
	blf_call_t *calls;
	blf_sub_t *subs;
	unsigned int ncalls;
	unsigned int nsubs;
	time_t subs_due; /* no subscription expires before this (0: unknown),
					  * so the expiry timer skips the entity until then */
	struct blf_tomb *tombs; /* replicas recently ended here (cluster) */
	time_t wowed_until;		/* BLF_ENT_WOWED: kept for wildcard watchers
							 * until then */
	struct blf_contact *contacts; /* registered contacts (usrloc: blf_ul.c) */
	unsigned int ncontacts;
	struct blf_pub *pubs; /* published presence documents (blf_publish.c) */
	unsigned int npubs;
	/* the snapshot digest of the BLF_PKG_DEDUP package (presence) that
	 * every live local subscription of it not owed a NOTIFY got last;
	 * 0: not known (blf_subs_notify_dep, blf_sub_job_vis) */
	uint64_t pdig;
	/* its calls after each recent change, for a takeover's replay
	 * (cluster only, blf_rhist.c), oldest first */
	struct blf_rhist *rhist;
} blf_entity_t;

/*
 * A presence document published for an entity (RFC 3903, blf_publish.c):
 * one shm block, this record then the parsed document (blf_pidf.h's flat
 * block, position-independent) that doc points at. Kept on the entity,
 * newest first.
 */
typedef struct blf_pub {
	struct blf_pub *next;
	time_t expires;		  /* absolute */
	time_t modified;	  /* when its document was last set */
	unsigned char origin; /* cluster node that took it, 0: this one */
	char etag[24];		  /* BLF_PIDF_ETAG_LEN characters, NUL-terminated */
	struct blf_pidf_pub *doc; /* in the same block */
	char *body;				  /* the raw PUBLISH body, NUL-terminated, in
							   * the same block: what persistence and
							   * replication carry (reparsed there) */
	unsigned int body_len;
} blf_pub_t;

/*
 * A registered contact of an entity (usrloc, blf_ul.c -> blf_entity_reg.c):
 * one shm block, the record then its strings. A contact that ends stays,
 * inactive, only for the NOTIFY of that change (the reg package shows it
 * terminated once), then goes: every contact left on the list is active,
 * so ncontacts is what presence asks ("registered?").
 */
#define BLF_CONTACT_ID_LEN 16 /* hex digits of its id */
typedef struct blf_contact {
	struct blf_contact *next;
	time_t expires;		  /* absolute, 0: permanent */
	time_t since;		  /* when it was first seen */
	unsigned int cseq;	  /* of the REGISTER that last set it */
	unsigned char active; /* 0: ended, its last NOTIFY is being taken */
	unsigned char event;  /* blf_reginfo_event_t of its last change */
	char id[BLF_CONTACT_ID_LEN + 1]; /* stable: from usrloc's ruid */
	str uri;	/* the Contact URI */
	str callid; /* of the REGISTER */
	str ruid;	/* usrloc's unique id of the binding: matches updates */
	str q;		/* "0.5", empty: none */
} blf_contact_t;

/* what usrloc did to a contact (blf_entity_contact) */
typedef enum blf_ct_op
{
	BLF_CT_LOAD = 0, /* found at startup (already registered) */
	BLF_CT_INSERT,
	BLF_CT_UPDATE,
	BLF_CT_DELETE,
	BLF_CT_EXPIRE,
} blf_ct_op_t;

typedef struct blf_ct_upd {
	str ruid;
	str uri;
	str callid;
	str q;
	unsigned int cseq;
	time_t expires; /* absolute, 0: permanent */
} blf_ct_upd_t;

/* 1 when usrloc feeds registrations (blf_ul.c); 0: every entity counts as
 * registered (SPEC "Presence") */
extern int blf_ul_on;

/*
 * A cluster replica that ended: remembered for a while so that a replica of
 * an earlier state, delivered late by another DMQ worker, cannot bring a
 * call or a subscription back.
 */
#define BLF_TOMB_CALL 1
#define BLF_TOMB_SUB 2
typedef struct blf_tomb {
	struct blf_tomb *next;
	time_t until;
	unsigned int kh;	  /* hash of the record's key */
	unsigned short seq;	  /* calls: the sequence that ended it */
	unsigned char origin; /* calls: the node that tracked it */
	unsigned char kind;	  /* BLF_TOMB_CALL or BLF_TOMB_SUB */
} blf_tomb_t;

void blf_tombs_purge(blf_entity_t *e, time_t now);

typedef struct blf_slot {
	blf_entity_t *first;
	unsigned int due; /* the expiry timer skips the slot until then (a
					   * subscription's deadline, time(NULL) seconds); 0:
					   * it walks the slot at its next tick. Lowered under
					   * the slot lock (blf_slot_due, blf_slot_wake), set
					   * by the timer's walk (blf_expire.c) */
	unsigned int dirty; /* a subscription of the slot has BLF_SUB_DIRTY:
						 * the DB flush walks only such slots (blf_db.c) */
} blf_slot_t;

typedef struct blf_table {
	unsigned int size; /* power of two */
	gen_lock_set_t *locks;
	blf_slot_t *slots;
} blf_table_t;

extern blf_table_t *blf_table;

#define blf_slot_idx(h) ((h) & (blf_table->size - 1))
#define blf_slot_lock(h) lock_set_get(blf_table->locks, blf_slot_idx(h))
#define blf_slot_unlock(h) lock_set_release(blf_table->locks, blf_slot_idx(h))

/* the slot of hash h has work for the expiry timer at its next tick (an
 * owed NOTIFY, a tomb, an entity kept for wildcard watchers); its lock is
 * held */
static inline void blf_slot_wake(unsigned int h)
{
	blf_table->slots[blf_slot_idx(h)].due = 0;
}

/* a subscription of the slot of hash h got BLF_SUB_DIRTY; its lock is held */
static inline void blf_slot_dirty(unsigned int h)
{
	blf_table->slots[blf_slot_idx(h)].dirty = 1;
}

/* something in the slot of hash h is due at t; its lock is held */
static inline void blf_slot_due(unsigned int h, time_t t)
{
	blf_slot_t *sl = &blf_table->slots[blf_slot_idx(h)];

	if(sl->due && (t <= 0 || (time_t)sl->due > t))
		sl->due = t > 0 ? (unsigned int)t : 0;
}

/* a subscription of e got deadline exp (linked, refreshed or replaced) */
static inline void blf_entity_sub_due(blf_entity_t *e, time_t exp)
{
	if(e->subs_due == 0 || exp < e->subs_due)
		e->subs_due = exp;
	blf_slot_due(e->hash, exp);
}

/* ---- NOTIFY jobs: copied out under the slot lock, sent outside it ---- */
typedef struct blf_notify_job {
	struct blf_notify_job *next;
	unsigned int hash;	   /* entity holding the subscription */
	unsigned int version;
	unsigned int cseq;	   /* the CSeq to put in the NOTIFY */
	int terminated;		   /* Subscription-State: terminated */
	const char *reason;	   /* its reason */
	unsigned int expires;  /* active;expires= */
	const blf_pkg_t *pkg;  /* its event package */
	blf_snap_t *snap;	   /* the change's content (a reference held) */
	blf_vis_t vis;		   /* what the watcher may see of it */
	str entity_esc;		   /* owned by the job block */
	struct socket_info *sock;
	unsigned int inflight; /* its place in blf_inflight.c, 0: none */
	str f[BLF_SF_N];	   /* copies of the subscription's fields */
} blf_notify_job_t;

/* blf_frags_t (the snapshots one change shares): blf_pkg.h */

/* blf_entity.c */
int blf_table_init(unsigned int size);
/* at init: where a new entity's visibility policy comes from (-1: none) */
void blf_table_set_policy(int (*fn)(const str *key));
/* at init: the per-watcher visibility lookup (blf_vis_lookup; NULL: none) */
void blf_table_set_watcher_vis(
		int (*fn)(const str *entity, const str *watcher, blf_vis_t *vis));
/* walking the table, slot by slot (indexes 0 .. blf_table_slots() - 1);
 * lock one slot with blf_slot_lock(i), two with blf_slots_lock2(i, h) */
typedef int (*blf_entity_each_f)(blf_entity_t *e, void *arg);
unsigned int blf_table_slots(void);
int blf_table_slot_empty(unsigned int i); /* racy: only to skip cheaply */
int blf_slot_each(unsigned int i, blf_entity_each_f fn, void *arg);
int blf_table_slot_each(unsigned int i, blf_entity_each_f fn, void *arg);
blf_sub_t *blf_table_sub_find(unsigned int hash, const str *callid,
		const str *ftag, const str *ttag, blf_entity_t **pe, blf_sub_t ***pps);
/* blf_wildcard.c: the NOTIFYs of one wildcard subscription (subscribed on
 * wkey) about its domain, slot by slot from slot from: its first burst
 * (owed 0: entities with a call or a park orbit), or what it is owed
 * (owed 1: also the entities kept for it; stops at a deferral, resumed
 * there by the timer). Returns the NOTIFYs sent, -1 when it is gone. */
int blf_wildcard_walk(const str *wkey, const str *callid, const str *ftag,
		const str *ttag, unsigned int from, int owed);
void blf_table_destroy(void);
unsigned int blf_key_hash(const str *key);
int blf_key_from_uri(const str *uri, char *buf, int size, str *key);
int blf_entity_uri_esc(blf_entity_t *e, char *buf, int size, str *out);
void blf_slots_lock2(unsigned int h1, unsigned int h2);
void blf_slots_unlock2(unsigned int h1, unsigned int h2);
void blf_slots_lockn(unsigned int *h, int n);
void blf_slots_unlockn(unsigned int *h, int n);
int blf_entity_park_set(
		const str *key, int exists, const blf_call_upd_t *call);
int blf_entity_call_tags(const str *key, const str *callid, char *ltag,
		int lsize, char *rtag, int rsize);
int blf_entity_move_calls(const str *from, const str *to);
void blf_entity_set_policy(const str *key, blf_vis_t vis);
int blf_wildcard_vis(const blf_entity_t *e, const blf_sub_t *s, blf_vis_t *vis);
blf_call_t *blf_call_find(
		blf_entity_t *e, const str *callid, blf_dir_t dir, blf_call_t ***prev);
blf_call_t *blf_call_build(const blf_call_t *old, const blf_call_upd_t *upd);
void blf_call_set_id(blf_call_t *c);
void blf_call_hist_add(blf_call_t *c);
void blf_entity_jobs(
		blf_entity_t *e, blf_frags_t *fr, blf_notify_job_t **jobs, time_t now);
/* the same for a change that a replica of node origin made (0: here; the
 * takeover's replay history notes who relays its versions, blf_rhist.c) */
void blf_entity_jobs_from(blf_entity_t *e, blf_frags_t *fr,
		blf_notify_job_t **jobs, time_t now, int origin);
/* at init: called by blf_entity_jobs (deps BLF_DEP_CALLS) and
 * blf_entity_changed under e's slot lock on every change of e (blf_lsub.c:
 * the snapshots its list subscriptions need; copies only) */
void blf_entity_set_list_hook(
		void (*fn)(blf_entity_t *e, unsigned int deps, blf_frags_t *fr));
unsigned int blf_wildcard_hash(
		const str *key, char *buf, int size, str *wkey, unsigned int hash);
int blf_wildcard_jobs(blf_entity_t *w, blf_entity_t *e, blf_frags_t *fr,
		blf_notify_job_t **jobs, time_t now);
blf_entity_t *blf_entity_find(unsigned int hash, const str *key);
blf_entity_t *blf_entity_get(unsigned int hash, const str *key);
void blf_entity_gc(unsigned int hash, blf_entity_t *e);
/* ends the subscriptions of entity key that match() takes, each with a
 * final NOTIFY (Subscription-State: terminated;reason=reason) sent after
 * the slot lock; how many */
int blf_entity_end_subs(const str *key,
		int (*match)(const blf_sub_t *s, const void *arg), const void *arg,
		const char *reason);
void blf_entity_drop_terminated(blf_entity_t *e);
int blf_entity_call_event(const str *key, const str *callid, blf_dir_t dir,
		blf_event_t ev, int code, const blf_call_upd_t *upd);

/* blf_entity_repl.c: what another node's replicas do to the table (the
 * decoded, checked values of blf_dmq.c's messages) */
void blf_entity_call_replica(const str *key, const blf_call_upd_t *upd,
		int dir, int origin, unsigned int gen, time_t start, int seq,
		blf_dstate_t st);
void blf_entity_call_replica_move(const str *from, const str *to,
		const str *callid, int dir, int seq, int origin);
/* ends the calls of node dead at key; keep != 0: not those its
 * incarnation keep sent (a restarted node's new calls stay) */
void blf_entity_end_node_calls(const str *key, int dead, unsigned int keep);
/* held calls of a dead node (blf_adopt.c): each() copies the calls of
 * node dead at key under the slot lock; adopt applies an event seen here
 * and makes the call ours (-1: not held); orphan_end ends it at the
 * hold's end (1: ended) */
int blf_entity_node_calls_each(const str *key, int dead, unsigned int keep,
		void (*each)(const str *key, const blf_call_t *c, void *arg),
		void *arg);
int blf_entity_peer_call(const str *key, const str *callid, int dir,
		void (*each)(const str *key, const blf_call_t *c, void *arg),
		void *arg);
int blf_entity_call_adopt(const str *key, const str *callid, int dir,
		int origin, unsigned int gen, blf_event_t ev, int code,
		const blf_call_upd_t *upd, int *adopted);
int blf_entity_call_orphan_end(const str *key, const str *callid, int dir,
		int origin, unsigned int gen);
void blf_sub_replica_put(
		const str *key, blf_sub_t *s, const char *(*node_name)(int idx));
void blf_sub_replica_del(const str *key, const str *f, int owner);
/* shown: the digest of the calls that NOTIFY showed (0: not said) */
void blf_sub_replica_ver(const str *key, const char *tag, size_t tlen, int v,
		int q, int owner, unsigned int shown);
/* a refresh took s over from node prev (the slot lock held): 1 when its
 * NOTIFY waits for prev's last version (owed); blf_repl_owner_answers,
 * set by the cluster, says whether prev is alive and answers */
extern int (*blf_repl_owner_answers)(int idx);
/* the burst a wildcard's takeover owes once the version came (set by the
 * cluster: blf_subs_takeover_burst) */
extern void (*blf_repl_wild_resume)(
		const str *wkey, const str *callid, const str *ftag, const str *ttag);
int blf_sub_takeover_hold(blf_entity_t *e, blf_sub_t *s, int prev);
/* the same for an unsubscribe of s taken over from node prev: 1 when its
 * final NOTIFY waits (s stays until then, expiring at now + 2 at most) */
int blf_sub_takeover_end(blf_entity_t *e, blf_sub_t *s, int prev, time_t now);
/* what a takeover knows of when each node was last heard from (blf_dmq.c
 * fills it in), so that a version its dead owner's relay may have lost is
 * not used again (blf_rhist_unreported) */
typedef struct blf_heard {
	const unsigned long long *ms; /* per node index, blf_rhist_now_ms();
								   * ms[dead]: the dead node's last word */
	int n;						  /* node indexes 0 .. n - 1 */
	int dead;					  /* the node whose subscriptions move */
	unsigned long long pass_ms;	  /* a relay holds versions that long */
	unsigned long long hello_ms;  /* a live node's longest silence */
	unsigned long long margin_ms; /* delivery and clock slack */
	unsigned long long now_ms;	  /* when the takeover began */
	int skipped; /* out: copies that skipped versions (any new owner) */
} blf_heard_t;
/* a takeover jumps the CSeq of each subscription it adopts by this much
 * over what it knew (and by the versions skipped): see blf_sub_take_over */
#define BLF_TKO_CSEQ_STEP 256
int blf_sub_take_over(blf_entity_t *e, int dead,
		int (*pick)(const str *ttag, void *arg), void *arg, const str *lc,
		const str *sock, blf_notify_job_t **jobs, unsigned long long since_ms,
		blf_heard_t *heard, time_t now);

/* blf_rhist.c: the states of an entity's calls a takeover replays (kept
 * with enable_dmq only, blf_rhist_enable at init); the slot lock held */
void blf_rhist_enable(void);
/* the clock of the copies' times and of a node's last message (blf_dmq.c):
 * CLOCK_MONOTONIC milliseconds, one clock for every process of a node */
unsigned long long blf_rhist_now_ms(void);
void blf_rhist_note(blf_entity_t *e, time_t now, int origin);
void blf_rhist_purge(blf_entity_t *e, time_t now); /* now 0: all */
int blf_rhist_replay(blf_entity_t *e, blf_sub_t *s, unsigned long long since_ms,
		unsigned long long last_ms, int past, time_t now,
		blf_notify_job_t ***tail, int *now_too);
int blf_rhist_unreported(const blf_entity_t *e, const blf_sub_t *s,
		unsigned long long since_ms, const blf_heard_t *h, int *past);

/* blf_subrec.c: subscription records and the NOTIFY jobs copied out of
 * them (blf_subs_remove: blf_entity.c, blf_wildcard.c) */
/* a subscription block holding copies of f[0..BLF_SF_N-1], with flags (its
 * BLF_SUB_WILDCARD bit is fixed from here on), other fields 0 */
blf_sub_t *blf_sub_build(const str *f, unsigned int flags);
/* the socket s's NOTIFYs leave from (NULL: tm picks), and setting it */
struct socket_info *blf_sub_sock(const blf_sub_t *s);
void blf_sub_set_sock(blf_sub_t *s, struct socket_info *si);
void blf_sub_slots(unsigned int size); /* blf_subrec.c: the table's size */
blf_sub_t *blf_sub_find(blf_entity_t *e, const str *callid, const str *ftag,
		const str *ttag, blf_sub_t ***prev);
void blf_sub_unlink(blf_entity_t *e, blf_sub_t **ps);
blf_sub_t *blf_sub_rebuild(const blf_sub_t *s, int i, const str *val);
blf_notify_job_t *blf_sub_job(blf_entity_t *e, blf_sub_t *s,
		blf_frags_t *fr, const str *entity_uri, int terminated,
		const char *reason, time_t now);
/*
 * In a cluster, a node that restarts quickly reads its subscriptions back
 * from its database while its peers, which saw its new incarnation, take
 * its old one's subscriptions over: two owners, both with the next version.
 * Until this time (time(NULL) seconds; blf_dmq.c sets it, NULL without
 * enable_dmq) a restored subscription (BLF_SUB_RESTORED) sends nothing but
 * is owed its full state: a takeover arriving meanwhile makes it the
 * peer's, and no version goes out twice.
 */
extern unsigned int *blf_sub_restore_hold;

blf_notify_job_t *blf_sub_job_vis(blf_entity_t *e, blf_sub_t *s,
		blf_frags_t *fr, const str *entity_esc, blf_vis_t vis, int terminated,
		const char *reason, time_t now);
void blf_sub_free(blf_sub_t *s);
/* other nodes' subscriptions held here: the counter (blf_dmq_init makes
 * it), its changes (where a record's owner changes) and its value */
int blf_sub_repl_init(void);
void blf_sub_repl_add(int d);
unsigned long blf_sub_repl_count(void);
/* at init: the snapshot of a BLF_SUB_LIST subscription's NOTIFY, which
 * also sets the job's package (blf_lsub.c); under the slot lock. NULL with
 * *held set: the list's own sender sends it (its NOTIFYs leave one at a
 * time, in version order), no version is taken and nothing is owed here */
typedef blf_snap_t *(*blf_sub_list_snap_f)(const blf_sub_t *s, int terminated,
		const blf_pkg_t **pkg, int *held);
void blf_sub_set_list_snap(blf_sub_list_snap_f fn);
/* the entity hash our To tag carries; -1 when the tag is not ours */
int blf_tag_hash(const str *tag, unsigned int *hash);
int blf_subs_remove(unsigned int hash, const str *callid, const str *ftag,
		const str *ttag);
int blf_subs_notify_watchers(blf_entity_t *e, blf_frags_t *fr,
		blf_notify_job_t **jobs);
/* the same for the watchers whose package depends on deps (BLF_DEP_*) */
int blf_subs_notify_dep(blf_entity_t *e, unsigned int deps, blf_frags_t *fr,
		blf_notify_job_t **jobs);
/*
 * blf_entity.c: e changed in what deps (BLF_DEP_*, OR-ed) says: adds to
 * *jobs a NOTIFY for every live local non-wildcard subscription of e whose
 * package depends on it (snapshots taken into fr, one per package). Only
 * e's slot lock is needed: packages following registrations, publications
 * or watchers are never subscribed on the wildcard user (the call paths use
 * blf_entity_jobs, which covers the wildcard watchers too). After the
 * unlock: blf_chg_send(jobs), blf_frags_free(fr). Returns the jobs added.
 */
int blf_entity_changed(blf_entity_t *e, unsigned int deps, blf_frags_t *fr,
		blf_notify_job_t **jobs);

/* blf_entity_reg.c: registered contacts (usrloc). Applies op on the
 * contact u->ruid of entity key; the NOTIFYs of the subscriptions depending
 * on BLF_DEP_REG go as when says. No slot lock may be held. Returns the
 * NOTIFYs made (0 with BLF_CT_TIMER), or -1 (logged). */
typedef enum blf_ct_when
{
	BLF_CT_SEND = 0, /* sent after the unlock, from this call */
	BLF_CT_BATCH,	 /* left in this process's change batch: the caller
					  * flushes it (blf_chg_flush) once out of usrloc */
	BLF_CT_TIMER,	 /* none made: the entity is marked BLF_ENT_REGDUE and
					  * the "BLF REG" process makes and sends them within
					  * BLF_REG_TICK_MS (the expiry timer when it cannot) */
} blf_ct_when_t;
int blf_entity_contact(const str *key, blf_ct_op_t op, const blf_ct_upd_t *u,
		blf_ct_when_t when);
/* the expiry timer, e's slot lock held, e marked BLF_ENT_REGDUE: its
 * NOTIFYs into *jobs (snapshots in fr), ended contacts freed. Returns 1
 * when e was freed (nothing of it left), else 0 */
int blf_entity_reg_due(
		blf_entity_t *e, blf_frags_t *fr, blf_notify_job_t **jobs);
/* the "BLF REG" process (blf_mod.c forks it with usrloc loaded): its
 * queue (mod_init), its tick and its period */
#define BLF_REG_TICK_MS 10
int blf_reg_prompt_init(void);
void blf_reg_prompt_destroy(void);
void blf_reg_prompt_timer(unsigned int ticks, void *param);
/* frees e's contacts (the table's destruction) */
void blf_entity_contacts_free(blf_entity_t *e);

/* blf_entity_pub.c: the publication store (RFC 3903), e->pubs newest
 * first. Every change notes BLF_CHG_PUB_PUT/_DEL (a refresh or modify:
 * _DEL of the old ETag, then _PUT of the new one) and sends the NOTIFYs of
 * the watchers depending on BLF_DEP_PUB, after the unlock. */
#define BLF_PUB_E_NOETAG -2 /* no live publication of that ETag (412) */
#define BLF_PUB_E_FULL -3	/* max publications of the entity (503) */
#define BLF_PUB_SEEN 1 /* a live publication has the new ETag already */
int blf_pub_init(void);
void blf_pub_destroy(void);
unsigned long blf_pub_count(void); /* in the whole table */
/* new (match NULL, doc + body set), refresh (match, doc NULL: same
 * document) or modify (match, doc + body): the publication gets ETag etag, deadline expires
 * and goes to the head; doc is copied. max > 0 bounds a new one (else
 * BLF_PUB_E_FULL, *retry = s until the earliest expiry). 0, BLF_PUB_E_*,
 * BLF_PUB_SEEN (etag names a live publication of the entity: nothing
 * changed), -1 (no memory, bad arguments) */
int blf_pub_put(const str *key, const char *match, const char *etag,
		time_t expires, const struct blf_pidf_pub *doc, const str *body,
		int origin, int max, time_t *retry);
/* mod_init only (restore from the DB): links a publication as it was at
 * its entity's head (restore them oldest first), with no change record
 * and no NOTIFY; 0, or -1 */
int blf_pub_restore(const str *key, const char *etag, time_t expires,
		time_t modified, const struct blf_pidf_pub *doc, const str *body);
/* a replica of node origin (> 0): the publication of ETag etag, new or
 * replaced, at the head; watchers notified; max bounds a new one (else
 * BLF_PUB_E_FULL). 0, or -1 */
int blf_pub_replica_put(const str *key, const char *etag, time_t expires,
		time_t modified, const struct blf_pidf_pub *doc, const str *body,
		int origin, int max);
/* removes the publication of ETag match, asked here (origin 0) or by
 * node origin's replica: 0 or BLF_PUB_E_NOETAG */
int blf_pub_del(const str *key, const char *match, int origin);
/* the expiry timer: removes every publication past its deadline */
void blf_pub_expire(time_t now);

/* the timer's second chance (blf_entity.c, blf_wildcard.c) */
void blf_entity_owed_send(const str *key);
/* what an owed wildcard subscription (Call-ID, From tag, our tag of the
 * subscription on wkey) is owed: its domain's state from slot from on */
void blf_wildcard_owed_send(const str *wkey, const str *callid,
		const str *ftag, const str *ttag, unsigned int from);
/* s. BLF_ENT_WOWED: how long an entity is kept for wildcard watchers (s) */
#define BLF_WOWED_KEEP 60

#endif
