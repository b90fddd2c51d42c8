/*
 * blf_expiry.h — subscription durations, pure: `now` is always an argument.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_EXPIRY_H
#define BLF_EXPIRY_H

#include <time.h>

typedef struct blf_expiry_cfg {
	unsigned int min_expires;
	unsigned int max_expires;
	unsigned int default_expires;
} blf_expiry_cfg_t;

typedef enum blf_expiry_rc {
	BLF_EXPIRY_OK = 0,		  /* *granted set (0 means: unsubscribe) */
	BLF_EXPIRY_TOO_BRIEF = 1, /* 0 < requested < min: answer 423 */
} blf_expiry_rc_t;

/*
 * Grants a duration for a SUBSCRIBE. requested < 0 means "no Expires
 * header" (default_expires applies); 0 stays 0; larger than max is lowered
 * to max.
 */
blf_expiry_rc_t blf_expiry_grant(
		const blf_expiry_cfg_t *cfg, long requested, unsigned int *granted);

/* seconds left until deadline, 0 when it has passed */
unsigned int blf_expiry_left(time_t deadline, time_t now);

/* 1 when the subscription with this deadline has expired at now */
int blf_expiry_due(time_t deadline, time_t now);

/*
 * Parses an Expires header value (decimal delta-seconds, surrounding white
 * space allowed). Returns 0 and sets *out, or -1 when it is not a number or
 * is larger than 2^32-1.
 */
int blf_expiry_parse(const char *s, size_t len, long *out);

#endif
