/*
 * blf_notify.c — NOTIFY requests inside the subscription's dialog: over
 * UDP to an address by the module's own transactions (blf_ntx.c), else
 * statefully through tm.
 *
 * Jobs arrive here already holding everything a NOTIFY needs (copied out of
 * the subscription under its slot lock), so nothing in this file takes a
 * lock. Each job holds its event package and a reference to the snapshot
 * of the change (blf_pkg.h): the body is built here, after the unlock, by
 * the package; this file knows no package by name.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>
#include <stdlib.h>
#include <time.h>
#include <stdint.h>

#include "core/mem/shm_mem.h"
#include "core/mem/mem.h"
#include "core/dprint.h"
#include "core/ut.h"
#include "core/socket_info.h"
#include "core/parser/parse_rr.h"
#include "core/trim.h"
#include "core/ip_addr.h"
#include <strings.h>

#include "blf.h"
#include "blf_put.h"
#include "blf_chg.h"

static str blf_notify_method = str_init("NOTIFY");
static blf_buf_t blf_body = {.max = BLF_NOTIFY_MSG_MAX}; /* per process */
static char *blf_hdrs = NULL; /* per process */
static int blf_hdrs_size = 0;

void blf_job_free(blf_notify_job_t *j)
{
	blf_snap_put(j->snap);
	free(j);
}

/* the value of header line h ("Name: value\r\n") */
static str blf_hdr_value(const str *h)
{
	str v = {0, 0};
	char *c = h->s ? memchr(h->s, ':', h->len) : NULL;

	if(c == NULL)
		return v;
	v.s = c + 1;
	v.len = h->len - (int)(v.s - h->s);
	trim(&v);
	return v;
}

/* the tag parameter of a From/To header line */
static str blf_hdr_tag(const str *h)
{
	str v = blf_hdr_value(h), t = {0, 0};
	int i;

	for(i = 0; i + 4 <= v.len; i++) {
		if((v.s[i] == 't' || v.s[i] == 'T') && strncasecmp(v.s + i, "tag=", 4) == 0
				&& i > 0 && (v.s[i - 1] == ';' || v.s[i - 1] == ' ')) {
			t.s = v.s + i + 4;
			for(t.len = 0; t.s + t.len < v.s + v.len && t.s[t.len] != ';'
						   && t.s[t.len] != ' ' && t.s[t.len] != '>';
					t.len++)
				;
			break;
		}
	}
	return t;
}

/*
 * The watcher's answer (or tm's 408): 481 means the watcher has no such
 * subscription, 408 that it is gone; both end the subscription here too.
 * The subscription is found from the NOTIFY tm keeps (Call-ID, our From tag
 * which encodes the entity, the watcher's To tag): no per-NOTIFY parameter
 * is allocated for the common case of a 200.
 */
static void blf_notify_cb(struct cell *t, int type, struct tmcb_params *ps)
{
	str callid, ftag, ttag;
	unsigned int hash;

	if(type & TMCB_DESTROY) {
		/* tm frees the NOTIFY's cell: the place in flight is given back
		 * here when no completion did (blf_inflight.c) */
		if(ps->param && *ps->param
				&& !((uintptr_t)*ps->param & BLF_INFLIGHT_DONE))
			blf_inflight_put((unsigned int)(uintptr_t)*ps->param);
		return;
	}
	/* completed (an answer, or tm's 408): the NOTIFY is no longer in
	 * flight. The cell tm keeps for wt_timer after it (Timer K, to absorb
	 * the answer's retransmissions) is not counted: at 5 s a place, it
	 * would cap tm's NOTIFYs at max_notifies_inflight/5 a second (200 by
	 * default; a busy PBX's TLS phones make more) and defer the rest; the
	 * shm those cells hold is guarded by notify_min_free_shm */
	if(ps->param && *ps->param
			&& !((uintptr_t)*ps->param & BLF_INFLIGHT_DONE)) {
		blf_inflight_put((unsigned int)(uintptr_t)*ps->param);
		*ps->param = (void *)((uintptr_t)*ps->param | BLF_INFLIGHT_DONE);
	}
	if(ps->code < 300)
		return;
	update_stat(blf_st_notifies_failed, 1);
#if VERSIONVAL >= 6000000 /* Kamailio 6.0 renamed tm's header copies */
	callid = blf_hdr_value(&t->callid_hdr);
	ttag = blf_hdr_tag(&t->from_hdr); /* our tag */
	ftag = blf_hdr_tag(&t->to_hdr);	  /* the watcher's */
#else
	callid = blf_hdr_value(&t->callid);
	ttag = blf_hdr_tag(&t->from); /* our tag */
	ftag = blf_hdr_tag(&t->to);	  /* the watcher's */
#endif
	/* tm matched the answer on its branch and CSeq method; one from
	 * another address than the NOTIFY went to (a forged 481) does not end
	 * the subscription (tm's own 408 has no message) */
	if(ps->rpl && ps->rpl != FAKED_REPLY && t->nr_of_outgoings > 0) {
		union sockaddr_union src;

		init_su(&src, &ps->rpl->rcv.src_ip, ps->rpl->rcv.src_port);
		if(!su_cmp(&src, &t->uac[0].request.dst.to)) {
			static time_t last = 0; /* per process: a line a second */
			update_stat(blf_st_notify_answers_ignored, 1);
			if(last == time(NULL))
				return;
			last = time(NULL);
			LM_NOTICE("NOTIFY %.*s answered %d from %s:%d, not where it "
					  "was sent: ignored\n",
					callid.len > 128 ? 128 : callid.len, callid.s, ps->code,
					ip_addr2a(&ps->rpl->rcv.src_ip),
					(int)ps->rpl->rcv.src_port);
			return;
		}
	}
	if(ps->code != 481 && ps->code != 408) {
		LM_NOTICE("NOTIFY %.*s answered %d\n", callid.len, callid.s,
				ps->code);
		return;
	}
	if(blf_tag_hash(&ttag, &hash) == 0
			&& blf_subs_remove(hash, &callid, &ftag, &ttag))
		LM_INFO("NOTIFY %.*s answered %d: subscription removed\n",
				callid.len, callid.s, ps->code);
}

/* a per-process buffer of at least need bytes, grown as needed (tm and
 * blf_ntx copy what they send, so one per process will do) */
static char *blf_buf_grow(char **buf, int *size, size_t need)
{
	char *nb;

	if(need > BLF_NOTIFY_MSG_MAX)
		return NULL;
	if((int)need <= *size)
		return *buf;
	nb = realloc(*buf, need + 1024);
	if(nb == NULL)
		return NULL;
	*buf = nb;
	*size = (int)need + 1024;
	return nb;
}

/*
 * A subscription whose fields make a NOTIFY that cannot be sent (headers
 * past BLF_NOTIFY_HDRS_MAX, a route set that does not parse): it could
 * never be notified, so it ends here, with a log line, instead of holding a
 * slot and a lamp that never lights. Such fields can come from a DMQ
 * replica or the database, not only from a SUBSCRIBE.
 */
static void blf_notify_refuse(const blf_notify_job_t *j, const char *why)
{
	const str *c = &j->f[BLF_SF_CALLID];
	int found;

	found = blf_subs_remove(j->hash, c, &j->f[BLF_SF_FTAG],
			&j->f[BLF_SF_TTAG]);
	LM_NOTICE("NOTIFY %.*s cannot be built (%s): subscription %s\n",
			c->len > 128 ? 128 : c->len, c->s, why,
			found ? "removed" : "already gone");
}

/* the NOTIFY's own headers (the dialog's are added by tm or blf_ntx) */
static int blf_notify_hdrs(const blf_notify_job_t *j, str *h)
{
	const str *evid = &j->f[BLF_SF_EVID], *lc = &j->f[BLF_SF_LCONTACT];
	const char *reason = j->reason ? j->reason : "timeout";
	const char *ev = j->pkg->name, *ct = j->pkg->ctype;
	const char *xh = j->pkg->hdrs ? j->pkg->hdrs : "";
	size_t need;
	char *p;
	int n;

	if(j->pkg->ctype_of && j->snap)
		ct = j->pkg->ctype_of(j->snap); /* the body's own (a list's) */
	/* the fixed text is under 150 bytes; 256 leaves room for the numbers */
	need = 256 + (size_t)evid->len + (size_t)lc->len + strlen(reason)
		   + strlen(ev) + strlen(ct) + strlen(xh);
	if(need > BLF_NOTIFY_HDRS_MAX)
		return -2;
	if(blf_buf_grow(&blf_hdrs, &blf_hdrs_size, need) == NULL)
		return -1;
	/* copies rather than snprintf(): need counts every variable part */
	p = blf_hdrs;
	BLF_PUTS(p, "Max-Forwards: 70\r\nEvent: ");
	BLF_PUT(p, ev, strlen(ev));
	if(evid->len) {
		BLF_PUTS(p, ";id=");
		BLF_PUT(p, evid->s, evid->len);
	}
	BLF_PUTS(p, "\r\nContact: <");
	BLF_PUT(p, lc->s, lc->len);
	if(j->terminated) {
		BLF_PUTS(p, ">\r\nSubscription-State: terminated;reason=");
		BLF_PUT(p, reason, strlen(reason));
	} else {
		BLF_PUTS(p, ">\r\nSubscription-State: active;expires=");
		p = blf_put_uint(p, j->expires);
	}
	BLF_PUTS(p, "\r\n");
	BLF_PUT(p, xh, strlen(xh));
	BLF_PUTS(p, "Content-Type: ");
	BLF_PUT(p, ct, strlen(ct));
	BLF_PUTS(p, "\r\n");
	n = (int)(p - blf_hdrs);
	if(n >= blf_hdrs_size)
		return -1; /* cannot happen: need counts every variable part */
	h->s = blf_hdrs;
	h->len = n;
	return 0;
}

/*
 * The body, built by the job's package from the change's snapshot (its
 * shared part once per change and visibility, cached in the snapshot), into
 * this process's buffer; valid until the next NOTIFY.
 */
static int blf_notify_body(const blf_notify_job_t *j, str *b)
{
	blf_body_req_t r;

	memset(&r, 0, sizeof(r));
	r.version = j->version;
	r.entity_esc = j->entity_esc.s;
	r.entity_len = (size_t)j->entity_esc.len;
	r.vis = j->vis;
	r.max = (size_t)blf_cfg.notify_max_body;
	r.terminated = j->terminated;
	blf_body.len = 0;
	if(j->pkg->body(j->snap, &r, &blf_body) < 0)
		return -1;
	b->s = blf_body.s;
	b->len = (int)blf_body.len;
	return 0;
}

/*
 * Our Contact for a subscription that stored none: the socket's, printed
 * once per socket and process (sockets live as long as the process) rather
 * than for every NOTIFY.
 */
static int blf_notify_contact(struct socket_info *si, str *out)
{
	static struct socket_info *last = NULL;
	static char buf[256];
	static str c = STR_NULL;

	if(si == NULL)
		return -1;
	if(si != last) {
		last = NULL;
		if(blf_sock_contact(si, buf, sizeof(buf), &c) < 0)
			return -1;
		last = si;
	}
	*out = c;
	return 0;
}

static int blf_notify_send(blf_notify_job_t *j)
{
	dlg_t td;
	uac_req_t uac_r;
	str h = STR_NULL, b = STR_NULL;
	int n, ret = -1;

	/* zeroed first: every exit below goes through out, which frees what
	 * td holds */
	memset(&td, 0, sizeof(td));
	if(blf_notify_body(j, &b) < 0) {
		LM_ERR("cannot build the %s body of NOTIFY %.*s (entity %d "
			   "bytes)\n",
				j->pkg->name,
				j->f[BLF_SF_CALLID].len > 128 ? 128 : j->f[BLF_SF_CALLID].len,
				j->f[BLF_SF_CALLID].s, j->entity_esc.len);
		goto out;
	}
	if(j->f[BLF_SF_LCONTACT].len == 0
			&& blf_notify_contact(j->sock ? j->sock : udp_listen,
					   &j->f[BLF_SF_LCONTACT])
					   < 0) {
		LM_ERR("no Contact for NOTIFY %.*s\n",
				j->f[BLF_SF_CALLID].len > 128 ? 128 : j->f[BLF_SF_CALLID].len,
				j->f[BLF_SF_CALLID].s);
		goto out;
	}
	n = blf_notify_hdrs(j, &h);
	if(n == -2) {
		blf_notify_refuse(j, "headers too long");
		goto out;
	}
	if(n < 0) {
		LM_ERR("no memory for the headers of NOTIFY %.*s\n",
				j->f[BLF_SF_CALLID].len > 128 ? 128 : j->f[BLF_SF_CALLID].len,
				j->f[BLF_SF_CALLID].s);
		goto out;
	}

	/* UDP to an address: our own transaction (blf_ntx.c), which then
	 * holds the NOTIFY's place in flight */
	if((n = blf_ntx_send(j, &h, &b)) <= 0) {
		ret = n;
		if(ret == 0)
			j->inflight = 0;
		goto out;
	}
	td.id.call_id = j->f[BLF_SF_CALLID];
	td.id.rem_tag = j->f[BLF_SF_FTAG];
	td.id.loc_tag = j->f[BLF_SF_TTAG];
	td.loc_seq.value = j->cseq - 1; /* tm increments it before sending */
	td.loc_seq.is_set = 1;
	td.loc_uri = j->f[BLF_SF_URI];
	td.rem_uri = j->f[BLF_SF_WURI];
	td.rem_target = j->f[BLF_SF_CONTACT];
	if(j->f[BLF_SF_DST].len)
		td.dst_uri = j->f[BLF_SF_DST]; /* the SUBSCRIBE's connection */
	td.state = DLG_CONFIRMED;
	td.send_sock = j->sock;
	if(j->f[BLF_SF_RR].len
			&& parse_rr_body(j->f[BLF_SF_RR].s, j->f[BLF_SF_RR].len,
					   &td.route_set)
					   < 0) {
		LM_ERR("bad route set of %.*s: %.*s\n",
				j->f[BLF_SF_CALLID].len > 128 ? 128 : j->f[BLF_SF_CALLID].len,
				j->f[BLF_SF_CALLID].s,
				j->f[BLF_SF_RR].len > 256 ? 256 : j->f[BLF_SF_RR].len,
				j->f[BLF_SF_RR].s);
		blf_notify_refuse(j, "bad route set");
		goto out;
	}
	/* tm calls TMCB_DESTROY once, when it frees the cell, only when
	 * t_request_within succeeded: the place in flight is then its */
	set_uac_req(&uac_r, &blf_notify_method, &h, &b, &td,
			TMCB_LOCAL_COMPLETED | TMCB_DESTROY, blf_notify_cb,
			(void *)(uintptr_t)j->inflight);
	if(blf_tmb.t_request_within(&uac_r) < 0) {
		LM_ERR("cannot send NOTIFY %.*s to %.*s\n",
				j->f[BLF_SF_CALLID].len > 128 ? 128 : j->f[BLF_SF_CALLID].len,
				j->f[BLF_SF_CALLID].s,
				j->f[BLF_SF_CONTACT].len > 128 ? 128 : j->f[BLF_SF_CONTACT].len,
				j->f[BLF_SF_CONTACT].s);
		goto out;
	}
	j->inflight = 0;
	ret = 0;
out:
	if(j->inflight) {
		blf_inflight_put(j->inflight); /* not sent: its place is free */
		j->inflight = 0;
	}
	if(td.route_set)
		free_rr(&td.route_set);
	if(ret == 0) {
		update_stat(blf_st_notifies_sent, 1);
		if(j->pkg && j->pkg->id < BLF_PKG_MAX && blf_st_pkg_sent[j->pkg->id])
			update_stat(blf_st_pkg_sent[j->pkg->id], 1);
	} else
		update_stat(blf_st_notifies_failed, 1);
	return ret;
}

/*
 * Per process: NOTIFYs held while a peer's replica is applied, until our
 * answer to it has left (blf_dmq.c). That answer carries their versions:
 * sent first, a node killed between the two never NOTIFYd a version its
 * peers did not hear of (a takeover would send it again).
 */
static int blf_notify_holding = 0;
static blf_notify_job_t *blf_notify_held = NULL;
static blf_notify_job_t **blf_notify_held_tail = &blf_notify_held;

void blf_notify_hold(void)
{
	blf_notify_holding = 1;
}

int blf_notify_holds(void)
{
	return blf_notify_held != NULL;
}

void blf_notify_release(void)
{
	blf_notify_job_t *jobs = blf_notify_held;

	blf_notify_holding = 0;
	blf_notify_held = NULL;
	blf_notify_held_tail = &blf_notify_held;
	if(jobs)
		blf_notify_send_all(jobs);
}

void blf_notify_send_all(blf_notify_job_t *jobs)
{
	blf_notify_job_t *j;
	unsigned long long t0;
	unsigned int sent = 0;

	if(blf_notify_holding && jobs) {
		/* in the order they came: appended */
		*blf_notify_held_tail = jobs;
		for(j = jobs; j->next; j = j->next)
			;
		blf_notify_held_tail = &j->next;
		return;
	}
	t0 = blf_delay_now_us(); /* the change's NOTIFYs */
	while(jobs) {
		j = jobs;
		jobs = j->next;
		if(blf_notify_send(j) == 0) {
			sent++;
			/* a state split over several NOTIFYs: the rest follows. The
			 * package may give back an ordering token there (a list's
			 * sending mark, blf_lsub.c): what was built must be on the
			 * wire first, or another process's next version could leave
			 * before it */
			if(j->pkg->more) {
				blf_notify_job_t *m, *t;

				blf_ntx_flush();
				m = j->pkg->more(j);
				if(m) {
					for(t = m; t->next; t = t->next)
						;
					t->next = jobs;
					jobs = m;
				}
			}
		}
		blf_job_free(j);
	}
	/* the module's own NOTIFYs built above leave together (blf_ntx.c) */
	blf_ntx_flush();
	if(sent)
		blf_delay_note(t0, sent);
	/* what else the same change did (cluster replicas, DB rows) */
	blf_chg_flush();
}
