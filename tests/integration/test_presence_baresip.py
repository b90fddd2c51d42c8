"""A real softphone no one here wrote: baresip 1.0.0 (Debian's package),
driven over its ctrl_tcp JSON socket (baresip.py), registering and calling
through Kamailio with blf loaded (issue #11, SPEC "Presence").

  - two baresips register and call each other; a dialog watcher (sipua)
    sees the call's lamp: early, confirmed, terminated (works today);
  - A has B as a presence contact; B calls C: A's baresip shows B Busy
    while the call rings and while it is up, Online after the hang-up;
  - B leaves (unREGISTERs): A's baresip shows B Offline;
  - baresip PUBLISHes its own state: the module answers 200 with a
    SIP-ETag (blf.publications lists it, baresip logs no error for it)
    and a presence watcher of A gets baresip's tuple after the module's.

baresip shows a contact's presence as Unknown until a NOTIFY arrives; a
SUBSCRIBE answered 489 leaves it Unknown (and retries only after 30 s).
"""

import pytest

import blfutil
import kamproc
import pidfutil

DOMAIN = kamproc.DOMAIN


def establish(caller, callee, target):
    """caller dials target, callee's baresip rings and accepts; returns
    the call-id once both sides say ESTABLISHED."""
    mark = caller.dial(target)
    inc = callee.wait_call_event("CALL_INCOMING", timeout=10)
    callee.accept()
    ev = caller.wait_call_event("CALL_ESTABLISHED", timeout=10, since=mark)
    callee.wait_call_event("CALL_ESTABLISHED", timeout=10)
    assert ev.get("id") == inc.get("id"), (ev, inc)
    return ev["id"]


def test_baresips_register_and_call_through_blf_dialog_lamp_lights(
        kamailio_factory, baresips, phones):
    kam = kamailio_factory(blf=True)
    bob, carol = baresips("bob"), baresips("carol")
    contacts = kam.kamcmd("ul.dump")
    for user in ("bob", "carol"):  # usrloc keys AoRs by user (no domain)
        assert "AoR: %s\n" % user in contacts, contacts
    lamp = blfutil.watch(phones("watcher", register=False), "bob")
    mark = bob.dial("carol")
    inc = carol.wait_call_event("CALL_INCOMING", timeout=10)
    call_id = inc["id"]
    lamp.wait_state("early", call_id, timeout=5)
    carol.accept()
    bob.wait_call_event("CALL_ESTABLISHED", timeout=10, since=mark)
    d = lamp.wait_state("confirmed", call_id, timeout=5)
    assert d.direction == "initiator"
    assert d.remote.identity == "sip:carol@%s" % DOMAIN
    bob.hangup()
    carol.wait_call_event("CALL_CLOSED", timeout=10)
    lamp.wait_state("terminated", call_id, timeout=5)
    lamp.wait_idle(5)
    lamp.assert_versions()
    assert blfutil.colors(lamp, call_id)[-2:] == ["confirmed", "terminated"]


@pytest.mark.parametrize("publishing", [False, True],
                         ids=["no-publish", "all-publish"])
def test_baresip_shows_buddy_online_busy_during_call_online_after(
        kamailio_factory, baresips, publishing):
    """all-publish: every baresip also PUBLISHes its own (idle, open)
    state, as deployed; the merge must not let that hide the call."""
    kam = kamailio_factory(blf=True, publish=publishing)
    pubint = 60 if publishing else 0
    bob, carol = baresips("bob", pubint=pubint), baresips("carol",
                                                          pubint=pubint)
    alice = baresips("alice", contacts=["bob"], pubint=pubint)
    # idle and registered: <basic>open</basic>, no activity
    assert alice.wait_presence("bob", "Online", timeout=10) == "Online", \
        "alice's baresip: bob is %s" % alice.presence_of("bob")
    mark = bob.dial("carol")
    carol.wait_call_event("CALL_INCOMING", timeout=10)
    # ringing: <rpid:on-the-phone/> -> Busy
    alice.wait_presence("bob", "Busy", timeout=5)
    carol.accept()
    bob.wait_call_event("CALL_ESTABLISHED", timeout=10, since=mark)
    ents = {e["entity"]: e for e in blfutil.entities(kam)}
    assert [d["state"] for d in ents["bob@%s" % DOMAIN]["dialogs"]] == \
        ["confirmed"]
    assert alice.presence_of("bob") == "Busy"
    bob.hangup()
    carol.wait_call_event("CALL_CLOSED", timeout=10)
    alice.wait_presence("bob", "Online", timeout=5)
    # the module served alice's presence subscription all along
    subs = [s for s in blfutil.subscriptions(kam)
            if s.get("event") == "presence"]
    assert len(subs) == 1, subs
    assert "alice@%s" % DOMAIN in subs[0]["watcher"], subs
    assert "bob@%s" % DOMAIN in subs[0]["entity"], subs


def test_baresip_shows_unregistered_buddy_offline(kamailio_factory,
                                                 baresips):
    kamailio_factory(blf=True)
    bob = baresips("bob")
    alice = baresips("alice", contacts=["bob"])
    alice.wait_presence("bob", "Online", timeout=10)
    # baresip unREGISTERs on SIGTERM (ua_stop_all): usrloc deletes bob's
    # only contact -> <basic>closed</basic> -> Offline
    bob.stop()
    alice.wait_presence("bob", "Offline", timeout=10)


def test_baresip_publish_answered_200_with_etag(kamailio_factory, baresips,
                                                phones):
    kam = kamailio_factory(blf=True, publish=True)
    alice = baresips("alice", pubint=120)
    pubs = blfutil.poll(
        lambda: pidfutil.publications(kam, "alice@%s" % DOMAIN), 10,
        what="blf.publications listing alice's own PUBLISH")
    assert len(pubs) == 1, pubs
    assert pidfutil.field(pubs[0], "etag"), pubs
    assert 0 < int(pidfutil.field(pubs[0], "expires")) <= 120, pubs
    # baresip's publisher logs any error answer ("publisher got error
    # response 4xx") and a 200 without SIP-ETag; its first PUBLISH goes
    # out before REGISTER with <basic>unknown</basic>, so a refusal of
    # that one is allowed, never of the one after REGISTER's 200
    log = alice.log()
    assert "200 OK without etag" not in log, log
    # a watcher sees baresip's published tuple (t4109, publisher.c) after
    # the module's own
    w = phones("watcher", register=False)
    pw = pidfutil.watch(w, "alice")
    doc = pw.wait(lambda d: [t.id for t in d.tuples][1:] == ["t4109"] and
                  d.tuples[1].basic == "open", 5,
                  "baresip's tuple t4109, open, after the module's")
    assert doc.tuples[0].basic == "open"
    assert len(doc.persons) == 1
    pidfutil.check_prefixes(doc)


def test_baresip_publish_modify_keeps_one_publication(kamailio_factory,
                                                     baresips):
    """baresip's presence_offline modifies its publication (SIP-If-Match
    and a new body): still one publication, with a new ETag (RFC 3903)."""
    kam = kamailio_factory(blf=True, publish=True)
    alice = baresips("alice", pubint=60)
    ent = "alice@%s" % DOMAIN
    first = blfutil.poll(lambda: pidfutil.publications(kam, ent), 10,
                         what="alice's publication")
    etag1 = pidfutil.field(first[0], "etag")
    alice.command("presence_offline")
    pubs = blfutil.poll(
        lambda: [p for p in pidfutil.publications(kam, ent)
                 if pidfutil.field(p, "etag") != etag1], 5,
        what="a new ETag after baresip's modify (presence_offline)")
    assert len(pubs) == 1, pubs
