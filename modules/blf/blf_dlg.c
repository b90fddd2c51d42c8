/*
 * blf_dlg.c — first-party call tracking: dialog module callbacks turned
 * into call events for the caller's and the callee's entities.
 *
 * blf_track() (or track_all) records the two entities of an initial INVITE
 * and registers per-dialog callbacks; each callback maps what happened
 * (18x, 2xx, failure, BYE from either side, expiry) to a blf_event_t and
 * hands it to the entity table once per side.
 *
 * A tracked call carries a dialog variable (BLF_DLG_VAR, blf_dlgvar.c)
 * naming its two entities; when the dialog module keeps its dialogs (db_mode) and loads
 * them at start, DLGCB_LOADED finds the variable and follows the call
 * again, quietly, in the state the dialog module restored.
 *
 * DLGCB_DESTROY runs under the dialog module's hash lock (destroy_dlg() is
 * called by dlg_unref() with the entry locked): a call that ends there (one
 * that never saw a BYE, failure or expiry) is queued and ended by the
 * "BLF DLG" timer process, so no NOTIFY, DMQ or alias work runs under that
 * lock.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>

#include "core/mem/shm_mem.h"
#include "core/dprint.h"
#include "core/ut.h"
#include "core/trim.h"
#include "core/parser/parse_from.h"
#include "core/parser/parse_to.h"
#include "core/parser/parse_uri.h"
#include "core/parser/contact/parse_contact.h"
#include "modules/dialog/dlg_cb.h"
#include "modules/dialog/dlg_hash.h"
#include "core/timer_proc.h"
#include "core/pt.h"
#include "core/cfg/cfg_struct.h"
#include "core/locking.h"

#include "blf.h"
#include "blf_alias.h"
#include "blf_chg.h"
#include "blf_dlgvar.h"

/* immutable facts of one tracked call, the dialog callbacks' parameter */
typedef struct blf_callref {
	str callid;
	str ftag;			/* caller's tag */
	str key[2];			/* entity of each side: [BLF_DIR_INITIATOR] caller */
	str cur[2];			/* the entity it stood for when the call began */
	str uri[2];			/* sip:key of each side */
	str disp[2];		/* display names, may be empty */
	str ctarget;		/* caller's Contact */
	volatile int ended; /* a BYE, failure or expiry ended it already */
	struct blf_callref *next; /* in the queue of calls to end */
} blf_callref_t;

/* the dialog variable that marks a tracked call (see blf_dlgvar.h) */
static str blf_dlg_var = str_init(BLF_DLG_VAR);

/* calls whose dialog was destroyed under the dialog module's lock without
 * having ended: ended by the "BLF DLG" process, in the order queued */
typedef struct blf_dlg_queue {
	gen_lock_t lock;
	blf_callref_t *first;
	blf_callref_t **last;
} blf_dlg_queue_t;

static blf_dlg_queue_t *blf_dlgq = NULL;

static blf_callref_t *blf_callref_new(const str *callid, const str *ftag,
		const str *ckey, const str *rkey, const str *ccur, const str *rcur,
		const str *cdisp, const str *rdisp, const str *ctarget)
{
	blf_callref_t *r;
	size_t len;
	char *p;

	len = sizeof(*r) + callid->len + ftag->len + 2 * (ckey->len + rkey->len)
		  + ccur->len + rcur->len + 8 + cdisp->len + rdisp->len
		  + ctarget->len + 16;
	r = shm_malloc(len);
	if(r == NULL) {
		SHM_MEM_ERROR;
		return NULL;
	}
	memset(r, 0, sizeof(*r));
	p = (char *)(r + 1);
#define BLF_PUT(dst, src)                  \
	do {                                   \
		(dst).s = p;                       \
		(dst).len = (src)->len;            \
		memcpy(p, (src)->s, (src)->len);   \
		p += (src)->len;                   \
		*p++ = '\0';                       \
	} while(0)
#define BLF_PUT_URI(dst, key)                  \
	do {                                       \
		(dst).s = p;                           \
		(dst).len = (key)->len + 4;            \
		memcpy(p, "sip:", 4);                  \
		memcpy(p + 4, (key)->s, (key)->len);   \
		p += (key)->len + 4;                   \
		*p++ = '\0';                           \
	} while(0)
	BLF_PUT(r->callid, callid);
	BLF_PUT(r->ftag, ftag);
	BLF_PUT(r->key[BLF_DIR_INITIATOR], ckey);
	BLF_PUT(r->key[BLF_DIR_RECIPIENT], rkey);
	BLF_PUT(r->cur[BLF_DIR_INITIATOR], ccur);
	BLF_PUT(r->cur[BLF_DIR_RECIPIENT], rcur);
	BLF_PUT_URI(r->uri[BLF_DIR_INITIATOR], ckey);
	BLF_PUT_URI(r->uri[BLF_DIR_RECIPIENT], rkey);
	BLF_PUT(r->disp[BLF_DIR_INITIATOR], cdisp);
	BLF_PUT(r->disp[BLF_DIR_RECIPIENT], rdisp);
	BLF_PUT(r->ctarget, ctarget);
#undef BLF_PUT
#undef BLF_PUT_URI
	return r;
}

static void blf_callref_free(void *p)
{
	shm_free(p);
}

/* a display name without its quotes */
static str blf_display(const str *d)
{
	str s = *d;

	trim(&s);
	if(s.len >= 2 && s.s[0] == '"' && s.s[s.len - 1] == '"') {
		s.s++;
		s.len -= 2;
	}
	return s;
}

static str blf_first_contact(struct sip_msg *msg)
{
	str none = STR_NULL;
	contact_t *c;

	if(msg == NULL || msg == FAKED_REPLY)
		return none;
	if(msg->contact == NULL
			&& (parse_headers(msg, HDR_CONTACT_F, 0) < 0 || msg->contact == NULL))
		return none;
	if(parse_contact(msg->contact) < 0 || msg->contact->parsed == NULL)
		return none;
	c = ((contact_body_t *)msg->contact->parsed)->contacts;
	return c ? c->uri : none;
}

/*
 * One side's event. The call lives where its entity stood when it began;
 * if it is not there, an alias answer has moved it since: ask the cache.
 */
static void blf_dlg_event(blf_callref_t *r, blf_dir_t d, blf_event_t ev,
		int code, const blf_call_upd_t *upd)
{
	char buf[BLF_KEY_MAX];
	str now;

	if(blf_entity_call_event(&r->cur[d], &r->callid, d, ev, code, upd) != -2
			|| ev == BLF_EV_REQUEST || !blf_alias_enabled())
		return;
	blf_alias_resolve(&r->key[d], buf, sizeof(buf), &now, NULL, 0);
	if(!STR_EQ(now, r->cur[d]))
		blf_entity_call_event(&now, &r->callid, d, ev, code, upd);
}

/* the event on both sides; upd_i/upd_r give each side's field updates */
static void blf_dlg_event2(blf_callref_t *r, blf_event_t ev_i,
		blf_event_t ev_r, int code, const blf_call_upd_t *upd_i,
		const blf_call_upd_t *upd_r)
{
	/* both sides' changes as one batch: one cluster message per event */
	blf_chg_hold();
	blf_dlg_event(r, BLF_DIR_INITIATOR, ev_i, code, upd_i);
	blf_dlg_event(r, BLF_DIR_RECIPIENT, ev_r, code, upd_r);
	blf_chg_release();
}

/* a reply moved the call: the callee's tag and Contact are learned here */
static void blf_dlg_reply(blf_callref_t *r, struct sip_msg *rpl, int final)
{
	blf_call_upd_t ui, ur;
	struct to_body *to;
	blf_event_t ev;
	str tag = STR_NULL, target;
	int code;

	if(rpl == NULL || rpl == FAKED_REPLY)
		return;
	code = rpl->first_line.u.reply.statuscode;
	if(rpl->to || parse_headers(rpl, HDR_TO_F, 0) == 0) {
		to = get_to(rpl);
		if(to)
			tag = to->tag_value;
	}
	target = blf_first_contact(rpl);
	memset(&ui, 0, sizeof(ui));
	memset(&ur, 0, sizeof(ur));
	if(tag.len) {
		ui.f[BLF_CF_RTAG] = tag;
		ur.f[BLF_CF_LTAG] = tag;
	}
	if(target.len) {
		ui.f[BLF_CF_RTARGET] = target;
		ur.f[BLF_CF_LTARGET] = target;
	}
	if(final)
		ev = BLF_EV_ANSWER;
	else
		ev = tag.len ? BLF_EV_EARLY : BLF_EV_PROVISIONAL;
	blf_dlg_event2(r, ev, ev, code, &ui, &ur);
}

/* the final failure code: from the reply, else from the transaction */
static int blf_dlg_fail_code(struct sip_msg *rpl)
{
	struct cell *t;

	if(rpl && rpl != FAKED_REPLY)
		return rpl->first_line.u.reply.statuscode;
	t = blf_tmb.t_gett ? blf_tmb.t_gett() : NULL;
	if(t && t != T_UNDEFINED && t->uas.status >= 300)
		return t->uas.status;
	return 408;
}

/* queues r to be ended outside the dialog module's lock */
static void blf_dlg_defer_end(blf_callref_t *r)
{
	r->next = NULL;
	lock_get(&blf_dlgq->lock);
	*blf_dlgq->last = r;
	blf_dlgq->last = &r->next;
	lock_release(&blf_dlgq->lock);
}

static void blf_dlg_cb(struct dlg_cell *dlg, int type, struct dlg_cb_params *p)
{
	blf_callref_t *r;

	if(p == NULL || p->param == NULL || *p->param == NULL)
		return;
	/* shutdown: dialog's mod_destroy frees its table (DLGCB_DESTROY)
	 * after ours (modules are destroyed in reverse load order) */
	if(blf_table == NULL)
		return;
	r = (blf_callref_t *)*p->param;
	switch(type) {
		case DLGCB_EARLY:
			blf_dlg_reply(r, p->rpl, 0);
			break;
		case DLGCB_CONFIRMED_NA:
			blf_dlg_reply(r, p->rpl, 1);
			break;
		case DLGCB_FAILED:
			r->ended = 1;
			blf_dlg_event2(r, BLF_EV_FAILURE, BLF_EV_FAILURE,
					blf_dlg_fail_code(p->rpl), NULL, NULL);
			break;
		case DLGCB_TERMINATED:
			r->ended = 1;
			/* downstream: the BYE came from the caller */
			if(p->direction == DLG_DIR_DOWNSTREAM)
				blf_dlg_event2(r, BLF_EV_BYE_LOCAL, BLF_EV_BYE_REMOTE, 0,
						NULL, NULL);
			else
				blf_dlg_event2(r, BLF_EV_BYE_REMOTE, BLF_EV_BYE_LOCAL, 0,
						NULL, NULL);
			break;
		case DLGCB_EXPIRED:
			r->ended = 1;
			blf_dlg_event2(r, BLF_EV_TIMEOUT, BLF_EV_TIMEOUT, 0, NULL, NULL);
			break;
		case DLGCB_DESTROY:
			/* under the dialog module's hash lock: no NOTIFY, DMQ or
			 * alias work here. A call that never ended properly must not
			 * stay lit: it is taken from the dialog (which would free it)
			 * and ended by the "BLF DLG" process. */
			if(r->ended || blf_dlgq == NULL)
				break;
			*p->param = NULL;
			blf_dlg_defer_end(r);
			break;
	}
}

/* "BLF DLG" process: ends the calls queued by DLGCB_DESTROY, in order;
 * 1 when there were some */
static int blf_dlg_timer(void)
{
	static time_t logged = 0;
	static unsigned int unlogged = 0;
	blf_callref_t *r, *next;
	time_t now;
	str last = STR_NULL;

	if(blf_dlgq == NULL || blf_dlgq->first == NULL)
		return 0;
	lock_get(&blf_dlgq->lock);
	r = blf_dlgq->first;
	blf_dlgq->first = NULL;
	blf_dlgq->last = &blf_dlgq->first;
	lock_release(&blf_dlgq->lock);
	for(; r; r = next) {
		next = r->next;
		if(blf_table)
			blf_dlg_event2(r, BLF_EV_ERROR, BLF_EV_ERROR, 0, NULL, NULL);
		update_stat(blf_st_calls_destroyed, 1);
		unlogged++;
		if(next == NULL) {
			/* logged below, then freed */
			last = r->callid;
			break;
		}
		shm_free(r);
	}
	/* a peer can cause these (INVITEs the script drops): one line a second */
	now = time(NULL);
	if(now != logged) {
		LM_INFO("ended %u call(s) whose dialog was destroyed without a BYE, "
				"failure or expiry (last: %.*s)\n",
				unlogged, last.len > 128 ? 128 : last.len, last.s);
		logged = now;
		unlogged = 0;
	}
	if(r)
		shm_free(r);
	return 1;
}

/*
 * The "BLF DLG" process: every 100 ms while calls come, sleeping twice as
 * long after each round that found none, up to a second. Such calls are
 * rare (an INVITE the script drops after blf_track()), and on a virtual
 * host a wake-up costs about what a NOTIFY does (bench/README.md, "Where
 * the CPU goes against the floor", eighth session): an idle process should
 * not wake ten times a second.
 */
static void blf_dlg_timer_loop(void)
{
	unsigned int ms = BLF_DLG_TIMER_MS;

	for(;;) {
		sleep_us(ms * 1000u);
		cfg_update();
		if(blf_dlg_timer())
			ms = BLF_DLG_TIMER_MS;
		else if(ms < BLF_DLG_IDLE_MS)
			ms = ms * 2 < BLF_DLG_IDLE_MS ? ms * 2 : BLF_DLG_IDLE_MS;
	}
}

/* marks dlg as tracked, for a restart (see blf_dlg_loaded) */
static void blf_dlg_mark(struct dlg_cell *dlg, blf_callref_t *r)
{
	char buf[BLF_DLGVAR_MAX];
	blf_span_t f[BLF_DLGVAR_FIELDS];
	str val;

	if(blf_dlgb.set_dlg_var == NULL)
		return;
#define BLF_SPAN(i, x)        \
	do {                      \
		f[i].s = (x).s;       \
		f[i].len = (x).len;   \
	} while(0)
	BLF_SPAN(BLF_DV_CKEY, r->key[BLF_DIR_INITIATOR]);
	BLF_SPAN(BLF_DV_RKEY, r->key[BLF_DIR_RECIPIENT]);
	BLF_SPAN(BLF_DV_CCUR, r->cur[BLF_DIR_INITIATOR]);
	BLF_SPAN(BLF_DV_RCUR, r->cur[BLF_DIR_RECIPIENT]);
	BLF_SPAN(BLF_DV_CDISP, r->disp[BLF_DIR_INITIATOR]);
#undef BLF_SPAN
	if(f[BLF_DV_CDISP].len > BLF_DLGVAR_FIELD_MAX)
		f[BLF_DV_CDISP].len = BLF_DLGVAR_FIELD_MAX;
	val.s = buf;
	val.len = blf_dlgvar_encode(f, buf, sizeof(buf));
	if(val.len < 0 || blf_dlgb.set_dlg_var(dlg, &blf_dlg_var, &val) != 0)
		LM_ERR("cannot mark the dialog of %.*s as tracked: it will not be "
			   "followed after a restart\n",
				r->callid.len > 128 ? 128 : r->callid.len, r->callid.s);
}

#define BLF_DLG_CBS                                                       \
	(DLGCB_EARLY | DLGCB_CONFIRMED_NA | DLGCB_FAILED | DLGCB_TERMINATED \
			| DLGCB_EXPIRED | DLGCB_DESTROY)

/* follows dlg, whose initial INVITE is msg */
static int blf_track_dlg(struct dlg_cell *dlg, struct sip_msg *msg)
{
	char ckbuf[BLF_KEY_MAX], rkbuf[BLF_KEY_MAX];
	char ccbuf[BLF_KEY_MAX], rcbuf[BLF_KEY_MAX];
	blf_call_upd_t ui, ur;
	struct to_body *from;
	blf_callref_t *r;
	str ckey, rkey, ccur, rcur, callid, cdisp, rdisp = STR_NULL, ctarget;

	if(parse_headers(msg, HDR_CALLID_F | HDR_TO_F | HDR_CONTACT_F, 0) < 0
			|| msg->callid == NULL || msg->to == NULL
			|| parse_from_header(msg) < 0) {
		LM_ERR("INVITE without Call-ID, From or To\n");
		return -1;
	}
	from = get_from(msg);
	if(blf_key_from_uri(&from->uri, ckbuf, sizeof(ckbuf), &ckey) < 0
			|| blf_key_from_uri(GET_RURI(msg), rkbuf, sizeof(rkbuf), &rkey)
					   < 0) {
		LM_NOTICE("call without user@host on a side, not tracked\n");
		return -1;
	}
	callid = msg->callid->body;
	trim(&callid);
	cdisp = blf_display(&from->display);
	/* the callee has no display name: the one in To is the caller's
	 * word, and a caller must not name the callee to its watchers */
	ctarget = blf_first_contact(msg);
	/* a call never waits for the alias service: an unknown alias stands
	 * for itself until its answer moves the call (blf_alias_answer) */
	blf_alias_resolve(&ckey, ccbuf, sizeof(ccbuf), &ccur, NULL, 0);
	blf_alias_resolve(&rkey, rcbuf, sizeof(rcbuf), &rcur, NULL, 0);
	r = blf_callref_new(&callid, &from->tag_value, &ckey, &rkey, &ccur, &rcur,
			&cdisp, &rdisp, &ctarget);
	if(r == NULL)
		return -1;
	if(blf_dlgb.register_dlgcb(dlg, BLF_DLG_CBS, blf_dlg_cb, r,
			   blf_callref_free)
			!= 0) {
		LM_ERR("cannot register dialog callbacks for %.*s\n", callid.len,
				callid.s);
		shm_free(r);
		return -1;
	}
	blf_dlg_mark(dlg, r);
	/* both sides start in trying; r lives until DLGCB_DESTROY */
	memset(&ui, 0, sizeof(ui));
	memset(&ur, 0, sizeof(ur));
	ui.f[BLF_CF_CALLID] = r->callid;
	ui.f[BLF_CF_LTAG] = r->ftag;
	ui.f[BLF_CF_LURI] = r->uri[BLF_DIR_INITIATOR];
	ui.f[BLF_CF_LDISP] = r->disp[BLF_DIR_INITIATOR];
	ui.f[BLF_CF_LTARGET] = r->ctarget;
	ui.f[BLF_CF_RURI] = r->uri[BLF_DIR_RECIPIENT];
	ui.f[BLF_CF_RDISP] = r->disp[BLF_DIR_RECIPIENT];
	ur.f[BLF_CF_CALLID] = r->callid;
	ur.f[BLF_CF_RTAG] = r->ftag;
	ur.f[BLF_CF_LURI] = r->uri[BLF_DIR_RECIPIENT];
	ur.f[BLF_CF_LDISP] = r->disp[BLF_DIR_RECIPIENT];
	ur.f[BLF_CF_RURI] = r->uri[BLF_DIR_INITIATOR];
	ur.f[BLF_CF_RDISP] = r->disp[BLF_DIR_INITIATOR];
	ur.f[BLF_CF_RTARGET] = r->ctarget;
	blf_dlg_event2(r, BLF_EV_REQUEST, BLF_EV_REQUEST, 0, &ui, &ur);
	return 1;
}

/*
 * A restored call joins entity key in state st quietly: its watchers saw
 * it before the restart and see it in their next NOTIFY (refresh, change),
 * so no NOTIFY goes out from the dialog module's start-up. Returns 1 when
 * added, 0 when the entity has it already, -1 on error.
 */
static int blf_dlg_restore_side(const str *key, blf_dir_t dir,
		blf_dstate_t *st, const blf_call_upd_t *upd, time_t start)
{
	blf_entity_t *e;
	blf_call_t *c, **pc;
	unsigned int hash;
	int ret = -1;

	hash = blf_key_hash(key);
	blf_slot_lock(hash);
	e = blf_entity_get(hash, key);
	if(e == NULL)
		goto unlock;
	c = blf_call_find(e, &upd->f[BLF_CF_CALLID], dir, &pc);
	if(c) {
		ret = 0;
		goto gc;
	}
	c = blf_call_build(NULL, upd);
	if(c == NULL)
		goto gc;
	c->dir = dir;
	c->start = start;
	c->st = *st;
	c->seq = 1;
	blf_call_hist_add(c);
	blf_call_set_id(c);
	c->next = e->calls;
	e->calls = c;
	e->ncalls++;
	ret = 1;
gc:
	blf_entity_gc(hash, e);
unlock:
	blf_slot_unlock(hash);
	return ret;
}

static unsigned int blf_dlg_nrestored = 0;

/* DLGCB_LOADED: a dialog the dialog module restored from its database */
static void blf_dlg_loaded(
		struct dlg_cell *dlg, int type, struct dlg_cb_params *p)
{
	str f[BLF_DLGVAR_FIELDS], val = STR_NULL, none = STR_NULL;
	blf_span_t sp[BLF_DLGVAR_FIELDS];
	blf_call_upd_t ui, ur;
	blf_dstate_t st;
	blf_callref_t *r = NULL;
	str rtag, rtarget;
	int i;

	if(dlg == NULL || blf_table == NULL || blf_dlgb.get_dlg_vardup == NULL)
		return;
	if(dlg->state != DLG_STATE_EARLY && dlg->state != DLG_STATE_CONFIRMED_NA
			&& dlg->state != DLG_STATE_CONFIRMED)
		return;
	if(blf_dlgb.get_dlg_vardup(dlg, &blf_dlg_var, &val) != 0
			|| val.s == NULL)
		return; /* not a tracked call */
	if(blf_dlgvar_decode(val.s, val.len, sp) < 0) {
		LM_ERR("dialog %.*s: unreadable %s variable, not followed\n",
				dlg->callid.len > 128 ? 128 : dlg->callid.len,
				dlg->callid.s, BLF_DLG_VAR);
		goto done;
	}
	for(i = 0; i < BLF_DLGVAR_FIELDS; i++) {
		f[i].s = (char *)sp[i].s;
		f[i].len = sp[i].len;
	}
	r = blf_callref_new(&dlg->callid, &dlg->tag[DLG_CALLER_LEG],
			&f[BLF_DV_CKEY], &f[BLF_DV_RKEY], &f[BLF_DV_CCUR], &f[BLF_DV_RCUR],
			&f[BLF_DV_CDISP], &none, &dlg->contact[DLG_CALLER_LEG]);
	if(r == NULL)
		goto done;
	blf_dstate_init(&st);
	if(dlg->state == DLG_STATE_EARLY)
		blf_dstate_apply(&st, BLF_EV_EARLY, 180);
	else
		blf_dstate_apply(&st, BLF_EV_ANSWER, 200);
	rtag = dlg->tag[DLG_CALLEE_LEG];
	rtarget = dlg->contact[DLG_CALLEE_LEG];
	memset(&ui, 0, sizeof(ui));
	memset(&ur, 0, sizeof(ur));
	ui.f[BLF_CF_CALLID] = r->callid;
	ui.f[BLF_CF_LTAG] = r->ftag;
	ui.f[BLF_CF_RTAG] = rtag;
	ui.f[BLF_CF_LURI] = r->uri[BLF_DIR_INITIATOR];
	ui.f[BLF_CF_LDISP] = r->disp[BLF_DIR_INITIATOR];
	ui.f[BLF_CF_LTARGET] = r->ctarget;
	ui.f[BLF_CF_RURI] = r->uri[BLF_DIR_RECIPIENT];
	ui.f[BLF_CF_RDISP] = r->disp[BLF_DIR_RECIPIENT];
	ui.f[BLF_CF_RTARGET] = rtarget;
	ur.f[BLF_CF_CALLID] = r->callid;
	ur.f[BLF_CF_LTAG] = rtag;
	ur.f[BLF_CF_RTAG] = r->ftag;
	ur.f[BLF_CF_LURI] = r->uri[BLF_DIR_RECIPIENT];
	ur.f[BLF_CF_LDISP] = r->disp[BLF_DIR_RECIPIENT];
	ur.f[BLF_CF_LTARGET] = rtarget;
	ur.f[BLF_CF_RURI] = r->uri[BLF_DIR_INITIATOR];
	ur.f[BLF_CF_RDISP] = r->disp[BLF_DIR_INITIATOR];
	ur.f[BLF_CF_RTARGET] = r->ctarget;
	if(blf_dlgb.register_dlgcb(dlg, BLF_DLG_CBS, blf_dlg_cb, r,
			   blf_callref_free)
			!= 0) {
		LM_ERR("cannot register dialog callbacks for restored %.*s\n",
				r->callid.len > 128 ? 128 : r->callid.len, r->callid.s);
		shm_free(r);
		goto done;
	}
	if(blf_dlg_restore_side(&r->cur[BLF_DIR_INITIATOR], BLF_DIR_INITIATOR,
			   &st, &ui, (time_t)dlg->start_ts)
					< 0
			|| blf_dlg_restore_side(&r->cur[BLF_DIR_RECIPIENT],
					   BLF_DIR_RECIPIENT, &st, &ur, (time_t)dlg->start_ts)
					   < 0)
		LM_ERR("restored call %.*s: out of memory for a side\n",
				r->callid.len > 128 ? 128 : r->callid.len, r->callid.s);
	blf_dlg_nrestored++;
	LM_DBG("following restored call %.*s again (%.*s -> %.*s, %s)\n",
			r->callid.len, r->callid.s, r->cur[0].len, r->cur[0].s,
			r->cur[1].len, r->cur[1].s, blf_state_name(st.state));
done:
	if(val.s)
		pkg_free(val.s);
}

/* blf_track(): follow the call of this initial INVITE */
int blf_track(struct sip_msg *msg)
{
	static unsigned int last_id = 0;
	static int last_pid = 0;
	struct dlg_cell *dlg;
	int ret;

	if(blf_cfg.track_all)
		return 1; /* every dialog is followed already */
	if(msg->first_line.type != SIP_REQUEST
			|| msg->first_line.u.request.method_value != METHOD_INVITE) {
		LM_ERR("blf_track() is for initial INVITEs\n");
		return -1;
	}
	if(msg->id == last_id && msg->pid == last_pid)
		return 1; /* called twice for the same request */
	if(parse_to_header(msg) < 0 || get_to(msg)->tag_value.len) {
		LM_ERR("blf_track() is for initial INVITEs, not re-INVITEs\n");
		return -1;
	}
	dlg = blf_dlgb.get_dlg(msg);
	if(dlg == NULL) {
		LM_ERR("no dialog for this INVITE: call dlg_manage() before "
			   "blf_track()\n");
		return -1;
	}
	ret = blf_track_dlg(dlg, msg);
	blf_dlgb.release_dlg(dlg);
	if(ret > 0) {
		last_id = msg->id;
		last_pid = msg->pid;
	}
	return ret;
}

static void blf_dlg_created(
		struct dlg_cell *dlg, int type, struct dlg_cb_params *p)
{
	if(p->req == NULL || p->req == FAKED_REPLY)
		return;
	blf_track_dlg(dlg, p->req);
}

int blf_dlg_init(void)
{
	if(load_dlg_api(&blf_dlgb) < 0) {
		LM_ERR("cannot bind the dialog module: load dialog.so before "
			   "blf.so\n");
		return -1;
	}
	if(blf_cfg.track_all
			&& blf_dlgb.register_dlgcb(
					   NULL, DLGCB_CREATED, blf_dlg_created, NULL, NULL)
					   != 0) {
		LM_ERR("cannot register the dialog creation callback\n");
		return -1;
	}
	/* dialogs the dialog module restores (db_mode): run at its child_init
	 * (PROC_INIT), after every mod_init, so our table is ready */
	if(blf_dlgb.register_dlgcb(NULL, DLGCB_LOADED, blf_dlg_loaded, NULL, NULL)
			!= 0) {
		LM_ERR("cannot register the dialog load callback\n");
		return -1;
	}
	blf_dlgq = shm_malloc(sizeof(*blf_dlgq));
	if(blf_dlgq == NULL) {
		SHM_MEM_ERROR;
		return -1;
	}
	memset(blf_dlgq, 0, sizeof(*blf_dlgq));
	lock_init(&blf_dlgq->lock);
	blf_dlgq->last = &blf_dlgq->first;
	register_basic_timers(1); /* the "BLF DLG" process */
	return 0;
}

int blf_dlg_child_init(int rank)
{
	int pid;

	if(rank == PROC_INIT && blf_dlg_nrestored)
		LM_NOTICE("following %u calls restored by the dialog module\n",
				blf_dlg_nrestored);
	if(rank != PROC_MAIN || blf_dlgq == NULL)
		return 0;
	pid = fork_process(PROC_TIMER, "BLF DLG", 1);
	if(pid < 0) {
		LM_ERR("cannot start the dialog end process\n");
		return -1;
	}
	if(pid == 0) {
		if(cfg_child_init())
			return -1;
		blf_dlg_timer_loop(); /* does not return */
	}
	return 0;
}

/* shutdown, after every child has exited: calls still queued are freed */
void blf_dlg_destroy(void)
{
	blf_callref_t *r, *next;

	if(blf_dlgq == NULL)
		return;
	for(r = blf_dlgq->first; r; r = next) {
		next = r->next;
		shm_free(r);
	}
	shm_free(blf_dlgq);
	blf_dlgq = NULL;
}
