/*
 * blf_chg.h — change listeners: what the tables changed, handed on after
 * the unlock.
 *
 * The entity table and the subscription records call nothing above them.
 * Under a slot lock they note what changed (copies only: the records may be
 * gone by the time anyone reads them) into this process's pending batch;
 * once every slot lock is released, whoever made the change calls
 * blf_chg_flush(), which hands the batch to the listeners registered in
 * mod_init (NOTIFY sending, DMQ replication, the DB write-behind, and
 * whatever comes next), in the order they registered. A kind nobody
 * listens to is not even copied.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_CHG_H
#define BLF_CHG_H

#include "core/str.h"

struct blf_entity;
struct blf_call;
struct blf_sub;
struct blf_notify_job;
struct blf_pub;

/* what changed; listeners ask for a mask of these */
typedef enum blf_chg_kind
{
	BLF_CHG_NOTIFY = 1 << 0,	/* NOTIFY jobs to send (owned by the batch
								 * until the listener takes them) */
	BLF_CHG_CALL = 1 << 1,		/* a call tracked here changed */
	BLF_CHG_CALL_MOVE = 1 << 2, /* a call tracked here moved entity */
	BLF_CHG_SUB_NEW = 1 << 3,	/* a subscription of ours, new or refreshed */
	BLF_CHG_SUB_DEL = 1 << 4,	/* a subscription of ours ended */
	BLF_CHG_SUB_GONE = 1 << 5,	/* a subscription is another node's now */
	BLF_CHG_SUB_VER = 1 << 6,	/* a version of ours taken for a NOTIFY */
	BLF_CHG_POKE = 1 << 7,		/* nothing copied: a listener asked (under a
								 * slot lock) to be called at the next flush */
	/* (1 << 8: kept for the winfo work, merged apart) */
	BLF_CHG_PUB_PUT = 1 << 9,  /* a publication of ours, new, refreshed
								* or modified (blf_entity_pub.c) */
	BLF_CHG_PUB_DEL = 1 << 10, /* a publication of ours removed/expired */
	/* a list subscription of ours after a NOTIFY took its members'
	 * versions (blf_lsub.c): replicated with them (blf_lsub_mvers_delta) */
	BLF_CHG_SUB_LMV = 1 << 11,
	BLF_CHG_ALL = 0x7fffffff
} blf_chg_kind_t;

const char *blf_chg_kind_name(blf_chg_kind_t k);

/* one change; the copies live in the batch until the listeners return */
typedef struct blf_chg
{
	blf_chg_kind_t kind;
	str key;  /* the entity it happened on (NUL-terminated) */
	str key2; /* CALL_MOVE: the entity it moved to; SUB_VER: our tag */
	const struct blf_call *call; /* CALL, CALL_MOVE: a copy (strings too) */
	const struct blf_sub *sub;	 /* SUB_NEW, _DEL, _GONE: a copy (strings
								  * too; no list, no counters) */
	const struct blf_pub *pub;	 /* PUB_PUT, PUB_DEL: a copy (record and
								  * document, doc pointing into it) */
	struct blf_notify_job *jobs; /* NOTIFY: a list */
	unsigned int version;		 /* SUB_VER */
	unsigned int cseq;			 /* SUB_VER */
	unsigned int shown; /* SUB_VER: which state of the entity's calls the
						 * NOTIFY showed (blf_calls_digest) */
	int dir;					 /* CALL_MOVE */
	unsigned int seq;			 /* CALL_MOVE */
} blf_chg_t;

typedef struct blf_chg_batch blf_chg_batch_t;

/* a listener gets the whole batch once (iterate with blf_chg_next); the
 * one listening to BLF_CHG_NOTIFY takes the jobs (and sets jobs NULL) */
typedef void (*blf_chg_listener_f)(blf_chg_batch_t *b, void *param);

/* mod_init only (before the fork): listen to the kinds in mask */
int blf_chg_listen(unsigned int mask, blf_chg_listener_f fn, void *param);
/* is anyone listening to kind k? (the tables skip the copy if not) */
int blf_chg_wanted(unsigned int k);

/* the changes of b of the kinds in mask after prev (NULL: the first) */
blf_chg_t *blf_chg_next(
		blf_chg_batch_t *b, const blf_chg_t *prev, unsigned int mask);
/* kinds that could not be noted in b (no memory): a listener that must not
 * lose one (the DB's deletions) falls back to a full pass */
unsigned int blf_chg_lost(const blf_chg_batch_t *b);

/* ---- noting changes (under the slot lock: copies only) ---- */
void blf_chg_call(const struct blf_entity *e, const struct blf_call *c);
void blf_chg_call_move(const struct blf_entity *from,
		const struct blf_entity *to, const struct blf_call *c);
/* kind: BLF_CHG_SUB_NEW, _DEL, _GONE, _VER or _LMV */
void blf_chg_sub(blf_chg_kind_t kind, const struct blf_entity *e,
		const struct blf_sub *s);
/* kind: BLF_CHG_PUB_PUT or _DEL (publications of other nodes: none) */
void blf_chg_pub(blf_chg_kind_t kind, const struct blf_entity *e,
		const struct blf_pub *p);
/* NOTIFY jobs: the batch owns them from here on (no lock needed) */
void blf_chg_jobs(struct blf_notify_job *jobs);

/* hands what is pending to the listeners; no slot lock may be held */
void blf_chg_flush(void);
/* blf_chg_jobs(jobs), then blf_chg_flush(): the end of most changes */
void blf_chg_send(struct blf_notify_job *jobs);
/* flushes of this process wait until the matching release, which flushes
 * once: the changes of a few short operations as one batch (no slot lock
 * may be held at the release; nothing slow between the two) */
void blf_chg_hold(void);
void blf_chg_release(void);
/* the listeners of BLF_CHG_POKE are called at this process's next flush,
 * even when nothing else was noted (blf_lsub.c: member snapshots taken) */
void blf_chg_poke(void);

#endif
