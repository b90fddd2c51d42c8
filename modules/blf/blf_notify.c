/*
 * blf_notify.c — NOTIFY requests inside the subscription's dialog: over
 * UDP to an address by the module's own transactions (blf_ntx.c), else
 * statefully through tm.
 *
 * Jobs arrive here already holding everything a NOTIFY needs (copied out of
 * the subscription under its slot lock), so nothing in this file takes a
 * lock. The body is the per-watcher head (version, entity) followed by the
 * <dialog> fragment shared by every watcher of the change.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>
#include <stdlib.h>

#include "core/mem/shm_mem.h"
#include "core/mem/mem.h"
#include "core/dprint.h"
#include "core/ut.h"
#include "core/socket_info.h"
#include "core/parser/parse_rr.h"
#include "core/trim.h"
#include <strings.h>

#include "blf.h"

static str blf_notify_method = str_init("NOTIFY");
static char *blf_body = NULL; /* per process */
static int blf_body_size = 0;

void blf_job_free(blf_notify_job_t *j)
{
	free(j->frag_own);
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

static int blf_notify_send(blf_notify_job_t *j)
{
	char hdrs[512 + BLF_KEY_MAX];
	char head[256 + BLF_KEY_MAX * 6];
	char lcbuf[256];
	dlg_t td;
	uac_req_t uac_r;
	str h, b = STR_NULL;
	int hlen, n, ret = -1;

	hlen = blf_xml_head(head, sizeof(head), j->version, j->entity_esc.s,
			j->entity_esc.len);
	if(hlen < 0) {
		LM_ERR("entity too long: %.*s\n", j->entity_esc.len, j->entity_esc.s);
		return -1;
	}
	/* one body buffer per process, grown as needed: tm copies the body */
	b.len = hlen + j->frag_len + BLF_XML_TAIL_LEN;
	if(b.len + 1 > blf_body_size) {
		char *nb = realloc(blf_body, b.len + 1024);
		if(nb == NULL) {
			LM_ERR("no memory for a %d byte body\n", b.len);
			return -1;
		}
		blf_body = nb;
		blf_body_size = b.len + 1024;
	}
	b.s = blf_body;
	memcpy(b.s, head, hlen);
	memcpy(b.s + hlen, j->frag, j->frag_len);
	memcpy(b.s + hlen + j->frag_len, BLF_XML_TAIL, BLF_XML_TAIL_LEN);

	if(j->f[BLF_SF_LCONTACT].len == 0
			&& blf_sock_contact(j->sock ? j->sock : udp_listen, lcbuf,
					   sizeof(lcbuf), &j->f[BLF_SF_LCONTACT])
					   < 0) {
		LM_ERR("no Contact for NOTIFY %.*s\n", j->f[BLF_SF_CALLID].len,
				j->f[BLF_SF_CALLID].s);
		return -1;
	}
	if(j->terminated)
		n = snprintf(hdrs, sizeof(hdrs),
				"Max-Forwards: 70\r\nEvent: dialog%s%.*s\r\n"
				"Contact: <%.*s>\r\n"
				"Subscription-State: terminated;reason=%s\r\n"
				"Content-Type: application/dialog-info+xml\r\n",
				j->f[BLF_SF_EVID].len ? ";id=" : "", j->f[BLF_SF_EVID].len,
				j->f[BLF_SF_EVID].s, j->f[BLF_SF_LCONTACT].len,
				j->f[BLF_SF_LCONTACT].s, j->reason ? j->reason : "timeout");
	else
		n = snprintf(hdrs, sizeof(hdrs),
				"Max-Forwards: 70\r\nEvent: dialog%s%.*s\r\n"
				"Contact: <%.*s>\r\n"
				"Subscription-State: active;expires=%u\r\n"
				"Content-Type: application/dialog-info+xml\r\n",
				j->f[BLF_SF_EVID].len ? ";id=" : "", j->f[BLF_SF_EVID].len,
				j->f[BLF_SF_EVID].s, j->f[BLF_SF_LCONTACT].len,
				j->f[BLF_SF_LCONTACT].s, j->expires);
	if(n < 0 || n >= (int)sizeof(hdrs)) {
		LM_ERR("NOTIFY headers too long\n");
		goto out;
	}
	h.s = hdrs;
	h.len = n;

	memset(&td, 0, sizeof(td));
	/* UDP to an address: our own transaction (blf_ntx.c) */
	if((n = blf_ntx_send(j, &h, &b)) <= 0) {
		ret = n;
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
		LM_ERR("bad route set of %.*s: %.*s\n", j->f[BLF_SF_CALLID].len,
				j->f[BLF_SF_CALLID].s, j->f[BLF_SF_RR].len, j->f[BLF_SF_RR].s);
		goto out;
	}
	set_uac_req(&uac_r, &blf_notify_method, &h, &b, &td,
			TMCB_LOCAL_COMPLETED, blf_notify_cb, NULL);
	if(blf_tmb.t_request_within(&uac_r) < 0) {
		LM_ERR("cannot send NOTIFY %.*s to %.*s\n", j->f[BLF_SF_CALLID].len,
				j->f[BLF_SF_CALLID].s, j->f[BLF_SF_CONTACT].len,
				j->f[BLF_SF_CONTACT].s);
		goto out;
	}
	ret = 0;
out:
	if(td.route_set)
		free_rr(&td.route_set);
	if(ret == 0)
		update_stat(blf_st_notifies_sent, 1);
	else
		update_stat(blf_st_notifies_failed, 1);
	return ret;
}

void blf_notify_send_all(blf_notify_job_t *jobs)
{
	blf_notify_job_t *j;
	unsigned long long t0 = blf_delay_now_us(); /* the change's NOTIFYs */

	while(jobs) {
		j = jobs;
		jobs = j->next;
		if(blf_notify_send(j) == 0)
			blf_delay_note(t0);
		blf_job_free(j);
	}
	/* what the same change replicates to the cluster */
	blf_dmq_flush();
}
