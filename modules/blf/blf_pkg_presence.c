/*
 * blf_pkg_presence.c — the `presence` event package (RFC 3856: PIDF RFC
 * 3863 + data model RFC 4479 + RPID RFC 4480), from the first-party state.
 *
 * snapshot: under the slot lock, what the document needs and nothing else:
 * the call summary (idle / ringing / confirmed, from e->calls), whether the
 * entity is registered (usrloc's contacts when blf_ul_on, else always), and
 * byte copies of its live publications, newest first (each pub->doc is one
 * position-independent block, blf_pidf.h). body: after the unlock,
 * blf_pidf_build() merges them. PIDF carries no version, so the whole
 * document is built once per visibility and appended as it is for every
 * watcher of the same change.
 *
 * Redundant NOTIFYs (BLF_PKG_DEDUP): the snapshot carries a digest of
 * everything the document is built from but the visibility (the call
 * summary, registered or not, the live publications' bytes, the entity).
 * When a change leaves it as it was (trying -> early: both "Ringing"; a
 * second call while on the phone; a re-REGISTER; a PUBLISH refresh), the
 * watchers that got that document already get no NOTIFY (blf_subrec.c).
 * The digest is SipHash-2-4 under a fixed key: it guards against chance,
 * not against a crafted collision, which only the presentity itself could
 * make (its own PUBLISH bodies) to hide its own change.
 *
 * Not served on the wildcard user (no BLF_PKG_WILDCARD: such a SUBSCRIBE
 * gets 403): a presence document describes one presentity, and the SPEC
 * asks no "any-dn" presence; the dialog package serves that use.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>
#include <stdlib.h>
#include <time.h>

#include "core/dprint.h"

#include "blf.h"
#include "blf_pkg.h"
#include "blf_pidf.h"
#include "blf_branch.h" /* blf_siphash */
#include "blf_lograte.h"

/* its rate-limited log line: the last second one went out (per process) */
static time_t blf_presence_log_last = 0;

#define BLF_PSNAP_ALIGN 8 /* the copied blocks hold uint32 fields */
#define BLF_PSNAP_ROUND(n) \
	(((n) + (BLF_PSNAP_ALIGN - 1)) & ~(size_t)(BLF_PSNAP_ALIGN - 1))
/* without notify_max_body (0), a document is still bounded */
#define BLF_PSNAP_MAX_DOC 65536

typedef struct blf_psnap {
	blf_snap_t h; /* first: the registry's head */
	blf_pres_call_t call;
	int registered;
	int npubs;
	const blf_pidf_pub_t **pubs; /* npubs copies, newest first, in the block */
	char *uri;					 /* "sip:" + the entity key, in the block */
	char *doc[2];				 /* the documents, full and state */
	size_t dlen[2];
	int built[2];
} blf_psnap_t;

/* ---- under the slot lock: copies only ---- */

/* the digest of the document's inputs but the visibility: chained
 * SipHash-2-4, each step keyed by the last one; never 0 (0: none) */
static uint64_t blf_presence_digest(const blf_psnap_t *sn)
{
	static const unsigned char k0[16] = "blf-presence-dg";
	unsigned char key[16];
	uint32_t hdr[4];
	uint64_t h;
	int i;

	hdr[0] = (uint32_t)sn->call;
	hdr[1] = (uint32_t)sn->registered;
	hdr[2] = (uint32_t)sn->npubs;
	hdr[3] = (uint32_t)strlen(sn->uri);
	h = blf_siphash(k0, (const unsigned char *)hdr, sizeof(hdr));
	memcpy(key + 8, k0 + 8, 8);
	memcpy(key, &h, 8);
	h = blf_siphash(key, (const unsigned char *)sn->uri, hdr[3]);
	for(i = 0; i < sn->npubs; i++) {
		memcpy(key, &h, 8);
		h = blf_siphash(
				key, (const unsigned char *)sn->pubs[i], sn->pubs[i]->size);
	}
	return h ? h : 1;
}

/* the call summary: any confirmed call wins over ringing ones; ended
 * calls (kept until reported) count for nothing */
static blf_pres_call_t blf_presence_calls(const blf_entity_t *e)
{
	blf_pres_call_t r = BLF_PRES_IDLE;
	const blf_call_t *c;
	unsigned int n;

	for(n = 0, c = e->calls; c && n < e->ncalls; c = c->next, n++) {
		if(c->st.state == BLF_STATE_CONFIRMED)
			return BLF_PRES_CONFIRMED;
		if(c->st.state != BLF_STATE_TERMINATED)
			r = BLF_PRES_RINGING;
	}
	return r;
}

static blf_snap_t *blf_presence_snapshot(const blf_entity_t *e)
{
	const blf_pub_t *p;
	blf_psnap_t *sn;
	time_t now = time(NULL);
	size_t len, off;
	char *b;
	int n, i;

	/* live publications: the list is kept newest first (blf_publish.c) */
	len = BLF_PSNAP_ROUND(sizeof(*sn));
	for(n = 0, p = e->pubs; p && n < (int)e->npubs; p = p->next) {
		if(p->expires <= now || p->doc == NULL)
			continue;
		len += sizeof(blf_pidf_pub_t *) + BLF_PSNAP_ROUND(p->doc->size);
		n++;
	}
	len += BLF_PSNAP_ROUND(sizeof(blf_pidf_pub_t *) * (size_t)n)
		   + (size_t)e->key.len + 5;
	sn = malloc(len);
	if(sn == NULL) {
		LM_ERR("no memory for the presence of %.*s (%lu bytes)\n", e->key.len,
				e->key.s, (unsigned long)len);
		return NULL;
	}
	memset(sn, 0, sizeof(*sn));
	b = (char *)sn;
	off = BLF_PSNAP_ROUND(sizeof(*sn));
	sn->pubs = (const blf_pidf_pub_t **)(b + off);
	off += BLF_PSNAP_ROUND(sizeof(blf_pidf_pub_t *) * (size_t)n);
	for(i = 0, p = e->pubs; p && i < n; p = p->next) {
		if(p->expires <= now || p->doc == NULL)
			continue;
		memcpy(b + off, p->doc, p->doc->size);
		sn->pubs[i++] = (const blf_pidf_pub_t *)(b + off);
		off += BLF_PSNAP_ROUND(p->doc->size);
	}
	sn->npubs = i;
	sn->uri = b + off;
	memcpy(sn->uri, "sip:", 4);
	if(e->key.len)
		memcpy(sn->uri + 4, e->key.s, e->key.len);
	sn->uri[4 + e->key.len] = '\0';
	sn->call = blf_presence_calls(e);
	/* no usrloc: every entity counts as registered (SPEC "Presence") */
	sn->registered = blf_ul_on ? e->ncontacts > 0 : 1;
	sn->h.digest = blf_presence_digest(sn);
	return &sn->h;
}

static void blf_presence_snap_free(blf_snap_t *h)
{
	blf_psnap_t *sn = (blf_psnap_t *)h;

	free(sn->doc[0]);
	free(sn->doc[1]);
	free(sn);
}

/* ---- after the unlock: the document ---- */

static int blf_presence_body(
		blf_snap_t *h, const blf_body_req_t *r, blf_buf_t *out)
{
	blf_psnap_t *sn = (blf_psnap_t *)h;
	int i = (r->vis == BLF_VIS_FULL) ? 0 : 1;
	blf_pidf_in_t in;
	int cut;

	if(!sn->built[i]) {
		memset(&in, 0, sizeof(in));
		in.entity = sn->uri;
		in.call = sn->call;
		in.registered = sn->registered;
		in.vis = i ? BLF_VIS_STATE : BLF_VIS_FULL;
		in.pubs = sn->pubs;
		in.npubs = sn->npubs;
		cut = blf_pidf_build(&in, r->max ? r->max : BLF_PSNAP_MAX_DOC,
				&sn->doc[i], &sn->dlen[i]);
		if(cut < 0) {
			LM_ERR("cannot build the presence document of %s\n", sn->uri);
			return -1;
		}
		if(cut > 0) {
			/* published tuples left out, oldest first, to fit one datagram */
			update_stat(blf_st_bodies_cut, 1);
			if(blf_log_ok(&blf_presence_log_last))
				LM_NOTICE("presence of %s over notify_max_body: %d published "
						  "tuple(s) left out (see blf:bodies_cut)\n",
						sn->uri, cut);
		}
		sn->built[i] = 1;
	}
	return blf_buf_add(out, sn->doc[i], sn->dlen[i]);
}

blf_pkg_t blf_pkg_presence = {
		.name = "presence",
		.ctype = BLF_PIDF_CTYPE,
		.accept = BLF_PIDF_CTYPE,
		.flags = BLF_PKG_VIS | BLF_PKG_DEDUP,
		.deps = BLF_DEP_CALLS | BLF_DEP_REG | BLF_DEP_PUB,
		.snapshot = blf_presence_snapshot,
		.body = blf_presence_body,
		.snap_free = blf_presence_snap_free,
};
