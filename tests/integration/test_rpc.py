"""RPC (SPEC "RPC"): blf.subscriptions, blf.entities, blf.stats field
names, the [entity] filter in both spellings, and the statistics."""

import subprocess

import pytest

import blfutil
import kamproc

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


# -- pages (issue #9, item 9): [filter [offset [limit]]] and a summary -------
PAGE = {"total", "offset", "limit", "returned", "more", "next"}


def test_subscriptions_pages(proxy, phones):
    w = phones("watcher")
    lamps = [blfutil.watch(w, "e%d" % i) for i in range(5)]
    res = proxy.rpc("blf.subscriptions")
    assert res[-1] == {"total": 5, "offset": 0, "limit": 100,
                       "returned": 5, "more": 0, "next": 5}, res[-1]
    seen = []
    for off in (0, 2, 4):
        res = proxy.rpc("blf.subscriptions", "*", off, 2)
        page, summ = res[:-1], res[-1]
        assert set(summ) == PAGE
        assert summ["offset"] == off and summ["returned"] == len(page)
        assert summ["more"] == (1 if off + len(page) < 5 else 0)
        assert summ["next"] == off + len(page)
        seen += [s["callid"] for s in page]
    assert sorted(seen) == sorted(lp.sub.call_id for lp in lamps)
    # count only; offset past the end; a domain; a number as filter
    assert proxy.rpc("blf.subscriptions", "", 0, 0) == [
        {"total": 5, "offset": 0, "limit": 0, "returned": 0, "more": 1,
         "next": 0}]
    assert proxy.rpc("blf.subscriptions", "*", 9)[-1]["returned"] == 0
    assert proxy.rpc("blf.subscriptions", "@BLF.test")[-1]["total"] == 5
    assert proxy.rpc("blf.subscriptions", "@x.test")[-1]["total"] == 0
    with pytest.raises(Exception) as ei:
        proxy.rpc("blf.subscriptions", 12)
    assert "filter" in str(ei.value)


@pytest.mark.parametrize("method", ["blf.subscriptions", "blf.entities",
                                    "blf.parks", "blf.aliases"])
def test_listing_bad_arguments_one_fault(proxy, method):
    for args, what in ((("bob",), "filter"), (("*", "x"), "offset"),
                       (("*", 0, "1x"), "limit"), (("@",), "filter")):
        with pytest.raises(kamproc.RpcError) as ei:
            proxy.rpc(method, *args)
        assert what in str(ei.value.error), (args, ei.value.error)
        r = subprocess.run([kamproc.KAMCMD, "-s", "unix:" +
                            proxy.ctl_socket, method] + [str(a) for a in
                                                         args],
                           capture_output=True, timeout=10)
        assert b"error: 400" in r.stdout + r.stderr, r
    # a page of nothing still answers: the summary alone
    res = proxy.rpc(method, "*", 0, 0)
    assert len(res) == 1 and set(res[0]) == PAGE
    assert "more then once" not in proxy.log()


def test_kamcmd_pages(proxy, phones):
    w = phones("watcher")
    for i in range(3):
        blfutil.watch(w, "k%d" % i)
    out = blfutil.parse_kamcmd(proxy.kamcmd("blf.subscriptions", "*", 1, 1))
    assert len(blfutil.records(out, "watcher")) == 1
    summ = blfutil.records(out, "total")[0]
    assert (int(summ["total"]), int(summ["next"]), int(summ["more"])) == \
        (3, 2, 1), summ
