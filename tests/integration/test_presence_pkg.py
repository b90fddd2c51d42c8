"""The presence package's own choices (beyond test_presence.py's SPEC rows):
Content-Type exactly application/pidf+xml, no presence on the wildcard
user (403, documented), the per-package statistic blf:notifies_sent_<pkg>
counting exactly the NOTIFYs a watcher receives, and a call change reaching
dialog and presence watchers of the same entity (each in its own format).
"""

import time

import blfutil
import kamproc
import pidfutil
from pidfutil import ON_THE_PHONE, READY, RINGING

DOMAIN = kamproc.DOMAIN


def stat(kam, name):
    """A blf statistic (kex stats.get_statistics); None when unknown."""
    res = kam.rpc("stats.get_statistics", "blf:")
    for line in (res if isinstance(res, list) else [res]):
        if isinstance(line, str) and line.startswith("blf:%s = " % name):
            return int(line.split("=", 1)[1])
    return None


def test_presence_on_wildcard_user_403(kamailio_factory, phones):
    kamailio_factory(blf=True, track=True)
    w = phones("w", register=False)
    r = pidfutil.subscribe(w, "any-dn", "presence").responses[-1]
    assert r.status == 403, r.first_line()
    # the dialog package is still served there
    r = w.subscribe("any-dn", event="dialog").responses[-1]
    assert r.status == 200, r.first_line()


def test_notify_content_type_exact_and_stats_per_package(kamailio_factory,
                                                        phones):
    kam = kamailio_factory(blf=True, track=True)
    alice = phones("alice")
    phones("bob", invite_policy="answer")
    pw = pidfutil.watch(phones("p", register=False), "bob")
    dw = blfutil.watch(phones("d", register=False), "bob")
    n, _ = pw.seen[0]
    assert n.content_type == pidfutil.PIDF_CT, n.content_type
    call = alice.call("bob")
    call.wait_state("confirmed")
    pw.wait_state(ON_THE_PHONE, 3)
    dw.wait_state("confirmed")
    call.bye()
    pw.wait_state(READY, 3)
    dw.wait_idle()
    # every NOTIFY received is counted under its package, nothing else
    def same():
        pw.drain()
        dw.drain()
        return (stat(kam, "notifies_sent_presence") == len(pw.seen)
                and stat(kam, "notifies_sent_dialog") == len(dw.seen))
    blfutil.poll(same, what="per-package counters equal to NOTIFYs "
                 "received")
    assert stat(kam, "notifies_sent") == \
        stat(kam, "notifies_sent_presence") + stat(kam, "notifies_sent_dialog")
    assert stat(kam, "notifies_sent_presence") >= 3  # Ready, busy, Ready


def test_ringing_seen_by_both_caller_and_callee_watchers(kamailio_factory,
                                                         phones):
    kamailio_factory(blf=True, track=True)
    alice, bob = phones("alice"), phones("bob")
    pa = pidfutil.watch(phones("w1", register=False), "alice")
    pb = pidfutil.watch(phones("w2", register=False), "bob")
    call = alice.call("bob")
    bob.wait_incoming()
    call.wait_state("early")
    for pw in (pa, pb):
        d = pw.wait_state(RINGING, 3)
        assert d.entity in ("sip:alice@%s" % DOMAIN, "sip:bob@%s" % DOMAIN)
    call.cancel()
    for pw in (pa, pb):
        pw.wait_state(READY, 3)


def test_visibility_state_keeps_the_modules_notes(kamailio_factory, phones):
    """visibility=state: another watcher still sees busy and the fixed
    notes (they say no more than <basic> and the activities); the entity
    itself gets the same document (nothing published here to hide)."""
    kamailio_factory(blf=True, track=True, params={"visibility": "state"})
    alice = phones("alice")
    phones("bob", invite_policy="answer")
    pw = pidfutil.watch(phones("w", register=False), "bob")
    pidfutil.assert_state(pw.current, READY)
    call = alice.call("bob")
    call.wait_state("confirmed")
    d = pw.wait_state(ON_THE_PHONE, 3)
    assert [t.note for t in d.tuples] == ["On the phone"], d.raw
    call.bye()
    pw.wait_state(READY, 3)


def test_registration_and_publication_reach_presence_watchers_only(
        kamailio_factory, phones):
    """NOTIFYs by dependency: a REGISTER (usrloc) and a PUBLISH change what
    a presence watcher sees, not a dialog lamp; the lamp's watcher gets no
    NOTIFY for them (its counter and its socket stay still). Needs usrloc
    wiring (blf_ul.c) and blf_handle_publish() merged with this package."""
    kam = kamailio_factory(blf=True, track=True, usrloc=True, publish=True)
    pw = pidfutil.watch(phones("p", register=False), "bob")
    dw = blfutil.watch(phones("d", register=False), "bob")
    pidfutil.assert_state(pw.current, pidfutil.UNAVAILABLE)
    # the lamp's initial NOTIFY is counted once sent: the watcher may have
    # it before the sender's counter moves
    blfutil.poll(lambda: stat(kam, "notifies_sent_dialog") >= 1, 3,
                 what="the lamp's initial NOTIFY counted")
    dialog_before = stat(kam, "notifies_sent_dialog")
    bob = phones("bob", register=False)
    assert bob.register(expires=600).status == 200
    pw.wait_state(READY, 3)
    assert pidfutil.publish(bob, body=pidfutil.pidf_body(
        "sip:bob@%s" % DOMAIN, tuple_id="pt", activities=["away"])
    ).status == 200
    pw.wait(lambda d: "away" in d.person.activities, 3, "published away")
    assert bob.register(expires=0).status == 200
    # the module's tuple (first) closes; the published one stays
    pw.wait(lambda d: d.tuples[0].basic == "closed", 3, "closed")
    time.sleep(0.5)  # a NOTIFY sent wrongly would be here by now
    assert dw.sub.pending() == [], [n.msg.first_line()
                                    for n in dw.sub.pending()]
    assert stat(kam, "notifies_sent_dialog") == dialog_before
