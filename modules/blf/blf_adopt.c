/*
 * blf_adopt.c — a dead cluster node's calls, held and adopted.
 *
 * When a node dies (or restarts), its calls are not ended at the takeover:
 * for takeover_call_hold seconds they are held ("orphans", indexed here by
 * Call-ID). In the HA deployment the dead proxy's address (a VIP, or the
 * Record-Route host) moves to a survivor, so the phones' in-dialog traffic
 * of those calls (the callee's final reply, the caller's CANCEL, BYE from
 * either side) reaches a node that holds them as replicas but has no
 * dialog for them. A core pre-script callback sees that traffic before
 * the script and before tm (every request, every reply, stray ones too):
 * a message of a held call, whose tags are the call's, is applied as the
 * dialog callbacks would (blf_dlg.c) and the call becomes this node's
 * (blf_entity_call_adopt): its watchers are notified, the change is
 * replicated as a local call's, and the other nodes follow us. Calls still
 * held when the hold ends end as at a takeover.
 *
 * The address can move before this node finds the dead one dead (the HA
 * manager is faster than BLF_DMQ_DEAD_AFTER): a final reply to an INVITE
 * whose top Via, a BYE whose first Route names another address than the
 * socket it reached, or a CANCEL, is looked up in the table by its From
 * and To (blf_entity_peer_call) and, when it is another node's call, held
 * and adopted the same way. Normal traffic (nothing held) costs two
 * compares per final reply and a Route parse per BYE; other messages one
 * test of their method.
 *
 * Locks: one per group of index buckets (no global lock on the SIP path),
 * a leaf: taken under a slot lock (the takeover adds entries from inside
 * blf_entity_node_calls_each), never held while a slot lock is taken, a
 * NOTIFY built or a message sent.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>

#include "core/mem/shm_mem.h"
#include "core/dprint.h"
#include "core/hashes.h"
#include "core/locking.h"
#include "core/atomic_ops.h"
#include "core/trim.h"
#include "core/script_cb.h"
#include "core/parser/msg_parser.h"
#include "core/parser/parse_from.h"
#include "core/parser/parse_to.h"
#include "core/parser/parse_cseq.h"
#include "core/parser/parse_rr.h"
#include "core/parser/parse_uri.h"
#include "core/socket_info.h"

#include "blf.h"
#include "blf_chg.h"
#include "blf_adopt.h"
#include "blf_lograte.h"

/* its rate-limited log line: the last second one went out (per process) */
static time_t blf_adopt_log_last = 0;

#define BLF_ADOPT_BUCKETS 1024 /* a power of two */
#define BLF_ADOPT_LOCKS 64	   /* no global lock on the SIP path */
#define BLF_ADOPT_LOCK(h) (&blf_adopt->locks[(h) % BLF_ADOPT_LOCKS])
#define BLF_ADOPT_MAX 200000 /* held call sides (two per call); beyond,
								* a dead node's calls end at the takeover */
#define BLF_ADOPT_TAG_MAX 128 /* a longer callee tag is not learned */
#define BLF_ADOPT_MATCH 8	  /* sides of one Call-ID handled per message */
/* an adopted call has no dialog here: without its BYE it stays lit this
 * long after its adoption (the dialog module's default_timeout) */
#define BLF_ADOPT_KEEP 43200

/* one held side of a call: entity key, direction, whose it was */
typedef struct blf_orphan {
	struct blf_orphan *next;
	str callid;
	str key;
	str ctag; /* the caller's tag (From of the INVITE) */
	str etag; /* the callee's tag, empty until known; room for
				   * BLF_ADOPT_TAG_MAX (learned from a 2xx) */
	int dir;
	int origin; /* the dead node; 0 once adopted here */
	unsigned int gen;
	time_t until;
} blf_orphan_t;

typedef struct blf_adopt_tab {
	gen_lock_t locks[BLF_ADOPT_LOCKS]; /* bucket b: locks[b % LOCKS] */
	atomic_t n; /* entries: 0, nothing to look at per message */
	blf_orphan_t *b[BLF_ADOPT_BUCKETS];
} blf_adopt_tab_t;

static blf_adopt_tab_t *blf_adopt = NULL;

int (*blf_adopt_origin_live)(int idx, unsigned int gen) = NULL;

int blf_adopt_held(void)
{
	return blf_adopt ? atomic_get(&blf_adopt->n) : 0;
}

static unsigned int blf_adopt_bucket(const str *callid)
{
	return core_hash(callid, NULL, BLF_ADOPT_BUCKETS);
}

/* ---- the takeover: a dead node's calls are held ---- */

typedef struct blf_hold_arg {
	time_t until;
	int failed; /* out of memory or over BLF_ADOPT_MAX */
	int added;
} blf_hold_arg_t;

/* under key's slot lock: one call of the dead node joins the index */
static void blf_adopt_hold_call(const str *key, const blf_call_t *c, void *arg)
{
	blf_hold_arg_t *a = arg;
	const str *cid = &c->f[BLF_CF_CALLID];
	const str *ct, *et;
	blf_orphan_t *o;
	unsigned int h = blf_adopt_bucket(cid);
	char *p;

	/* the caller's and callee's tags, by the side this record is */
	ct = &c->f[c->dir == BLF_DIR_INITIATOR ? BLF_CF_LTAG : BLF_CF_RTAG];
	et = &c->f[c->dir == BLF_DIR_INITIATOR ? BLF_CF_RTAG : BLF_CF_LTAG];
	lock_get(BLF_ADOPT_LOCK(h));
	for(o = blf_adopt->b[h]; o; o = o->next)
		if(o->dir == (int)c->dir && STR_EQ(o->callid, *cid)
				&& STR_EQ(o->key, *key))
			break;
	if(o) { /* held already (a restart after the death, its traffic seen
			 * before the takeover) */
		if(o->origin) {
			o->origin = c->origin;
			o->gen = c->gen;
		}
		if(o->until < a->until)
			o->until = a->until;
		lock_release(BLF_ADOPT_LOCK(h));
		return;
	}
	if(atomic_get(&blf_adopt->n) >= BLF_ADOPT_MAX || ct->len == 0
			|| ct->len > BLF_ADOPT_TAG_MAX || et->len > BLF_ADOPT_TAG_MAX
			|| key->len > BLF_KEY_MAX) {
		lock_release(BLF_ADOPT_LOCK(h));
		a->failed++;
		return;
	}
	o = shm_malloc(
			sizeof(*o) + cid->len + key->len + ct->len + BLF_ADOPT_TAG_MAX);
	if(o == NULL) {
		lock_release(BLF_ADOPT_LOCK(h));
		a->failed++;
		return;
	}
	p = (char *)(o + 1);
#define BLF_OCOPY(dst, src)              \
	do {                                 \
		(dst).s = p;                     \
		(dst).len = (src)->len;          \
		memcpy(p, (src)->s, (src)->len); \
		p += (src)->len;                 \
	} while(0)
	BLF_OCOPY(o->callid, cid);
	BLF_OCOPY(o->key, key);
	BLF_OCOPY(o->ctag, ct);
	BLF_OCOPY(o->etag, et);
#undef BLF_OCOPY
	o->dir = c->dir;
	o->origin = c->origin;
	o->gen = c->gen;
	o->until = a->until;
	o->next = blf_adopt->b[h];
	blf_adopt->b[h] = o;
	atomic_inc(&blf_adopt->n);
	lock_release(BLF_ADOPT_LOCK(h));
	a->added++;
}

int blf_adopt_hold(const str *key, int dead, unsigned int keep)
{
	blf_hold_arg_t a;

	if(blf_adopt == NULL || blf_cfg.takeover_call_hold <= 0) {
		blf_entity_end_node_calls(key, dead, keep);
		return 0;
	}
	memset(&a, 0, sizeof(a));
	a.until = time(NULL) + blf_cfg.takeover_call_hold;
	blf_entity_node_calls_each(key, dead, keep, blf_adopt_hold_call, &a);
	if(a.failed) {
		/* not held: ended now, as with no hold (those held end too: the
		 * index finds them ended at the hold's end) */
		LM_ERR("cannot hold %d call(s) of %.*s (out of shm memory, %d "
			   "held, or no caller tag): ended now\n",
				a.failed, key->len, key->s, BLF_ADOPT_MAX);
		blf_entity_end_node_calls(key, dead, keep);
	}
	return a.added;
}

/* ---- the hold's end ---- */

void blf_adopt_timer(void)
{
	blf_orphan_t *o, **po, *due = NULL;
	time_t now;
	int i, ended = 0, n = 0;

	if(blf_adopt == NULL || atomic_get(&blf_adopt->n) == 0)
		return;
	now = time(NULL);
	for(i = 0; i < BLF_ADOPT_BUCKETS; i++) {
		if(blf_adopt->b[i] == NULL)
			continue;
		lock_get(BLF_ADOPT_LOCK(i));
		for(po = &blf_adopt->b[i]; (o = *po);) {
			if(o->until > now) {
				po = &o->next;
				continue;
			}
			*po = o->next;
			o->next = due;
			due = o;
			atomic_dec(&blf_adopt->n);
		}
		lock_release(BLF_ADOPT_LOCK(i));
	}
	for(; due; due = o) {
		o = due->next;
		n++;
		/* its traffic came here, but its node lives on (in the same
		 * incarnation): the call is still that node's */
		if(due->origin && blf_adopt_origin_live
				&& blf_adopt_origin_live(due->origin, due->gen)) {
			shm_free(due);
			continue;
		}
		if(blf_entity_call_orphan_end(
				   &due->key, &due->callid, due->dir, due->origin, due->gen))
			ended++;
		shm_free(due);
	}
	if(ended) {
		update_stat(blf_st_orphans_ended, ended);
		LM_NOTICE("%d held call side(s) of dead cluster nodes ended at the "
				  "end of takeover_call_hold (%d released)\n",
				ended, n);
	}
}

/* ---- in-dialog traffic of a held call ---- */

typedef struct blf_omatch {
	char key[BLF_KEY_MAX];
	char ctag[BLF_ADOPT_TAG_MAX];
	char etag[BLF_ADOPT_TAG_MAX];
	str k, ct, et;
	int dir, origin;
	unsigned int gen;
} blf_omatch_t;

/* what the dialog callbacks would make of msg for held side m (a
 * blf_event_t), -2 when its tags are not the call's; *learn: the callee's
 * tag a 2xx tells */
static int blf_adopt_event(struct sip_msg *msg, const blf_omatch_t *m,
		const str *ft, const str *tt, int *code, str *learn)
{
	int caller;

	learn->len = 0;
	if(msg->first_line.type == SIP_REPLY) {
		*code = msg->first_line.u.reply.statuscode;
		if(!STR_EQ(*ft, m->ct))
			return -2;
		if(m->et.len && !STR_EQ(*tt, m->et))
			return -2;
		if(*code < 300 && tt->len == 0)
			return -2; /* a 2xx always has the callee's tag */
		if(*code < 300) {
			if(m->et.len == 0)
				*learn = *tt;
			return BLF_EV_ANSWER;
		}
		return BLF_EV_FAILURE;
	}
	if(msg->first_line.u.request.method_value == METHOD_CANCEL) {
		/* the INVITE's From and To: no To tag */
		if(!STR_EQ(*ft, m->ct) || tt->len)
			return -2;
		*code = 487; /* what dialog's failure callback gets */
		return BLF_EV_FAILURE;
	}
	/* BYE: both tags, the caller's and the callee's, either way round */
	if(m->et.len == 0 || ft->len == 0 || tt->len == 0)
		return -2;
	if(STR_EQ(*ft, m->ct) && STR_EQ(*tt, m->et))
		caller = 1;
	else if(STR_EQ(*ft, m->et) && STR_EQ(*tt, m->ct))
		caller = 0;
	else
		return -2;
	*code = 0;
	/* the BYE's sender hung up: "local" for its own side */
	if(caller == (m->dir == BLF_DIR_INITIATOR))
		return BLF_EV_BYE_LOCAL;
	return BLF_EV_BYE_REMOTE;
}

/* after its events: the entries of the sides that ended or are no longer
 * held here go, those adopted now follow the call as ours */
static void blf_adopt_after(const str *callid, blf_omatch_t *m, int *st,
		int *adopted, const str *learn, int nm, time_t now)
{
	blf_orphan_t *o, **po;
	unsigned int h = blf_adopt_bucket(callid);
	int i;

	lock_get(BLF_ADOPT_LOCK(h));
	for(po = &blf_adopt->b[h]; (o = *po);) {
		for(i = 0; i < nm; i++)
			if(o->dir == m[i].dir && STR_EQ(o->callid, *callid)
					&& STR_EQ(o->key, m[i].k))
				break;
		if(i == nm || st[i] == -2) {
			po = &o->next;
			continue;
		}
		if(st[i] == -1 || st[i] == BLF_STATE_TERMINATED) {
			*po = o->next;
			atomic_dec(&blf_adopt->n);
			shm_free(o);
			continue;
		}
		if(adopted[i]) {
			o->origin = 0;
			o->gen = 0;
			o->until = now + BLF_ADOPT_KEEP;
			if(o->etag.len == 0 && learn[i].len
					&& learn[i].len <= BLF_ADOPT_TAG_MAX) {
				memcpy(o->etag.s, learn[i].s, learn[i].len);
				o->etag.len = learn[i].len;
			}
		}
		po = &o->next;
	}
	lock_release(BLF_ADOPT_LOCK(h));
}

/* whether host:port is this node's own address for msg's transport: the
 * first listen socket of it (or its advertised name). Not the socket msg
 * reached: a node that listens on every VIP (kamailio-blf-cluster.cfg,
 * WITH_VIP) gets a moved VIP's traffic on that VIP's socket. */
static int blf_adopt_ours(
		struct sip_msg *msg, const str *host, unsigned short port)
{
	struct socket_info **list = get_sock_info_list(msg->rcv.proto);
	struct socket_info *si = list ? *list : NULL;

	if(si == NULL)
		return 1;
	if(port == 0)
		port = SIP_PORT;
	if(port == si->port_no && host->len == si->address_str.len
			&& strncasecmp(host->s, si->address_str.s, host->len) == 0)
		return 1;
	if(si->useinfo.name.len && port == si->useinfo.port_no
			&& host->len == si->useinfo.name.len
			&& strncasecmp(host->s, si->useinfo.name.s, host->len) == 0)
		return 1;
	return 0;
}

/*
 * Whether msg (a final reply to an INVITE, a BYE or a CANCEL) was meant
 * for another address than this node's own: a reply's top Via, a BYE's
 * first Route (a CANCEL names no proxy: always). In the HA deployment
 * that is the address of a dead node, moved here, and it can arrive
 * before the takeover (the address moves as soon as the HA manager sees
 * the node gone). Normal traffic costs two compares (a BYE: its Route
 * parsed).
 */
static int blf_adopt_moved(struct sip_msg *msg)
{
	struct sip_uri u;
	rr_t *rt;

	if(msg->first_line.type == SIP_REPLY)
		return msg->via1
			   && !blf_adopt_ours(msg, &msg->via1->host, msg->via1->port);
	if(msg->first_line.u.request.method_value == METHOD_CANCEL)
		return 1;
	if(parse_headers(msg, HDR_ROUTE_F, 0) < 0 || msg->route == NULL
			|| parse_rr(msg->route) < 0 || msg->route->parsed == NULL)
		return 0;
	rt = (rr_t *)msg->route->parsed;
	if(parse_uri(rt->nameaddr.uri.s, rt->nameaddr.uri.len, &u) < 0)
		return 0;
	return !blf_adopt_ours(msg, &u.host, u.port_no);
}

/* msg's call, held by no one yet, when this node has it as another node's
 * (its two sides: the caller's entity, From; the callee's, To): held from
 * now on, so that its traffic here is adopted before the takeover */
static void blf_adopt_index_peer(struct sip_msg *msg, const str *callid)
{
	char kbuf[BLF_KEY_MAX];
	blf_hold_arg_t a;
	str key;

	if(parse_from_header(msg) < 0)
		return;
	memset(&a, 0, sizeof(a));
	a.until = time(NULL) + blf_cfg.takeover_call_hold;
	if(blf_key_from_uri(&get_from(msg)->uri, kbuf, sizeof(kbuf), &key) == 0)
		blf_entity_peer_call(
				&key, callid, BLF_DIR_INITIATOR, blf_adopt_hold_call, &a);
	if(blf_key_from_uri(&get_to(msg)->uri, kbuf, sizeof(kbuf), &key) == 0)
		blf_entity_peer_call(
				&key, callid, BLF_DIR_RECIPIENT, blf_adopt_hold_call, &a);
}

static int blf_adopt_scan(const str *callid, blf_omatch_t *m)
{
	blf_orphan_t *o;
	unsigned int h = blf_adopt_bucket(callid);
	int nm = 0;

	lock_get(BLF_ADOPT_LOCK(h));
	for(o = blf_adopt->b[h]; o && nm < BLF_ADOPT_MATCH; o = o->next) {
		if(!STR_EQ(o->callid, *callid) || o->key.len > BLF_KEY_MAX)
			continue;
		memcpy(m[nm].key, o->key.s, o->key.len);
		m[nm].k.s = m[nm].key;
		m[nm].k.len = o->key.len;
		memcpy(m[nm].ctag, o->ctag.s, o->ctag.len);
		m[nm].ct.s = m[nm].ctag;
		m[nm].ct.len = o->ctag.len;
		memcpy(m[nm].etag, o->etag.s, o->etag.len);
		m[nm].et.s = m[nm].etag;
		m[nm].et.len = o->etag.len;
		m[nm].dir = o->dir;
		m[nm].origin = o->origin;
		m[nm].gen = o->gen;
		nm++;
	}
	lock_release(BLF_ADOPT_LOCK(h));
	return nm;
}

static void blf_adopt_msg(struct sip_msg *msg)
{
	blf_omatch_t m[BLF_ADOPT_MATCH];
	int st[BLF_ADOPT_MATCH], adopted[BLF_ADOPT_MATCH];
	str learn[BLF_ADOPT_MATCH];
	blf_call_upd_t upd;
	str callid, ft, tt;
	int nm, i, ev, code, bad = 0, nadopt = 0, moved;
	time_t now;

	if(msg->first_line.type == SIP_REQUEST) {
		if(msg->first_line.u.request.method_value != METHOD_BYE
				&& msg->first_line.u.request.method_value != METHOD_CANCEL)
			return;
	} else if(msg->first_line.type == SIP_REPLY) {
		if(msg->first_line.u.reply.statuscode < 200)
			return;
	} else
		return;
	if(msg->first_line.type == SIP_REPLY
			&& (msg->cseq == NULL || get_cseq(msg)->method_id != METHOD_INVITE))
		return;
	moved = blf_adopt_moved(msg);
	if(!moved && atomic_get(&blf_adopt->n) == 0)
		return; /* normal traffic, nothing held */
	if(parse_headers(msg, HDR_CALLID_F | HDR_CSEQ_F | HDR_TO_F, 0) < 0
			|| msg->callid == NULL || msg->cseq == NULL || msg->to == NULL)
		return;
	if(msg->first_line.type == SIP_REPLY
			&& get_cseq(msg)->method_id != METHOD_INVITE)
		return;
	callid = msg->callid->body;
	trim(&callid);
	if(callid.len == 0)
		return;
	nm = blf_adopt_scan(&callid, m);
	if(nm == 0 && moved) {
		/* its node not (yet) found dead here: another node's call? */
		blf_adopt_index_peer(msg, &callid);
		nm = blf_adopt_scan(&callid, m);
	}
	if(nm == 0)
		return;
	if(parse_from_header(msg) < 0)
		return;
	ft = get_from(msg)->tag_value;
	tt = get_to(msg)->tag_value;
	blf_chg_hold(); /* both sides' changes in one cluster message */
	for(i = 0; i < nm; i++) {
		st[i] = -2;
		adopted[i] = 0;
		ev = blf_adopt_event(msg, &m[i], &ft, &tt, &code, &learn[i]);
		if(ev < 0) {
			bad++;
			continue;
		}
		memset(&upd, 0, sizeof(upd));
		if(learn[i].len)
			upd.f[m[i].dir == BLF_DIR_INITIATOR ? BLF_CF_RTAG : BLF_CF_LTAG] =
					learn[i];
		st[i] = blf_entity_call_adopt(&m[i].k, &callid, m[i].dir, m[i].origin,
				m[i].gen, (blf_event_t)ev, code, learn[i].len ? &upd : NULL,
				&adopted[i]);
		if(adopted[i] && m[i].origin)
			nadopt = 1;
	}
	blf_chg_release();
	now = time(NULL);
	blf_adopt_after(&callid, m, st, adopted, learn, nm, now);
	if(nadopt) {
		update_stat(blf_st_calls_adopted, 1);
		LM_INFO("call %.*s of a dead cluster node adopted here\n",
				callid.len > 128 ? 128 : callid.len, callid.s);
	}
	if(bad && blf_log_ok(&blf_adopt_log_last))
		LM_NOTICE("%s for held call %.*s whose tags are not the call's: "
				  "ignored\n",
				msg->first_line.type == SIP_REPLY
						? "reply"
						: (msg->first_line.u.request.method_value == METHOD_BYE
										? "BYE"
										: "CANCEL"),
				callid.len > 128 ? 128 : callid.len, callid.s);
}

/* before the script (and before tm) for every request and reply */
static int blf_adopt_script_cb(struct sip_msg *msg, unsigned int flags, void *p)
{
	blf_adopt_msg(msg);
	return 1;
}

int blf_adopt_init(void)
{
	int i;

	if(!blf_cfg.enable_dmq || blf_cfg.takeover_call_hold <= 0)
		return 0;
	blf_adopt = shm_malloc(sizeof(*blf_adopt));
	if(blf_adopt == NULL) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(blf_adopt, 0, sizeof(*blf_adopt));
	for(i = 0; i < BLF_ADOPT_LOCKS; i++)
		lock_init(&blf_adopt->locks[i]);
	atomic_set(&blf_adopt->n, 0);
	if(register_script_cb(blf_adopt_script_cb,
			   PRE_SCRIPT_CB | REQUEST_CB | ONREPLY_CB, NULL)
			< 0) {
		LM_ERR("cannot register the script callback\n");
		return -1;
	}
	return 0;
}

/* shutdown: what is held is freed */
void blf_adopt_destroy(void)
{
	blf_orphan_t *o, *next;
	int i;

	if(blf_adopt == NULL)
		return;
	for(i = 0; i < BLF_ADOPT_BUCKETS; i++)
		for(o = blf_adopt->b[i]; o; o = next) {
			next = o->next;
			shm_free(o);
		}
	shm_free(blf_adopt);
	blf_adopt = NULL;
}
