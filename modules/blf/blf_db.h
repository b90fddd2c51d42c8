/*
 * blf_db.h — private interface between the write-behind (blf_db.c) and
 * the SQL side (blf_db_sql.c) of the persistence of subscriptions.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_DB_H
#define BLF_DB_H

#include "blf.h"
#include "lib/srdb1/db.h"

#define BLF_DB_KEYS 3 /* callid, from_tag, to_tag: a row's dialog key */

/* one subscription, copied out of the shm table (pkg, one block) */
typedef struct blf_db_row {
	struct blf_db_row *next;
	unsigned int hash;
	time_t expires;
	unsigned int version;
	unsigned int cseq;
	unsigned int flags;
	int vis;
	const char *event; /* its event package's name (static) */
	str key;
	str f[BLF_SF_N];
} blf_db_row_t;

/* a removed subscription's dialog key, waiting for its DELETE (shm) */
typedef struct blf_db_del {
	struct blf_db_del *next;
	str f[BLF_DB_KEYS];
} blf_db_del_t;

/* blf_db_sql.c */
int blf_db_sql_init(void); /* mod_init: bind, create table, restore */
int blf_db_open(void);	   /* this process's connection, once */
void blf_db_close(void);
int blf_db_begin(void);
int blf_db_commit(void);
void blf_db_rollback(void);
int blf_db_alive(void);
int blf_db_wipe(void); /* DELETE every row */
blf_db_row_t *blf_db_row_new(const blf_entity_t *e, const blf_sub_t *s);
void blf_db_rows_free(blf_db_row_t *r);
int blf_db_put(const blf_db_row_t *r, int insert_only);
int blf_db_del_one(const blf_db_del_t *d);
int blf_db_write_rows(blf_db_row_t **rows, blf_db_row_t **refused);

/* blf_db_sql.c: the connection and driver, for the publications'
 * table (blf_db_pub.c); after using another table, use_table() back with
 * blf_db_use_subs() */
db_func_t *blf_db_api(void);
db1_con_t *blf_db_con(void);
int blf_db_use_subs(void);
int blf_db_raw_sql(const char *sql, int *rows);
void blf_db_val_to_str(const db_val_t *v, str *out);
long long blf_db_val_to_int(const db_val_t *v);

/* blf_db_pub.c: the publications (RFC 3903) in their own table */
int blf_db_pub_init(void); /* mod_init after blf_db_sql_init: table,
							* restore, listener */
int blf_db_pub_flush(int locked);
void blf_db_pub_destroy(void);

#endif
