/*
 * blf_db_sql.c — the SQL side of the persistence of subscriptions: the
 * table (its columns, its CREATE for sqlite and postgres), the connection,
 * row writes with their transaction and fallback, and the restore at
 * start. Everything goes through Kamailio's DB API (srdb1), so any driver
 * with query, insert and delete works; raw SQL is used when the driver has
 * it (the CREATE, paging the restore, the CSeq margin, sqlite's BEGIN).
 * When a write runs is blf_db.c's business.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>
#include <stdio.h>
#include <stdlib.h>
#include <ctype.h>

#include "core/mem/shm_mem.h"
#include "core/mem/mem.h"
#include "core/dprint.h"
#include "core/ut.h"
#include "core/socket_info.h"
#include "lib/srdb1/db.h"

#include "blf_db.h"
#include "blf_lsub.h"

#define BLF_DB_PAGE 500			/* rows per SELECT when restoring */
#define BLF_DB_CSEQ_MARGIN 1000 /* added to the stored CSeqs at each start */
#define BLF_DB_SQL_MAX 2048

/* ---- the table ---- */

enum blf_db_col {
	BLF_DC_CALLID = 0, /* the dialog key comes first (replace() wants it) */
	BLF_DC_FTAG,
	BLF_DC_TTAG,
	BLF_DC_ENTITY,
	BLF_DC_WATCHER,
	BLF_DC_WURI,
	BLF_DC_URI,
	BLF_DC_ENTITY_ESC,
	BLF_DC_CONTACT,
	BLF_DC_RR,
	BLF_DC_SOCKET,
	BLF_DC_LCONTACT,
	BLF_DC_EVID,
	BLF_DC_DST,
	BLF_DC_EXPIRES,
	BLF_DC_VERSION,
	BLF_DC_CSEQ,
	BLF_DC_FLAGS,
	BLF_DC_VIS,
	BLF_DC_EVENT, /* the event package's name (absent before: dialog) */
	BLF_DC_MVERS, /* a list's member versions (blf_mvers.h); optional:
				   * last, so a table without it uses BLF_DC_N - 1 */
	BLF_DC_N
};

/* clang-format off */
static str blf_db_cols[BLF_DC_N] = {
	str_init("callid"), str_init("from_tag"), str_init("to_tag"),
	str_init("entity"), str_init("watcher"), str_init("watcher_uri"),
	str_init("uri"), str_init("entity_esc"), str_init("contact"),
	str_init("record_route"), str_init("socket"), str_init("local_contact"),
	str_init("event_id"), str_init("dst"), str_init("expires"),
	str_init("version"),
	str_init("cseq"), str_init("flags"), str_init("vis"),
	str_init("event"), str_init("mvers"),
};
static str blf_db_col_id = str_init("id");

/* the column of each subscription field */
static const int blf_db_fcol[BLF_SF_N] = {
	[BLF_SF_CALLID] = BLF_DC_CALLID,
	[BLF_SF_FTAG] = BLF_DC_FTAG,
	[BLF_SF_TTAG] = BLF_DC_TTAG,
	[BLF_SF_WATCHER] = BLF_DC_WATCHER,
	[BLF_SF_WURI] = BLF_DC_WURI,
	[BLF_SF_URI] = BLF_DC_URI,
	[BLF_SF_ENTITY_ESC] = BLF_DC_ENTITY_ESC,
	[BLF_SF_CONTACT] = BLF_DC_CONTACT,
	[BLF_SF_RR] = BLF_DC_RR,
	[BLF_SF_SOCKET] = BLF_DC_SOCKET,
	[BLF_SF_LCONTACT] = BLF_DC_LCONTACT,
	[BLF_SF_EVID] = BLF_DC_EVID,
	[BLF_SF_DST] = BLF_DC_DST,
};

/*
 * The CREATE statements (%1$s: the table), the same as sql/<db>/ ships.
 * Every string column is TEXT: SIP sets no length limit, and a value the
 * DB refused for its length would keep that row out of the DB for good.
 */
#define BLF_DB_COLS_SQL(id_type) \
	"CREATE TABLE %1$s (\n" \
	"    id " id_type " PRIMARY KEY NOT NULL,\n" \
	"    callid TEXT NOT NULL,\n" \
	"    from_tag TEXT NOT NULL,\n" \
	"    to_tag TEXT NOT NULL,\n" \
	"    entity TEXT NOT NULL,\n" \
	"    watcher TEXT NOT NULL,\n" \
	"    watcher_uri TEXT NOT NULL,\n" \
	"    uri TEXT NOT NULL,\n" \
	"    entity_esc TEXT NOT NULL,\n" \
	"    contact TEXT NOT NULL,\n" \
	"    record_route TEXT DEFAULT '' NOT NULL,\n" \
	"    socket TEXT NOT NULL,\n" \
	"    local_contact TEXT NOT NULL,\n" \
	"    event_id TEXT DEFAULT '' NOT NULL,\n" \
	"    dst TEXT DEFAULT '' NOT NULL,\n" \
	"    expires BIGINT NOT NULL,\n" \
	"    version BIGINT DEFAULT 0 NOT NULL,\n" \
	"    cseq BIGINT DEFAULT 0 NOT NULL,\n" \
	"    flags INTEGER DEFAULT 0 NOT NULL,\n" \
	"    vis INTEGER DEFAULT 0 NOT NULL,\n" \
	"    event TEXT DEFAULT 'dialog' NOT NULL,\n" \
	"    mvers TEXT DEFAULT '' NOT NULL,\n" \
	"    CONSTRAINT %1$s_dialog_idx UNIQUE (callid, from_tag, to_tag)\n" \
	")"
#define BLF_DB_INDEX_SQL \
	"CREATE INDEX %1$s_expires_idx ON %1$s (expires)"

typedef enum blf_db_kind {
	BLF_DB_OTHER = 0,
	BLF_DB_SQLITE,
	BLF_DB_POSTGRES
} blf_db_kind_t;

static const struct {
	const char *scheme;
	const char *exists; /* %1$s: the table; a row when it exists */
	const char *create;
	const char *has_event; /* %1$s: the table; a row when it has the
							* event column (tables of older versions lack it) */
	const char *has_mvers; /* the same for the mvers column */
} blf_db_dialects[] = {
	[BLF_DB_OTHER] = {NULL, NULL, NULL, NULL, NULL},
	[BLF_DB_SQLITE] = {"sqlite:",
		"SELECT name FROM sqlite_master WHERE type='table' AND "
		"lower(name)=lower('%1$s')",
		BLF_DB_COLS_SQL("INTEGER"),
		"SELECT name FROM pragma_table_info('%1$s') WHERE name='event'",
		"SELECT name FROM pragma_table_info('%1$s') WHERE name='mvers'"},
	[BLF_DB_POSTGRES] = {"postgres:",
		"SELECT table_name FROM information_schema.tables WHERE "
		"table_name=lower('%1$s') AND "
		"table_schema=ANY(current_schemas(false))",
		BLF_DB_COLS_SQL("SERIAL"),
		"SELECT column_name FROM information_schema.columns WHERE "
		"table_name=lower('%1$s') AND column_name='event' AND "
		"table_schema=ANY(current_schemas(false))",
		"SELECT column_name FROM information_schema.columns WHERE "
		"table_name=lower('%1$s') AND column_name='mvers' AND "
		"table_schema=ANY(current_schemas(false))"},
};
/* clang-format on */

/* ---- state ---- */

static db_func_t blf_dbf;
static db1_con_t *blf_dbh = NULL; /* this process's connection */
/* the columns of the table: BLF_DC_N, or BLF_DC_N - 1 when it has no
 * mvers column (a table of another DB the operator made before it, or
 * whose ALTER failed): lists' member versions are then not stored */
static int blf_db_ncols = BLF_DC_N;
static blf_db_kind_t blf_db_kind = BLF_DB_OTHER;

/* ---- connection and statements ---- */

int blf_db_open(void)
{
	if(blf_dbh)
		return 0;
	blf_dbh = blf_dbf.init(&blf_cfg.db_url);
	if(blf_dbh == NULL) {
		/* the callers say what it means (start, flush): no flood here */
		LM_DBG("cannot connect to the database of db_url\n");
		return -1;
	}
	if(blf_dbf.use_table(blf_dbh, &blf_cfg.db_table) < 0) {
		LM_ERR("cannot use table %.*s\n", blf_cfg.db_table.len,
				blf_cfg.db_table.s);
		blf_dbf.close(blf_dbh);
		blf_dbh = NULL;
		return -1;
	}
	return 0;
}

void blf_db_close(void)
{
	if(blf_dbh) {
		blf_dbf.close(blf_dbh);
		blf_dbh = NULL;
	}
}

/*
 * A raw statement; with rows, their number is returned through it. A
 * result pointer is always passed: db_sqlite only runs the statement when
 * it has somewhere to store the result.
 */
static int blf_db_raw(const char *sql, int *rows)
{
	db1_res_t *res = NULL;
	str q;

	if(blf_dbf.raw_query == NULL)
		return -1;
	q.s = (char *)sql;
	q.len = strlen(sql);
	if(blf_dbf.raw_query(blf_dbh, &q, &res) < 0) {
		if(res)
			blf_dbf.free_result(blf_dbh, res);
		return -1;
	}
	if(rows)
		*rows = res ? RES_ROW_N(res) : 0;
	if(res)
		blf_dbf.free_result(blf_dbh, res);
	return 0;
}

db_func_t *blf_db_api(void)
{
	return &blf_dbf;
}

db1_con_t *blf_db_con(void)
{
	return blf_dbh;
}

int blf_db_use_subs(void)
{
	return blf_dbh ? blf_dbf.use_table(blf_dbh, &blf_cfg.db_table) : -1;
}

int blf_db_raw_sql(const char *sql, int *rows)
{
	return blf_db_raw(sql, rows);
}

int blf_db_begin(void)
{
	if(blf_dbf.start_transaction)
		return blf_dbf.start_transaction(blf_dbh, DB_LOCKING_NONE) < 0 ? -1
																		: 0;
	if(blf_dbf.raw_query)
		return blf_db_raw("BEGIN", NULL);
	return 0; /* no transactions: statement by statement */
}

int blf_db_commit(void)
{
	if(blf_dbf.end_transaction)
		return blf_dbf.end_transaction(blf_dbh) < 0 ? -1 : 0;
	if(blf_dbf.raw_query)
		return blf_db_raw("COMMIT", NULL);
	return 0;
}

void blf_db_rollback(void)
{
	if(blf_dbf.abort_transaction)
		blf_dbf.abort_transaction(blf_dbh);
	else if(blf_dbf.raw_query)
		blf_db_raw("ROLLBACK", NULL);
}

/* does the server answer at all? (tells a dead DB from a refused row) */
int blf_db_alive(void)
{
	if(blf_dbf.raw_query == NULL)
		return 1;
	return blf_db_raw("SELECT 1", NULL) == 0;
}

int blf_db_wipe(void)
{
	return blf_dbf.delete(blf_dbh, NULL, NULL, NULL, 0) < 0 ? -1 : 0;
}

/* ---- rows ---- */

blf_db_row_t *blf_db_row_new(const blf_entity_t *e, const blf_sub_t *s)
{
	blf_db_row_t *r;
	size_t len = sizeof(*r) + e->key.len + 1;
	char *p;
	int i;

	for(i = 0; i < BLF_SF_N; i++)
		len += BLF_SF(s, i).len + 1;
	r = pkg_malloc(len);
	if(r == NULL) {
		PKG_MEM_ERROR;
		return NULL;
	}
	memset(r, 0, sizeof(*r));
	p = (char *)(r + 1);
	r->key.s = p;
	r->key.len = e->key.len;
	memcpy(p, e->key.s, e->key.len);
	p[e->key.len] = '\0';
	p += e->key.len + 1;
	for(i = 0; i < BLF_SF_N; i++) {
		r->f[i].s = p;
		r->f[i].len = BLF_SF(s, i).len;
		memcpy(p, BLF_SF(s, i).s, BLF_SF(s, i).len);
		p[BLF_SF(s, i).len] = '\0';
		p += BLF_SF(s, i).len + 1;
	}
	r->hash = e->hash;
	r->expires = s->expires;
	r->version = s->version;
	r->cseq = s->cseq;
	r->flags = s->flags & (BLF_SUB_WILDCARD | BLF_SUB_LIST);
	r->vis = s->vis;
	r->event = blf_pkg_get(s->pkg) ? blf_pkg_get(s->pkg)->name : "dialog";
	return r;
}

void blf_db_rows_free(blf_db_row_t *r)
{
	blf_db_row_t *n;

	for(; r; r = n) {
		n = r->next;
		pkg_free(r);
	}
}

static void blf_db_keys(db_key_t *k)
{
	int i;

	for(i = 0; i < blf_db_ncols; i++)
		k[i] = &blf_db_cols[i];
}

static void blf_db_row_vals(const blf_db_row_t *r, db_val_t *v)
{
	int i, c;

	memset(v, 0, BLF_DC_N * sizeof(db_val_t));
	for(i = 0; i < BLF_SF_N; i++) {
		c = blf_db_fcol[i];
		VAL_TYPE(&v[c]) = DB1_STR;
		VAL_STR(&v[c]) = r->f[i];
	}
	VAL_TYPE(&v[BLF_DC_ENTITY]) = DB1_STR;
	VAL_STR(&v[BLF_DC_ENTITY]) = r->key;
	VAL_TYPE(&v[BLF_DC_EXPIRES]) = DB1_BIGINT;
	VAL_BIGINT(&v[BLF_DC_EXPIRES]) = (long long)r->expires;
	VAL_TYPE(&v[BLF_DC_VERSION]) = DB1_BIGINT;
	VAL_BIGINT(&v[BLF_DC_VERSION]) = r->version;
	VAL_TYPE(&v[BLF_DC_CSEQ]) = DB1_BIGINT;
	VAL_BIGINT(&v[BLF_DC_CSEQ]) = r->cseq;
	VAL_TYPE(&v[BLF_DC_FLAGS]) = DB1_INT;
	VAL_INT(&v[BLF_DC_FLAGS]) = (int)r->flags;
	VAL_TYPE(&v[BLF_DC_VIS]) = DB1_INT;
	VAL_INT(&v[BLF_DC_VIS]) = r->vis;
	VAL_TYPE(&v[BLF_DC_EVENT]) = DB1_STR;
	VAL_STR(&v[BLF_DC_EVENT]).s = (char *)r->event;
	VAL_STR(&v[BLF_DC_EVENT]).len = strlen(r->event);
	VAL_TYPE(&v[BLF_DC_MVERS]) = DB1_STR;
	VAL_STR(&v[BLF_DC_MVERS]).s = "";
	VAL_STR(&v[BLF_DC_MVERS]).len = 0;
}

/* insert or update one row (insert only, when the table was emptied) */
int blf_db_put(const blf_db_row_t *r, int insert_only)
{
	db_key_t k[BLF_DC_N];
	db_val_t v[BLF_DC_N];
	char *mv = NULL;
	int len, rc;

	blf_db_keys(k);
	blf_db_row_vals(r, v);
	/* a list's member versions as they are now (no lock held here): at
	 * least as new as the row's version, so a restart never repeats one
	 * (blf_lsub.c marks the row dirty again after each NOTIFY's) */
	if((r->flags & BLF_SUB_LIST) && blf_db_ncols == BLF_DC_N
			&& (len = blf_lsub_mvers(&r->f[BLF_SF_TTAG], &mv)) > 0) {
		VAL_STR(&v[BLF_DC_MVERS]).s = mv;
		VAL_STR(&v[BLF_DC_MVERS]).len = len;
	}
	if(!insert_only) {
		if(DB_CAPABILITY(blf_dbf, DB_CAP_REPLACE)) {
			rc = blf_dbf.replace(
					blf_dbh, k, v, blf_db_ncols, BLF_DB_KEYS, 0);
			free(mv);
			return rc;
		}
		/* db_sqlite has neither replace nor affected_rows */
		if(blf_dbf.delete(blf_dbh, k, 0, v, BLF_DB_KEYS) < 0) {
			free(mv);
			return -1;
		}
	}
	rc = blf_dbf.insert(blf_dbh, k, v, blf_db_ncols);
	free(mv);
	return rc;
}

int blf_db_del_one(const blf_db_del_t *d)
{
	db_key_t k[BLF_DB_KEYS];
	db_val_t v[BLF_DB_KEYS];
	int i;

	memset(v, 0, sizeof(v));
	for(i = 0; i < BLF_DB_KEYS; i++) {
		k[i] = &blf_db_cols[i];
		VAL_TYPE(&v[i]) = DB1_STR;
		VAL_STR(&v[i]) = d->f[i];
	}
	return blf_dbf.delete(blf_dbh, k, 0, v, BLF_DB_KEYS);
}

/*
 * Writes rows in one transaction. When that fails while the server still
 * answers, a row may have been refused (e.g. bytes a UTF-8 database
 * rejects, which aborts the whole transaction): the rows go again one by
 * one, and those refused move to *refused (the caller marks them dirty
 * again: retried, never dropped). Returns how many were refused, or -1
 * when none could be written (the DB is down or locked).
 */
int blf_db_write_rows(blf_db_row_t **rows, blf_db_row_t **refused)
{
	blf_db_row_t *r, **pr;
	int ok = 0, bad = 0;

	if(blf_db_begin() == 0) {
		for(r = *rows; r; r = r->next)
			if(blf_db_put(r, 0) < 0)
				break;
		if(r == NULL && blf_db_commit() == 0)
			return 0;
		blf_db_rollback();
	}
	if(!blf_db_alive())
		return -1;
	for(pr = rows; *pr;) {
		r = *pr;
		if(blf_db_put(r, 0) == 0) {
			ok++;
			pr = &r->next;
			continue;
		}
		bad++;
		*pr = r->next;
		r->next = *refused;
		*refused = r;
	}
	return ok ? bad : -1;
}

/* ---- restore ---- */

static void blf_db_val_str(const db_val_t *v, str *out)
{
	out->s = "";
	out->len = 0;
	if(VAL_NULL(v))
		return;
	switch(VAL_TYPE(v)) {
		case DB1_STR:
			if(VAL_STR(v).s)
				*out = VAL_STR(v);
			break;
		case DB1_BLOB:
			if(VAL_BLOB(v).s)
				*out = VAL_BLOB(v);
			break;
		case DB1_STRING:
			if(VAL_STRING(v)) {
				out->s = (char *)VAL_STRING(v);
				out->len = strlen(out->s);
			}
			break;
		default:
			break;
	}
}

static long long blf_db_val_int(const db_val_t *v)
{
	str s;

	if(VAL_NULL(v))
		return 0;
	switch(VAL_TYPE(v)) {
		case DB1_INT:
			return VAL_INT(v);
		case DB1_UINT:
			return VAL_UINT(v);
		case DB1_BIGINT:
			return VAL_BIGINT(v);
		case DB1_UBIGINT:
			return (long long)VAL_UBIGINT(v);
		case DB1_DOUBLE:
			return (long long)VAL_DOUBLE(v);
		case DB1_BITMAP:
			return VAL_BITMAP(v);
		case DB1_DATETIME:
			return (long long)VAL_TIME(v);
		default:
			blf_db_val_str(v, &s);
			return s.len ? strtoll(s.s, NULL, 10) : 0;
	}
}

void blf_db_val_to_str(const db_val_t *v, str *out)
{
	blf_db_val_str(v, out);
}

long long blf_db_val_to_int(const db_val_t *v)
{
	return blf_db_val_int(v);
}

typedef struct blf_db_restore {
	time_t now;
	int bumped;		/* the CSeq margin is in the DB already */
	int loaded, skipped, nosock;
	char lastsock[128]; /* the last socket string resolved, and to what */
	struct socket_info *lastsi;
} blf_db_restore_t;

/*
 * The listen sockets exist as socket_info structures before mod_init
 * (fix_all_socket_lists() runs before init_modules()), and children
 * inherit them: the same pointer a SUBSCRIBE's bind_address gives.
 */
static struct socket_info *blf_db_sock(const str *ss, blf_db_restore_t *rs)
{
	char buf[sizeof(rs->lastsock)];
	str host;
	int port, proto;

	if(ss->len == 0 || ss->len >= (int)sizeof(buf))
		return NULL;
	if(rs->lastsock[0] && strlen(rs->lastsock) == (size_t)ss->len
			&& memcmp(rs->lastsock, ss->s, ss->len) == 0)
		return rs->lastsi;
	memcpy(buf, ss->s, ss->len);
	buf[ss->len] = '\0';
	memcpy(rs->lastsock, buf, ss->len + 1);
	rs->lastsi = NULL;
	if(parse_phostport(buf, &host.s, &host.len, &port, &proto) < 0) {
		LM_WARN("bad socket string in the table: %s\n", rs->lastsock);
		return NULL;
	}
	rs->lastsi = grep_sock_info(&host, (unsigned short)port,
			(unsigned short)proto);
	if(rs->lastsi == NULL)
		LM_WARN("socket %s of stored subscriptions is not a listen socket "
				"any more: tm picks the one for their NOTIFYs\n",
				rs->lastsock);
	return rs->lastsi;
}

/* one row of the SELECT (id first, then the BLF_DC_* columns) */
static int blf_db_restore_row(const db_val_t *v, blf_db_restore_t *rs)
{
	str f[BLF_SF_N], key, ev;
	const blf_pkg_t *pkg;
	blf_entity_t *e;
	blf_sub_t *s;
	long long expires, vis;
	unsigned int hash;
	int i;

	v++; /* id */
	for(i = 0; i < BLF_SF_N; i++)
		blf_db_val_str(&v[blf_db_fcol[i]], &f[i]);
	blf_db_val_str(&v[BLF_DC_ENTITY], &key);
	expires = blf_db_val_int(&v[BLF_DC_EXPIRES]);
	if(expires <= rs->now) {
		rs->skipped++;
		return 0;
	}
	if(key.len == 0 || key.len >= BLF_KEY_MAX || f[BLF_SF_CALLID].len == 0
			|| f[BLF_SF_FTAG].len == 0 || f[BLF_SF_TTAG].len == 0
			|| f[BLF_SF_CONTACT].len == 0) {
		LM_WARN("skipping an incomplete row (entity '%.*s', call-id "
				"'%.*s')\n",
				key.len, key.s, f[BLF_SF_CALLID].len, f[BLF_SF_CALLID].s);
		rs->skipped++;
		return 0;
	}
	/* rows of older versions are dialog subscriptions */
	blf_db_val_str(&v[BLF_DC_EVENT], &ev);
	if(ev.len == 0)
		ev = (str)str_init("dialog");
	pkg = blf_pkg_find(ev.s, ev.len);
	if(pkg == NULL) {
		LM_NOTICE("not restoring the subscription of %.*s to %.*s: event "
				  "package '%.*s' not served (events)\n",
				f[BLF_SF_WATCHER].len, f[BLF_SF_WATCHER].s, key.len, key.s,
				ev.len > 32 ? 32 : ev.len, ev.s);
		rs->skipped++;
		return 0;
	}
	/* a list: blf_lsub.c */
	s = blf_sub_build(f, (unsigned int)blf_db_val_int(&v[BLF_DC_FLAGS])
								 & (BLF_SUB_WILDCARD | BLF_SUB_LIST));
	if(s == NULL)
		return -1;
	s->pkg = pkg->id;
	s->flags |= BLF_SUB_RESTORED; /* in a cluster: blf_sub_restore_hold */
	s->expires = (unsigned int)expires;
	s->version = (unsigned int)blf_db_val_int(&v[BLF_DC_VERSION]);
	s->cseq = (unsigned int)blf_db_val_int(&v[BLF_DC_CSEQ]);
	if((s->flags & BLF_SUB_LIST) && blf_db_ncols == BLF_DC_N) {
		/* its member versions, kept until its list state is rebuilt; a
		 * damaged value is left out (they resume at the RLMI version) */
		str mv;
		blf_db_val_str(&v[BLF_DC_MVERS], &mv);
		if(mv.len > 0
				&& blf_lsub_mvers_keep(&f[BLF_SF_TTAG], mv.s, (size_t)mv.len)
						   == -1)
			LM_WARN("list subscription %.*s: stored member versions not "
					"valid (%d bytes), ignored: they resume at version %u\n",
					f[BLF_SF_TTAG].len, f[BLF_SF_TTAG].s, mv.len, s->version);
	}
	if(!rs->bumped) {
		/* the margin could not go to the DB at once: the first flush
		 * writes it */
		s->cseq += BLF_DB_CSEQ_MARGIN;
		s->flags |= BLF_SUB_DIRTY;
	}
	vis = blf_db_val_int(&v[BLF_DC_VIS]);
	s->vis = (vis >= BLF_VIS_FULL && vis <= BLF_VIS_NONE) ? (blf_vis_t)vis
														   : blf_cfg.visibility;
	/* the visibility parameter may have been lowered while Kamailio was
	 * down: a watcher of another entity never gets more after a restart
	 * than it allows now (an entity's own policy from the alias service is
	 * applied again when it is learnt), and under none it is not restored
	 * (its refresh gets 481, its new SUBSCRIBE 403) */
	if(!STR_EQ(f[BLF_SF_WATCHER], key) && blf_cfg.visibility > s->vis)
		s->vis = blf_cfg.visibility;
	if(s->vis == BLF_VIS_NONE && !STR_EQ(f[BLF_SF_WATCHER], key)) {
		LM_NOTICE("not restoring the subscription of %.*s to %.*s: "
				  "visibility none\n",
				f[BLF_SF_WATCHER].len, f[BLF_SF_WATCHER].s, key.len, key.s);
		blf_sub_free(s);
		rs->skipped++;
		return 0;
	}
	blf_sub_set_sock(s, blf_db_sock(&f[BLF_SF_SOCKET], rs));
	if(s->sock == 0)
		rs->nosock++;
	hash = blf_key_hash(&key);
	blf_slot_lock(hash);
	e = blf_entity_get(hash, &key);
	if(e == NULL) {
		blf_slot_unlock(hash);
		blf_sub_free(s);
		return -1;
	}
	s->next = e->subs;
	e->subs = s;
	if(s->flags & BLF_SUB_DIRTY)
		blf_slot_dirty(hash);
	e->nsubs++;
	blf_entity_sub_due(e, s->expires);
	atomic_inc(blf_nsubs);
	blf_wc_sub_take(s, NULL, 0); /* its watcher's count */
	blf_slot_unlock(hash);
	rs->loaded++;
	return 0;
}

/* restores the rows of res; the id of the last one into *last */
static int blf_db_restore_res(
		db1_res_t *res, blf_db_restore_t *rs, long long *last)
{
	int i;

	if(RES_ROW_N(res) > 0 && RES_COL_N(res) < BLF_DC_N + 1) {
		LM_ERR("table %.*s: %d columns, expected %d\n", blf_cfg.db_table.len,
				blf_cfg.db_table.s, RES_COL_N(res), BLF_DC_N + 1);
		return -1;
	}
	for(i = 0; i < RES_ROW_N(res); i++) {
		if(blf_db_restore_row(ROW_VALUES(&RES_ROWS(res)[i]), rs) < 0)
			return -1;
		*last = blf_db_val_int(&ROW_VALUES(&RES_ROWS(res)[i])[0]);
	}
	return 0;
}

static int blf_db_select_cols(char *buf, int size)
{
	int i, n, len;

	len = snprintf(buf, size, "SELECT id");
	for(i = 0; i < blf_db_ncols && len < size; i++) {
		n = snprintf(buf + len, size - len, ",%.*s", blf_db_cols[i].len,
				blf_db_cols[i].s);
		len += n;
	}
	return len < size ? len : -1;
}

/* pages of BLF_DB_PAGE rows by id: a private-memory-sized result each */
static int blf_db_restore_all(blf_db_restore_t *rs)
{
	char sql[BLF_DB_SQL_MAX];
	db_key_t cols[BLF_DC_N + 1];
	db1_res_t *res = NULL;
	long long last = 0;
	int n, rows, i, rc;
	str q;

	if(blf_dbf.raw_query == NULL) {
		/* a driver without SQL: one query for everything */
		cols[0] = &blf_db_col_id;
		for(i = 0; i < blf_db_ncols; i++)
			cols[i + 1] = &blf_db_cols[i];
		if(blf_dbf.query(blf_dbh, NULL, NULL, NULL, cols, 0, blf_db_ncols + 1,
				   NULL, &res)
						< 0
				|| res == NULL)
			return -1;
		rc = blf_db_restore_res(res, rs, &last);
		blf_dbf.free_result(blf_dbh, res);
		return rc;
	}
	n = blf_db_select_cols(sql, sizeof(sql));
	if(n < 0)
		return -1;
	do {
		i = snprintf(sql + n, sizeof(sql) - n,
				" FROM %.*s WHERE id>%lld ORDER BY id LIMIT %d",
				blf_cfg.db_table.len, blf_cfg.db_table.s, last, BLF_DB_PAGE);
		if(i < 0 || i >= (int)sizeof(sql) - n)
			return -1;
		q.s = sql;
		q.len = n + i;
		res = NULL;
		if(blf_dbf.raw_query(blf_dbh, &q, &res) < 0 || res == NULL) {
			LM_ERR("cannot read table %.*s\n", blf_cfg.db_table.len,
					blf_cfg.db_table.s);
			return -1;
		}
		rows = RES_ROW_N(res);
		rc = blf_db_restore_res(res, rs, &last);
		blf_dbf.free_result(blf_dbh, res);
		if(rc < 0)
			return -1;
	} while(rows == BLF_DB_PAGE);
	return 0;
}

/* 1 when table t has the mvers column (sqlite, postgres: the catalog;
 * another SQL DB: a query of it) */
static int blf_db_has_mvers(const char *t)
{
	char sql[BLF_DB_SQL_MAX];
	int rows = 0;

	if(blf_db_dialects[blf_db_kind].has_mvers) {
		snprintf(sql, sizeof(sql), blf_db_dialects[blf_db_kind].has_mvers, t);
		return blf_db_raw(sql, &rows) == 0 && rows > 0;
	}
	snprintf(sql, sizeof(sql), "SELECT mvers FROM %s WHERE 1=0", t);
	return blf_db_raw(sql, NULL) == 0;
}

/*
 * A table of a version before lists stored their member versions has no
 * mvers column: it is added (its list rows resume each member at the RLMI
 * version once, as before). When it cannot be, the table is used without
 * it: nothing else is lost.
 */
static int blf_db_migrate_mvers(const char *t)
{
	char sql[BLF_DB_SQL_MAX];

	if(blf_db_has_mvers(t))
		return 0;
	LM_NOTICE("table %s: adding column mvers (lists' member versions)\n", t);
	snprintf(sql, sizeof(sql),
			"ALTER TABLE %s ADD COLUMN mvers TEXT DEFAULT '' NOT NULL", t);
	if(blf_db_raw(sql, NULL) < 0 || !blf_db_has_mvers(t)) {
		LM_WARN("cannot add column mvers to table %s (add it with: %s): "
				"lists' member versions are not stored\n",
				t, sql);
		blf_db_ncols = BLF_DC_N - 1;
	}
	return 0;
}

/*
 * A table of a version before event packages has no event column: it is
 * added, its rows become dialog subscriptions (what they were).
 */
static int blf_db_migrate(const char *t)
{
	char sql[BLF_DB_SQL_MAX];
	int rows = 0;

	snprintf(sql, sizeof(sql), blf_db_dialects[blf_db_kind].has_event, t);
	if(blf_db_raw(sql, &rows) < 0) {
		LM_ERR("cannot read the columns of table %s\n", t);
		return -1;
	}
	if(rows > 0)
		return blf_db_migrate_mvers(t);
	LM_NOTICE("table %s: adding column event (its rows are dialog "
			  "subscriptions)\n",
			t);
	snprintf(sql, sizeof(sql),
			"ALTER TABLE %s ADD COLUMN event TEXT DEFAULT 'dialog' NOT NULL",
			t);
	if(blf_db_raw(sql, NULL) < 0) {
		LM_ERR("cannot add column event to table %s (add it with: %s)\n", t,
				sql);
		return -1;
	}
	return blf_db_migrate_mvers(t);
}

/* sqlite and postgres: CREATE the table when it is missing */
static int blf_db_create_table(void)
{
	char sql[BLF_DB_SQL_MAX];
	const char *t;
	int rows = 0;

	if(blf_db_dialects[blf_db_kind].exists == NULL) {
		/* another DB: the operator creates it, maybe without mvers */
		if(blf_dbf.raw_query == NULL || !blf_db_has_mvers(blf_cfg.db_table.s))
			blf_db_ncols = BLF_DC_N - 1;
		return 0;
	}
	t = blf_cfg.db_table.s;
	snprintf(sql, sizeof(sql), blf_db_dialects[blf_db_kind].exists, t);
	if(blf_db_raw(sql, &rows) < 0) {
		LM_ERR("cannot look for table %s\n", t);
		return -1;
	}
	if(rows > 0)
		return blf_db_migrate(t);
	LM_NOTICE("creating table %s\n", t);
	snprintf(sql, sizeof(sql), blf_db_dialects[blf_db_kind].create, t);
	if(blf_db_raw(sql, NULL) < 0) {
		LM_ERR("cannot create table %s (create it with the SQL in the "
			   "module's sql/ directory)\n",
				t);
		return -1;
	}
	snprintf(sql, sizeof(sql), BLF_DB_INDEX_SQL, t);
	if(blf_db_raw(sql, NULL) < 0)
		LM_WARN("cannot create the expires index of table %s\n", t);
	return 0;
}

static int blf_db_restore(void)
{
	char sql[BLF_DB_SQL_MAX];
	blf_db_restore_t rs;
	db_key_t k[1];
	db_op_t o[1];
	db_val_t v[1];
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(&rs, 0, sizeof(rs));
	rs.now = time(NULL);
	k[0] = &blf_db_cols[BLF_DC_EXPIRES];
	o[0] = OP_LEQ;
	memset(v, 0, sizeof(v));
	VAL_TYPE(&v[0]) = DB1_BIGINT;
	VAL_BIGINT(&v[0]) = (long long)rs.now;
	if(blf_dbf.delete(blf_dbh, k, o, v, 1) < 0) {
		LM_ERR("cannot delete the expired rows of table %.*s\n",
				blf_cfg.db_table.len, blf_cfg.db_table.s);
		return -1;
	}
	if(blf_dbf.raw_query) {
		snprintf(sql, sizeof(sql), "UPDATE %.*s SET cseq=cseq+%d",
				blf_cfg.db_table.len, blf_cfg.db_table.s, BLF_DB_CSEQ_MARGIN);
		rs.bumped = blf_db_raw(sql, NULL) == 0;
	}
	if(blf_db_restore_all(&rs) < 0)
		return -1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	LM_NOTICE("restored %d subscriptions from table %.*s in %ld ms "
			  "(%d skipped, %d without their socket)\n",
			rs.loaded, blf_cfg.db_table.len, blf_cfg.db_table.s,
			(long)((t1.tv_sec - t0.tv_sec) * 1000
					+ (t1.tv_nsec - t0.tv_nsec) / 1000000),
			rs.skipped, rs.nosock);
	return 0;
}

/* ---- init ---- */

/* a plain SQL identifier: it goes into statements as it is */
static int blf_db_table_ok(const str *t)
{
	int i;

	if(t->len == 0 || t->len > 64 || isdigit((unsigned char)t->s[0]))
		return 0;
	for(i = 0; i < t->len; i++)
		if(!isalnum((unsigned char)t->s[i]) && t->s[i] != '_')
			return 0;
	return 1;
}

/*
 * mod_init, before any fork: bind the driver, create the table when it is
 * missing, restore the subscriptions; the connection is closed again.
 * Returns -1 on a configuration error (Kamailio must not start), 1 when
 * the database could not be used now (SIP must not depend on it: the
 * caller starts without the stored subscriptions), 0 when restored.
 */
int blf_db_sql_init(void)
{
	int k, rc;

	if(!blf_db_table_ok(&blf_cfg.db_table)) {
		LM_ERR("db_table must be a plain SQL name ([A-Za-z0-9_], not "
			   "starting with a digit), not '%.*s'\n",
				blf_cfg.db_table.len, blf_cfg.db_table.s);
		return -1;
	}
	for(k = BLF_DB_SQLITE; k <= BLF_DB_POSTGRES; k++)
		if(strncmp(blf_cfg.db_url.s, blf_db_dialects[k].scheme,
				   strlen(blf_db_dialects[k].scheme))
				== 0)
			blf_db_kind = k;
	if(db_bind_mod(&blf_cfg.db_url, &blf_dbf) < 0) {
		LM_ERR("cannot bind the database module of db_url: load it (e.g. "
			   "db_sqlite.so) before blf.so\n");
		return -1;
	}
	if(!DB_CAPABILITY(blf_dbf, DB_CAP_QUERY | DB_CAP_INSERT | DB_CAP_DELETE)) {
		LM_ERR("the database module of db_url lacks query, insert or "
			   "delete\n");
		return -1;
	}
	if(blf_db_open() < 0)
		return 1;
	rc = (blf_db_create_table() < 0 || blf_db_restore() < 0) ? 1 : 0;
	/* no connection may cross a fork: the flush process opens its own */
	blf_db_close();
	return rc;
}
