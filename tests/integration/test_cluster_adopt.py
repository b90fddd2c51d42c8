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


def test_call_adopted_by_the_node_the_address_moved_to(make_cluster, phones):
    cl = make_cluster(vip=True)
    A, B, C = cl.nodes
    lamps = [watch_via(phones, B, "wb", "bob"),
             watch_via(phones, C, "wc", "bob"),
             watch_via(phones, C, "wc2", "alice")]
    call, inc = ring(phones, A)
    for lp in lamps:
        lp.wait_state("early", call.call_id)
    wait_agree(cl.nodes, 5, "the cluster before the kill")
    before = {lp.sub.call_id: last_seen(lp) for lp in lamps}

    A.kill()
    _dead_seen(cl, A, (B, C))
    # held: the takeover ended nothing
    for lp in lamps:
        assert [i.version for _, i in _quiet(lp, 1) if i] == [], \
            "a NOTIFY at the takeover: the held call was ended"
    alice, bob = call.phone, inc.phone
    for ph in (alice, bob):
        _vip(ph, A, B)

    # (c) a BYE with the call's Call-ID and a tag that is not the call's,
    # from alice's address: nothing changes, B says why
    forged = SipMessage.request("BYE", "sip:bob@127.0.0.1:%d" % B.port, [
        ("From", "<sip:alice@%s>;tag=%s" % (kamproc.DOMAIN, call.local_tag)),
        ("To", "<sip:bob@%s>;tag=%s" % (kamproc.DOMAIN, rand_hex())),
        ("Call-ID", call.call_id), ("CSeq", "99 BYE")])
    alice.send_request(forged, dest=("127.0.0.1", B.port))
    blfutil.poll(lambda: "whose tags are not the call's" in B.log(), 5,
                 what="B's log line for the forged BYE")
    for lp in lamps:
        assert [i.version for _, i in _quiet(lp, 0.5) if i] == [], \
            "a NOTIFY after the forged BYE"

    inc.answer()
    call.wait_state("confirmed")
    for lp in lamps:
        lp.wait_state("confirmed", call.call_id)
    assert call.bye().status == 200
    for lp in lamps:
        lp.wait_state("terminated", call.call_id)
    for lp in lamps:
        lp.assert_versions()  # +1 each, none repeated, CSeq rising
        v0, _ = before[lp.sub.call_id]
        after = [(i.version, n) for n, i in lp.seen
                 if i is not None and i.version > v0]
        assert [v for v, _ in after] == [v0 + 1, v0 + 2], \
            "versions after the kill: %s" % [v for v, _ in after]
        states = [[d.state for d in i.by_call_id(call.call_id)]
                  for n, i in lp.seen if i is not None and i.version > v0]
        assert states == [["confirmed"], ["terminated"]], states
        who = {sender(cl, n) for _, n in after}
        owner = B if lp.sub.phone.proxy[1] == B.port else C
        assert who == {owner}, "NOTIFYs after the kill from %s" % sorted(
            w.name for w in who if w)
    assert _stat(B, "calls_adopted") == 1
    assert _stat(C, "calls_adopted") == 0
    # the adopter's end reached C: nothing held any more, nothing ends
    # later at C's hold end
    blfutil.poll(lambda: _stat(B, "orphans_held") == 0, 5,
                 what="B's held sides gone")
    for k in (B, C):
        assert k.running, "%s died" % k.name


def test_call_adopted_before_the_takeover(make_cluster, phones):
    """The address moves at once (the HA manager was faster than the
    cluster's 4 s): the 200 and the BYE reach B while B still thinks A
    alive. They name A's address (the reply's Via, the BYE's Route): B
    adopts the call then, and the takeover later changes nothing."""
    cl = make_cluster(vip=True)
    A, B, C = cl.nodes
    lamps = [watch_via(phones, B, "wb", "bob"),
             watch_via(phones, C, "wc", "alice")]
    call, inc = ring(phones, A)
    for lp in lamps:
        lp.wait_state("early", call.call_id)
    wait_agree(cl.nodes, 5, "the cluster before the kill")
    before = {lp.sub.call_id: last_seen(lp) for lp in lamps}

    t_kill = A.kill()
    for ph in (call.phone, inc.phone):
        _vip(ph, A, B)
    inc.answer()
    call.wait_state("confirmed")
    for lp in lamps:
        lp.wait_state("confirmed", call.call_id)
    assert call.bye().status == 200
    for lp in lamps:
        lp.wait_state("terminated", call.call_id)
    assert time.monotonic() - t_kill < 3, "not before the takeover"
    assert "cluster node %s is dead" % A.name not in B.log()
    _dead_seen(cl, A, (B, C))
    for lp in lamps:
        assert [i.version for _, i in _quiet(lp, 1.5) if i] == [], \
            "a NOTIFY after the takeover"
        lp.assert_versions()
        v0, _ = before[lp.sub.call_id]
        states = [[d.state for d in i.by_call_id(call.call_id)]
                  for n, i in lp.seen if i is not None and i.version > v0]
        assert states == [["confirmed"], ["terminated"]], states
    assert _stat(B, "calls_adopted") == 1
    for k in (B, C):
        assert _stat(k, "orphans_ended") == 0
        assert k.running, "%s died" % k.name


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


def test_restarted_node_old_calls_held_then_ended(make_cluster, phones):
    """A killed and started again at once: its old incarnation's call is
    held by B and C like a dead node's (A is alive again, but not the
    incarnation that tracked it) and ends at the hold's end; a call A
    rings after its restart is its own and goes on."""
    hold = 3
    cl = make_cluster(takeover_call_hold=hold)
    A, B, C = cl.nodes
    lb = watch_via(phones, B, "wb", "bob")
    lc = watch_via(phones, C, "wc", "carol")
    call, inc = ring(phones, A)
    inc.answer()
    call.wait_state("confirmed")
    lb.wait_state("confirmed", call.call_id)
    wait_agree(cl.nodes, 5, "the cluster before the kill")

    A.kill()
    A.restart()
    call2, inc2 = ring(phones, A, "dave", "carol")
    lc.wait_state("early", call2.call_id)
    blfutil.poll(lambda: all("restarted" in k.log() and "is dead" in
                             k.log().split("restarted", 1)[1]
                             for k in (B, C)), cl.bound(),
                 what="B and C handled A's restart")
    t_tko = time.monotonic()
    d = lb.wait_state("terminated", call.call_id, timeout=hold + 5)
    assert d.state == "terminated"
    ended = min(n.time for n, i in lb.seen if i is not None and
                [x.state for x in i.by_call_id(call.call_id)] ==
                ["terminated"])
    assert ended - t_tko >= hold - 1.5, \
        "the old call ended %.1f s after the takeover, before the hold's " \
        "end" % (ended - t_tko)
    inc2.answer()
    call2.wait_state("confirmed")
    lc.wait_state("confirmed", call2.call_id)
    assert call2.bye().status == 200
    lc.wait_state("terminated", call2.call_id)
    assert lc.history(call2.call_id) == [
        "trying", "early", "confirmed", "terminated"], lc.history(
            call2.call_id)
    lb.assert_versions()
    lc.assert_versions()
    # C's hold ends in its own second, maybe after B's
    blfutil.poll(lambda: all(_stat(k, "orphans_ended") == 2
                             for k in (B, C)), 3,
                 what="the old call's two sides ended at B and C")
    for k in (B, C):
        assert _stat(k, "orphans_held") == 0
        assert k.running, "%s died" % k.name
