"""Presence NOTIFYs that would carry nothing new are not sent (README
"Presence"): a change that leaves the PIDF as the watcher last got it
(trying -> early: both "Ringing"; a second call while on the phone; a
re-REGISTER of a registered phone) sends no presence NOTIFY, while the
dialog and reg watchers of the same changes still get theirs. A new
subscription, a refresh and the final NOTIFY are unaffected, and the CSeqs
of the NOTIFYs that are sent stay contiguous.

The dialog (or reg) watcher of the same entity is the barrier: its NOTIFY
of a change goes out in the same batch as any presence NOTIFY of that
change, and blf.stats' counters (notifies_sent_presence,
notifies_unchanged) are exact, so no test here sleeps to prove a NOTIFY
did not come. Every PIDF is validated against tests/schema/ (pidfutil).
"""

import blfutil
import kamproc
import pidfutil
from httpstub import stub  # noqa: F401  (pytest fixture)
from httputil import http_params, uri
from pidfutil import ON_THE_PHONE, READY, RINGING, UNAVAILABLE

DOMAIN = kamproc.DOMAIN


def summaries(pw):
    pw.drain()
    return [d.summary() for _, d in pw.seen if d is not None]


def row(want):
    basic, acts, note = want
    return (basic, sorted(acts), note)


def cseqs(watch):
    return [int(n.msg.get("CSeq").split()[0]) for n, _ in watch.seen]


def stat(kam, name):
    """blf:<name> (kex stats.get_statistics); it must exist"""
    res = kam.rpc("stats.get_statistics", "blf:")
    for line in (res if isinstance(res, list) else [res]):
        if isinstance(line, str) and line.startswith("blf:%s = " % name):
            return int(line.split("=", 1)[1])
    raise AssertionError("no blf:%s in %r" % (name, res))


def counters(kam):
    return (stat(kam, "notifies_sent_presence"),
            stat(kam, "notifies_unchanged"))


def wait_sent(kam, n, what):
    """blf:notifies_sent_presence reaches n (counted after each send)."""
    return blfutil.poll(lambda: counters(kam)[0] >= n and counters(kam),
                        5.0, what=what)


def counted(kam, *watches):
    """The counters once blf:notifies_sent_presence includes every presence
    NOTIFY these watchers got: the count follows the send, so a watcher
    (above all with notify_direct=0, through tm) can see a NOTIFY before
    it is counted."""
    n = 0
    for w in watches:
        w.drain()
        n += len(w.seen)
    return wait_sent(kam, n, "%d presence NOTIFYs counted" % n)


def test_trying_early_confirmed_only_changed_pidfs(kamailio_factory,
                                                   phones):
    kam = kamailio_factory(blf=True, track=True, usrloc=True)
    alice = phones("alice")
    bob = phones("bob")  # rings (180) until answered
    pw = pidfutil.watch(phones("w", register=False), "bob")
    lamp = blfutil.watch(phones("dw", register=False), "bob")
    pidfutil.assert_state(pw.current, READY)

    call = alice.call("bob")
    inc = bob.wait_incoming()
    call.wait_state("early")
    lamp.wait_state("early", timeout=3)
    pw.wait_state(RINGING, 3)
    inc.answer()
    call.wait_state("confirmed")
    lamp.wait_state("confirmed", timeout=3)
    pw.wait_state(ON_THE_PHONE, 3)
    assert call.bye().status == 200
    lamp.wait_state("terminated", call.call_id, timeout=3)
    pw.wait_state(READY, 3)

    sent, unchanged = wait_sent(kam, 4, "4 presence NOTIFYs")
    got = summaries(pw)
    assert got == [row(READY), row(RINGING), row(ON_THE_PHONE),
                   row(READY)], got
    # each one differs from the one before: none carried nothing new
    bodies = [d.raw for _, d in pw.seen]
    assert all(a != b for a, b in zip(bodies, bodies[1:])), bodies
    assert sent == 4, "notifies_sent_presence %d, watcher got %s" % (
        sent, got)
    # the dialog watcher saw more changes than presence did: every call
    # state the tracker reported (trying/proceeding/early) that kept
    # "Ringing" was one NOTIFY not sent
    states = lamp.history()
    assert "early" in states and "confirmed" in states, states
    assert unchanged >= 1, "no NOTIFY was found unchanged (states %s)" % (
        states,)
    # the CSeqs of the presence subscription's NOTIFYs have no gap
    cs = cseqs(pw)
    assert cs == list(range(cs[0], cs[0] + len(cs))), cs


def test_second_call_while_on_the_phone_no_notify(kamailio_factory,
                                                  phones):
    kam = kamailio_factory(blf=True, track=True, usrloc=True)
    alice, carol = phones("alice"), phones("carol")
    bob = phones("bob")
    pw = pidfutil.watch(phones("w", register=False), "bob")
    lamp = blfutil.watch(phones("dw", register=False), "bob")

    first = alice.call("bob")
    bob.wait_incoming().answer()
    first.wait_state("confirmed")
    lamp.wait_state("confirmed", first.call_id, timeout=3)
    pw.wait_state(ON_THE_PHONE, 3)
    sent0, unchanged0 = counted(kam, pw)

    # a second call rings while bob talks: still "On the phone"
    second = carol.call("bob")
    bob.wait_incoming()
    second.wait_state("early")
    lamp.wait_state("early", second.call_id, timeout=3)
    second.cancel()
    lamp.wait_state("terminated", second.call_id, timeout=3)
    sent1, unchanged1 = blfutil.poll(
        lambda: counters(kam)[1] > unchanged0 and counters(kam), 5.0,
        what="the second call's changes counted as unchanged")
    assert sent1 == sent0, "a presence NOTIFY was sent for the second call"
    pw.drain()
    assert summaries(pw)[-1] == row(ON_THE_PHONE)

    assert first.bye().status == 200
    pw.wait_state(READY, 3)
    assert summaries(pw) == [row(READY), row(RINGING), row(ON_THE_PHONE),
                             row(READY)], summaries(pw)
    cs = cseqs(pw)
    assert cs == list(range(cs[0], cs[0] + len(cs))), cs


def test_reregister_reg_notified_presence_not(kamailio_factory, phones):
    kam = kamailio_factory(blf=True, track=True, usrloc=True)
    bob = phones("bob")
    pw = pidfutil.watch(phones("w", register=False), "bob")
    rw = pidfutil.watch(bob, "bob", package="reg")
    pidfutil.assert_state(pw.current, READY)
    sent0, unchanged0 = counted(kam, pw)

    assert bob.register(expires=1800).status == 200
    # reg's watcher gets the refresh (the barrier) ...
    n, d = rw.pump(3, "the re-REGISTER's reginfo")
    assert any(c.event in ("refreshed", "shortened") for c in d.contacts), \
        d.raw
    # ... presence's does not: the document would be the same
    sent1, unchanged1 = blfutil.poll(
        lambda: counters(kam)[1] > unchanged0 and counters(kam), 5.0,
        what="the re-REGISTER counted as unchanged")
    assert sent1 == sent0
    assert len(summaries(pw)) == 1

    # a refresh of the presence subscription still gets its NOTIFY
    assert pw.sub.refresh(600).status == 200
    n, doc = pw.pump(3, "the refresh's NOTIFY")
    pidfutil.assert_state(doc, READY)

    # and a real change still goes out
    assert bob.register(expires=0).status == 200
    pw.wait_state(UNAVAILABLE, 3)
    # the final NOTIFY of an unsubscribe is unaffected
    assert pw.sub.unsubscribe().status == 200
    fin = pw.wait_final(3)
    assert fin.state == "terminated"
    cs = cseqs(pw)
    assert cs == list(range(cs[0], cs[0] + len(cs))), cs


def test_new_subscription_gets_the_unchanged_document(kamailio_factory,
                                                      phones):
    """A watcher that subscribes after a suppressed change gets the
    current document; the next real change reaches both watchers."""
    kam = kamailio_factory(blf=True, track=True, usrloc=True)
    bob = phones("bob")
    pw1 = pidfutil.watch(phones("w1", register=False), "bob")
    rw = pidfutil.watch(bob, "bob", package="reg")
    _, unchanged0 = counters(kam)
    assert bob.register(expires=1800).status == 200
    rw.pump(3, "the re-REGISTER's reginfo")
    blfutil.poll(lambda: counters(kam)[1] > unchanged0, 5.0,
                 what="the re-REGISTER counted as unchanged")
    pw2 = pidfutil.watch(phones("w2", register=False), "bob")
    pidfutil.assert_state(pw2.current, READY)
    assert bob.register(expires=0).status == 200
    for pw in (pw1, pw2):
        pw.wait_state(UNAVAILABLE, 3)
        assert summaries(pw) == [row(READY), row(UNAVAILABLE)], \
            summaries(pw)


def test_publish_refresh_no_notify_modify_notifies(kamailio_factory,
                                                   phones):
    """A PUBLISH refresh (SIP-If-Match, no body) keeps the document: no
    presence NOTIFY; a modify that changes it: one."""
    kam = kamailio_factory(blf=True, track=True, usrloc=True, publish=True)
    bob = phones("bob")
    bob_uri = "sip:bob@%s" % DOMAIN
    pw = pidfutil.watch(phones("w", register=False), "bob")
    r1 = pidfutil.publish(bob, body=pidfutil.pidf_body(
        bob_uri, tuple_id="pt", note="Lunch", activities=["away"]),
        expires=600)
    assert r1.status == 200, r1.first_line()
    pw.wait(lambda d: d.person.activities == ["away"], 3, "away published")
    sent0, unchanged0 = wait_sent(kam, 2, "the publication's NOTIFY")

    r2 = pidfutil.publish(bob, etag=pidfutil.etag_of(r1), expires=600)
    assert r2.status == 200, r2.first_line()
    sent1, unchanged1 = blfutil.poll(
        lambda: counters(kam)[1] > unchanged0 and counters(kam), 5.0,
        what="the refresh counted as unchanged")
    assert sent1 == sent0, "a presence NOTIFY was sent for a refresh"

    r3 = pidfutil.publish(bob, etag=pidfutil.etag_of(r2),
                          body=pidfutil.pidf_body(bob_uri, tuple_id="pt",
                                                  note="Meeting",
                                                  activities=["busy"]))
    assert r3.status == 200, r3.first_line()
    doc = pw.wait(lambda d: d.person.activities == ["busy"], 3,
                  "busy after the modify")
    assert doc.person.notes == ["Meeting"]
    pw.drain()
    assert len(pw.seen) == 3, [d.summary() for _, d in pw.seen]
    cs = cseqs(pw)
    assert cs == list(range(cs[0], cs[0] + len(cs))), cs


def test_lowered_visibility_sends_the_next_change_even_unchanged(
        kamailio_factory, phones, stub):  # noqa: F811
    """A watcher whose visibility was lowered (blf.flush_visibility) got
    its last document under the old rule: the next change is sent to it
    even when the document's inputs did not change (a re-REGISTER), and
    shows what the new rule allows."""
    e207, w1 = uri("207"), uri("w1")
    stub.set_visibility(e207, w1, "full")
    kam = kamailio_factory(blf=True, track=True, usrloc=True, publish=True,
                           params=http_params(
                               stub, alias=False,
                               visibility_url=stub.visibility_url))
    bob = phones("207")
    assert pidfutil.publish(bob, body=pidfutil.pidf_body(
        e207, tuple_id="pt", note="Lunch", activities=["away"]),
        expires=600).status == 200
    pw = pidfutil.watch(phones("w1"), "207")
    pw.wait(lambda d: "Lunch" in d.person.notes, 3, "the published note")
    stub.set_visibility(e207, w1, "state")
    r = kam.rpc("blf.flush_visibility")
    assert int(r["reevaluated"]) >= 1, r
    sent0, _ = counted(kam, pw)
    assert bob.register(expires=1800).status == 200
    doc = pw.wait(lambda d: "Lunch" not in d.raw, 3,
                  "the re-REGISTER's NOTIFY under the lowered rule")
    assert "away" in doc.person.activities, doc.raw
    assert counted(kam, pw)[0] == sent0 + 1
