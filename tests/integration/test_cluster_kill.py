"""Zero lost NOTIFYs across a node's kill (SPEC "Persistence and cluster",
issue #13): three real nodes over DMQ (cluster.py); watchers subscribe
through B, a call goes through A.

B is killed with SIGKILL while the call rings; at once, before the others
can notice B's death, the call is answered and hung up through A. The
survivors applied those changes (replicas) but B's watchers could not be
told: nobody sends for a node thought alive. At the takeover the new owner
replays them (blf_rhist.c): each watcher gets the states it missed in
order (confirmed, then terminated), versions +1 with none repeated and the
CSeq rising, then the present state (no call); all of it from one node,
the same one for every NOTIFY of a subscription, within the SPEC's bound.

Only what B did not show is replayed: its NOTIFYs' version records say
which state of the calls each showed, and the new owner starts after it. A
call B showed from ringing to its end just before the kill is not shown
again (the lamp does not blink through it), nor the states B showed of a
call still going on.
"""

import time

import blfutil
from sipua import SipTimeout
from test_cluster import (make_cluster, cluster, watch_via, ring,  # noqa: F401
                          wait_agree, sender, last_seen)


def _versions_replicated(owner, others):
    want = {s["callid"]: s["version"] for s in blfutil.subscriptions(owner)}
    return all({s["callid"]: s["version"]
                for s in blfutil.subscriptions(k)} == want for k in others)


def test_states_of_the_kill_window_replayed(cluster, phones):
    A, B, C = cluster.nodes
    lamps = [watch_via(phones, B, "watcher%d" % i, who)
             for i, who in enumerate(("bob", "bob", "alice"))]
    call, inc = ring(phones, A)
    for lp in lamps:
        lp.wait_state("early", call.call_id)
    wait_agree(cluster.nodes, 5, "the cluster before the kill")
    blfutil.poll(lambda: _versions_replicated(B, (A, C)), 5,
                 what="B's NOTIFY versions replicated to A and C")
    before = {lp.sub.call_id: last_seen(lp) for lp in lamps}

    t_kill = B.kill()
    # inside the window: the survivors still think B alive
    inc.answer()
    call.wait_state("confirmed")
    assert call.bye().status == 200
    t_bye = time.monotonic()
    assert t_bye - t_kill < 2, "the call took %.1f s after the kill: not " \
        "inside the window any more" % (t_bye - t_kill)

    bound = cluster.bound()
    for lp in lamps:
        v0 = before[lp.sub.call_id][0]
        lp.wait(lambda i, v0=v0: i.version > v0 and i.idle,
                bound + 5, "the present state (no call) after the takeover")
    for lp in lamps:
        lp.assert_versions()  # 0, 1, 2 ... each once, CSeq rising
        v0, c0 = before[lp.sub.call_id]
        after = sorted(((i.version, n) for n, i in lp.seen
                        if i is not None and i.version > v0),
                       key=lambda x: x[0])
        who = {sender(cluster, n) for _, n in after}
        assert len(who) == 1 and who <= {A, C}, \
            "NOTIFYs after the kill from %s" % sorted(
                str(w and w.name) for w in who)
        first = min(n.time for _, n in after)
        assert first > t_bye, "a NOTIFY came %.2f s after the kill, before " \
            "the BYE: the window was not tested" % (first - t_kill)
        assert first - t_kill <= bound, \
            "takeover after %.1f s > %d s" % (first - t_kill, bound)
        assert after[0][1].cseq > c0
        states = []
        for _, n in after:
            info = next(i for m, i in lp.seen if m is n)
            for d in info.by_call_id(call.call_id):
                if not states or states[-1] != d.state:
                    states.append(d.state)
        # the states B's watchers missed, in order, and none B had shown
        # them (trying, early)
        assert states == ["confirmed", "terminated"], \
            "states after the kill: %s" % states
        assert after[-1][0] == max(i.version for _, i in lp.seen if i), \
            "the present state is not the last version"
        print("\n%s: after the kill of %s, versions %d..%d from %s, "
              "states %s, first %.2f s after the kill" % (
                  lp.entity, B.name, after[0][0], after[-1][0],
                  who.pop().name, states, first - t_kill))
    for k in (A, C):
        assert k.running, "%s died" % k.name


def test_restarted_node_keeps_its_new_calls(make_cluster, phones):
    """A killed and started again at once: the survivors end the calls of
    its old incarnation, not one it rang right after the restart (its new
    incarnation tracks it: those started since it was first heard from).
    The old call ends at the takeover: takeover_call_hold 0."""
    cluster = make_cluster(takeover_call_hold=0)
    A, B, C = cluster.nodes
    lb = watch_via(phones, B, "wb", "bob")
    lc = watch_via(phones, C, "wc", "carol")
    call, inc = ring(phones, A)
    lb.wait_state("early", call.call_id)
    wait_agree(cluster.nodes, 5, "the cluster before the kill")

    A.kill()
    A.restart()
    # at once, before B and C handle the restart at their next tick
    call2, inc2 = ring(phones, A, "dave", "carol")
    lb.wait_state("terminated", call.call_id, timeout=cluster.bound())
    lc.wait_state("early", call2.call_id)
    # both survivors have handled the restart (the old call ended there)
    blfutil.poll(lambda: all("restarted" in k.log() and "is dead" in
                             k.log().split("restarted", 1)[1]
                             for k in (B, C)), cluster.bound(),
                 what="B and C handled A's restart")
    inc2.answer()
    call2.wait_state("confirmed")
    lc.wait_state("confirmed", call2.call_id)
    assert call2.bye().status == 200
    lc.wait_state("terminated", call2.call_id)
    assert lc.history(call2.call_id) == [
        "trying", "early", "confirmed", "terminated"], \
        "the new call's states at C's watcher: %s" % lc.history(
            call2.call_id)
    lc.assert_versions()
    lb.assert_versions()


def _quiet(lp, secs):
    """The NOTIFYs lp receives within secs (a bounded wait for none)."""
    got = []
    deadline = time.monotonic() + secs
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return got
        try:
            got.append(lp.pump(left))
        except SipTimeout:
            return got


def test_call_ended_before_the_kill_not_shown_again(cluster, phones):
    """B shows its watchers a whole call (trying to terminated) and is
    killed right after: the new owner's first NOTIFY is the present state
    (no call), the next version, and nothing follows it. Before the
    version records said what each NOTIFY showed, the takeover replayed
    every state applied since 2 s before B was last heard from: the lamp
    went through the ended call again (trying ... terminated)."""
    A, B, C = cluster.nodes
    lamps = [watch_via(phones, B, "watcher%d" % i, who)
             for i, who in enumerate(("bob", "bob", "alice"))]
    call, inc = ring(phones, A)
    inc.answer()
    call.wait_state("confirmed")
    assert call.bye().status == 200
    for lp in lamps:
        lp.wait_state("terminated", call.call_id)
        assert lp.history(call.call_id) == [
            "trying", "early", "confirmed", "terminated"], \
            lp.history(call.call_id)
    t_end = time.monotonic()
    blfutil.poll(lambda: _versions_replicated(B, (A, C)), 5,
                 what="B's NOTIFY versions replicated to A and C")
    before = {lp.sub.call_id: last_seen(lp) for lp in lamps}

    t_kill = B.kill()
    # the whole call inside the window the old replay covered (it started
    # 2 s before B was last heard from, which is at most 1 s before the
    # kill: B's hello)
    assert t_kill - t_end < 1.5, "the kill came %.1f s after the call's " \
        "end: the old replay would not have covered it" % (t_kill - t_end)
    bound = cluster.bound()
    for lp in lamps:
        v0, c0 = before[lp.sub.call_id]
        n, info = lp.pump(bound, "takeover NOTIFY")
        assert sender(cluster, n) in (A, C), "NOTIFY after the kill from " \
            "%s" % (sender(cluster, n) and sender(cluster, n).name)
        assert info is not None and info.version == v0 + 1, \
            (info and info.version, v0)
        assert n.cseq > c0, (n.cseq, c0)
        assert n.time - t_kill <= bound, \
            "takeover after %.1f s > %d s" % (n.time - t_kill, bound)
        assert [d.state for d in info.by_call_id(call.call_id)] in \
            ([], ["terminated"]), \
            "the call B showed ending is shown again: %s" % info.raw
    for lp in lamps:
        more = [(i.version, [d.state for d in i.by_call_id(call.call_id)])
                for _, i in _quiet(lp, 2) if i is not None]
        assert more == [], "NOTIFYs after the takeover's: %s" % more
        lp.assert_versions()
    for k in (A, C):
        assert k.running, "%s died" % k.name
