/*
 * blf_state.h — the RFC 4235 dialog state machine, pure.
 *
 * One tracked call is seen from each of its two entities (caller and callee);
 * each side keeps a blf_dstate_t and feeds it the call's events. The machine
 * knows nothing of Kamailio, memory or time, so it is unit-tested alone.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#ifndef BLF_STATE_H
#define BLF_STATE_H

/* RFC 4235 section 3.7.1 states, in the order a call moves through them */
typedef enum blf_state {
	BLF_STATE_TRYING = 0,	/* INVITE seen, no reply */
	BLF_STATE_PROCEEDING,	/* 1xx without To tag */
	BLF_STATE_EARLY,		/* 1xx with To tag (ringing) */
	BLF_STATE_CONFIRMED,	/* 2xx */
	BLF_STATE_TERMINATED,
} blf_state_t;

/* what happened to the call */
typedef enum blf_event {
	BLF_EV_REQUEST = 0,	/* initial INVITE */
	BLF_EV_PROVISIONAL, /* 1xx without To tag */
	BLF_EV_EARLY,		/* 1xx with To tag */
	BLF_EV_ANSWER,		/* 2xx to the INVITE */
	BLF_EV_FAILURE,		/* final reply >= 300 (code tells why) */
	BLF_EV_CANCEL,		/* CANCEL from the caller */
	BLF_EV_BYE_LOCAL,	/* BYE sent by this entity */
	BLF_EV_BYE_REMOTE,	/* BYE sent by the peer */
	BLF_EV_TIMEOUT,		/* the dialog expired without BYE */
	BLF_EV_REPLACED,	/* replaced by INVITE with Replaces */
	BLF_EV_ERROR,		/* any other end */
} blf_event_t;

/* RFC 4235 <state event="..."> values of a terminated dialog */
typedef enum blf_term {
	BLF_TERM_NONE = 0,
	BLF_TERM_CANCELLED,
	BLF_TERM_REJECTED,
	BLF_TERM_REPLACED,
	BLF_TERM_LOCAL_BYE,
	BLF_TERM_REMOTE_BYE,
	BLF_TERM_ERROR,
	BLF_TERM_TIMEOUT,
} blf_term_t;

typedef struct blf_dstate {
	blf_state_t state;
	blf_term_t term; /* set once state is TERMINATED */
	int code;		 /* last SIP code that moved the state, 0 if none */
} blf_dstate_t;

/* initial state of a new call: trying, no code */
void blf_dstate_init(blf_dstate_t *ds);

/*
 * Applies ev (with its SIP reply code, 0 when there is none) to *ds.
 * Returns 1 when what watchers see changed (state, event or code), 0 when the
 * event is ignored: a state never moves backwards (a late 180 after the 200,
 * a 1xx after early), nothing changes a terminated dialog, and a re-INVITE is
 * not an event at all (hold/unhold leaves the state alone).
 * Mapping of BLF_EV_FAILURE codes: 487 -> cancelled, 408 -> timeout,
 * any other -> rejected. CANCEL -> cancelled (code 487).
 */
int blf_dstate_apply(blf_dstate_t *ds, blf_event_t ev, int code);

const char *blf_state_name(blf_state_t s);
const char *blf_event_name(blf_event_t ev);
/* NULL for BLF_TERM_NONE */
const char *blf_term_name(blf_term_t t);

#endif
