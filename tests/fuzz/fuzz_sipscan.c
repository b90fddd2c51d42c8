/* FUZZ-SOURCES: blf_sipscan.c blf_sipcheck.c */
/*
 * fuzz_sipscan.c — libFuzzer harness of blf_sipscan.c: the input is a
 * datagram. Invariants: no read outside it (an exact-size copy, ASan), and
 * on success every field points inside it, the code is 100..699, the
 * branch is not empty; the same bytes read as the rest of a SUBSCRIBE's
 * headers (blf_sipscan_req_rest): every field it returns inside them.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "blf_sipscan.h"

static int inside(const char *b, size_t n, const char *p, int len)
{
	return p != NULL && len >= 0 && p >= b && p + len <= b + n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	blf_sipscan_t o;
	char *buf;

	if(size > 70000)
		return 0;
	buf = malloc(size ? size : 1);
	if(buf == NULL)
		return 0;
	memcpy(buf, data, size);
	if(blf_sipscan_reply(buf, (int)size, &o) == 0) {
		if(o.code < 100 || o.code > 699 || o.branch_len <= 0
				|| !inside(buf, size, o.branch, o.branch_len)
				|| !inside(buf, size, o.callid, o.callid_len)
				|| !inside(buf, size, o.ftag, o.ftag_len)
				|| !inside(buf, size, o.ttag, o.ttag_len))
			abort();
	}
	/* the same bytes as the rest of a SUBSCRIBE's headers */
	{
		blf_reqscan_t q;
		int i;

		if(blf_sipscan_req_rest(buf, buf + size, &q) == 0) {
			if((q.event && !inside(buf, size, q.event, q.event_len))
					|| (q.expires
							&& !inside(buf, size, q.expires, q.expires_len))
					|| (q.contact
							&& !inside(buf, size, q.contact, q.contact_len))
					|| q.naccept < 0 || q.naccept > BLF_SCAN_ACCEPT_MAX)
				abort();
			for(i = 0; i < q.naccept; i++)
				if(!inside(buf, size, q.accept[i], q.accept_len[i]))
					abort();
		}
	}
	free(buf);
	return 0;
}
