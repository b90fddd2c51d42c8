"""A dead node's calls held, then adopted (takeover_call_hold, SPEC
"Persistence and cluster", issue #13): three real nodes over DMQ
(cluster.py), a call rings through A, A is killed.

In the HA deployment the dead proxy's address moves to a survivor (a VIP):
the nodes here have alias= lines for each other's addresses (vip=True) and
the phones' messages to A's address are sent to B instead, unchanged (Via
and Route still name A), as a moved address would deliver them. B holds
the call as A's replica and adopts it from the callee's 200 and the BYE:
its watchers and C's see confirmed, then terminated, one version at a
time, each from its own node. With no traffic the held call ends at the
hold's end, not at the takeover; a BYE with the call's Call-ID but a tag
that is not the call's changes nothing.
"""

import time

import blfutil
import kamproc
from sipua import SipMessage, rand_hex
from test_cluster import (make_cluster, watch_via, ring,  # noqa: F401
                          wait_agree, sender, last_seen)
from test_cluster_kill import _quiet


def _vip(phone, dead, to):
    """phone's messages to dead's address go to node to (the address moved
    there); the messages themselves are unchanged"""
    send = phone._send

    def moved(data, dest=None):
        dest = dest or phone.proxy
        if dest[1] == dead.port:
            dest = ("127.0.0.1", to.port)
        send(data, dest)
    phone._send = moved


def _dead_seen(cluster, dead, nodes):
    blfutil.poll(lambda: all("cluster node %s is dead" % dead.name in k.log()
                             for k in nodes), cluster.bound(),
                 what="%s's takeover at %s" % (
                     dead.name, ", ".join(k.name for k in nodes)))
    return time.monotonic()


def _stat(kam, name):
    """A blf statistic (kex stats.get_statistics); it must exist."""
    res = kam.rpc("stats.get_statistics", "blf:")
    for line in (res if isinstance(res, list) else [res]):
        if isinstance(line, str) and line.startswith("blf:%s = " % name):
            return int(line.split("=", 1)[1])
    raise AssertionError("no statistic blf:%s in %r" % (name, res))


def test_held_call_ends_at_the_hold_end(make_cluster, phones):
    """No traffic of the dead node's call reaches a survivor: the call
    stays as it was for takeover_call_hold seconds after the takeover,
    then ends as at a takeover (every watcher, once)."""
    hold = 3
    cl = make_cluster(vip=True, takeover_call_hold=hold)
    A, B, C = cl.nodes
    lamps = [watch_via(phones, B, "wb", "bob"),
             watch_via(phones, C, "wc", "alice")]
    call, inc = ring(phones, A)
    inc.answer()
    call.wait_state("confirmed")
    for lp in lamps:
        lp.wait_state("confirmed", call.call_id)
    wait_agree(cl.nodes, 5, "the cluster before the kill")

    A.kill()
    t_tko = _dead_seen(cl, A, (B, C))
    for lp in lamps:
        d = lp.wait_state("terminated", call.call_id, timeout=hold + 5)
        assert d.state == "terminated"
    for lp in lamps:
        ended = min(n.time for n, i in lp.seen if i is not None and
                    [d.state for d in i.by_call_id(call.call_id)] ==
                    ["terminated"])
        # the takeover is seen in the log up to a poll later (0.1 s); the
        # hold's end is checked each second
        assert ended - t_tko >= hold - 1.2, \
            "ended %.1f s after the takeover, before the %d s hold" % (
                ended - t_tko, hold)
        assert ended - t_tko <= hold + 2.5, \
            "ended %.1f s after the takeover" % (ended - t_tko)
        lp.assert_versions()
        assert lp.history(call.call_id)[-2:] == ["confirmed", "terminated"]
    for k in (B, C):
        assert _stat(k, "orphans_ended") == 2  # its two sides
        assert _stat(k, "orphans_held") == 0
        assert _stat(k, "calls_adopted") == 0
        assert k.running, "%s died" % k.name
