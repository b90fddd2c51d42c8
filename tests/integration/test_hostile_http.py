"""Hostile or failing HTTP services (issue #9, items 5, 6(a), 6(d), 8):
what the alias and park services answer must never stall SIP, leak what a
visibility policy forbids, or grow memory without bound.

  - a silent alias service: a burst of SUBSCRIBEs to fresh URIs holds at
    most alias_wait_workers SIP workers; OPTIONS and INVITEs keep being
    answered meanwhile (item 5);
  - a policy learnt from any answer holds for every path: live
    subscriptions are downgraded or ended, a flush or a fresh start does
    not forget it (item 6(a));
  - the alias cache stays within alias_cache_size and ages out, shm comes
    back (item 8);
  - oversize answers are errors, counted (http_max_body).

Real Kamailio, real phones (sipua), the real HTTP stub (httpstub).
"""

import time

import pytest

import blfutil
import sipua
from httpstub import stub  # noqa: F401  (pytest fixture)
from httputil import (alias_of, aliases, barrier, http_params, same_key,
                      uri, wait_alias)

NEVER_MS = 120000  # a "slow" answer that never comes within a test


def stat(kam, name):
    """A counter of the blf statistics group (Kamailio's stats RPC)."""
    res = kam.rpc("stats.get_statistics", "blf:")
    for line in res if isinstance(res, list) else [res]:
        k, _, v = str(line).partition("=")
        if k.strip() == "blf:" + name:
            return int(v)
    raise AssertionError("no statistic blf:%s in %s" % (name, res))


def all_stats(kam):
    return kam.rpc("stats.get_statistics", "blf:")


def options_answered(phone, kam, n, timeout):
    """Sends n OPTIONS to the proxy one after the other; returns how many
    got their final answer within timeout each (a SipTimeout counts as
    unanswered)."""
    ok = 0
    for _ in range(n):
        try:
            r = phone.request("OPTIONS", "sip:%s:%d" % kam.addr,
                              timeout=timeout)
            ok += (r.status == 200)
        except sipua.SipTimeout:
            pass
    return ok


# -- item 5: a silent alias service -------------------------------------------
@pytest.mark.parametrize("waiters", [None, 2])
def test_silent_alias_service_does_not_stall_sip(stub, make_proxy, phones,
                                                 waiters):
    """40 SUBSCRIBEs to fresh URIs (plus their retransmissions) while the
    alias service never answers: without a bound each holds a worker for
    http_timeout (4 s), the 4 workers are gone for half a minute and an
    OPTIONS waits in the socket. With the bound, at most alias_wait_workers
    wait (default: a quarter of the workers) and the rest keep serving."""
    params = http_params(stub, http_timeout=4000)
    if waiters is not None:
        params["alias_wait_workers"] = waiters
    kam = make_proxy(**params)
    alice, bob, w = phones("alice"), phones("bob"), phones("watcher")
    stub.set_mode("slow", path="alias", delay_ms=NEVER_MS)
    subs = []
    for i in range(40):
        s = w.subscribe(uri("fresh-%d" % i), expires=60, send=False)
        w.send_request(s.build(60))
        subs.append(s)
    stub.wait_requests(1, "alias", timeout=5)
    # every OPTIONS of a bounded loop is answered within a few seconds
    got = options_answered(alice, kam, 8, timeout=2.5)
    assert got == 8, "only %d of 8 OPTIONS answered within 2.5 s while " \
        "the alias service was silent" % got
    call = alice.call("bob")
    call.wait_state("early", timeout=3.0)
    inc = bob.wait_incoming(timeout=3.0)
    inc.answer()
    call.wait_state("confirmed", timeout=3.0)
    assert call.bye(timeout=3.0).status == 200
    # the SUBSCRIBEs themselves are answered: the URI stands for itself
    for s in subs:
        tx = [t for t in w.client_txs.values()
              if t.msg.call_id == s.call_id][0]
        r = tx.wait_final(10)
        assert r.status == 200, r.first_line()
    assert stat(kam, "alias_nowait") >= 1, all_stats(kam)
    assert kam.running


def test_full_http_queue_answers_without_waiting(stub, make_proxy, phones):
    """A lookup that cannot even be queued is not waited for: with the
    service silent and alias_cache_size tiny, new URIs are neither cached
    nor asked, and their SUBSCRIBEs are answered at once."""
    kam = make_proxy(**http_params(stub, http_timeout=4000,
                                   alias_cache_size=2))
    w = phones("watcher")
    stub.set_mode("slow", path="alias", delay_ms=NEVER_MS)
    # the two records of the cache: both waiting for an answer
    for u in ("q1", "q2"):
        s = w.subscribe(uri(u), expires=60, send=False)
        w.send_request(s.build(60))
    stub.wait_requests(2, "alias", timeout=5)
    # each is answered well within http_timeout (4 s): nothing waited
    for i in range(6):
        s = w.subscribe(uri("nq-%d" % i), expires=60, timeout=3.0)
        assert s.responses[-1].status == 200, s.responses[-1].first_line()
    assert stat(kam, "alias_cache_full") >= 6, all_stats(kam)
    assert stat(kam, "alias_cache_entries") <= 2, all_stats(kam)
    assert len(aliases(kam)) <= 2
