"""SIP keeps flowing whatever the HTTP services do (SPEC "Aliases over
HTTP": "No SIP worker ever waits for HTTP when the answer is cached, and
none waits longer than http_timeout otherwise"; stale answers on error;
"a retry follows later").

The alias and park services (httpstub) are made slow (longer than
http_timeout), answer 500, answer garbage, close the connection, or are
down (connection refused). Meanwhile REGISTER and SUBSCRIBE replies and
the NOTIFYs of calls must keep coming; a SUBSCRIBE to an unknown alias is
answered within http_timeout plus a margin. Every SIP response delay is
measured and the worst printed; only a generous bound is asserted
(http_timeout + 1 s), no tight timing. When the service comes back, its
answers are used again.
"""

import pytest

import blfutil
from httpstub import stub  # noqa: F401  (pytest fixture)
from httputil import (Timer, alias_of, http_params, same_key, uri,
                      wait_alias)

TIMEOUT_MS = 1000  # http_timeout (the SPEC default)
BOUND = TIMEOUT_MS / 1000.0 + 1.0  # generous: http_timeout + 1 s
SLOW_MS = 3000  # a "slow" service answers after this: > http_timeout
TROUBLES = ["slow", "error", "garbage", "close", "down"]


def trouble(stub, mode):
    if mode == "down":
        stub.down()
    elif mode == "slow":
        stub.set_mode("slow", delay_ms=SLOW_MS)
    else:
        stub.set_mode(mode)


def heal(stub, mode):
    if mode == "down":
        stub.up()
    stub.set_mode("ok")


def sub_entity(kam, sub):
    for s in blfutil.subscriptions(kam):
        if s["callid"] == sub.call_id:
            return s["entity"]
    return None


@pytest.fixture
def kam(stub, make_proxy):
    stub.set_orbits([])
    return make_proxy(**http_params(stub, park=True, http_timeout=TIMEOUT_MS,
                                    alias_cache_ttl=1))


@pytest.mark.parametrize("mode", TROUBLES)
def test_sip_keeps_flowing(stub, kam, phones, mode):
    a7207 = uri("7207")
    stub.set_alias(a7207, uri("207"))
    alice, bob, w = phones("alice"), phones("bob"), phones("watcher")
    lamp = blfutil.watch(w, "bob")  # bob, watcher: known (404)
    for known in (uri("alice"), a7207):  # fetches: known too
        assert w.subscribe(known, expires=0).responses[-1].status == 200
    # the answer for 7207 goes stale (alias_cache_ttl=1) before the trouble
    wait_alias(kam, "7207@blf.test", lambda r: r["state"] == "alias" and
               int(r["ttl"]) == 0, 4, "7207 known and stale")

    trouble(stub, mode)
    t = Timer()
    carol = phones("carol", register=False)
    dave = phones("dave", register=False)
    for ph in (carol, dave):
        r = t.final("REGISTER " + ph.user, ph.register)
        assert r.status == 200, r.first_line()

    # a SUBSCRIBE to a known entity
    sub = t.subscribe("SUBSCRIBE alice (cached)", w, uri("alice"))
    assert sub.responses[-1].status == 200
    blfutil.Lamp(sub).pump(3)
    # a SUBSCRIBE to an unknown alias: answered within http_timeout + margin
    sub = t.subscribe("SUBSCRIBE 7500 (unknown)", w, uri("7500"))
    assert sub.responses[-1].status == 200, sub.responses[-1].first_line()
    assert same_key(sub_entity(kam, sub), "7500@blf.test"), \
        "an unanswered alias stands for itself"
    blfutil.Lamp(sub).pump(3)
    # a stale alias is still used while its refresh fails
    stale = t.subscribe("SUBSCRIBE 7207 (stale)", w, a7207)
    assert stale.responses[-1].status == 200
    assert same_key(sub_entity(kam, stale), "207@blf.test"), \
        "the stale answer for 7207 was not used: %s" % \
        blfutil.subscriptions(kam)
    # a watcher of an extension nobody asked about yet
    ld = blfutil.Lamp(t.subscribe("SUBSCRIBE dave (unknown)", w,
                                  uri("dave")))
    ld.pump(3)

    # calls: NOTIFYs keep coming
    call = alice.call("bob")
    t.first_response("INVITE alice->bob", call)
    inc = bob.wait_incoming()
    lamp.wait_state("early", call.call_id)
    inc.answer()
    lamp.wait_state("confirmed", call.call_id)
    assert t.final("BYE", call.bye).status == 200
    lamp.wait_state("terminated", call.call_id)
    call2 = carol.call("dave")
    t.first_response("INVITE carol->dave (unknown)", call2)
    dave.wait_incoming()
    ld.wait_state("early", call2.call_id)
    assert t.final("CANCEL", call2.cancel).status == 200
    ld.wait_state("terminated", call2.call_id)
    lamp.assert_versions()

    worst = t.report("HTTP %s" % mode)
    assert worst < BOUND, "a SIP answer took %.2fs with the HTTP service " \
        "%s (bound %.1fs)" % (worst, mode, BOUND)
    assert kam.running

    # recovery: alias answers are used again
    heal(stub, mode)
    a7700 = uri("7700")
    stub.set_alias(a7700, uri("700"))
    sub = w.subscribe(a7700, expires=600)
    assert sub.responses[-1].status == 200
    assert same_key(sub_entity(kam, sub), "700@blf.test"), \
        "after the service came back, the alias answer was not used: %s" % \
        blfutil.subscriptions(kam)


def test_worst_sip_delay_while_down(stub, kam, phones):
    """A mixed SIP load while the HTTP server is down: registrations,
    subscriptions to unknown aliases from unknown watchers, calls between
    unknown extensions. Prints the worst response delay."""
    w = phones("watcher")
    stub.down()
    t = Timer()
    users = ["u%02d" % i for i in range(8)]
    ph = {}
    for u in users:
        ph[u] = phones(u, register=False, invite_policy="answer")
        r = t.final("REGISTER " + u, ph[u].register)
        assert r.status == 200
    lamps = []
    for i, u in enumerate(users):
        # the watcher u is unknown too: two lookups, both refused
        sub = t.subscribe("SUBSCRIBE %s -> 75%02d" % (u, i), ph[u],
                          uri("75%02d" % i))
        assert sub.responses[-1].status == 200, sub.responses[-1].first_line()
        blfutil.Lamp(sub).pump(3)
    for u in users[:4]:
        lamps.append(blfutil.watch(w, u))
    calls = []
    for i in range(4):
        c = ph[users[i + 4]].call(users[i])
        t.first_response("INVITE %s->%s" % (users[i + 4], users[i]), c)
        calls.append(c)
    for c, lp in zip(calls, lamps):
        c.wait_state("confirmed")
        lp.wait_state("confirmed", c.call_id)
    for c, lp in zip(calls, lamps):
        assert t.final("BYE " + c.call_id[:8], c.bye).status == 200
        lp.wait_state("terminated", c.call_id)
    worst = t.report("HTTP server down")
    assert worst < BOUND, "worst SIP delay %.2fs with the HTTP server down" \
        % worst
    st = blfutil.stats(kam)
    assert int(st["http_errors"]) > 0, st


def test_unknown_alias_subscribe_bounded_by_http_timeout(stub, make_proxy,
                                                         phones):
    """A SUBSCRIBE whose watcher and target are both unknown, with the
    alias service slower than http_timeout: the SIP worker waits at most
    http_timeout in all (SPEC: "none waits longer than http_timeout"),
    here asserted with a 1 s margin over http_timeout = 2 s."""
    timeout_ms = 2000
    make_proxy(**http_params(stub, http_timeout=timeout_ms))
    stub.set_mode("slow", delay_ms=6000)
    t = Timer()
    fresh = phones("fresh")  # nobody asked about sip:fresh@ yet
    mark = stub.mark()
    sub = t.subscribe("SUBSCRIBE fresh -> 7800 (both unknown)", fresh,
                      uri("7800"))
    assert sub.responses[-1].status == 200, sub.responses[-1].first_line()
    worst = t.report("HTTP slow (%d ms > http_timeout %d ms)" % (
        6000, timeout_ms))
    asked = stub.asked("alias", since=mark)
    assert worst < timeout_ms / 1000.0 + 1.0, \
        "the SUBSCRIBE waited %.2fs for HTTP, http_timeout is %.1fs; the " \
        "stub was asked %s" % (worst, timeout_ms / 1000.0, [
            (r.uri, "+%.2fs" % (r.time - asked[0].time)) for r in asked])


def test_retry_after_error_then_alias_used(stub, kam, phones):
    """An alias asked while the service is down stands for itself; once the
    service is back a later lookup asks again (retry), the answer is used,
    and the subscription made through the URI meanwhile is deactivated so
    that the phone subscribes again to the right entity."""
    a7900 = uri("7900")
    stub.set_alias(a7900, uri("900"))
    w, alice = phones("watcher"), phones("alice")
    p900 = phones("900")
    stub.down()
    lamp = blfutil.watch(w, a7900)
    assert same_key(sub_entity(kam, lamp.sub), "7900@blf.test")
    assert alias_of(kam, "7900@blf.test")["state"] == "error"
    stub.up()

    def retried():
        # any lookup of 7900 may carry the retry; a fetch keeps nothing
        f = alice.subscribe(a7900, expires=0)
        assert f.responses[-1].status == 200
        r = alias_of(kam, "7900@blf.test")
        return r if r and r["state"] == "alias" else None
    rec = blfutil.poll(retried, 12, interval=0.5,
                       what="7900 asked again and answered after recovery")
    assert same_key(rec["entity"], "900@blf.test"), rec
    n = lamp.wait_final(5)
    assert n.reason == "deactivated", n.subscription_state
    again = blfutil.watch(w, a7900)
    assert same_key(sub_entity(kam, again.sub), "900@blf.test")
    call = alice.call("900")
    p900.wait_incoming()
    again.wait_state("early", call.call_id)
    call.cancel()
    again.wait_state("terminated", call.call_id)


def test_piled_up_slow_lookups_do_not_block_sip(stub, make_proxy,
                                                       phones):
    """Many calls to unknown numbers while the service hangs: lookups pile
    up in the HTTP process, calls and subscriptions to known entities
    stay immediate."""
    kam = make_proxy(**http_params(stub, http_timeout=TIMEOUT_MS))
    alice, bob, w = phones("alice"), phones("bob"), phones("watcher")
    lamp = blfutil.watch(w, "bob")
    assert w.subscribe(uri("alice"), expires=0).responses[-1].status == 200
    stub.set_mode("slow", delay_ms=SLOW_MS)
    t = Timer()
    for i in range(40):
        c = alice.call("88%02d" % i)  # nobody there: 404, lookup queued
        t.first_response("INVITE -> 88%02d" % i, c)
    call = alice.call("bob")
    t.first_response("INVITE alice->bob", call)
    bob.wait_incoming()
    lamp.wait_state("early", call.call_id, timeout=BOUND)
    call.cancel()
    lamp.wait_state("terminated", call.call_id)
    sub = t.subscribe("SUBSCRIBE alice (cached)", w, uri("alice"))
    assert sub.responses[-1].status == 200
    worst = t.report("40 lookups hanging")
    assert worst < BOUND
    assert kam.running
