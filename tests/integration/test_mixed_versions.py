"""A cluster of mixed Kamailio versions, as during a rolling upgrade
(README "Upgrading"): node A runs the installed Kamailio 5.6 with the
module built for it, node B the Kamailio 6.0 of `make test-kamailio6`
with the same module source built for 6.0. It runs in the 6.0 pass only
(`make test-kamailio6`, which has just rebuilt build/blf6; the 5.6 blf.so
is the one `make module` built), skipped elsewhere.

  - they form a cluster: a subscription through each node is replicated to
    the other (cluster.py's formation probe);
  - a call through B (6.0) lights the lamp of a watcher subscribed through
    A (5.6): trying, early, confirmed, terminated, versions +1;
  - A (the old version) is killed: B takes its subscription over with a
    full-state NOTIFY carrying the next version and a higher CSeq, as when
    the node being upgraded goes down.
"""

import contextlib
import os

import pytest

import blfutil
import cluster as clustermod
import kamproc

REPO = kamproc.REPO
V56 = {"KAMAILIO": "/usr/sbin/kamailio", "KAMCMD": "/usr/sbin/kamcmd",
       "KAMAILIO_MODULES": "/usr/lib/x86_64-linux-gnu/kamailio/modules",
       "KAMAILIO_SHARE": "/usr/share/kamailio",
       "BLF_MODULE": os.path.join(REPO, "modules", "blf", "blf.so")}
K6 = os.path.join(REPO, "build", "kamailio6")
V60 = {"KAMAILIO": os.path.join(K6, "sbin", "kamailio"),
       "KAMCMD": os.path.join(K6, "sbin", "kamcmd"),
       "KAMAILIO_MODULES": os.path.join(K6, "lib", "kamailio", "modules"),
       "KAMAILIO_SHARE": os.path.join(K6, "share", "kamailio"),
       "BLF_MODULE": os.path.join(REPO, "build", "blf6", "blf.so")}


@contextlib.contextmanager
def kamailio_of(version):
    """kamproc's Kamailio, modules and blf.so set to version's for the
    duration (kamproc and cluster.py read them when they render and
    start a node)."""
    saved = {k: getattr(kamproc, k) for k in version}
    for k, v in version.items():
        setattr(kamproc, k, v)
    try:
        yield
    finally:
        for k, v in saved.items():
            setattr(kamproc, k, v)


def pin(node, version):
    """Makes node render and start with version's Kamailio, always."""
    render, start_once = node.render, node._start_once

    def pinned_render():
        with kamailio_of(version):
            return render()

    def pinned_start_once(timeout):
        with kamailio_of(version):
            return start_once(timeout)
    node.render = pinned_render
    node._start_once = pinned_start_once


def serve(request, c):
    """A fixture's body for cluster c of pinned nodes: started, yielded,
    stopped; a crash line in a node's log fails the test."""
    request.node._blf_kams = list(c.nodes)
    try:
        c.start()
    except Exception:
        c.stop()
        raise
    yield c
    c.stop()
    problems = []
    for k in c.nodes:
        bad = kamproc.crash_lines(k.log())
        if bad:
            problems.append("%s logged:\n%s" % (k.name, "\n".join(bad)))
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
    for k in c.nodes:
        k.cleanup()


@pytest.fixture
def mixed(request):
    if os.path.realpath(kamproc.BLF_MODULE) != \
            os.path.realpath(V60["BLF_MODULE"]):
        pytest.skip("mixed 5.6/6.0 cluster: run in `make test-kamailio6`")
    for v in (V56, V60):
        for k in ("KAMAILIO", "BLF_MODULE"):
            if not os.path.exists(v[k]):
                pytest.skip("%s not built (make module module6)" % v[k])
    c = clustermod.Cluster(2)
    pin(c.nodes[0], V56)
    pin(c.nodes[1], V60)
    yield from serve(request, c)


def running_version(node):
    return node.rpc("core.version")


def test_old_and_new_kamailio_share_lamps_and_take_over(mixed, phones):
    A, B = mixed.nodes
    assert "5.6" in str(running_version(A)), running_version(A)
    assert "6.0" in str(running_version(B)), running_version(B)

    w = phones("watcher", kam=A, register=False)
    lamp = blfutil.watch(w, "bob")
    alice = phones("alice", kam=B)
    bob = phones("bob", kam=B)
    call = alice.call("bob")
    inc = bob.wait_incoming()
    call.wait_state("early")
    lamp.wait_state("early", call.call_id)
    inc.answer()
    call.wait_state("confirmed")
    lamp.wait_state("confirmed", call.call_id)
    assert call.bye().status == 200
    lamp.wait_state("terminated", call.call_id)
    assert lamp.history(call.call_id) == [
        "trying", "early", "confirmed", "terminated"], \
        lamp.history(call.call_id)
    lamp.assert_versions()
    for n, _ in lamp.seen:
        assert n.msg.src[1] == A.port, "NOTIFY not from its owner A"

    # B holds A's subscription with the version A sent last
    def replicated():
        mine = {s["callid"]: s["version"] for s in blfutil.subscriptions(A)}
        theirs = {s["callid"]: s["version"]
                  for s in blfutil.subscriptions(B)}
        return mine and mine == theirs
    blfutil.poll(replicated, 5, what="A's subscription and version on B")
    lamp.drain()
    v0, c0 = max((i.version, n.cseq) for n, i in lamp.seen if i is not None)

    A.kill()
    n, info = lamp.pump(mixed.bound(), "takeover NOTIFY from B")
    assert n.msg.src[1] == B.port, "takeover NOTIFY not from B"
    assert n.state == "active", n.subscription_state
    assert info is not None and info.version == v0 + 1, (info, v0)
    assert n.cseq > c0, (n.cseq, c0)
    # the present state (the call over: no dialog, or it terminated), and
    # nothing before it: A showed the whole call, so B replays none of it
    # (blf_rhist.c), although it ended just before the kill
    assert info.dialogs == [] or all(d.state == "terminated"
                                     for d in info.dialogs), info.raw
    lamp.drain()
    more = [(i.version, [d.state for d in i.by_call_id(call.call_id)])
            for n, i in lamp.seen if i is not None and i.version > v0 + 1]
    assert more == [], "NOTIFYs after the takeover's: %s" % more
    lamp.assert_versions()
