/* FUZZ-SOURCES: blf_state.c */
/*
 * fuzz_state.c — the RFC 4235 dialog state machine (blf_state.c) driven by
 * any sequence of events, as retransmissions, forks, races of CANCEL and
 * 200, late replicas and unknown event numbers produce them. Each step is
 * three bytes: the event (any value, most of them unknown) and a SIP code
 * (any 16-bit value).
 *
 * Checked after every step: the state never moves back; a terminated
 * dialog never changes again; the return value says exactly whether state,
 * event or code changed; a terminated dialog has a termination reason and
 * any other none; a confirmed one has a 2xx code; every name function
 * answers (NULL only for "no termination reason").
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include "fuzz.h"

#include "blf_state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fz_in_t in = {data, size};
	blf_dstate_t ds, before;
	blf_event_t ev;
	unsigned int b;
	int code, rc;

	blf_dstate_init(&ds);
	FZ_CHECK(ds.state == BLF_STATE_TRYING && ds.term == BLF_TERM_NONE
			 && ds.code == 0);
	blf_dstate_init(NULL);
	while(in.n > 0) {
		b = fz_u8(&in);
		/* mostly the known events, sometimes anything */
		ev = (b & 0x80) ? (blf_event_t)(int)(signed char)b
						: (blf_event_t)(b % 11);
		code = (int)fz_u16(&in) - (b & 0x40 ? 1000 : 0);
		before = ds;
		rc = blf_dstate_apply(&ds, ev, code);
		FZ_CHECK(rc == 0 || rc == 1);
		FZ_CHECK(rc
				 == (before.state != ds.state || before.term != ds.term
						 || before.code != ds.code));
		FZ_CHECK(ds.state >= before.state);
		FZ_CHECK(ds.state <= BLF_STATE_TERMINATED);
		if(before.state == BLF_STATE_TERMINATED)
			FZ_CHECK(rc == 0);
		FZ_CHECK((ds.state == BLF_STATE_TERMINATED)
				 == (ds.term != BLF_TERM_NONE));
		FZ_CHECK(ds.term <= BLF_TERM_TIMEOUT);
		if(ds.state == BLF_STATE_CONFIRMED)
			FZ_CHECK(ds.code >= 200 && ds.code <= 299);
		FZ_CHECK(blf_state_name(ds.state) != NULL);
		FZ_CHECK(blf_event_name(ev) != NULL);
		FZ_CHECK(blf_term_name(ds.term) != NULL
				 || ds.term == BLF_TERM_NONE);
		FZ_CHECK(blf_dstate_apply(NULL, ev, code) == 0);
	}
	FZ_CHECK(blf_state_name((blf_state_t)(int)size) != NULL);
	(void)blf_term_name((blf_term_t)(int)size);
	return 0;
}
