/*
 * blf_rpc.c — RPC commands: blf.subscriptions, blf.entities, blf.parks,
 * blf.aliases, blf.flush_aliases, blf.stats, blf.publications.
 *
 * Each listing walks its table slot by slot under the slot's lock and
 * prints one page as it goes (see blf_page_t); a single-entity filter
 * limits the walk to that entity's slot.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>
#include <strings.h>
#include <ctype.h>
#include <limits.h>
#include <stdarg.h>

#include "core/rpc.h"
#include "core/rpc_lookup.h"
#include "core/dprint.h"
#include "core/ut.h"
#include "core/mem/mem.h"

#include "blf.h"
#include "blf_alias.h"
#include "blf_lsub.h"
#include "blf_park.h"
#include "blf_visapply.h"
#include "blf_viscache.h"
#include "blf_pidf.h"

/*
 * Listings at scale. Every listing takes [filter [offset [limit]]]:
 *   filter  "*" or "" for all, "@host" for the entities of a domain, else
 *           one entity (user@host or sip:user@host);
 *   offset  items to skip (0), limit: items to return (BLF_RPC_PAGE, at
 *           most BLF_RPC_PAGE_MAX; 0 only counts).
 * The items come as before (one struct each), then one last struct with
 * total, offset, limit, returned, more and next (the offset of the next
 * page). A page also ends early when it holds BLF_RPC_STRUCTS_MAX structs
 * (binrpc/ctl allocates 8 KB of pkg memory for each struct it sends) or
 * about BLF_RPC_BYTES_MAX bytes of values (kamcmd reads at most 128 KB,
 * jsonrpcs sends one datagram, 128 KB with the default socket buffer):
 * "more" and "next" then say where to go on.
 * A failed add (the transport out of room) ends the listing: the transport
 * has answered with its fault already, nothing is added after it, so no
 * path replies twice.
 */
typedef struct blf_page {
	int all;		/* no filter */
	int domain;		/* key is "@host": entities of that domain */
	str key;		/* entity (user@host) or "@host" */
	char buf[BLF_KEY_MAX];
	unsigned int offset, limit;
	unsigned int total;	   /* items matching the filter */
	unsigned int returned; /* items in the answer */
	unsigned int structs;  /* structs in the answer */
	unsigned int bytes;	   /* its size, estimated (names, values) */
	int full;			   /* the page ended (limit or struct budget) */
	int failed;			   /* an add failed: the transport has faulted */
} blf_page_t;

/* a non-negative decimal argument, at most max; -1 when it is not one */
static int blf_rpc_uint_arg(const str *a, unsigned int max, unsigned int *v)
{
	unsigned long n = 0;
	int i;

	if(a->len <= 0 || a->len > 10)
		return -1;
	for(i = 0; i < a->len; i++) {
		if(a->s[i] < '0' || a->s[i] > '9')
			return -1;
		n = n * 10 + (a->s[i] - '0');
	}
	*v = n > max ? max : (unsigned int)n;
	return 0;
}

/*
 * Reads [filter [offset [limit]]] into pg; -1 on a bad argument (fault
 * sent). Every argument is read as a string (autoconverted), so the scan
 * itself never faults.
 */
static int blf_rpc_page_args(rpc_t *rpc, void *c, blf_page_t *pg)
{
	str f = STR_NULL, o = STR_NULL, l = STR_NULL;
	char *at;
	int n, i;

	memset(pg, 0, sizeof(*pg));
	pg->limit = BLF_RPC_PAGE;
	/* one at a time: an autoconverted number lives in a static buffer
	 * that the next conversion overwrites */
	n = rpc->scan(c, "*.S", &f);
	if(n < 0)
		goto bad;
	if(n == 0) { /* binrpc sets a placeholder string even then */
		f.s = NULL;
		f.len = 0;
	}
	if(n == 1 && f.len > 0 && f.len < (int)sizeof(pg->buf)) {
		memcpy(pg->buf, f.s, f.len);
		f.s = pg->buf;
	}
	if(n == 1 && (n = rpc->scan(c, "*.S", &o)) < 0)
		goto bad;
	if(n == 1 && blf_rpc_uint_arg(&o, UINT_MAX, &pg->offset) < 0) {
		rpc->fault(c, 400, "offset must be a number >= 0");
		return -1;
	}
	if(n == 1 && (n = rpc->scan(c, "*.S", &l)) < 0)
		goto bad;
	if(n == 1 && blf_rpc_uint_arg(&l, BLF_RPC_PAGE_MAX, &pg->limit) < 0) {
		rpc->fault(c, 400, "limit must be a number >= 0");
		return -1;
	}
	if(f.len == 0 || (f.len == 1 && f.s[0] == '*')) {
		pg->all = 1;
		return 0;
	}
	if(f.len > 4 && strncasecmp(f.s, "sip:", 4) == 0) {
		f.s += 4;
		f.len -= 4;
	}
	at = memchr(f.s, '@', f.len);
	if(at == NULL || f.len >= (int)sizeof(pg->buf) || at == f.s + f.len - 1) {
		rpc->fault(c, 400, "filter must be *, @host, user@host or "
						   "sip:user@host");
		return -1;
	}
	pg->domain = (at == f.s);
	memmove(pg->buf, f.s, f.len);
	for(i = at - f.s; i < f.len; i++)
		pg->buf[i] = tolower((unsigned char)pg->buf[i]);
	pg->key.s = pg->buf;
	pg->key.len = f.len;
	return 0;
bad:
	rpc->fault(c, 400, "arguments: [filter [offset [limit]]]");
	return -1;
}

/* does entity key k pass the filter? */
static int blf_page_match(const blf_page_t *pg, const str *k)
{
	const char *at;

	if(pg->all)
		return 1;
	if(!pg->domain)
		return STR_EQ(*k, pg->key);
	at = memchr(k->s, '@', k->len);
	return at && (k->s + k->len - at) == pg->key.len
		   && strncasecmp(at, pg->key.s, pg->key.len) == 0;
}

/*
 * One more item matching the filter, costing n structs and about b bytes:
 * 1 when it goes in the answer (the caller adds it), 0 when it is skipped
 * or the page is full. The first item of a page always goes in.
 */
static int blf_page_take(blf_page_t *pg, unsigned int n, unsigned int b)
{
	pg->total++;
	if(pg->failed || pg->full || pg->total <= pg->offset)
		return 0;
	if(pg->returned >= pg->limit
			|| (pg->returned > 0
					&& (pg->structs + n > BLF_RPC_STRUCTS_MAX
							|| pg->bytes + b > BLF_RPC_BYTES_MAX))) {
		pg->full = 1;
		return 0;
	}
	pg->returned++;
	pg->structs += n;
	pg->bytes += b;
	return 1;
}

/* bytes of a struct's field names and punctuation, of a string value */
#define BLF_RPC_FIELD_COST 24
#define blf_rpc_str_cost(s) ((unsigned int)(s).len + BLF_RPC_FIELD_COST)

/* the closing struct: where this page stands */
static void blf_page_end(rpc_t *rpc, void *c, blf_page_t *pg)
{
	unsigned int next = pg->offset + pg->returned;
	void *h;

	if(pg->failed)
		return;
	if(rpc->add(c, "{", &h) < 0)
		return;
	rpc->struct_add(h, "dddddd", "total", (int)pg->total, "offset",
			(int)pg->offset, "limit", (int)pg->limit, "returned",
			(int)pg->returned, "more", next < pg->total ? 1 : 0, "next",
			(int)(next < pg->total ? next : pg->total));
}

/* the slots to walk: all of them, or the one of a single-entity filter */
static void blf_page_slots(
		const blf_page_t *pg, unsigned int *from, unsigned int *to)
{
	*from = 0;
	*to = blf_table_slots();
	if(!pg->all && !pg->domain) {
		*from = blf_key_hash(&pg->key) & (blf_table_slots() - 1);
		*to = *from + 1;
	}
}

static void blf_rpc_print_sub(rpc_t *rpc, void *c, blf_page_t *pg,
		blf_entity_t *e, blf_sub_t *s, time_t now)
{
	void *h;

	if(rpc->add(c, "{", &h) < 0) {
		pg->failed = 1;
		return;
	}
	rpc->struct_add(h, "SSsdddSSs", "watcher", &BLF_SF(s, BLF_SF_WATCHER),
			"entity", &e->key, "event",
			blf_pkg_get(s->pkg) ? blf_pkg_get(s->pkg)->name : "dialog",
			"expires",
			(int)blf_expiry_left(s->expires, now), "version",
			(int)(s->version ? s->version - 1 : 0), "wildcard",
			(s->flags & BLF_SUB_WILDCARD) ? 1 : 0, "callid",
			&BLF_SF(s, BLF_SF_CALLID), "contact", &BLF_SF(s, BLF_SF_CONTACT), "owner",
			s->owner ? blf_dmq_node_name(s->owner) : "local");
	/* an RFC 4662 list: its member count (blf_lsub.c) */
	if(s->flags & BLF_SUB_LIST)
		rpc->struct_add(h, "d", "members",
				blf_lsub_members(&BLF_SF(s, BLF_SF_TTAG)));
}

/* one listing's walk: the request, its page, what it prints */
typedef struct blf_rpc_walk {
	rpc_t *rpc;
	void *c;
	blf_page_t *pg;
	time_t now;
} blf_rpc_walk_t;

static int blf_rpc_sub_each(blf_entity_t *e, void *arg)
{
	blf_rpc_walk_t *w = arg;
	blf_sub_t *s;

	if(!blf_page_match(w->pg, &e->key))
		return 0;
	for(s = e->subs; s; s = s->next)
		if(blf_page_take(w->pg, 1,
				   blf_rpc_str_cost(BLF_SF(s, BLF_SF_WATCHER))
						   + blf_rpc_str_cost(e->key)
						   + blf_rpc_str_cost(BLF_SF(s, BLF_SF_CALLID))
						   + blf_rpc_str_cost(BLF_SF(s, BLF_SF_CONTACT))
						   + 7 * BLF_RPC_FIELD_COST))
			blf_rpc_print_sub(w->rpc, w->c, w->pg, e, s, w->now);
	return 0;
}

static void blf_rpc_subscriptions(rpc_t *rpc, void *c)
{
	blf_page_t pg;
	blf_rpc_walk_t w = {rpc, c, &pg, time(NULL)};
	unsigned int i, from, to;

	if(blf_rpc_page_args(rpc, c, &pg) < 0)
		return;
	blf_page_slots(&pg, &from, &to);
	for(i = from; i < to; i++)
		blf_table_slot_each(i, blf_rpc_sub_each, &w);
	blf_page_end(rpc, c, &pg);
}

/* the tuple ids of a publication, comma separated, into buf */
static void blf_rpc_pub_ids(const blf_pidf_pub_t *d, char *buf, int size)
{
	int i, n = 0, l;

	buf[0] = '\0';
	for(i = 0; i < d->ntuples; i++) {
		l = (int)d->t[i].id_len;
		if(n + l + 2 > size)
			break;
		if(n)
			buf[n++] = ',';
		memcpy(buf + n, BLF_PIDF_STR(d, d->t[i].id_off), l);
		n += l;
		buf[n] = '\0';
	}
}

static int blf_rpc_pub_each(blf_entity_t *e, void *arg)
{
	blf_rpc_walk_t *w = arg;
	char ids[BLF_PIDF_MAX_TUPLES * (BLF_PIDF_MAX_ID + 1) + 1];
	blf_pub_t *p;
	void *h;

	if(e->pubs == NULL || !blf_page_match(w->pg, &e->key))
		return 0;
	for(p = e->pubs; p; p = p->next) {
		if(p->expires <= w->now)
			continue; /* gone at the next tick */
		if(!blf_page_take(w->pg, 1,
				   blf_rpc_str_cost(e->key) + p->doc->note_len
						   + sizeof(ids) + 6 * BLF_RPC_FIELD_COST))
			continue;
		if(w->rpc->add(w->c, "{", &h) < 0) {
			w->pg->failed = 1;
			return 1;
		}
		blf_rpc_pub_ids(p->doc, ids, sizeof(ids));
		w->rpc->struct_add(h, "Ssdsss", "entity", &e->key, "etag", p->etag,
				"expires", (int)blf_expiry_left(p->expires, w->now),
				"tuples", ids, "note",
				p->doc->note_off ? BLF_PIDF_STR(p->doc, p->doc->note_off)
								 : "",
				"node", p->origin ? blf_dmq_node_name(p->origin) : "local");
	}
	return 0;
}

static void blf_rpc_publications(rpc_t *rpc, void *c)
{
	blf_page_t pg;
	blf_rpc_walk_t w = {rpc, c, &pg, time(NULL)};
	unsigned int i, from, to;

	if(blf_rpc_page_args(rpc, c, &pg) < 0)
		return;
	blf_page_slots(&pg, &from, &to);
	for(i = from; i < to && !pg.failed; i++)
		if(!blf_table_slot_empty(i))
			blf_table_slot_each(i, blf_rpc_pub_each, &w);
	blf_page_end(rpc, c, &pg);
}

static void blf_rpc_print_entity(
		rpc_t *rpc, void *c, blf_page_t *pg, blf_entity_t *e)
{
	void *h, *a, *d;
	blf_call_t *k;

	if(rpc->add(c, "{", &h) < 0) {
		pg->failed = 1;
		return;
	}
	rpc->struct_add(h, "Sd[", "entity", &e->key, "watchers", (int)e->nsubs,
			"dialogs", &a);
	for(k = e->calls; k; k = k->next) {
		if(rpc->array_add(a, "{", &d) < 0)
			return;
		rpc->struct_add(d, "sSssSs", "id", k->id, "callid",
				&k->f[BLF_CF_CALLID], "state", blf_state_name(k->st.state),
				"direction", blf_dir_name(k->dir), "peer", &k->f[BLF_CF_RURI],
				"node", k->origin ? blf_dmq_node_name(k->origin) : "local");
	}
}

static unsigned int blf_rpc_entity_cost(blf_entity_t *e)
{
	unsigned int b = blf_rpc_str_cost(e->key) + 3 * BLF_RPC_FIELD_COST;
	blf_call_t *k;

	for(k = e->calls; k; k = k->next)
		b += BLF_CALL_ID_LEN + blf_rpc_str_cost(k->f[BLF_CF_CALLID])
			 + blf_rpc_str_cost(k->f[BLF_CF_RURI]) + 6 * BLF_RPC_FIELD_COST;
	return b;
}

static int blf_rpc_entity_each(blf_entity_t *e, void *arg)
{
	blf_rpc_walk_t *w = arg;

	/* one entity: whatever it has; else those with calls */
	if(!blf_page_match(w->pg, &e->key)
			|| ((w->pg->all || w->pg->domain) && e->ncalls == 0))
		return 0;
	/* its struct, its dialogs array, one struct per call */
	if(blf_page_take(w->pg, 2 + e->ncalls, blf_rpc_entity_cost(e)))
		blf_rpc_print_entity(w->rpc, w->c, w->pg, e);
	return 0;
}

static void blf_rpc_entities(rpc_t *rpc, void *c)
{
	blf_page_t pg;
	blf_rpc_walk_t w = {rpc, c, &pg, 0};
	unsigned int i, from, to;

	if(blf_rpc_page_args(rpc, c, &pg) < 0)
		return;
	blf_page_slots(&pg, &from, &to);
	for(i = from; i < to; i++)
		blf_table_slot_each(i, blf_rpc_entity_each, &w);
	blf_page_end(rpc, c, &pg);
}

/*
 * blf.parks and blf.aliases are printed by blf_park.c and blf_alias.c. They
 * get a capturing rpc_t: each struct they add is held (in pkg memory) until
 * the next one, filtered on its entity field and kept only inside the page;
 * the page is then added to the real answer. Their add never fails, so
 * they cannot make the transport fault, and at most one page is held.
 */
#define BLF_CAP_FIELDS 12

typedef struct blf_cap_field {
	const char *name;
	int is_int;
	int ival;
	str sval; /* in the item's block */
} blf_cap_field_t;

typedef struct blf_cap_item {
	struct blf_cap_item *next;
	int n;
	blf_cap_field_t f[BLF_CAP_FIELDS];
} blf_cap_item_t;

typedef struct blf_cap {
	blf_page_t *pg;
	const char *match; /* the field holding the entity (user@host) */
	blf_cap_item_t *cur; /* being filled */
	blf_cap_item_t *first, **last;
	int bad; /* something not capturable was asked for */
} blf_cap_t;

static void blf_cap_item_free(blf_cap_item_t *it)
{
	int i;

	for(i = 0; i < it->n; i++)
		if(!it->f[i].is_int && it->f[i].sval.s)
			pkg_free(it->f[i].sval.s);
	pkg_free(it);
}

/* the item being filled is complete: keep it in the page or drop it */
static void blf_cap_close(blf_cap_t *cp)
{
	blf_cap_item_t *it = cp->cur;
	str k = STR_NULL;
	unsigned int b = 0;
	int i;

	if(it == NULL)
		return;
	cp->cur = NULL;
	for(i = 0; i < it->n; i++) {
		b += BLF_RPC_FIELD_COST;
		if(it->f[i].is_int)
			continue;
		b += it->f[i].sval.len;
		if(strcmp(it->f[i].name, cp->match) == 0)
			k = it->f[i].sval;
	}
	if((k.s || cp->pg->all) && blf_page_match(cp->pg, &k)
			&& blf_page_take(cp->pg, 1, b)) {
		it->next = NULL;
		*cp->last = it;
		cp->last = &it->next;
		return;
	}
	blf_cap_item_free(it);
}

static int blf_cap_add(void *ctx, char *fmt, ...)
{
	blf_cap_t *cp = (blf_cap_t *)ctx;
	va_list ap;
	void **h;

	if(fmt == NULL || strcmp(fmt, "{") != 0) {
		cp->bad = 1;
		return -1;
	}
	blf_cap_close(cp);
	va_start(ap, fmt);
	h = va_arg(ap, void **);
	va_end(ap);
	cp->cur = pkg_malloc(sizeof(blf_cap_item_t));
	if(cp->cur == NULL) {
		PKG_MEM_ERROR;
		cp->bad = 1;
		return -1;
	}
	memset(cp->cur, 0, sizeof(blf_cap_item_t));
	*h = cp;
	return 0;
}

static int blf_cap_struct_add(void *ctx, char *fmt, ...)
{
	blf_cap_t *cp = (blf_cap_t *)ctx;
	blf_cap_field_t *f;
	va_list ap;
	const char *cs;
	str *sp, v;
	int ret = 0;

	if(cp->cur == NULL)
		return -1;
	va_start(ap, fmt);
	for(; *fmt; fmt++) {
		if(cp->cur->n == BLF_CAP_FIELDS) {
			cp->bad = 1;
			ret = -1;
			break;
		}
		f = &cp->cur->f[cp->cur->n];
		f->name = va_arg(ap, const char *);
		switch(*fmt) {
			case 'd':
			case 'u':
			case 'b':
			case 't':
				f->is_int = 1;
				f->ival = va_arg(ap, int);
				cp->cur->n++;
				continue;
			case 's':
				cs = va_arg(ap, const char *);
				v.s = (char *)(cs ? cs : "");
				v.len = strlen(v.s);
				break;
			case 'S':
				sp = va_arg(ap, str *);
				v = (sp && sp->s) ? *sp : (str)STR_NULL;
				break;
			default:
				cp->bad = 1;
				ret = -1;
				goto done;
		}
		f->sval.s = pkg_malloc(v.len + 1);
		if(f->sval.s == NULL) {
			PKG_MEM_ERROR;
			cp->bad = 1;
			ret = -1;
			goto done;
		}
		if(v.len)
			memcpy(f->sval.s, v.s, v.len);
		f->sval.s[v.len] = '\0';
		f->sval.len = v.len;
		cp->cur->n++;
	}
done:
	va_end(ap);
	return ret;
}

static int blf_cap_none(void *ctx, char *fmt, ...)
{
	((blf_cap_t *)ctx)->bad = 1;
	return -1;
}

static int blf_cap_scan(void *ctx, char *fmt, ...)
{
	return 0; /* no arguments for them: they are ours */
}

static void blf_cap_fault(void *ctx, int code, char *fmt, ...)
{
	((blf_cap_t *)ctx)->bad = 1;
}

static int blf_cap_send(void *ctx)
{
	return 0;
}

/* lists through fn into a page of the real answer */
static void blf_rpc_captured(rpc_t *rpc, void *c, const char *match,
		void (*fn)(rpc_t *, void *))
{
	blf_page_t pg;
	blf_cap_t cp;
	blf_cap_item_t *it, *next;
	rpc_t cap;
	void *h;
	int i;

	if(blf_rpc_page_args(rpc, c, &pg) < 0)
		return;
	memset(&cap, 0, sizeof(cap));
	cap.fault = blf_cap_fault;
	cap.send = blf_cap_send;
	cap.add = blf_cap_add;
	cap.scan = blf_cap_scan;
	cap.rpl_printf = blf_cap_none;
	cap.struct_add = blf_cap_struct_add;
	cap.array_add = blf_cap_none;
	cap.struct_scan = blf_cap_none;
	memset(&cp, 0, sizeof(cp));
	cp.pg = &pg;
	cp.match = match;
	cp.last = &cp.first;
	fn(&cap, &cp);
	blf_cap_close(&cp);
	if(cp.bad)
		LM_ERR("a listing asked for what the RPC page cannot hold: "
			   "fields may be missing\n");
	for(it = cp.first; it; it = next) {
		next = it->next;
		if(!pg.failed && rpc->add(c, "{", &h) < 0)
			pg.failed = 1;
		for(i = 0; !pg.failed && i < it->n; i++) {
			if(it->f[i].is_int)
				rpc->struct_add(h, "d", it->f[i].name, it->f[i].ival);
			else
				rpc->struct_add(h, "S", it->f[i].name, &it->f[i].sval);
		}
		blf_cap_item_free(it);
	}
	blf_page_end(rpc, c, &pg);
}

static void blf_rpc_stats(rpc_t *rpc, void *c)
{
	void *h;

	if(rpc->add(c, "{", &h) < 0)
		return;
	rpc->struct_add(h, "dddddddd", "subscriptions", (int)atomic_get(blf_nsubs),
			"notifies_sent", (int)get_stat_val(blf_st_notifies_sent),
			"notifies_failed", (int)get_stat_val(blf_st_notifies_failed),
			"http_requests", (int)get_stat_val(blf_st_http_requests),
			"http_errors", (int)get_stat_val(blf_st_http_errors), "cache_hits",
			(int)get_stat_val(blf_st_cache_hits), "cache_misses",
			(int)get_stat_val(blf_st_cache_misses), "notifies_pending",
			(int)blf_ntx_pending());
}

static void blf_rpc_parks(rpc_t *rpc, void *c)
{
	blf_rpc_captured(rpc, c, "entity", blf_park_rpc_list);
}

static void blf_rpc_aliases(rpc_t *rpc, void *c)
{
	blf_rpc_captured(rpc, c, "uri", blf_alias_rpc_list);
}

static void blf_rpc_flush_aliases(rpc_t *rpc, void *c)
{
	void *h;
	int n = blf_alias_flush();

	if(rpc->add(c, "{", &h) < 0)
		return;
	rpc->struct_add(h, "d", "flushed", n);
}

/* per-watcher visibility (visibility_url): the cache, and its flush,
 * which answers once the live subscriptions follow the new answers */
static void blf_rpc_visibility(rpc_t *rpc, void *c)
{
	blf_rpc_captured(rpc, c, "entity", blf_viscache_rpc_list);
}

static void blf_rpc_flush_visibility(rpc_t *rpc, void *c)
{
	void *h;
	int n = 0, pairs = 0;

	if(blf_visapply_flush(&n, &pairs) < 0) {
		rpc->fault(c, 500, "no memory");
		return;
	}
	if(rpc->add(c, "{", &h) < 0)
		return;
	rpc->struct_add(h, "dd", "flushed", n, "reevaluated", pairs);
}

#define BLF_RPC_PAGING                                                   \
	" Arguments: [filter [offset [limit]]]: filter * (all), @host or an " \
	"entity (user@host, sip:user@host); offset 0; limit 100 (at most "    \
	"1000, 0: count only). Last struct: total, offset, limit, returned, " \
	"more, next."

static const char *blf_rpc_parks_doc[] = {
		"Park orbits as last fetched: orbit, entity, state, callid, parked, "
		"parker." BLF_RPC_PAGING,
		0};
static const char *blf_rpc_aliases_doc[] = {
		"The alias cache: uri, state (alias, not-alias, pending, error), "
		"entity, visibility, ttl (s left)." BLF_RPC_PAGING,
		0};
static const char *blf_rpc_flush_aliases_doc[] = {
		"Empty the alias cache; answers are asked again on next use.", 0};
static const char *blf_rpc_visibility_doc[] = {
		"The per-watcher visibility cache (visibility_url): entity, watcher, "
		"state (rule, no-rule, pending, error), visibility, ttl (s left)."
		BLF_RPC_PAGING,
		0};
static const char *blf_rpc_flush_visibility_doc[] = {
		"Empty the per-watcher visibility cache and re-evaluate the live "
		"subscriptions (answers once the new answers are applied, at most "
		"http_timeout): flushed, reevaluated ((entity, watcher) pairs).",
		0};
static const char *blf_rpc_subscriptions_doc[] = {
		"List subscriptions: watcher, entity, event, expires (s left), "
		"version, wildcard, callid, contact, owner." BLF_RPC_PAGING,
		0};
static const char *blf_rpc_entities_doc[] = {
		"List entities with their current calls (id, callid, state, "
		"direction, peer, node); with one entity as filter, that entity "
		"even without calls." BLF_RPC_PAGING,
		0};
static const char *blf_rpc_stats_doc[] = {
		"Counters: subscriptions, notifies_sent, notifies_failed, "
		"http_requests, http_errors, cache_hits, cache_misses, "
		"notifies_pending (UDP NOTIFYs awaiting their answer).",
		0};

static const char *blf_rpc_publications_doc[] = {
		"Published presence documents (PUBLISH): entity, etag, expires "
		"(s left), tuples (ids, comma separated), note, node." BLF_RPC_PAGING,
		0};

static rpc_export_t blf_rpc_cmds[] = {
		{"blf.subscriptions", blf_rpc_subscriptions,
				blf_rpc_subscriptions_doc, RET_ARRAY},
		{"blf.entities", blf_rpc_entities, blf_rpc_entities_doc, RET_ARRAY},
		{"blf.stats", blf_rpc_stats, blf_rpc_stats_doc, 0},
		{"blf.publications", blf_rpc_publications, blf_rpc_publications_doc,
				RET_ARRAY},
		{"blf.parks", blf_rpc_parks, blf_rpc_parks_doc, RET_ARRAY},
		{"blf.aliases", blf_rpc_aliases, blf_rpc_aliases_doc, RET_ARRAY},
		{"blf.flush_aliases", blf_rpc_flush_aliases, blf_rpc_flush_aliases_doc,
				0},
		{"blf.visibility", blf_rpc_visibility, blf_rpc_visibility_doc,
				RET_ARRAY},
		{"blf.flush_visibility", blf_rpc_flush_visibility,
				blf_rpc_flush_visibility_doc, 0},
		{0, 0, 0, 0}};

int blf_rpc_init(void)
{
	if(rpc_register_array(blf_rpc_cmds) != 0) {
		LM_ERR("cannot register RPC commands\n");
		return -1;
	}
	return 0;
}
