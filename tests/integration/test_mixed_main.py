"""A cluster where one node runs an older build of the module (given as
BLF_MODULE_OLD, e.g. main's blf.so; skipped without it), as during a
rolling upgrade of the module alone: the newer nodes pass versions on in
their answers ("pa") only to nodes that say they read them, and skip
hellos when they broadcast; the older node must notice neither.

  - a call through A lights the lamps of watchers through B (new) and C:
    every state, versions +1 (C old, or A old);
  - B's and C's NOTIFY versions reach every node (A holds them from
    their answers and passes them on: in its answers to a new node, in
    messages to an old one);
  - B is killed: its watcher's next NOTIFY, from A or C, carries the next
    version and a higher CSeq;
  - the old node never counts a message of the new ones as invalid.
"""

import os

import pytest

import blfutil
import cluster as clustermod
from test_cluster import watch_via, ring, sender, last_seen  # noqa: F401
from test_cluster_hostile import stat
from test_mixed_versions import pin, serve

OLD = os.environ.get("BLF_MODULE_OLD")


@pytest.fixture(params=[2, 0], ids=["watcher-node-old", "call-node-old"])
def mixed3(request):
    if not OLD or not os.path.exists(OLD):
        pytest.skip("BLF_MODULE_OLD (an older blf.so for this Kamailio) "
                    "not given")
    names = [None, None, None]
    names[request.param] = "blf-old"
    c = clustermod.Cluster(3, names=names)
    pin(c.nodes[request.param], {"BLF_MODULE": OLD})
    yield from serve(request, c)


def test_new_and_old_module_share_versions_and_take_over(mixed3, phones):
    A, B, C = mixed3.nodes
    lb = watch_via(phones, B, "wb", "bob")
    lc = watch_via(phones, C, "wc", "bob")
    for _ in range(3):
        call, inc = ring(phones, A)
        for lp in (lb, lc):
            lp.wait_state("early", call.call_id)
        inc.answer()
        call.wait_state("confirmed")
        for lp in (lb, lc):
            lp.wait_state("confirmed", call.call_id)
        assert call.bye().status == 200
        for lp in (lb, lc):
            lp.wait_state("terminated", call.call_id)
    for lp in (lb, lc):
        lp.assert_versions()

    def versions_everywhere():
        want = {}
        for k in (B, C):
            want.update({s["callid"]: s["version"]
                         for s in blfutil.subscriptions(k)
                         if s["owner"] == "local"})
        return all({s["callid"]: s["version"]
                    for s in blfutil.subscriptions(k)} == want
                   for k in (A, B, C))
    blfutil.poll(versions_everywhere, 5,
                 what="B's and C's NOTIFY versions on every node")
    lb.drain()
    v0, c0 = last_seen(lb)
    B.kill()
    n, info = lb.pump(mixed3.bound(), "takeover NOTIFY")
    assert sender(mixed3, n) in (A, C)
    assert info is not None and info.version == v0 + 1, (info, v0)
    assert n.cseq > c0, (n.cseq, c0)
    for k in (A, C):
        assert stat(k, "dmq_invalid") == 0, k.name
        assert stat(k, "dmq_untrusted") == 0, k.name
