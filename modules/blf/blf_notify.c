/*
 * blf_notify.c — NOTIFY requests, sent statefully through tm inside the
 * subscription's dialog.
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

#include "blf.h"

/* what the NOTIFY's completion callback needs to find the subscription */
typedef struct blf_notify_ref {
	unsigned int hash;
	int terminated;
	str callid;
	str ftag;
	str ttag;
} blf_notify_ref_t;

static str blf_notify_method = str_init("NOTIFY");

void blf_job_free(blf_notify_job_t *j)
{
	free(j->frag_own);
	pkg_free(j);
}

static blf_notify_ref_t *blf_notify_ref_new(blf_notify_job_t *j)
{
	blf_notify_ref_t *r;
	const str *src[3] = {&j->f[BLF_SF_CALLID], &j->f[BLF_SF_FTAG],
			&j->f[BLF_SF_TTAG]};
	str *dst[3];
	char *p;
	int i;

	r = shm_malloc(sizeof(*r) + src[0]->len + src[1]->len + src[2]->len);
	if(r == NULL) {
		SHM_MEM_ERROR;
		return NULL;
	}
	r->hash = j->hash;
	r->terminated = j->terminated;
	dst[0] = &r->callid;
	dst[1] = &r->ftag;
	dst[2] = &r->ttag;
	p = (char *)(r + 1);
	for(i = 0; i < 3; i++) {
		dst[i]->s = p;
		dst[i]->len = src[i]->len;
		memcpy(p, src[i]->s, src[i]->len);
		p += src[i]->len;
	}
	return r;
}

/*
 * The watcher's answer (or tm's 408): 481 means the watcher has no such
 * subscription, 408 that it is gone; both end the subscription here too.
 */
static void blf_notify_cb(struct cell *t, int type, struct tmcb_params *ps)
{
	blf_notify_ref_t *r;

	if(ps->param == NULL || *ps->param == NULL)
		return;
	r = (blf_notify_ref_t *)*ps->param;
	if(type & TMCB_DESTROY) {
		/* always the last callback of the transaction: tm does not free it */
		*ps->param = NULL;
		shm_free(r);
		return;
	}
	if(ps->code < 300)
		return;
	update_stat(blf_st_notifies_failed, 1);
	if((ps->code == 481 || ps->code == 408) && !r->terminated) {
		if(blf_subs_remove(r->hash, &r->callid, &r->ftag, &r->ttag))
			LM_INFO("NOTIFY %.*s answered %d: subscription removed\n",
					r->callid.len, r->callid.s, ps->code);
	} else {
		LM_NOTICE("NOTIFY %.*s answered %d\n", r->callid.len, r->callid.s,
				ps->code);
	}
}

static int blf_notify_send(blf_notify_job_t *j)
{
	char hdrs[512 + BLF_KEY_MAX];
	char head[256 + BLF_KEY_MAX * 6];
	dlg_t td;
	uac_req_t uac_r;
	blf_notify_ref_t *ref = NULL;
	str h, b = STR_NULL;
	int hlen, n, ret = -1;

	hlen = blf_xml_head(head, sizeof(head), j->version, j->entity_esc.s,
			j->entity_esc.len);
	if(hlen < 0) {
		LM_ERR("entity too long: %.*s\n", j->entity_esc.len, j->entity_esc.s);
		return -1;
	}
	b.len = hlen + j->frag_len + BLF_XML_TAIL_LEN;
	b.s = pkg_malloc(b.len + 1);
	if(b.s == NULL) {
		PKG_MEM_ERROR;
		return -1;
	}
	memcpy(b.s, head, hlen);
	memcpy(b.s + hlen, j->frag, j->frag_len);
	memcpy(b.s + hlen + j->frag_len, BLF_XML_TAIL, BLF_XML_TAIL_LEN);

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
	td.id.call_id = j->f[BLF_SF_CALLID];
	td.id.rem_tag = j->f[BLF_SF_FTAG];
	td.id.loc_tag = j->f[BLF_SF_TTAG];
	td.loc_seq.value = j->cseq - 1; /* tm increments it before sending */
	td.loc_seq.is_set = 1;
	td.loc_uri = j->f[BLF_SF_URI];
	td.rem_uri = j->f[BLF_SF_WURI];
	td.rem_target = j->f[BLF_SF_CONTACT];
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
	ref = blf_notify_ref_new(j);
	if(ref == NULL)
		goto out;
	set_uac_req(&uac_r, &blf_notify_method, &h, &b, &td,
			TMCB_LOCAL_COMPLETED | TMCB_DESTROY, blf_notify_cb, ref);
	if(blf_tmb.t_request_within(&uac_r) < 0) {
		LM_ERR("cannot send NOTIFY %.*s to %.*s\n", j->f[BLF_SF_CALLID].len,
				j->f[BLF_SF_CALLID].s, j->f[BLF_SF_CONTACT].len,
				j->f[BLF_SF_CONTACT].s);
		/* on failure tm has not registered the callback: ours to free */
		shm_free(ref);
		goto out;
	}
	ret = 0;
out:
	if(td.route_set)
		free_rr(&td.route_set);
	pkg_free(b.s);
	if(ret == 0)
		update_stat(blf_st_notifies_sent, 1);
	else
		update_stat(blf_st_notifies_failed, 1);
	return ret;
}

void blf_notify_send_all(blf_notify_job_t *jobs)
{
	blf_notify_job_t *j;

	while(jobs) {
		j = jobs;
		jobs = j->next;
		blf_notify_send(j);
		blf_job_free(j);
	}
	/* what the same change replicates to the cluster */
	blf_dmq_flush();
}
