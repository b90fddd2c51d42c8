/*
 * blf_pkg_dialog.c — the `dialog` event package (RFC 4235 dialog-info).
 *
 * snapshot: under the slot lock, the entity's calls are copied, fields and
 * all, into one malloc block (no XML). body: after the unlock, the
 * <dialog> elements are built once per visibility and kept in the
 * snapshot for every other watcher of the same change; each NOTIFY then
 * gets its own head (version, entity) around them. Bodies are kept under
 * notify_max_body (blf_dlgs_fit).
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>
#include <stdlib.h>
#include <time.h>

#include "core/dprint.h"

#include "blf.h"
#include "blf_pkg.h"
#include "blf_lograte.h"

/* its rate-limited log line: the last second one went out (per process) */
static time_t blf_dialog_log_last = 0;

typedef struct blf_dsnap {
	blf_snap_t h;		 /* first: the registry's head */
	int n;				 /* dialogs */
	blf_xml_dialog_t *d; /* n of them; their strings follow in the block */
	char *frag[2];		 /* the <dialog> elements, full and state */
	size_t flen[2];
	int built[2];
	int keylen;
	char *key; /* the entity, for log lines */
} blf_dsnap_t;

/* ---- under the slot lock: copies only ---- */

static size_t blf_dsnap_str_len(const str *s)
{
	return s->s ? (size_t)s->len + 1 : 0;
}

/* copies s at *p (NUL-terminated), or NULL when s has none */
static const char *blf_dsnap_str(char **p, const str *s)
{
	char *r = *p;

	if(s->s == NULL)
		return NULL;
	memcpy(r, s->s, s->len);
	r[s->len] = '\0';
	*p += s->len + 1;
	return r;
}

static blf_snap_t *blf_dialog_snapshot(const blf_entity_t *e)
{
	const blf_call_t *c;
	blf_dsnap_t *sn;
	blf_xml_dialog_t *d;
	size_t len;
	char *p;
	int n, i;

	len = sizeof(*sn) + (size_t)e->key.len + 1;
	for(n = 0, c = e->calls; c && n < (int)e->ncalls; c = c->next, n++) {
		len += sizeof(blf_xml_dialog_t) + sizeof(c->id);
		for(i = 0; i < BLF_CF_N; i++)
			len += blf_dsnap_str_len(&c->f[i]);
	}
	sn = malloc(len);
	if(sn == NULL) {
		LM_ERR("no memory for the dialogs of %.*s (%lu bytes)\n", e->key.len,
				e->key.s, (unsigned long)len);
		return NULL;
	}
	memset(sn, 0, sizeof(*sn));
	sn->n = n;
	sn->d = (blf_xml_dialog_t *)(sn + 1);
	p = (char *)(sn->d + n);
	sn->key = p;
	sn->keylen = e->key.len;
	if(e->key.len)
		memcpy(p, e->key.s, e->key.len);
	p[e->key.len] = '\0';
	p += e->key.len + 1;
	for(i = 0, c = e->calls; i < n; c = c->next, i++) {
		d = &sn->d[i];
		memcpy(p, c->id, sizeof(c->id));
		p[sizeof(c->id) - 1] = '\0';
		d->id = p;
		p += sizeof(c->id);
		d->call_id = blf_dsnap_str(&p, &c->f[BLF_CF_CALLID]);
		d->local_tag = blf_dsnap_str(&p, &c->f[BLF_CF_LTAG]);
		d->remote_tag = blf_dsnap_str(&p, &c->f[BLF_CF_RTAG]);
		d->direction = c->dir;
		d->st = c->st;
		d->local.identity = blf_dsnap_str(&p, &c->f[BLF_CF_LURI]);
		d->local.display = blf_dsnap_str(&p, &c->f[BLF_CF_LDISP]);
		d->local.target = blf_dsnap_str(&p, &c->f[BLF_CF_LTARGET]);
		d->remote.identity = blf_dsnap_str(&p, &c->f[BLF_CF_RURI]);
		d->remote.display = blf_dsnap_str(&p, &c->f[BLF_CF_RDISP]);
		d->remote.target = blf_dsnap_str(&p, &c->f[BLF_CF_RTARGET]);
	}
	return &sn->h;
}

static void blf_dialog_snap_free(blf_snap_t *h)
{
	blf_dsnap_t *sn = (blf_dsnap_t *)h;

	free(sn->frag[0]);
	free(sn->frag[1]);
	free(sn);
}

/* ---- after the unlock: the XML ---- */

/*
 * The dialogs of a body over the notify_max_body budget, so that the NOTIFY
 * fits one UDP datagram: first every dialog without identities (as
 * visibility state shows them), then, still too big, the first k of them,
 * calls in progress before ended ones, so the lamp shows what it must (a
 * busy entity stays busy). Counted and logged. d is reordered.
 */
static int blf_dlgs_fit(const blf_dsnap_t *sn, blf_xml_dialog_t *d, int n,
		blf_vis_t vis, size_t budget, char **out, size_t *len)
{
	blf_xml_dialog_t t;
	int k, i, j;

	/* calls in progress first (stable) */
	for(i = 0, j = 0; i < n; i++) {
		if(d[i].st.state != BLF_STATE_TERMINATED) {
			t = d[i];
			memmove(&d[j + 1], &d[j], (i - j) * sizeof(*d));
			d[j++] = t;
		}
	}
	k = n;
	if(vis == BLF_VIS_FULL) {
		free(*out);
		*out = NULL;
		if(blf_xml_dialogs(d, k, BLF_VIS_STATE, out, len) < 0)
			return -1;
	}
	while(*len > budget && k > 0) {
		/* shrink in proportion, at least by one */
		j = (int)((size_t)k * budget / *len);
		k = j < k ? j : k - 1;
		free(*out);
		*out = NULL;
		if(blf_xml_dialogs(d, k, BLF_VIS_STATE, out, len) < 0)
			return -1;
	}
	update_stat(blf_st_bodies_cut, 1);
	if(blf_log_ok(&blf_dialog_log_last))
		LM_NOTICE("dialog-info of %.*s over notify_max_body (%lu bytes): "
				  "%d of %d dialogs shown, without identities (see "
				  "blf:bodies_cut)\n",
				sn->keylen, sn->key,
				(unsigned long)budget + BLF_NOTIFY_HEAD_ROOM, k, n);
	return 0;
}

/* the <dialog> elements for visibility index i, built on first use */
static int blf_dialog_frag(blf_dsnap_t *sn, int i, size_t max)
{
	blf_xml_dialog_t dbuf[16], *d = sn->d;
	blf_vis_t vis = i ? BLF_VIS_STATE : BLF_VIS_FULL;
	size_t budget;

	if(sn->built[i])
		return 0;
	/* the body's head (entity up to BLF_KEY_MAX escaped) and tail take at
	 * most BLF_NOTIFY_HEAD_ROOM of the budget */
	budget = max > BLF_NOTIFY_HEAD_ROOM ? max - BLF_NOTIFY_HEAD_ROOM : 0;
	if(blf_xml_dialogs(d, sn->n, vis, &sn->frag[i], &sn->flen[i]) < 0)
		goto error;
	if(budget && sn->flen[i] > budget) {
		/* fitting reorders: a copy, the other visibility keeps the order */
		if(sn->n > (int)(sizeof(dbuf) / sizeof(dbuf[0]))) {
			d = malloc(sn->n * sizeof(*d));
			if(d == NULL)
				goto error;
		} else {
			d = dbuf;
		}
		memcpy(d, sn->d, sn->n * sizeof(*d));
		if(blf_dlgs_fit(sn, d, sn->n, vis, budget, &sn->frag[i], &sn->flen[i])
				< 0) {
			if(d != dbuf)
				free(d);
			goto error;
		}
		if(d != dbuf)
			free(d);
	}
	sn->built[i] = 1;
	return 0;
error:
	LM_ERR("cannot build the dialog-info of %.*s\n", sn->keylen, sn->key);
	free(sn->frag[i]);
	sn->frag[i] = NULL;
	return -1;
}

static int blf_dialog_body(
		blf_snap_t *h, const blf_body_req_t *r, blf_buf_t *out)
{
	blf_dsnap_t *sn = (blf_dsnap_t *)h;
	int i = (r->vis == BLF_VIS_FULL) ? 0 : 1;
	int hlen;

	if(blf_dialog_frag(sn, i, r->max) < 0)
		return -1;
	/* the head's fixed text is under 160 bytes */
	if(blf_buf_need(out, 256 + r->entity_len + sn->flen[i] + BLF_XML_TAIL_LEN)
			< 0)
		return -1;
	hlen = blf_xml_head(out->s + out->len, out->size - out->len, r->version,
			r->entity_esc, r->entity_len);
	if(hlen < 0)
		return -1;
	out->len += hlen;
	if(blf_buf_add(out, sn->frag[i], sn->flen[i]) < 0
			|| blf_buf_add(out, BLF_XML_TAIL, BLF_XML_TAIL_LEN) < 0)
		return -1;
	return 0;
}

blf_pkg_t blf_pkg_dialog = {
		.name = "dialog",
		.ctype = "application/dialog-info+xml",
		.accept = "application/dialog-info+xml",
		.flags = BLF_PKG_WILDCARD | BLF_PKG_VIS,
		.deps = BLF_DEP_CALLS,
		.snapshot = blf_dialog_snapshot,
		.body = blf_dialog_body,
		.snap_free = blf_dialog_snap_free,
};
