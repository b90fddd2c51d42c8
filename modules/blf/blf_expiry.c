/*
 * blf_expiry.c — subscription durations, pure: `now` is always an argument.
 *
 * Grants the Expires of a SUBSCRIBE within the configured bounds (RFC 6665
 * 4.2.1.1), parses the header value and does the deadline arithmetic of the
 * expiry timer. Time comes in as a parameter so tests can move it at will.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <assert.h>
#include <limits.h>
#include <stddef.h>

#include "blf_expiry.h"

/* RFC 3261 25.1 delta-seconds: 1*DIGIT, at most 2^32-1 here */
#define BLF_EXPIRY_MAX 4294967295UL

blf_expiry_rc_t blf_expiry_grant(
		const blf_expiry_cfg_t *cfg, long requested, unsigned int *granted)
{
	assert(cfg != NULL && granted != NULL);

	if(requested < 0) {
		/* no Expires header; an operator who set default above max
		 * still gets max, as a watcher asking for it would */
		*granted = cfg->default_expires;
		if(*granted > cfg->max_expires)
			*granted = cfg->max_expires;
		return BLF_EXPIRY_OK;
	}
	if(requested == 0) {
		*granted = 0;
		return BLF_EXPIRY_OK;
	}
	if((unsigned long)requested < cfg->min_expires) {
		/* the caller answers 423 with this as Min-Expires */
		*granted = cfg->min_expires;
		return BLF_EXPIRY_TOO_BRIEF;
	}
	if((unsigned long)requested > cfg->max_expires) {
		*granted = cfg->max_expires;
		return BLF_EXPIRY_OK;
	}
	*granted = (unsigned int)requested;
	return BLF_EXPIRY_OK;
}

unsigned int blf_expiry_left(time_t deadline, time_t now)
{
	if(deadline <= now)
		return 0;
	/* time_t may be wider than unsigned int; a far deadline saturates
	 * rather than wrapping to a small number */
	if((unsigned long long)(deadline - now) > UINT_MAX)
		return UINT_MAX;
	return (unsigned int)(deadline - now);
}

int blf_expiry_due(time_t deadline, time_t now)
{
	/* at the deadline itself the granted time is used up */
	return now >= deadline;
}

static int blf_expiry_is_ws(char c)
{
	/* header values reach us with folding and line ends not always cut */
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

int blf_expiry_parse(const char *s, size_t len, long *out)
{
	size_t i = 0, end = len;
	unsigned long v = 0;

	if(s == NULL || out == NULL)
		return -1;
	while(i < end && blf_expiry_is_ws(s[i]))
		i++;
	while(end > i && blf_expiry_is_ws(s[end - 1]))
		end--;
	if(i == end)
		return -1;
	for(; i < end; i++) {
		if(s[i] < '0' || s[i] > '9')
			return -1;
		/* checked before the multiply so v never exceeds 2^32-1, which
		 * fits an unsigned long and, on LP64, a long */
		if(v > (BLF_EXPIRY_MAX - (unsigned long)(s[i] - '0')) / 10)
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if(v > (unsigned long)LONG_MAX)
		return -1; /* only on a 32-bit long */
	*out = (long)v;
	return 0;
}
