"""Aliases over HTTP (SPEC "Aliases over HTTP", "Entities", "NOTIFY",
RPC blf.aliases / blf.flush_aliases / blf.stats), against a real HTTP
server (httpstub) answering GET alias_url?uri=...

A subscription to an alias watches its entity (the entity attribute stays
the alias as asked); a call to or from an alias lights its entity, also
when the call started before the alias answer arrived; answers are cached
(alias_cache_ttl or Cache-Control: max-age; 404 for alias_negative_ttl);
the answer's visibility is the policy of the canonical entity.
"""

import pytest

import blfutil
from httpstub import stub  # noqa: F401  (pytest fixture)
from httputil import (alias_of, aliases, barrier, http_params, same_key,
                      uri, wait_alias)

A7207, E207 = uri("7207"), uri("207")


def fetch(phone, target):
    """A SUBSCRIBE with Expires: 0 (RFC 6665 fetch): resolves target (the
    SUBSCRIBE waits for the alias answer at most http_timeout) and keeps
    nothing; returns the final response."""
    sub = phone.subscribe(target, expires=0)
    return sub.responses[-1]


def entity_calls(kam, key):
    return [d for e in blfutil.entities(kam, key)
            for d in blfutil.records(e.get("dialogs"), "callid")]


@pytest.fixture
def kam(stub, make_proxy):
    return make_proxy(**http_params(stub))


# -- subscribing to an alias ------------------------------------------------
def test_subscribe_to_alias_watches_its_entity(stub, kam, phones):
    stub.set_alias(A7207, E207)
    a, p207, w = phones("alice"), phones("207"), phones("watcher")
    lamp = blfutil.watch(w, A7207)  # checks entity == the alias as asked
    subs = blfutil.subscriptions(kam)
    assert len(subs) == 1 and same_key(subs[0]["entity"], "207@blf.test"), \
        "the subscription to the alias should be on its entity: %s" % subs
    call = a.call("207")
    inc = p207.wait_incoming()
    d = lamp.wait_state("early", call.call_id)
    assert d.direction == "recipient"
    inc.answer()
    lamp.wait_state("confirmed", call.call_id)
    assert call.bye().status == 200
    lamp.wait_state("terminated", call.call_id)
    for _, info in lamp.seen:
        assert info.entity == A7207, info.raw
    lamp.assert_versions()
    assert stub.count("alias", A7207) == 1


def test_call_to_alias_lights_its_entity(stub, kam, phones):
    stub.set_alias(A7207, E207)
    a, p7207, w = phones("alice"), phones("7207"), phones("watcher")
    lamp = blfutil.watch(w, E207)
    assert fetch(w, A7207).status == 200
    wait_alias(kam, "7207@blf.test", lambda r: r["state"] == "alias")
    call = a.call("7207")
    inc = p7207.wait_incoming()
    d = lamp.wait_state("early", call.call_id)
    assert d.direction == "recipient", d
    assert sorted(x["callid"] for x in entity_calls(kam, E207)) == \
        [call.call_id]
    assert entity_calls(kam, A7207) == [], \
        "the call stays on the alias instead of its entity"
    inc.answer()
    lamp.wait_state("confirmed", call.call_id)
    call.bye()
    lamp.wait_state("terminated", call.call_id)
    lamp.assert_versions()


def test_call_from_alias_lights_its_entity(stub, kam, phones):
    stub.set_alias(A7207, E207)
    p7207, b, w = phones("7207"), phones("bob"), phones("watcher")
    lamp = blfutil.watch(w, E207)
    assert fetch(w, A7207).status == 200
    wait_alias(kam, "7207@blf.test", lambda r: r["state"] == "alias")
    call = p7207.call("bob")
    inc = b.wait_incoming()
    d = lamp.wait_state("early", call.call_id)
    assert d.direction == "initiator", d
    assert d.local_tag == call.local_tag
    inc.answer()
    lamp.wait_state("confirmed", call.call_id)
    call.bye()
    lamp.wait_state("terminated", call.call_id)
    assert entity_calls(kam, A7207) == []


@pytest.mark.parametrize("side", ["callee", "caller"])
def test_call_before_alias_known_lights_once_answer_arrives(
        stub, make_proxy, phones, side):
    """A call never waits for the alias service: it starts on the URI as
    dialled and moves to the alias's entity when the answer arrives (the
    stub answers this alias slowly, within http_timeout)."""
    kam = make_proxy(**http_params(stub, http_timeout=4000))
    a, p7207, w = phones("alice"), phones("7207"), phones("watcher")
    lamp = blfutil.watch(w, E207)
    # alice is known before the alias is set up slow
    assert fetch(w, uri("alice")).status == 200
    stub.set_alias(A7207, E207, delay_ms=1500)
    mark = stub.mark()
    if side == "callee":
        call, callee = a.call("7207"), p7207
    else:
        call, callee = p7207.call("alice"), a
    inc = callee.wait_incoming(timeout=1.0)
    call.wait_state("early", timeout=1.0)
    asked = stub.wait_requests(1, "alias", A7207, since=mark)
    assert asked[0].answer == "", \
        "the alias was answered before the call rang: test scene broken"
    rec = alias_of(kam, "7207@blf.test")
    assert rec is not None and rec["state"] == "pending", rec
    d = lamp.wait_state("early", call.call_id, timeout=5.0)
    assert d.direction == ("recipient" if side == "callee" else
                           "initiator"), d
    assert stub.asked("alias", A7207)[0].answer == "200"
    blfutil.poll(lambda: entity_calls(kam, A7207) == [], 3,
                 what="no call left on the alias after the answer")
    inc.answer()
    lamp.wait_state("confirmed", call.call_id)
    call.bye()
    lamp.wait_state("terminated", call.call_id)
    lamp.assert_versions()
    blfutil.poll(lambda: not entity_calls(kam, E207), 3,
                 what="the call dropped from the entity after the BYE")


# -- cache ------------------------------------------------------------------
def test_positive_answer_cached_for_ttl(stub, kam, phones):
    stub.set_alias(A7207, E207)
    w = phones("watcher")
    assert fetch(w, A7207).status == 200
    rec = wait_alias(kam, "7207@blf.test", lambda r: r["state"] == "alias")
    assert 290 <= int(rec["ttl"]) <= 300, rec  # alias_cache_ttl default
    hits = int(blfutil.stats(kam)["cache_hits"])
    for _ in range(3):
        assert fetch(w, A7207).status == 200
    barrier(stub, w)
    assert stub.count("alias", A7207) == 1, \
        "a cached alias was asked again: %s" % stub.asked("alias", A7207)
    assert int(blfutil.stats(kam)["cache_hits"]) >= hits + 3


def test_ttl_expiry_and_max_age(stub, make_proxy, phones):
    """alias_cache_ttl=1: an answer without Cache-Control is asked again
    once it is 1 s old; one with max-age=600 stays cached."""
    kam = make_proxy(**http_params(stub, alias_cache_ttl=1))
    a7208 = uri("7208")
    stub.set_alias(A7207, E207)
    stub.set_alias(a7208, uri("208"), max_age=600)
    w = phones("watcher")
    assert fetch(w, A7207).status == 200
    assert fetch(w, a7208).status == 200
    r8 = wait_alias(kam, "7208@blf.test", lambda r: r["state"] == "alias")
    assert int(r8["ttl"]) >= 590, "max-age=600 not used: %s" % r8
    wait_alias(kam, "7207@blf.test", lambda r: int(r["ttl"]) == 0, 4,
               "the 1 s TTL of 7207 running out")
    mark = stub.mark()
    assert fetch(w, A7207).status == 200
    assert fetch(w, a7208).status == 200
    barrier(stub, w)
    assert stub.count("alias", A7207, since=mark) == 1, \
        "an expired answer was not asked again"
    assert stub.count("alias", a7208) == 1, \
        "max-age=600 overrides alias_cache_ttl=1, yet it was asked again"


def test_short_max_age_overrides_ttl(stub, kam, phones):
    stub.set_alias(A7207, E207, max_age=1)
    w = phones("watcher")
    assert fetch(w, A7207).status == 200
    rec = wait_alias(kam, "7207@blf.test", lambda r: r["state"] == "alias")
    assert int(rec["ttl"]) <= 1, "max-age=1 not used: %s" % rec
    wait_alias(kam, "7207@blf.test", lambda r: int(r["ttl"]) == 0, 4)
    assert fetch(w, A7207).status == 200
    stub.wait_requests(2, "alias", A7207)


def test_negative_answer_cached(stub, make_proxy, phones):
    kam = make_proxy(**http_params(stub, alias_negative_ttl=2))
    u555 = uri("555")
    w = phones("watcher")
    for _ in range(3):
        assert fetch(w, u555).status == 200
    barrier(stub, w)
    assert stub.count("alias", u555) == 1, \
        "a 404 was asked again within alias_negative_ttl: %s" % \
        stub.asked("alias", u555)
    rec = alias_of(kam, "555@blf.test")
    assert rec["state"] == "not-alias" and int(rec["ttl"]) <= 2, rec
    wait_alias(kam, "555@blf.test", lambda r: int(r["ttl"]) == 0, 5)
    assert fetch(w, u555).status == 200
    stub.wait_requests(2, "alias", u555)


# -- RPC ----------------------------------------------------------------------
def test_rpc_aliases_states_and_flush(stub, make_proxy, phones):
    kam = make_proxy(**http_params(stub, http_timeout=3000))
    u555, u666, u777 = uri("555"), uri("666"), uri("777")
    stub.set_alias(A7207, E207, visibility="state")
    stub.fail_alias(u666, 500)
    stub.set_alias(u777, uri("277"), delay_ms=1500)
    a, w = phones("alice"), phones("watcher")
    assert fetch(w, A7207).status == 200
    assert fetch(w, u555).status == 200
    assert fetch(w, u666).status == 200
    a.call("777")  # no one there: 404, but the lookup is queued
    r = wait_alias(kam, "777@blf.test", lambda r: r["state"] == "pending", 2)
    r = alias_of(kam, "7207@blf.test")
    assert {"uri", "state", "entity", "visibility", "ttl"} <= set(r), r
    assert r["state"] == "alias" and same_key(r["entity"], "207@blf.test")
    assert r["visibility"] == "state"
    assert 0 < int(r["ttl"]) <= 300
    r = alias_of(kam, "555@blf.test")
    assert r["state"] == "not-alias" and 0 < int(r["ttl"]) <= 60, r
    r = alias_of(kam, "666@blf.test")
    assert r["state"] == "error", r
    wait_alias(kam, "777@blf.test", lambda r: r["state"] == "alias", 4)
    # the operator's view
    out = kam.kamcmd("blf.aliases")
    assert "7207@blf.test" in out and "not-alias" in out, out
    st = blfutil.stats(kam)
    assert int(st["http_errors"]) >= 1, st
    assert int(st["cache_misses"]) >= 4, st

    before = stub.count("alias", A7207)
    res = kam.rpc("blf.flush_aliases")
    assert res is not None
    # answers go; what is left holds only the policy 7207's answer gave 207
    left = aliases(kam)
    assert [(a["uri"], a["state"], a["visibility"]) for a in left] == \
        [("207@blf.test", "policy", "state")], \
        "cache not empty after flush: %s" % left
    assert fetch(w, A7207).status == 200
    stub.wait_requests(before + 1, "alias", A7207)
    wait_alias(kam, "7207@blf.test", lambda r: r["state"] == "alias")


def test_stats_count_http_requests(stub, kam, phones):
    w = phones("watcher")
    stub.set_alias(A7207, E207)
    assert fetch(w, A7207).status == 200
    assert fetch(w, uri("555")).status == 200
    barrier(stub, w)
    st = blfutil.stats(kam)
    assert int(st["http_requests"]) == stub.count(), \
        "http_requests %s, the stub saw %d" % (st["http_requests"],
                                               stub.count())
    assert int(st["http_errors"]) == 0, st


# -- visibility from the answer ------------------------------------------------
def test_visibility_none_only_the_entity_itself(stub, kam, phones):
    a7300, e300 = uri("7300"), uri("300")
    stub.set_alias(a7300, e300, visibility="none")
    w, p300, p7300 = phones("watcher"), phones("300"), phones("7300")
    sub = w.subscribe(a7300)
    assert sub.responses[-1].status == 403, sub.responses[-1].first_line()
    assert not blfutil.subscriptions(kam)
    lamp = blfutil.watch(p300, a7300)
    # the watcher is its From URI alias-resolved: 7300 is 300 too
    lamp2 = blfutil.watch(p7300, a7300)
    a = phones("alice")
    call = a.call("300")
    p300.wait_incoming()
    for lp in (lamp, lamp2):
        d = lp.wait_state("early", call.call_id)
        assert d.call_id == call.call_id  # the entity itself sees all
    call.cancel()


def test_visibility_none_holds_for_every_watcher_of_the_entity(
        stub, kam, phones):
    """SPEC: the answer's visibility is "the policy of that canonical
    entity, for all its watchers": once the service said sip:300 is
    "none", a watcher subscribing to sip:300 itself (not through the
    alias) is refused too. The service answers for 300 as for any URI
    (here: 404, not an alias)."""
    a7300, e300 = uri("7300"), uri("300")
    stub.set_alias(a7300, e300, visibility="none")
    w, p300 = phones("watcher"), phones("300")
    blfutil.watch(p300, a7300)  # the entity itself: allowed
    wait_alias(kam, "7300@blf.test", lambda r: r["visibility"] == "none")
    sub = w.subscribe(e300)
    assert sub.responses[-1].status == 403, \
        "a watcher of sip:300 directly was let in although 300's policy " \
        "is none: %s" % sub.responses[-1].first_line()


def test_visibility_state_hides_dialog_details(stub, kam, phones):
    a7400 = uri("7400")
    stub.set_alias(a7400, uri("400"), visibility="state")
    w, p400 = phones("watcher"), phones("400", invite_policy="answer")
    a = phones("alice", display="Alice Anders")
    lamp = blfutil.watch(w, a7400)
    own = blfutil.watch(p400, a7400)
    call = a.call("400").wait_state("confirmed")
    lamp.wait_state("confirmed")
    own.wait_state("confirmed", call.call_id)
    call.bye()
    lamp.wait(lambda i: not i.dialogs or all(
        d.state == "terminated" for d in i.dialogs), 5, "the call over")
    own.wait_state("terminated", call.call_id)
    bodies = [i for _, i in lamp.seen if i is not None and i.dialogs]
    assert bodies, "no NOTIFY with the call"
    for info in bodies:
        assert call.call_id not in info.raw, info.raw
        assert "alice" not in info.raw.lower(), info.raw
        for d in info.dialogs:
            assert d.call_id is None and d.local_tag is None and \
                d.remote_tag is None, "visibility state: %s" % info.raw
            assert d.remote is None or (not d.remote.identity and
                                        not d.remote.target), info.raw
    d = own.dialogs(call.call_id)[0]
    assert d.remote is not None and d.remote.identity, \
        "the entity itself should see everything"


# -- an alias changing its meaning ---------------------------------------------
def test_changed_alias_deactivates_its_subscriptions(stub, make_proxy,
                                                     phones):
    kam = make_proxy(**http_params(stub, alias_cache_ttl=1))
    stub.set_alias(A7207, E207)
    w, w2 = phones("watcher"), phones("w2")
    lamp = blfutil.watch(w, A7207)
    direct = blfutil.watch(w2, E207)
    stub.set_alias(A7207, uri("208"))
    wait_alias(kam, "7207@blf.test", lambda r: int(r["ttl"]) == 0, 4)
    assert fetch(w2, A7207).status == 200  # uses the stale answer, asks
    n = lamp.wait_final(5)
    assert n.reason == "deactivated", n.subscription_state
    wait_alias(kam, "7207@blf.test",
               lambda r: same_key(r["entity"], "208@blf.test"))
    subs = blfutil.subscriptions(kam)
    assert [s for s in subs if same_key(s["entity"], "207@blf.test")] and \
        len(subs) == 1, "only the direct subscription to 207 stays: %s" % subs
    assert not direct.sub.pending() or all(
        n.state == "active" for n in direct.sub.pending())
    again = blfutil.watch(w, A7207)
    subs = blfutil.subscriptions(kam, "208@blf.test")
    assert [s["callid"] for s in subs] == [again.sub.call_id], subs
