/*
 * blf_rpc.c — RPC commands: blf.subscriptions, blf.entities, blf.stats.
 *
 * Each command walks the entity table slot by slot under the slot's lock
 * and prints as it goes; an optional [entity] argument (user@host or
 * sip:user@host) limits the walk to that entity's slot.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>
#include <strings.h>
#include <ctype.h>

#include "core/rpc.h"
#include "core/rpc_lookup.h"
#include "core/dprint.h"
#include "core/ut.h"

#include "blf.h"
#include "blf_alias.h"
#include "blf_park.h"

/* the optional entity argument, normalised like entity keys */
static int blf_rpc_entity_arg(rpc_t *rpc, void *c, char *buf, int size, str *key)
{
	str arg = STR_NULL;
	char *at;
	int i;

	if(rpc->scan(c, "*S", &arg) < 1 || arg.len == 0)
		return 0;
	if(arg.len > 4 && strncasecmp(arg.s, "sip:", 4) == 0) {
		arg.s += 4;
		arg.len -= 4;
	}
	at = memchr(arg.s, '@', arg.len);
	if(at == NULL || arg.len >= size) {
		rpc->fault(c, 400, "entity must be user@host or sip:user@host");
		return -1;
	}
	memcpy(buf, arg.s, arg.len);
	for(i = at - arg.s; i < arg.len; i++)
		buf[i] = tolower((unsigned char)buf[i]);
	key->s = buf;
	key->len = arg.len;
	return 1;
}

/*
 * The slots to walk: all of them, or the one of the [entity] argument
 * (then 1 and *key set); -1 when the argument was bad (fault sent).
 */
static int blf_rpc_slots(rpc_t *rpc, void *c, char *buf, int size, str *key,
		unsigned int *from, unsigned int *to)
{
	int f = blf_rpc_entity_arg(rpc, c, buf, size, key);

	*from = 0;
	*to = blf_table->size;
	if(f > 0) {
		*from = blf_slot_idx(blf_key_hash(key));
		*to = *from + 1;
	}
	return f;
}

static void blf_rpc_print_sub(rpc_t *rpc, void *c, blf_entity_t *e,
		blf_sub_t *s, time_t now)
{
	void *h;

	if(rpc->add(c, "{", &h) < 0)
		return;
	rpc->struct_add(h, "SSsdddSSs", "watcher", &BLF_SF(s, BLF_SF_WATCHER),
			"entity", &e->key, "event", "dialog", "expires",
			(int)blf_expiry_left(s->expires, now), "version",
			(int)(s->version ? s->version - 1 : 0), "wildcard",
			(s->flags & BLF_SUB_WILDCARD) ? 1 : 0, "callid",
			&BLF_SF(s, BLF_SF_CALLID), "contact", &BLF_SF(s, BLF_SF_CONTACT), "owner",
			s->owner ? blf_dmq_node_name(s->owner) : "local");
}

static void blf_rpc_subscriptions(rpc_t *rpc, void *c)
{
	char buf[BLF_KEY_MAX];
	blf_entity_t *e;
	blf_sub_t *s;
	unsigned int i, from, to;
	time_t now = time(NULL);
	str key;
	int f;

	f = blf_rpc_slots(rpc, c, buf, sizeof(buf), &key, &from, &to);
	if(f < 0)
		return;
	for(i = from; i < to; i++) {
		lock_set_get(blf_table->locks, i);
		for(e = blf_table->slots[i].first; e; e = e->next) {
			if(f && !STR_EQ(e->key, key))
				continue;
			for(s = e->subs; s; s = s->next)
				blf_rpc_print_sub(rpc, c, e, s, now);
		}
		lock_set_release(blf_table->locks, i);
	}
}

static void blf_rpc_print_entity(rpc_t *rpc, void *c, blf_entity_t *e)
{
	void *h, *a, *d;
	blf_call_t *k;

	if(rpc->add(c, "{", &h) < 0)
		return;
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

static void blf_rpc_entities(rpc_t *rpc, void *c)
{
	char buf[BLF_KEY_MAX];
	blf_entity_t *e;
	unsigned int i, from, to;
	str key;
	int f;

	f = blf_rpc_slots(rpc, c, buf, sizeof(buf), &key, &from, &to);
	if(f < 0)
		return;
	for(i = from; i < to; i++) {
		lock_set_get(blf_table->locks, i);
		for(e = blf_table->slots[i].first; e; e = e->next) {
			if(f ? !STR_EQ(e->key, key) : e->ncalls == 0)
				continue;
			blf_rpc_print_entity(rpc, c, e);
		}
		lock_set_release(blf_table->locks, i);
	}
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
	blf_park_rpc_list(rpc, c);
}

static void blf_rpc_aliases(rpc_t *rpc, void *c)
{
	blf_alias_rpc_list(rpc, c);
}

static void blf_rpc_flush_aliases(rpc_t *rpc, void *c)
{
	void *h;
	int n = blf_alias_flush();

	if(rpc->add(c, "{", &h) < 0)
		return;
	rpc->struct_add(h, "d", "flushed", n);
}

static const char *blf_rpc_parks_doc[] = {
		"Park orbits as last fetched: orbit, entity, state, callid, parked, "
		"parker.",
		0};
static const char *blf_rpc_aliases_doc[] = {
		"The alias cache: uri, state (alias, not-alias, pending, error), "
		"entity, visibility, ttl (s left).",
		0};
static const char *blf_rpc_flush_aliases_doc[] = {
		"Empty the alias cache; answers are asked again on next use.", 0};
static const char *blf_rpc_subscriptions_doc[] = {
		"List subscriptions: watcher, entity, event, expires (s left), "
		"version, callid, contact. Optional argument: an entity "
		"(user@host or sip:user@host).",
		0};
static const char *blf_rpc_entities_doc[] = {
		"List entities with their current calls (id, callid, state, "
		"direction, peer). Optional argument: an entity.",
		0};
static const char *blf_rpc_stats_doc[] = {
		"Counters: subscriptions, notifies_sent, notifies_failed, "
		"http_requests, http_errors, cache_hits, cache_misses, "
		"notifies_pending (UDP NOTIFYs awaiting their answer).",
		0};

static rpc_export_t blf_rpc_cmds[] = {
		{"blf.subscriptions", blf_rpc_subscriptions,
				blf_rpc_subscriptions_doc, RET_ARRAY},
		{"blf.entities", blf_rpc_entities, blf_rpc_entities_doc, RET_ARRAY},
		{"blf.stats", blf_rpc_stats, blf_rpc_stats_doc, 0},
		{"blf.parks", blf_rpc_parks, blf_rpc_parks_doc, RET_ARRAY},
		{"blf.aliases", blf_rpc_aliases, blf_rpc_aliases_doc, RET_ARRAY},
		{"blf.flush_aliases", blf_rpc_flush_aliases, blf_rpc_flush_aliases_doc,
				0},
		{0, 0, 0, 0}};

int blf_rpc_init(void)
{
	if(rpc_register_array(blf_rpc_cmds) != 0) {
		LM_ERR("cannot register RPC commands\n");
		return -1;
	}
	return 0;
}
