/*
 * blf_lograte.h — one log line a second at most, per process and per
 * place: each place keeps its own `static time_t last`, so a flood of one
 * kind of input never silences the lines of another.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_LOGRATE_H
#define BLF_LOGRATE_H

#include <time.h>

/* 1 when the place whose last line went out at *last may log now */
static inline int blf_log_ok(time_t *last)
{
	time_t now = time(NULL);

	if(now == *last)
		return 0;
	*last = now;
	return 1;
}

#endif
