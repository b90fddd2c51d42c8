/*
 * blf_pkg_reg.c — the `reg` event package (RFC 3680,
 * application/reginfo+xml): an AOR's registered contacts, as usrloc
 * reports them (blf_ul.c, blf_entity_reg.c). Only the entity itself may
 * subscribe (BLF_PKG_SELF_ONLY: 403 otherwise); registered only when usrloc
 * is loaded, so without it `reg` is not served (489).
 *
 * snapshot: under the slot lock, copies of the contacts, a contact that
 * just ended included (inactive: shown terminated with its event once).
 * body: after the unlock, blf_reginfo_build(), always full state, the
 * version the subscription's.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>
#include <stdlib.h>
#include <stdio.h>
#include <time.h>

#include "core/dprint.h"

#include "blf.h"
#include "blf_pkg.h"
#include "blf_reginfo.h"

/* without notify_max_body (0), a document is still bounded */
#define BLF_RSNAP_MAX_DOC 65536

typedef struct blf_rsnap
{
	blf_snap_t h; /* first: the registry's head */
	int n;
	blf_reginfo_contact_t *c; /* n of them, strings in the block */
	char *aor;				  /* "sip:" + the entity key */
	char regid[12];
	time_t taken;
} blf_rsnap_t;

static size_t blf_rs_len(const str *s)
{
	return (size_t)s->len + 1;
}

static const char *blf_rs_copy(char **p, const str *s)
{
	char *r = *p;

	if(s->len > 0)
		memcpy(r, s->s, s->len);
	r[s->len] = '\0';
	*p += s->len + 1;
	return r;
}

static blf_snap_t *blf_reg_snapshot(const blf_entity_t *e)
{
	const blf_contact_t *c;
	blf_rsnap_t *sn;
	blf_reginfo_contact_t *d;
	time_t now = time(NULL);
	size_t len;
	char *p;
	int n, i, max;

	/* the live ones and those that ended since the last NOTIFY: one, or
	 * more when the expiry timer sends a batch of changes (BLF_ENT_REGDUE);
	 * bounded all the same */
	max = (int)e->ncontacts + 1;
	if(e->flags & BLF_ENT_REGDUE)
		max += blf_cfg.max_contacts_per_entity > 0
					   ? blf_cfg.max_contacts_per_entity
					   : 16;
	len = sizeof(*sn) + 4 + (size_t)e->key.len + 1;
	for(n = 0, c = e->contacts; c && n < max; c = c->next, n++)
		len += sizeof(*d) + sizeof(c->id) + blf_rs_len(&c->uri)
			   + blf_rs_len(&c->callid) + blf_rs_len(&c->q);
	sn = malloc(len);
	if(sn == NULL) {
		LM_ERR("no memory for the contacts of %.*s\n", e->key.len, e->key.s);
		return NULL;
	}
	memset(sn, 0, sizeof(*sn));
	sn->n = n;
	sn->taken = now;
	sn->c = (blf_reginfo_contact_t *)(sn + 1);
	p = (char *)(sn->c + n);
	sn->aor = p;
	memcpy(p, "sip:", 4);
	memcpy(p + 4, e->key.s, e->key.len);
	p[4 + e->key.len] = '\0';
	p += 4 + e->key.len + 1;
	snprintf(sn->regid, sizeof(sn->regid), "r%08x", e->hash);
	for(i = 0, c = e->contacts; i < n; c = c->next, i++) {
		d = &sn->c[i];
		memset(d, 0, sizeof(*d));
		memcpy(p, c->id, sizeof(c->id));
		d->id = p;
		p += sizeof(c->id);
		d->uri = blf_rs_copy(&p, &c->uri);
		d->callid = blf_rs_copy(&p, &c->callid);
		d->q = blf_rs_copy(&p, &c->q);
		d->active = c->active;
		d->event = (blf_reginfo_event_t)c->event;
		d->cseq = c->cseq;
		if(!c->active || c->expires == 0)
			d->expires = c->active ? -1 : 0;
		else
			d->expires = c->expires > now ? (long)(c->expires - now) : 0;
		d->duration_registered = now >= c->since ? (long)(now - c->since) : 0;
	}
	return &sn->h;
}

static void blf_reg_snap_free(blf_snap_t *h)
{
	free(h);
}

static int blf_reg_body(blf_snap_t *h, const blf_body_req_t *r, blf_buf_t *out)
{
	blf_rsnap_t *sn = (blf_rsnap_t *)h;
	size_t max, len = 0;
	char *doc = NULL;
	int cut;

	max = r->max > 0 ? r->max : BLF_RSNAP_MAX_DOC;
	cut = blf_reginfo_build(
			sn->aor, sn->regid, r->version, sn->c, sn->n, max, &doc, &len);
	if(cut < 0) {
		LM_ERR("cannot build the reginfo of %s\n", sn->aor);
		return -1;
	}
	if(cut > 0) {
		update_stat(blf_st_bodies_cut, 1);
		LM_NOTICE("reginfo of %s over notify_max_body: %d of %d contacts "
				  "left out\n",
				sn->aor, cut, sn->n);
	}
	if(blf_buf_add(out, doc, len) < 0) {
		free(doc);
		return -1;
	}
	free(doc);
	return 0;
}

blf_pkg_t blf_pkg_reg = {
		.name = "reg",
		.ctype = BLF_REGINFO_CTYPE,
		.accept = BLF_REGINFO_CTYPE,
		.flags = BLF_PKG_SELF_ONLY,
		.deps = BLF_DEP_REG,
		.snapshot = blf_reg_snapshot,
		.body = blf_reg_body,
		.snap_free = blf_reg_snap_free,
};
