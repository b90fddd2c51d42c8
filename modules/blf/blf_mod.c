/*
 * blf_mod.c — module exports and lifecycle: parameters, mod_init,
 * child_init, destroy. Everything else lives in the concern files.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/sr_module.h"
#include "core/dprint.h"
#include "core/mem/shm_mem.h"
#include "core/timer_proc.h"
#include "core/counters.h"
#include "core/mod_fix.h"

#include "blf.h"
#include "blf_chg.h"
#include "blf_script.h"
#include "blf_alias.h"
#include "blf_viscache.h"
#include "blf_visapply.h"
#include "blf_park.h"
#include "blf_list.h"
#include "blf_lsub.h"
#include "blf_wcount.h"
#include "blf_reply.h"
#include "blf_coalesce.h"
#include "blf_publish.h"
#include "blf_dtx.h"
#include "blf_adopt.h"

MODULE_VERSION

/* clang-format off */
blf_cfg_t blf_cfg = {
	.expiry = { .min_expires = 60, .max_expires = 3600,
			.default_expires = 3600 },
	.track_all = 0,
	.wildcard_user = str_init("any-dn"),
	.visibility_s = str_init("full"),
	.visibility = BLF_VIS_FULL,
	.park_poll_interval = 2,
	.http_timeout = 1000,
	.alias_cache_ttl = 300,
	.alias_negative_ttl = 60,
	.alias_cache_size = 10000,
	.alias_cache_idle = 60,
	.alias_wait_workers = 0,
	.list_wait_workers = 0,
	.http_max_body = 262144,
	.max_subscriptions = 0,
	.hash_size = 4096,
	.timer_interval = 1,
	.db_table = str_init("blf_subscriptions"),
	.db_flush_interval = 2,
	.notify_direct = 1,
	.reply_direct = 1,
	.dmq_version_delay = 100,
	.takeover_call_hold = 30,
	.dmq_direct = 1,
	.max_watcher_subscriptions = 500,
	.max_source_subscriptions = 5000,
	.wildcard_burst_interval = 60,
	.max_notifies_inflight = 1000,
	.max_notifies_per_sub = 16,
	.notify_min_free_shm = 10,
	.max_calls_per_entity = 32,
	.max_contacts_per_entity = 16,
	.ul_domain = STR_NULL,
	.notify_max_body = 32768,
	.events = str_init(BLF_PKG_KNOWN),
	.max_publications = 8,
	.publish_max_body = 16384,
};
/* clang-format on */

struct tm_binds blf_tmb;
sl_api_t blf_slb;
struct dlg_binds blf_dlgb;
atomic_t *blf_nsubs = NULL;

stat_var *blf_st_notifies_sent;
stat_var *blf_st_notifies_failed;
stat_var *blf_st_notify_answers_ignored;
stat_var *blf_st_notify_answers_fast;
stat_var *blf_st_subscribe_replies_direct;
stat_var *blf_st_notifies_deferred;
stat_var *blf_st_calls_untracked;
stat_var *blf_st_bodies_cut;
stat_var *blf_st_notifies_unchanged;
stat_var *blf_st_http_requests;
stat_var *blf_st_http_errors;
stat_var *blf_st_cache_hits;
stat_var *blf_st_cache_misses;
stat_var *blf_st_calls_destroyed;
stat_var *blf_st_calls_adopted;
stat_var *blf_st_orphans_ended;
stat_var *blf_st_subscribes_rejected;
stat_var *blf_st_watcher_limited;
stat_var *blf_st_source_limited;
stat_var *blf_st_wildcard_bursts_limited;
stat_var *blf_st_alias_nowait;
stat_var *blf_st_list_nowait;
stat_var *blf_st_alias_evicted;
stat_var *blf_st_alias_full;
stat_var *blf_st_http_oversize;
stat_var *blf_st_park_page_cut;

static int mod_init(void);
static int child_init(int rank);
static void mod_destroy(void);
stat_var *blf_st_delay_sum_us;
stat_var *blf_st_delay_count;

static unsigned long blf_stat_subscriptions(void)
{
	return blf_nsubs ? (unsigned long)atomic_get(blf_nsubs) : 0;
}

/* the core's response callback: answers to the module's own NOTIFY
 * (blf_ntx.c) and KDMQ (blf_dtx.c) transactions end here */
static int blf_mod_response(struct sip_msg *msg)
{
	if(blf_dtx_response(msg) == 0)
		return 0;
	return blf_ntx_response(msg);
}

/* clang-format off */
static cmd_export_t cmds[] = {
	{"blf_track", (cmd_function)w_blf_track, 0, 0, 0, REQUEST_ROUTE},
	{"blf_handle_subscribe", (cmd_function)w_blf_handle_subscribe, 0, 0, 0,
		REQUEST_ROUTE},
	{"blf_handle_publish", (cmd_function)w_blf_handle_publish, 0, 0, 0,
		REQUEST_ROUTE},
	{"blf_park_xml", (cmd_function)w_blf_park_xml, 1, fixup_spve_null,
		fixup_free_spve_null, EVENT_ROUTE | REQUEST_ROUTE},
	{0, 0, 0, 0, 0, 0}
};

static param_export_t params[] = {
	{"min_expires", PARAM_INT, &blf_cfg.expiry.min_expires},
	{"max_expires", PARAM_INT, &blf_cfg.expiry.max_expires},
	{"default_expires", PARAM_INT, &blf_cfg.expiry.default_expires},
	{"track_all", PARAM_INT, &blf_cfg.track_all},
	{"wildcard_user", PARAM_STR, &blf_cfg.wildcard_user},
	{"alias_url", PARAM_STR, &blf_cfg.alias_url},
	{"park_url", PARAM_STR, &blf_cfg.park_url},
	{"park_poll_interval", PARAM_INT, &blf_cfg.park_poll_interval},
	{"park_domain", PARAM_STR, &blf_cfg.park_domain},
	{"http_timeout", PARAM_INT, &blf_cfg.http_timeout},
	{"alias_cache_ttl", PARAM_INT, &blf_cfg.alias_cache_ttl},
	{"alias_negative_ttl", PARAM_INT, &blf_cfg.alias_negative_ttl},
	{"alias_cache_size", PARAM_INT, &blf_cfg.alias_cache_size},
	{"alias_cache_idle", PARAM_INT, &blf_cfg.alias_cache_idle},
	{"alias_wait_workers", PARAM_INT, &blf_cfg.alias_wait_workers},
	{"list_wait_workers", PARAM_INT, &blf_cfg.list_wait_workers},
	{"http_max_body", PARAM_INT, &blf_cfg.http_max_body},
	{"visibility", PARAM_STR, &blf_cfg.visibility_s},
	{"visibility_url", PARAM_STR, &blf_cfg.visibility_url},
	{"db_url", PARAM_STR, &blf_cfg.db_url},
	{"db_table", PARAM_STR, &blf_cfg.db_table},
	{"db_flush_interval", PARAM_INT, &blf_cfg.db_flush_interval},
	{"enable_dmq", PARAM_INT, &blf_cfg.enable_dmq},
	{"dmq_peers", PARAM_STR, &blf_cfg.dmq_peers},
	{"dmq_version_delay", PARAM_INT, &blf_cfg.dmq_version_delay},
	{"dmq_direct", PARAM_INT, &blf_cfg.dmq_direct},
	{"takeover_call_hold", PARAM_INT, &blf_cfg.takeover_call_hold},
	{"node_name", PARAM_STR, &blf_cfg.node_name},
	{"max_subscriptions", PARAM_INT, &blf_cfg.max_subscriptions},
	{"hash_size", PARAM_INT, &blf_cfg.hash_size},
	{"notify_direct", PARAM_INT, &blf_cfg.notify_direct},
	{"reply_direct", PARAM_INT, &blf_cfg.reply_direct},
	{"dialog_id_secret", PARAM_STR, &blf_cfg.dialog_id_secret},
	{"max_watcher_subscriptions", PARAM_INT,
		&blf_cfg.max_watcher_subscriptions},
	{"max_source_subscriptions", PARAM_INT, &blf_cfg.max_source_subscriptions},
	{"wildcard_burst_interval", PARAM_INT, &blf_cfg.wildcard_burst_interval},
	{"max_notifies_inflight", PARAM_INT, &blf_cfg.max_notifies_inflight},
	{"max_notifies_per_sub", PARAM_INT, &blf_cfg.max_notifies_per_sub},
	{"notify_min_free_shm", PARAM_INT, &blf_cfg.notify_min_free_shm},
	{"max_calls_per_entity", PARAM_INT, &blf_cfg.max_calls_per_entity},
	{"max_contacts_per_entity", PARAM_INT, &blf_cfg.max_contacts_per_entity},
	{"ul_domain", PARAM_STR, &blf_cfg.ul_domain},
	{"notify_max_body", PARAM_INT, &blf_cfg.notify_max_body},
	{"events", PARAM_STR, &blf_cfg.events},
	{"notify_min_interval", PARAM_INT, &blf_coal_interval},
	{"max_publications", PARAM_INT, &blf_cfg.max_publications},
	{"publish_max_body", PARAM_INT, &blf_cfg.publish_max_body},
	/* RFC 4662 lists (blf_list.c, blf_lsub.c) */
	{"list_url", PARAM_STR, &blf_list_url},
	{"list_full_state", PARAM_INT, &blf_list_full_state},
	{"list_max_members", PARAM_INT, &blf_list_max_members},
	{0, 0, 0}
};

static stat_export_t blf_stats[] = {
	{"subscriptions", STAT_IS_FUNC, (stat_var **)blf_stat_subscriptions},
	{"publications", STAT_IS_FUNC, (stat_var **)blf_pub_count},
	{"notifies_sent", 0, &blf_st_notifies_sent},
	{"notifies_failed", 0, &blf_st_notifies_failed},
	{"notify_answers_ignored", 0, &blf_st_notify_answers_ignored},
	{"notify_answers_fast", 0, &blf_st_notify_answers_fast},
	{"subscribe_replies_direct", 0, &blf_st_subscribe_replies_direct},
	{"notifies_deferred", 0, &blf_st_notifies_deferred},
	{"notifies_coalesced", 0, &blf_st_notifies_coalesced},
	{"notifies_inflight", STAT_IS_FUNC, (stat_var **)blf_inflight_count},
	{"calls_untracked", 0, &blf_st_calls_untracked},
	{"bodies_cut", 0, &blf_st_bodies_cut},
	{"notifies_unchanged", 0, &blf_st_notifies_unchanged},
	{"notifies_pending", STAT_IS_FUNC, (stat_var **)blf_ntx_pending},
	{"notify_blocks", STAT_IS_FUNC, (stat_var **)blf_ntx_blocks},
	{"http_requests", 0, &blf_st_http_requests},
	{"http_errors", 0, &blf_st_http_errors},
	{"cache_hits", 0, &blf_st_cache_hits},
	{"cache_misses", 0, &blf_st_cache_misses},
	{"calls_destroyed", 0, &blf_st_calls_destroyed},
	{"calls_adopted", 0, &blf_st_calls_adopted},
	{"orphans_ended", 0, &blf_st_orphans_ended},
	{"orphans_held", STAT_IS_FUNC, (stat_var **)blf_adopt_held},
	{"subscribes_rejected", 0, &blf_st_subscribes_rejected},
	{"watcher_limited", 0, &blf_st_watcher_limited},
	{"source_limited", 0, &blf_st_source_limited},
	{"wildcard_bursts_limited", 0, &blf_st_wildcard_bursts_limited},
	{"watcher_counted", STAT_IS_FUNC, (stat_var **)blf_wc_watcher_counted},
	{"source_counted", STAT_IS_FUNC, (stat_var **)blf_wc_source_counted},
	{"watcher_counters", STAT_IS_FUNC, (stat_var **)blf_wc_entries},
	{"notify_delay_max_ms", STAT_IS_FUNC, (stat_var **)blf_delay_max_ms},
	{"notify_delay_sum_us", 0, &blf_st_delay_sum_us},
	{"notify_delay_count", 0, &blf_st_delay_count},
	{"dmq_untrusted", 0, &blf_st_dmq_untrusted},
	{"dmq_invalid", 0, &blf_st_dmq_invalid},
	{"dmq_direct", 0, &blf_st_dmq_direct},
	{"dmq_direct_unkept", 0, &blf_st_dmq_direct_unkept},
	{"dmq_direct_pending", STAT_IS_FUNC, (stat_var **)blf_dtx_pending},
	{"subscription_replicas", STAT_IS_FUNC,
			(stat_var **)blf_sub_repl_count},
	{"alias_cache_entries", STAT_IS_FUNC, (stat_var **)blf_alias_count},
	{"alias_cache_evictions", 0, &blf_st_alias_evicted},
	{"alias_cache_full", 0, &blf_st_alias_full},
	{"alias_nowait", 0, &blf_st_alias_nowait},
	{"list_nowait", 0, &blf_st_list_nowait},
	{"http_oversize", 0, &blf_st_http_oversize},
	{"park_page_cut", 0, &blf_st_park_page_cut},
	{0, 0, 0}
};

struct module_exports exports = {
	"blf",			 /* module name */
	DEFAULT_DLFLAGS, /* dlopen flags */
	cmds,			 /* exported functions */
	params,			 /* exported parameters */
	0,				 /* RPC methods (registered in mod_init) */
	0,				 /* exported pseudo-variables */
	blf_mod_response, /* answers to our own NOTIFYs and KDMQs */
	mod_init,		 /* module init function */
	child_init,		 /* per-child init function */
	mod_destroy		 /* module destroy function */
};
/* clang-format on */

/* checks the parameters; Kamailio refuses to start on a bad one */
static int blf_cfg_check(void)
{
	blf_expiry_cfg_t *x = &blf_cfg.expiry;

	if(blf_vis_parse(blf_cfg.visibility_s.s, blf_cfg.visibility_s.len,
			   &blf_cfg.visibility)
			< 0) {
		LM_ERR("visibility must be full, state or none, not '%.*s'\n",
				blf_cfg.visibility_s.len, blf_cfg.visibility_s.s);
		return -1;
	}
	if((int)x->min_expires < 0 || (int)x->max_expires <= 0
			|| x->min_expires > x->max_expires) {
		LM_ERR("need 0 <= min_expires (%d) <= max_expires (%d)\n",
				(int)x->min_expires, (int)x->max_expires);
		return -1;
	}
	if(x->default_expires < x->min_expires)
		x->default_expires = x->min_expires;
	if(x->default_expires > x->max_expires)
		x->default_expires = x->max_expires;
	if(blf_cfg.park_url.len && blf_cfg.park_domain.len == 0) {
		LM_ERR("park_url needs park_domain (the host of park-orbit "
			   "entities)\n");
		return -1;
	}
	if(blf_cfg.hash_size < 1 || blf_cfg.hash_size > (1 << 20)) {
		LM_ERR("hash_size must be 1..1048576, not %d\n", blf_cfg.hash_size);
		return -1;
	}
	if(blf_cfg.max_subscriptions < 0)
		blf_cfg.max_subscriptions = 0;
	if(blf_cfg.max_publications < 0)
		blf_cfg.max_publications = 0;
	if(blf_cfg.publish_max_body < 256 || blf_cfg.publish_max_body > 65536) {
		LM_ERR("publish_max_body (%d) out of 256..65536\n",
				blf_cfg.publish_max_body);
		return -1;
	}
	if(blf_cfg.max_watcher_subscriptions < 0
			|| blf_cfg.max_source_subscriptions < 0) {
		LM_ERR("max_watcher_subscriptions (%d) and max_source_subscriptions "
			   "(%d) must be >= 0 (0: no limit)\n",
				blf_cfg.max_watcher_subscriptions,
				blf_cfg.max_source_subscriptions);
		return -1;
	}
	if(blf_cfg.max_subscriptions > 0
			&& (blf_cfg.max_watcher_subscriptions == 0
					|| blf_cfg.max_watcher_subscriptions
							   >= blf_cfg.max_subscriptions))
		LM_WARN("max_watcher_subscriptions (%d) does not stay below "
				"max_subscriptions (%d): one watcher can take every slot\n",
				blf_cfg.max_watcher_subscriptions, blf_cfg.max_subscriptions);
	if(blf_cfg.wildcard_burst_interval < 0) {
		LM_ERR("wildcard_burst_interval must be >= 0, not %d\n",
				blf_cfg.wildcard_burst_interval);
		return -1;
	}
	if(blf_cfg.max_notifies_inflight < 0 || blf_cfg.max_notifies_per_sub < 0
			|| blf_cfg.max_calls_per_entity < 0) {
		LM_ERR("max_notifies_inflight (%d), max_notifies_per_sub (%d) and "
			   "max_calls_per_entity (%d) must be >= 0 (0: no bound)\n",
				blf_cfg.max_notifies_inflight, blf_cfg.max_notifies_per_sub,
				blf_cfg.max_calls_per_entity);
		return -1;
	}
	if(blf_cfg.notify_min_free_shm < 0 || blf_cfg.notify_min_free_shm > 90) {
		LM_ERR("notify_min_free_shm must be 0..90 (percent), not %d\n",
				blf_cfg.notify_min_free_shm);
		return -1;
	}
	if(blf_cfg.notify_max_body < BLF_NOTIFY_BODY_MIN
			|| blf_cfg.notify_max_body > BLF_NOTIFY_BODY_UDP_MAX) {
		LM_ERR("notify_max_body must be %d..%d bytes, not %d\n",
				BLF_NOTIFY_BODY_MIN, BLF_NOTIFY_BODY_UDP_MAX,
				blf_cfg.notify_max_body);
		return -1;
	}
	if(blf_cfg.alias_cache_size < 1) {
		LM_ERR("alias_cache_size must be at least 1, not %d\n",
				blf_cfg.alias_cache_size);
		return -1;
	}
	if(blf_cfg.alias_cache_idle < 0) {
		LM_ERR("alias_cache_idle must be >= 0 s, not %d\n",
				blf_cfg.alias_cache_idle);
		return -1;
	}
	if(blf_cfg.alias_wait_workers < 0) {
		LM_ERR("alias_wait_workers must be >= 0 (0: a quarter of the "
			   "workers), not %d\n",
				blf_cfg.alias_wait_workers);
		return -1;
	}
	if(blf_cfg.list_wait_workers < 0) {
		LM_ERR("list_wait_workers must be >= 0 (0: an eighth of the "
			   "workers), not %d\n",
				blf_cfg.list_wait_workers);
		return -1;
	}
	if(blf_cfg.http_max_body < 1024 || blf_cfg.http_max_body > (64 << 20)) {
		LM_ERR("http_max_body must be 1024..67108864 bytes, not %d\n",
				blf_cfg.http_max_body);
		return -1;
	}
	return 0;
}

/* the NOTIFY listener: a change's jobs, sent after the unlock */
static void blf_notify_chg(blf_chg_batch_t *b, void *param)
{
	blf_chg_t *g = NULL;

	while((g = blf_chg_next(b, g, BLF_CHG_NOTIFY))) {
		blf_notify_send_all(g->jobs);
		g->jobs = NULL;
	}
}

/*
 * The event packages built into the module, one line each (ids follow this
 * order: dialog first, so a subscription record zeroed or restored from an
 * older version is a dialog one), then the `events` parameter says which
 * of them are served.
 */
/* per package: blf:notifies_sent_<name> ('.' -> '_', e.g.
 * notifies_sent_presence_winfo), registered for every served package */
stat_var *blf_st_pkg_sent[BLF_PKG_MAX];
static char blf_st_pkg_names[BLF_PKG_MAX][BLF_PKG_NAME_MAX + 16];

static int blf_pkg_stats_init(void)
{
	const blf_pkg_t *p;
	char *c;
	unsigned int i;

	for(i = 0; i < BLF_PKG_MAX; i++) {
		p = blf_pkg_get(i);
		if(p == NULL || !p->served)
			continue;
		snprintf(blf_st_pkg_names[i], sizeof(blf_st_pkg_names[i]),
				"notifies_sent_%s", p->name);
		for(c = blf_st_pkg_names[i]; *c; c++)
			if(*c == '.' || *c == '-')
				*c = '_';
		if(register_stat("blf", blf_st_pkg_names[i], &blf_st_pkg_sent[i], 0)
				!= 0) {
			LM_ERR("cannot register statistic %s\n", blf_st_pkg_names[i]);
			return -1;
		}
	}
	return 0;
}

static int blf_pkgs_init(void)
{
	char msg[256];

	blf_pkg_reset();
	if(blf_pkg_register(&blf_pkg_dialog) < 0) {
		LM_ERR("cannot register the event packages\n");
		return -1;
	}
	if(blf_pkg_register(&blf_pkg_presence) < 0) {
		LM_ERR("cannot register the presence package\n");
		return -1;
	}
	/* watcher info (RFC 3857); reg (RFC 3680) only with usrloc, so that
	 * without it `reg` is not served (489) */
	if(blf_pkg_register(&blf_pkg_presence_winfo) < 0
			|| blf_pkg_register(&blf_pkg_dialog_winfo) < 0
			|| (module_loaded("usrloc") && blf_pkg_register(&blf_pkg_reg) < 0)) {
		LM_ERR("cannot register the winfo/reg packages\n");
		return -1;
	}
	if(blf_pkg_serve(blf_cfg.events.s, (size_t)blf_cfg.events.len, msg,
			   sizeof(msg))
			< 0) {
		LM_ERR("events '%.*s': %s\n", blf_cfg.events.len > 256 ? 256
					: blf_cfg.events.len, blf_cfg.events.s, msg);
		return -1;
	}
	if(msg[0])
		LM_NOTICE("events: %s not built into this version: skipped\n", msg);
	if(blf_pkg_allow_events(msg, sizeof(msg)) > 0)
		LM_INFO("event packages served: %s\n", msg);
	return 0;
}

static int mod_init(void)
{
	if(blf_cfg_check() < 0 || blf_pkgs_init() < 0)
		return -1;
	if(load_tm_api(&blf_tmb) < 0) {
		LM_ERR("cannot bind tm: load tm.so before blf.so\n");
		return -1;
	}
	if(sl_load_api(&blf_slb) < 0) {
		LM_ERR("cannot bind sl: load sl.so before blf.so\n");
		return -1;
	}
	if(blf_dlg_init() < 0)
		return -1;
	if(register_module_stats(exports.name, blf_stats) != 0) {
		LM_ERR("cannot register statistics\n");
		return -1;
	}
	if(blf_pkg_stats_init() < 0)
		return -1;
	/* change listeners, in the order they get a change: the cluster
	 * (blf_dmq_init), then its NOTIFYs, then the database (blf_db_init).
	 * The cluster first: a change of ours goes out with the versions of
	 * the NOTIFYs it causes before those NOTIFYs do, so a node killed
	 * in between never sent a version the others did not hear of (a
	 * takeover would repeat it: blf_rhist_unreported) */
	if(blf_rpc_init() < 0 || blf_dmq_init() < 0)
		return -1;
	if(blf_chg_listen(BLF_CHG_NOTIFY, blf_notify_chg, NULL) < 0)
		return -1;
	if(blf_cfg.takeover_call_hold < 0) {
		LM_ERR("takeover_call_hold must be 0 or more (seconds)\n");
		return -1;
	}
	/* a dead node's calls held for adoption (blf_adopt.c) */
	if(blf_adopt_init() < 0)
		return -1;
	/* registrations (usrloc) and the watcher-info NOTIFYs */
	if(blf_ul_init() < 0 || blf_winfo_listen() < 0)
		return -1;
	blf_nsubs = shm_malloc(sizeof(atomic_t));
	if(blf_nsubs == NULL) {
		SHM_MEM_ERROR;
		return -1;
	}
	atomic_set(blf_nsubs, 0);
	if(blf_wc_init() < 0)
		return -1;
	if(blf_delay_init() < 0)
		return -1;
	if(blf_table_init(blf_cfg.hash_size) < 0)
		return -1;
	blf_table_set_policy(blf_alias_policy); /* a new entity's */
	blf_alias_set_hooks(&(blf_alias_hooks_t){.ask = blf_http_ask_alias,
			/* with visibility_url a per-watcher rule beats the entity's
			 * policy: each watcher is decided again (blf_visapply.c) */
			.apply_policy = blf_cfg.visibility_url.len
									? blf_visapply_policy
									: blf_subs_apply_policy,
			.deactivate_uri = blf_subs_deactivate_uri});
	/* per-watcher visibility (visibility_url): the cache, its HTTP
	 * questions, what follows an answer, the wildcard's per-entity check */
	blf_viscache_set_hooks(&(blf_viscache_hooks_t){.wake = blf_http_wake,
			.apply = blf_visapply_pair});
	if(blf_viscache_init() < 0)
		return -1;
	if(blf_viscache_enabled())
		blf_table_set_watcher_vis(blf_vis_lookup);
	if(blf_alias_init() < 0 || blf_park_init() < 0 || blf_http_init() < 0)
		return -1;
	if(blf_publish_init() < 0)
		return -1;
	if(blf_pub_init() < 0) /* before the DB restores publications */
		return -1;
	/* lists' stored member versions: before the DB restores rows */
	if(blf_lsub_mvers_init() < 0)
		return -1;
	if(blf_db_init() < 0 || blf_ntx_init() < 0 || blf_inflight_init() < 0)
		return -1;
	/* RFC 4662 lists: after the packages and the NOTIFY listener */
	if(blf_list_init() < 0 || blf_lsub_init(blf_http_ask_alias) < 0)
		return -1;
	/* a new visibility answer: the lists showing that member follow */
	blf_viscache_set_list_hook(blf_lsub_vis_changed);
	/* the expiry pass, and the cluster's hellos in a process of their own */
	register_sync_timers(blf_cfg.enable_dmq ? 2 : 1);
	/* dmq_version_delay: the versions' flush (blf_dmq_vq_proc) */
	if(blf_cfg.enable_dmq && blf_cfg.dmq_version_delay > 0)
		register_basic_timers(1);
	/* notify_min_interval: owed NOTIFYs resumed at ms granularity */
	if(blf_coal_init() < 0)
		return -1;
	if(blf_coal_interval > 0)
		register_basic_timers(1); /* (the utimer counter is the same) */
	/* usrloc's changes outside a SIP request: notified within ms */
	if(blf_ul_on) {
		if(blf_reg_prompt_init() < 0)
			return -1;
		register_basic_timers(1);
	}
	return 0;
}

static int child_init(int rank)
{
	srand(getpid() ^ (unsigned)time(NULL));
	if(rank == PROC_INIT) {
		/* in this order: another module's reply-out listener is seen
		 * before the module adds its own */
		blf_reply_proc_init();
		blf_dmq_proc_init();
	}
	if(blf_db_child_init(rank) < 0 || blf_http_child_init(rank) < 0
			|| blf_ntx_child_init(rank) < 0 || blf_dlg_child_init(rank) < 0
			|| blf_dtx_child_init(rank) < 0)
		return -1;
	blf_reply_child_init();
	if(rank == PROC_MAIN) {
		if(fork_sync_timer(PROC_TIMER, "BLF TIMER", 1, blf_subs_timer, NULL,
				   blf_cfg.timer_interval)
				< 0) {
			LM_ERR("cannot start the expiry timer process\n");
			return -1;
		}
		if(blf_cfg.enable_dmq
				&& fork_sync_timer(PROC_TIMER, "BLF DMQ", 1,
						   blf_dmq_timer_proc, NULL, 1)
						   < 0) {
			LM_ERR("cannot start the cluster timer process\n");
			return -1;
		}
		if(blf_cfg.enable_dmq && blf_cfg.dmq_version_delay > 0
				&& fork_basic_utimer(PROC_TIMER, "BLF DMQ VERSIONS", 1,
						   blf_dmq_vq_proc, NULL,
						   blf_dmq_vq_tick_ms() * 1000)
						   < 0) {
			LM_ERR("cannot start the cluster versions process\n");
			return -1;
		}
		if(blf_coal_interval > 0
				&& fork_basic_utimer(PROC_TIMER, "BLF COALESCE", 1,
						   blf_coal_timer, NULL,
						   /* µs, whatever timer_proc.h says */
						   blf_coal_tick_ms() * 1000)
						   < 0) {
			LM_ERR("cannot start the notify_min_interval process\n");
			return -1;
		}
		if(blf_ul_on
				&& fork_basic_utimer(PROC_TIMER, "BLF REG", 1,
						   blf_reg_prompt_timer, NULL,
						   BLF_REG_TICK_MS * 1000) /* µs */
						   < 0) {
			LM_ERR("cannot start the registrations' NOTIFY process\n");
			return -1;
		}
	}
	return 0;
}

/*
 * Runs in the main process only, after every child has exited: a child
 * _exit()s on SIGTERM wherever it is (core's sig_usr), so any shm lock of
 * ours may be left held by a dead process. Nothing here may wait on one:
 * the final flush walks the table without locks (blf_db_destroy, first,
 * so it is done before anything else can go wrong) and freeing the
 * subscriptions no longer gives their watcher counts back under a lock.
 */
static void mod_destroy(void)
{
	blf_wc_shutdown();
	blf_db_destroy();
	blf_park_destroy();
	blf_alias_destroy();
	blf_viscache_destroy();
	blf_list_destroy();
	blf_dlg_destroy();
	blf_adopt_destroy();
	blf_coal_destroy();
	blf_reg_prompt_destroy();
	blf_table_destroy();
	blf_pub_destroy(); /* after the table: its count */
	blf_wc_destroy(); /* after the table: freeing subscriptions uses it */
	blf_ntx_destroy();
	blf_dtx_destroy();
	blf_delay_destroy();
	if(blf_nsubs) {
		shm_free(blf_nsubs);
		blf_nsubs = NULL;
	}
}
