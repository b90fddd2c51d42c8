/*
 * tap.h — the smallest test harness that does the job: CHECK macros that
 * count passes and failures, print each failure with its line, and a summary
 * line per binary ("NAME: P passed, F failed") that run.sh adds up.
 *
 * Header-only (static functions) so each test is one .c file plus the module
 * sources it covers, built with plain cc.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_TAP_H
#define BLF_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_passed;
static int tap_failed;

static int tap_check(int ok, const char *what, const char *file, int line)
{
	if(ok) {
		tap_passed++;
		return 1;
	}
	tap_failed++;
	printf("FAIL %s:%d: %s\n", file, line, what);
	return 0;
}

#define CHECK(cond) tap_check(!!(cond), #cond, __FILE__, __LINE__)

/* integers: both values are printed on failure */
#define CHECK_INT(got, want)                                                 \
	do {                                                                     \
		long long tap_g_ = (long long)(got), tap_w_ = (long long)(want);     \
		if(!tap_check(                                                       \
				   tap_g_ == tap_w_, #got " == " #want, __FILE__, __LINE__)) \
			printf("     got %lld, want %lld\n", tap_g_, tap_w_);            \
	} while(0)

/* NUL-terminated strings; NULL equals only NULL */
#define CHECK_STR(got, want)                                                 \
	do {                                                                     \
		const char *tap_g_ = (got), *tap_w_ = (want);                        \
		int tap_ok_ = (tap_g_ == NULL || tap_w_ == NULL)                     \
							  ? tap_g_ == tap_w_                             \
							  : strcmp(tap_g_, tap_w_) == 0;                 \
		if(!tap_check(tap_ok_, #got " == " #want, __FILE__, __LINE__))       \
			printf("     got  [%s]\n     want [%s]\n",                       \
					tap_g_ ? tap_g_ : "(null)", tap_w_ ? tap_w_ : "(null)"); \
	} while(0)

/* prints the summary line and gives main()'s exit status */
static int tap_done(const char *name)
{
	printf("%s: %d passed, %d failed\n", name, tap_passed, tap_failed);
	fflush(stdout);
	return tap_failed ? 1 : 0;
}

#endif
