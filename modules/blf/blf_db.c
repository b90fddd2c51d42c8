/*
 * blf_db.c — persistence of subscriptions through Kamailio's DB API.
 * (Being written: without db_url the module keeps state in memory only.)
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include "core/dprint.h"
#include "blf.h"

int blf_db_init(void)
{
	if(blf_cfg.db_url.len) {
		LM_ERR("db_url is not supported by this build yet\n");
		return -1;
	}
	return 0;
}

int blf_db_child_init(int rank)
{
	return 0;
}

void blf_db_sub_deleted(const blf_sub_t *s)
{
}

void blf_db_destroy(void)
{
}
