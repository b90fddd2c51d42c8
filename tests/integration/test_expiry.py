"""How subscriptions end without Expires: 0 (SPEC "NOTIFY"): expiry with a
final NOTIFY within 2 s, and loss on a 481 or an unanswered NOTIFY."""

import time

import pytest

import blfutil
from blfutil import Lamp
import sipua


def test_expiry_final_notify_within_2s(make_proxy, phones):
    kam = make_proxy(min_expires=1)
    w = phones("watcher")
    sub = w.subscribe("bob", expires=2)
    r = sub.responses[-1]
    t0 = time.monotonic()
    assert r.status == 200 and r.get("Expires") == "2", r.first_line()
    lamp = Lamp(sub)
    fin = lamp.wait_final(2 + 2 + 1.5)
    took = fin.time - t0
    assert fin.reason == "timeout", fin.subscription_state
    assert 1.0 <= took <= 2 + 2 + 0.5, \
        "final NOTIFY %.2fs after a 2 s subscription" % took
    blfutil.poll(lambda: not blfutil.subscriptions(kam), 2,
                 what="expired subscription gone")
    lamp.assert_versions()


def test_refresh_postpones_expiry(make_proxy, phones):
    kam = make_proxy(min_expires=1)
    w = phones("watcher")
    sub = w.subscribe("bob", expires=1)
    lamp = Lamp(sub)
    lamp.pump(2)
    assert sub.refresh(30).status == 200
    n, _ = lamp.pump(2, "NOTIFY after refresh")
    assert n.state == "active" and n.expires > 2
    # past the old deadline and its 2 s grace: no final NOTIFY may come
    with pytest.raises(sipua.SipTimeout):
        lamp.wait_final(1 + 2 + 0.5)
    assert [s["callid"] for s in blfutil.subscriptions(kam)] == \
        [sub.call_id]
    left = blfutil.subscriptions(kam)[0]["expires"]
    assert 20 <= int(left) <= 30, left


def test_watcher_answering_481_loses_subscription(proxy, phones):
    a, b = phones("alice"), phones("bob", invite_policy="answer")
    bad = phones("bad", notify_reply=481)
    good = phones("good")
    sub = bad.subscribe("bob")
    assert sub.responses[-1].status == 200
    sub.next_notify(2)  # answered 481
    lg = blfutil.watch(good, "bob")
    blfutil.poll(lambda: [s["callid"] for s in blfutil.subscriptions(
        proxy)] == [lg.sub.call_id], 3,
        what="the 481 subscription gone from blf.subscriptions")
    call = a.call("bob").wait_state("confirmed")
    lg.wait_state("confirmed", call.call_id)
    call.bye()
    lg.wait_state("terminated", call.call_id)
    assert len(sub.notifies) == 1, "NOTIFYs after the 481: %s" % [
        n.body for n in sub.notifies[1:]]


def test_watcher_never_answering_loses_subscription(make_proxy, phones):
    kam = make_proxy(fr_timer=1000)
    mute = phones("mute", notify_reply=None)
    sub = mute.subscribe("bob")
    assert sub.responses[-1].status == 200
    sub.next_notify(2)
    t0 = time.monotonic()
    # tm gives up after fr_timer (1 s) with a 408: the subscription goes
    blfutil.poll(lambda: not blfutil.subscriptions(kam), 1 + 4,
                 what="unanswered subscription gone")
    assert time.monotonic() - t0 < 5
    assert sub.notifies[0].retransmits >= 1, "tm did not retransmit"
