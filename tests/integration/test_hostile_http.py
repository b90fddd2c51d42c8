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
@pytest.mark.parametrize("waiters", [None, 1, 4])
def test_silent_alias_service_does_not_stall_sip(stub, make_proxy, phones,
                                                 waiters):
    """40 SUBSCRIBEs to fresh URIs (plus their retransmissions) while the
    alias service never answers: without a bound each holds a worker for
    http_timeout (4 s), the 4 workers are gone for half a minute and an
    OPTIONS waits in the socket. With the bound, at most alias_wait_workers
    wait (default children/8, at most children/4 whatever it is set to,
    at least 1), plus one retransmission beside each, and the rest keep
    serving."""
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


def test_full_alias_cache_answers_without_waiting(stub, make_proxy, phones):
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


def test_lookup_never_queued_is_not_waited_for(stub, make_proxy, phones):
    """Calls to 1,150 unknown numbers while the alias service is silent
    fill the HTTP process's queue (64 in flight + 1,024 waiting; calls
    never wait themselves). A SUBSCRIBE to yet another unknown URI then
    finds no room to ask: it must be answered at once, not after
    http_timeout (20 s here) spent waiting for a question never asked."""
    kam = make_proxy(**http_params(stub, http_timeout=20000))
    alice, w = phones("alice"), phones("watcher")
    assert fetch(w, uri("alice")).status == 200  # watcher, alice: known
    stub.set_mode("slow", path="alias", delay_ms=NEVER_MS)
    calls = [alice.call("q%d" % i) for i in range(1150)]
    for c in calls:
        c.wait_response(404, timeout=10)
    stub.wait_requests(8, "alias", timeout=10)  # 8 connections at once
    sub = w.subscribe(uri("probe"), expires=60, timeout=3.0)
    assert sub.responses[-1].status == 200, sub.responses[-1].first_line()
    assert stat(kam, "alias_nowait") >= 1, all_stats(kam)
    assert kam.running


# -- item 6(a): a policy holds by every path ----------------------------------
A7300, E300 = uri("7300"), uri("300")


def fetch(phone, target):
    return phone.subscribe(target, expires=0).responses[-1]


def assert_no_call_details(info, call_id):
    assert call_id not in info.raw, info.raw
    for d in info.dialogs:
        assert d.call_id is None and d.local_tag is None and \
            d.remote_tag is None, info.raw
        assert d.remote is None or (not d.remote.identity and
                                    not d.remote.target), info.raw


def test_none_learnt_later_ends_live_subscriptions(stub, make_proxy, phones):
    """A watcher subscribed to sip:300 while nothing was known of 300's
    policy; then an answer about the alias 7300 says 300 is `none`: the
    watcher's subscription ends at once (terminated;reason=rejected, no
    call in the final NOTIFY), 300's own subscription stays and sees all,
    and a new watcher is refused."""
    kam = make_proxy(**http_params(stub))
    w, p300, alice = phones("watcher"), phones("300"), phones("alice")
    lamp = blfutil.watch(w, E300)
    own = blfutil.watch(p300, E300)
    call = alice.call("300")
    p300.wait_incoming()
    d = lamp.wait_state("early", call.call_id)
    assert d.call_id == call.call_id  # full: the default visibility
    stub.set_alias(A7300, E300, visibility="none")
    # anyone's lookup teaches it (alice's own fetch is refused: not 300)
    assert fetch(alice, A7300).status == 403
    n = lamp.wait_final(5)
    assert n.reason == "rejected", n.subscription_state
    assert call.call_id not in n.body, n.body
    assert not [s for s in blfutil.subscriptions(kam)
                if s["callid"] == lamp.sub.call_id]
    call.cancel()
    own.wait_state("terminated", call.call_id)
    assert own.sub.state == "active" and all(
        x.state == "active" for x, _ in own.seen)
    r = w.subscribe(E300).responses[-1]
    assert r.status == 403, r.first_line()
    assert kam.running


def test_stricter_policy_downgrades_live_subscriptions(stub, make_proxy,
                                                       phones):
    """full -> state while a watcher is subscribed: from its next NOTIFY
    on, no call-id, tags or identities."""
    kam = make_proxy(**http_params(stub, alias_cache_ttl=1))
    a7400, e400 = uri("7400"), uri("400")
    stub.set_alias(a7400, e400, visibility="full")
    w, p400 = phones("watcher"), phones("400")
    alice = phones("alice", display="Alice Anders")
    lamp = blfutil.watch(w, a7400)
    stub.set_alias(a7400, e400, visibility="state")
    wait_alias(kam, "7400@blf.test", lambda r: int(r["ttl"]) == 0, 4)
    mark = stub.mark()
    assert fetch(alice, a7400).status == 200  # stale: used, asked again
    stub.wait_requests(1, "alias", a7400, since=mark)
    wait_alias(kam, "400@blf.test", lambda r: r["visibility"] == "state")
    call = alice.call("400")
    p400.wait_incoming()
    lamp.wait(lambda i: i.dialogs and i.dialogs[0].state == "early", 5,
              "the call ringing")
    call.cancel()
    lamp.wait(lambda i: not i.dialogs or all(
        d.state == "terminated" for d in i.dialogs), 5, "the call over")
    seen = [i for _, i in lamp.seen if i is not None and i.dialogs]
    assert seen
    for info in seen:
        assert_no_call_details(info, call.call_id)
        assert "alice" not in info.raw.lower(), info.raw
    assert lamp.sub.state == "active"


def test_policy_survives_a_flush(stub, make_proxy, phones):
    kam = make_proxy(**http_params(stub))
    stub.set_alias(A7300, E300, visibility="none")
    w = phones("watcher")
    assert fetch(w, A7300).status == 403
    wait_alias(kam, "300@blf.test", lambda r: r["visibility"] == "none")
    kam.rpc("blf.flush_aliases")
    r = w.subscribe(E300).responses[-1]
    assert r.status == 403, "after blf.flush_aliases a watcher of 300 got " \
        "%s although its policy is none" % r.first_line()
    r = w.subscribe(A7300).responses[-1]
    assert r.status == 403, r.first_line()


def test_policy_of_the_entity_itself_after_a_restart(stub, make_proxy,
                                                     phones):
    """A fresh Kamailio (nothing cached, as after a restart): the first
    SUBSCRIBE to sip:300 asks the service about 300 itself, whose answer
    (404, not an alias, with {"visibility":"none"}) gives its policy;
    only 300 may watch itself."""
    stub.set_policy(E300, "none")
    kam = make_proxy(**http_params(stub))
    w, p300 = phones("watcher"), phones("300")
    r = w.subscribe(E300).responses[-1]
    assert r.status == 403, r.first_line()
    blfutil.watch(p300, E300)
    rec = alias_of(kam, "300@blf.test")
    assert rec["state"] == "not-alias" and rec["visibility"] == "none", rec


# -- item 8: the alias cache is bounded ---------------------------------------
def shm_used(kam):
    return int(kam.rpc("core.shmmem")["real_used"])


def test_alias_cache_stays_within_its_size(stub, make_proxy, phones):
    """400 distinct callers (each SUBSCRIBE looks its From URI and its
    target up) with alias_cache_size=50: the cache never holds more than
    50 records, evictions are counted, the aliases still resolve, and
    once the answers are past their TTL and idle (alias_negative_ttl=1,
    alias_cache_idle=1) the HTTP process's pass drops them: shm returns to
    its level."""
    kam = make_proxy(**http_params(stub, alias_cache_size=50,
                                   alias_negative_ttl=1, alias_cache_ttl=1,
                                   alias_cache_idle=1))
    stub.set_alias(A7300, E300, max_age=600)
    w = phones("watcher")
    assert fetch(w, A7300).status == 200
    wait_alias(kam, "7300@blf.test", lambda r: r["state"] == "alias")
    blfutil.poll(lambda: stat(kam, "alias_cache_entries") <= 2, 10,
                 what="the warm-up records aged out")
    base = shm_used(kam)
    peak = 0
    for i in range(400):
        caller = uri("caller%d" % i)
        r = w.subscribe(uri("x%d" % i), expires=0, from_uri=caller)
        assert r.responses[-1].status == 200
        if i % 40 == 0:
            peak = max(peak, stat(kam, "alias_cache_entries"))
    peak = max(peak, stat(kam, "alias_cache_entries"))
    assert 0 < peak <= 50, "alias cache held %d records" % peak
    assert stat(kam, "alias_cache_evictions") > 0, all_stats(kam)
    # a sparse small cache still finds a record to evict every time
    assert stat(kam, "alias_cache_full") == 0, all_stats(kam)
    # 7300 was evicted in the churn or not: either way still right
    fetch(w, A7300)
    wait_alias(kam, "7300@blf.test", lambda r: r["state"] == "alias")
    sub = w.subscribe(A7300, expires=60)
    assert sub.responses[-1].status == 200
    assert [s for s in blfutil.subscriptions(kam, "300@blf.test")
            if s["callid"] == sub.call_id], blfutil.subscriptions(kam)
    sub.unsubscribe()
    blfutil.poll(lambda: stat(kam, "alias_cache_entries") <= 2, 10,
                 what="idle records aged out by the HTTP process")
    blfutil.poll(lambda: shm_used(kam) <= base + 16384, 10,
                 what="shm back to its level (%d)" % base)


def test_oversize_answer_is_an_error(stub, make_proxy, phones):
    kam = make_proxy(**http_params(stub, http_max_body=4096))
    stub.set_huge(200000, "alias")
    w = phones("watcher")
    sub = w.subscribe(uri("7777"), expires=60)
    assert sub.responses[-1].status == 200
    blfutil.poll(lambda: stat(kam, "http_oversize") >= 1, 5,
                 what="the oversize answer counted")
    rec = wait_alias(kam, "7777@blf.test", lambda r: r["state"] == "error")
    assert rec["entity"] == "", rec
    assert same_key(blfutil.subscriptions(kam)[0]["entity"],
                    "7777@blf.test")
    assert kam.running


# -- hostile answers (blf_json.c) ------------------------------------------------
def test_hostile_park_entries_are_skipped(stub, make_proxy):
    """Orbit names become SIP URIs and numbers a phone dials: one with an
    '@', a space, a control character or 80 characters is skipped, as is
    an entry with a control character in any string; the good ones
    stay."""
    stub.set_orbits([
        {"orbit": "701", "call_id": "ok1@127.0.0.1", "parked": uri("211")},
        {"orbit": "7@evil.example", "call_id": "x@127.0.0.1"},
        {"orbit": "7 02"},
        {"orbit": "703\r\nX-Injected: 1"},
        {"orbit": "7" * 80},
        {"orbit": "704", "call_id": "bad\u0001id"},
        {"orbit": "705", "parked": "sip:a@b\nVia: x"},
        {"orbit": "*8#+._-"},
    ])
    kam = make_proxy(**http_params(stub, alias=False, park=True))
    got = blfutil.poll(lambda: (lambda p: p if p else None)(
        sorted(str(o["orbit"]) for o in
               blfutil.records(kam.rpc("blf.parks"), "orbit"))), 5,
        what="the park list fetched")
    assert got == ["*8#+._-", "701"], got
    assert kam.running
