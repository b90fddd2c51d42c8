/* UNIT-SOURCES: blf_vis.c */
/*
 * test_vis.c — unit tests of blf_vis.c, the visibility decision: which
 * input wins (per-watcher answer over the entity's policy over the global
 * parameter), the wildcard ceiling, the entity watching itself, and inputs
 * out of range (a corrupt row, a value from a newer peer) that must never
 * show more. Exhaustive over every combination of the valid inputs against
 * a table of the rules written out separately.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <limits.h>

#include "tap.h"

#include "blf_vis.h"

#define F BLF_VIS_FULL
#define S BLF_VIS_STATE
#define N BLF_VIS_NONE
#define U BLF_VIS_UNSET

static void test_precedence(void)
{
	/* global only */
	CHECK_INT(blf_vis_decide(F, U, U, U, 0), F);
	CHECK_INT(blf_vis_decide(S, U, U, U, 0), S);
	CHECK_INT(blf_vis_decide(N, U, U, U, 0), N);
	/* the entity's policy replaces the global one, both ways */
	CHECK_INT(blf_vis_decide(F, N, U, U, 0), N);
	CHECK_INT(blf_vis_decide(N, F, U, U, 0), F);
	CHECK_INT(blf_vis_decide(S, F, U, U, 0), F);
	/* a per-watcher answer replaces both (innovaphone-style sharing: the
	 * entity's colleague sees all, others what the entity allows) */
	CHECK_INT(blf_vis_decide(N, N, F, U, 0), F);
	CHECK_INT(blf_vis_decide(F, F, N, U, 0), N);
	CHECK_INT(blf_vis_decide(F, S, S, U, 0), S);
	CHECK_INT(blf_vis_decide(N, U, S, U, 0), S);
}

static void test_self_and_cap(void)
{
	/* the entity itself: always full, whatever the rest says */
	CHECK_INT(blf_vis_decide(N, N, N, N, 1), F);
	CHECK_INT(blf_vis_decide(N, 99, -7, 3, 1), F);
	/* a wildcard never sees more than it was granted */
	CHECK_INT(blf_vis_decide(F, U, U, S, 0), S);
	CHECK_INT(blf_vis_decide(F, F, U, S, 0), S);
	CHECK_INT(blf_vis_decide(F, U, F, N, 0), N);
	/* ... nor less than its member allows, if it was granted more */
	CHECK_INT(blf_vis_decide(F, S, U, F, 0), S);
	CHECK_INT(blf_vis_decide(F, N, U, F, 0), N);
}

static void test_hostile(void)
{
	static const int bad[] = {3, 4, 127, 255, -2, -128, INT_MAX, INT_MIN};
	unsigned int i;

	for(i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* out of range anywhere reads as none, never as more */
		CHECK_INT(blf_vis_decide(F, bad[i], U, U, 0), N);
		CHECK_INT(blf_vis_decide(F, F, bad[i], U, 0), N);
		CHECK_INT(blf_vis_decide(F, F, F, bad[i], 0), N);
		CHECK_INT(blf_vis_decide((blf_vis_t)bad[i], U, U, U, 0), N);
		/* a valid, more specific input still decides over a bad less
		 * specific one */
		CHECK_INT(blf_vis_decide((blf_vis_t)bad[i], S, U, U, 0), S);
		CHECK_INT(blf_vis_decide(F, bad[i], F, U, 0), F);
	}
	/* a global left unset: refuse */
	CHECK_INT(blf_vis_decide((blf_vis_t)U, U, U, U, 0), N);
}

/* every valid combination against the rules spelt out another way */
static void test_exhaustive(void)
{
	int g, e, w, c, self, want, base, ok = 1, n = 0;

	for(g = F; g <= N; g++)
		for(e = U; e <= N; e++)
			for(w = U; w <= N; w++)
				for(c = U; c <= N; c++)
					for(self = 0; self <= 1; self++) {
						base = w != U ? w : e != U ? e : g;
						want = self ? F : (c != U && c > base ? c : base);
						ok &= (int)blf_vis_decide((blf_vis_t)g, e, w, c, self)
							  == want;
						n++;
					}
	CHECK(ok);
	CHECK_INT(n, 3 * 4 * 4 * 4 * 2);
}

int main(void)
{
	test_precedence();
	test_self_and_cap();
	test_hostile();
	test_exhaustive();
	return tap_done("test_vis");
}
