/* UNIT-SOURCES: blf_state.c */
/*
 * test_state.c — unit tests of blf_state.c: every transition of the dialog
 * state machine, the ignored ones included, and the names.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include "tap.h"

#include "blf_state.h"

#define NEV (BLF_EV_ERROR + 1)

/* a state as a watcher would see it */
static blf_dstate_t mk(blf_state_t st, blf_term_t term, int code)
{
	blf_dstate_t ds;

	ds.state = st;
	ds.term = term;
	ds.code = code;
	return ds;
}

static int same(const blf_dstate_t *a, const blf_dstate_t *b)
{
	return a->state == b->state && a->term == b->term && a->code == b->code;
}

#define CHECK_DS(ds, st, tm, cd)     \
	do {                             \
		CHECK_INT((ds).state, (st)); \
		CHECK_INT((ds).term, (tm));  \
		CHECK_INT((ds).code, (cd));  \
	} while(0)

/* applies ev/code to `from`, checks the return value and the result */
#define CHECK_STEP(from, ev, code, rc, st, tm, cd)      \
	do {                                                \
		blf_dstate_t s_ = (from);                       \
		CHECK_INT(blf_dstate_apply(&s_, ev, code), rc); \
		CHECK_DS(s_, st, tm, cd);                       \
	} while(0)

static void test_init(void)
{
	blf_dstate_t ds = mk(BLF_STATE_TERMINATED, BLF_TERM_ERROR, 500);

	blf_dstate_init(&ds);
	CHECK_DS(ds, BLF_STATE_TRYING, BLF_TERM_NONE, 0);
	blf_dstate_init(NULL); /* must not crash */
	CHECK_INT(blf_dstate_apply(NULL, BLF_EV_ANSWER, 200), 0);
}

static void test_request(void)
{
	blf_dstate_t t = mk(BLF_STATE_TRYING, BLF_TERM_NONE, 0);

	/* fresh call: already trying, nothing to tell */
	CHECK_STEP(t, BLF_EV_REQUEST, 0, 0, BLF_STATE_TRYING, BLF_TERM_NONE, 0);
	/* a re-INVITE (hold/unhold) leaves an answered call alone */
	CHECK_STEP(mk(BLF_STATE_CONFIRMED, BLF_TERM_NONE, 200), BLF_EV_REQUEST, 0,
			0, BLF_STATE_CONFIRMED, BLF_TERM_NONE, 200);
	CHECK_STEP(mk(BLF_STATE_EARLY, BLF_TERM_NONE, 180), BLF_EV_REQUEST, 0, 0,
			BLF_STATE_EARLY, BLF_TERM_NONE, 180);
}

static void test_provisional(void)
{
	blf_dstate_t t = mk(BLF_STATE_TRYING, BLF_TERM_NONE, 0);
	blf_dstate_t p = mk(BLF_STATE_PROCEEDING, BLF_TERM_NONE, 100);

	CHECK_STEP(t, BLF_EV_PROVISIONAL, 100, 1, BLF_STATE_PROCEEDING,
			BLF_TERM_NONE, 100);
	/* retransmitted 100: nothing new */
	CHECK_STEP(p, BLF_EV_PROVISIONAL, 100, 0, BLF_STATE_PROCEEDING,
			BLF_TERM_NONE, 100);
	/* another code while proceeding is shown (same rule as early) */
	CHECK_STEP(p, BLF_EV_PROVISIONAL, 181, 1, BLF_STATE_PROCEEDING,
			BLF_TERM_NONE, 181);
	/* a 1xx without tag after ringing or answer never moves back */
	CHECK_STEP(mk(BLF_STATE_EARLY, BLF_TERM_NONE, 180), BLF_EV_PROVISIONAL, 100,
			0, BLF_STATE_EARLY, BLF_TERM_NONE, 180);
	CHECK_STEP(mk(BLF_STATE_CONFIRMED, BLF_TERM_NONE, 200), BLF_EV_PROVISIONAL,
			183, 0, BLF_STATE_CONFIRMED, BLF_TERM_NONE, 200);
}

static void test_early(void)
{
	blf_dstate_t t = mk(BLF_STATE_TRYING, BLF_TERM_NONE, 0);
	blf_dstate_t p = mk(BLF_STATE_PROCEEDING, BLF_TERM_NONE, 100);
	blf_dstate_t e = mk(BLF_STATE_EARLY, BLF_TERM_NONE, 180);

	CHECK_STEP(t, BLF_EV_EARLY, 180, 1, BLF_STATE_EARLY, BLF_TERM_NONE, 180);
	CHECK_STEP(p, BLF_EV_EARLY, 183, 1, BLF_STATE_EARLY, BLF_TERM_NONE, 183);
	/* 180 again (forked or retransmitted): no change */
	CHECK_STEP(e, BLF_EV_EARLY, 180, 0, BLF_STATE_EARLY, BLF_TERM_NONE, 180);
	/* 183 after 180: the code changed, watchers see it */
	CHECK_STEP(e, BLF_EV_EARLY, 183, 1, BLF_STATE_EARLY, BLF_TERM_NONE, 183);
	/* a late 180 after the 200 */
	CHECK_STEP(mk(BLF_STATE_CONFIRMED, BLF_TERM_NONE, 200), BLF_EV_EARLY, 180,
			0, BLF_STATE_CONFIRMED, BLF_TERM_NONE, 200);
}

static void test_answer(void)
{
	blf_state_t from[] = {
			BLF_STATE_TRYING, BLF_STATE_PROCEEDING, BLF_STATE_EARLY};
	unsigned int i;

	for(i = 0; i < sizeof(from) / sizeof(from[0]); i++)
		CHECK_STEP(mk(from[i], BLF_TERM_NONE, 0), BLF_EV_ANSWER, 200, 1,
				BLF_STATE_CONFIRMED, BLF_TERM_NONE, 200);
	/* a 2xx other than 200 keeps its code; no code at all shows 200 */
	CHECK_STEP(mk(BLF_STATE_EARLY, BLF_TERM_NONE, 180), BLF_EV_ANSWER, 202, 1,
			BLF_STATE_CONFIRMED, BLF_TERM_NONE, 202);
	CHECK_STEP(mk(BLF_STATE_EARLY, BLF_TERM_NONE, 180), BLF_EV_ANSWER, 0, 1,
			BLF_STATE_CONFIRMED, BLF_TERM_NONE, 200);
	/* a second 200 (another fork, retransmission) */
	CHECK_STEP(mk(BLF_STATE_CONFIRMED, BLF_TERM_NONE, 200), BLF_EV_ANSWER, 200,
			0, BLF_STATE_CONFIRMED, BLF_TERM_NONE, 200);
}

static void test_failure(void)
{
	blf_dstate_t e = mk(BLF_STATE_EARLY, BLF_TERM_NONE, 180);
	blf_dstate_t c = mk(BLF_STATE_CONFIRMED, BLF_TERM_NONE, 200);

	CHECK_STEP(e, BLF_EV_FAILURE, 487, 1, BLF_STATE_TERMINATED,
			BLF_TERM_CANCELLED, 487);
	CHECK_STEP(e, BLF_EV_FAILURE, 408, 1, BLF_STATE_TERMINATED,
			BLF_TERM_TIMEOUT, 408);
	CHECK_STEP(e, BLF_EV_FAILURE, 486, 1, BLF_STATE_TERMINATED,
			BLF_TERM_REJECTED, 486);
	CHECK_STEP(e, BLF_EV_FAILURE, 603, 1, BLF_STATE_TERMINATED,
			BLF_TERM_REJECTED, 603);
	CHECK_STEP(e, BLF_EV_FAILURE, 302, 1, BLF_STATE_TERMINATED,
			BLF_TERM_REJECTED, 302);
	CHECK_STEP(mk(BLF_STATE_TRYING, BLF_TERM_NONE, 0), BLF_EV_FAILURE, 404, 1,
			BLF_STATE_TERMINATED, BLF_TERM_REJECTED, 404);
	CHECK_STEP(mk(BLF_STATE_PROCEEDING, BLF_TERM_NONE, 100), BLF_EV_FAILURE,
			500, 1, BLF_STATE_TERMINATED, BLF_TERM_REJECTED, 500);
	/* a failure after the answer comes from a losing fork: ignored */
	CHECK_STEP(
			c, BLF_EV_FAILURE, 487, 0, BLF_STATE_CONFIRMED, BLF_TERM_NONE, 200);
	CHECK_STEP(
			c, BLF_EV_FAILURE, 486, 0, BLF_STATE_CONFIRMED, BLF_TERM_NONE, 200);
}

static void test_cancel(void)
{
	CHECK_STEP(mk(BLF_STATE_TRYING, BLF_TERM_NONE, 0), BLF_EV_CANCEL, 0, 1,
			BLF_STATE_TERMINATED, BLF_TERM_CANCELLED, 487);
	CHECK_STEP(mk(BLF_STATE_EARLY, BLF_TERM_NONE, 180), BLF_EV_CANCEL, 0, 1,
			BLF_STATE_TERMINATED, BLF_TERM_CANCELLED, 487);
	/* CANCEL crossing the 200 does not end the call */
	CHECK_STEP(mk(BLF_STATE_CONFIRMED, BLF_TERM_NONE, 200), BLF_EV_CANCEL, 0, 0,
			BLF_STATE_CONFIRMED, BLF_TERM_NONE, 200);
}

static void test_ends(void)
{
	blf_dstate_t c = mk(BLF_STATE_CONFIRMED, BLF_TERM_NONE, 200);

	CHECK_STEP(c, BLF_EV_BYE_LOCAL, 0, 1, BLF_STATE_TERMINATED,
			BLF_TERM_LOCAL_BYE, 0);
	CHECK_STEP(c, BLF_EV_BYE_REMOTE, 0, 1, BLF_STATE_TERMINATED,
			BLF_TERM_REMOTE_BYE, 0);
	/* a BYE carries no reply code, whatever the caller passed */
	CHECK_STEP(c, BLF_EV_BYE_REMOTE, 200, 1, BLF_STATE_TERMINATED,
			BLF_TERM_REMOTE_BYE, 0);
	CHECK_STEP(
			c, BLF_EV_TIMEOUT, 0, 1, BLF_STATE_TERMINATED, BLF_TERM_TIMEOUT, 0);
	CHECK_STEP(c, BLF_EV_REPLACED, 0, 1, BLF_STATE_TERMINATED,
			BLF_TERM_REPLACED, 0);
	CHECK_STEP(c, BLF_EV_ERROR, 0, 1, BLF_STATE_TERMINATED, BLF_TERM_ERROR, 0);
	/* the UAC may BYE an early dialog (RFC 3261 15) */
	CHECK_STEP(mk(BLF_STATE_EARLY, BLF_TERM_NONE, 180), BLF_EV_BYE_LOCAL, 0, 1,
			BLF_STATE_TERMINATED, BLF_TERM_LOCAL_BYE, 0);
	CHECK_STEP(mk(BLF_STATE_TRYING, BLF_TERM_NONE, 0), BLF_EV_ERROR, 500, 1,
			BLF_STATE_TERMINATED, BLF_TERM_ERROR, 500);
	CHECK_STEP(mk(BLF_STATE_EARLY, BLF_TERM_NONE, 180), BLF_EV_TIMEOUT, 0, 1,
			BLF_STATE_TERMINATED, BLF_TERM_TIMEOUT, 0);
	CHECK_STEP(mk(BLF_STATE_EARLY, BLF_TERM_NONE, 180), BLF_EV_REPLACED, 0, 1,
			BLF_STATE_TERMINATED, BLF_TERM_REPLACED, 0);
}

/* nothing changes a terminated dialog, whatever it ended with */
static void test_terminated_is_final(void)
{
	int ev, term, ok = 1;
	blf_dstate_t before, ds;

	for(term = BLF_TERM_NONE; term <= BLF_TERM_TIMEOUT; term++) {
		for(ev = 0; ev < NEV; ev++) {
			before = mk(BLF_STATE_TERMINATED, (blf_term_t)term, 487);
			ds = before;
			if(blf_dstate_apply(&ds, (blf_event_t)ev, 200) != 0
					|| !same(&ds, &before)) {
				printf("     terminated/%d changed by %s\n", term,
						blf_event_name((blf_event_t)ev));
				ok = 0;
			}
		}
	}
	CHECK(ok);
}

/*
 * Every state, event and code: the state never moves backwards, and the
 * return value is 1 exactly when what watchers see changed.
 */
static void test_invariants(void)
{
	static const int codes[] = {0, 100, 180, 183, 200, 202, 408, 486, 487};
	int st, ev, c0, c;
	int monotonic = 1, honest = 1;
	blf_dstate_t before, ds;
	int rc;

	for(st = BLF_STATE_TRYING; st <= BLF_STATE_TERMINATED; st++)
		for(c0 = 0; c0 < 9; c0++)
			for(ev = 0; ev < NEV; ev++)
				for(c = 0; c < 9; c++) {
					before = mk((blf_state_t)st,
							st == BLF_STATE_TERMINATED ? BLF_TERM_REJECTED
													   : BLF_TERM_NONE,
							codes[c0]);
					ds = before;
					rc = blf_dstate_apply(&ds, (blf_event_t)ev, codes[c]);
					if(ds.state < before.state)
						monotonic = 0;
					if(rc != !same(&ds, &before))
						honest = 0;
					if(ds.state == BLF_STATE_TERMINATED
							&& ds.term == BLF_TERM_NONE)
						honest = 0;
				}
	CHECK(monotonic);
	CHECK(honest);
}

/* one whole call, with the late and duplicate events real networks send */
static void test_call(void)
{
	blf_dstate_t ds;

	blf_dstate_init(&ds);
	CHECK_INT(blf_dstate_apply(&ds, BLF_EV_REQUEST, 0), 0);
	CHECK_INT(blf_dstate_apply(&ds, BLF_EV_PROVISIONAL, 100), 1);
	CHECK_INT(blf_dstate_apply(&ds, BLF_EV_EARLY, 180), 1);
	CHECK_INT(blf_dstate_apply(&ds, BLF_EV_EARLY, 180), 0);
	CHECK_INT(blf_dstate_apply(&ds, BLF_EV_PROVISIONAL, 100), 0);
	CHECK_INT(blf_dstate_apply(&ds, BLF_EV_ANSWER, 200), 1);
	CHECK_INT(blf_dstate_apply(&ds, BLF_EV_EARLY, 180), 0);
	CHECK_INT(blf_dstate_apply(&ds, BLF_EV_CANCEL, 0), 0);
	CHECK_INT(blf_dstate_apply(&ds, BLF_EV_FAILURE, 487), 0);
	CHECK_INT(blf_dstate_apply(&ds, BLF_EV_REQUEST, 0), 0); /* hold */
	CHECK_DS(ds, BLF_STATE_CONFIRMED, BLF_TERM_NONE, 200);
	CHECK_INT(blf_dstate_apply(&ds, BLF_EV_BYE_REMOTE, 0), 1);
	CHECK_INT(blf_dstate_apply(&ds, BLF_EV_BYE_LOCAL, 0), 0);
	CHECK_INT(blf_dstate_apply(&ds, BLF_EV_TIMEOUT, 0), 0);
	CHECK_DS(ds, BLF_STATE_TERMINATED, BLF_TERM_REMOTE_BYE, 0);
}

static void test_unknown_event(void)
{
	blf_dstate_t ds = mk(BLF_STATE_EARLY, BLF_TERM_NONE, 180);

	CHECK_INT(blf_dstate_apply(&ds, (blf_event_t)99, 200), 0);
	CHECK_INT(blf_dstate_apply(&ds, (blf_event_t)-1, 200), 0);
	CHECK_DS(ds, BLF_STATE_EARLY, BLF_TERM_NONE, 180);
}

static void test_names(void)
{
	CHECK_STR(blf_state_name(BLF_STATE_TRYING), "trying");
	CHECK_STR(blf_state_name(BLF_STATE_PROCEEDING), "proceeding");
	CHECK_STR(blf_state_name(BLF_STATE_EARLY), "early");
	CHECK_STR(blf_state_name(BLF_STATE_CONFIRMED), "confirmed");
	CHECK_STR(blf_state_name(BLF_STATE_TERMINATED), "terminated");
	CHECK_STR(blf_state_name((blf_state_t)42), "unknown");
	CHECK_STR(blf_state_name((blf_state_t)-1), "unknown");

	CHECK_STR(blf_event_name(BLF_EV_REQUEST), "request");
	CHECK_STR(blf_event_name(BLF_EV_PROVISIONAL), "provisional");
	CHECK_STR(blf_event_name(BLF_EV_EARLY), "early");
	CHECK_STR(blf_event_name(BLF_EV_ANSWER), "answer");
	CHECK_STR(blf_event_name(BLF_EV_FAILURE), "failure");
	CHECK_STR(blf_event_name(BLF_EV_CANCEL), "cancel");
	CHECK_STR(blf_event_name(BLF_EV_BYE_LOCAL), "bye-local");
	CHECK_STR(blf_event_name(BLF_EV_BYE_REMOTE), "bye-remote");
	CHECK_STR(blf_event_name(BLF_EV_TIMEOUT), "timeout");
	CHECK_STR(blf_event_name(BLF_EV_REPLACED), "replaced");
	CHECK_STR(blf_event_name(BLF_EV_ERROR), "error");
	CHECK_STR(blf_event_name((blf_event_t)NEV), "unknown");

	/* exactly the RFC 4235 schema's enumeration */
	CHECK_STR(blf_term_name(BLF_TERM_NONE), NULL);
	CHECK_STR(blf_term_name(BLF_TERM_CANCELLED), "cancelled");
	CHECK_STR(blf_term_name(BLF_TERM_REJECTED), "rejected");
	CHECK_STR(blf_term_name(BLF_TERM_REPLACED), "replaced");
	CHECK_STR(blf_term_name(BLF_TERM_LOCAL_BYE), "local-bye");
	CHECK_STR(blf_term_name(BLF_TERM_REMOTE_BYE), "remote-bye");
	CHECK_STR(blf_term_name(BLF_TERM_ERROR), "error");
	CHECK_STR(blf_term_name(BLF_TERM_TIMEOUT), "timeout");
	CHECK_STR(blf_term_name((blf_term_t)99), NULL);
}

int main(void)
{
	test_init();
	test_request();
	test_provisional();
	test_early();
	test_answer();
	test_failure();
	test_cancel();
	test_ends();
	test_terminated_is_final();
	test_invariants();
	test_call();
	test_unknown_event();
	test_names();
	return tap_done("test_state");
}
