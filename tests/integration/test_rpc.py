"""RPC (SPEC "RPC"): blf.subscriptions, blf.entities, blf.stats field
names, the [entity] filter in both spellings, and the statistics."""

import pytest

import blfutil

SUB_FIELDS = {"watcher", "entity", "event", "expires", "version", "callid",
              "contact"}
DLG_FIELDS = {"id", "callid", "state", "direction", "peer"}
STATS = {"subscriptions", "notifies_sent", "notifies_failed",
         "http_requests", "http_errors", "cache_hits", "cache_misses"}


def test_subscriptions_fields(proxy, phones):
    w = phones("watcher")
    lamp = blfutil.watch(w, "bob", expires=300)
    subs = blfutil.subscriptions(proxy)
    assert len(subs) == 1, subs
    s = subs[0]
    assert SUB_FIELDS <= set(s), "missing fields: %s" % (SUB_FIELDS - set(s))
    assert "watcher@blf.test" in s["watcher"]
    assert "bob@blf.test" in s["entity"]
    assert s["event"] == "dialog"
    assert 290 <= int(s["expires"]) <= 300, s["expires"]
    assert int(s["version"]) >= 0
    assert s["callid"] == lamp.sub.call_id
    assert "127.0.0.1:%d" % w.addr[1] in s["contact"], s["contact"]


@pytest.mark.parametrize("form", ["bob@blf.test", "sip:bob@blf.test",
                                  "bob@BLF.TEST"])
def test_subscriptions_filter(proxy, phones, form):
    w1, w2, w3 = phones("w1"), phones("w2"), phones("w3")
    l1 = blfutil.watch(w1, "bob")
    l2 = blfutil.watch(w2, "bob")
    blfutil.watch(w3, "alice")
    assert len(blfutil.subscriptions(proxy)) == 3
    got = blfutil.subscriptions(proxy, form)
    assert sorted(s["callid"] for s in got) == sorted(
        [l1.sub.call_id, l2.sub.call_id]), got


def test_entities_during_call(proxy, phones):
    a, b = phones("alice"), phones("bob", invite_policy="answer")
    w = phones("watcher")
    lb = blfutil.watch(w, "bob")
    call = a.call("bob").wait_state("confirmed")
    lb.wait_state("confirmed", call.call_id)
    for form, direction, peer in (("alice@blf.test", "initiator", "bob"),
                                  ("sip:alice@blf.test", "initiator", "bob"),
                                  ("bob@blf.test", "recipient", "alice"),
                                  ("sip:bob@blf.test", "recipient", "alice")):
        ents = blfutil.entities(proxy, form)
        assert len(ents) == 1, (form, ents)
        e = ents[0]
        assert form.replace("sip:", "") in e["entity"], e
        dlgs = blfutil.records(e.get("dialogs"), "callid")
        assert len(dlgs) == 1, e
        d = dlgs[0]
        assert DLG_FIELDS <= set(d), "missing: %s" % (DLG_FIELDS - set(d))
        assert d["callid"] == call.call_id
        assert d["state"] == "confirmed"
        assert d["direction"] == direction
        assert peer + "@blf.test" in d["peer"], d
    allents = {e["entity"] for e in blfutil.entities(proxy)}
    assert any("alice@blf.test" in x for x in allents) and \
        any("bob@blf.test" in x for x in allents), allents
    call.bye()
    lb.wait_state("terminated", call.call_id)
    blfutil.poll(lambda: not any(
        blfutil.records(e.get("dialogs"), "callid")
        for e in blfutil.entities(proxy, "bob@blf.test")), 3,
        what="no call of bob listed after the BYE")


def test_stats_fields_and_counts(proxy, phones):
    st = blfutil.stats(proxy)
    assert STATS <= set(st), "missing counters: %s" % (STATS - set(st))
    assert int(st["subscriptions"]) == 0
    w = phones("watcher")
    l1 = blfutil.watch(w, "bob")
    blfutil.watch(w, "alice")
    # counters move right after the send: the NOTIFY may be here first
    st = stats_when(proxy, lambda s: int(s["subscriptions"]) == 2 and
                    int(s["notifies_sent"]) == 2, "2 subscriptions, 2 sent")
    assert l1.sub.unsubscribe().status == 200
    l1.wait_final(2)
    stats_when(proxy, lambda s: int(s["subscriptions"]) == 1 and
               int(s["notifies_sent"]) == 3, "1 subscription, 3 sent")


def stats_when(kam, pred, what):
    last = []

    def check():
        st = blfutil.stats(kam)
        last[:] = [st]
        return st if pred(st) else None
    try:
        return blfutil.poll(check, 3, what=what)
    except AssertionError:
        raise AssertionError("blf.stats never had %s: last %s" % (
            what, last)) from None


def test_stats_failed_counts_481(proxy, phones):
    bad = phones("bad", notify_reply=481)
    bad.subscribe("bob").next_notify(2)
    blfutil.poll(lambda: int(blfutil.stats(proxy)["notifies_failed"]) >= 1,
                 3, what="notifies_failed counting the 481")


def test_kamcmd_prints_blf_rpcs(proxy, phones):
    w = phones("watcher")
    blfutil.watch(w, "bob")
    out = blfutil.parse_kamcmd(proxy.kamcmd("blf.subscriptions"))
    subs = blfutil.records(out, "watcher")
    assert len(subs) == 1 and SUB_FIELDS <= set(subs[0]), out
    out = blfutil.parse_kamcmd(proxy.kamcmd("blf.subscriptions",
                                            "sip:bob@blf.test"))
    assert len(blfutil.records(out, "watcher")) == 1
    text = proxy.kamcmd("blf.stats")
    for name in STATS:
        assert name in text, "kamcmd blf.stats lacks %s:\n%s" % (name, text)
    proxy.kamcmd("blf.entities")


def test_statistics_module_counters(proxy, phones):
    blfutil.watch(phones("watcher"), "bob")
    text = proxy.kamcmd("stats.get_statistics", "blf:")
    for name in STATS:
        assert "blf:%s" % name in text, "stats lack blf:%s:\n%s" % (name,
                                                                    text)
    m = [line for line in text.splitlines() if "blf:subscriptions" in line]
    assert m and m[0].split("=")[-1].strip() == "1", m
