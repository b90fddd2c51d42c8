/*
 * blf.h — every interface of the blf module at once, for the faces and the
 * machinery. The lower layers include only what they use: blf_cfg.h
 * (configuration, statistics), blf_table.h (records and the table),
 * blf_chg.h (change listeners).
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

#include "blf_cfg.h"
#include "blf_table.h"
#include "blf_chg.h"
#include "blf_inflight.h"
#include "blf_subs.h"
#include "blf_notify.h"

/* blf_dlg.c */
#define BLF_DLG_VAR "blf" /* dialog variable marking a tracked call */
#define BLF_DLG_TIMER_MS 100 /* "BLF DLG": ends calls queued by DESTROY */
#define BLF_DLG_IDLE_MS 1000 /* its longest sleep while nothing comes */
int blf_dlg_init(void);
int blf_dlg_child_init(int rank);
void blf_dlg_destroy(void);
int blf_track(struct sip_msg *msg);

/* blf_db.c: persistence of subscriptions (no-ops without db_url) */
int blf_db_init(void);			   /* mod_init: bind, create table, restore */
int blf_db_child_init(int rank);
void blf_db_destroy(void);		   /* last flush */

/* blf_dmq.c: cluster replication (no-ops without enable_dmq) */
int blf_dmq_init(void);
/* the main process before the forks (child_init PROC_INIT), after
 * blf_reply_proc_init: the hook that sends a peer's replica's NOTIFYs
 * after the answer */
void blf_dmq_proc_init(void);
void blf_dmq_timer(void);
void blf_dmq_timer_proc(unsigned int ticks, void *param); /* its process */
/* dmq_version_delay: the versions waiting are sent (its own process) */
void blf_dmq_vq_proc(unsigned int ticks, void *param);
unsigned int blf_dmq_vq_tick_ms(void);
const char *blf_dmq_node_name(int idx);

/* blf_rpc.c: listings come in pages (see blf_rpc.c) */
#define BLF_RPC_PAGE 100	   /* items per page unless asked */
#define BLF_RPC_PAGE_MAX 1000  /* the most a page holds */
#define BLF_RPC_STRUCTS_MAX 600 /* structs per answer (binrpc: 8 KB pkg each) */
#define BLF_RPC_BYTES_MAX 49152 /* values per answer, about: kamcmd reads
								 * 128 KB, a jsonrpcs datagram is as much */
int blf_rpc_init(void);

#endif
