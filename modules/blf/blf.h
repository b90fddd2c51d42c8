/*
 * blf.h — private interface shared by the blf module's files.
 *
 * The module keeps every watched entity (user@host) in one shared-memory
 * hash table with a lock per slot. An entity record owns its current calls
 * (as seen from that entity) and its watchers' subscriptions, so a call
 * state change takes exactly one slot lock and touches only its own
 * watchers. Subscriptions are found again from a SIP dialog through our own
 * To tag, which encodes the entity's hash (see blf_subs.c).
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_H
#define BLF_H

#include <time.h>

#include "core/str.h"
#include "core/ip_addr.h"
#include "core/locking.h"
#include "core/atomic_ops.h"
#include "core/counters.h"
#include "core/crypto/sha256.h"
#include "core/parser/msg_parser.h"
#include "modules/tm/tm_load.h"
#include "modules/sl/sl.h"
#include "modules/dialog/dlg_load.h"

#include "blf_state.h"
#include "blf_xml.h"
#include "blf_expiry.h"
#include "blf_wcount.h"
#include "blf_pkg.h"

#define BLF_KEY_MAX 256 /* longest user@host kept */
/* a NOTIFY's own headers (Event id, Contact, Subscription-State) longer
 * than this end the subscription: it could never be notified (blf_notify.c) */
#define BLF_NOTIFY_HDRS_MAX 4096
/* no buffer for one NOTIFY grows past this (a bad field, not a real one) */
#define BLF_NOTIFY_MSG_MAX (1 << 20)
/* notify_max_body's range: room for a few dialogs; under one UDP datagram
 * (65,507 bytes) with the NOTIFY's headers */
#define BLF_NOTIFY_BODY_MIN 4096
/* of notify_max_body, what the body's head (entity attribute up to
 * BLF_KEY_MAX escaped) and tail may take; the dialogs get the rest */
#define BLF_NOTIFY_HEAD_ROOM 2048
#define BLF_NOTIFY_BODY_UDP_MAX 60000

/* ---- configuration: every modparam lives here ---- */
typedef struct blf_cfg {
	blf_expiry_cfg_t expiry;
	int track_all;
	str wildcard_user;
	str visibility_s;
	blf_vis_t visibility;
	str alias_url;
	str park_url;
	int park_poll_interval;
	str park_domain;
	int http_timeout;
	int alias_cache_ttl;
	int alias_negative_ttl;
	int alias_cache_size;	/* records kept at most (evicted beyond) */
	int alias_cache_idle;	/* s: a stale record unused this long goes */
	int alias_wait_workers; /* SIP workers waiting for answers at once;
							 * 0: max(1, children / 4) */
	int http_max_body;		/* bytes: a longer answer is an error */
	str db_url;
	str db_table;		   /* table of persisted subscriptions */
	int db_flush_interval; /* s between write-behind flushes */
	int enable_dmq;
	str dmq_peers; /* addresses blf replicas are accepted from (empty: any
					* node the dmq module admits) */
	str node_name; /* this node in the cluster (default: first UDP socket) */
	int max_subscriptions;
	int hash_size; /* slots of the entity table, a power of two */
	int timer_interval; /* s, expiry scan */
	int notify_direct;	/* UDP NOTIFYs to an address without tm */
	str dialog_id_secret; /* keys the RFC 4235 dialog ids (blf_call_set_id) */
	int max_watcher_subscriptions; /* per watcher entity, 0: no limit */
	int max_source_subscriptions;  /* per source IP address, 0: no limit */
	int wildcard_burst_interval;   /* s between two bursts of one wildcard
									* subscription (refreshes) */
	int max_notifies_inflight; /* in total, 0: no bound */
	int max_notifies_per_sub;  /* per subscription, 0: no bound */
	int notify_min_free_shm;   /* %: below it lamp updates wait */
	int max_calls_per_entity;  /* calls shown/tracked per entity */
	int notify_max_body;	   /* bytes of a NOTIFY body over UDP */
	str events; /* the event packages served (blf_pkg.h), comma separated */
} blf_cfg_t;

extern blf_cfg_t blf_cfg;
extern struct tm_binds blf_tmb;
extern sl_api_t blf_slb;
extern struct dlg_binds blf_dlgb;

/* ---- statistics (Kamailio counters, group "blf") ---- */
extern stat_var *blf_st_notifies_sent;
extern stat_var *blf_st_notifies_failed;
extern stat_var *blf_st_notify_answers_ignored;
extern stat_var *blf_st_notifies_deferred;
extern stat_var *blf_st_calls_untracked;
extern stat_var *blf_st_bodies_cut;
extern stat_var *blf_st_http_requests;
extern stat_var *blf_st_http_errors;
extern stat_var *blf_st_cache_hits;
extern stat_var *blf_st_cache_misses;
extern stat_var *blf_st_calls_destroyed; /* ended by "BLF DLG" (DESTROY) */
extern stat_var *blf_st_subscribes_rejected; /* every SUBSCRIBE error reply */
extern stat_var *blf_st_watcher_limited;	 /* max_watcher_subscriptions hit */
extern stat_var *blf_st_source_limited;		 /* max_source_subscriptions hit */
extern stat_var *blf_st_wildcard_bursts_limited; /* wildcard bursts not
												  * sent (refresh) or refused
												  * (503): over budget */
extern stat_var *blf_st_dmq_untrusted; /* replicas from a sender not trusted */
extern stat_var *blf_st_dmq_invalid;   /* replicas that failed the checks */
extern stat_var *blf_st_alias_nowait;  /* SUBSCRIBEs that did not wait */
extern stat_var *blf_st_alias_evicted; /* records evicted or aged out */
extern stat_var *blf_st_alias_full;	   /* lookups not cached: no room */
extern stat_var *blf_st_http_oversize; /* answers over http_max_body */
extern stat_var *blf_st_park_page_cut; /* park pages cut at their bound */
extern atomic_t *blf_nsubs; /* live subscriptions on this node (shm) */

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
	char id[20];		  /* RFC 4235 dialog id, unique within the entity:
						   * BLF_CALL_ID_LEN hex digits */
	str f[BLF_CF_N];	  /* strings, stored in the same shm block */
} blf_call_t;

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

typedef struct blf_sub {
	struct blf_sub *next;
	time_t expires;			/* absolute */
	unsigned int version;	/* the next version to send */
	unsigned int cseq;		/* the last local CSeq used */
	unsigned int flags;
	blf_vis_t vis;
	unsigned char owner; /* cluster node that NOTIFYs it, 0: this one */
	unsigned char pkg;	 /* its event package (blf_pkg_get), 0: dialog */
	unsigned int owed_from; /* wildcard, BLF_SUB_OWED: the first table
							 * slot whose entities it is owed */
	struct socket_info *sock; /* where the SUBSCRIBE came in (NOTIFYs leave) */
	struct blf_wc *wc[2]; /* its watcher and source counters (ours only,
						   * blf_wcount.c); given back by blf_sub_free */
	time_t burst_at;	  /* wildcard: when its last burst was sent */
	/* its strings follow the record in the same block: field i is
	 * len[i] bytes at off[i] from the record (offsets, not pointers, keep a
	 * subscription near 300 bytes: see bench/README.md) */
	unsigned short off[BLF_SF_N];
	unsigned short len[BLF_SF_N];
} blf_sub_t;

/* field i of subscription s, as a str (an lvalue: &BLF_SF(s, i) is fine) */
#define BLF_SF(s, i) \
	((str){(char *)(s) + (s)->off[(i)], (int)(s)->len[(i)]})

/* ---- entities ---- */
#define BLF_ENT_PARK (1 << 0) /* a park orbit: exists while the list says so */
#define BLF_ENT_OWED (1 << 1)  /* a subscription of it is owed a NOTIFY */
#define BLF_ENT_WOWED (1 << 2) /* a wildcard watcher is owed its state: kept
								* (even idle) until wowed_until */

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
} blf_entity_t;

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

/* a subscription of e got deadline exp (linked, refreshed or replaced) */
static inline void blf_entity_sub_due(blf_entity_t *e, time_t exp)
{
	if(e->subs_due == 0 || exp < e->subs_due)
		e->subs_due = exp;
}

typedef struct blf_slot {
	blf_entity_t *first;
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
unsigned int blf_wildcard_hash(
		const str *key, char *buf, int size, str *wkey, unsigned int hash);
int blf_wildcard_jobs(blf_entity_t *w, blf_entity_t *e, blf_frags_t *fr,
		blf_notify_job_t **jobs, time_t now);
blf_entity_t *blf_entity_find(unsigned int hash, const str *key);
blf_entity_t *blf_entity_get(unsigned int hash, const str *key);
void blf_entity_gc(unsigned int hash, blf_entity_t *e);
void blf_entity_drop_terminated(blf_entity_t *e);
int blf_entity_call_event(const str *key, const str *callid, blf_dir_t dir,
		blf_event_t ev, int code, const blf_call_upd_t *upd);

/* blf_subs.c */
int blf_subs_handle(struct sip_msg *msg);
/* a subscription block holding copies of f[0..BLF_SF_N-1], other fields 0 */
blf_sub_t *blf_sub_build(const str *f);
blf_sub_t *blf_sub_find(blf_entity_t *e, const str *callid, const str *ftag,
		const str *ttag, blf_sub_t ***prev);
void blf_sub_unlink(blf_entity_t *e, blf_sub_t **ps);
blf_sub_t *blf_sub_rebuild(const blf_sub_t *s, int i, const str *val);
/* a no-op kept for its callers: a job holds its own reference to the
 * change's snapshot (blf_pkg.h), whatever becomes of fr */
static inline void blf_job_take_frag(blf_notify_job_t *j, blf_frags_t *fr)
{
	(void)j;
	(void)fr;
}
blf_notify_job_t *blf_sub_job(blf_entity_t *e, blf_sub_t *s,
		blf_frags_t *fr, const str *entity_uri, int terminated,
		const char *reason, time_t now);
blf_notify_job_t *blf_sub_job_vis(blf_entity_t *e, blf_sub_t *s,
		blf_frags_t *fr, const str *entity_esc, blf_vis_t vis, int terminated,
		const char *reason, time_t now);
void blf_sub_free(blf_sub_t *s);
int blf_subs_remove(unsigned int hash, const str *callid, const str *ftag,
		const str *ttag);
void blf_subs_timer(unsigned int ticks, void *param);
int blf_subs_notify_watchers(blf_entity_t *e, blf_frags_t *fr,
		blf_notify_job_t **jobs);
int blf_subs_deactivate_uri(const str *ekey, const str *asked);
int blf_subs_apply_policy(const str *ekey, blf_vis_t vis);
/* our Contact URI on socket si (sip:host:port;transport=...) */
int blf_sock_contact(struct socket_info *si, char *buf, int size, str *out);
/* the entity hash our To tag carries; -1 when the tag is not ours */
int blf_tag_hash(const str *tag, unsigned int *hash);

/* blf_inflight.c: NOTIFYs in flight and their bounds */
#define BLF_INFLIGHT_WILDCARD_FACTOR 8 /* a wildcard subscription's bound is
										* max_notifies_per_sub times this */
int blf_inflight_init(void);
/* a place for one more NOTIFY of s (slot lock held); -1: past a bound
 * (counted, logged). force: a final NOTIFY, always sent, still counted */
int blf_inflight_take(const blf_sub_t *s, int force, unsigned int *slot);
void blf_inflight_put(unsigned int slot);
void blf_inflight_put_sub(unsigned int slot);
/* set in a tm NOTIFY's callback parameter once its subscription's part of
 * the place is given back (at completion; the total's at TMCB_DESTROY) */
#define BLF_INFLIGHT_SUB_DONE 0x80000000u
void blf_inflight_put_total(unsigned int slot);
int blf_inflight_room(void); /* below the total bound and the shm floor */
unsigned long blf_inflight_count(void);
void blf_entity_owed_send(const str *key);
/* what an owed wildcard subscription (Call-ID, From tag, our tag of the
 * subscription on wkey) is owed: its domain's state from slot from on */
void blf_wildcard_owed_send(const str *wkey, const str *callid,
		const str *ftag, const str *ttag, unsigned int from);
/* s. BLF_ENT_WOWED: how long an entity is kept for wildcard watchers (s) */
#define BLF_WOWED_KEEP 60

/* blf_pkg_dialog.c: the dialog event package (RFC 4235) */
extern blf_pkg_t blf_pkg_dialog;

/* blf_notify.c */
void blf_notify_send_all(blf_notify_job_t *jobs);
void blf_job_free(blf_notify_job_t *j);

/* blf_ntx.c: NOTIFY transactions over UDP, without tm */
int blf_ntx_init(void);
int blf_ntx_child_init(int rank);
void blf_ntx_destroy(void);
/* 0: sent (or queued for retransmission), -1: error, 1: not for us (tm) */
int blf_ntx_send(const blf_notify_job_t *j, const str *hdrs, const str *body);
int blf_ntx_response(struct sip_msg *msg);
unsigned long blf_ntx_pending(void); /* NOTIFYs waiting for an answer */
unsigned long blf_ntx_blocks(void);  /* shm blocks held (pending + pool) */

/* blf_dlg.c */
#define BLF_DLG_VAR "blf" /* dialog variable marking a tracked call */
#define BLF_DLG_TIMER_US 100000 /* "BLF DLG": ends calls queued by DESTROY */
int blf_dlg_init(void);
int blf_dlg_child_init(int rank);
void blf_dlg_destroy(void);
int blf_track(struct sip_msg *msg);

/* blf_db.c: persistence of subscriptions (no-ops without db_url) */
int blf_db_init(void);			   /* mod_init: bind, create table, restore */
int blf_db_child_init(int rank);
void blf_db_sub_deleted(const blf_sub_t *s); /* the slot lock is held */
void blf_db_destroy(void);		   /* last flush */

/* blf_dmq.c: cluster replication (no-ops without enable_dmq) */
int blf_dmq_init(void);
void blf_dmq_timer(void);
void blf_dmq_timer_proc(unsigned int ticks, void *param); /* its process */
void blf_dmq_out_move(
		const blf_entity_t *from, const blf_entity_t *to, const blf_call_t *c);
void blf_dmq_out_call(const blf_entity_t *e, const blf_call_t *c);
void blf_dmq_out_sub(const blf_entity_t *e, const blf_sub_t *s);
void blf_dmq_out_unsub(const blf_entity_t *e, const blf_sub_t *s);
void blf_dmq_out_ver(const blf_entity_t *e, const blf_sub_t *s);
void blf_dmq_flush(void);
const char *blf_dmq_node_name(int idx);

/* blf_rpc.c: listings come in pages (see blf_rpc.c) */
#define BLF_RPC_PAGE 100	   /* items per page unless asked */
#define BLF_RPC_PAGE_MAX 1000  /* the most a page holds */
#define BLF_RPC_STRUCTS_MAX 600 /* structs per answer (binrpc: 8 KB pkg each) */
#define BLF_RPC_BYTES_MAX 49152 /* values per answer, about: kamcmd reads
								 * 128 KB, a jsonrpcs datagram is as much */
int blf_rpc_init(void);

/* blf_mod.c: change -> NOTIFY delay statistics (blf:notify_delay_*) */
unsigned long long blf_delay_now_us(void);
void blf_delay_note(unsigned long long t0_us);

#endif
