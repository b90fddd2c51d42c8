/*
 * blf_ul.c — registrations, first-party: usrloc's contact callbacks
 * (insert, update, delete, expire) feed the entities' contacts
 * (blf_entity_reg.c), which presence (open/closed) and reg show.
 *
 * Bound in mod_init when usrloc is loaded (before blf.so); then blf_ul_on
 * is 1 and `reg` is served. dmq_usrloc applies other nodes' contacts
 * through the same usrloc API, so the same callbacks fire for them: every
 * node of a cluster sees every registration.
 *
 * The callbacks run in SIP workers (REGISTER) and in usrloc's timer
 * (expiry), under usrloc's record lock: the contact's fields are copied to
 * the stack and handed to the table, which takes one slot lock and calls
 * nothing of usrloc, so no lock-order inversion is possible.
 *
 * Contacts registered before this process started (usrloc db_mode with a
 * preloaded table) fire no callback and usrloc's API cannot list them with
 * their AOR: they show at their first refresh (a re-REGISTER), see README.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <string.h>
#include <time.h>

#include "core/sr_module.h"
#include "core/dprint.h"
#include "core/name_alias.h"
#include "core/qvalue.h"
#include "modules/usrloc/usrloc.h"

#include "blf.h"
#include "blf_table.h"

static usrloc_api_t blf_ul;
static str blf_ul_dom = STR_NULL; /* domain of AORs without one */

/* the entity key (user@host) of usrloc's AOR aor; 0, or -1 */
static int blf_ul_key(const str *aor, char *buf, int size, str *key)
{
	char ubuf[BLF_KEY_MAX + 16];
	str uri;
	int n;

	if(aor == NULL || aor->s == NULL || aor->len <= 0)
		return -1;
	if(memchr(aor->s, '@', aor->len))
		n = snprintf(ubuf, sizeof(ubuf), "sip:%.*s", aor->len, aor->s);
	else if(blf_ul_dom.len > 0)
		n = snprintf(ubuf, sizeof(ubuf), "sip:%.*s@%.*s", aor->len, aor->s,
				blf_ul_dom.len, blf_ul_dom.s);
	else
		return -1;
	if(n <= 0 || n >= (int)sizeof(ubuf))
		return -1;
	uri.s = ubuf;
	uri.len = n;
	return blf_key_from_uri(&uri, buf, size, key);
}

static void blf_ul_cb(ucontact_t *c, int type, void *param)
{
	char kbuf[BLF_KEY_MAX + 1];
	blf_ct_upd_t u;
	blf_ct_op_t op;
	unsigned int qlen = 0;
	str key;

	if(c == NULL || c->aor == NULL)
		return;
	if(type & UL_CONTACT_INSERT)
		op = BLF_CT_INSERT;
	else if(type & UL_CONTACT_UPDATE)
		op = BLF_CT_UPDATE;
	else if(type & UL_CONTACT_DELETE)
		op = BLF_CT_DELETE;
	else if(type & UL_CONTACT_EXPIRE)
		op = BLF_CT_EXPIRE;
	else
		return;
	if(blf_ul_key(c->aor, kbuf, sizeof(kbuf), &key) < 0) {
		LM_DBG("AOR [%.*s]: no entity (no domain: see ul_domain)\n",
				c->aor->len, c->aor->s);
		return;
	}
	memset(&u, 0, sizeof(u));
	u.ruid = c->ruid;
	if(u.ruid.len <= 0)
		u.ruid = c->c; /* no ruid (old data): the contact URI is the key */
	u.uri = c->c;
	u.callid = c->callid;
	u.cseq = c->cseq > 0 ? (unsigned int)c->cseq : 0;
	u.expires = c->expires;
	if(c->q != Q_UNSPECIFIED) {
		u.q.s = q2str(c->q, &qlen);
		u.q.len = (int)qlen;
	}
	/* cut what would not fit an entity's bounded record */
	if(u.uri.len > BLF_KEY_MAX * 4 || u.callid.len > 512
			|| u.ruid.len > 256) {
		LM_NOTICE("contact of %.*s too long: not tracked\n", key.len, key.s);
		return;
	}
	blf_entity_contact(&key, op, &u);
}

int blf_ul_init(void)
{
	bind_usrloc_t bind;

	blf_ul_on = 0;
	if(!module_loaded("usrloc")) {
		LM_INFO("usrloc not loaded: every entity counts as registered, "
				"reg not served\n");
		return 0;
	}
	bind = (bind_usrloc_t)find_export("ul_bind_usrloc", 1, 0);
	if(bind == NULL || bind(&blf_ul) < 0) {
		LM_ERR("cannot bind usrloc: load usrloc.so before blf.so\n");
		return -1;
	}
	if(blf_ul.register_ulcb(UL_CONTACT_INSERT | UL_CONTACT_UPDATE
									| UL_CONTACT_DELETE | UL_CONTACT_EXPIRE,
			   blf_ul_cb, NULL)
			< 0) {
		LM_ERR("cannot register the usrloc callbacks\n");
		return -1;
	}
	if(blf_cfg.ul_domain.len > 0)
		blf_ul_dom = blf_cfg.ul_domain;
	else if(aliases)
		blf_ul_dom = aliases->alias; /* the first `alias` */
	if(!blf_ul.use_domain && blf_ul_dom.len == 0)
		LM_WARN("usrloc use_domain is 0 and neither ul_domain nor an "
				"alias is set: registrations cannot be matched to "
				"entities\n");
	else if(!blf_ul.use_domain)
		LM_INFO("usrloc AORs without a domain belong to %.*s\n",
				blf_ul_dom.len, blf_ul_dom.s);
	blf_ul_on = 1;
	return 0;
}
