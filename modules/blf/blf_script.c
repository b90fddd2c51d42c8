/*
 * blf_script.c — the routing-script face of the module: cfg wrappers
 * (w_blf_*) and KEMI exports (ki_blf_*), both calling one core function.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include "core/sr_module.h"
#include "core/kemi.h"
#include "core/dprint.h"

#include "core/mod_fix.h"

#include "blf.h"
#include "blf_park.h"
#include "blf_script.h"
#include "blf_publish.h"

static int ki_blf_track(struct sip_msg *msg)
{
	return blf_track(msg);
}

static int ki_blf_handle_subscribe(struct sip_msg *msg)
{
	return blf_subs_handle(msg);
}

static int ki_blf_handle_publish(struct sip_msg *msg)
{
	return blf_publish_handle(msg);
}

int w_blf_handle_publish(struct sip_msg *msg, char *p1, char *p2)
{
	return ki_blf_handle_publish(msg);
}

int w_blf_track(struct sip_msg *msg, char *p1, char *p2)
{
	return ki_blf_track(msg);
}

int w_blf_handle_subscribe(struct sip_msg *msg, char *p1, char *p2)
{
	return ki_blf_handle_subscribe(msg);
}

static int ki_blf_park_xml(struct sip_msg *msg, str *format)
{
	return blf_park_reply(msg, format);
}

int w_blf_park_xml(struct sip_msg *msg, char *fmt, char *p2)
{
	str f;

	if(fixup_get_svalue(msg, (gparam_t *)fmt, &f) < 0) {
		LM_ERR("cannot get the page format\n");
		return -1;
	}
	return ki_blf_park_xml(msg, &f);
}

/* clang-format off */
static sr_kemi_t blf_kemi_exports[] = {
	{ str_init("blf"), str_init("track"),
		SR_KEMIP_INT, ki_blf_track,
		{ SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE,
			SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE }
	},
	{ str_init("blf"), str_init("handle_subscribe"),
		SR_KEMIP_INT, ki_blf_handle_subscribe,
		{ SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE,
			SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE }
	},
	{ str_init("blf"), str_init("handle_publish"),
		SR_KEMIP_INT, ki_blf_handle_publish,
		{ SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE,
			SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE }
	},
	{ str_init("blf"), str_init("park_xml"),
		SR_KEMIP_INT, ki_blf_park_xml,
		{ SR_KEMIP_STR, SR_KEMIP_NONE, SR_KEMIP_NONE,
			SR_KEMIP_NONE, SR_KEMIP_NONE, SR_KEMIP_NONE }
	},
	{ {0, 0}, {0, 0}, 0, NULL, { 0, 0, 0, 0, 0, 0 } }
};
/* clang-format on */

int mod_register(char *path, int *dlflags, void *p1, void *p2)
{
	sr_kemi_modules_add(blf_kemi_exports);
	return 0;
}
