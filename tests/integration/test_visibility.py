"""Per-watcher visibility over HTTP (SPEC "Per-watcher visibility over
HTTP", issue 12 item 3), against a real HTTP server (httpstub) answering
GET visibility_url?entity=..&watcher=.. with {"visibility": ...} or 404.

What a watcher sees is decided per (entity, watcher): the service's rule,
else (404) the entity's policy from its alias answer, else the global
`visibility`. `state` shows no call-id, tag or identity; `none` refuses
the SUBSCRIBE (403) or ends a live subscription with
terminated;reason=rejected. Unknown (the service down with nothing
cached, or an answer that cannot be read) is none: never more than
allowed.
"""

import time

import pytest

import blfutil
from httpstub import stub  # noqa: F401  (pytest fixture)
from httputil import http_params, uri

E207, E208, E209 = uri("207"), uri("208"), uri("209")
W1, W2 = uri("w1"), uri("w2")
ANY = uri("any-dn")


def vis_params(stub, alias=False, **kw):
    return http_params(stub, alias=alias, visibility_url=stub.visibility_url,
                       **kw)


@pytest.fixture
def kam(stub, make_proxy):
    return make_proxy(**vis_params(stub))


def assert_state_only(info, call):
    """No call-id, tag, identity or target of the call in the body."""
    assert call.call_id not in info.raw, info.raw
    assert "alice" not in info.raw.lower(), info.raw
    for d in info.dialogs:
        assert d.call_id is None and d.local_tag is None and \
            d.remote_tag is None, "visibility state: %s" % info.raw
        assert d.remote is None or (not d.remote.identity and
                                    not d.remote.target), info.raw
        # the local side may name the entity itself (known to the
        # watcher anyway), never a contact of it
        assert d.local is None or not d.local.target, info.raw


def assert_full(info, call):
    d = next(d for d in info.dialogs if d.call_id == call.call_id)
    assert d.local_tag and d.remote_tag, "visibility full: %s" % info.raw
    assert d.remote is not None and d.remote.identity, info.raw


def with_dialogs(lamp):
    lamp.drain()
    return [i for _, i in lamp.seen if i is not None and i.dialogs]


def flush(kam):
    r = kam.rpc("blf.flush_visibility")
    assert {"flushed", "reevaluated"} <= set(r), r
    return r


# -- two watchers, two rules ------------------------------------------------
def test_two_watchers_of_one_entity_get_different_bodies(stub, kam, phones):
    stub.set_visibility(E207, W1, "full")
    stub.set_visibility(E207, W2, "state")
    a = phones("alice", display="Alice Anders")
    p207 = phones("207", invite_policy="answer")
    full = blfutil.watch(phones("w1"), E207)
    state = blfutil.watch(phones("w2"), E207)
    call = a.call("207").wait_state("confirmed")
    d = full.wait_state("confirmed", call.call_id)
    assert_full(full.current, call)
    state.wait_state("confirmed")
    call.bye()
    full.wait_state("terminated", call.call_id)
    state.wait(lambda i: not i.dialogs or all(
        d.state == "terminated" for d in i.dialogs), 5, "the call over")
    bodies = with_dialogs(state)
    assert bodies, "the state watcher saw no call at all"
    for info in bodies:
        assert_state_only(info, call)
    full.assert_versions()
    state.assert_versions()
    assert p207  # the callee stays registered to the end
    # each pair asked once (cached afterwards)
    assert len(stub.asked("visibility", "%s|%s" % (E207, W1))) == 1
    assert len(stub.asked("visibility", "%s|%s" % (E207, W2))) == 1


def test_rule_none_is_403_but_the_entity_itself_sees_all(stub, kam, phones):
    stub.set_visibility(E207, W1, "none")
    sub = phones("w1").subscribe(E207)
    assert sub.responses[-1].status == 403, sub.responses[-1].first_line()
    assert not blfutil.subscriptions(kam)
    own = blfutil.watch(phones("207"), E207)
    call = phones("alice").call("207")
    d = own.wait_state("early", call.call_id)
    assert d.call_id == call.call_id
    call.cancel()
    # the entity watching itself never asks the service
    assert not stub.asked("visibility", "%s|%s" % (E207, E207))


# -- blf.flush_visibility -----------------------------------------------------
def test_flush_with_a_lowered_rule_gives_state_from_the_next_notify(
        stub, kam, phones):
    stub.set_visibility(E207, W1, "full")
    a = phones("alice", display="Alice Anders")
    phones("207", invite_policy="answer")
    lamp = blfutil.watch(phones("w1"), E207)
    call = a.call("207").wait_state("confirmed")
    lamp.wait_state("confirmed", call.call_id)
    assert_full(lamp.current, call)
    stub.set_visibility(E207, W1, "state")
    r = flush(kam)
    assert int(r["flushed"]) >= 1 and int(r["reevaluated"]) == 1, r
    lamp.drain()
    seen = len(lamp.seen)
    call.bye()
    lamp.wait(lambda i: i.dialogs and all(
        d.state == "terminated" for d in i.dialogs), 5, "the call over")
    after = [i for _, i in lamp.seen[seen:] if i is not None and i.dialogs]
    assert after, "no NOTIFY after the flush"
    for info in after:
        assert_state_only(info, call)
    lamp.assert_versions()
    assert blfutil.subscriptions(kam), "the subscription should live on"


def test_flush_to_none_ends_with_rejected(stub, kam, phones):
    stub.set_visibility(E207, W1, "full")
    a = phones("alice", display="Alice Anders")
    phones("207", invite_policy="answer")
    lamp = blfutil.watch(phones("w1"), E207)
    call = a.call("207").wait_state("confirmed")
    lamp.wait_state("confirmed", call.call_id)
    stub.set_visibility(E207, W1, "none")
    flush(kam)
    n = lamp.wait_final(3)
    assert n.reason == "rejected", n.subscription_state
    # the final NOTIFY shows nothing of the call still up
    assert call.call_id not in n.body and "alice" not in n.body.lower(), \
        n.body
    blfutil.poll(lambda: not blfutil.subscriptions(kam), 3,
                 what="no subscription left after rejected")
    call.bye()
    # and nothing more reaches the watcher
    time.sleep(0.5)
    lamp.drain()
    assert lamp.seen[-1][0].state == "terminated"


def test_refresh_applies_the_new_rule(stub, make_proxy, phones):
    """At refresh the cached rule holds; past its TTL it is asked again
    and applied when it lands."""
    kam = make_proxy(**vis_params(stub, alias_cache_ttl=1))
    stub.set_visibility(E207, W1, "full")
    lamp = blfutil.watch(phones("w1"), E207)
    stub.set_visibility(E207, W1, "none")
    time.sleep(1.2)
    r = lamp.sub.refresh(300)
    assert r.status == 200, r.first_line()
    n = lamp.wait_final(3)
    assert n.reason == "rejected", n.subscription_state
    blfutil.poll(lambda: not blfutil.subscriptions(kam), 3,
                 what="no subscription left after rejected")


# -- wildcard -----------------------------------------------------------------
def test_wildcard_watcher_sees_per_entity_rules(stub, kam, phones):
    stub.set_visibility(E207, W1, "none")
    stub.set_visibility(E208, W1, "state")
    stub.set_visibility(E209, W1, "full")
    a = phones("alice", display="Alice Anders")
    for u in ("207", "208", "209"):
        phones(u, invite_policy="answer")
    sub = phones("w1").subscribe(ANY)
    assert sub.responses[-1].status == 200, sub.responses[-1].first_line()
    lamp = blfutil.Lamp(sub, entity=False)
    lamp.pump(3)
    calls = {u: a.call(u[4:7]).wait_state("confirmed")
             for u in (E207, E208, E209)}
    lamp.wait(lambda i: i.entity == E209 and any(
        d.call_id == calls[E209].call_id and d.state == "confirmed"
        for d in i.dialogs), 5, "209 confirmed, with its call-id")
    lamp.wait(lambda i: i.entity == E208 and any(
        d.state == "confirmed" for d in i.dialogs), 5, "208 confirmed")
    for c in calls.values():
        c.bye()
    time.sleep(0.5)
    lamp.drain()
    infos = [i for _, i in lamp.seen if i is not None]
    leaked = [i for i in infos if i.entity == E207 and i.dialogs]
    assert not leaked, "rule none, yet the wildcard watcher saw 207:\n%s" \
        % "\n".join(i.raw for i in leaked)
    for info in infos:
        if info.entity == E208:
            assert_state_only(info, calls[E208])
        if info.entity in (E207, E208):
            assert calls[E207].call_id not in info.raw, info.raw
    # (alice's own NOTIFYs show her calls by alice's rule: a call has two
    # parties, each shown by its own policy)
    assert kam.running


# -- 404: the entity policy, else the global ----------------------------------
def test_no_rule_falls_back_to_entity_policy_then_global(stub, make_proxy,
                                                         phones):
    """No rule (404) for any pair: 300's policy from its alias answer
    (full) beats the global visibility (state); 301 has none: global."""
    e300, e301 = uri("300"), uri("301")
    stub.set_policy(e300, "full")
    kam = make_proxy(**vis_params(stub, alias=True, visibility="state"))
    a = phones("alice", display="Alice Anders")
    phones("300", invite_policy="answer")
    phones("301", invite_policy="answer")
    l300 = blfutil.watch(phones("w1"), e300)
    l301 = blfutil.watch(phones("w2"), e301)
    c300 = a.call("300").wait_state("confirmed")
    c301 = a.call("301").wait_state("confirmed")
    l300.wait_state("confirmed", c300.call_id)
    assert_full(l300.current, c300)
    l301.wait_state("confirmed")
    for info in with_dialogs(l301):
        assert_state_only(info, c301)
    c300.bye()
    c301.bye()
    assert stub.asked("visibility", "%s|%s" % (e300, W1))[0].answer == "404"
    assert kam.running


# -- the service failing ------------------------------------------------------
def test_service_down_keeps_stale_answer_and_refuses_unknown(
        stub, make_proxy, phones):
    kam = make_proxy(**vis_params(stub, alias_cache_ttl=1, http_timeout=500))
    stub.set_visibility(E207, W1, "state")
    lamp = blfutil.watch(phones("w1"), E207)
    stub.down()
    time.sleep(1.2)
    # past its TTL, the stale "state" stays in use at the refresh
    info = lamp.refresh()
    a = phones("alice", display="Alice Anders")
    phones("207", invite_policy="answer")
    call = a.call("207").wait_state("confirmed")
    lamp.wait_state("confirmed")
    for info in with_dialogs(lamp):
        assert_state_only(info, call)
    # a watcher with nothing cached: refused (unknown is none), in time
    t0 = time.monotonic()
    sub = phones("w2").subscribe(E207)
    took = time.monotonic() - t0
    assert sub.responses[-1].status == 403, sub.responses[-1].first_line()
    assert took < 2.0, "the SUBSCRIBE waited %.1fs" % took
    call.bye()
    stub.up()
    assert kam.running


@pytest.mark.parametrize("answer", ["garbage", "unknown", "huge"])
def test_hostile_answers_are_logged_and_refused(stub, make_proxy, phones,
                                                answer):
    kam = make_proxy(**vis_params(stub, http_max_body=4096))
    if answer == "garbage":
        stub.set_mode("garbage", "visibility")
    elif answer == "huge":
        stub.set_huge(100000, "visibility")
    else:
        stub.set_visibility(E207, W1, "everything")
    sub = phones("w1").subscribe(E207)
    assert sub.responses[-1].status == 403, sub.responses[-1].first_line()
    assert not blfutil.subscriptions(kam)
    log = kam.log()
    assert ("visibility service: bad answer" in log
            or "longer than http_max_body" in log), log[-2000:]
    # the entity itself is not affected
    blfutil.watch(phones("207"), E207)
    assert kam.running


def test_rpc_lists_the_cache(stub, kam, phones):
    stub.set_visibility(E207, W1, "state")
    blfutil.watch(phones("w1"), E207)
    recs = blfutil.listing(kam, "blf.visibility", "entity")
    assert any(str(r["watcher"]).endswith("w1@blf.test")
               and r["state"] == "rule" and r["visibility"] == "state"
               for r in recs), recs
    # blf.subscriptions shows what it shows today: no rule detail
    subs = blfutil.subscriptions(kam)
    assert len(subs) == 1 and "visibility" not in subs[0], subs


# -- aliases ------------------------------------------------------------------
def test_rule_is_asked_for_the_canonical_entity_through_an_alias(
        stub, make_proxy, phones):
    """Subscribing to an alias watches its entity: the rule asked is the
    entity's (never the alias's), so an alias cannot be used to see more."""
    a7207 = uri("7207")
    stub.set_alias(a7207, E207)
    stub.set_visibility(E207, W1, "state")
    stub.set_visibility(a7207, W1, "full")  # must not be what counts
    kam = make_proxy(**vis_params(stub, alias=True))
    a = phones("alice", display="Alice Anders")
    phones("207", invite_policy="answer")
    lamp = blfutil.watch(phones("w1"), a7207)
    call = a.call("207").wait_state("confirmed")
    lamp.wait_state("confirmed")
    call.bye()
    lamp.wait(lambda i: not i.dialogs or all(
        d.state == "terminated" for d in i.dialogs), 5, "the call over")
    bodies = with_dialogs(lamp)
    assert bodies
    for info in bodies:
        assert_state_only(info, call)
    assert stub.asked("visibility", "%s|%s" % (E207, W1))
    assert not stub.asked("visibility", "%s|%s" % (a7207, W1))
    assert kam.running


def test_wildcard_entity_unknown_until_answer_then_shown(stub, make_proxy,
                                                          phones):
    """A wildcard never waits: an entity whose rule is not known yet is
    left out, and its state is sent when the (slow) answer lands."""
    kam = make_proxy(**vis_params(stub, http_timeout=3000))
    stub.set_visibility(E209, W1, "full")
    a = phones("alice")
    phones("209", invite_policy="answer")
    sub = phones("w1").subscribe(ANY)
    assert sub.responses[-1].status == 200
    lamp = blfutil.Lamp(sub, entity=False)
    lamp.pump(3)
    stub.set_mode("slow", "visibility", delay_ms=800)
    mark = stub.mark()
    call = a.call("209").wait_state("confirmed")
    stub.wait_requests(1, "visibility", "%s|%s" % (E209, W1), since=mark)
    time.sleep(0.3)
    lamp.drain()
    early = [i for _, i in lamp.seen if i is not None and i.entity == E209]
    assert not early, "209 shown before its rule was known: %s" % [
        i.raw for i in early]
    lamp.wait(lambda i: i.entity == E209 and any(
        d.call_id == call.call_id for d in i.dialogs), 3,
        "209's call once the rule landed")
    call.bye()
    assert kam.running


def test_entity_policy_turning_none_spares_watchers_with_a_rule(
        stub, make_proxy, phones):
    """The per-watcher rule beats the entity's policy (SPEC order): when
    the alias service turns 207's policy to none, the watcher without a
    rule is ended (rejected), the one whose rule says full stays."""
    stub.set_policy(E207, "full")
    stub.set_visibility(E207, W1, "full")
    kam = make_proxy(**vis_params(stub, alias=True, alias_cache_ttl=1,
                                  alias_negative_ttl=1))
    a = phones("alice", display="Alice Anders")
    p207 = phones("207", invite_policy="answer")
    kept = blfutil.watch(phones("w1"), E207)
    ended = blfutil.watch(phones("w2"), E207)
    stub.set_policy(E207, "none")
    time.sleep(1.2)
    # anything that looks 207 up past its TTL asks the alias service again
    assert p207.subscribe(E207, expires=0).responses[-1].status == 200
    n = ended.wait_final(3)
    assert n.reason == "rejected", n.subscription_state
    call = a.call("207").wait_state("confirmed")
    kept.wait_state("confirmed", call.call_id)
    assert_full(kept.current, call)
    call.bye()
    kept.wait_state("terminated", call.call_id)
    kept.assert_versions()
    subs = blfutil.subscriptions(kam)
    assert len(subs) == 1 and "w1@" in str(subs[0]["watcher"]), subs


def test_flush_and_rejections_return_their_memory(stub, kam, phones):
    """Subscribing, flushing, being rejected, over and over: the cache and
    the subscriptions give their shared memory back (one pair's record
    per answer, freed by the flush)."""
    ws = [phones("w%d" % i) for i in range(1, 6)]
    used = []
    for rnd in range(5):
        lamps = []
        for i, w in enumerate(ws):
            stub.set_visibility(E207, uri("w%d" % (i + 1)), "state")
            lamps.append(blfutil.watch(w, E207))
        for i in range(len(ws)):
            stub.set_visibility(E207, uri("w%d" % (i + 1)), "none")
        flush(kam)
        for lp in lamps:
            assert lp.wait_final(3).reason == "rejected"
        blfutil.poll(lambda: not blfutil.subscriptions(kam), 3,
                     what="every subscription rejected")
        flush(kam)
        # with notify_direct=0 each final NOTIFY's tm cell lives wt_timer
        # past its answer: a loaded host's rounds overlap those cells
        blfutil.poll(lambda: int(kam.rpc("tm.stats")["current"]) == 0, 15,
                     what="tm's transactions gone")
        used.append(blfutil.shm_used(kam))
    growth = [y - x for x, y in zip(used[1:], used[2:])]
    assert used[-1] - used[1] <= 16384 and not all(g > 0 for g in growth), \
        "shm real_used after each round: %s" % used
