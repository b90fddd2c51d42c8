/*
 * blf_state.c — the RFC 4235 dialog state machine, pure.
 *
 * Turns call events (INVITE, replies, CANCEL, BYE, expiry) into the state a
 * watcher's lamp shows. It only ever moves forward, so events that arrive
 * late or twice (retransmissions, forked 1xx after a 2xx, a CANCEL racing the
 * 200) cannot make a lamp flicker back. No Kamailio header, memory or clock
 * is used: the unit tests build this file alone.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <stddef.h>

#include "blf_state.h"

static const char *const blf_state_names[] = {
		"trying", "proceeding", "early", "confirmed", "terminated"};

static const char *const blf_event_names[] = {"request", "provisional", "early",
		"answer", "failure", "cancel", "bye-local", "bye-remote", "timeout",
		"replaced", "error"};

/* the RFC 4235 <state event="..."> values; index 0 is "no event" */
static const char *const blf_term_names[] = {NULL, "cancelled", "rejected",
		"replaced", "local-bye", "remote-bye", "error", "timeout"};

#define BLF_NELEM(a) (sizeof(a) / sizeof((a)[0]))

void blf_dstate_init(blf_dstate_t *ds)
{
	if(ds == NULL)
		return;
	ds->state = BLF_STATE_TRYING;
	ds->term = BLF_TERM_NONE;
	ds->code = 0;
}

/* moves *ds to st/term/code and tells whether a watcher would see it */
static int blf_dstate_set(
		blf_dstate_t *ds, blf_state_t st, blf_term_t term, int code)
{
	if(ds->state == st && ds->term == term && ds->code == code)
		return 0;
	ds->state = st;
	ds->term = term;
	ds->code = code;
	return 1;
}

/*
 * A 1xx moves the call to `st` (proceeding or early). Within the same state a
 * new code still counts as a change (180 then 183: the body carries the
 * code), but a 1xx never moves a call back from a later state.
 */
static int blf_dstate_provisional(blf_dstate_t *ds, blf_state_t st, int code)
{
	if(ds->state > st)
		return 0;
	return blf_dstate_set(ds, st, BLF_TERM_NONE, code);
}

/* RFC 4235 3.7.1: why a final failure reply ended the call */
static blf_term_t blf_term_of_failure(int code)
{
	switch(code) {
		case 487:
			return BLF_TERM_CANCELLED;
		case 408:
			return BLF_TERM_TIMEOUT;
		default:
			return BLF_TERM_REJECTED;
	}
}

int blf_dstate_apply(blf_dstate_t *ds, blf_event_t ev, int code)
{
	if(ds == NULL)
		return 0;
	/* a terminated dialog is reported once and then dropped: nothing may
	 * revive it, not even a late 200 from another fork */
	if(ds->state == BLF_STATE_TERMINATED)
		return 0;

	switch(ev) {
		case BLF_EV_REQUEST:
			/* a new call starts as trying (blf_dstate_init); a request seen
			 * again (retransmission, or a re-INVITE for hold) changes
			 * nothing */
			return 0;

		case BLF_EV_PROVISIONAL:
			return blf_dstate_provisional(ds, BLF_STATE_PROCEEDING, code);

		case BLF_EV_EARLY:
			return blf_dstate_provisional(ds, BLF_STATE_EARLY, code);

		case BLF_EV_ANSWER:
			if(ds->state >= BLF_STATE_CONFIRMED)
				return 0;
			/* the header promises a 2xx code; anything else (0 from a
			 * caller that has no reply at hand) is shown as 200 */
			if(code < 200 || code > 299)
				code = 200;
			return blf_dstate_set(ds, BLF_STATE_CONFIRMED, BLF_TERM_NONE, code);

		case BLF_EV_FAILURE:
			/* after a 2xx a failure can only come from another fork that
			 * lost the race; the answered call goes on */
			if(ds->state >= BLF_STATE_CONFIRMED)
				return 0;
			return blf_dstate_set(
					ds, BLF_STATE_TERMINATED, blf_term_of_failure(code), code);

		case BLF_EV_CANCEL:
			/* a CANCEL crossing the 200 does not end the call: the caller
			 * must send BYE instead (RFC 3261 9.1) */
			if(ds->state >= BLF_STATE_CONFIRMED)
				return 0;
			return blf_dstate_set(
					ds, BLF_STATE_TERMINATED, BLF_TERM_CANCELLED, 487);

		case BLF_EV_BYE_LOCAL:
			return blf_dstate_set(
					ds, BLF_STATE_TERMINATED, BLF_TERM_LOCAL_BYE, 0);

		case BLF_EV_BYE_REMOTE:
			return blf_dstate_set(
					ds, BLF_STATE_TERMINATED, BLF_TERM_REMOTE_BYE, 0);

		case BLF_EV_TIMEOUT:
			return blf_dstate_set(
					ds, BLF_STATE_TERMINATED, BLF_TERM_TIMEOUT, code);

		case BLF_EV_REPLACED:
			return blf_dstate_set(
					ds, BLF_STATE_TERMINATED, BLF_TERM_REPLACED, code);

		case BLF_EV_ERROR:
			return blf_dstate_set(
					ds, BLF_STATE_TERMINATED, BLF_TERM_ERROR, code);
	}
	/* an event this version does not know: ignored, like a re-INVITE */
	return 0;
}

const char *blf_state_name(blf_state_t s)
{
	if((unsigned int)s >= BLF_NELEM(blf_state_names))
		return "unknown";
	return blf_state_names[s];
}

const char *blf_event_name(blf_event_t ev)
{
	if((unsigned int)ev >= BLF_NELEM(blf_event_names))
		return "unknown";
	return blf_event_names[ev];
}

const char *blf_term_name(blf_term_t t)
{
	if((unsigned int)t >= BLF_NELEM(blf_term_names))
		return NULL;
	return blf_term_names[t];
}
