/*
 * blf_db.c — persistence of subscriptions: when rows are written (the
 * write-behind, its process and its queue) and the lifecycle. The SQL side
 * (table, connection, statements, restore) is blf_db_sql.c; any srdb1
 * driver with query/insert/delete works (db_sqlite, db_postgres ...).
 *
 * What: one row per subscription holding every field a NOTIFY needs, so
 * that after a restart NOTIFYs go on inside the same dialogs with the next
 * version and a higher CSeq, without the watchers subscribing again.
 *
 * When: write-behind. SIP workers never touch the DB. Taking a version or a
 * CSeq only sets BLF_SUB_DIRTY on the subscription (under its slot lock);
 * a removed subscription leaves its dialog key on a bounded shm queue. One
 * process of its own ("BLF DB FLUSH") wakes every db_flush_interval seconds,
 * copies the dirty rows out slot by slot (clearing their flag under the
 * lock; a slot whose blf_slot_t.dirty is clear has none and is skipped),
 * writes them after the unlock in transactions of BLF_DB_BATCH rows, then
 * runs the queued deletes. A failed write marks its rows dirty again
 * (or queues its deletes again), closes the connection and is retried at
 * the next interval. When the delete queue overflows, the next flush
 * rewrites the whole table instead.
 *
 * Restart: mod_init, before any fork, creates the table when it is missing
 * (sqlite, postgres), deletes the expired rows, raises every stored CSeq by
 * BLF_DB_CSEQ_MARGIN and loads the rest into the shm table. A database
 * that cannot be used then does not stop Kamailio (SIP first): it starts
 * empty and its first working flush rewrites the table. The last flush
 * runs in mod_destroy, in the main process, once every child has exited
 * (children _exit() on SIGTERM, so no lock is taken there: a child may have
 * died holding one).
 *
 * Loss window: a graceful stop (SIGTERM) loses nothing. A crash loses the
 * changes of the last db_flush_interval seconds: subscriptions made in that
 * window are unknown after the restart (their refresh gets 481 and the
 * phone subscribes again), removed ones come back until they expire or a
 * NOTIFY to them gets 481, and the stored version may be behind the last
 * one sent (versions are restored as stored: never skipped, but a watcher
 * may then see some repeated). The CSeq margin keeps in-dialog CSeqs rising
 * unless a subscription sent more than BLF_DB_CSEQ_MARGIN NOTIFYs in the
 * lost window.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/mem/shm_mem.h"
#include "core/mem/mem.h"
#include "core/dprint.h"
#include "core/ut.h"
#include "core/globals.h"
#include "core/timer_proc.h"
#include "core/sr_module.h"

#include "blf_db.h"
#include "blf_chg.h"
#include "blf_lsub.h"

#define BLF_DB_BATCH 256	 /* rows per write transaction */
#define BLF_DB_DEL_MAX 65536 /* queued deletes before a full rewrite */

typedef struct blf_db_shared {
	gen_lock_t lock; /* guards everything below */
	blf_db_del_t *dels;
	int ndels;
	int resync;	  /* deletes were lost: rewrite the whole table */
	int inflight; /* a flush holds rows it took the dirty flag of */
} blf_db_shared_t;

static blf_db_shared_t *blf_db_sh = NULL;
static int blf_db_failing = 0; /* flushes failed in a row (this process) */

/* ---- the shm side: dirty flags and the delete queue ---- */

static blf_sub_t *blf_db_sub_find(const blf_db_row_t *r)
{
	blf_entity_t *e;
	blf_sub_t *s;

	e = blf_entity_find(r->hash, &r->key);
	if(e == NULL)
		return NULL;
	for(s = e->subs; s; s = s->next)
		if(STR_EQ(BLF_SF(s, BLF_SF_CALLID), r->f[BLF_SF_CALLID])
				&& STR_EQ(BLF_SF(s, BLF_SF_FTAG), r->f[BLF_SF_FTAG])
				&& STR_EQ(BLF_SF(s, BLF_SF_TTAG), r->f[BLF_SF_TTAG]))
			return s;
	return NULL;
}

/* rows not written: their subscriptions (those still there) get dirty */
static void blf_db_remark(blf_db_row_t *rows, int locked)
{
	blf_db_row_t *r;
	blf_sub_t *s;

	for(r = rows; r; r = r->next) {
		if(locked)
			blf_slot_lock(r->hash);
		s = blf_db_sub_find(r);
		if(s) {
			s->flags |= BLF_SUB_DIRTY;
			blf_slot_dirty(r->hash);
		}
		if(locked)
			blf_slot_unlock(r->hash);
	}
}

/*
 * Copies this node's subscriptions of slot i (the dirty ones, or all) to
 * the front of *rows and clears their dirty flag. The slot lock must be
 * held (or no other process be left). Returns how many were copied.
 */
typedef struct blf_db_walk {
	int all;
	int n;
	blf_db_row_t **rows;
} blf_db_walk_t;

static int blf_db_collect_entity(blf_entity_t *e, void *arg)
{
	blf_db_walk_t *w = arg;
	blf_sub_t *s;
	blf_db_row_t *r;

	for(s = e->subs; s; s = s->next) {
		if(s->owner != 0)
			continue; /* a cluster peer's: that node stores it */
		if(!w->all && !(s->flags & BLF_SUB_DIRTY))
			continue;
		r = blf_db_row_new(e, s);
		if(r == NULL)
			return 1; /* the rest stays dirty */
		s->flags &= ~BLF_SUB_DIRTY;
		r->next = *w->rows;
		*w->rows = r;
		w->n++;
	}
	return 0;
}

static int blf_db_collect(unsigned int i, int all, blf_db_row_t **rows)
{
	blf_db_walk_t w = {all, 0, rows};

	/* a slot with no dirty subscription is not walked: with a million
	 * subscriptions the walk cost 25 ms of CPU per second of
	 * db_flush_interval 2 (bench/README.md) */
	if(!all && !blf_table->slots[i].dirty)
		return 0;
	blf_table->slots[i].dirty = 0;
	if(blf_slot_each(i, blf_db_collect_entity, &w))
		blf_table->slots[i].dirty = 1; /* no memory: the rest stays */
	return w.n;
}

static void blf_db_sh_lock(int locked)
{
	if(locked)
		lock_get(&blf_db_sh->lock);
}

static void blf_db_sh_unlock(int locked)
{
	if(locked)
		lock_release(&blf_db_sh->lock);
}

static void blf_db_dels_free(blf_db_del_t *d)
{
	blf_db_del_t *n;

	for(; d; d = n) {
		n = d->next;
		shm_free(d);
	}
}

/* a row to delete at the next flush: no DB here, a queue push */
static void blf_db_sub_deleted(const blf_sub_t *s)
{
	blf_db_del_t *d;
	char *p;
	int i;

	if(blf_db_sh == NULL)
		return;
	d = shm_malloc(sizeof(*d) + BLF_SF(s, BLF_SF_CALLID).len
				   + BLF_SF(s, BLF_SF_FTAG).len + BLF_SF(s, BLF_SF_TTAG).len);
	if(d == NULL)
		SHM_MEM_ERROR;
	lock_get(&blf_db_sh->lock);
	if(d == NULL || blf_db_sh->resync || blf_db_sh->ndels >= BLF_DB_DEL_MAX) {
		/* the row stays behind: the next flush rewrites the table */
		blf_db_sh->resync = 1;
		lock_release(&blf_db_sh->lock);
		if(d)
			shm_free(d);
		return;
	}
	p = (char *)(d + 1);
	for(i = 0; i < BLF_DB_KEYS; i++) {
		/* BLF_SF_CALLID, _FTAG, _TTAG are the first three fields too */
		d->f[i].s = p;
		d->f[i].len = BLF_SF(s, i).len;
		memcpy(p, BLF_SF(s, i).s, BLF_SF(s, i).len);
		p += BLF_SF(s, i).len;
	}
	d->next = blf_db_sh->dels;
	blf_db_sh->dels = d;
	blf_db_sh->ndels++;
	lock_release(&blf_db_sh->lock);
}

/*
 * The change listener (registered by blf_db_init): a subscription of ours
 * that ended, or that another node owns now, loses its row. A deletion that
 * could not even be noted (no memory) makes the next flush rewrite the
 * table, as a full queue does: a removed row is never left behind.
 */
static void blf_db_chg(blf_chg_batch_t *b, void *param)
{
	blf_chg_t *g = NULL;

	if(blf_chg_lost(b) & (BLF_CHG_SUB_DEL | BLF_CHG_SUB_GONE)) {
		lock_get(&blf_db_sh->lock);
		blf_db_sh->resync = 1;
		lock_release(&blf_db_sh->lock);
	}
	while((g = blf_chg_next(b, g, BLF_CHG_SUB_DEL | BLF_CHG_SUB_GONE)))
		blf_db_sub_deleted(g->sub);
}

/* ---- one flush ---- */

/* refused rows stay dirty; one log line now and then, not a flood */
static void blf_db_refused(blf_db_row_t *refused, int locked)
{
	static int times = 0;
	blf_db_row_t *r;
	int n = 0;

	for(r = refused; r; r = r->next)
		n++;
	if(n == 0)
		return;
	if(times++ % 30 == 0)
		LM_ERR("the database refused %d rows (e.g. subscription %.*s of "
			   "%.*s): kept dirty, retried at the next flushes\n",
				n, refused->f[BLF_SF_CALLID].len, refused->f[BLF_SF_CALLID].s,
				refused->key.len, refused->key.s);
	blf_db_remark(refused, locked);
	blf_db_rows_free(refused);
}

/* the dirty subscriptions, BLF_DB_BATCH rows per transaction */
static int blf_db_flush_dirty(int locked, int *written)
{
	blf_db_row_t *rows = NULL, *refused = NULL;
	unsigned int i;
	int n = 0, rc;

	for(i = 0; i <= blf_table_slots(); i++) {
		if(i < blf_table_slots()) {
			if(blf_table_slot_empty(i))
				continue; /* racy read, only to skip empty slots */
			if(locked)
				blf_slot_lock(i);
			n += blf_db_collect(i, 0, &rows);
			if(locked)
				blf_slot_unlock(i);
			if(n < BLF_DB_BATCH)
				continue;
		}
		if(rows == NULL)
			continue;
		rc = blf_db_write_rows(&rows, &refused);
		if(rc < 0) {
			blf_db_remark(refused, locked);
			blf_db_rows_free(refused);
			blf_db_remark(rows, locked);
			blf_db_rows_free(rows);
			return -1;
		}
		blf_db_refused(refused, locked);
		refused = NULL;
		*written += n - rc;
		blf_db_rows_free(rows);
		rows = NULL;
		n = 0;
	}
	return 0;
}

/* puts deletes back on the queue (they failed) */
static void blf_db_requeue(blf_db_del_t *dels, int locked)
{
	blf_db_del_t *d, *last = NULL;
	int n = 0;

	for(d = dels; d; d = d->next, n++)
		last = d;
	if(last == NULL)
		return;
	blf_db_sh_lock(locked);
	if(blf_db_sh->resync || blf_db_sh->ndels + n > BLF_DB_DEL_MAX) {
		blf_db_sh->resync = 1;
		blf_db_sh_unlock(locked);
		blf_db_dels_free(dels);
		return;
	}
	last->next = blf_db_sh->dels;
	blf_db_sh->dels = dels;
	blf_db_sh->ndels += n;
	blf_db_sh_unlock(locked);
}

/*
 * The queued deletes, in one transaction; when that fails while the server
 * answers, one by one. Those that fail go back on the queue.
 */
static int blf_db_flush_deletes(int locked, int *deleted)
{
	blf_db_del_t *dels, *d, *failed = NULL;
	int n = 0;

	blf_db_sh_lock(locked);
	dels = blf_db_sh->dels;
	blf_db_sh->dels = NULL;
	blf_db_sh->ndels = 0;
	blf_db_sh_unlock(locked);
	if(dels == NULL)
		return 0;
	if(blf_db_begin() == 0) {
		for(d = dels, n = 0; d; d = d->next, n++)
			if(blf_db_del_one(d) < 0)
				break;
		if(d == NULL && blf_db_commit() == 0) {
			*deleted += n;
			blf_db_dels_free(dels);
			return 0;
		}
		blf_db_rollback();
	}
	if(!blf_db_alive()) {
		blf_db_requeue(dels, locked);
		return -1;
	}
	while(dels) {
		d = dels;
		dels = d->next;
		if(blf_db_del_one(d) == 0) {
			(*deleted)++;
			shm_free(d);
		} else {
			d->next = failed;
			failed = d;
		}
	}
	blf_db_requeue(failed, locked);
	return 0;
}

/*
 * Every subscription, after a DELETE of every row: in one transaction, or
 * (when that fails while the server answers) statement by statement, the
 * refused rows staying dirty for the next flushes. Streams slot by slot:
 * 10k copies would not fit in a process's private memory at once.
 */
static int blf_db_rewrite_pass(int locked, int txn, int *written)
{
	blf_db_row_t *rows, *r, *refused = NULL;
	unsigned int i;
	int ok = 0;

	*written = 0;
	if(txn && blf_db_begin() < 0)
		return -1;
	if(blf_db_wipe() < 0)
		goto error;
	for(i = 0; i < blf_table_slots(); i++) {
		if(blf_table_slot_empty(i))
			continue;
		rows = NULL;
		if(locked)
			blf_slot_lock(i);
		blf_db_collect(i, 1, &rows);
		if(locked)
			blf_slot_unlock(i);
		while(rows) {
			r = rows;
			rows = r->next;
			if(blf_db_put(r, 1) == 0) {
				ok++;
				pkg_free(r);
				continue;
			}
			if(txn) {
				pkg_free(r);
				blf_db_rows_free(rows);
				goto error;
			}
			r->next = refused;
			refused = r;
		}
	}
	if(txn && blf_db_commit() < 0)
		goto error;
	*written = ok;
	if(ok == 0 && refused) {
		blf_db_rows_free(refused);
		return -1; /* nothing went in: the rewrite is done again */
	}
	blf_db_refused(refused, locked);
	return 0;
error:
	if(txn)
		blf_db_rollback();
	return -1;
}

static int blf_db_rewrite(int locked, int *written)
{
	if(blf_db_rewrite_pass(locked, 1, written) == 0)
		return 0;
	if(!blf_db_alive())
		return -1;
	LM_WARN("rewriting table %.*s row by row\n", blf_cfg.db_table.len,
			blf_cfg.db_table.s);
	return blf_db_rewrite_pass(locked, 0, written);
}

/*
 * One flush: the whole table when deletes were lost, else the dirty rows
 * then the queued deletes. locked = 0 only in mod_destroy (no other
 * process left). Returns 0 or -1 (nothing lost: retried next time).
 */
static int blf_db_flush(int locked)
{
	blf_db_del_t *dels = NULL;
	int resync, rc, written = 0, deleted = 0;

	if(blf_db_open() < 0)
		return -1;
	blf_db_sh_lock(locked);
	resync = blf_db_sh->resync;
	blf_db_sh->resync = 0;
	if(resync) {
		dels = blf_db_sh->dels; /* covered by the rewrite */
		blf_db_sh->dels = NULL;
		blf_db_sh->ndels = 0;
	}
	blf_db_sh->inflight = 1;
	blf_db_sh_unlock(locked);

	if(resync) {
		blf_db_dels_free(dels);
		rc = blf_db_rewrite(locked, &written);
	} else {
		rc = blf_db_flush_dirty(locked, &written);
		if(rc == 0)
			rc = blf_db_flush_deletes(locked, &deleted);
	}

	blf_db_sh_lock(locked);
	if(rc < 0 && resync)
		blf_db_sh->resync = 1;
	blf_db_sh->inflight = 0;
	blf_db_sh_unlock(locked);

	if(rc < 0) {
		blf_db_close(); /* reconnect next time */
		return -1;
	}
	if(written || deleted || resync)
		LM_DBG("%s: %d rows written, %d deleted\n",
				resync ? "table rewritten" : "flushed", written, deleted);
	return 0;
}

/* the BLF DB FLUSH process */
static void blf_db_flush_timer(unsigned int ticks, void *param)
{
	blf_db_pub_flush(1); /* the publications: logs its own failures */
	if(blf_db_flush(1) == 0) {
		if(blf_db_failing)
			LM_NOTICE("database writes work again, after %d failed "
					  "flushes\n",
					blf_db_failing);
		blf_db_failing = 0;
		return;
	}
	/* one line on the first failure and then every 30th, not a flood */
	if(blf_db_failing++ % 30 == 0)
		LM_ERR("cannot write subscriptions to table %.*s: retrying every "
			   "%d s, SIP goes on\n",
				blf_cfg.db_table.len, blf_cfg.db_table.s,
				blf_cfg.db_flush_interval);
}

/* ---- lifecycle ---- */

/*
 * Modules are destroyed in reverse load order. The stock dialog module's
 * destroy waits on its timer lock, which a child may have held when it
 * _exit()ed on SIGTERM: the stop then hangs there until it is killed.
 * Loaded after dialog, blf has flushed by then; loaded before, its last
 * flush would be lost with the hang. Said once at start.
 */
static void blf_db_order_check(void)
{
	sr_module_t *m;

	for(m = get_loaded_modules(); m; m = m->next) {
		if(m->exports.name && strcmp(m->exports.name, "blf") == 0)
			return; /* destroyed before everything after it */
		if(m->exports.name && strcmp(m->exports.name, "dialog") == 0) {
			LM_WARN("blf is loaded before dialog: load it after dialog so "
					"that its last database flush runs before dialog's "
					"destroy, which can hang a stop\n");
			return;
		}
	}
}

int blf_db_init(void)
{
	int rc;

	if(blf_cfg.db_url.len == 0)
		return 0;
	blf_db_order_check();
	if(blf_cfg.db_flush_interval < 1)
		blf_cfg.db_flush_interval = 1;
	blf_db_sh = shm_malloc(sizeof(*blf_db_sh));
	if(blf_db_sh == NULL) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(blf_db_sh, 0, sizeof(*blf_db_sh));
	lock_init(&blf_db_sh->lock);
	rc = blf_db_sql_init();
	if(rc < 0)
		return -1;
	if(rc > 0) {
		/* what the table holds is unknown: the first flush that works
		 * replaces it with what this node has */
		LM_ERR("database of db_url not usable: starting without the stored "
			   "subscriptions (watchers subscribe again at their refresh); "
			   "the table is rewritten once the database works\n");
		blf_db_sh->resync = 1;
	}
	if(register_sync_timers(1) < 0) {
		LM_ERR("cannot register the flush process\n");
		return -1;
	}
	/* the publications' table (blf_db_pub.c) */
	if(blf_db_pub_init() < 0)
		return -1;
	return blf_chg_listen(BLF_CHG_SUB_DEL | BLF_CHG_SUB_GONE, blf_db_chg, NULL);
}

int blf_db_child_init(int rank)
{
	if(blf_db_sh == NULL || rank != PROC_MAIN)
		return 0;
	if(fork_sync_timer(PROC_TIMER, "BLF DB FLUSH", 1, blf_db_flush_timer,
			   NULL, blf_cfg.db_flush_interval)
			< 0) {
		LM_ERR("cannot start the database flush process\n");
		return -1;
	}
	return 0;
}

/*
 * Shutdown, in the main process after every child has exited: the last
 * flush, so a graceful restart resumes with the exact next version. No
 * lock is taken (a child may have died holding one). When the flush
 * process was killed in the middle of a flush, the rows it held are known
 * to nobody: the whole table is rewritten.
 */
void blf_db_destroy(void)
{
	if(blf_db_sh == NULL)
		return;
	if(_ksr_is_main && blf_table) {
		if(blf_db_sh->inflight)
			blf_db_sh->resync = 1;
		blf_lsub_mvers_nolocks(); /* lists' member versions: no lock */
		if(blf_db_flush(0) < 0)
			LM_ERR("last flush to table %.*s failed: changes since the "
				   "last successful flush are lost\n",
					blf_cfg.db_table.len, blf_cfg.db_table.s);
		if(blf_db_pub_flush(0) < 0)
			LM_ERR("last flush of the publications failed\n");
		blf_db_close();
	}
	blf_db_pub_destroy();
	blf_db_dels_free(blf_db_sh->dels);
	shm_free(blf_db_sh);
	blf_db_sh = NULL;
}
