"""Publications (RFC 3903) across DMQ nodes (SPEC "Presence": published
state replicates like dialog subscriptions), read through blf.publications
on every node (the merge into NOTIFYs is the presence package's):

  - a PUBLISH through A is listed on B and C with its ETag and note; the
    client moves to B and refreshes there with that ETag (200, a new ETag
    everywhere, the old one nowhere); a removal through C ends it
    everywhere;
  - an admitted peer's publication replicas are checked: a bad ETag or a
    missing body rejects the message (400), a body that is not PIDF is
    not stored (a log line), a valid one is listed with the peer as its
    node.
"""

import time

import pytest

import blfutil
import cluster as clustermod
import kamproc
import pidfutil
from test_cluster_hostile import in_dmq_list, make_cluster, peer  # noqa: F401

DOMAIN = kamproc.DOMAIN
BOB = "sip:bob@%s" % DOMAIN
BOBKEY = "bob@%s" % DOMAIN


def etags_on(k):
    return [pidfutil.field(p, "etag")
            for p in pidfutil.publications(k, BOBKEY)]


def wait_etags(nodes, want, what):
    for k in nodes:
        blfutil.poll(lambda: etags_on(k) == want, 5,
                     what="%s on %s" % (what, k.name))


@pytest.fixture
def pubcluster(request):
    """Three DMQ nodes routing PUBLISH to blf; stopped at teardown, their
    logs checked for crashes."""
    c = clustermod.Cluster(3)
    for k in c.nodes:
        k.publish = True
    request.node._blf_kams = list(c.nodes)
    try:
        c.start()
    except Exception:
        c.stop()
        raise
    yield c
    c.stop()
    bad = [(k.name, kamproc.crash_lines(k.log())) for k in c.nodes]
    assert not [b for b in bad if b[1]], bad
    for k in c.nodes:
        k.cleanup()


def test_publication_replicated_refreshed_elsewhere_removed(pubcluster,
                                                            phones):
    cl = pubcluster
    A, B, C = cl.nodes
    bob_a = phones("bob", kam=A, register=False)
    r = pidfutil.publish(bob_a, expires=600, body=pidfutil.pidf_body(
        BOB, tuple_id="desk", note="Lunch", activities=["away"]))
    assert r.status == 200, r.first_line()
    e1 = pidfutil.etag_of(r)
    wait_etags(cl.nodes, [e1], "the publication")
    p = pidfutil.publications(B, BOBKEY)[0]
    assert pidfutil.field(p, "note") == "Lunch"
    assert pidfutil.field(p, "tuples") == "desk"
    assert pidfutil.field(p, "node") != "local"
    # the client now reaches B: its ETag is known there
    bob_b = phones("bob", kam=B, register=False)
    r2 = pidfutil.publish(bob_b, etag=e1, expires=600)
    assert r2.status == 200, r2.first_line()
    e2 = pidfutil.etag_of(r2)
    wait_etags(cl.nodes, [e2], "the refreshed publication")
    assert pidfutil.field(pidfutil.publications(B, BOBKEY)[0],
                          "node") == "local"
    # removed through C
    bob_c = phones("bob", kam=C, register=False)
    assert pidfutil.publish(bob_c, etag=e2, expires=0).status == 200
    wait_etags(cl.nodes, [], "no publication")


def pub_rec(etag="Zx81bQ0aT7mYp2LcZeKq", body=None, ttl=600):
    now = int(time.time())
    return {"t": "pub", "e": BOBKEY, "g": etag, "x": now + ttl, "md": now,
            "bd": body if body is not None else pidfutil.pidf_body(
                BOB, tuple_id="evil", note="From the peer")}


def test_hostile_publication_replicas(make_cluster, peer):  # noqa: F811
    cl = make_cluster(gate=False, blf_peers=False)
    A, _ = cl.nodes
    assert peer.join(A) == 200
    blfutil.poll(lambda: in_dmq_list(A, peer.port), 5,
                 what="the peer in A's dmq node list")
    assert peer.blf(A, "hello", "evil") == 200
    bad = [pub_rec(etag="a;b"), pub_rec(etag="x" * 40),
           dict(pub_rec(), bd=""), pub_rec(ttl=400 * 86400)]
    for rec in bad:
        assert peer.blf(A, "batch", "evil", m=[rec]) == 400, rec
    # well-formed replica, but not PIDF: accepted as a message, not stored
    assert peer.blf(A, "batch", "evil",
                    m=[pub_rec(body="<x/>")]) == 200
    assert pidfutil.publications(A) == []
    assert "publication replica from evil ignored" in A.log()
    # a valid one is listed, with the peer as its node; unpub removes it
    assert peer.blf(A, "batch", "evil", m=[pub_rec()]) == 200
    pubs = pidfutil.publications(A, BOBKEY)
    assert [(pidfutil.field(p, "etag"), pidfutil.field(p, "node"))
            for p in pubs] == [("Zx81bQ0aT7mYp2LcZeKq", "evil")], pubs
    assert peer.blf(A, "batch", "evil", m=[{
        "t": "unpub", "e": BOBKEY, "g": "Zx81bQ0aT7mYp2LcZeKq"}]) == 200
    assert pidfutil.publications(A) == []
