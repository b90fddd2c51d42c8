"""notify_min_interval (SPEC "Parameters"): a subscription gets at most one
NOTIFY per interval; states superseded inside it are merged into one
full-state NOTIFY; a call that ends and the final NOTIFY are never held
back; versions rise by one per NOTIFY sent. 0 (the default) changes
nothing."""

import time

import pytest

import blfutil
import kamproc
import sipua

pytestmark = pytest.mark.blf


def scene(make_proxy, phones, interval, bob_policy="ring"):
    kam = make_proxy(**({"notify_min_interval": interval}
                        if interval is not None else {}))
    a = phones("alice")
    b = phones("bob", invite_policy=bob_policy)
    w = phones("watcher")
    lamp = blfutil.watch(w, "bob")
    return kam, a, b, w, lamp


def fast_call(a, b):
    """alice calls bob, who rings (180) and answers (200) at once: three
    states (trying, early, confirmed) within a few ms"""
    call = a.call("bob")
    inc = b.wait_incoming()
    call.wait_state("early")
    inc.answer()
    call.wait_state("confirmed")
    return call


def coalesced(kam):
    """blf:notifies_coalesced (kex stats.get_statistics); it must exist"""
    res = kam.rpc("stats.get_statistics", "blf:")
    for line in (res if isinstance(res, list) else [res]):
        if isinstance(line, str) and \
                line.startswith("blf:notifies_coalesced = "):
            return int(line.split("=", 1)[1])
    raise AssertionError("no blf:notifies_coalesced in %r" % (res,))


def notifies(lamp):
    """NOTIFYs of the subscription received so far (after a drain)."""
    lamp.drain()
    return [n for n, _ in lamp.seen]


def test_fast_call_merged_into_fewer_notifies(make_proxy, phones):
    kam, a, b, w, lamp = scene(make_proxy, phones, 200)
    # the INVITE comes inside the interval the initial NOTIFY started, so
    # trying, early (180) and confirmed (200) are all held and merged
    call = fast_call(a, b)
    d = lamp.wait_state("confirmed", call.call_id, timeout=3)
    assert d.direction == "recipient"
    time.sleep(0.5)  # anything still owed would come now
    ns = notifies(lamp)
    # initial + at most one or two for three states (the 100 Trying's
    # INVITE may fall just past the interval on a slow machine)
    assert 2 <= len(ns) <= 3, ns
    assert lamp.current.dialogs[0].state == "confirmed", lamp.current.raw
    hist = lamp.history(call.call_id)
    assert hist[-1] == "confirmed" and len(hist) < 3, hist
    lamp.assert_versions()
    # each change not sent on its own is counted
    assert coalesced(kam) >= 1
    # no two NOTIFYs closer than the interval (a little jitter allowed)
    times = [n.time for n in ns]
    gaps = [round(t2 - t1, 3) for t1, t2 in zip(times, times[1:])]
    assert all(g >= 0.15 for g in gaps), gaps
    assert call.bye().status == 200
    dt = lamp.wait_state("terminated", call.call_id)
    assert dt.state == "terminated"
    lamp.assert_versions()
    assert kam.running


def test_held_state_arrives_when_the_interval_ends(make_proxy, phones):
    kam, a, b, w, lamp = scene(make_proxy, phones, 1500)
    t0 = time.monotonic()
    call = a.call("bob")
    b.wait_incoming()
    call.wait_state("early")
    # held: nothing before the interval (from the initial NOTIFY) ends
    with pytest.raises(sipua.SipTimeout):
        lamp.pump(max(0.1, 1.0 - (time.monotonic() - t0)), "held NOTIFY")
    d = lamp.wait_state("early", call.call_id, timeout=3)
    assert d.state == "early"
    assert len(notifies(lamp)) == 2, notifies(lamp)
    assert lamp.history(call.call_id) == ["early"]
    lamp.assert_versions()
    call.cancel()
    lamp.wait_state("terminated", call.call_id)
    lamp.assert_versions()
    assert kam.running


def test_short_call_reported_terminated_once(make_proxy, phones):
    kam, a, b, w, lamp = scene(make_proxy, phones, 200)
    call = a.call("bob")
    b.wait_incoming()
    call.wait_state("early")
    assert call.cancel().status == 200
    t_cancel = time.monotonic()
    d = lamp.wait_state("terminated", call.call_id, timeout=3)
    assert d.state == "terminated"
    time.sleep(0.6)  # an owed NOTIFY (the held states) would come now
    ns = notifies(lamp)
    ended = [i for _, i in lamp.seen if i is not None and any(
        x.call_id == call.call_id and x.state == "terminated"
        for x in i.dialogs)]
    assert len(ended) == 1, [i.raw for _, i in lamp.seen if i]
    # the call's end is not held back: it left at once
    n_end = next(n for n, i in lamp.seen if i is ended[0])
    assert n_end.time - t_cancel < 0.15, n_end.time - t_cancel
    assert lamp.current.idle or lamp.current.dialogs[0].state == \
        "terminated", lamp.current.raw
    assert len(ns) <= 3, ns
    lamp.assert_versions()
    assert kam.running


def test_unsubscribe_final_notify_at_once(make_proxy, phones):
    kam, a, b, w, lamp = scene(make_proxy, phones, 3000)
    call = a.call("bob")
    b.wait_incoming()
    call.wait_state("early")  # a change held for ~3 s
    t0 = time.monotonic()
    r = lamp.sub.unsubscribe()
    assert r.status == 200, r.first_line()
    n = lamp.wait_final(timeout=2)
    assert n.time - t0 < 1.0, n.time - t0
    assert n.reason == "timeout" or n.reason, n.subscription_state
    # the final NOTIFY took the next version: none were skipped
    lamp.assert_versions()
    # and nothing comes after it when the held interval ends
    with pytest.raises(sipua.SipTimeout):
        lamp.sub.next_notify(3.2, "a NOTIFY after the final one")
    call.cancel()
    assert kam.running


@pytest.mark.parametrize("interval", [None, 0])
def test_zero_is_todays_behaviour(make_proxy, phones, interval):
    kam, a, b, w, lamp = scene(make_proxy, phones, interval)
    call = fast_call(a, b)
    lamp.wait_state("confirmed", call.call_id)
    time.sleep(0.3)
    assert lamp.history(call.call_id) == ["trying", "early", "confirmed"]
    assert len(notifies(lamp)) == 4, notifies(lamp)
    assert coalesced(kam) == 0
    assert call.bye().status == 200
    lamp.wait_state("terminated", call.call_id)
    lamp.assert_versions()
    assert kam.running


@pytest.mark.parametrize("value", [-1, 60001])
def test_bad_interval_refuses_to_start(value):
    kam = kamproc.Kamailio(blf=True, track=True,
                           params={"notify_min_interval": value})
    try:
        with pytest.raises(kamproc.StartError) as e:
            kam.start()
    finally:
        kam.stop()
        kam.cleanup()
    assert "notify_min_interval must be 0..60000 ms, not %d" % value in \
        str(e.value), str(e.value)[-2000:]
