"""SUBSCRIBE handling (RFC 6665 + SPEC "SUBSCRIBE handling"): replies, the
initial/refresh/final NOTIFYs, and every error answer."""

import time

import pytest

import blfutil
from blfutil import Lamp
import sipua

BOB = "sip:bob@blf.test"


def test_subscribe_200_then_idle_notify_version_0(proxy, phones):
    w = phones("watcher")
    sub = w.subscribe("bob", expires=120)
    r = sub.responses[-1]
    t200 = time.monotonic()
    assert r.status == 200, r.first_line()
    assert r.get("Expires") == "120"
    assert r.contact_uri and r.contact_uri.startswith("sip:"), r.get("Contact")
    assert r.to_tag, "200 to SUBSCRIBE without To tag"
    lamp = Lamp(sub)
    n, info = lamp.pump(2, "initial NOTIFY")
    assert n.time - t200 < 1.0, "initial NOTIFY came %.2fs after the 200" % (
        n.time - t200)
    assert n.state == "active" and 0 < n.expires <= 120, n.subscription_state
    assert n.msg.cseq[1] == "NOTIFY"
    assert info.version == 0 and info.state == "full"
    assert info.entity == BOB
    assert info.idle, "idle entity, but dialogs: %s" % info.raw
    assert n.msg.call_id == sub.call_id and n.msg.to_tag == sub.local_tag


def test_refresh_200_and_next_version(proxy, phones):
    w = phones("watcher")
    lamp = blfutil.watch(w, "bob", expires=120)
    r = lamp.sub.refresh(300)
    assert r.status == 200, r.first_line()
    assert r.get("Expires") == "300"
    n, info = lamp.pump(2, "NOTIFY after refresh")
    assert n.state == "active" and 120 < n.expires <= 300
    assert info.version == 1 and info.idle
    r = lamp.sub.refresh(200)
    assert r.status == 200
    n, info = lamp.pump(2)
    assert info.version == 2
    assert lamp.assert_versions() == [0, 1, 2]


def test_unsubscribe_final_notify_and_gone(proxy, phones):
    w = phones("watcher")
    lamp = blfutil.watch(w, "bob", expires=120)
    assert [s["callid"] for s in blfutil.subscriptions(proxy)] == \
        [lamp.sub.call_id]
    r = lamp.sub.unsubscribe()
    assert r.status == 200, r.first_line()
    assert r.get("Expires") in (None, "0"), r.get("Expires")
    fin = lamp.wait_final(2)
    assert fin.state == "terminated" and fin.reason == "timeout", \
        fin.subscription_state
    blfutil.poll(lambda: not blfutil.subscriptions(proxy), 3,
                 what="blf.subscriptions empty after Expires: 0")
    lamp.assert_versions()
    # the old dialog is gone: a refresh inside it is refused
    assert lamp.sub.refresh(120).status == 481


def test_unsubscribed_watcher_gets_nothing_more(proxy, phones):
    a, b = phones("alice"), phones("bob", invite_policy="answer")
    gone, stay = phones("gone"), phones("stay")
    lg = blfutil.watch(gone, "bob")
    ls = blfutil.watch(stay, "bob")
    assert lg.sub.unsubscribe().status == 200
    lg.wait_final(2)
    call = a.call("bob").wait_state("confirmed")
    ls.wait_state("confirmed", call.call_id)
    call.bye()
    ls.wait_state("terminated", call.call_id)
    # stay got the whole call; by then gone would have had it too
    assert lg.sub.pending() == [], [n.body for n in lg.sub.pending()]


def test_initial_subscribe_expires_0_is_a_fetch(proxy, phones):
    w = phones("watcher")
    sub = w.subscribe("bob", expires=0)
    assert sub.responses[-1].status == 200, sub.responses[-1].first_line()
    lamp = Lamp(sub)
    fin = lamp.wait_final(2)
    assert fin.reason == "timeout", fin.subscription_state
    blfutil.poll(lambda: not blfutil.subscriptions(proxy), 3,
                 what="no subscription left after a fetch")


def test_event_id_parameter_echoed(proxy, phones):
    w = phones("watcher")
    sub = w.subscribe("bob", event="dialog;id=blf7")
    assert sub.responses[-1].status == 200
    lamp = Lamp(sub, event_id="blf7")
    lamp.pump(2)
    assert sub.refresh(120).status == 200
    lamp.pump(2)
    assert sub.unsubscribe().status == 200
    lamp.wait_final(2)


def test_unknown_event_489_allow_events(proxy, phones):
    w = phones("watcher")
    # (presence is a served package now: an event no version serves)
    sub = w.subscribe("bob", event="message-summary",
                      accept="application/simple-message-summary")
    r = sub.responses[-1]
    assert r.status == 489, r.first_line()
    allow = [v.strip().lower() for v in r.get_all("Allow-Events")]
    assert "dialog" in allow and "message-summary" not in allow, \
        r.get_all("Allow-Events")
    assert sub.notifies == []


def test_interval_too_brief_423_min_expires(proxy, phones):
    w = phones("watcher")
    sub = w.subscribe("bob", expires=30)
    r = sub.responses[-1]
    assert r.status == 423, r.first_line()
    assert r.get("Min-Expires") == "60"
    assert sub.responses[-1].status == 423
    assert not blfutil.subscriptions(proxy)


def test_min_expires_param(make_proxy, phones):
    make_proxy(min_expires=10)
    w = phones("watcher")
    r = w.subscribe("bob", expires=9).responses[-1]
    assert r.status == 423 and r.get("Min-Expires") == "10"
    r = w.subscribe("bob", expires=10).responses[-1]
    assert r.status == 200 and r.get("Expires") == "10"


def test_max_expires_lowers(make_proxy, phones):
    make_proxy(max_expires=300)
    w = phones("watcher")
    sub = w.subscribe("bob", expires=100000)
    r = sub.responses[-1]
    assert r.status == 200 and r.get("Expires") == "300", r.get("Expires")
    n, _ = Lamp(sub).pump(2)
    assert n.expires <= 300


def test_default_max_expires_3600(proxy, phones):
    r = phones("watcher").subscribe("bob", expires=7200).responses[-1]
    assert r.status == 200 and r.get("Expires") == "3600"


@pytest.mark.parametrize("params,granted", [({}, "3600"),
                                            ({"default_expires": 600},
                                             "600")])
def test_default_expires_without_header(make_proxy, phones, params,
                                        granted):
    make_proxy(**params)
    w = phones("watcher")
    sub = w.subscribe("bob", expires=None)
    r = sub.responses[-1]
    assert r.status == 200 and r.get("Expires") == granted, r.get("Expires")
    n, _ = Lamp(sub).pump(2)
    assert 0 < n.expires <= int(granted)


def test_in_dialog_subscribe_unknown_tags_481(proxy, phones):
    w = phones("watcher")
    sub = w.subscribe("bob", send=False)
    sub.remote_tag = "no-such-tag"
    r = sub.send(120)
    assert r.status == 481, r.first_line()
    assert not blfutil.subscriptions(proxy)


def test_in_dialog_subscribe_wrong_from_tag_481(proxy, phones):
    w = phones("watcher")
    lamp = blfutil.watch(w, "bob")
    real = lamp.sub.local_tag
    lamp.sub.local_tag = "forged"
    try:
        assert lamp.sub.refresh(120).status == 481
    finally:
        lamp.sub.local_tag = real
    assert lamp.sub.refresh(120).status == 200


def test_accept_without_dialog_info_406(proxy, phones):
    w = phones("watcher")
    r = w.subscribe("bob", accept="application/pidf+xml").responses[-1]
    assert r.status == 406, r.first_line()
    assert not blfutil.subscriptions(proxy)


@pytest.mark.parametrize("accept", [
    None, "application/dialog-info+xml",
    "application/pidf+xml, application/dialog-info+xml",
    "application/dialog-info+xml;q=0.5"])
def test_accept_variants_200(proxy, phones, accept):
    w = phones("watcher")
    r = w.subscribe("bob", accept=accept).responses[-1]
    assert r.status == 200, "Accept %r: %s" % (accept, r.first_line())


def test_no_event_header_400(proxy, phones):
    w = phones("watcher")
    sub = w.subscribe("bob", send=False)
    r = sub.send(120, event=False)
    assert r.status == 400, r.first_line()
    assert sub.notifies == []


@pytest.mark.parametrize("expires", ["abc", "-5", "12x", ""])
def test_bad_expires_400(proxy, phones, expires):
    w = phones("watcher")
    sub = w.subscribe("bob", send=False)
    r = sub.send(None, headers=[("Expires", expires)])
    assert r.status == 400, "Expires %r: %s" % (expires, r.first_line())
    assert not blfutil.subscriptions(proxy)


def test_visibility_none_403_for_others_200_for_self(make_proxy, phones):
    make_proxy(visibility="none")
    w = phones("watcher")
    r = w.subscribe("bob").responses[-1]
    assert r.status == 403, r.first_line()
    bob = phones("bob")
    lamp = blfutil.watch(bob, "bob")
    assert lamp.current.entity == BOB


def test_max_subscriptions_503_retry_after(make_proxy, phones):
    kam = make_proxy(max_subscriptions=2)
    w = phones("watcher")
    l1 = blfutil.watch(w, "bob")
    blfutil.watch(w, "alice")
    sub = w.subscribe("carol")
    r = sub.responses[-1]
    assert r.status == 503, r.first_line()
    ra = r.get("Retry-After")
    assert ra is not None and ra.split(";")[0].strip().isdigit(), ra
    assert len(blfutil.subscriptions(kam)) == 2
    # a refresh of an existing subscription is not a new one
    assert l1.sub.refresh(120).status == 200
    assert l1.sub.unsubscribe().status == 200
    l1.wait_final(2)
    blfutil.poll(lambda: len(blfutil.subscriptions(kam)) == 1, 3,
                 what="one subscription left")
    assert w.subscribe("carol").responses[-1].status == 200


def test_two_subscriptions_count_versions_apart(proxy, phones):
    a, b = phones("alice", invite_policy="answer"), phones("carol")
    w1, w2 = phones("w1"), phones("w2")
    l1 = blfutil.watch(w1, "alice")
    call = b.call("alice").wait_state("confirmed")
    l1.wait_state("confirmed", call.call_id)
    l2 = blfutil.watch(w2, "alice")  # joins during the call
    assert l2.current.version == 0
    assert [d.state for d in l2.current.dialogs] == ["confirmed"]
    call.bye()
    l1.wait_state("terminated", call.call_id)
    l2.wait_state("terminated", call.call_id)
    l1.assert_versions()
    assert l2.assert_versions() == [0, 1]


def test_same_watcher_twice_independent(proxy, phones):
    w = phones("watcher")
    l1 = blfutil.watch(w, "bob")
    l2 = blfutil.watch(w, "bob")
    assert l1.sub.call_id != l2.sub.call_id
    assert len(blfutil.subscriptions(proxy)) == 2
    assert l1.sub.unsubscribe().status == 200
    l1.wait_final(2)
    assert l2.sub.refresh(120).status == 200
    _, info = l2.pump(2)
    assert info.version == 1
    assert [s["callid"] for s in blfutil.subscriptions(proxy)] == \
        [l2.sub.call_id]


def test_notify_routed_to_contact_not_source(proxy, phones):
    """NOTIFYs go to the SUBSCRIBE's Contact (remote target)."""
    w = phones("watcher")
    other = sipua.Phone("watcher2", proxy.addr, "blf.test")
    try:
        sub = w.subscribe("bob", send=False)
        msg = sub.build(120)
        msg.set("Contact", other.contact)
        tx = w.send_request(msg)
        r = tx.wait_final(3)
        assert r.status == 200
        # the NOTIFY reaches the other socket, which has no such dialog
        other.wait(lambda: any(m.method == "NOTIFY" for m in other.stray),
                   3, "NOTIFY at the Contact address")
    finally:
        other.close()


def test_notify_follows_record_route(proxy, phones):
    """A SUBSCRIBE that came through an edge proxy (Record-Route): the
    NOTIFY goes to that hop with a Route header, R-URI = the Contact."""
    w = phones("watcher")
    edge = sipua.Phone("edge", proxy.addr, "blf.test")
    try:
        hop = "<sip:127.0.0.1:%d;lr>" % edge.addr[1]
        sub = w.subscribe("bob", send=False)
        r = sub.send(120, headers=[("Record-Route", hop)])
        assert r.status == 200, r.first_line()
        edge.wait(lambda: any(m.method == "NOTIFY" for m in edge.stray), 3,
                  "NOTIFY at the Record-Route hop")
        n = next(m for m in edge.stray if m.method == "NOTIFY")
        assert n.uri == sipua.NameAddr.parse(w.contact).uri, n.uri
        routes = n.get_all("Route")
        assert routes and "127.0.0.1:%d" % edge.addr[1] in routes[0], \
            routes
        assert n.to_tag == sub.local_tag and n.call_id == sub.call_id
    finally:
        edge.close()
