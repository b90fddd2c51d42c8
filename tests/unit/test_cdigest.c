/* UNIT-SOURCES: */
/*
 * test_cdigest.c — unit tests of blf_cdigest.h, the digest of an entity's
 * calls that a NOTIFY's version record carries ("cd") and a takeover's
 * replay looks up (blf_rhist.c): the same whatever the order of the calls,
 * different for every change a replica can make (a state, a reason, a
 * code, a call more or less, a direction), not fooled by where a string
 * ends, never 0 (0: not known), NULL strings taken as empty, and few
 * collisions over many states.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <stdlib.h>
#include <string.h>

#include "tap.h"

#include "blf_cdigest.h"

typedef struct
{
	const char *callid, *luri;
	unsigned int dir, state, term, code;
} t_call_t;

static unsigned int digest(const t_call_t *c, int n, const int *order)
{
	blf_cdigest_t d;
	int i;

	blf_cdigest_init(&d);
	for(i = 0; i < n; i++) {
		const t_call_t *x = &c[order ? order[i] : i];
		blf_cdigest_add(&d, x->callid, x->callid ? strlen(x->callid) : 0,
				x->luri, x->luri ? strlen(x->luri) : 0, x->dir, x->state,
				x->term, x->code);
	}
	return blf_cdigest_end(&d);
}

static const t_call_t calls[] = {
		{"a84b4c76e66710@pc33.example.com", "sip:201@pbx.example.com", 0, 1,
				0, 0},
		{"9f8e7d@10.0.0.7", "sip:201@pbx.example.com", 1, 3, 0, 180},
		{"9f8e7d@10.0.0.7", "sip:201@pbx.example.com", 0, 4, 0, 200},
		{"x", "", 1, 5, 2, 486},
};

/* a node keeps an entity's calls in its order of arrival */
static void test_order(void)
{
	static const int perm[][4] = {{0, 1, 2, 3}, {3, 2, 1, 0}, {1, 3, 0, 2},
			{2, 0, 3, 1}};
	unsigned int d0 = digest(calls, 4, NULL);
	size_t i;

	for(i = 0; i < sizeof(perm) / sizeof(perm[0]); i++)
		CHECK_INT(digest(calls, 4, perm[i]), d0);
	/* the same call twice is not the same as once */
	{
		const t_call_t two[] = {calls[0], calls[0]};
		CHECK(digest(two, 2, NULL) != digest(calls, 1, NULL));
	}
}

/* every change a replica can make is another state */
static void test_changes(void)
{
	t_call_t c[4];
	unsigned int d0, seen[16];
	int n = 0, i, j;

	memcpy(c, calls, sizeof(c));
	seen[n++] = d0 = digest(c, 4, NULL);
	c[1].state = 4; /* early -> confirmed */
	seen[n++] = digest(c, 4, NULL);
	c[1].code = 200;
	seen[n++] = digest(c, 4, NULL);
	c[1].state = 5; /* terminated */
	seen[n++] = digest(c, 4, NULL);
	c[1].term = 1; /* its reason */
	seen[n++] = digest(c, 4, NULL);
	c[0].dir = 1;
	seen[n++] = digest(c, 4, NULL);
	seen[n++] = digest(c, 3, NULL); /* a call fewer (dropped) */
	seen[n++] = digest(c, 0, NULL); /* none */
	c[2].callid = "9f8e7d@10.0.0.8";
	seen[n++] = digest(c, 4, NULL);
	c[2].luri = "sip:202@pbx.example.com";
	seen[n++] = digest(c, 4, NULL);
	for(i = 0; i < n; i++)
		for(j = i + 1; j < n; j++)
			CHECK(seen[i] != seen[j]);
	/* and back: the same state, the same digest */
	memcpy(c, calls, sizeof(c));
	CHECK_INT(digest(c, 4, NULL), d0);
}

/* where the Call-ID ends and the identity starts counts */
static void test_boundaries(void)
{
	t_call_t a = {"ab", "c", 0, 1, 0, 0}, b = {"a", "bc", 0, 1, 0, 0};
	t_call_t e = {NULL, NULL, 0, 1, 0, 0}, f = {"", "", 0, 1, 0, 0};
	blf_cdigest_t d;

	CHECK(digest(&a, 1, NULL) != digest(&b, 1, NULL));
	/* NULL strings (a field never set) are empty ones */
	CHECK_INT(digest(&e, 1, NULL), digest(&f, 1, NULL));
	/* a NULL string with a length (not trusted) reads nothing */
	blf_cdigest_init(&d);
	blf_cdigest_add(&d, NULL, 99, NULL, 99, 0, 1, 0, 0);
	CHECK_INT(blf_cdigest_end(&d), digest(&f, 1, NULL));
	/* hostile numbers: any value is hashed, nothing is indexed by it */
	blf_cdigest_init(&d);
	blf_cdigest_add(&d, "x", 1, "y", 1, 0xffffffffu, 0xffffffffu,
			0xffffffffu, 0xffffffffu);
	CHECK(blf_cdigest_end(&d) != 0);
}

/* never 0, and 100,000 distinct states give (almost) distinct digests: a
 * takeover looks one up among at most 16 copies */
static void test_spread(void)
{
	enum
	{
		N = 100000
	};
	unsigned int *d = malloc(N * sizeof(*d));
	char id[32];
	int i, same = 0, zero = 0;
	t_call_t c[2] = {{"base@h", "sip:1@h", 0, 4, 0, 200}, {id, "sip:1@h", 0, 0,
			0, 0}};

	if(!CHECK(d != NULL))
		return;
	for(i = 0; i < N; i++) {
		snprintf(id, sizeof(id), "call-%d@10.0.0.1", i / 5);
		c[1].state = (unsigned int)(i % 5) + 1;
		d[i] = digest(c, 2, NULL);
		zero += d[i] == 0;
	}
	CHECK_INT(zero, 0);
	/* neighbours (one state apart, or the next call) never collide */
	for(i = 1; i < N; i++)
		same += d[i] == d[i - 1];
	CHECK_INT(same, 0);
	free(d);
}

int main(void)
{
	test_order();
	test_changes();
	test_boundaries();
	test_spread();
	return tap_done("test_cdigest");
}
