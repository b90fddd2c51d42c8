/* FUZZ-SOURCES: blf_sipscan.c blf_sipcheck.c blf_expiry.c */
/* FUZZ-CORE: parser/msg_parser.c parser/parse_hname2.c parser/parse_fline.c parser/parse_via.c parser/parse_to.c parser/parse_addr_spec.c parser/parse_param.c parser/contact/contact.c parser/contact/parse_contact.c parser/parse_expires.c parser/parse_event.c parser/parse_uri.c parser/parse_cseq.c parser/parse_from.c parser/hf.c parser/parser_f.c parser/parse_methods.c parser/parse_retry_after.c parser/parse_content.c */
/*
 * fuzz_subcore.c — a differential check of blf's in-place SUBSCRIBE
 * readers (blf_sipscan_req_rest, blf_sip_nameaddr_simple,
 * blf_sip_supported_eventlist) against Kamailio's own parser, compiled in
 * from KAMAILIO_SRC (the FUZZ-CORE files, with core_shim.c for what
 * they need of the rest of the core: pkg_malloc is malloc, logging off).
 *
 * The input is the header block of a SUBSCRIBE (a fixed request line is
 * put before it); its first byte says what the core (or the script) had
 * parsed before blf_handle_subscribe() runs. Each input is parsed twice,
 * on two copies:
 *   - as blf does: blf_subscan.h (the decisions blf_subs.c makes, run
 *     here as they are) and blf_subreq_headers' choice of bodies:
 *     the core up to From/To/Call-ID/CSeq, the rest in place, From and
 *     Contact of the usual shape in place, every other shape the core's;
 *   - as the core alone does: parse_headers(HDR_EOH_F), parse_from_header,
 *     parse_contacts, the first header of each kind.
 * blf may always say "not the usual shape" (then it uses the core's
 * parser, and the two agree by construction); what aborts is a value both
 * claim to have read and read differently: the Event, Expires or Contact
 * body, the Accept bodies, Supported: eventlist, From's URI and tag, the
 * Contact's URI or star, or blf reading in place a message whose headers
 * the core refuses.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include "fuzz.h"

#include "core/parser/msg_parser.h"
#include "core/parser/parse_hname2.h"
#include "core/parser/parse_from.h"
#include "core/parser/parse_to.h"
#include "core/parser/parse_event.h"
#include "core/parser/contact/parse_contact.h"
#include "core/parser/contact/contact.h"
#include "core/parser/parse_param.h"
#include "core/trim.h"

#include "blf_expiry.h"
#include "blf_sipcheck.h"
#include "blf_sipscan.h"
#include "blf_subscan.h"

#define FZ_RLINE "SUBSCRIBE sip:100@blf.test SIP/2.0\r\n"
#define FZ_ACCEPT_MAX 64

/* what one reading found: bodies and values point into its message */
typedef struct fz_view {
	int ok;		 /* 0: the headers were refused (a 400) */
	int scanned; /* blf only: the rest was read in place */
	str ev, exp, ct;
	str acc[FZ_ACCEPT_MAX];
	int nacc;
	int evlist;
	int from_ok; /* From parsed (else a 400) */
	str furi, ftag;
	int ct_rc; /* -1 unparsable, 0 a URI (empty: none), 1 a star */
	str curi;
} fz_view_t;

/* what the core (or the script) had parsed before the module runs */
static int fz_preparse(struct sip_msg *m, unsigned int sel)
{
	switch(sel & 7) {
		case 0: /* parse_msg() alone: the first Via */
			return 0;
		case 1: /* has_totag() */
			return parse_headers(m, HDR_TO_F, 0);
		case 2: /* the transaction's key headers */
			return parse_headers(
					m, HDR_FROM_F | HDR_TO_F | HDR_CALLID_F | HDR_CSEQ_F, 0);
		case 3: /* is_present_hf("Event") and its body parsed */
			if(parse_headers(m, HDR_EVENT_F, 0) < 0)
				return -1;
			if(m->event && parse_event(m->event) < 0)
				return -1;
			return 0;
		case 4:
			return parse_headers(m, HDR_EXPIRES_F, 0);
		case 5: /* $ct: the first Contact parsed */
			if(parse_headers(m, HDR_CONTACT_F, 0) < 0)
				return -1;
			if(m->contact && parse_contact(m->contact) < 0)
				return -1;
			return 0;
		case 6: /* $hdr(...): everything */
			return parse_headers(m, HDR_EOH_F, 0);
		default: /* $fu: From parsed */
			return parse_from_header(m) < 0 ? -1 : 0;
	}
}

static void fz_hbody(struct hdr_field *h, str *b)
{
	if(h) {
		*b = h->body;
		if(b->s == NULL)
			b->s = h->name.s;
	} else {
		b->s = NULL;
		b->len = 0;
	}
}

/* blf_subs.c blf_subreq_headers (its choice of bodies mirrored) and the
 * From/Contact steps of blf_subreq_parse (blf_subscan.h, the same code) */
static void fz_blf(
		struct sip_msg *m, fz_view_t *v, struct to_body *from, contact_t **cts)
{
	blf_reqscan_t sc;
	struct hdr_field *h, *hct_h = NULL;
	struct to_body *tb;
	int i;

	if(blf_subscan_rest(m, &sc)) {
		v->scanned = 1;
		if(sc.event) {
			v->ev.s = (char *)sc.event;
			v->ev.len = sc.event_len;
		} else
			fz_hbody(m->event, &v->ev);
		if(sc.expires) {
			v->exp.s = (char *)sc.expires;
			v->exp.len = sc.expires_len;
		} else
			fz_hbody(m->expires, &v->exp);
		if(sc.contact) {
			v->ct.s = (char *)sc.contact;
			v->ct.len = sc.contact_len;
		} else {
			fz_hbody(m->contact, &v->ct);
			hct_h = m->contact;
		}
	} else {
		if(parse_headers(m, HDR_EOH_F, 0) < 0)
			return;
		fz_hbody(m->event, &v->ev);
		fz_hbody(m->expires, &v->exp);
		fz_hbody(m->contact, &v->ct);
		hct_h = m->contact;
	}
	v->ok = 1;
	/* blf_accept_hdrs_ok: the core's Accept headers, then those read */
	for(h = m->headers; h; h = h->next)
		if(h->type == HDR_ACCEPT_T && v->nacc < FZ_ACCEPT_MAX)
			v->acc[v->nacc++] = h->body;
	for(i = 0; v->scanned && i < sc.naccept && v->nacc < FZ_ACCEPT_MAX; i++) {
		v->acc[v->nacc].s = (char *)sc.accept[i];
		v->acc[v->nacc++].len = sc.accept_len[i];
	}
	/* blf_lsub_supported unless read in place */
	if(v->scanned && sc.evlist)
		v->evlist = 1;
	else
		for(h = m->headers; h; h = h->next)
			if(h->type == HDR_SUPPORTED_T
					&& blf_sip_supported_eventlist(h->body.s, h->body.len))
				v->evlist = 1;
	if(v->ct.s)
		v->ct_rc = blf_subscan_contact(hct_h, &v->ct, cts, &v->curi);
	if(m->from == NULL)
		return;
	if((tb = blf_subscan_from(m, from)) != NULL) {
		v->from_ok = 1;
		v->furi = tb->uri;
		v->ftag = tb->tag_value;
	}
}

/* the core alone: every header, From and the first Contact parsed */
static void fz_core(struct sip_msg *m, fz_view_t *v)
{
	struct hdr_field *h;
	contact_body_t *cb;

	if(parse_headers(m, HDR_EOH_F, 0) < 0)
		return;
	v->ok = 1;
	fz_hbody(m->event, &v->ev);
	fz_hbody(m->expires, &v->exp);
	fz_hbody(m->contact, &v->ct);
	for(h = m->headers; h; h = h->next) {
		if(h->type == HDR_ACCEPT_T && v->nacc < FZ_ACCEPT_MAX)
			v->acc[v->nacc++] = h->body;
		if(h->type == HDR_SUPPORTED_T
				&& blf_sip_supported_eventlist(h->body.s, h->body.len))
			v->evlist = 1;
	}
	if(m->from && parse_from_header(m) == 0) {
		v->from_ok = 1;
		v->furi = get_from(m)->uri;
		v->ftag = get_from(m)->tag_value;
	}
	if(m->contact) {
		/* parse_contact() as $ct reads it, after blf's leading trim and
		 * star (a star the core reads as a URI list error otherwise) */
		str b = m->contact->body;
		trim_leading(&b);
		if(b.len == 0)
			v->ct_rc = -1;
		else if(b.s[0] == '*')
			v->ct_rc = 1;
		else if(parse_contact(m->contact) < 0)
			v->ct_rc = -1;
		else {
			cb = (contact_body_t *)m->contact->parsed;
			if(cb->star)
				v->ct_rc = 1;
			else if(cb->contacts)
				v->curi = cb->contacts->uri;
		}
	}
}

/* equal, but for white space at the end: the core's header bodies keep
 * it (trim_r takes CR, LF and NUL), blf's are trimmed; every reader after
 * them (event_parser, blf_expiry_parse, the Accept and Contact readers)
 * skips it, which the checks of what they make of the bodies confirm */
static int fz_streq(const str *a, const str *b)
{
	int al, bl;

	if((a->s == NULL) != (b->s == NULL))
		return 0;
	for(al = a->len; al > 0 && (a->s[al - 1] == ' ' || a->s[al - 1] == '\t');
			al--)
		;
	for(bl = b->len; bl > 0 && (b->s[bl - 1] == ' ' || b->s[bl - 1] == '\t');
			bl--)
		;
	return al == bl && (al == 0 || memcmp(a->s, b->s, al) == 0);
}

/* what blf makes of an Event body: 0 with the package name and id */
static int fz_event(const str *body, str *name, str *id)
{
	event_t e;
	param_t *p;

	memset(&e, 0, sizeof(e));
	name->s = id->s = NULL;
	name->len = id->len = 0;
	if(body->s == NULL)
		return 1;
	if(event_parser(body->s, body->len, &e) < 0) {
		if(e.params.list)
			free_params(e.params.list);
		return -1;
	}
	*name = e.name;
	for(p = e.params.list; p; p = p->next)
		if(p->name.len == 2 && strncasecmp(p->name.s, "id", 2) == 0)
			*id = p->body;
	if(e.params.list)
		free_params(e.params.list);
	return 0;
}

/* blf_accept_hdrs_ok's verdict over the bodies, for dialog-info */
static int fz_accept(const fz_view_t *v)
{
	blf_accept_st_t st;
	int i;

	blf_accept_init(&st);
	for(i = 0; i < v->nacc; i++)
		blf_accept_add(&st, v->acc[i].s, v->acc[i].len);
	return blf_accept_ok(&st);
}

static void fz_show(const char *what, const str *a, const str *b)
{
	fprintf(stderr, "subcore: %s differs: blf <%.*s>%s, core <%.*s>%s\n", what,
			a->s ? a->len : 0, a->s ? a->s : "", a->s ? "" : " (none)",
			b->s ? b->len : 0, b->s ? b->s : "", b->s ? "" : " (none)");
}

#define FZ_SAME(what, a, b)                 \
	do {                                    \
		if(!fz_streq(&(a), &(b))) {         \
			fz_show(what, &(a), &(b));      \
			FZ_CHECK(fz_streq(&(a), &(b))); \
		}                                   \
	} while(0)

static char *fz_msg(const uint8_t *data, size_t size, int *len)
{
	size_t rl = sizeof(FZ_RLINE) - 1;
	char *b = malloc(rl + size + 1);

	if(b == NULL)
		abort();
	memcpy(b, FZ_RLINE, rl);
	if(size)
		memcpy(b + rl, data, size);
	b[rl + size] = '\0'; /* as the core's receive buffer */
	*len = (int)(rl + size);
	return b;
}

/* what main() does for the parser at startup: the header name index */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	ksr_hname_init_index();
	ksr_hname_init_config();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sip_msg ma, mb;
	struct to_body from;
	contact_t *cts = NULL;
	fz_view_t a, b;
	unsigned int sel;
	char *ba, *bb;
	int la, lb, i, pa, pb;
	long ea, eb;

	if(size < 1 || size > 8192)
		return 0;
	sel = data[0];
	ba = fz_msg(data + 1, size - 1, &la);
	bb = fz_msg(data + 1, size - 1, &lb);
	memset(&ma, 0, sizeof(ma));
	memset(&mb, 0, sizeof(mb));
	memset(&from, 0, sizeof(from));
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	ma.buf = ba;
	ma.len = la;
	mb.buf = bb;
	mb.len = lb;
	pa = parse_msg(ba, la, &ma);
	pb = parse_msg(bb, lb, &mb);
	FZ_CHECK(pa == pb);
	if(pa != 0)
		goto done;
	pa = fz_preparse(&ma, sel);
	pb = fz_preparse(&mb, sel);
	FZ_CHECK(pa == pb);
	if(pa < 0)
		goto done;
	fz_blf(&ma, &a, &from, &cts);
	fz_core(&mb, &b);
	if(a.ok != b.ok) {
		fprintf(stderr, "subcore: headers %s by blf (%s), %s by the core\n",
				a.ok ? "read" : "refused", a.scanned ? "in place" : "core",
				b.ok ? "read" : "refused");
		FZ_CHECK(a.ok == b.ok);
	}
	if(!a.ok)
		goto done;
	FZ_SAME("Event", a.ev, b.ev);
	{
		str an, ai, bn, bi;

		pa = fz_event(&a.ev, &an, &ai);
		pb = fz_event(&b.ev, &bn, &bi);
		FZ_CHECK(pa == pb);
		if(pa == 0) {
			FZ_SAME("Event package", an, bn);
			FZ_SAME("Event id", ai, bi);
		}
	}
	FZ_SAME("Expires", a.exp, b.exp);
	if(a.exp.s) { /* what blf makes of it (the same reader on both) */
		pa = blf_expiry_parse(a.exp.s, (size_t)a.exp.len, &ea);
		pb = blf_expiry_parse(b.exp.s, (size_t)b.exp.len, &eb);
		FZ_CHECK(pa == pb && (pa < 0 || ea == eb));
	}
	FZ_SAME("Contact", a.ct, b.ct);
	if(a.nacc != b.nacc)
		fprintf(stderr, "subcore: %d Accept headers by blf, %d by the core\n",
				a.nacc, b.nacc);
	FZ_CHECK(a.nacc == b.nacc);
	for(i = 0; i < a.nacc; i++)
		FZ_SAME("Accept", a.acc[i], b.acc[i]);
	FZ_CHECK(fz_accept(&a) == fz_accept(&b));
	FZ_CHECK(a.evlist == b.evlist);
	if(a.from_ok != b.from_ok)
		fprintf(stderr, "subcore: From %s by blf, %s by the core\n",
				a.from_ok ? "read" : "refused", b.from_ok ? "read" : "refused");
	FZ_CHECK(a.from_ok == b.from_ok);
	if(a.from_ok) {
		FZ_SAME("From URI", a.furi, b.furi);
		FZ_SAME("From tag", a.ftag, b.ftag);
	}
	if(a.ct.s) {
		if(a.ct_rc != b.ct_rc)
			fprintf(stderr, "subcore: Contact: blf %d, core %d\n", a.ct_rc,
					b.ct_rc);
		FZ_CHECK(a.ct_rc == b.ct_rc);
		if(a.ct_rc == 0)
			FZ_SAME("Contact URI", a.curi, b.curi);
	}
done:
	free_to_params(&from);
	if(cts)
		free_contacts(&cts);
	free_sip_msg(&ma);
	free_sip_msg(&mb);
	free(ba);
	free(bb);
	return 0;
}
