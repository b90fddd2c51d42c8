/*
 * blf_pkg.h — event packages (RFC 6665 "Event:" values) as a vtable, and
 * their registry.
 *
 * The SUBSCRIBE and NOTIFY machinery (blf_subs.c, blf_notify.c, blf_ntx.c)
 * knows no package by name: it asks the registry which packages are served
 * (the `events` parameter), what a package's bodies are (Content-Type), what
 * an Accept header must list, and who may subscribe. A package contributes
 * two steps to every NOTIFY:
 *
 *   snapshot()  under the entity's slot lock: copies of what its body needs,
 *               nothing else (no XML, no I/O). Taken once per change and per
 *               package (lazily, on the first job that needs it) and shared,
 *               refcounted, by every job of that change;
 *   body()      after the unlock, in the process that sends the jobs: the
 *               body of one NOTIFY from the snapshot and the per-watcher
 *               request (version, entity, visibility). A package may cache
 *               what every watcher shares (per visibility) in its snapshot.
 *
 * Versions and CSeqs are taken under the lock together with the snapshot,
 * so a higher version always carries newer content.
 *
 * Jobs of one change are sent by the one process that built them, so the
 * reference counts need no atomics. Snapshots live in the system heap
 * (malloc), never in shm.
 *
 * Adding a package: one file blf_pkg_<name>.c defining a blf_pkg_t, and one
 * blf_pkg_register() line in mod_init. Pure: no Kamailio header here, so
 * blf_pkg.c is unit-tested alone (tests/unit/test_pkg.c).
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_PKG_H
#define BLF_PKG_H

#include <stddef.h>
#include <stdint.h>
#include "blf_xml.h" /* blf_vis_t */

struct blf_entity;
struct blf_notify_job;

/* what a package's content depends on: the changes it is notified of */
#define BLF_DEP_CALLS (1 << 0)	  /* the entity's calls (dialogs, parks) */
#define BLF_DEP_REG (1 << 1)	  /* its registered contacts (usrloc) */
#define BLF_DEP_PUB (1 << 2)	  /* its published documents (PUBLISH) */
#define BLF_DEP_WATCHERS (1 << 3) /* its subscriptions come/go (*.winfo) */

/* who may subscribe, what applies */
#define BLF_PKG_SELF_ONLY (1 << 0) /* only the entity itself (else 403) */
#define BLF_PKG_WILDCARD (1 << 1)  /* may be subscribed on wildcard_user */
#define BLF_PKG_VIS (1 << 2)	   /* the visibility policy applies */
/* its snapshots carry a digest (blf_snap_t): equal digests make equal
 * bodies for watchers of the same visibility, so a change whose digest is
 * the one every watcher already got sends them nothing (blf_subrec.c's
 * blf_subs_notify_dep); one package at most (the entity keeps one digest) */
#define BLF_PKG_DEDUP (1 << 3)

#define BLF_PKG_MAX 16		/* packages registered at most */
#define BLF_PKG_NAME_MAX 32 /* longest package name */

/* the head every package snapshot embeds first */
typedef struct blf_snap {
	int refs;
	const struct blf_pkg *pkg;
	uint64_t digest; /* BLF_PKG_DEDUP packages: of the body's inputs but
					  * the visibility, never 0 (set by snapshot()) */
} blf_snap_t;

/* a growing output buffer (malloc); bodies are appended to it */
typedef struct blf_buf {
	char *s;
	size_t len;
	size_t size;
	size_t max; /* it never grows past this (0: no bound) */
} blf_buf_t;

/* room for more bytes after len; -1: past max or no memory */
int blf_buf_need(blf_buf_t *b, size_t more);
/* appends len bytes of s; -1 as blf_buf_need */
int blf_buf_add(blf_buf_t *b, const char *s, size_t len);
void blf_buf_free(blf_buf_t *b);

/* what one NOTIFY asks of a package's body */
typedef struct blf_body_req {
	unsigned int version;	/* the subscription's version of this NOTIFY */
	const char *entity_esc; /* entity URI, XML-escaped (attribute-safe) */
	size_t entity_len;
	blf_vis_t vis;	/* what this watcher may see */
	size_t max;		/* body budget in bytes (notify_max_body), 0: none */
	int terminated; /* the subscription's final NOTIFY */
} blf_body_req_t;

typedef struct blf_pkg {
	const char *name;	/* the Event header's package name */
	const char *ctype;	/* Content-Type of its bodies */
	const char *accept; /* the media type an Accept header must allow
						 * (406 otherwise), "type/subtype" */
	unsigned int flags; /* BLF_PKG_* */
	unsigned int deps;	/* BLF_CHG_* its content depends on */
	/* under the slot lock: copies of e's state only; NULL: no memory */
	blf_snap_t *(*snapshot)(const struct blf_entity *e);
	/* after the unlock: appends one body to out; 0, or -1 (logged) */
	int (*body)(blf_snap_t *sn, const blf_body_req_t *r, blf_buf_t *out);
	void (*snap_free)(blf_snap_t *sn);
	/* optional (RFC 4662 lists, blf_lsub.c): the Content-Type of the body
	 * just built from sn (NULL: ctype); extra header lines ("Name: v\r\n")
	 * of its NOTIFYs; after a NOTIFY went, the jobs that must follow it
	 * (a state split over several NOTIFYs), NULL: none */
	const char *(*ctype_of)(blf_snap_t *sn);
	const char *hdrs;
	struct blf_notify_job *(*more)(struct blf_notify_job *j);
	unsigned char id;	  /* set by blf_pkg_register */
	unsigned char served; /* set by blf_pkg_serve (the `events` list) */
} blf_pkg_t;

/*
 * mod_init, once per package built into the module, before blf_pkg_serve.
 * Ids follow registration order (dialog first: id 0); they are local to
 * this node and this run: what is persisted or replicated is the name.
 * Returns the id, or -1 (registry full, bad or duplicate name).
 */
int blf_pkg_register(blf_pkg_t *p);

/*
 * The `events` parameter: comma-separated package names (spaces around
 * items ignored, empty items and duplicates ignored, names compared
 * case-insensitively). Each registered name becomes served. A name among
 * BLF_PKG_KNOWN that is not built in is skipped: its names are written to
 * msg (comma separated) for the caller's NOTICE. Returns 0, or -1 on an
 * unknown name or a list that serves nothing, the reason in msg.
 */
#define BLF_PKG_KNOWN "dialog,presence,presence.winfo,dialog.winfo,reg"
int blf_pkg_serve(const char *list, size_t len, char *msg, size_t msize);

/* a registered package by id (a subscription's pkg field), else NULL */
const blf_pkg_t *blf_pkg_get(unsigned int id);
/* a served package by name (Event header, DB, DMQ), else NULL */
const blf_pkg_t *blf_pkg_find(const char *name, size_t len);
/* a registered package by name, served or not, else NULL */
const blf_pkg_t *blf_pkg_find_any(const char *name, size_t len);
/* the served names, comma separated, for the 489's Allow-Events header;
 * returns the length or -1 if buf is too small */
int blf_pkg_allow_events(char *buf, size_t size);
/* forgets every package (tests, mod_destroy) */
void blf_pkg_reset(void);

/*
 * The snapshots of one change (one entity), one per package, taken on first
 * use. Zero it before use; blf_frags_free gives back its references (jobs
 * keep theirs). The name is historical: it held XML fragments.
 */
typedef struct blf_frags {
	blf_snap_t *sn[BLF_PKG_MAX];
} blf_frags_t;

/* package p's snapshot of e in fr (taken now if missing), with one more
 * reference for the caller; the slot lock must be held. NULL: no memory */
blf_snap_t *blf_pkg_snap(
		blf_frags_t *fr, const blf_pkg_t *p, const struct blf_entity *e);
void blf_snap_hold(blf_snap_t *sn);
void blf_snap_put(blf_snap_t *sn); /* NULL is fine */
void blf_frags_free(blf_frags_t *fr);

#endif
