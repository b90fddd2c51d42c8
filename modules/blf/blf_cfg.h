/*
 * blf_cfg.h — the module's configuration (every modparam), the APIs it
 * binds, its limits and its statistics: what every layer may read.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_CFG_H
#define BLF_CFG_H

#include <time.h>

#include "core/str.h"
#include "core/ip_addr.h"
#include "core/locking.h"
#include "core/atomic_ops.h"
#include "core/counters.h"
#include "blf_pkg.h" /* BLF_PKG_MAX */
#include "core/crypto/sha256.h"
#include "core/parser/msg_parser.h"
#include "modules/tm/tm_load.h"
#include "modules/sl/sl.h"
#include "modules/dialog/dlg_load.h"

#include "blf_state.h"
#include "blf_xml.h"
#include "blf_expiry.h"

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
	int list_wait_workers;	/* the same for list answers (list_url) */
	int http_max_body;		/* bytes: a longer answer is an error */
	str db_url;
	str db_table;		   /* table of persisted subscriptions */
	int db_flush_interval; /* s between write-behind flushes */
	int enable_dmq;
	int takeover_call_hold; /* s a dead node's calls are held for adoption
							 * (blf_adopt.c); 0: ended at the takeover */
	str dmq_peers; /* addresses blf replicas are accepted from (empty: any
					* node the dmq module admits) */
	str node_name; /* this node in the cluster (default: first UDP socket) */
	int dmq_version_delay; /* ms a NOTIFY's version replica may wait to
							* share a DMQ message; 0: sent at once */
	int dmq_direct; /* blf's UDP KDMQs without tm (blf_dtx.c) */
	int max_subscriptions;
	int hash_size; /* slots of the entity table, a power of two */
	int timer_interval; /* s, expiry scan */
	int notify_direct;	/* UDP NOTIFYs to an address without tm */
	int reply_direct; /* a SUBSCRIBE's 200 written here, not by sl */
	str dialog_id_secret; /* keys the RFC 4235 dialog ids (blf_call_set_id) */
	int max_watcher_subscriptions; /* per watcher entity, 0: no limit */
	int max_source_subscriptions;  /* per source IP address, 0: no limit */
	int wildcard_burst_interval;   /* s between two bursts of one wildcard
									* subscription (refreshes) */
	int max_notifies_inflight; /* in total, 0: no bound */
	int max_notifies_per_sub;  /* per subscription, 0: no bound */
	int notify_min_free_shm;   /* %: below it lamp updates wait */
	int max_calls_per_entity;  /* calls shown/tracked per entity */
	/* registrations (usrloc, blf_ul.c) */
	int max_contacts_per_entity; /* contacts tracked per entity, 0: none */
	str ul_domain; /* domain of an AOR without one (usrloc use_domain 0) */
	int notify_max_body;	   /* bytes of a NOTIFY body over UDP */
	str events; /* the event packages served (blf_pkg.h), comma separated */
	/* per-watcher visibility over HTTP (blf_viscache.c), empty: off */
	str visibility_url;
	/* PUBLISH (blf_publish.c) */
	int max_publications; /* live publications per entity, 0: no bound */
	int publish_max_body; /* bytes of a PUBLISH body (else 413) */
} blf_cfg_t;

extern blf_cfg_t blf_cfg;
extern struct tm_binds blf_tmb;
extern sl_api_t blf_slb;
extern struct dlg_binds blf_dlgb;

/* ---- statistics (Kamailio counters, group "blf") ---- */
extern stat_var *blf_st_notifies_sent;
extern stat_var *blf_st_notifies_failed;
/* blf:notifies_sent_<package>, by package id (NULL: not served) */
extern stat_var *blf_st_pkg_sent[BLF_PKG_MAX];
extern stat_var *blf_st_notify_answers_ignored;
extern stat_var *blf_st_notify_answers_fast; /* read off the wire */
/* 200s to SUBSCRIBEs written and sent by the module (blf_reply.c) */
extern stat_var *blf_st_subscribe_replies_direct;
extern stat_var *blf_st_notifies_deferred;
extern stat_var *blf_st_calls_untracked;
extern stat_var *blf_st_bodies_cut;
/* NOTIFYs not sent: the document is the one the watcher got last
 * (BLF_PKG_DEDUP, presence) */
extern stat_var *blf_st_notifies_unchanged;
extern stat_var *blf_st_http_requests;
extern stat_var *blf_st_http_errors;
extern stat_var *blf_st_cache_hits;
extern stat_var *blf_st_cache_misses;
extern stat_var *blf_st_calls_destroyed; /* ended by "BLF DLG" (DESTROY) */
extern stat_var *blf_st_calls_adopted; /* a dead node's, adopted here */
extern stat_var *blf_st_orphans_ended; /* held sides ended at the hold's end */
extern stat_var *blf_st_subscribes_rejected; /* every SUBSCRIBE error reply */
extern stat_var *blf_st_watcher_limited;	 /* max_watcher_subscriptions hit */
extern stat_var *blf_st_source_limited;		 /* max_source_subscriptions hit */
extern stat_var *blf_st_wildcard_bursts_limited; /* wildcard bursts not
												  * sent (refresh) or refused
												  * (503): over budget */
extern stat_var *blf_st_dmq_untrusted; /* replicas from a sender not trusted */
extern stat_var *blf_st_dmq_invalid;   /* replicas that failed the checks */
extern stat_var *blf_st_alias_nowait;  /* SUBSCRIBEs that did not wait */
extern stat_var *blf_st_list_nowait;   /* ... for a list answer */
extern stat_var *blf_st_alias_evicted; /* records evicted or aged out */
extern stat_var *blf_st_alias_full;	   /* lookups not cached: no room */
extern stat_var *blf_st_http_oversize; /* answers over http_max_body */
extern stat_var *blf_st_park_page_cut; /* park pages cut at their bound */
extern atomic_t *blf_nsubs; /* live subscriptions on this node (shm) */

/* blf_mod.c: change -> NOTIFY delay statistics (blf:notify_delay_*) */
extern stat_var *blf_st_delay_sum_us;
extern stat_var *blf_st_delay_count;
int blf_delay_init(void);
void blf_delay_destroy(void);
unsigned long blf_delay_max_ms(void);
unsigned long long blf_delay_now_us(void);
void blf_delay_note(unsigned long long t0_us, unsigned int n);

#endif
