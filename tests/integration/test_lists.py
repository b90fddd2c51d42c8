"""Resource lists (RFC 4662) over HTTP — SPEC "Resource lists (RFC 4662)
over HTTP", RPC blf.lists / blf.flush_lists, issue #12. Written before the
code (tests first): against a real HTTP server (httpstub) answering
GET list_url?uri=..., with every list NOTIFY taken apart by Python's
`email` package and its RLMI validated against tests/schema/rlmi.xsd
(rfc4662.py), and the SUBSCRIBE header sets of real phones (phones.py).

What is asserted, as a phone would see it:
  - 421 + Require: eventlist without Supported: eventlist; 200 + Require:
    eventlist with it; a URI that is not a list stays an ordinary entity;
  - NOTIFYs: Require: eventlist, multipart/related, RLMI first; full state
    first and on refresh, then one partial NOTIFY per change with only the
    changed member (or full with list_full_state=1);
  - RLMI version 0, 1, 2 ... per subscription; each member's dialog-info
    version 0, 1, 2 ... per (subscription, member); instance ids stable;
  - a member added appears, a removed one is sent once as terminated
    (reason noresource) and then dropped;
  - a 100-member list: every member reaches the watcher (over as many
    NOTIFYs as one UDP datagram each needs), none twice in the full state;
  - blf.lists / blf.flush_lists / blf.subscriptions.

Until the module knows list_url (it does not at the time of writing) the
proxy starts without it (Kamailio would refuse an unknown modparam and
every test would fail the same way at startup); the tests then fail on
what a phone sees today: the list URI answered as an ordinary extension.
"""

import pytest

import blfutil
import kamproc
import phones as phone_fixtures
import rfc4662
from httpstub import stub  # noqa: F401  (pytest fixture)
from httputil import uri

LIST = uri("reception")
MEMBERS = [uri("201"), uri("202"), uri("203")]
ACCEPT = ("application/dialog-info+xml, multipart/related, "
          "application/rlmi+xml")
SUPPORTED = [("Supported", "eventlist")]
DI = "application/dialog-info+xml"


def module_knows(param):
    """True when blf.so exports the modparam (its name is in the binary):
    until then the proxy starts without it (see the module docstring)."""
    try:
        with open(kamproc.BLF_MODULE, "rb") as f:
            return param.encode() + b"\0" in f.read()
    except OSError:
        return False


def list_params(stub, **kw):
    p = {}
    if module_knows("list_url"):
        p["list_url"] = stub.list_url
        p.update(kw)
    return p


@pytest.fixture
def kam(stub, make_proxy):
    stub.set_list(LIST, [MEMBERS[0], {"uri": MEMBERS[1], "name": "Ben"},
                         {"uri": MEMBERS[2]}], name="Reception")
    return make_proxy(**list_params(stub))


def subscribe_list(phone, target=LIST, event="dialog", accept=ACCEPT,
                   headers=SUPPORTED, expires=600):
    sub = phone.subscribe(target, expires=expires, event=event,
                          accept=accept, headers=list(headers))
    return sub


def assert_list_200(sub):
    r = sub.responses[-1]
    assert r.status == 200, "list SUBSCRIBE: %s" % r.first_line()
    req = [v.strip().lower() for v in r.get_all("Require")]
    assert "eventlist" in req, \
        "200 to a list SUBSCRIBE without Require: eventlist: %s" % r


def next_list(sub, timeout=5.0):
    """The next NOTIFY, checked as a list NOTIFY and parsed."""
    n = sub.next_notify(timeout=timeout)
    req = [v.strip().lower() for v in n.msg.get_all("Require")]
    assert "eventlist" in req, "list NOTIFY without Require: eventlist: " \
        "Content-Type %s, body %r" % (n.content_type, n.body[:300])
    return n, rfc4662.parse(n)


def full_state(sub, n_members, timeout=5.0):
    """The full state, possibly split: the first NOTIFY says
    fullState="true"; NOTIFYs follow until every member's instance was
    seen. Returns (list of ListNotify, {uri: Resource with instance})."""
    got, seen = [], {}
    n, ln = next_list(sub, timeout)
    assert ln.full, "first list NOTIFY is not full state: %r" % ln.raw[:400]
    got.append(ln)
    while True:
        for r in ln.with_state():
            assert r.uri not in seen, "%s twice in one full state" % r.uri
            seen[r.uri] = r
        if len(seen) >= n_members:
            return got, seen
        n, ln = next_list(sub, timeout)
        assert not ln.full and ln.version == got[-1].version + 1, \
            "split full state: next part version %d full=%s after %d" % (
                ln.version, ln.full, got[-1].version)
        got.append(ln)


def until_state(sub, member, state, version, timeout=5.0):
    """Partial NOTIFYs about one member until its call shows `state`. The
    module shows the callee's call as "trying" on the INVITE, then "early"
    (test_calls.py: history ["trying", "early"]), each change its own
    NOTIFY: every one carries only that member, RLMI versions go up by one
    from `version`, and so does the member's own version. Returns the last
    (ListNotify, member dialog-info)."""
    while True:
        _, ln = next_list(sub, timeout)
        assert not ln.full and ln.version == version, (ln.version, ln.full)
        assert [r.uri for r in ln.with_state()] == [member], \
            "a partial NOTIFY carries only the changed member"
        di = member_state(ln.resources[0])
        assert di.version == version, (di.version, version)
        if [d.state for d in di.dialogs] == [state]:
            return ln, di
        version += 1


def member_state(res):
    inst = res.instance
    assert inst is not None and inst.dialog_info is not None, res
    return inst.dialog_info


# -- negotiation (RFC 4662 section 4.1) ------------------------------------
def test_421_without_supported_eventlist(stub, kam, phones):
    w = phones("reception")
    sub = subscribe_list(w, headers=[])
    r = sub.responses[-1]
    assert r.status == 421, "a list without Supported: eventlist: %s" % (
        r.first_line())
    assert "eventlist" in [v.strip().lower() for v in
                           r.get_all("Require")], r
    assert sub.notifies == []
    assert stub.count("list", LIST) >= 1, "list_url was never asked"


def test_200_require_eventlist_then_full_state(stub, kam, phones):
    w = phones("reception")
    sub = subscribe_list(w)
    assert_list_200(sub)
    n, ln = next_list(sub)
    assert n.event.split(";")[0].strip() == "dialog"
    assert n.state == "active"
    assert ln.uri == LIST and ln.version == 0 and ln.full
    assert ln.name == "Reception"
    assert [r.uri for r in ln.resources] == MEMBERS
    assert ln.by_uri()[MEMBERS[1]].name == "Ben"
    for r in ln.resources:
        inst = r.instance
        assert inst.state == "active" and inst.ctype == DI, inst
        di = inst.dialog_info
        assert di.version == 0 and di.state == "full", di.raw
        assert di.entity == r.uri and di.dialogs == [], di.raw
    ids = [r.instance.id for r in ln.resources]
    assert len(set(ids)) == len(ids), ids


def test_not_a_list_is_an_ordinary_entity(stub, kam, phones):
    w = phones("watcher")
    sub = subscribe_list(w, target=uri("204"))
    r = sub.responses[-1]
    assert r.status == 200, r.first_line()
    assert "eventlist" not in [v.strip().lower() for v in
                               r.get_all("Require")]
    n = sub.next_notify()
    assert n.content_type.startswith(DI), n.content_type
    if module_knows("list_url"):
        assert stub.count("list", uri("204")) >= 1


# -- changes: partial state, versions, stable ids ----------------------------
def test_partial_notify_per_change_and_versions(stub, kam, phones):
    a, p201, w = phones("alice"), phones("201"), phones("reception")
    sub = subscribe_list(w)
    assert_list_200(sub)
    _, first = next_list(sub)
    ids = {r.uri: r.instance.id for r in first.resources}
    call = a.call("201")
    inc = p201.wait_incoming()
    ln, di = until_state(sub, MEMBERS[0], "early", 1)
    assert ln.resources[0].instance.id == ids[MEMBERS[0]]
    v = ln.version
    inc.answer()
    ln, di = until_state(sub, MEMBERS[0], "confirmed", v + 1)
    assert ln.version == v + 1
    assert call.bye().status == 200
    ln, di = until_state(sub, MEMBERS[0], "terminated", v + 2)
    assert ln.version == v + 2 and di.version == v + 2


def test_refresh_is_full_state_versions_continue(stub, kam, phones):
    a, p202, w = phones("alice"), phones("202"), phones("reception")
    sub = subscribe_list(w)
    assert_list_200(sub)
    _, first = next_list(sub)
    ids = {r.uri: r.instance.id for r in first.resources}
    call = a.call("202")
    p202.wait_incoming()
    ln, _ = until_state(sub, MEMBERS[1], "early", 1)
    v = ln.version
    r = sub.refresh(600, headers=SUPPORTED)
    assert_list_200(sub)
    _, ln = next_list(sub)
    assert ln.full and ln.version == v + 1, (ln.full, ln.version)
    got = ln.by_uri()
    assert sorted(got) == sorted(MEMBERS)
    assert member_state(got[MEMBERS[1]]).version == v + 1, \
        "member versions count per (subscription, member)"
    assert member_state(got[MEMBERS[0]]).version == 1
    assert {u: got[u].instance.id for u in got} == ids, \
        "instance ids must be stable for the subscription's life"
    assert [d.state for d in member_state(got[MEMBERS[1]]).dialogs] == \
        ["early"]
    call.cancel()
    assert r.status == 200


def test_list_full_state_param(stub, make_proxy, phones):
    stub.set_list(LIST, MEMBERS)
    make_proxy(**list_params(stub, list_full_state=1))
    a, p203, w = phones("alice"), phones("203"), phones("reception")
    sub = subscribe_list(w)
    assert_list_200(sub)
    next_list(sub)
    a.call("203")
    p203.wait_incoming()
    version = 1
    while True:  # "trying", then "early" (see until_state)
        _, ln = next_list(sub)
        assert ln.full and ln.version == version
        assert sorted(r.uri for r in ln.with_state()) == sorted(MEMBERS)
        st = member_state(ln.by_uri()[MEMBERS[2]]).dialogs[0].state
        if st == "early":
            break
        assert st == "trying", st
        version += 1


def test_unsubscribe_final_notify_terminated(stub, kam, phones):
    w = phones("reception")
    sub = subscribe_list(w)
    assert_list_200(sub)
    next_list(sub)
    assert sub.unsubscribe().status == 200
    n, ln = next_list(sub)
    assert n.state == "terminated", n.subscription_state
    assert blfutil.subscriptions(kam) == []


# -- membership changes ------------------------------------------------------
def test_member_added_and_removed(stub, make_proxy, phones):
    stub.set_list(LIST, MEMBERS[:2], max_age=1)
    kam = make_proxy(**list_params(stub))
    w = phones("reception")
    sub = subscribe_list(w)
    assert_list_200(sub)
    _, first = next_list(sub)
    assert [r.uri for r in first.resources] == MEMBERS[:2]
    stub.set_list(LIST, [MEMBERS[1], MEMBERS[2]], max_age=1)
    kam.rpc("blf.flush_lists")
    # the change reaches the live subscription without a new SUBSCRIBE
    n = sub.wait_notify(lambda n: MEMBERS[2] in n.body, timeout=10,
                        what="the added member")
    ln = rfc4662.parse(n)
    got = ln.by_uri()
    assert got[MEMBERS[2]].instance.state == "active"
    assert member_state(got[MEMBERS[2]]).version == 0
    removed = got.get(MEMBERS[0])
    if removed is None:  # sent in its own NOTIFY
        n = sub.wait_notify(lambda n: MEMBERS[0] in n.body, timeout=5)
        removed = rfc4662.parse(n).by_uri()[MEMBERS[0]]
    inst = removed.instance
    assert inst.state == "terminated" and inst.reason == "noresource", inst
    assert inst.cid is None, "a removed member carries no body"
    # then dropped: the next full state (a refresh) no longer names it
    sub.refresh(600, headers=SUPPORTED)
    _, ln = next_list(sub)
    assert ln.full and sorted(r.uri for r in ln.resources) == \
        sorted(MEMBERS[1:])


# -- size -------------------------------------------------------------------
def test_hundred_members_all_reach_the_watcher(stub, make_proxy, phones):
    members = [{"uri": uri(str(300 + i)), "name": "Desk %d" % (300 + i)}
               for i in range(100)]
    stub.set_list(LIST, members, name="Floor 3")
    make_proxy(**list_params(stub))
    w = phones("reception")
    sub = subscribe_list(w)
    assert_list_200(sub)
    got, seen = full_state(sub, 100, timeout=10)
    assert sorted(seen) == sorted(m["uri"] for m in members)
    assert got[0].version == 0
    for ln in got:
        assert len(ln.raw) < 65000, "a NOTIFY body beyond one datagram"
    ids = [r.instance.id for r in seen.values()]
    assert len(set(ids)) == 100
    # calls on several members: one partial NOTIFY each, nothing lost
    a = phones("alice")
    callees = [phones(str(300 + i)) for i in (0, 42, 99)]
    calls = [a.call(str(300 + i)) for i in (0, 42, 99)]
    for p in callees:
        p.wait_incoming()
    early = set()
    while len(early) < 3:
        _, ln = next_list(sub)
        assert not ln.full
        for r in ln.with_state():
            if any(d.state == "early" for d in member_state(r).dialogs):
                early.add(r.uri)
    assert early == {uri(str(300 + i)) for i in (0, 42, 99)}
    for c in calls:
        c.cancel()


# -- phones -------------------------------------------------------------------
@pytest.mark.parametrize("ph", phone_fixtures.PHONES, ids=lambda p: p.name)
def test_phone_list_subscription(stub, kam, phones, ph):
    w = phones("reception")
    sub = ph.subscribe(w, LIST)
    assert_list_200(sub)
    n, ln = next_list(sub)
    assert n.event.split(";")[0].strip() == ph.event
    assert ln.full and ln.version == 0
    assert sorted(r.uri for r in ln.resources) == sorted(MEMBERS)
    for r in ln.resources:
        assert r.instance.ctype == ph.body_type, r.instance


def test_presence_list_parts_are_pidf(stub, kam, phones):
    w = phones("reception")
    sub = subscribe_list(w, event="presence", accept=(
        "application/pidf+xml, multipart/related, application/rlmi+xml"))
    assert_list_200(sub)
    _, ln = next_list(sub)
    for r in ln.resources:
        assert r.instance.ctype == "application/pidf+xml", r.instance
        assert b"urn:ietf:params:xml:ns:pidf" in r.instance.body


# -- RPC -----------------------------------------------------------------------
def test_rpc_lists_flush_and_subscriptions(stub, kam, phones):
    w = phones("reception")
    sub = subscribe_list(w)
    assert_list_200(sub)
    next_list(sub)
    lists = blfutil.listing(kam, "blf.lists", "uri")
    mine = [x for x in lists if str(x["uri"]).replace("sip:", "") ==
            LIST.replace("sip:", "")]
    assert mine, "blf.lists does not show %s: %s" % (LIST, lists)
    assert str(mine[0]).count("sip:20") >= 3 or \
        int(mine[0].get("members", 0)) == 3, mine[0]
    subs = blfutil.subscriptions(kam)
    assert len(subs) == 1 and "reception" in str(subs[0]["entity"]), subs
    assert "3" in str(subs[0].get("members", "")), \
        "blf.subscriptions should show the list's member count: %s" % subs
    kam.rpc("blf.flush_lists")
    assert not [x for x in blfutil.listing(kam, "blf.lists", "uri")
                if "reception" in str(x["uri"])]
    # a flushed cache is fetched again on the next SUBSCRIBE
    mark = stub.mark()
    sub2 = subscribe_list(phones("reception2"))
    assert_list_200(sub2)
    assert stub.count("list", LIST, since=mark) == 1


# -- persistence ---------------------------------------------------------------
def test_list_subscription_survives_restart(stub, kamailio_factory,
                                            monkeypatch, phones, tmp_path):
    """SPEC: lists persist like any subscription: after a restart the next
    NOTIFY continues the RLMI version and the member's own version, with the
    same instance id and a higher CSeq, without a new SUBSCRIBE."""
    import dbutil
    monkeypatch.setattr(kamproc, "Kamailio",
                        dbutil.with_db_modules(["db_sqlite.so"]))
    stub.set_list(LIST, MEMBERS)
    kam = kamailio_factory(blf=True, track=True, fr_timer=2000, params=dict(
        list_params(stub), db_url="sqlite:///" + str(tmp_path / "blf.db"),
        db_flush_interval=1))
    a, p202, w = phones("alice"), phones("202"), phones("reception")
    sub = subscribe_list(w)
    assert_list_200(sub)
    n0, first = next_list(sub)
    ids = {r.uri: r.instance.id for r in first.resources}
    dbutil.restart(kam)
    assert p202.register().status == 200
    call = a.call("202")
    p202.wait_incoming()
    n1, ln = next_list(sub, timeout=10)
    assert n1.cseq > n0.cseq
    assert ln.version == 1 and not ln.full, (ln.version, ln.full)
    r = ln.by_uri()[MEMBERS[1]]
    assert r.instance.id == ids[MEMBERS[1]]
    assert member_state(r).version == 1
    call.cancel()


# -- a broken or hostile list service ------------------------------------------
def test_list_service_down_uri_stands_for_itself(stub, kam, phones):
    """As for aliases: no answer and nothing cached -> the URI stands for
    itself (an ordinary entity), answered within http_timeout."""
    stub.set_mode("error", path="list")
    w = phones("reception")
    sub = subscribe_list(w, target=uri("reception-down"))
    r = sub.responses[-1]
    assert r.status == 200, r.first_line()
    assert "eventlist" not in [v.strip().lower() for v in
                               r.get_all("Require")]
    assert sub.next_notify().content_type.startswith(DI)


def test_hostile_members_are_skipped(stub, make_proxy, phones):
    stub.set_list(LIST, [MEMBERS[0], "sip:evil@blf.test\r\nX-Evil: 1",
                         'sip:"<b>"@blf.test', 12, None, {"uri": "tel:123"},
                         {"uri": MEMBERS[1], "name": "a\r\nb"},
                         {"uri": MEMBERS[2], "name": "<Boss> & \"Co\""}])
    make_proxy(**list_params(stub))
    w = phones("reception")
    sub = subscribe_list(w)
    assert_list_200(sub)
    _, ln = next_list(sub)
    assert [r.uri for r in ln.resources] == [MEMBERS[0], MEMBERS[2]], \
        [r.uri for r in ln.resources]
    assert ln.by_uri()[MEMBERS[2]].name == "<Boss> & \"Co\""
    assert "X-Evil" not in ln.raw.decode("utf-8", "replace")


def test_stale_list_used_when_the_service_fails(stub, make_proxy, phones):
    stub.set_list(LIST, MEMBERS, max_age=1)
    make_proxy(**list_params(stub))
    sub = subscribe_list(phones("reception"))
    assert_list_200(sub)
    next_list(sub)
    stub.set_mode("error", path="list")
    mark = stub.mark()
    # fetches (Expires: 0) until the answer went stale and was asked again:
    # that refetch fails, and the stale list must still be used
    w2 = phones("reception2")

    def refetched():
        subscribe_list(w2, expires=0)
        return stub.count("list", LIST, since=mark) > 0

    blfutil.poll(refetched, timeout=6, interval=0.3,
                 what="a refetch of the stale list")
    sub2 = subscribe_list(w2)
    assert_list_200(sub2)
    _, ln = next_list(sub2)
    assert sorted(r.uri for r in ln.resources) == sorted(MEMBERS)


@pytest.mark.parametrize("mode", ["garbage", "huge", "close", "slow"])
def test_hostile_list_service_uri_stands_for_itself(stub, make_proxy, phones,
                                                    mode):
    """A list service answering garbage, more than http_max_body, closing
    the connection or slower than http_timeout: the SUBSCRIBE is answered
    within http_timeout (plus slack) as an ordinary entity, and Kamailio
    stays up (a second SUBSCRIBE is served too)."""
    import time
    stub.set_mode(mode, path="list", delay_ms=3000 if mode == "slow" else 0)
    kam = make_proxy(**list_params(stub, http_timeout=500))
    w = phones("watcher")
    t0 = time.monotonic()
    sub = subscribe_list(w, target=uri("hostile-" + mode))
    took = time.monotonic() - t0
    r = sub.responses[-1]
    assert r.status == 200, r.first_line()
    assert "eventlist" not in [v.strip().lower() for v in
                               r.get_all("Require")]
    assert sub.next_notify().content_type.startswith(DI)
    assert took < 2.0, "SUBSCRIBE waited %.1f s for the list service" % took
    assert stub.count("list", uri("hostile-" + mode)) >= 1
    sub2 = subscribe_list(phones("watcher2"), target=uri("204"))
    assert sub2.responses[-1].status == 200
    assert kam.running


def _stat(kam, name):
    """A blf statistic (kex stats.get_statistics); None when missing."""
    res = kam.rpc("stats.get_statistics", "blf:")
    for line in (res if isinstance(res, list) else [res]):
        if isinstance(line, str) and line.startswith("blf:%s = " % name):
            return int(line.split("=", 1)[1])
    return None


def test_list_waiters_bounded_in_total(stub, make_proxy, phones):
    """A slow list service holds at most list_wait_workers SIP workers (1
    here, of the proxy's 4): SUBSCRIBEs to other URIs lacking an answer
    meanwhile are not held back. Their URIs stand for themselves, as when
    the service does not answer: 200, an ordinary dialog NOTIFY, at once;
    counted in list_nowait, with a NOTICE. A REGISTER is served meanwhile."""
    import time
    from concurrent.futures import ThreadPoolExecutor
    stub.set_mode("slow", path="list", delay_ms=20000)
    kam = make_proxy(**list_params(stub, http_timeout=3000,
                                   list_wait_workers=1))
    ws = [phones("lw%d" % i, register=False) for i in range(4)]
    before = _stat(kam, "list_nowait")

    def one(i):
        t0 = time.monotonic()
        sub = subscribe_list(ws[i], target=uri("slow-%d" % i))
        return sub, time.monotonic() - t0

    with ThreadPoolExecutor(len(ws)) as pool:
        first = pool.submit(one, 0)
        blfutil.poll(lambda: stub.count("list", uri("slow-0")) == 1, 2,
                     what="the first list question")
        rest = [pool.submit(one, i) for i in range(1, len(ws))]
        t0 = time.monotonic()
        r = phones("lreg", register=False).register()
        took_reg = time.monotonic() - t0
        rest = [f.result() for f in rest]
        sub0, took0 = first.result()
    assert r.status == 200 and took_reg < 1.0, (r.first_line(), took_reg)
    for sub, took in rest:
        resp = sub.responses[-1]
        assert resp.status == 200, resp.first_line()
        assert "eventlist" not in [v.strip().lower() for v in
                                   resp.get_all("Require")]
        assert took < 1.0, "a SUBSCRIBE waited %.1f s (bound taken)" % took
        assert sub.next_notify().content_type.startswith(DI)
    # the one that waited (its answer never came; a retransmission not
    # held back may answer it first), then an ordinary entity too
    assert sub0.responses[-1].status == 200, sub0.responses[-1].first_line()
    assert took0 > max(t for _, t in rest) + 0.5, (took0, rest)
    # the three, and the first one's retransmissions past its rider's
    # place (one beside it here)
    assert _stat(kam, "list_nowait") - before >= 3
    assert "list_wait_workers busy" in kam.log()
    assert kam.running


def test_list_answered_after_the_subscribe_ends_it_deactivated(
        stub, make_proxy, phones):
    """A list SUBSCRIBE (Supported: eventlist) that no SIP worker may wait
    for (list_wait_workers, 1 here, taken by another URI's question, as in
    a boot storm of phones): 200 as an ordinary entity at once, as before.
    When its answer comes and says list, that subscription ends with
    terminated;reason=deactivated (RFC 6665 section 4.1.3: subscribe again
    at once) instead of showing nothing until its refresh, and the phone's
    new SUBSCRIBE gets the list. A watcher without Supported: eventlist
    (it could not take the list) keeps its ordinary subscription."""
    import time
    from concurrent.futures import ThreadPoolExecutor
    stub.set_list(LIST, MEMBERS)
    stub.set_mode("slow", path="list", delay_ms=700)
    kam = make_proxy(**list_params(stub, http_timeout=3000,
                                   list_wait_workers=1))
    w = phones("reception")
    with ThreadPoolExecutor(1) as pool:
        other = pool.submit(subscribe_list, phones("otherw"),
                            target=uri("not-a-list"))
        blfutil.poll(lambda: stub.count("list", uri("not-a-list")) == 1, 2,
                     what="the other URI's list question")
        t0 = time.monotonic()
        sub = subscribe_list(w)
        took = time.monotonic() - t0
        plain = phones("plainw").subscribe(LIST, expires=600)
        assert other.result().responses[-1].status == 200
    r = sub.responses[-1]
    assert r.status == 200, r.first_line()
    assert took < 0.5, "the SUBSCRIBE waited %.1f s" % took
    assert "eventlist" not in [v.strip().lower() for v in
                               r.get_all("Require")]
    assert sub.next_notify().content_type.startswith(DI)
    assert plain.responses[-1].status == 200, \
        plain.responses[-1].first_line()
    assert plain.next_notify().content_type.startswith(DI)
    fin = sub.next_notify(timeout=5)
    state = fin.msg.get("Subscription-State", "")
    assert state.startswith("terminated") and "reason=deactivated" in state, \
        state
    stub.set_mode("ok", path="list")
    sub2 = subscribe_list(w)
    assert_list_200(sub2)
    _, ln = next_list(sub2)
    assert sorted(r.uri for r in ln.resources) == sorted(MEMBERS)
    callids = [x.get("callid") for x in blfutil.subscriptions(kam)]
    assert plain.call_id in callids and sub.call_id not in callids, callids
    assert "made before the list service answered ended" in kam.log()


def test_failed_list_question_asked_again_then_deactivated(
        stub, make_proxy, phones):
    """The list service fails when a phone's BLF-list key subscribes (a
    service restarting with the phones): 200 as an ordinary entity, as
    before. Nothing else subscribes, yet the module asks again, no more
    often than every BLF_HC_RETRY_S (5 s); when the service answers "list",
    the subscription ends with terminated;reason=deactivated and the
    phone's new SUBSCRIBE gets the list. A watcher without Supported:
    eventlist keeps its ordinary subscription."""
    import time
    stub.set_list(LIST, MEMBERS)
    stub.set_mode("error", path="list")
    kam = make_proxy(**list_params(stub))
    w = phones("reception")
    mark = stub.mark()
    sub = subscribe_list(w)
    r = sub.responses[-1]
    assert r.status == 200, r.first_line()
    assert "eventlist" not in [v.strip().lower() for v in
                               r.get_all("Require")]
    assert sub.next_notify().content_type.startswith(DI)
    plain = phones("plainw").subscribe(LIST, expires=600)
    assert plain.responses[-1].status == 200, \
        plain.responses[-1].first_line()
    assert plain.next_notify().content_type.startswith(DI)
    # asked again while it fails, spaced: 7 s hold at most 1 + 2 questions
    # after the first (the SUBSCRIBEs' own may add one within the 5 s)
    blfutil.poll(lambda: stub.count("list", LIST, since=mark) >= 2, 12,
                 what="the list question asked again with no SUBSCRIBE")
    time.sleep(2)
    asked = stub.count("list", LIST, since=mark)
    assert asked <= 4, "asked %d times in about 7 s" % asked
    stub.set_mode("ok", path="list")
    fin = sub.next_notify(timeout=12)
    state = fin.msg.get("Subscription-State", "")
    assert state.startswith("terminated") and "reason=deactivated" in state, \
        state
    sub2 = subscribe_list(w)
    assert_list_200(sub2)
    _, ln = next_list(sub2)
    assert sorted(r.uri for r in ln.resources) == sorted(MEMBERS)
    callids = [x.get("callid") for x in blfutil.subscriptions(kam)]
    assert plain.call_id in callids and sub.call_id not in callids, callids
    assert kam.running


def test_list_max_members_bounds_a_list(stub, make_proxy, phones):
    members = [uri(str(400 + i)) for i in range(10)]
    stub.set_list(LIST, members)
    make_proxy(**list_params(stub, list_max_members=4))
    sub = subscribe_list(phones("reception"))
    assert_list_200(sub)
    _, ln = next_list(sub)
    assert [r.uri for r in ln.resources] == members[:4]


def test_members_shown_with_the_watchers_visibility(stub, make_proxy, phones):
    """visibility_url per (member, watcher): a member the watcher may see
    `state` of carries no Call-ID, tags or identities in its part; one it
    may not see (`none`) is a terminated instance, reason rejected, without
    a part; the others in full. Rules not known yet show the member as
    rejected until the answer arrives (never more than allowed)."""
    if not module_knows("visibility_url"):
        pytest.skip("module without visibility_url")
    stub.set_list(LIST, MEMBERS)
    stub.set_visibility(MEMBERS[0], uri("reception"), "state")
    stub.set_visibility(MEMBERS[1], uri("reception"), "none")
    stub.set_visibility(MEMBERS[2], uri("reception"), "full")
    make_proxy(**list_params(stub, visibility_url=stub.visibility_url))
    a, p201, p203 = phones("alice"), phones("201"), phones("203")
    w = phones("reception")
    sub = subscribe_list(w)
    assert_list_200(sub)
    calls = [a.call("201"), a.call("203")]
    p201.wait_incoming()
    p203.wait_incoming()
    latest = {}

    def settled(n):
        ln = rfc4662.parse(n)
        for r in ln.resources:
            if r.instance is not None:
                latest[r.uri] = r.instance
        i0, i1, i2 = (latest.get(m) for m in MEMBERS)
        return (i0 is not None and i0.state == "active" and i0.dialog_info
                and i0.dialog_info.dialogs
                and i0.dialog_info.dialogs[0].state == "early"
                and i1 is not None and i2 is not None
                and i2.state == "active" and i2.dialog_info
                and i2.dialog_info.dialogs
                and i2.dialog_info.dialogs[0].state == "early")

    sub.wait_notify(settled, timeout=10, what="members shown per visibility")
    body0 = latest[MEMBERS[0]].body.decode()
    assert calls[0].call_id not in body0 and "alice" not in body0, body0
    assert latest[MEMBERS[1]].state == "terminated" and \
        latest[MEMBERS[1]].reason == "rejected" and \
        latest[MEMBERS[1]].cid is None, latest[MEMBERS[1]]
    body2 = latest[MEMBERS[2]].body.decode()
    assert calls[1].call_id in body2 and "alice" in body2, body2
    for c in calls:
        c.cancel()
