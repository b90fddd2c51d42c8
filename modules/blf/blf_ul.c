/*
 * blf_ul.c — registrations, first-party: usrloc's contact callbacks
 * (insert, update, delete, expire) feed the entities' contacts
 * (blf_entity_reg.c), which presence (open/closed) and reg show.
 *
 * Bound in mod_init when usrloc is loaded (before blf.so); then blf_ul_on
 * is 1 and `reg` is served. dmq_usrloc applies other nodes' contacts
 * through the same usrloc API, so the same callbacks fire for them: every
 * node of a cluster sees every registration.
 *
 * The callbacks run in SIP workers (REGISTER) and in usrloc's timer
 * (expiry), under usrloc's record lock: the contact's fields are copied to
 * the stack and handed to the table, which takes one slot lock and calls
 * nothing of usrloc, so no lock-order inversion is possible.
 *
 * Nothing is sent from under usrloc's lock (a NOTIFY over tm, a DMQ
 * replica, would hold every REGISTER of that usrloc slot meanwhile). Inside
 * a script (a REGISTER's save(), or one in a reply or failure route: the
 * core's pre-script callbacks mark it) the NOTIFY jobs wait in this
 * process's change batch and go when the script is done (the post-script
 * callback flushes it), so the REGISTER's 200 leaves first. At most
 * BLF_UL_BATCH_MAX jobs wait so; past that, and outside any script
 * (usrloc's timer, dmq_usrloc's workers, an RPC), the entity is marked and
 * the "BLF REG" process sends them within BLF_REG_TICK_MS (10 ms), the
 * expiry timer ("BLF TIMER", every timer_interval) when its queue is full
 * (blf_entity_reg.c).
 *
 * Contacts usrloc already has when Kamailio starts (db_mode with a table
 * loaded from the database) fire no callback: once, a second after start,
 * the core timer lists them (get_all_ucontacts: Contact, ruid, AOR hash),
 * finds each one's AOR by its ruid (get_urecord_by_ruid, usrloc's slot
 * lock held only while copying) and adds them (event "registered").
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>
#include <time.h>

#include "core/sr_module.h"
#include "core/dprint.h"
#include "core/name_alias.h"
#include "core/qvalue.h"
#include "core/timer.h"
#include "core/script_cb.h"
#include "core/mem/mem.h"
#include "modules/usrloc/usrloc.h"

#include "blf.h"
#include "blf_table.h"
#include "blf_chg.h"

static usrloc_api_t blf_ul;
static str blf_ul_dom = STR_NULL; /* domain of AORs without one */

/* NOTIFY jobs one script may leave in the change batch (the rest go
 * through the expiry timer): a REGISTER of many contacts to an entity of
 * many watchers holds no unbounded memory */
#define BLF_UL_BATCH_MAX 1024
/* a script started longer ago than this is not trusted to be running: a
 * pre-script callback of another module that drops the message runs after
 * ours and no post-script callback follows, which would leave the mark on
 * in a process that later runs usrloc's timer */
#define BLF_UL_SCRIPT_MAX_S 2
static time_t blf_ul_script_at = 0; /* per process: when a script began,
									 * 0: none is running */
static int blf_ul_batched = 0;		/* jobs waiting for its end */

static int blf_ul_in_script(void)
{
	return blf_ul_script_at != 0
		   && time(NULL) - blf_ul_script_at <= BLF_UL_SCRIPT_MAX_S;
}

/* the core's script callbacks: around every request, reply, failure
 * route; what the usrloc callbacks left in the batch goes at the end */
static int blf_ul_script_cb(struct sip_msg *msg, unsigned int flags, void *p)
{
	if(flags & PRE_SCRIPT_CB) {
		blf_ul_script_at = time(NULL);
		return 1;
	}
	/* nested scripts (a failure route run from a reply's): the outer one
	 * goes on outside any usrloc lock too, so this end may flush */
	blf_ul_script_at = 0;
	if(blf_ul_batched) {
		blf_ul_batched = 0;
		blf_chg_flush();
	}
	return 1;
}

/* the entity key (user@host) of usrloc's AOR aor; 0, or -1 */
static int blf_ul_key(const str *aor, char *buf, int size, str *key)
{
	char ubuf[BLF_KEY_MAX + 16];
	str uri;
	int n;

	if(aor == NULL || aor->s == NULL || aor->len <= 0)
		return -1;
	if(memchr(aor->s, '@', aor->len))
		n = snprintf(ubuf, sizeof(ubuf), "sip:%.*s", aor->len, aor->s);
	else if(blf_ul_dom.len > 0)
		n = snprintf(ubuf, sizeof(ubuf), "sip:%.*s@%.*s", aor->len, aor->s,
				blf_ul_dom.len, blf_ul_dom.s);
	else
		return -1;
	if(n <= 0 || n >= (int)sizeof(ubuf))
		return -1;
	uri.s = ubuf;
	uri.len = n;
	return blf_key_from_uri(&uri, buf, size, key);
}

static void blf_ul_cb(ucontact_t *c, int type, void *param)
{
	char kbuf[BLF_KEY_MAX + 1];
	blf_ct_upd_t u;
	blf_ct_op_t op;
	unsigned int qlen = 0;
	str key;
	int n;

	if(c == NULL || c->aor == NULL)
		return;
	if(type & UL_CONTACT_INSERT)
		op = BLF_CT_INSERT;
	else if(type & UL_CONTACT_UPDATE)
		op = BLF_CT_UPDATE;
	else if(type & UL_CONTACT_DELETE)
		op = BLF_CT_DELETE;
	else if(type & UL_CONTACT_EXPIRE)
		op = BLF_CT_EXPIRE;
	else
		return;
	if(blf_ul_key(c->aor, kbuf, sizeof(kbuf), &key) < 0) {
		LM_DBG("AOR [%.*s]: no entity (no domain: see ul_domain)\n",
				c->aor->len, c->aor->s);
		return;
	}
	memset(&u, 0, sizeof(u));
	u.ruid = c->ruid;
	if(u.ruid.len <= 0)
		u.ruid = c->c; /* no ruid (old data): the contact URI is the key */
	u.uri = c->c;
	u.callid = c->callid;
	u.cseq = c->cseq > 0 ? (unsigned int)c->cseq : 0;
	u.expires = c->expires;
	if(c->q != Q_UNSPECIFIED) {
		u.q.s = q2str(c->q, &qlen);
		u.q.len = (int)qlen;
	}
	/* cut what would not fit an entity's bounded record */
	if(u.uri.len > BLF_KEY_MAX * 4 || u.callid.len > 512 || u.ruid.len > 256) {
		LM_NOTICE("contact of %.*s too long: not tracked\n", key.len, key.s);
		return;
	}
	if(blf_ul_in_script() && blf_ul_batched < BLF_UL_BATCH_MAX) {
		n = blf_entity_contact(&key, op, &u, BLF_CT_BATCH);
		if(n > 0)
			blf_ul_batched += n;
	} else {
		blf_entity_contact(&key, op, &u, BLF_CT_TIMER);
	}
}

/* the usrloc table the startup load reads (registrar's save() names it) */
#define BLF_UL_TABLE "location"
/* the startup load's buffer: started at, doubled up to */
#define BLF_UL_BUF_MIN (64 * 1024)
#define BLF_UL_BUF_MAX (64 * 1024 * 1024)

/* one entry of get_all_ucontacts' buffer: ruid and AOR hash; 0 at its
 * end, -1 when malformed; *p moves past it */
static int blf_ul_next(char **p, char *end, str *ruid, unsigned int *aorhash)
{
	int l;

#define BLF_UL_TAKE(dst, n)     \
	do {                        \
		if(*p + (n) > end)      \
			return -1;          \
		memcpy((dst), *p, (n)); \
		*p += (n);              \
	} while(0)
#define BLF_UL_SKIPSTR()              \
	do {                              \
		BLF_UL_TAKE(&l, sizeof(int)); \
		if(l < 0 || *p + l > end)     \
			return -1;                \
		*p += l;                      \
	} while(0)
	BLF_UL_TAKE(&l, sizeof(int)); /* contact */
	if(l == 0)
		return 0;
	if(l < 0 || *p + l > end)
		return -1;
	*p += l;
	BLF_UL_SKIPSTR(); /* received */
	if(*p + sizeof(void *) + sizeof(unsigned int) > end)
		return -1;
	*p += sizeof(void *) + sizeof(unsigned int); /* socket, cflags */
	BLF_UL_SKIPSTR();							 /* path */
	BLF_UL_TAKE(&l, sizeof(int));				 /* ruid */
	if(l < 0 || *p + l > end)
		return -1;
	ruid->s = *p;
	ruid->len = l;
	*p += l;
	BLF_UL_TAKE(aorhash, sizeof(unsigned int));
#undef BLF_UL_TAKE
#undef BLF_UL_SKIPSTR
	return 1;
}

/* one contact found at start: its AOR by ruid, then the table */
static int blf_ul_load_one(udomain_t *d, str *ruid, unsigned int aorhash)
{
	char abuf[BLF_KEY_MAX + 1], kbuf[BLF_KEY_MAX + 1];
	char cbuf[BLF_KEY_MAX * 4 + 1], ibuf[513], qbuf[8];
	urecord_t *r = NULL;
	ucontact_t *c = NULL;
	blf_ct_upd_t u;
	unsigned int qlen = 0;
	str aor, key;
	char *q;

	if(ruid->len <= 0 || ruid->len > 256)
		return 0;
	if(blf_ul.get_urecord_by_ruid(d, aorhash, ruid, &r, &c) != 0)
		return 0; /* gone meanwhile */
	/* usrloc's slot is locked: copies only */
	memset(&u, 0, sizeof(u));
	aor.len = r->aor.len < BLF_KEY_MAX ? r->aor.len : 0;
	aor.s = abuf;
	memcpy(abuf, r->aor.s, aor.len);
	u.uri.len = c->c.len <= BLF_KEY_MAX * 4 ? c->c.len : 0;
	u.uri.s = cbuf;
	memcpy(cbuf, c->c.s, u.uri.len);
	u.callid.len = c->callid.len <= 512 ? c->callid.len : 0;
	u.callid.s = ibuf;
	memcpy(ibuf, c->callid.s, u.callid.len);
	u.cseq = c->cseq > 0 ? (unsigned int)c->cseq : 0;
	u.expires = c->expires;
	if(c->q != Q_UNSPECIFIED) {
		q = q2str(c->q, &qlen);
		if(qlen < sizeof(qbuf)) {
			memcpy(qbuf, q, qlen);
			u.q.s = qbuf;
			u.q.len = (int)qlen;
		}
	}
	/* unlocked by the record's own AOR (it hashes to the locked slot),
	 * then released (db_mode 3 frees the record) */
	blf_ul.unlock_udomain(d, &r->aor);
	blf_ul.release_urecord(r);
	u.ruid = *ruid;
	if(aor.len == 0 || u.uri.len == 0
			|| blf_ul_key(&aor, kbuf, sizeof(kbuf), &key) < 0)
		return 0;
	if(u.expires != 0 && u.expires <= time(NULL))
		return 0; /* expired: usrloc's timer drops it */
	/* usrloc's lock is released: sent from here */
	return blf_entity_contact(&key, BLF_CT_LOAD, &u, BLF_CT_SEND) >= 0 ? 1 : 0;
}

/* the core timer, once: the contacts usrloc had before we listened */
static void blf_ul_load_timer(unsigned int ticks, void *param)
{
	static int done = 0;
	udomain_t *d = NULL;
	char *buf = NULL, *p, *end;
	str ruid;
	unsigned int aorhash;
	int size = BLF_UL_BUF_MIN, rc, n = 0;

	if(done)
		return;
	done = 1;
	if(blf_ul.get_udomain(BLF_UL_TABLE, &d) < 0 || d == NULL) {
		LM_INFO("no usrloc table '" BLF_UL_TABLE "': no contacts to load\n");
		return;
	}
	for(;;) {
		buf = pkg_malloc(size);
		if(buf == NULL) {
			PKG_MEM_ERROR;
			return;
		}
		rc = blf_ul.get_all_ucontacts(buf, size, 0, 0, 1, 0);
		if(rc == 0)
			break;
		pkg_free(buf);
		buf = NULL;
		if(rc < 0 || size >= BLF_UL_BUF_MAX) {
			LM_ERR("cannot list usrloc's contacts (%d): the registered "
				   "ones show at their next REGISTER\n",
					rc);
			return;
		}
		size *= 2;
	}
	p = buf;
	end = buf + size;
	while((rc = blf_ul_next(&p, end, &ruid, &aorhash)) > 0)
		n += blf_ul_load_one(d, &ruid, aorhash);
	if(rc < 0)
		LM_ERR("usrloc's contact list malformed: load stopped\n");
	pkg_free(buf);
	if(n)
		LM_INFO("%d registered contacts loaded from usrloc\n", n);
}

int blf_ul_init(void)
{
	bind_usrloc_t bind;

	blf_ul_on = 0;
	if(!module_loaded("usrloc")) {
		LM_INFO("usrloc not loaded: every entity counts as registered, "
				"reg not served\n");
		return 0;
	}
	bind = (bind_usrloc_t)find_export("ul_bind_usrloc", 1, 0);
	if(bind == NULL || bind(&blf_ul) < 0) {
		LM_ERR("cannot bind usrloc: load usrloc.so before blf.so\n");
		return -1;
	}
	if(blf_ul.register_ulcb(UL_CONTACT_INSERT | UL_CONTACT_UPDATE
									| UL_CONTACT_DELETE | UL_CONTACT_EXPIRE,
			   blf_ul_cb, NULL)
			< 0) {
		LM_ERR("cannot register the usrloc callbacks\n");
		return -1;
	}
	if(blf_cfg.ul_domain.len > 0)
		blf_ul_dom = blf_cfg.ul_domain;
	else if(aliases)
		blf_ul_dom = aliases->alias; /* the first `alias` */
	if(!blf_ul.use_domain && blf_ul_dom.len == 0)
		LM_WARN("usrloc use_domain is 0 and neither ul_domain nor an "
				"alias is set: registrations cannot be matched to "
				"entities\n");
	else if(!blf_ul.use_domain)
		LM_INFO("usrloc AORs without a domain belong to %.*s\n", blf_ul_dom.len,
				blf_ul_dom.s);
	if(register_script_cb(blf_ul_script_cb,
			   PRE_SCRIPT_CB | REQUEST_CB | ONREPLY_CB | FAILURE_CB
					   | BRANCH_FAILURE_CB,
			   NULL) < 0
			|| register_script_cb(blf_ul_script_cb,
					   POST_SCRIPT_CB | REQUEST_CB | ONREPLY_CB | FAILURE_CB
							   | BRANCH_FAILURE_CB,
					   NULL)
					   < 0) {
		LM_ERR("cannot register the script callbacks\n");
		return -1;
	}
	if(register_timer(blf_ul_load_timer, NULL, 1) < 0) {
		LM_ERR("cannot register the usrloc load timer\n");
		return -1;
	}
	blf_ul_on = 1;
	return 0;
}
