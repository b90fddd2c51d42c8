/* UNIT-SOURCES: blf_hcpol.c */
/*
 * test_hcpol.c — unit tests of blf_hcpol.c, the decisions of the shm HTTP
 * cache (blf_hcache.c) that the alias, visibility and list caches share:
 * finding a key in a chain (same hash, other key; a key that is a prefix
 * of another; empty keys), when a lookup asks the service (never twice at
 * once, never before the retry time after an error, again once stale),
 * how long an answer lives (max-age 0 and huge, negative values, a
 * failure), how many SIP workers may wait (hostile settings), which entry
 * makes room (never one an answer is on its way to or waited for) and
 * which the sweep drops. The table, its locks and its memory are
 * Kamailio's and covered by the integration tests.
 *
 * Copyright (C) 2026 kamailio-blf authors. GPL-2.0-or-later.
 */

#include <limits.h>
#include <string.h>

#include "tap.h"

#include "blf_hcpol.h"

static blf_hc_ent_t t_ent(const char *key, unsigned int h, int state)
{
	blf_hc_ent_t e;

	memset(&e, 0, sizeof(e));
	e.key = (char *)key;
	e.klen = (int)strlen(key);
	e.hash = h;
	e.state = (unsigned char)state;
	return e;
}

static void test_find(void)
{
	blf_hc_ent_t a = t_ent("alice@h", 7, BLF_HC_ANSWER);
	blf_hc_ent_t b = t_ent("alice@h2", 7, BLF_HC_PENDING);
	blf_hc_ent_t c = t_ent("", 0, BLF_HC_ERROR);
	/* a key with a NUL inside (the visibility cache's entity NUL watcher) */
	blf_hc_ent_t d = t_ent("x", 9, BLF_HC_ANSWER);

	d.key = "e@h\0w@h";
	d.klen = 7;
	a.next = &b;
	b.next = &c;
	c.next = &d;
	CHECK(blf_hcpol_find(&a, 7, "alice@h", 7) == &a);
	CHECK(blf_hcpol_find(&a, 7, "alice@h2", 8) == &b);
	/* a prefix of a key is another key */
	CHECK(blf_hcpol_find(&a, 7, "alice@", 6) == NULL);
	/* the hash must match too */
	CHECK(blf_hcpol_find(&a, 8, "alice@h", 7) == NULL);
	CHECK(blf_hcpol_find(&a, 0, "", 0) == &c);
	CHECK(blf_hcpol_find(&a, 9, "e@h\0w@h", 7) == &d);
	CHECK(blf_hcpol_find(&a, 9, "e@h\0w@x", 7) == NULL);
	CHECK(blf_hcpol_find(&a, 9, "e@h", 3) == NULL);
	CHECK(blf_hcpol_find(NULL, 7, "alice@h", 7) == NULL);
}

static void test_should_ask(void)
{
	blf_hc_ent_t e = t_ent("k", 1, BLF_HC_PENDING);
	time_t now = 1000;

	CHECK_INT(blf_hcpol_should_ask(NULL, now), 0);
	/* pending, nothing on its way: ask */
	CHECK_INT(blf_hcpol_should_ask(&e, now), 1);
	/* a question on its way: never a second one */
	e.queued = 1;
	CHECK_INT(blf_hcpol_should_ask(&e, now), 0);
	e.state = BLF_HC_ANSWER + 1;
	e.expires = 0;
	CHECK_INT(blf_hcpol_should_ask(&e, now), 0);
	e.queued = 0;
	/* a fresh answer: no question; stale (at expiry itself): ask */
	e.expires = now + 1;
	CHECK_INT(blf_hcpol_should_ask(&e, now), 0);
	e.expires = now;
	CHECK_INT(blf_hcpol_should_ask(&e, now), 1);
	/* an error a moment ago: not before retry_at, whatever the state */
	e.state = BLF_HC_ERROR;
	e.retry_at = now + BLF_HC_RETRY_S;
	CHECK_INT(blf_hcpol_should_ask(&e, now), 0);
	CHECK_INT(blf_hcpol_should_ask(&e, now + BLF_HC_RETRY_S - 1), 0);
	CHECK_INT(blf_hcpol_should_ask(&e, now + BLF_HC_RETRY_S), 1);
	/* a stale answer kept through an error: asked again after the retry */
	e.state = BLF_HC_ANSWER;
	e.expires = now - 100;
	CHECK_INT(blf_hcpol_should_ask(&e, now), 0);
	CHECK_INT(blf_hcpol_should_ask(&e, now + BLF_HC_RETRY_S), 1);
}

static void test_kind(void)
{
	CHECK_INT(blf_hcpol_kind(200), BLF_HCPOL_POSITIVE);
	CHECK_INT(blf_hcpol_kind(404), BLF_HCPOL_NEGATIVE);
	/* no answer, an unreadable 200, any other status: a failure, so a
	 * stale answer is kept and nothing is cached as negative */
	CHECK_INT(blf_hcpol_kind(0), BLF_HCPOL_FAILED);
	CHECK_INT(blf_hcpol_kind(-1), BLF_HCPOL_FAILED);
	CHECK_INT(blf_hcpol_kind(201), BLF_HCPOL_FAILED);
	CHECK_INT(blf_hcpol_kind(410), BLF_HCPOL_FAILED);
	CHECK_INT(blf_hcpol_kind(500), BLF_HCPOL_FAILED);
	CHECK_INT(blf_hcpol_kind(INT_MIN), BLF_HCPOL_FAILED);
	CHECK_INT(blf_hcpol_kind(INT_MAX), BLF_HCPOL_FAILED);
}

static void test_ttl(void)
{
	/* the cache's TTLs without max-age */
	CHECK_INT(blf_hcpol_ttl(BLF_HCPOL_POSITIVE, -1, 300, 60), 300);
	CHECK_INT(blf_hcpol_ttl(BLF_HCPOL_NEGATIVE, -1, 300, 60), 60);
	/* max-age overrides both, 0 included (asked again on next use) */
	CHECK_INT(blf_hcpol_ttl(BLF_HCPOL_POSITIVE, 0, 300, 60), 0);
	CHECK_INT(blf_hcpol_ttl(BLF_HCPOL_NEGATIVE, 5, 300, 60), 5);
	CHECK_INT(blf_hcpol_ttl(BLF_HCPOL_POSITIVE, INT_MAX, 300, 60), INT_MAX);
	/* any negative max-age is "none" */
	CHECK_INT(blf_hcpol_ttl(BLF_HCPOL_POSITIVE, INT_MIN, 300, 60), 300);
	/* a failure holds no answer: no TTL, max-age or not */
	CHECK_INT(blf_hcpol_ttl(BLF_HCPOL_FAILED, -1, 300, 60), 0);
	CHECK_INT(blf_hcpol_ttl(BLF_HCPOL_FAILED, 3600, 300, 60), 0);
	/* a kind out of range is a failure */
	CHECK_INT(blf_hcpol_ttl(42, 3600, 300, 60), 0);
	CHECK_INT(blf_hcpol_ttl(-1, 3600, 300, 60), 0);
}

static void test_wait_cap(void)
{
	/* the default: children/8 */
	CHECK_INT(blf_hcpol_wait_cap(0, 64), 8);
	CHECK_INT(blf_hcpol_wait_cap(-5, 64), 8);
	/* the setting, capped at children/4 */
	CHECK_INT(blf_hcpol_wait_cap(3, 64), 3);
	CHECK_INT(blf_hcpol_wait_cap(1000, 64), 16);
	CHECK_INT(blf_hcpol_wait_cap(INT_MAX, 64), 16);
	/* at least one, however few children */
	CHECK_INT(blf_hcpol_wait_cap(0, 1), 1);
	CHECK_INT(blf_hcpol_wait_cap(5, 2), 1);
	CHECK_INT(blf_hcpol_wait_cap(INT_MIN, 0), 1);
	CHECK_INT(blf_hcpol_wait_cap(0, -8), 1);
}

static void test_evict(void)
{
	blf_hc_ent_t a = t_ent("a", 1, BLF_HC_ANSWER);
	blf_hc_ent_t b = t_ent("b", 1, BLF_HC_ANSWER);
	blf_hc_ent_t c = t_ent("c", 1, BLF_HC_ANSWER);
	blf_hc_ent_t *head = &a, **pe;
	time_t now = 1000;

	a.next = &b;
	b.next = &c;
	/* a: fresh, b: stale but used a moment ago, c: stale, long unused */
	a.expires = now + 50;
	a.used = now - 500;
	b.expires = now - 10;
	b.used = now - 1;
	c.expires = now - 300;
	c.used = now - 200;
	pe = blf_hcpol_evict_pick(&head, now, 1);
	CHECK(pe && *pe == &c);
	/* c awaits its answer: b is the stale one left */
	c.queued = 1;
	pe = blf_hcpol_evict_pick(&head, now, 1);
	CHECK(pe && *pe == &b);
	/* b has a SIP worker waiting: no stale entry may go */
	b.waiting = 1;
	CHECK(blf_hcpol_evict_pick(&head, now, 1) == NULL);
	/* any entry then: the fresh one, the only one free */
	pe = blf_hcpol_evict_pick(&head, now, 0);
	CHECK(pe && *pe == &a && pe == &head);
	/* nothing free at all */
	a.queued = 1;
	CHECK(blf_hcpol_evict_pick(&head, now, 0) == NULL);
	/* the least recently useful: the older of expiry and last use */
	a.queued = b.waiting = c.queued = 0;
	a.expires = now - 1000;
	a.used = now - 5; /* used lately: useful */
	b.expires = now - 900;
	b.used = now - 900;
	c.expires = now - 10;
	c.used = now - 10;
	pe = blf_hcpol_evict_pick(&head, now, 0);
	CHECK(pe && *pe == &b && pe == &a.next);
	/* an empty chain */
	head = NULL;
	CHECK(blf_hcpol_evict_pick(&head, now, 0) == NULL);
}

static void test_idle(void)
{
	blf_hc_ent_t e = t_ent("k", 1, BLF_HC_ANSWER);
	time_t now = 1000;

	e.expires = now - 1;
	e.used = now - 60;
	CHECK_INT(blf_hcpol_idle(&e, now, 60), 1);
	CHECK_INT(blf_hcpol_idle(&e, now, 61), 0);
	/* fresh: stays whatever its use */
	e.expires = now + 1;
	CHECK_INT(blf_hcpol_idle(&e, now, 0), 0);
	e.expires = now;
	CHECK_INT(blf_hcpol_idle(&e, now, 0), 1);
	/* an answer on its way, or a worker waiting: stays */
	e.queued = 1;
	CHECK_INT(blf_hcpol_idle(&e, now, 0), 0);
	e.queued = 0;
	e.waiting = 1;
	CHECK_INT(blf_hcpol_idle(&e, now, 0), 0);
	/* a clock gone back: used "in the future" is not idle */
	e.waiting = 0;
	e.used = now + 100;
	CHECK_INT(blf_hcpol_idle(&e, now, 60), 0);
	/* wanted (subscriptions wait for an answer that failed): stays */
	e.used = now - 100;
	e.wanted = 3;
	CHECK_INT(blf_hcpol_idle(&e, now, 0), 0);
	e.wanted = 0;
	CHECK_INT(blf_hcpol_idle(&e, now, 0), 1);
}

static void test_sweep_ask(void)
{
	blf_hc_ent_t e = t_ent("k", 1, BLF_HC_ERROR);
	time_t now = 1000;

	e.retry_at = now + BLF_HC_RETRY_S;
	/* not wanted: the sweep never asks (a lookup will) */
	CHECK_INT(blf_hcpol_sweep_ask(&e, now + BLF_HC_RETRY_S), 0);
	/* wanted: not before the retry time, then once (not while queued) */
	e.wanted = 2;
	CHECK_INT(blf_hcpol_sweep_ask(&e, now), 0);
	CHECK_INT(blf_hcpol_sweep_ask(&e, now + BLF_HC_RETRY_S - 1), 0);
	CHECK_INT(blf_hcpol_sweep_ask(&e, now + BLF_HC_RETRY_S), 1);
	e.queued = 1;
	CHECK_INT(blf_hcpol_sweep_ask(&e, now + BLF_HC_RETRY_S), 0);
	e.queued = 0;
	/* an answer (a list, or not one) or a question still pending: no */
	e.state = BLF_HC_ANSWER;
	e.expires = 0;
	CHECK_INT(blf_hcpol_sweep_ask(&e, now + BLF_HC_RETRY_S), 0);
	e.state = BLF_HC_NEGATIVE;
	CHECK_INT(blf_hcpol_sweep_ask(&e, now + BLF_HC_RETRY_S), 0);
	e.state = BLF_HC_PENDING;
	CHECK_INT(blf_hcpol_sweep_ask(&e, now + BLF_HC_RETRY_S), 0);
}

int main(void)
{
	test_find();
	test_should_ask();
	test_kind();
	test_ttl();
	test_wait_cap();
	test_evict();
	test_idle();
	test_sweep_ask();
	return tap_done("test_hcpol");
}
