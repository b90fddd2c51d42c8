/*
 * blf_db_pub.c — persistence of publications (RFC 3903) with db_url: the
 * table blf_publications (entity, etag, expires, modified, body), written
 * behind like the subscriptions and restored at start.
 *
 * Write: a change listener (BLF_CHG_PUB_PUT / _DEL, run in the process that
 * made the change, after the unlock) puts a copy of the change on a bounded
 * shm queue; the flush process ("BLF DB FLUSH", blf_db.c) applies the queue
 * in order each db_flush_interval (an ETag's row deleted, then inserted for
 * a PUT), in one transaction. SIP workers never touch the database. A
 * failed flush or a full queue makes the next flush rewrite the whole table
 * from the publications in memory (they are few: max_publications per
 * entity).
 *
 * Restore (mod_init, before the fork): the table is created when missing,
 * expired rows are deleted, every other row's raw body is parsed again
 * (blf_pidf_parse, with publish_max_body) and linked with its ETag, so a
 * client's refresh after the restart still matches; a row that does not
 * parse is skipped with a log line.
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
#include "core/locking.h"

#include "blf_db.h"
#include "blf_chg.h"
#include "blf_pidf.h"

#define BLF_DBP_QUEUE_MAX 4096 /* queued changes before a full rewrite */
#define BLF_DBP_ETAG_MAX 32	   /* bytes of a stored ETag */

static str blf_dbp_table = str_init("blf_publications");

enum
{
	BLF_DBP_ENTITY = 0,
	BLF_DBP_ETAG,
	BLF_DBP_EXPIRES,
	BLF_DBP_MODIFIED,
	BLF_DBP_SEQ,
	BLF_DBP_BODY,
	BLF_DBP_N
};

/* seq: the order of the writes, so that the restore rebuilds each entity's
 * list newest first (a refresh moves a publication to the head; seconds
 * cannot order two PUBLISHes of the same second) */
static str blf_dbp_cols[BLF_DBP_N] = {
		str_init("entity"),
		str_init("etag"),
		str_init("expires"),
		str_init("modified"),
		str_init("seq"),
		str_init("body"),
};

/* the CREATE statement, the same as sql/<db>/blf-create.sql ships */
#define BLF_DBP_CREATE_SQL                            \
	"CREATE TABLE IF NOT EXISTS blf_publications (\n" \
	"    etag TEXT PRIMARY KEY NOT NULL,\n"           \
	"    entity TEXT NOT NULL,\n"                     \
	"    expires BIGINT NOT NULL,\n"                  \
	"    modified BIGINT DEFAULT 0 NOT NULL,\n"       \
	"    seq BIGINT DEFAULT 0 NOT NULL,\n"            \
	"    body TEXT NOT NULL\n"                        \
	")"

/* one queued change, one shm block (its strings after it) */
typedef struct blf_dbp_op
{
	struct blf_dbp_op *next;
	int del;
	time_t expires, modified;
	str key, etag, body;
} blf_dbp_op_t;

typedef struct blf_dbp_shared
{
	gen_lock_t lock; /* guards everything below */
	blf_dbp_op_t *first, *last;
	int n;
	int resync;	   /* changes were lost: rewrite the whole table */
	long long seq; /* the last seq written (restored: the highest) */
} blf_dbp_shared_t;

static blf_dbp_shared_t *blf_dbp_sh = NULL;

static void blf_dbp_ops_free(blf_dbp_op_t *o, int shm)
{
	blf_dbp_op_t *n;

	for(; o; o = n) {
		n = o->next;
		if(shm)
			shm_free(o);
		else
			pkg_free(o);
	}
}

/* a copy of a change (shm or pkg), NULL without memory */
static blf_dbp_op_t *blf_dbp_op_new(
		int del, const str *key, const blf_pub_t *p, int shm)
{
	size_t el = strlen(p->etag);
	size_t bl = del ? 0 : p->body_len;
	size_t len = sizeof(blf_dbp_op_t) + key->len + el + bl + 3;
	blf_dbp_op_t *o;
	char *s;

	o = shm ? shm_malloc(len) : pkg_malloc(len);
	if(o == NULL)
		return NULL;
	memset(o, 0, sizeof(*o));
	o->del = del;
	o->expires = p->expires;
	o->modified = p->modified;
	s = (char *)(o + 1);
	o->key.s = s;
	o->key.len = key->len;
	memcpy(s, key->s, key->len);
	s[key->len] = '\0';
	s += key->len + 1;
	o->etag.s = s;
	o->etag.len = (int)el;
	memcpy(s, p->etag, el + 1);
	s += el + 1;
	o->body.s = s;
	o->body.len = (int)bl;
	if(bl)
		memcpy(s, p->body, bl);
	s[bl] = '\0';
	return o;
}

/* the listener: queue the publication changes of this batch */
static void blf_dbp_chg(blf_chg_batch_t *b, void *param)
{
	blf_chg_t *g = NULL;
	blf_dbp_op_t *o;

	while((g = blf_chg_next(b, g, BLF_CHG_PUB_PUT | BLF_CHG_PUB_DEL))) {
		o = NULL;
		lock_get(&blf_dbp_sh->lock);
		if(!blf_dbp_sh->resync && blf_dbp_sh->n < BLF_DBP_QUEUE_MAX)
			o = blf_dbp_op_new(g->kind == BLF_CHG_PUB_DEL, &g->key, g->pub, 1);
		if(o == NULL) {
			/* full or no memory: the next flush rewrites the table */
			blf_dbp_sh->resync = 1;
			blf_dbp_ops_free(blf_dbp_sh->first, 1);
			blf_dbp_sh->first = blf_dbp_sh->last = NULL;
			blf_dbp_sh->n = 0;
		} else {
			if(blf_dbp_sh->last)
				blf_dbp_sh->last->next = o;
			else
				blf_dbp_sh->first = o;
			blf_dbp_sh->last = o;
			blf_dbp_sh->n++;
		}
		lock_release(&blf_dbp_sh->lock);
	}
	if(blf_chg_lost(b) & (BLF_CHG_PUB_PUT | BLF_CHG_PUB_DEL)) {
		lock_get(&blf_dbp_sh->lock);
		blf_dbp_sh->resync = 1;
		lock_release(&blf_dbp_sh->lock);
	}
}

/* ---- writing ---- */

static int blf_dbp_del(const str *etag)
{
	db_func_t *f = blf_db_api();
	db_key_t k[1] = {&blf_dbp_cols[BLF_DBP_ETAG]};
	db_op_t op[1] = {OP_EQ};
	db_val_t v[1];

	memset(v, 0, sizeof(v));
	VAL_TYPE(&v[0]) = DB1_STR;
	VAL_STR(&v[0]) = *etag;
	return f->delete(blf_db_con(), k, op, v, 1) < 0 ? -1 : 0;
}

static int blf_dbp_ins(const blf_dbp_op_t *o, long long seq)
{
	db_func_t *f = blf_db_api();
	db_key_t k[BLF_DBP_N];
	db_val_t v[BLF_DBP_N];
	int i;

	memset(v, 0, sizeof(v));
	for(i = 0; i < BLF_DBP_N; i++)
		k[i] = &blf_dbp_cols[i];
	VAL_TYPE(&v[BLF_DBP_ENTITY]) = DB1_STR;
	VAL_STR(&v[BLF_DBP_ENTITY]) = o->key;
	VAL_TYPE(&v[BLF_DBP_ETAG]) = DB1_STR;
	VAL_STR(&v[BLF_DBP_ETAG]) = o->etag;
	VAL_TYPE(&v[BLF_DBP_EXPIRES]) = DB1_BIGINT;
	VAL_BIGINT(&v[BLF_DBP_EXPIRES]) = (long long)o->expires;
	VAL_TYPE(&v[BLF_DBP_MODIFIED]) = DB1_BIGINT;
	VAL_BIGINT(&v[BLF_DBP_MODIFIED]) = (long long)o->modified;
	VAL_TYPE(&v[BLF_DBP_SEQ]) = DB1_BIGINT;
	VAL_BIGINT(&v[BLF_DBP_SEQ]) = seq;
	VAL_TYPE(&v[BLF_DBP_BODY]) = DB1_STR;
	VAL_STR(&v[BLF_DBP_BODY]) = o->body;
	return f->insert(blf_db_con(), k, v, BLF_DBP_N) < 0 ? -1 : 0;
}

/* the table walk of a rewrite: every live publication, copied (pkg);
 * each entity's list is walked newest first and prepended, so the copies
 * come oldest first and get rising seqs */
typedef struct blf_dbp_walk
{
	blf_dbp_op_t *ops;
	time_t now;
	int nomem;
} blf_dbp_walk_t;

static int blf_dbp_collect(blf_entity_t *e, void *arg)
{
	blf_dbp_walk_t *w = arg;
	blf_dbp_op_t *o;
	blf_pub_t *p;

	for(p = e->pubs; p; p = p->next) {
		if(p->expires <= w->now || p->origin != 0)
			continue;
		o = blf_dbp_op_new(0, &e->key, p, 0);
		if(o == NULL) {
			w->nomem = 1;
			return 1;
		}
		o->next = w->ops;
		w->ops = o;
	}
	return 0;
}

/* applies ops in order inside one transaction; -1 on a failure */
static int blf_dbp_apply(blf_dbp_op_t *ops, int wipe)
{
	db_func_t *f = blf_db_api();
	blf_dbp_op_t *o;

	if(f->use_table(blf_db_con(), &blf_dbp_table) < 0)
		return -1;
	if(blf_db_begin() < 0)
		goto fail;
	if(wipe && f->delete(blf_db_con(), NULL, NULL, NULL, 0) < 0)
		goto rollback;
	for(o = ops; o; o = o->next) {
		if(!wipe && blf_dbp_del(&o->etag) < 0)
			goto rollback;
		if(!o->del && blf_dbp_ins(o, ++blf_dbp_sh->seq) < 0)
			goto rollback;
	}
	if(blf_db_commit() < 0)
		goto rollback;
	blf_db_use_subs();
	return 0;
rollback:
	blf_db_rollback();
fail:
	blf_db_use_subs();
	return -1;
}

/*
 * The flush of the queued changes (or the rewrite of the whole table),
 * from the flush process (locked 1) or at shutdown in the main process
 * once every child has exited (locked 0: no lock is taken, a child may
 * have died holding one). 0, or -1 (retried at the next interval).
 */
int blf_db_pub_flush(int locked)
{
	blf_dbp_walk_t w;
	blf_dbp_op_t *ops;
	unsigned int i;
	int resync, rc;

	if(blf_dbp_sh == NULL)
		return 0;
	if(locked)
		lock_get(&blf_dbp_sh->lock);
	ops = blf_dbp_sh->first;
	resync = blf_dbp_sh->resync;
	blf_dbp_sh->first = blf_dbp_sh->last = NULL;
	blf_dbp_sh->n = 0;
	blf_dbp_sh->resync = 0;
	if(locked)
		lock_release(&blf_dbp_sh->lock);
	if(ops == NULL && !resync)
		return 0;
	if(resync) {
		/* what the queue held is older than what the walk copies */
		blf_dbp_ops_free(ops, 1);
		ops = NULL;
		memset(&w, 0, sizeof(w));
		w.now = time(NULL);
		for(i = 0; i < blf_table_slots() && !w.nomem; i++) {
			if(blf_table_slot_empty(i))
				continue;
			if(locked)
				blf_table_slot_each(i, blf_dbp_collect, &w);
			else
				blf_slot_each(i, blf_dbp_collect, &w);
		}
		rc = w.nomem ? -1 : (blf_db_open() < 0 ? -1 : blf_dbp_apply(w.ops, 1));
		blf_dbp_ops_free(w.ops, 0);
	} else {
		rc = blf_db_open() < 0 ? -1 : blf_dbp_apply(ops, 0);
		blf_dbp_ops_free(ops, 1);
	}
	if(rc < 0) {
		LM_ERR("cannot write publications to table %.*s: the whole table "
			   "is rewritten at the next flush\n",
				blf_dbp_table.len, blf_dbp_table.s);
		blf_db_close();
		if(locked)
			lock_get(&blf_dbp_sh->lock);
		blf_dbp_sh->resync = 1;
		if(locked)
			lock_release(&blf_dbp_sh->lock);
	}
	return rc;
}

/* ---- restore ---- */

static void blf_dbp_restore_row(
		const db_val_t *v, time_t now, int *loaded, int *skipped)
{
	char kbuf[BLF_KEY_MAX], err[128], etag[BLF_DBP_ETAG_MAX + 1];
	blf_pidf_limits_t lim;
	blf_pidf_pub_t *doc = NULL;
	str key, et, body;
	time_t exp, mod;

	blf_db_val_to_str(&v[BLF_DBP_ENTITY], &key);
	blf_db_val_to_str(&v[BLF_DBP_ETAG], &et);
	blf_db_val_to_str(&v[BLF_DBP_BODY], &body);
	exp = (time_t)blf_db_val_to_int(&v[BLF_DBP_EXPIRES]);
	if(blf_db_val_to_int(&v[BLF_DBP_SEQ]) > blf_dbp_sh->seq)
		blf_dbp_sh->seq = blf_db_val_to_int(&v[BLF_DBP_SEQ]);
	mod = (time_t)blf_db_val_to_int(&v[BLF_DBP_MODIFIED]);
	if(exp <= now)
		return;
	if(key.len == 0 || key.len >= (int)sizeof(kbuf)
			|| memchr(key.s, '@', key.len) == NULL || et.len == 0
			|| et.len > BLF_DBP_ETAG_MAX || et.len > BLF_PIDF_ETAG_LEN
			|| body.len == 0 || body.len > blf_cfg.publish_max_body) {
		(*skipped)++;
		return;
	}
	memcpy(kbuf, key.s, key.len);
	key.s = kbuf;
	memcpy(etag, et.s, et.len);
	etag[et.len] = '\0';
	memset(&lim, 0, sizeof(lim));
	lim.max_body = (size_t)blf_cfg.publish_max_body;
	lim.max_tuples = BLF_PIDF_MAX_TUPLES;
	lim.max_depth = BLF_PIDF_MAX_DEPTH;
	lim.max_note = BLF_PIDF_MAX_NOTE;
	lim.max_id = BLF_PIDF_MAX_ID;
	if(blf_pidf_parse(body.s, body.len, &lim, &doc, err, sizeof(err)) != 0) {
		LM_WARN("publication %s of %.*s in table %.*s skipped: %s\n", etag,
				key.len, key.s, blf_dbp_table.len, blf_dbp_table.s, err);
		(*skipped)++;
		return;
	}
	if(blf_pub_restore(&key, etag, exp, mod, doc, &body) < 0)
		(*skipped)++;
	else
		(*loaded)++;
	free(doc);
}

static int blf_dbp_restore(void)
{
	db_func_t *f = blf_db_api();
	db_key_t cols[BLF_DBP_N], k[1];
	db_op_t op[1] = {OP_LEQ};
	db_val_t v[1];
	db1_res_t *res = NULL;
	time_t now = time(NULL);
	int i, loaded = 0, skipped = 0;

	if(f->use_table(blf_db_con(), &blf_dbp_table) < 0)
		return -1;
	k[0] = &blf_dbp_cols[BLF_DBP_EXPIRES];
	memset(v, 0, sizeof(v));
	VAL_TYPE(&v[0]) = DB1_BIGINT;
	VAL_BIGINT(&v[0]) = (long long)now;
	if(f->delete(blf_db_con(), k, op, v, 1) < 0)
		LM_WARN("cannot delete the expired rows of table %.*s\n",
				blf_dbp_table.len, blf_dbp_table.s);
	for(i = 0; i < BLF_DBP_N; i++)
		cols[i] = &blf_dbp_cols[i];
	/* oldest first: each one restored goes to its entity's head */
	if(f->query(blf_db_con(), NULL, NULL, NULL, cols, 0, BLF_DBP_N,
			   &blf_dbp_cols[BLF_DBP_SEQ],
			   &res) < 0
			|| res == NULL) {
		LM_ERR("cannot read table %.*s\n", blf_dbp_table.len, blf_dbp_table.s);
		blf_db_use_subs();
		return -1;
	}
	for(i = 0; i < RES_ROW_N(res); i++)
		blf_dbp_restore_row(
				ROW_VALUES(&RES_ROWS(res)[i]), now, &loaded, &skipped);
	f->free_result(blf_db_con(), res);
	blf_db_use_subs();
	LM_NOTICE("restored %d publications from table %.*s (%d skipped)\n", loaded,
			blf_dbp_table.len, blf_dbp_table.s, skipped);
	return 0;
}

int blf_db_pub_init(void)
{
	blf_dbp_sh = shm_malloc(sizeof(*blf_dbp_sh));
	if(blf_dbp_sh == NULL) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(blf_dbp_sh, 0, sizeof(*blf_dbp_sh));
	lock_init(&blf_dbp_sh->lock);
	if(blf_db_open() < 0
			|| (blf_db_api()->raw_query
					&& blf_db_raw_sql(BLF_DBP_CREATE_SQL, NULL) < 0)
			|| blf_dbp_restore() < 0) {
		/* SIP first: start without them, the first working flush writes
		 * what this node has */
		LM_ERR("table %.*s not usable: starting without the stored "
			   "publications\n",
				blf_dbp_table.len, blf_dbp_table.s);
		blf_dbp_sh->resync = 1;
	}
	blf_db_close(); /* no connection may cross a fork */
	return blf_chg_listen(BLF_CHG_PUB_PUT | BLF_CHG_PUB_DEL, blf_dbp_chg, NULL);
}

void blf_db_pub_destroy(void)
{
	if(blf_dbp_sh == NULL)
		return;
	blf_dbp_ops_free(blf_dbp_sh->first, 1);
	shm_free(blf_dbp_sh);
	blf_dbp_sh = NULL;
}
