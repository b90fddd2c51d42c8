"""Checks of the test harness itself against stock Kamailio (no blf.so).

They prove that sipua's calls, CANCEL, forking, re-INVITE, Replaces and
digest REGISTER work through a real proxy, and that its SUBSCRIBE/NOTIFY
side and rfc4235.py work against the stock presence + pua_dialoginfo
stack, so a failure in the blf tests points at the module.
"""

import pytest

import blfutil
import rfc4235


@pytest.fixture
def stock(kamailio_factory):
    return kamailio_factory(blf=False)


def test_call_answered_caller_hangs_up(stock, phones):
    a, b = phones("alice", display="Alice A"), phones("bob")
    call = a.call("bob")
    inc = b.wait_incoming()
    call.wait_state("early")
    assert call.remote_tag == inc.local_tag
    inc.answer()
    call.wait_state("confirmed")
    assert inc.acked
    assert call.bye().status == 200
    inc.wait_state("terminated")
    assert inc.end == "bye-received"
    assert inc.remote_tag == call.local_tag


def test_call_callee_hangs_up(stock, phones):
    a, b = phones("alice"), phones("bob", invite_policy="answer")
    call = a.call("bob").wait_state("confirmed")
    inc = b.incoming[0]
    inc.wait_state("confirmed")
    assert inc.bye().status == 200
    call.wait_state("terminated")
    assert call.end == "bye-received"


def test_cancel(stock, phones):
    a, b = phones("alice"), phones("bob")
    call = a.call("bob").wait_state("early")
    inc = b.wait_incoming()
    assert call.cancel().status == 200
    call.wait_state("terminated")
    assert call.code == 487
    inc.wait_state("terminated")
    assert inc.end == "cancelled"


def test_reject(stock, phones):
    a, _ = phones("alice"), phones("bob", invite_policy=486)
    call = a.call("bob").wait_state("terminated")
    assert call.code == 486 and call.end == "rejected"


def test_unregistered_404(stock, phones):
    a = phones("alice")
    call = a.call("nobody").wait_state("terminated")
    assert call.code == 404


def test_forking_other_branch_cancelled(stock, phones):
    a = phones("alice")
    b1, b2 = phones("bob"), phones("bob")
    call = a.call("bob")
    i1, i2 = b1.wait_incoming(), b2.wait_incoming()
    call.wait_state("early")
    i2.answer()
    call.wait_state("confirmed")
    assert call.remote_tag == i2.local_tag
    i1.wait_state("terminated")
    assert i1.end == "cancelled"
    call.bye()
    i2.wait_state("terminated")


def test_hold_reinvite(stock, phones):
    a, b = phones("alice"), phones("bob", invite_policy="answer")
    call = a.call("bob").wait_state("confirmed")
    inc = b.incoming[0]
    assert call.hold().status == 200
    assert b"a=sendonly" in inc.requests[-1].body
    assert call.unhold().status == 200
    assert call.bye().status == 200


def test_replaces_pickup_flow(stock, phones):
    """C picks up B's ringing call by INVITE/Replaces sent to caller A."""
    a, b, c = phones("alice"), phones("bob"), phones("carol")
    orig = a.call("bob").wait_state("early")
    b.wait_incoming()
    # RFC 3891 from A's point of view: to-tag = A's tag, from-tag = B's
    pick = c.call("alice", replaces=(orig.call_id, orig.local_tag,
                                     orig.remote_tag))
    pick.wait_state("confirmed")
    rep = a.incoming[0]
    assert rep.replaces is orig
    orig.wait_state("terminated")
    assert orig.end == "replaced" and orig.code == 487
    b.incoming[0].wait_state("terminated")
    assert pick.bye().status == 200


def test_replaces_unknown_dialog_481(stock, phones):
    a, c = phones("alice"), phones("carol")
    pick = c.call("alice", replaces=("nope@x", "t1", "t2"))
    pick.wait_state("terminated")
    assert pick.code == 481
    assert a.incoming[0].replaces is None


def test_register_digest(kamailio_factory, phones):
    kamailio_factory(blf=False, auth=True)
    ok = phones("alice", register=False, password="secret")
    assert ok.register().status == 200
    bad = phones("bob", register=False, password="wrong")
    assert bad.register().status == 401


def test_subscribe_without_handler_489(stock, phones):
    w = phones("watcher")
    sub = w.subscribe("bob")
    assert sub.responses[-1].status == 489


@pytest.fixture
def presence(kamailio_factory):
    return kamailio_factory(blf=False, presence=True)


def test_stock_presence_dialog_notifies(presence, phones):
    """SUBSCRIBE/NOTIFY plumbing and rfc4235 parsing on the stock stack."""
    a, b = phones("alice"), phones("bob")
    w = phones("watcher")
    sub = w.subscribe("bob", expires=120)
    r = sub.responses[-1]
    assert r.status in (200, 202), r.first_line()
    assert r.get("Expires")
    lamp = blfutil.Lamp(sub, allow_empty=True)
    n, info = lamp.pump(5)
    assert n.state in ("active", "pending")
    call = a.call("bob")
    inc = b.wait_incoming()
    lamp.wait_state("early", timeout=5)
    inc.answer()
    call.wait_state("confirmed")
    d = lamp.wait_state("confirmed", timeout=5)
    assert d.call_id == call.call_id
    call.bye()
    lamp.wait_state("terminated", timeout=5)
    assert sub.refresh(120).status in (200, 202)
    assert sub.unsubscribe().status in (200, 202)
    fin = lamp.wait_final(5)
    assert fin.state == "terminated"


def test_rfc4235_rejects_bad_state():
    body = ('<?xml version="1.0"?><dialog-info xmlns="urn:ietf:params:xml:ns:'
            'dialog-info" version="0" state="full" entity="sip:a@b">'
            '<dialog id="1"><state>ringing</state></dialog></dialog-info>')
    with pytest.raises(rfc4235.InvalidBody):
        rfc4235.parse(body)
    with pytest.raises(rfc4235.InvalidBody):
        rfc4235.parse(body.replace('version="0" ', ""))
    ok = rfc4235.parse(body.replace("ringing", "early"))
    assert ok.dialogs[0].state == "early" and ok.version == 0


def test_kamcmd_parser():
    text = "{\n\twatcher: sip:w@x\n\tversion: 3\n\tdialogs: {\n\t\tid: 1\n" \
           "\t}\n}\n{\n\twatcher: sip:v@x\n}\n"
    got = blfutil.parse_kamcmd(text)
    assert got == [{"watcher": "sip:w@x", "version": 3,
                    "dialogs": {"id": 1}}, {"watcher": "sip:v@x"}]
