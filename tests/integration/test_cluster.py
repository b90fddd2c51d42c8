"""Cluster over DMQ (SPEC "Persistence and cluster"), with three real
Kamailio nodes on loopback (cluster.py): A and B with blf's default node
names (their first UDP socket), C with modparam node_name "blf-c".

  - a call through A lights the lamps of watchers subscribed through B
    (trying, early, confirmed, terminated; versions +1; RFC 4235 bodies),
    and a call answered at once shows the same states on every node, with
    no call left anywhere after its BYE;
  - every node lists every subscription (owner "local" on the node that
    took the SUBSCRIBE, that node's name elsewhere) and every call;
  - kill -9 of a subscription's owner: one survivor, the same for all,
    sends a full-state NOTIFY with the next version and a higher CSeq
    within 3 DMQ ping intervals + 5 s (the states B did not show
    replayed first, none it did: test_cluster_kill.py), then keeps notifying, answers the
    watcher's refresh and unsubscribe (the measured takeover time is
    printed); also when the dead owner carried the call itself;
  - kill -9 of the node a call went through: watchers on the other nodes
    see that call terminated (no lamp stuck lit);
  - behind an edge proxy a refresh may reach another node: that node takes
    the subscription over, the former owner stops;
  - the killed node restarts and pulls the state: its blf.subscriptions and
    blf.entities agree with the others'; also when it is restarted at once,
    before the others noticed its death;
  - with an SQLite file per node (db_url): a node restarted after being
    taken over gives its stale rows up; one restarted at once goes on
    notifying; after a restart of the whole cluster every subscription has
    one owner again and versions go on.

"kill -9" is SIGKILL of the node's whole process group. Every wait is
bounded and polls SIP or RPC; nothing sleeps for correctness. Run with -s
to see the measured times.
"""

import sqlite3
import time

import pytest

import blfutil
import cluster as clustermod
import dbutil
import kamproc
from blfutil import colors

DOMAIN = kamproc.DOMAIN


@pytest.fixture
def make_cluster(request):
    """make_cluster(**kw): three started nodes A, B, C (a formed cluster;
    kw as cluster.Cluster's); stopped at teardown, their logs checked for
    crashes, their directories kept on failure."""
    made = []

    def make(**kw):
        c = clustermod.Cluster(3, names=[None, None, "blf-c"], **kw)
        made.append(c)
        request.node._blf_kams = [k for m in made for k in m.nodes]
        try:
            c.start()
        except Exception:
            c.stop()
            raise
        return c

    yield make
    problems = []
    for c in made:
        c.stop()
        for k in c.nodes:
            bad = kamproc.crash_lines(k.log())
            if bad:
                problems.append("%s logged:\n%s" % (k.name, "\n".join(bad)))
    failed = any(getattr(request.node, "rep_" + w, None) is not None and
                 getattr(request.node, "rep_" + w).failed
                 for w in ("setup", "call"))
    dirs = " ".join(k.dir for c in made for k in c.nodes)
    if problems:
        pytest.fail("\n".join(problems) + "\n(cfgs and logs kept in %s)" %
                    dirs, pytrace=False)
    if not failed:
        for c in made:
            for k in c.nodes:
                k.cleanup()


@pytest.fixture
def cluster(make_cluster):
    return make_cluster()


# -- views of the cluster state over RPC --------------------------------------

def sub_view(kam):
    """{(watcher, entity, callid): owner} of one node's blf.subscriptions"""
    return {(s["watcher"], s["entity"], s["callid"]): s["owner"]
            for s in blfutil.subscriptions(kam)}


def ent_view(kam):
    """{entity: (watchers, {(callid, id, state, direction, peer)})} of one
    node's blf.entities; entities with neither watchers nor calls left out
    (nothing to agree on)."""
    out = {}
    for e in blfutil.entities(kam):
        dlgs = blfutil.records(e.get("dialogs"), "callid")
        watchers = int(e.get("watchers", 0))
        if not dlgs and not watchers:
            continue
        out[e["entity"]] = (watchers, frozenset(
            (d["callid"], d["id"], d["state"], d["direction"], d["peer"])
            for d in dlgs))
    return out


def call_origins(kam):
    """{(entity, callid, direction): node} of one node's blf.entities"""
    return {(e["entity"], d["callid"], d["direction"]): d["node"]
            for e in blfutil.entities(kam)
            for d in blfutil.records(e.get("dialogs"), "callid")}


def ownership_problems(nodes, views):
    """views: {node: {key: owner-or-node field}}. Each key must be "local"
    on exactly one node and name that node on every other."""
    out = []
    for key in sorted(set().union(*views.values())):
        homes = [k for k in nodes if views[k].get(key) == "local"]
        if len(homes) != 1:
            out.append("%s is local on %s" % (key, [k.name for k in homes]))
            continue
        for k in nodes:
            if k is not homes[0] and views[k].get(key) != homes[0].name:
                out.append("%s: %s says %r, expected %r" % (
                    key, k.name, views[k].get(key), homes[0].name))
    return out


def disagreement(nodes):
    """What the nodes disagree on (empty when they agree): the same
    subscriptions and entities everywhere, owners and call origins
    consistent."""
    subs = {k: sub_view(k) for k in nodes}
    ents = {k: ent_view(k) for k in nodes}
    out = []
    ref = nodes[0]
    for k in nodes[1:]:
        if set(subs[k]) != set(subs[ref]):
            out.append("subscriptions: %s has %s, %s has %s" % (
                ref.name, sorted(subs[ref]), k.name, sorted(subs[k])))
        if ents[k] != ents[ref]:
            out.append("entities: %s has %s, %s has %s" % (
                ref.name, ents[ref], k.name, ents[k]))
    out += ownership_problems(nodes, subs)
    out += ownership_problems(nodes, {k: call_origins(k) for k in nodes})
    return out


def wait_agree(nodes, timeout, what="nodes agree"):
    deadline = time.monotonic() + timeout
    while True:
        problems = disagreement(nodes)
        if not problems:
            return
        if time.monotonic() > deadline:
            raise AssertionError("%s: not within %.1fs:\n  %s" % (
                what, timeout, "\n  ".join(problems)))
        time.sleep(0.1)  # polling interval of a bounded wait


def owner_of(kam, callid):
    return next((s["owner"] for s in blfutil.subscriptions(kam)
                 if s["callid"] == callid), None)


def sender(cl, notify):
    """The node a NOTIFY came from (by source port)."""
    port = notify.msg.src[1]
    return next((k for k in cl.nodes if k.port == port), None)


def last_seen(lamp):
    """(version, CSeq) of the newest NOTIFY lamp received."""
    lamp.drain()
    return max((i.version, n.cseq) for n, i in lamp.seen if i is not None)


def expires_left(lamp, at):
    """What the subscription of lamp had left at monotonic time at,
    from the newest NOTIFY before it with an expires."""
    n = max((n for n, _ in lamp.seen if n.expires is not None and
             n.time < at), key=lambda n: n.time)
    return n.expires - (at - n.time)


def watch_via(phones, node, user, target):
    w = phones(user, kam=node, register=False)
    return blfutil.watch(w, target)


def ring(phones, node, caller="alice", callee="bob"):
    """caller and callee REGISTERed on node; caller calls callee through
    it; returns (call, incoming) once the callee rings."""
    a = phones(caller, kam=node)
    b = phones(callee, kam=node)
    call = a.call(callee)
    inc = b.wait_incoming()
    call.wait_state("early")
    return call, inc


# -- (1) cross-node lamps -----------------------------------------------------

def test_call_on_a_lights_watcher_on_b(cluster, phones):
    """At a person's pace: each step once the lamps show the last one."""
    A, B, _ = cluster.nodes
    lb = watch_via(phones, B, "watcher", "bob")
    la = watch_via(phones, B, "watcher2", "alice")
    call, inc = ring(phones, A)
    for lamp in (la, lb):
        lamp.wait_state("early", call.call_id)
    inc.answer()
    call.wait_state("confirmed")
    for lamp in (la, lb):
        lamp.wait_state("confirmed", call.call_id)
    assert call.bye().status == 200
    da = la.wait_state("terminated", call.call_id)
    db = lb.wait_state("terminated", call.call_id)
    for lamp in (la, lb):
        assert lamp.history(call.call_id) == [
            "trying", "early", "confirmed", "terminated"], \
            lamp.history(call.call_id)
        lamp.assert_versions()
        for n, _ in lamp.seen:
            assert sender(cluster, n) is B, \
                "NOTIFY of a subscription owned by B came from %s" % (
                    sender(cluster, n))
    # the dialog data of the real SIP dialog, replicated from A
    assert da.direction == "initiator" and db.direction == "recipient"
    assert da.local_tag == call.local_tag == db.remote_tag
    assert db.local_tag == inc.local_tag == da.remote_tag
    assert da.local.identity == "sip:alice@%s" % DOMAIN
    assert db.remote.identity == "sip:alice@%s" % DOMAIN
    # and the ended call is gone from every node
    blfutil.poll(lambda: not any(call_origins(k) for k in cluster.nodes), 5,
                 what="no call left in any node's blf.entities")


def test_fast_answer_same_states_on_every_node(cluster, phones):
    """Calls answered as soon as they ring (an auto-answer, an intercom):
    the replicas of one call's states leave A milliseconds apart. Watchers
    on B and C must see what a watcher on A sees: every state, in order."""
    A, B, C = cluster.nodes
    seen = {}
    for i in range(8):
        caller, callee = "alice%d" % i, "bob%d" % i
        lamps = {(k.name, who): watch_via(phones, k, "w%d%s" % (i, who), who)
                 for k in (A, B, C) for who in (caller, callee)}
        call, inc = ring(phones, A, caller, callee)
        inc.answer()
        call.wait_state("confirmed")
        assert call.bye().status == 200
        for lp in lamps.values():
            lp.wait_state("terminated", call.call_id)
            lp.assert_versions()
        for (node, who), lp in lamps.items():
            seen[(i, node, who)] = lp.history(call.call_id)
    # no call outlives its BYE anywhere (no lamp left lit)
    ghosts = {}

    def no_calls():
        ghosts.clear()
        ghosts.update({k.name: call_origins(k) for k in cluster.nodes
                       if call_origins(k)})
        return not ghosts
    try:
        blfutil.poll(no_calls, 5, 0.1, "no call left on any node")
    except AssertionError:
        raise AssertionError("calls ended by BYE still listed by "
                             "blf.entities: %s; states seen by the "
                             "watchers: %s" % (ghosts, seen)) from None
    want = ["trying", "early", "confirmed", "terminated"]
    wrong = {k: v for k, v in sorted(seen.items()) if v != want}
    assert not wrong, "states seen by watchers (call, node, entity): %s; " \
        "expected %s everywhere" % (wrong, want)


# -- (2) every node knows every subscription and call -------------------------

def test_every_node_lists_subscriptions_and_calls(cluster, phones):
    A, B, C = cluster.nodes
    lamp = watch_via(phones, B, "watcher", "bob")
    cid = lamp.sub.call_id
    key = ("watcher@%s" % DOMAIN, "bob@%s" % DOMAIN, cid)

    def listed():
        return all(key in sub_view(k) for k in cluster.nodes)
    blfutil.poll(listed, 5, what="the subscription on every node")
    views = {k: sub_view(k) for k in cluster.nodes}
    for k in cluster.nodes:
        assert set(views[k]) == {key}, (k.name, views[k])
    assert views[B][key] == "local"
    assert views[A][key] == B.name == "udp:127.0.0.1:%d" % B.port
    assert views[C][key] == B.name
    for k in (A, C):
        s = blfutil.subscriptions(k)[0]
        assert s["event"] == "dialog"
        assert "127.0.0.1:%d" % lamp.sub.phone.addr[1] in s["contact"], s

    call, inc = ring(phones, A)
    lamp.wait_state("early", call.call_id)
    wait_agree(cluster.nodes, 5, "entities while ringing")
    inc.answer()
    lamp.wait_state("confirmed", call.call_id)
    wait_agree(cluster.nodes, 5, "entities while talking")
    for k in cluster.nodes:
        ents = {e: d for e, (_, d) in ent_view(k).items()}
        states = {(e, cid_, st, dr) for e, ds in ents.items()
                  for cid_, _, st, dr, _ in ds}
        assert states == {
            ("alice@%s" % DOMAIN, call.call_id, "confirmed", "initiator"),
            ("bob@%s" % DOMAIN, call.call_id, "confirmed", "recipient")}, \
            (k.name, ents)
        origins = set(call_origins(k).values())
        assert origins == {"local" if k is A else A.name}, (k.name, origins)
    assert call.bye().status == 200
    lamp.wait_state("terminated", call.call_id)
    lamp.assert_versions()


# -- (3) takeover of a dead owner's subscriptions -----------------------------

def test_owner_killed_mid_call_takeover(cluster, phones):
    A, B, C = cluster.nodes
    lamps = [watch_via(phones, B, "watcher%d" % i, "bob") for i in range(4)]
    cids = [lp.sub.call_id for lp in lamps]
    call, inc = ring(phones, A)
    for lp in lamps:
        lp.wait_state("early", call.call_id)
    # the replicas have caught up with what B sent (steady state)
    wait_agree(cluster.nodes, 5, "the cluster before the kill")

    def versions_replicated():
        want = {s["callid"]: s["version"] for s in blfutil.subscriptions(B)}
        return all({s["callid"]: s["version"]
                    for s in blfutil.subscriptions(k)} == want
                   for k in (A, C))
    blfutil.poll(versions_replicated, 5,
                 what="B's NOTIFY versions replicated to A and C")
    before = {lp.sub.call_id: last_seen(lp) for lp in lamps}

    t_kill = B.kill()
    survivors = [A, C]
    took = {}
    for lp in lamps:
        n, info = lp.pump(cluster.bound(), "takeover NOTIFY")
        v0, c0 = before[lp.sub.call_id]
        who = sender(cluster, n)
        took[lp.sub.call_id] = (who, n.time - t_kill)
        assert who in survivors, "NOTIFY after the kill came from %s" % who
        assert n.state == "active", n.subscription_state
        assert info is not None and info.version == v0 + 1, \
            "takeover NOTIFY version %s, the watcher saw %d last" % (
                info and info.version, v0)
        assert n.cseq > c0, "takeover NOTIFY CSeq %d <= %d" % (n.cseq, c0)
        # the full state as now (early): B showed trying and early
        # already, so nothing is replayed (blf_rhist.c), not even trying
        assert [d.state for d in info.by_call_id(call.call_id)] == \
            ["early"], "takeover NOTIFY is not the full state: %s" % info.raw
        left = expires_left(lp, n.time)
        assert abs(n.expires - left) <= 3, \
            "takeover NOTIFY expires=%d, the subscription had %d s left" % (
                n.expires, left)
    delays = sorted(t for _, t in took.values())
    print("\ntakeover: node %s killed -> first NOTIFY from the new owner "
          "after %.2f s (all %d subscriptions: %s s; bound %d s); owners: "
          "%s" % (B.name, delays[0], len(delays),
                  ", ".join("%.2f" % t for t in delays), cluster.bound(),
                  sorted(w.name for w, _ in took.values())))
    assert delays[-1] <= cluster.bound(), \
        "takeover after %.1f s > 3 DMQ ping intervals + 5 s" % delays[-1]

    # the survivors agree on who owns what: the node that sent
    blfutil.poll(lambda: not ownership_problems(
        survivors, {k: sub_view(k) for k in survivors}), 5,
        what="consistent owners on A and C")
    for cid in cids:
        owner = took[cid][0]
        assert owner_of(owner, cid) == "local", (owner.name, cid)
        other = C if owner is A else A
        assert owner_of(other, cid) == owner.name, (other.name, cid)

    # the call goes on; each change once, from the new owner, versions +1
    inc.answer()
    call.wait_state("confirmed")
    for lp in lamps:
        lp.wait_state("confirmed", call.call_id)
    assert call.bye().status == 200
    for lp in lamps:
        lp.wait_state("terminated", call.call_id)
    for lp in lamps:
        lp.assert_versions()
        v0 = before[lp.sub.call_id][0]
        after = [(i.version, n) for n, i in lp.seen
                 if i is not None and i.version > v0]
        assert len(after) == len({v for v, _ in after}), \
            "a version came twice after the takeover: %s" % sorted(
                (v, sender(cluster, n).name) for v, n in after)
        assert {sender(cluster, n) for _, n in after} == \
            {took[lp.sub.call_id][0]}, "NOTIFYs after the takeover from " \
            "%s" % sorted({sender(cluster, n).name for _, n in after})
        assert colors(lp, call.call_id)[-3:] == [
            "early", "confirmed", "terminated"], colors(lp, call.call_id)


def test_refresh_and_unsubscribe_after_takeover(cluster, phones):
    """The new owner answers the watcher's refresh (full state, next
    version) and its unsubscribe (final NOTIFY), and the subscription is
    then gone from every node. The phones' requests are sent to the new
    owner, as through a VIP that moved to it."""
    A, B, C = cluster.nodes
    lamps = [watch_via(phones, B, "watcher%d" % i, "bob") for i in range(4)]
    wait_agree(cluster.nodes, 5, "the cluster before the kill")
    before = {lp.sub.call_id: last_seen(lp) for lp in lamps}
    B.kill()
    survivors = [A, C]
    owners = {}
    for lp in lamps:
        n, info = lp.pump(cluster.bound(), "takeover NOTIFY")
        assert info.version == before[lp.sub.call_id][0] + 1, info.raw
        owners[lp.sub.call_id] = sender(cluster, n)
    for lp in lamps:
        owner = owners[lp.sub.call_id]
        lp.sub.phone.proxy = owner.addr
        v0, c0 = last_seen(lp)
        info = lp.refresh()
        assert info.version == v0 + 1 and info.idle, info.raw
        assert sender(cluster, lp.seen[-1][0]) is owner
        assert lp.sub.unsubscribe().status == 200
        final = lp.wait_final()
        assert final.reason == "timeout", final.subscription_state
        lp.assert_versions()
    left = {}

    def gone():
        left.clear()
        left.update({k.name: sub_view(k) for k in survivors if sub_view(k)})
        return not left
    try:
        blfutil.poll(gone, 5, 0.1, "the subscriptions gone")
    except AssertionError:
        raise AssertionError("unsubscribed subscriptions still listed: %s"
                             % left) from None


def test_refresh_through_another_node_moves_the_subscription(cluster,
                                                            phones):
    """Behind an edge proxy a refresh may reach any node: the node it
    reaches takes the subscription (full state, next version, higher CSeq)
    and notifies from then on; the former owner, alive, stops."""
    A, B, C = cluster.nodes
    lamp = watch_via(phones, B, "watcher", "bob")
    cid = lamp.sub.call_id
    call, inc = ring(phones, A)
    lamp.wait_state("early", call.call_id)
    wait_agree(cluster.nodes, 5, "the cluster before the refresh")
    blfutil.poll(lambda: all(s["version"] == last_seen(lamp)[0]
                             for k in cluster.nodes
                             for s in blfutil.subscriptions(k)), 5,
                 what="the version replicated")
    v0, c0 = last_seen(lamp)
    lamp.sub.phone.proxy = C.addr
    info = lamp.refresh()
    n = lamp.seen[-1][0]
    assert sender(cluster, n) is C, sender(cluster, n)
    assert info.version == v0 + 1 and n.cseq > c0, (info.version, n.cseq)
    assert [d.state for d in info.by_call_id(call.call_id)] == ["early"]
    blfutil.poll(lambda: owner_of(C, cid) == "local" and
                 owner_of(A, cid) == owner_of(B, cid) == C.name, 5,
                 what="C owning the subscription on every node")
    t_moved = n.time
    inc.answer()
    call.wait_state("confirmed")
    lamp.wait_state("confirmed", call.call_id)
    assert call.bye().status == 200
    lamp.wait_state("terminated", call.call_id)
    lamp.assert_versions()
    late = {sender(cluster, n).name for n, _ in lamp.seen if n.time >= t_moved}
    assert late == {C.name}, "NOTIFYs after the move came from %s" % late
    wait_agree(cluster.nodes, 5, "the nodes at the end")


def test_owner_and_call_node_killed_together(make_cluster, phones):
    """The node that owns the subscriptions also carried the call: the new
    owner's first NOTIFY is the next version, and the call ends once (at
    the takeover: takeover_call_hold 0)."""
    cluster = make_cluster(takeover_call_hold=0)
    A, B, C = cluster.nodes
    lamps = [watch_via(phones, B, "watcher%d" % i, "bob") for i in range(4)]
    call, inc = ring(phones, B)
    for lp in lamps:
        lp.wait_state("early", call.call_id)
    wait_agree(cluster.nodes, 5, "the cluster before the kill")
    before = {lp.sub.call_id: last_seen(lp) for lp in lamps}

    B.kill()
    for lp in lamps:
        lp.wait_state("terminated", call.call_id, timeout=cluster.bound())
        v0, c0 = before[lp.sub.call_id]
        after = [(i.version, n) for n, i in lp.seen
                 if i is not None and i.version > v0]
        assert min(v for v, _ in after) == v0 + 1, \
            "first version after the kill %d, the watcher saw %d last" % (
                min(v for v, _ in after), v0)
        assert min(n.cseq for _, n in after) > c0
        assert len({sender(cluster, n) for _, n in after}) == 1, \
            "NOTIFYs after the kill from %s" % sorted(
                sender(cluster, n).name for _, n in after)
        lp.assert_versions()
        terms = [d for d in lp.dialogs(call.call_id)
                 if d.state == "terminated"]
        assert len(terms) == 1, "terminated reported %d times" % len(terms)
    blfutil.poll(lambda: not any(call_origins(k) for k in (A, C)), 5,
                 what="the dead node's call gone from A and C")
    wait_agree([A, C], 5, "A and C after the kill")


# -- (4) the node a call went through dies ------------------------------------

def test_call_node_killed_lamps_go_dark(make_cluster, phones):
    # takeover_call_hold 0: the call ends at the takeover (no address
    # moves to a survivor here; test_cluster_adopt.py has the hold)
    cluster = make_cluster(takeover_call_hold=0)
    A, B, C = cluster.nodes
    lamps = [watch_via(phones, B, "wb", "bob"),
             watch_via(phones, C, "wc", "bob"),
             watch_via(phones, C, "wc2", "alice")]
    call, inc = ring(phones, A)
    inc.answer()
    call.wait_state("confirmed")
    for lp in lamps:
        lp.wait_state("confirmed", call.call_id)
    wait_agree(cluster.nodes, 5, "the cluster before the kill")

    t_kill = A.kill()
    for lp in lamps:
        d = lp.wait_state("terminated", call.call_id,
                          timeout=cluster.bound())
        assert d.state == "terminated"
    ended = max(n.time for lp in lamps for n, i in lp.seen
                if i is not None and i.by_call_id(call.call_id) and
                i.by_call_id(call.call_id)[0].state == "terminated")
    print("\ncall node %s killed -> its call terminated at every watcher "
          "after %.2f s" % (A.name, ended - t_kill))
    for lp in lamps:
        lp.assert_versions()
        assert colors(lp, call.call_id)[-2:] == ["confirmed", "terminated"]
    blfutil.poll(lambda: not any(call_origins(k) for k in (B, C)), 5,
                 what="the dead node's call gone from B and C")
    # the watchers' subscriptions stay where they were
    wait_agree([B, C], 5, "B and C after the kill")


# -- (5) the dead node restarts and resyncs -----------------------------------

def test_killed_node_restarts_and_resyncs(cluster, phones):
    A, B, C = cluster.nodes
    la = watch_via(phones, A, "wa", "carol")
    watch_via(phones, B, "wb", "bob")
    watch_via(phones, C, "wc", "alice")
    call1, inc1 = ring(phones, B, "alice", "bob")
    inc1.answer()
    call1.wait_state("confirmed")
    call2, inc2 = ring(phones, C, "dave", "carol")
    la.wait_state("early", call2.call_id)
    wait_agree(cluster.nodes, 5, "the cluster before the kill")

    v0, _ = last_seen(la)
    A.kill()
    # A's subscription is taken over by B or C
    la.wait(lambda i: i.version > v0, cluster.bound(), "takeover NOTIFY")
    blfutil.poll(lambda: A.name not in sub_view(B).values() and
                 A.name not in sub_view(C).values(), cluster.bound(),
                 what="A's subscriptions owned by B or C")
    wait_agree([B, C], 5, "B and C while A is dead")

    A.restart()
    wait_agree(cluster.nodes, cluster.bound(), "the restarted node resynced")
    views = {k: sub_view(k) for k in cluster.nodes}
    assert len(views[A]) == 3, views[A]
    assert "local" not in views[A].values(), \
        "the restarted node claims subscriptions: %s" % views[A]

    # the restarted node follows what happens next, and replicates again
    inc2.answer()
    call2.wait_state("confirmed")
    la.wait_state("confirmed", call2.call_id)
    lnew = watch_via(phones, A, "wnew", "bob")
    lnew.wait_state("confirmed", call1.call_id)
    wait_agree(cluster.nodes, 5, "the cluster after the restart")
    assert sub_view(A)[("wnew@%s" % DOMAIN, "bob@%s" % DOMAIN,
                        lnew.sub.call_id)] == "local"
    la.assert_versions()


def test_killed_node_restarted_at_once(make_cluster, phones):
    """A node killed -9 and started again at once (a supervisor restarting
    it), before the others' liveness timeout: its processes, hence its
    calls and its subscriptions' state, are gone all the same. The call it
    carried must end at the other nodes' watchers, its subscription must
    keep being notified, and the nodes must agree again. (The call ends at
    the takeover: takeover_call_hold 0.)"""
    cluster = make_cluster(takeover_call_hold=0)
    A, B, C = cluster.nodes
    la = watch_via(phones, A, "wa", "carol")
    lb = watch_via(phones, B, "wb", "bob")
    call, inc = ring(phones, A)
    inc.answer()
    call.wait_state("confirmed")
    lb.wait_state("confirmed", call.call_id)
    wait_agree(cluster.nodes, 5, "the cluster before the kill")

    t = A.kill()
    A.restart()
    print("\n%s killed and ready again after %.2f s" % (
        A.name, time.monotonic() - t))
    lb.wait_state("terminated", call.call_id, timeout=cluster.bound())
    # carol's watcher, subscribed through A, still sees carol's calls
    call2, _ = ring(phones, C, "dave", "carol")
    la.wait_state("early", call2.call_id, timeout=cluster.bound())
    wait_agree(cluster.nodes, cluster.bound(), "the nodes after the restart")
    la.assert_versions()
    lb.assert_versions()


# -- (6) with a SQLite database per node --------------------------------------

def stored(node):
    """{callid: (version, cseq)} of the rows of node's SQLite file"""
    try:
        rows = dbutil.sqlite_rows(node.blf_db_path)
    except sqlite3.OperationalError:  # no table yet
        return {}
    return {r["callid"]: (r["version"], r["cseq"]) for r in rows}


def wait_stored(node, lamps, timeout=10):
    """Until node's file holds the subscriptions of lamps as they are now
    (version: the next one to send)."""
    def done():
        rows = stored(node)
        return all(rows.get(lp.sub.call_id, (None,))[0] ==
                   last_seen(lp)[0] + 1 for lp in lamps)
    blfutil.poll(done, timeout, 0.1, "%s's rows written" % node.name)


def test_sqlite_restart_after_takeover(make_cluster, phones):
    """Per-node SQLite: B dies, A and C take its subscriptions over; when B
    starts again it reads its (now stale) rows, but the subscriptions stay
    with their new owners: B sends nothing for them, versions go on +1."""
    cl = make_cluster(db="sqlite")
    A, B, C = cl.nodes
    lamps = [watch_via(phones, B, "watcher%d" % i, "bob") for i in range(4)]
    call, inc = ring(phones, A)
    for lp in lamps:
        lp.wait_state("early", call.call_id)
    wait_agree(cl.nodes, 5, "the cluster before the kill")
    wait_stored(B, lamps)

    t_kill = B.kill()
    for lp in lamps:
        lp.pump(cl.bound(), "takeover NOTIFY")
    B.restart()
    wait_agree(cl.nodes, cl.bound(), "the nodes after B's restart")
    assert "local" not in sub_view(B).values(), sub_view(B)
    inc.answer()
    call.wait_state("confirmed")
    for lp in lamps:
        lp.wait_state("confirmed", call.call_id)
    assert call.bye().status == 200
    for lp in lamps:
        lp.wait_state("terminated", call.call_id)
        lp.assert_versions()
        late = {sender(cl, n).name for n, _ in lp.seen if n.time > t_kill}
        assert B.name not in late and len(late) == 1, \
            "NOTIFYs after the kill came from %s" % sorted(late)
    wait_agree(cl.nodes, 5, "the nodes at the end")


def test_sqlite_quick_restart_keeps_subscriptions(make_cluster, phones):
    """Per-node SQLite: A is killed and started again at once; its
    subscriptions, read back from its file, keep being notified, with the
    next version and a higher CSeq."""
    cl = make_cluster(db="sqlite")
    A, B, C = cl.nodes
    lamps = [watch_via(phones, A, "watcher%d" % i, "carol")
             for i in range(2)]
    wait_agree(cl.nodes, 5, "the cluster before the kill")
    wait_stored(A, lamps)
    before = {lp.sub.call_id: last_seen(lp) for lp in lamps}

    t_kill = A.kill()
    A.restart()
    call, _ = ring(phones, C, "dave", "carol")
    for lp in lamps:
        lp.wait_state("early", call.call_id, timeout=cl.bound())
        v0, c0 = before[lp.sub.call_id]
        after = [(i.version, n) for n, i in lp.seen
                 if i is not None and i.version > v0]
        assert min(v for v, _ in after) == v0 + 1, sorted(
            v for v, _ in after)
        assert min(n.cseq for _, n in after) > c0
    # B and C handle A's former incarnation as dead: one takes them over
    blfutil.poll(lambda: all("is dead" in k.log() for k in (B, C)),
                 cl.bound(), what="B and C done with A's old incarnation")
    wait_agree(cl.nodes, cl.bound(), "the nodes after A's restart")
    for lp in lamps:
        lp.assert_versions()
        # A read them back while B or C took them over (A restarted faster
        # than a death): one node only sends (SPEC), A holding its restored
        # subscriptions until the takeover could reach it
        late = {sender(cl, n).name for n, _ in lp.seen if n.time > t_kill}
        assert len(late) == 1, "NOTIFYs of one subscription came from %s" % (
            sorted(late))


def test_sqlite_whole_cluster_restart_after_takeover(make_cluster, phones):
    """Per-node SQLite: B dies and A and C take its subscriptions over (and
    store them); later the whole cluster is restarted (B's file still has
    its old rows). Each subscription must have one owner again, and the
    watchers get every change once, with the next versions."""
    cl = make_cluster(db="sqlite")
    A, B, C = cl.nodes
    lamps = [watch_via(phones, B, "watcher%d" % i, "bob") for i in range(4)]
    wait_agree(cl.nodes, 5, "the cluster before the kill")
    wait_stored(B, lamps)
    B.kill()
    owners = {}
    for lp in lamps:
        n, _ = lp.pump(cl.bound(), "takeover NOTIFY")
        owners[lp.sub.call_id] = sender(cl, n)
    for k in (A, C):
        wait_stored(k, [lp for lp in lamps if owners[lp.sub.call_id] is k])

    for k in (A, C):
        k.stop()
    for k in cl.nodes:
        k.restart()
    cl.wait_formed(cl.bound())
    wait_agree(cl.nodes, cl.bound(), "the nodes after the restart")
    t_up = time.monotonic()
    call, inc = ring(phones, A)
    for lp in lamps:
        lp.wait_state("early", call.call_id)
    inc.answer()
    call.wait_state("confirmed")
    for lp in lamps:
        lp.wait_state("confirmed", call.call_id)
        lp.assert_versions()
        late = {sender(cl, n).name for n, _ in lp.seen if n.time > t_up}
        assert len(late) == 1, "NOTIFYs of one subscription came from %s" % (
            sorted(late))
    wait_agree(cl.nodes, 5, "the nodes at the end")


def test_subscribe_200_stays_direct_in_a_cluster(cluster, phones):
    """The cluster's reply-out hook (a peer's replica's NOTIFYs wait for
    the answer that carries their versions) is the module's own listener:
    it must not send every 200 to SUBSCRIBE through sl, as another
    module's listener does (test_subscribe_reply.py).
    blf:subscribe_replies_direct counts the module's own 200s."""
    from test_subscribe_reply import stat
    A = cluster.nodes[0]
    before = stat(A, "subscribe_replies_direct")
    watch_via(phones, A, "wdirect", "bob")
    assert stat(A, "subscribe_replies_direct") - before >= 1
    assert A.running
