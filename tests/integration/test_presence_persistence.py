"""Presence state across restarts and nodes (SPEC "Presence": published
state and presence/winfo/reg subscriptions persist (db_url) and replicate
(enable_dmq) exactly like dialog subscriptions; SPEC "Persistence and
cluster").

  - db_sqlite: a presence subscription (and a presence.winfo and a reg one)
    and a publication survive a graceful restart: the watcher keeps its
    dialog and gets NOTIFYs with a higher CSeq, the publication keeps its
    ETag (a refresh with it gets 200) and its away;
  - three DMQ nodes: a presence watcher subscribed through B sees a call
    through A (Ringing, On the phone, Ready), and a PUBLISH through A;
  - kill -9 of the node owning a presence subscription: a survivor takes
    it over (a NOTIFY with a higher CSeq within 3 DMQ ping intervals + 5 s)
    and goes on notifying;
  - with dmq_usrloc, a REGISTER through A opens the entity for a watcher
    on B, its removal closes it (registration state is first-party on
    every node).
"""

import os
import shutil
import tempfile

import pytest

import blfutil
import cluster as clustermod
import dbutil
import kamproc
import pidfutil
from pidfutil import ON_THE_PHONE, READY, RINGING

DOMAIN = kamproc.DOMAIN
BOB = "sip:bob@%s" % DOMAIN


@pytest.fixture
def sqlite_db():
    d = tempfile.mkdtemp(prefix="blf-db-", dir="/tmp")
    yield os.path.join(d, "blf.db")
    shutil.rmtree(d, ignore_errors=True)


def max_cseq(watch):
    watch.drain()
    return max(n.cseq for n, _ in watch.seen)


def test_presence_subscription_and_publication_survive_restart(
        kamailio_factory, monkeypatch, sqlite_db, phones):
    monkeypatch.setattr(kamproc, "Kamailio",
                        dbutil.with_db_modules(["db_sqlite.so"]))
    kam = kamailio_factory(blf=True, track=True, publish=True, params={
        "db_url": "sqlite:///" + sqlite_db, "db_flush_interval": 1})
    bob = phones("bob")
    pw = pidfutil.watch(phones("w", register=False), "bob")
    ww = pidfutil.watch(bob, "bob", "presence.winfo")
    rw = pidfutil.watch(bob, "bob", "reg")
    r = pidfutil.publish(bob, expires=600, body=pidfutil.pidf_body(
        BOB, tuple_id="pt", note="Lunch", activities=["away"]))
    assert r.status == 200, r.first_line()
    etag = pidfutil.etag_of(r)
    pw.wait(lambda d: "away" in d.person.activities, 3, "away published")
    before = {w.sub.call_id: max_cseq(w) for w in (pw, ww, rw)}

    dbutil.stop_gracefully(kam)
    kam._start_once(20.0)
    assert bob.register().status == 200  # usrloc keeps no state here

    subs = {s["callid"]: s for s in blfutil.subscriptions(kam)}
    assert set(subs) == set(before), "after the restart: %s" % sorted(subs)
    assert sorted((s.get("event") or "").split(";")[0]
                  for s in subs.values()) == \
        ["presence", "presence.winfo", "reg"], subs
    pubs = pidfutil.publications(kam, "bob@%s" % DOMAIN)
    assert [pidfutil.field(p, "etag") for p in pubs] == [etag], pubs
    # the watcher is notified in its old dialog, the published away kept
    doc = pw.wait(lambda d: d.basic == "open" and
                  "away" in d.person.activities, 5,
                  "a NOTIFY after the restart with the published away")
    assert [t.id for t in doc.tuples][1:] == ["pt"], doc.raw
    assert max_cseq(pw) > before[pw.sub.call_id]
    # the ETag is still the publication's
    r = pidfutil.publish(bob, etag=etag, expires=600)
    assert r.status == 200, r.first_line()


# -- cluster ------------------------------------------------------------------

def with_dmq_usrloc(node):
    """Loads dmq_usrloc (after dmq and usrloc, before blf) in node's cfg:
    contacts registered through one node reach the others' usrloc."""
    render = node.render

    def render_with():
        text = render()
        line = 'loadmodule "%s"' % kamproc.BLF_MODULE
        assert line in text
        text = text.replace(line, 'loadmodule "dmq_usrloc.so"\n'
                            'modparam("dmq_usrloc", "enable", 1)\n' + line,
                            1)
        with open(node.cfg_path, "w") as f:
            f.write(text)
        return text
    node.render = render_with


@pytest.fixture
def pcluster(request):
    """Three DMQ nodes (PUBLISH routed to blf when the test is marked
    publish); stopped at teardown."""
    c = clustermod.Cluster(3, names=[None, None, "blf-c"])
    for k in c.nodes:
        k.publish = request.node.get_closest_marker("publish") is not None
        if request.node.get_closest_marker("dmq_usrloc") is not None:
            with_dmq_usrloc(k)
    request.node._blf_kams = list(c.nodes)
    try:
        c.start()
    except Exception:
        c.stop()
        raise
    yield c
    c.stop()
    bad = [(k.name, kamproc.crash_lines(k.log())) for k in c.nodes]
    bad = [b for b in bad if b[1]]
    assert not bad, bad
    if not any(getattr(request.node, "rep_" + w, None) is not None and
               getattr(request.node, "rep_" + w).failed
               for w in ("setup", "call")):
        for k in c.nodes:
            k.cleanup()


def test_presence_watcher_on_b_sees_call_on_a(pcluster, phones):
    A, B, _ = pcluster.nodes
    alice = phones("alice", kam=A)
    bob = phones("bob", kam=A)
    # bob registered on B too (no dmq_usrloc here): B counts him online
    phones("bob", kam=B)
    pw = pidfutil.watch(phones("w", kam=B, register=False), "bob")
    pw.wait_state(READY, 3)
    call = alice.call("bob")
    inc = bob.wait_incoming()
    call.wait_state("early")
    pw.wait_state(RINGING, 5)
    inc.answer()
    call.wait_state("confirmed")
    pw.wait_state(ON_THE_PHONE, 5)
    assert call.bye().status == 200
    pw.wait_state(READY, 5)
    # every NOTIFY came from B, the subscription's node
    for n, _ in pw.seen:
        assert n.msg.src[1] == B.port, "NOTIFY from port %d" % n.msg.src[1]


@pytest.mark.publish
def test_publication_through_a_reaches_watcher_on_b(pcluster, phones):
    A, B, _ = pcluster.nodes
    bob_a = phones("bob", kam=A)
    phones("bob", kam=B)
    pw = pidfutil.watch(phones("w", kam=B, register=False), "bob")
    r = pidfutil.publish(bob_a, expires=600, body=pidfutil.pidf_body(
        BOB, tuple_id="pt", note="Lunch", activities=["away"]))
    assert r.status == 200, r.first_line()
    doc = pw.wait(lambda d: "away" in d.person.activities, 5,
                  "away published through A")
    assert doc.person.notes == ["Lunch"]
    assert [t.id for t in doc.tuples][1:] == ["pt"]
    for k in pcluster.nodes:
        pubs = blfutil.poll(
            lambda: pidfutil.publications(k, "bob@%s" % DOMAIN), 5,
            what="the publication listed on %s" % k.name)
        assert [pidfutil.field(p, "etag") for p in pubs] == \
            [pidfutil.etag_of(r)], (k.name, pubs)


def test_presence_subscription_taken_over_after_kill(pcluster, phones):
    A, B, C = pcluster.nodes
    for k in pcluster.nodes:
        phones("bob", kam=k)  # registered everywhere (no dmq_usrloc)
    pw = pidfutil.watch(phones("w", kam=B, register=False), "bob")
    pw.wait_state(READY, 3)
    blfutil.poll(lambda: all(pw.sub.call_id in
                             {s["callid"] for s in blfutil.subscriptions(k)}
                             for k in (A, C)), 5,
                 what="the presence subscription replicated to A and C")
    c0 = max_cseq(pw)
    t_kill = B.kill()
    n, doc = pw.pump(pcluster.bound(), "takeover NOTIFY")
    assert n.msg.src[1] in (A.port, C.port), n.msg.src
    assert n.state == "active" and n.cseq > c0, (n.subscription_state,
                                                 n.cseq, c0)
    assert n.time - t_kill <= pcluster.bound()
    pidfutil.assert_state(doc, READY)
    # and the new owner goes on notifying: a call through A
    owner = A if n.msg.src[1] == A.port else C
    alice = phones("alice", kam=owner)
    call = alice.call("bob")
    pw.wait_state(RINGING, 5)
    call.cancel()
    pw.wait_state(READY, 5)


@pytest.mark.dmq_usrloc
def test_dmq_usrloc_registration_on_a_opens_entity_on_b(pcluster, phones):
    A, B, _ = pcluster.nodes
    pw = pidfutil.watch(phones("w", kam=B, register=False), "bob")
    pidfutil.assert_state(pw.current, pidfutil.UNAVAILABLE)
    bob = phones("bob", kam=A, register=False)
    assert bob.register(expires=600).status == 200
    pw.wait_state(READY, 5)
    assert bob.register(expires=0).status == 200
    pw.wait_state(pidfutil.UNAVAILABLE, 5)
