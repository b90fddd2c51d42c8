"""Cluster: what a node holds of the others' subscriptions, and the
versions it predicts for them.

- blf:subscription_replicas counts the other nodes' subscriptions held
  here (blf:subscriptions counts this node's own): every node holds every
  subscription, so the two add up to the cluster's total on each node,
  through a new subscription, a takeover by a refresh through another node
  and an unsubscribe.
- A call through one node, watched through all three: every node's copy
  of each subscription ends with the version and CSeq its owner really
  sent, although no node replicates the versions of the call's NOTIFYs
  (each counts them on its copies), and every watcher saw versions
  0, 1, 2, ... each once.
"""

import re

import blfutil
# the three-node cluster fixtures and helpers of the cluster tests
from test_cluster import make_cluster, cluster, watch_via, ring  # noqa: F401


def stat(kam, name):
    """A blf statistic (kex stats.get_statistics); None if absent."""
    text = kam.kamcmd("stats.get_statistics", "blf:")
    m = re.search(r"blf:%s = (\d+)" % re.escape(name), text)
    return int(m.group(1)) if m else None


def counts(nodes):
    return [(stat(k, "subscriptions"), stat(k, "subscription_replicas"))
            for k in nodes]


def test_replica_count_follows_subscriptions(cluster, phones):
    A, B, C = cluster.nodes
    la = watch_via(phones, A, "wa", "bob")
    lb = watch_via(phones, B, "wb", "carol")
    blfutil.poll(lambda: counts(cluster.nodes) == [(1, 1), (1, 1), (0, 2)],
                 5, what="each subscription held once per node")

    # wa's refresh through C (an edge proxy): the subscription becomes C's
    la.sub.phone.proxy = C.addr
    la.refresh()
    blfutil.poll(lambda: counts(cluster.nodes) == [(0, 2), (1, 1), (1, 1)],
                 5, what="wa's subscription moved to C")

    assert lb.sub.unsubscribe().status == 200
    blfutil.poll(lambda: counts(cluster.nodes) == [(0, 1), (0, 1), (1, 0)],
                 5, what="carol's subscription gone from every node")


def test_call_versions_predicted_on_every_node(cluster, phones):
    A, B, C = cluster.nodes
    lamps = [watch_via(phones, k, "watcher%d" % i, "bob")
             for i, k in enumerate(cluster.nodes)]
    call, inc = ring(phones, A)
    inc.answer()
    call.wait_state("confirmed")
    assert call.bye().status == 200
    for lp in lamps:
        lp.wait_state("terminated", call.call_id)

    def copies_agree():
        owned = {}
        for k in cluster.nodes:
            for s in blfutil.subscriptions(k):
                if s["owner"] == "local":
                    owned[s["callid"]] = (s["version"], s.get("cseq"))
        if len(owned) != 3:
            return False
        return all({s["callid"]: (s["version"], s.get("cseq"))
                    for s in blfutil.subscriptions(k)} == owned
                   for k in cluster.nodes)
    blfutil.poll(copies_agree, 5,
                 what="every copy at its owner's version and CSeq")
    for lp in lamps:
        lp.assert_versions()
    for k in cluster.nodes:
        assert k.running
