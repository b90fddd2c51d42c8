"""Watcher information (RFC 3857/3858: presence.winfo, dialog.winfo) in a
cluster of three real nodes over DMQ (cluster.py): a watcher subscribing
through node B to entity bob makes the winfo subscription bob holds
through node A NOTIFY at once (the replica's apply path on A), listing it
active; its unsubscribe through B lists it gone; its refresh through B is
not a new watcher (no NOTIFY, as for a local one). Every body validated
against tests/schema/watcherinfo.xsd (pidfutil); versions 0, 1, 2 ...;
every winfo NOTIFY from A, the node that owns the winfo subscription.
"""

import time

import pytest

import blfutil
import kamproc
import pidfutil
from test_cluster import make_cluster, cluster, sender  # noqa: F401

DOMAIN = kamproc.DOMAIN


def active_uris(doc):
    return sorted(w.uri for w in doc.watchers if w.status == "active")


@pytest.mark.parametrize("package", ["presence.winfo", "dialog.winfo"])
def test_remote_watcher_notifies_winfo_at_once(cluster, phones, package):
    A, B, C = cluster.nodes
    bob = phones("bob", kam=A)
    ww = pidfutil.watch(bob, "bob", package)
    assert ww.current.watchers == [], ww.current.raw
    watched = package.split(".")[0]
    alice = phones("alice", kam=B, register=False)
    t0 = time.monotonic()
    if watched == "presence":
        sub = pidfutil.watch(alice, "bob", "presence").sub
    else:
        sub = blfutil.watch(alice, "bob").sub
    # at once: the replica reaches A in milliseconds; A's NOTIFY follows
    doc = ww.wait(lambda d: active_uris(d) != [], 2,
                  "alice (through B) listed by A")
    took = time.monotonic() - t0
    print("\n%s: watcher through B listed by A's NOTIFY %.0f ms after its "
          "SUBSCRIBE" % (package, took * 1000))
    assert len(doc.watchers) == 1, doc.raw
    w = doc.watchers[0]
    assert "alice@%s" % DOMAIN in w.uri, doc.raw
    assert w.status == "active" and w.event == "subscribe" and w.id, doc.raw
    assert doc.package == watched and doc.state == "full", doc.raw

    # a refresh through B: nobody came, no NOTIFY (as for a local watcher)
    n_before = len(ww.seen)
    assert sub.refresh(300).status == 200
    time.sleep(0.5)  # a NOTIFY, were one sent, arrives in milliseconds
    ww.drain()
    assert len(ww.seen) == n_before, \
        "a refresh through B made A notify: %s" % ww.seen[-1][1].raw

    # it goes: listed gone at once
    assert sub.unsubscribe().status == 200
    doc = ww.wait(lambda d: active_uris(d) == [], 2,
                  "alice gone from A's document")
    assert all(w.status == "terminated" for w in doc.watchers), doc.raw
    ww.drain()
    v = [d.version for _, d in ww.seen if d is not None]
    assert v == list(range(len(v))), "versions %s" % v
    assert {sender(cluster, n) for n, _ in ww.seen} == {A}
    for k in cluster.nodes:
        assert k.running
