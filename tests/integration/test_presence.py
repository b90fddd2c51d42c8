"""Presence (SPEC "Presence (RFC 3856, PIDF RFC 3863, RPID RFC 4480)"),
rule by rule, with sipua phones: SUBSCRIBE answers, the PIDF of each entity
state (validated against tests/schema/presence.xsd, prefixes checked
literally), PUBLISH (RFC 3903) answers and the merge of published state
with the first-party call state, blf.publications, visibility.

Every PIDF is read by pidfutil: the module's own tuple first, then the
published tuples newest first, ONE <dm:person>. The SPEC table:
  no registered contact -> closed, no activity, "Unavailable"
  a call trying/proceeding/early -> open, <rpid:on-the-phone/>, "Ringing"
  a call confirmed -> open, <rpid:on-the-phone/>, "On the phone"
  idle -> open, no activity, "Ready"
"""

import time

import pytest

import blfutil
import kamproc
import pidfutil
from httpstub import stub  # noqa: F401  (pytest fixture)
from httputil import http_params
from pidfutil import ON_THE_PHONE, READY, RINGING, UNAVAILABLE

DOMAIN = kamproc.DOMAIN
BOB = "sip:bob@%s" % DOMAIN


@pytest.fixture
def pproxy(kamailio_factory):
    """pproxy(publish=False, usrloc=True, **blf_params): blf, usrloc on;
    publish: PUBLISH routed to blf_handle_publish() (only the tests that
    PUBLISH ask for it: the cfg names the function)."""
    def make(usrloc=True, publish=False, **params):
        return kamailio_factory(blf=True, track=True, publish=publish,
                                usrloc=usrloc, params=params)
    return make


# -- SUBSCRIBE: the rules of "SUBSCRIBE handling" for Event: presence --------

def test_subscribe_200_expires_contact_and_initial_pidf(pproxy, phones):
    pproxy()
    phones("bob")
    w = phones("watcher", register=False)
    sub = pidfutil.subscribe(w, "bob", "presence", expires=120)
    r = sub.responses[-1]
    assert r.status == 200, r.first_line()
    assert r.get("Expires") == "120"
    assert r.contact_uri and r.contact_uri.startswith("sip:"), r.get("Contact")
    assert r.to_tag
    pw = pidfutil.PresenceWatch(sub)
    n, doc = pw.pump(2, "initial presence NOTIFY")
    assert n.state == "active" and 0 < n.expires <= 120, n.subscription_state
    assert n.msg.get("Event").split(";")[0].strip() == "presence"
    assert n.content_type.split(";")[0].strip() == pidfutil.PIDF_CT
    assert n.msg.call_id == sub.call_id and n.msg.to_tag == sub.local_tag
    assert doc.entity == BOB
    pidfutil.assert_state(doc, READY)
    pidfutil.check_prefixes(doc)


def test_subscribe_without_accept_is_pidf(pproxy, phones):
    """RFC 3856 6.6: no Accept means application/pidf+xml."""
    pproxy()
    phones("bob")
    sub = pidfutil.subscribe(phones("w", register=False), "bob", "presence",
                             accept=None)
    assert sub.responses[-1].status == 200, sub.responses[-1].first_line()
    n, doc = pidfutil.PresenceWatch(sub).pump(2)
    assert doc is not None and doc.entity == BOB


def test_subscribe_accept_list_with_pidf_200(pproxy, phones):
    pproxy()
    sub = pidfutil.subscribe(phones("w", register=False), "bob", "presence",
                             accept="application/xpidf+xml, "
                                    "application/pidf+xml")
    assert sub.responses[-1].status == 200, sub.responses[-1].first_line()


def test_subscribe_accept_without_pidf_406(pproxy, phones):
    kam = pproxy()
    sub = pidfutil.subscribe(phones("w", register=False), "bob", "presence",
                             accept="application/dialog-info+xml")
    assert sub.responses[-1].status == 406, sub.responses[-1].first_line()
    assert sub.notifies == []
    assert not pidfutil.subs_of(kam, "presence")


def test_subscribe_interval_too_brief_423_min_expires(pproxy, phones):
    kam = pproxy()
    r = pidfutil.subscribe(phones("w", register=False), "bob", "presence",
                           expires=30).responses[-1]
    assert r.status == 423, r.first_line()
    assert r.get("Min-Expires") == "60"
    assert not pidfutil.subs_of(kam, "presence")


def test_subscribe_unparsable_expires_400(pproxy, phones):
    pproxy()
    w = phones("w", register=False)
    sub = pidfutil.subscribe(w, "bob", "presence", expires=None,
                             headers=[("Expires", "soon")])
    assert sub.responses[-1].status == 400, sub.responses[-1].first_line()


def test_in_dialog_subscribe_after_unsubscribe_481(pproxy, phones):
    pproxy()
    pw = pidfutil.watch(phones("w", register=False), "bob", expires=120)
    assert pw.sub.unsubscribe().status == 200
    pw.wait_final(2)
    assert pw.sub.refresh(120).status == 481


def test_refresh_200_and_full_state_notify_cseq_rises(pproxy, phones):
    pproxy()
    phones("bob")
    pw = pidfutil.watch(phones("w", register=False), "bob", expires=120)
    c0 = pw.seen[-1][0].cseq
    r = pw.sub.refresh(300)
    assert r.status == 200 and r.get("Expires") == "300", r.first_line()
    n, doc = pw.pump(2, "NOTIFY after the refresh")
    assert n.state == "active" and 120 < n.expires <= 300
    assert n.cseq > c0
    pidfutil.assert_state(doc, READY)


def test_expires_0_final_notify_timeout_and_gone(pproxy, phones):
    kam = pproxy()
    pw = pidfutil.watch(phones("w", register=False), "bob", expires=120)
    assert len(pidfutil.subs_of(kam, "presence")) == 1
    r = pw.sub.unsubscribe()
    assert r.status == 200, r.first_line()
    fin = pw.wait_final(2)
    assert fin.state == "terminated" and fin.reason == "timeout", \
        fin.subscription_state
    blfutil.poll(lambda: not pidfutil.subs_of(kam, "presence"), 3,
                 what="no presence subscription left")


def test_visibility_none_403_for_others_200_for_self(pproxy, phones):
    pproxy(visibility="none")
    bob = phones("bob")
    r = pidfutil.subscribe(phones("alice", register=False), "bob",
                           "presence").responses[-1]
    assert r.status == 403, r.first_line()
    r = pidfutil.subscribe(bob, "bob", "presence").responses[-1]
    assert r.status == 200, r.first_line()


def test_max_subscriptions_503_retry_after(pproxy, phones):
    pproxy(max_subscriptions=1)
    pidfutil.watch(phones("w1", register=False), "bob")
    r = pidfutil.subscribe(phones("w2", register=False), "bob",
                           "presence").responses[-1]
    assert r.status == 503, r.first_line()
    assert r.get("Retry-After"), r


def test_unknown_event_489_allow_events_lists_every_package(pproxy, phones):
    pproxy()
    r = phones("w", register=False).subscribe(
        "bob", event="message-summary", accept=None).responses[-1]
    assert r.status == 489, r.first_line()
    allow = {v.strip().lower() for v in r.get_all("Allow-Events")}
    assert {"dialog", "presence", "presence.winfo", "dialog.winfo",
            "reg"} <= allow, r.get_all("Allow-Events")


def test_events_param_without_presence_489(pproxy, phones):
    pproxy(events="dialog")
    r = pidfutil.subscribe(phones("w", register=False), "bob",
                           "presence").responses[-1]
    assert r.status == 489, r.first_line()
    assert [v.strip().lower() for v in r.get_all("Allow-Events")] == \
        ["dialog"], r.get_all("Allow-Events")


# -- the PIDF of each entity state (the SPEC table) -------------------------

def test_pidf_idle_registered_open_ready(pproxy, phones):
    pproxy()
    phones("bob")
    doc = pidfutil.watch(phones("w", register=False), "bob").current
    pidfutil.assert_state(doc, READY)
    pidfutil.check_prefixes(doc)
    assert len(doc.persons) == 1 and len(doc.tuples) == 1


def test_pidf_unregistered_closed_unavailable(pproxy, phones):
    pproxy()
    doc = pidfutil.watch(phones("w", register=False), "ghost").current
    pidfutil.assert_state(doc, UNAVAILABLE)
    pidfutil.check_prefixes(doc)


def test_pidf_register_then_unregister_notifies(pproxy, phones):
    """usrloc callbacks: insert -> open Ready, delete -> closed."""
    pproxy()
    pw = pidfutil.watch(phones("w", register=False), "bob")
    pidfutil.assert_state(pw.current, UNAVAILABLE)
    bob = phones("bob", register=False)
    assert bob.register(expires=600).status == 200
    pw.wait_state(READY, 3)
    assert bob.register(expires=0).status == 200
    pw.wait_state(UNAVAILABLE, 3)


def test_pidf_registration_expiry_closed(kamailio_factory, phones,
                                        monkeypatch):
    monkeypatch.setattr(kamproc, "Kamailio", kamproc.FastUlKamailio)
    kamailio_factory(blf=True)
    pw = pidfutil.watch(phones("w", register=False), "bob")
    bob = phones("bob", register=False)
    assert bob.register(expires=10).status == 200
    pw.wait_state(READY, 3)
    t0 = time.monotonic()
    pw.wait_state(UNAVAILABLE, 16)
    assert time.monotonic() - t0 >= 8, "closed before the contact expired"


def test_pidf_without_usrloc_every_entity_open(pproxy, phones):
    pproxy(usrloc=False)
    doc = pidfutil.watch(phones("w", register=False), "ghost").current
    pidfutil.assert_state(doc, READY)


def test_pidf_ringing_callee_and_caller_on_the_phone(pproxy, phones):
    pproxy()
    alice, bob = phones("alice"), phones("bob")
    pb = pidfutil.watch(phones("w1", register=False), "bob")
    pa = pidfutil.watch(phones("w2", register=False), "alice")
    call = alice.call("bob")
    bob.wait_incoming()
    call.wait_state("early")
    for pw in (pa, pb):
        pw.wait_state(RINGING, 3)
    call.cancel()


def test_pidf_confirmed_on_the_phone_then_ready(pproxy, phones):
    pproxy()
    alice = phones("alice")
    phones("bob", invite_policy="answer")
    pb = pidfutil.watch(phones("w", register=False), "bob")
    call = alice.call("bob").wait_state("confirmed")
    doc = pb.wait_state(ON_THE_PHONE, 3)
    assert len(doc.persons) == 1
    assert call.bye().status == 200
    pb.wait_state(READY, 3)


# -- PUBLISH (RFC 3903) ------------------------------------------------------

def test_publish_initial_200_etag_expires(pproxy, phones):
    pproxy(publish=True)
    bob = phones("bob")
    r = pidfutil.publish(bob, body=pidfutil.pidf_body(BOB), expires=600)
    assert r.status == 200, r.first_line()
    assert pidfutil.etag_of(r), "200 to PUBLISH without SIP-ETag"
    assert r.get("Expires") == "600", r.get("Expires")


def test_publish_max_expires_lowers(pproxy, phones):
    pproxy(publish=True, max_expires=300)
    bob = phones("bob")
    r = pidfutil.publish(bob, body=pidfutil.pidf_body(BOB), expires=100000)
    assert r.status == 200 and r.get("Expires") == "300", r.get("Expires")


def test_publish_refresh_if_match_no_body_new_etag(pproxy, phones):
    kam = pproxy(publish=True)
    bob = phones("bob")
    r1 = pidfutil.publish(bob, body=pidfutil.pidf_body(BOB), expires=600)
    e1 = pidfutil.etag_of(r1)
    r2 = pidfutil.publish(bob, etag=e1, expires=600)
    assert r2.status == 200, r2.first_line()
    e2 = pidfutil.etag_of(r2)
    assert e2 and e2 != e1, (e1, e2)
    pubs = pidfutil.publications(kam, "bob@%s" % DOMAIN)
    assert [pidfutil.field(p, "etag") for p in pubs] == [e2], pubs
    # the old ETag is gone
    assert pidfutil.publish(bob, etag=e1, expires=600).status == 412


def test_publish_modify_new_etag_and_watchers_notified(pproxy, phones):
    pproxy(publish=True)
    bob = phones("bob")
    pw = pidfutil.watch(phones("w", register=False), "bob")
    r1 = pidfutil.publish(bob, body=pidfutil.pidf_body(
        BOB, tuple_id="pt", note="Lunch", activities=["away"]))
    assert r1.status == 200
    pw.wait(lambda d: d.person.activities == ["away"], 3, "away published")
    r2 = pidfutil.publish(bob, etag=pidfutil.etag_of(r1),
                          body=pidfutil.pidf_body(BOB, tuple_id="pt",
                                                  note="Meeting",
                                                  activities=["busy"]))
    assert r2.status == 200, r2.first_line()
    assert pidfutil.etag_of(r2) not in (None, pidfutil.etag_of(r1))
    doc = pw.wait(lambda d: d.person.activities == ["busy"], 3,
                  "busy after the modify")
    assert doc.person.notes == ["Meeting"]
    assert [t.id for t in doc.tuples][1:] == ["pt"]


def test_publish_remove_expires_0(pproxy, phones):
    kam = pproxy(publish=True)
    bob = phones("bob")
    pw = pidfutil.watch(phones("w", register=False), "bob")
    r1 = pidfutil.publish(bob, body=pidfutil.pidf_body(
        BOB, tuple_id="pt", activities=["away"]))
    pw.wait(lambda d: "away" in d.person.activities, 3, "away published")
    r = pidfutil.publish(bob, etag=pidfutil.etag_of(r1), expires=0)
    assert r.status == 200, r.first_line()
    doc = pw.wait_state(READY, 3)
    assert [t.id for t in doc.tuples] == [doc.tuples[0].id], doc.raw
    assert pidfutil.publications(kam, "bob@%s" % DOMAIN) == []


def test_publish_unknown_etag_412(pproxy, phones):
    pproxy(publish=True)
    r = pidfutil.publish(phones("bob"), etag="nosuchetag", expires=600)
    assert r.status == 412, r.first_line()


def test_publish_wrong_event_489(pproxy, phones):
    pproxy(publish=True)
    r = pidfutil.publish(phones("bob"), body=pidfutil.pidf_body(BOB),
                         event="dialog")
    assert r.status == 489, r.first_line()


def test_publish_wrong_content_type_415(pproxy, phones):
    pproxy(publish=True)
    r = pidfutil.publish(phones("bob"), body="<x/>",
                         content_type="application/xpidf+xml")
    assert r.status == 415, r.first_line()


@pytest.mark.parametrize("body", [
    "<presence xmlns='urn:ietf:params:xml:ns:pidf' entity='sip:bob@blf.test'>"
    "<tuple id='a'><status><basic>open</basic></status>",  # truncated
    "<dialog-info xmlns='urn:ietf:params:xml:ns:dialog-info'/>",  # not PIDF
    "",  # an initial PUBLISH needs a body
], ids=["truncated", "not-pidf-root", "empty"])
def test_publish_malformed_pidf_400(pproxy, phones, body):
    kam = pproxy(publish=True)
    r = pidfutil.publish(phones("bob"), body=body)
    assert r.status == 400, r.first_line()
    assert pidfutil.publications(kam) == []


def test_publish_interval_too_brief_423(pproxy, phones):
    pproxy(publish=True)
    r = pidfutil.publish(phones("bob"), body=pidfutil.pidf_body(BOB),
                         expires=30)
    assert r.status == 423, r.first_line()
    assert r.get("Min-Expires") == "60"


def test_publish_from_other_entity_403(pproxy, phones):
    kam = pproxy(publish=True)
    alice = phones("alice")
    r = pidfutil.publish(alice, target=BOB, body=pidfutil.pidf_body(BOB))
    assert r.status == 403, r.first_line()
    assert pidfutil.publications(kam) == []


def test_publish_from_alias_of_target_200(pproxy, phones, stub):
    """From and target compared alias-resolved: 7207 is an alias of bob."""
    kam = pproxy(publish=True, **http_params(stub))
    stub.set_alias("sip:7207@%s" % DOMAIN, BOB)
    p7207 = phones("7207", register=False)
    r = pidfutil.publish(p7207, target=BOB, body=pidfutil.pidf_body(BOB))
    assert r.status == 200, r.first_line()
    assert len(pidfutil.publications(kam, "bob@%s" % DOMAIN)) == 1


def test_subscriptions_rpc_names_the_event(pproxy, phones):
    kam = pproxy()
    pidfutil.watch(phones("p", register=False), "bob")
    blfutil.watch(phones("d", register=False), "bob")
    got = sorted((s["event"].split(";")[0], s["watcher"])
                 for s in blfutil.subscriptions(kam))
    assert [e for e, _ in got] == ["dialog", "presence"], got
    assert "d@%s" % DOMAIN in got[0][1] and "p@%s" % DOMAIN in got[1][1]


# -- the merge rule ----------------------------------------------------------

def test_published_away_kept_during_a_call(pproxy, phones):
    pproxy(publish=True)
    alice, bob = phones("alice"), phones("bob", invite_policy="answer")
    pw = pidfutil.watch(phones("w", register=False), "bob")
    assert pidfutil.publish(bob, body=pidfutil.pidf_body(
        BOB, tuple_id="pt", activities=["away"])).status == 200
    pw.wait(lambda d: d.person.activities == ["away"], 3, "away")
    call = alice.call("bob").wait_state("confirmed")
    doc = pw.wait(lambda d: "on-the-phone" in d.person.activities, 3,
                  "on-the-phone during the call")
    assert sorted(doc.person.activities) == ["away", "on-the-phone"], doc.raw
    assert len(doc.persons) == 1
    assert [t.id for t in doc.tuples][1:] == ["pt"]
    pidfutil.check_prefixes(doc)
    assert call.bye().status == 200
    doc = pw.wait(lambda d: "on-the-phone" not in d.person.activities, 3,
                  "call over")
    assert doc.person.activities == ["away"], doc.raw


def test_newest_published_note_wins(pproxy, phones):
    pproxy(publish=True)
    bob = phones("bob")
    pw = pidfutil.watch(phones("w", register=False), "bob")
    assert pidfutil.publish(bob, body=pidfutil.pidf_body(
        BOB, tuple_id="t1", note="Old note")).status == 200
    pw.wait(lambda d: d.person.notes == ["Old note"], 3, "first note")
    assert pidfutil.publish(bob, body=pidfutil.pidf_body(
        BOB, tuple_id="t2", note="New note")).status == 200
    doc = pw.wait(lambda d: d.person.notes == ["New note"], 3, "newest note")
    # published tuples newest first, after the module's own
    assert [t.id for t in doc.tuples][1:] == ["t2", "t1"], doc.raw


def test_published_tuples_newest_first_one_per_id(pproxy, phones):
    pproxy(publish=True)
    bob = phones("bob")
    pw = pidfutil.watch(phones("w", register=False), "bob")
    for tid in ("pa", "pb", "pa"):
        r = pidfutil.publish(bob, body=pidfutil.pidf_body(BOB, tuple_id=tid))
        assert r.status == 200, r.first_line()
    doc = pw.wait(lambda d: [t.id for t in d.tuples][1:] == ["pa", "pb"], 3,
                  "tuples pa (newest), pb, each once")
    assert len(doc.tuples) == 3


def test_expired_publication_leaves_no_trace(pproxy, phones):
    kam = pproxy(publish=True, min_expires=2)
    bob = phones("bob")
    pw = pidfutil.watch(phones("w", register=False), "bob")
    r = pidfutil.publish(bob, expires=2, body=pidfutil.pidf_body(
        BOB, tuple_id="pt", note="Back soon", activities=["away"]))
    assert r.status == 200 and r.get("Expires") == "2", r.first_line()
    pw.wait(lambda d: "away" in d.person.activities, 3, "away published")
    doc = pw.wait_state(READY, 6)  # expiry + the timer, bounded
    assert len(doc.tuples) == 1 and "Back soon" not in doc.raw, doc.raw
    assert pidfutil.publications(kam, "bob@%s" % DOMAIN) == []
    # and its ETag is gone
    assert pidfutil.publish(bob, etag=pidfutil.etag_of(r)).status == 412


def test_publication_rpc_fields(pproxy, phones):
    kam = pproxy(publish=True)
    bob = phones("bob")
    r = pidfutil.publish(bob, expires=600, body=pidfutil.pidf_body(
        BOB, tuple_id="pt7", note="Lunch", activities=["away"]))
    pubs = pidfutil.publications(kam, "bob@%s" % DOMAIN)
    assert len(pubs) == 1, pubs
    p = pubs[0]
    assert pidfutil.field(p, "etag") == pidfutil.etag_of(r), p
    assert 590 <= int(pidfutil.field(p, "expires")) <= 600, p
    # SPEC names the content (ETag, expires, tuple ids, note), not the keys
    tuples = [v for k, v in p.items() if "tuple" in k.lower()]
    assert tuples and "pt7" in str(tuples), p
    assert pidfutil.field(p, "note") == "Lunch", p
    # the sip: form of the filter too, and another entity's is empty
    assert len(pidfutil.publications(kam, BOB)) == 1
    assert pidfutil.publications(kam, "alice@%s" % DOMAIN) == []


# -- visibility --------------------------------------------------------------

def test_visibility_state_drops_notes_and_published_contacts(pproxy,
                                                             phones):
    pproxy(publish=True, visibility="state")
    alice, bob = phones("alice"), phones("bob", invite_policy="answer")
    assert pidfutil.publish(bob, body=pidfutil.pidf_body(
        BOB, tuple_id="pt", note="Lunch", activities=["away"],
        contact="sip:bob@10.0.0.7")).status == 200
    pw = pidfutil.watch(phones("w", register=False), "bob")
    call = alice.call("bob").wait_state("confirmed")
    doc = pw.wait(lambda d: "on-the-phone" in d.person.activities, 3,
                  "on-the-phone")
    assert doc.basic == "open"
    assert sorted(doc.person.activities) == ["away", "on-the-phone"]
    # "state" drops what a user typed (the published note "Lunch"); the
    # module's fixed notes stay, as blf_pidf.h documents (they say no more
    # than <basic> and the activities, and MicroSIP shows busy from them):
    # only those may appear, and they must agree with the call's state
    assert set(doc.all_notes()) <= {"Ringing", "On the phone"}, doc.raw
    assert len(set(doc.all_notes())) == 1, doc.raw
    assert "Lunch" not in doc.raw
    assert all(t.contact is None for t in doc.tuples), doc.raw
    assert "10.0.0.7" not in doc.raw
    assert call.bye().status == 200
