"""Call tracking: what the caller's and the callee's lamps show through a
call's life (SPEC "Script functions", "NOTIFY"; RFC 4235 states/events),
with the dialog data (call-id, tags, direction, identities) checked against
the real SIP dialog."""

import pytest

import blfutil
from blfutil import colors
import sipua

ALICE, BOB = "sip:alice@blf.test", "sip:bob@blf.test"


@pytest.fixture
def scene(proxy, phones):
    """alice calls bob; watcher watches both. Returns a namespace."""
    class S:
        pass
    s = S()
    s.a = phones("alice", display="Alice Anders")
    s.b = phones("bob", display="Bob Brown")
    s.w = phones("watcher")
    s.la = blfutil.watch(s.w, "alice")
    s.lb = blfutil.watch(s.w, "bob")
    return s


def ring(s):
    call = s.a.call("bob", to_display="Bob Brown")
    inc = s.b.wait_incoming()
    call.wait_state("early")
    return call, inc


def check_caller_dialog(d, call, inc=None):
    """The caller's (alice's) view of call, against the SIP dialog."""
    assert d.call_id == call.call_id
    assert d.direction == "initiator"
    assert d.local_tag == call.local_tag, "local-tag is not alice's From tag"
    if inc is not None and d.remote_tag is not None:
        assert d.remote_tag == inc.local_tag, \
            "remote-tag is not bob's To tag"
    assert d.local is not None and d.local.identity == ALICE
    assert d.local.display == "Alice Anders"
    assert d.remote is not None and d.remote.identity == BOB
    # ring() puts "Bob Brown" in To: the caller's word, never bob's name
    assert d.remote.display is None


def check_callee_dialog(d, call, inc=None):
    """The callee's (bob's) view: local-tag = bob's To tag, remote-tag =
    alice's From tag, local identity bob, remote identity alice."""
    assert d.call_id == call.call_id
    assert d.direction == "recipient"
    assert d.remote_tag == call.local_tag, "remote-tag is not alice's tag"
    if inc is not None and d.state != "trying":
        assert d.local_tag == inc.local_tag, "local-tag is not bob's To tag"
    assert d.local is not None and d.local.identity == BOB
    # the To display is the caller's word, not bob's identity
    assert d.local.display is None
    assert d.remote is not None and d.remote.identity == ALICE
    assert d.remote.display == "Alice Anders"
    assert d.remote.target, "no remote <target> for directed pickup"
    assert sipua.uri_user_host(d.remote.target)[0] == "alice", \
        d.remote.target


def test_trying_then_early_for_both(scene):
    s = scene
    call, inc = ring(s)
    da = s.la.wait_state("early", call.call_id)
    db = s.lb.wait_state("early", call.call_id)
    check_caller_dialog(da, call, inc)
    check_callee_dialog(db, call, inc)
    assert db.local_tag == inc.local_tag and da.remote_tag == inc.local_tag
    for lamp in (s.la, s.lb):
        assert lamp.history(call.call_id) == ["trying", "early"], \
            lamp.history(call.call_id)
    call.cancel()


def test_answered_caller_hangs_up(scene):
    s = scene
    call, inc = ring(s)
    inc.answer()
    call.wait_state("confirmed")
    da = s.la.wait_state("confirmed", call.call_id)
    db = s.lb.wait_state("confirmed", call.call_id)
    check_caller_dialog(da, call, inc)
    check_callee_dialog(db, call, inc)
    assert da.remote_tag == inc.local_tag
    assert call.bye().status == 200
    da = s.la.wait_state("terminated", call.call_id)
    db = s.lb.wait_state("terminated", call.call_id)
    assert da.event == "local-bye", da
    assert db.event == "remote-bye", db
    for lamp in (s.la, s.lb):
        assert lamp.history(call.call_id) == [
            "trying", "early", "confirmed", "terminated"]
        lamp.assert_versions()


def test_answered_callee_hangs_up(scene):
    s = scene
    call, inc = ring(s)
    inc.answer()
    call.wait_state("confirmed")
    s.lb.wait_state("confirmed", call.call_id)
    assert inc.bye().status == 200
    da = s.la.wait_state("terminated", call.call_id)
    db = s.lb.wait_state("terminated", call.call_id)
    assert da.event == "remote-bye", da
    assert db.event == "local-bye", db
    for lamp in (s.la, s.lb):
        assert lamp.history(call.call_id) == [
            "trying", "early", "confirmed", "terminated"]
        lamp.assert_versions()


def test_terminated_once_then_dropped(scene):
    s = scene
    call, inc = ring(s)
    inc.answer()
    call.wait_state("confirmed")
    call.bye()
    s.lb.wait_state("terminated", call.call_id)
    s.la.wait_state("terminated", call.call_id)
    # a refresh gets the full state: the ended call is gone
    info = s.lb.refresh()
    assert info.idle, "ended call still listed: %s" % info.raw
    terms = [d for d in s.lb.dialogs(call.call_id) if d.state == "terminated"]
    assert len(terms) == 1, "terminated reported %d times" % len(terms)
    s.lb.assert_versions()


def test_cancel(scene):
    s = scene
    call, inc = ring(s)
    s.lb.wait_state("early", call.call_id)
    assert call.cancel().status == 200
    inc.wait_state("terminated")
    call.wait_state("terminated")
    for lamp in (s.la, s.lb):
        d = lamp.wait_state("terminated", call.call_id)
        assert d.event == "cancelled", d
        assert lamp.history(call.call_id) == ["trying", "early",
                                              "terminated"]
        lamp.assert_versions()


def test_rejected_486(proxy, phones):
    a = phones("alice")
    phones("bob", invite_policy=486)
    w = phones("watcher")
    la, lb = blfutil.watch(w, "alice"), blfutil.watch(w, "bob")
    call = a.call("bob").wait_state("terminated")
    assert call.code == 486
    for lamp in (la, lb):
        d = lamp.wait_state("terminated", call.call_id)
        assert d.event == "rejected" and d.code == 486, d
        assert lamp.history(call.call_id) == ["trying", "terminated"]
        lamp.assert_versions()


def test_unregistered_404_leaves_lamp_dark(proxy, phones):
    """The proxy itself answers 404 (lookup fails after blf_track()): the
    caller's lamp must not stay lit."""
    a, w = phones("alice"), phones("watcher")
    la = blfutil.watch(w, "alice")
    call = a.call("nobody").wait_state("terminated")
    assert call.code == 404
    # whatever was shown, alice ends idle: no current call in the RPC view
    blfutil.poll(lambda: not any(e.get("dialogs") for e in
                                 blfutil.entities(proxy, "alice@blf.test")),
                 3, what="alice without calls in blf.entities")
    info = la.refresh()
    assert info.idle, info.raw
    if la.history(call.call_id):  # it was shown: it must end terminated
        la.wait_state("terminated", call.call_id, timeout=2)
    hist = la.history(call.call_id)
    assert hist in ([], ["trying", "terminated"]), hist
    if hist:
        d = la.dialogs(call.call_id)[-1]
        assert d.code in (None, 404) and d.event in (None, "rejected"), d
    la.assert_versions()


def test_forking_both_ring_one_answers(proxy, phones):
    a = phones("alice")
    b1, b2 = phones("bob"), phones("bob")
    w = phones("watcher")
    lb = blfutil.watch(w, "bob")
    call = a.call("bob")
    i1, i2 = b1.wait_incoming(), b2.wait_incoming()
    lb.wait_state("early", call.call_id)
    i2.answer()
    call.wait_state("confirmed")
    i1.wait_state("terminated")
    assert i1.end == "cancelled", "the other phone was not CANCELled"
    d = lb.wait_state("confirmed", call.call_id)
    assert d.local_tag == i2.local_tag, "confirmed dialog is not the " \
        "answering phone's"
    call.bye()
    lb.wait(lambda i: all(x.state == "terminated" for x in i.dialogs) and
            i.dialogs, 3, "the call terminated")
    assert colors(lb, call.call_id) == ["idle", "trying", "early",
                                        "confirmed", "terminated"], \
        [i.raw for i in lb.infos()]
    lb.assert_versions()


def test_hold_unhold_stays_confirmed(scene):
    s = scene
    call, inc = ring(s)
    inc.answer()
    call.wait_state("confirmed")
    s.la.wait_state("confirmed", call.call_id)
    s.lb.wait_state("confirmed", call.call_id)
    assert call.hold().status == 200
    assert b"a=sendonly" in inc.requests[-1].body
    assert call.unhold().status == 200
    assert inc.hold().status == 200  # the callee holds too
    assert inc.unhold().status == 200
    call.bye()
    for lamp in (s.la, s.lb):
        lamp.wait_state("terminated", call.call_id)
        # between confirmed and terminated nothing but confirmed
        assert lamp.history(call.call_id) == [
            "trying", "early", "confirmed", "terminated"], \
            [i.raw for i in lamp.infos()]
        lamp.assert_versions()


def test_two_calls_at_once(proxy, phones):
    a, c = phones("alice"), phones("carol")
    b = phones("bob")
    w = phones("watcher")
    lb = blfutil.watch(w, "bob")
    c1 = a.call("bob")
    c2 = c.call("bob")
    b.wait_incoming()
    b.wait_incoming()
    info = lb.wait(lambda i: sorted(d.state for d in i.dialogs) ==
                   ["early", "early"], 3, "two ringing dialogs")
    assert {d.call_id for d in info.dialogs} == {c1.call_id, c2.call_id}
    assert len({d.id for d in info.dialogs}) == 2, "dialog ids not unique"
    c1.cancel()
    info = lb.wait(lambda i: [d.state for d in i.dialogs
                              if d.call_id == c2.call_id] == ["early"] and
                   not [d for d in i.dialogs if d.call_id == c1.call_id and
                        d.state != "terminated"], 3,
                   "first call gone, second still ringing")
    c2.cancel()
    lb.wait_state("terminated", c2.call_id)
    lb.assert_versions()


@pytest.mark.parametrize("track_all", [1, 0])
def test_track_all(make_proxy, phones, track_all):
    """With track_all=1 calls light lamps without blf_track(); with 0 (and
    no blf_track()) they do not."""
    make_proxy(track=False, track_all=track_all)
    a, b = phones("alice"), phones("bob", invite_policy="answer")
    w = phones("watcher")
    lb = blfutil.watch(w, "bob")
    call = a.call("bob").wait_state("confirmed")
    if track_all:
        d = lb.wait_state("confirmed", call.call_id)
        assert d.direction == "recipient"
    call.bye()
    b.incoming[0].wait_state("terminated")
    if track_all:
        lb.wait_state("terminated", call.call_id)
        assert lb.history(call.call_id)[-2:] == ["confirmed", "terminated"]
    else:
        info = lb.refresh()
        assert info.version == 1 and info.idle, \
            "untracked call reached the lamp: %s" % [
                i.raw for i in lb.infos()]
    lb.assert_versions()


def test_visibility_state_hides_call_data(make_proxy, phones):
    make_proxy(visibility="state")
    a, b = phones("alice", display="Alice"), phones("bob")
    w = phones("watcher")
    lb = blfutil.watch(w, "bob")
    call = a.call("bob")
    inc = b.wait_incoming()
    # the lamp rings before the answer: a 200 sent right behind the 180 may
    # be handled by another worker first, and "early" is then never shown
    lb.wait_state("early")
    inc.answer()
    call.wait_state("confirmed")
    d = lb.wait_state("confirmed")
    assert d.call_id is None and d.local_tag is None and \
        d.remote_tag is None, "visibility state leaks call-id/tags: %s" % (
            lb.current.raw)
    assert d.remote is None or (d.remote.identity is None and
                                d.remote.target is None), \
        "visibility state leaks the remote party: %s" % lb.current.raw
    call.bye()
    lb.wait_state("terminated")
    assert lb.history() == ["trying", "early", "confirmed", "terminated"]
    lb.assert_versions()


def test_visibility_full_has_pickup_data(proxy, phones):
    a, b = phones("alice"), phones("bob")
    w = phones("watcher")
    lb = blfutil.watch(w, "bob")
    call = a.call("bob")
    inc = b.wait_incoming()
    d = lb.wait_state("early", call.call_id)
    assert d.call_id == call.call_id
    assert d.local_tag == inc.local_tag and d.remote_tag == call.local_tag
    assert d.remote.identity == ALICE
    call.cancel()


def test_kemi_exports(kamailio_factory, phones):
    """The same routing in JavaScript: KSR.blf.handle_subscribe() and
    KSR.blf.track() do what the cfg functions do."""
    kamailio_factory(blf=True, kemi=True)
    a, b = phones("alice"), phones("bob", invite_policy="answer")
    w = phones("watcher")
    assert w.subscribe("bob", expires=30).responses[-1].status == 423
    lb = blfutil.watch(w, "bob")
    call = a.call("bob").wait_state("confirmed")
    d = lb.wait_state("confirmed", call.call_id)
    assert d.direction == "recipient" and d.remote_tag == call.local_tag
    call.bye()
    lb.wait_state("terminated", call.call_id)
    assert lb.sub.unsubscribe().status == 200
    assert lb.wait_final(2).reason == "timeout"
    lb.assert_versions()
