"""The cluster's short windows (issue #13: the versions passed on through
answers, `dmq_version_delay`): three real nodes
over DMQ (cluster.py), A and B with default node names, C named "blf-c".

- dmq_version_delay=0: the versions a node's NOTIFYs took in answer to a
  replica are passed on from tm's reply callback at once. Calls through A,
  watchers on B: every copy ends at the version and CSeq B sent; B killed
  right after a NOTIFY (no wait for the versions to spread): the takeover
  sends the next version with a higher CSeq, from one node, none repeated.
- A refresh through a third node C right after a NOTIFY from the owner B
  caused by a call through A (inside the dmq_version_delay window, while A
  still holds B's versions): C takes the subscription over with the next
  version (not a repeat of the one B just sent) and a higher CSeq, every
  node then names C the owner, and C alone notifies from then on; also
  when B died unnoticed just before (no answer: the NOTIFY follows within
  1.5 s), and whatever the node names (the refresh's node owns).
- The same window for an unsubscribe through C (the final NOTIFY carries
  the next version, not B's last again) and for a wildcard (any-dn)
  subscription's refresh and unsubscribe through C (its burst, its final
  NOTIFY go on from B's last version, not from the copy's); the refresh
  and the unsubscribe also with B dead unnoticed (the wait ends after
  0.5 s, at a timer tick).
- B and A (holding B's versions) both die inside the window: C's
  takeover NOTIFY skips the version C never heard of (a gap, which RFC
  4235 lets a watcher take; never a repeat, which it discards) and jumps
  the CSeq; both die after A passed the versions on: the next version,
  exact.
"""

import time

import blfutil
from test_cluster import (make_cluster, cluster, watch_via, ring,  # noqa: F401
                          wait_agree, sender, last_seen, owner_of,
                          ownership_problems, sub_view)


def _copies_at_owner_version(nodes):
    owned = {}
    for k in nodes:
        for s in blfutil.subscriptions(k):
            if s["owner"] == "local":
                owned[s["callid"]] = (s["version"], s.get("cseq"))
    return owned and all(
        {s["callid"]: (s["version"], s.get("cseq"))
         for s in blfutil.subscriptions(k)} == owned for k in nodes)


def test_version_delay_0_calls_and_takeover(make_cluster, phones):
    cl = make_cluster(dmq_version_delay=0)
    A, B, C = cl.nodes
    lamps = [watch_via(phones, B, "watcher%d" % i, who)
             for i, who in enumerate(("bob", "bob", "alice"))]
    # a first call, answered and ended: every copy at B's versions
    call, inc = ring(phones, A)
    inc.answer()
    call.wait_state("confirmed")
    assert call.bye().status == 200
    for lp in lamps:
        lp.wait_state("terminated", call.call_id)
    blfutil.poll(lambda: _copies_at_owner_version(cl.nodes), 5,
                 what="every copy at B's version and CSeq")

    # a second call; B killed right after its NOTIFY of the ring
    call, inc = ring(phones, A, "alice", "bob")
    for lp in lamps:
        lp.wait_state("early", call.call_id)
    before = {lp.sub.call_id: last_seen(lp) for lp in lamps}
    t_kill = B.kill()
    took = {}
    for lp in lamps:
        n, info = lp.pump(cl.bound(), "takeover NOTIFY")
        v0, c0 = before[lp.sub.call_id]
        took[lp.sub.call_id] = sender(cl, n)
        assert took[lp.sub.call_id] in (A, C), sender(cl, n)
        assert info.version == v0 + 1, \
            "takeover NOTIFY version %d, the watcher saw %d last" % (
                info.version, v0)
        assert n.cseq > c0, "takeover NOTIFY CSeq %d <= %d" % (n.cseq, c0)
        assert n.time - t_kill <= cl.bound()
    inc.answer()
    call.wait_state("confirmed")
    assert call.bye().status == 200
    for lp in lamps:
        lp.wait_state("terminated", call.call_id)
        lp.assert_versions()
        v0 = before[lp.sub.call_id][0]
        after = [(i.version, n) for n, i in lp.seen
                 if i is not None and i.version > v0]
        assert len(after) == len({v for v, _ in after}), \
            "a version came twice after the takeover"
        assert {sender(cl, n) for _, n in after} == \
            {took[lp.sub.call_id]}, "NOTIFYs after the takeover from %s" % \
            sorted({sender(cl, n).name for _, n in after})
    for k in (A, C):
        assert k.running, "%s died" % k.name


def _three_lamps_via_b_a_call_answered(cluster, phones):
    """Three watchers of bob through B, every copy at B's versions, a call
    to bob through A ringing on every lamp, then answered: the step before
    each lamp's NOTIFY of the answer, whose version B passes on late."""
    A, B, C = cluster.nodes
    lamps = [watch_via(phones, B, "watcher%d" % i, "bob") for i in range(3)]
    wait_agree(cluster.nodes, 5, "the cluster before the call")
    blfutil.poll(lambda: _copies_at_owner_version(cluster.nodes), 5,
                 what="the initial versions replicated")
    call, inc = ring(phones, A)
    for lp in lamps:
        lp.wait_state("early", call.call_id)
    inc.answer()
    return lamps, call


def test_refresh_through_third_node_right_after_notify(cluster, phones):
    A, B, C = cluster.nodes
    lamps, call = _three_lamps_via_b_a_call_answered(cluster, phones)
    moved = []
    for lp in lamps:
        # B's NOTIFY of the answer, caused by A's replica: its version is
        # in B's answer to A, passed on by A up to dmq_version_delay later
        lp.wait_state("confirmed", call.call_id)
        n_b = max((n for n, i in lp.seen if i is not None),
                  key=lambda n: n.time)
        v0, c0 = last_seen(lp)
        lp.sub.phone.proxy = C.addr
        t_ref = time.monotonic()
        info = lp.refresh()
        n = lp.seen[-1][0]
        moved.append((lp, n.time))
        print("\n%s: refresh through C %.0f ms after B's NOTIFY v%d" % (
            lp.sub.call_id, (t_ref - n_b.time) * 1000, v0))
        assert sender(cluster, n) is C, sender(cluster, n)
        assert info.version == v0 + 1, \
            "C's NOTIFY after the refresh: version %d, B sent %d last" % (
                info.version, v0)
        assert n.cseq > c0, (n.cseq, c0)
        assert [d.state for d in info.by_call_id(call.call_id)] == \
            ["confirmed"], info.raw
    blfutil.poll(lambda: all(owner_of(C, lp.sub.call_id) == "local" and
                             owner_of(A, lp.sub.call_id) == C.name and
                             owner_of(B, lp.sub.call_id) == C.name
                             for lp in lamps), 5,
                 what="C owning every subscription on every node")
    assert call.bye().status == 200
    for lp, t_moved in moved:
        lp.wait_state("terminated", call.call_id)
        lp.assert_versions()
        late = {sender(cluster, n).name for n, _ in lp.seen
                if n.time >= t_moved}
        assert late == {C.name}, \
            "NOTIFYs after the move came from %s" % late
    blfutil.poll(lambda: not ownership_problems(
        cluster.nodes, {k: sub_view(k) for k in cluster.nodes}), 5,
        what="consistent owners")
    for k in cluster.nodes:
        assert k.running


def test_refresh_through_third_node_former_owner_silent(cluster, phones):
    """The former owner dies just before the refresh reaches C (C still
    thinks it alive): no answer comes; C's NOTIFY follows all the same
    (the owed state, at most 0.5 s of wait and a timer tick later), with
    the next version, and C keeps the subscription after B is found dead."""
    A, B, C = cluster.nodes
    lamp = watch_via(phones, B, "watcher", "bob")
    call, inc = ring(phones, A)
    lamp.wait_state("early", call.call_id)
    blfutil.poll(lambda: _copies_at_owner_version(cluster.nodes), 5,
                 what="B's versions replicated")
    v0, c0 = last_seen(lamp)
    B.kill()
    lamp.sub.phone.proxy = C.addr
    t_ref = time.monotonic()
    info = lamp.refresh(timeout=4)
    n = lamp.seen[-1][0]
    print("\nrefresh through C, B dead unnoticed: NOTIFY after %.0f ms" % (
        (n.time - t_ref) * 1000))
    assert sender(cluster, n) is C, sender(cluster, n)
    assert info.version == v0 + 1 and n.cseq > c0, (info.version, n.cseq)
    inc.answer()
    call.wait_state("confirmed")
    lamp.wait_state("confirmed", call.call_id, timeout=cluster.bound())
    assert call.bye().status == 200
    lamp.wait_state("terminated", call.call_id, timeout=cluster.bound())
    lamp.assert_versions()
    assert {sender(cluster, n) for n, _ in lamp.seen
            if n.time >= t_ref} == {C}
    assert owner_of(C, lamp.sub.call_id) == "local"
    assert owner_of(A, lamp.sub.call_id) == C.name


def test_refresh_moves_subscription_whatever_the_node_names(cluster, phones):
    """The node a refresh reaches owns the subscription from then on, also
    when the former owner's name sorts first (C is "blf-c", A's name starts
    with "udp:"): the takeover's replica says it is one ("tk"), it is no
    contest between two claims (where the lower name wins a tie)."""
    A, B, C = cluster.nodes
    lamp = watch_via(phones, C, "watcher", "bob")
    cid = lamp.sub.call_id
    call, inc = ring(phones, B)
    lamp.wait_state("early", call.call_id)
    blfutil.poll(lambda: _copies_at_owner_version(cluster.nodes), 5,
                 what="C's versions replicated")
    v0, c0 = last_seen(lamp)
    lamp.sub.phone.proxy = A.addr
    info = lamp.refresh()
    n = lamp.seen[-1][0]
    t_moved = n.time
    assert sender(cluster, n) is A, sender(cluster, n)
    assert info.version == v0 + 1 and n.cseq > c0, (info.version, n.cseq)
    # settled: every node names A (a bounce back to C would show here or
    # in the senders below)
    time.sleep(0.5)  # a claim back, were one made, takes milliseconds
    blfutil.poll(lambda: owner_of(A, cid) == "local" and
                 owner_of(B, cid) == owner_of(C, cid) == A.name, 5,
                 what="A owning the subscription on every node")
    inc.answer()
    call.wait_state("confirmed")
    lamp.wait_state("confirmed", call.call_id)
    assert call.bye().status == 200
    lamp.wait_state("terminated", call.call_id)
    lamp.assert_versions()
    late = {sender(cluster, n).name for n, _ in lamp.seen if n.time >= t_moved}
    assert late == {A.name}, "NOTIFYs after the move came from %s" % late


def test_unsubscribe_through_third_node_right_after_notify(cluster, phones):
    """An unsubscribe through C right after B's NOTIFY caused by a call
    through A (inside the dmq_version_delay window): C's final NOTIFY
    waits (0.5 s at most) for B's last version and carries the next one,
    with a higher CSeq; no version comes twice; the subscription is gone
    on every node."""
    A, B, C = cluster.nodes
    lamps, call = _three_lamps_via_b_a_call_answered(cluster, phones)
    fins = []
    for lp in lamps:
        lp.wait_state("confirmed", call.call_id)
        n_b = max((n for n, i in lp.seen if i is not None),
                  key=lambda n: n.time)
        v0, c0 = last_seen(lp)
        lp.sub.phone.proxy = C.addr
        t_un = time.monotonic()
        r = lp.sub.unsubscribe()
        assert r.status == 200, r.first_line()
        fin = lp.wait_final(timeout=2)
        print("\n%s: unsubscribe through C %.0f ms after B's NOTIFY v%d, "
              "final NOTIFY after %.0f ms" % (
                  lp.sub.call_id, (t_un - n_b.time) * 1000, v0,
                  (fin.time - t_un) * 1000))
        assert sender(cluster, fin) is C, sender(cluster, fin)
        info = next(i for n, i in lp.seen if n is fin)
        assert info is not None and info.version == v0 + 1, \
            "C's final NOTIFY: version %s, B sent %d last" % (
                info and info.version, v0)
        assert fin.cseq > c0, (fin.cseq, c0)
        assert fin.time - t_un <= 1.0, fin.time - t_un
        lp.assert_versions()
        fins.append((lp, fin))
    blfutil.poll(lambda: all(owner_of(k, lp.sub.call_id) is None
                             for k in cluster.nodes for lp in lamps), 5,
                 what="the subscriptions gone on every node")
    assert call.bye().status == 200
    time.sleep(0.5)
    for lp, fin in fins:
        lp.drain()
        late = [n for n, _ in lp.seen if n.time > fin.time]
        assert not late, "NOTIFYs after the final one"
    for k in cluster.nodes:
        assert k.running


def test_wildcard_refresh_through_third_node_right_after_notify(cluster,
                                                                phones):
    """A wildcard (any-dn) subscription owned by B, refreshed through C
    right after B's NOTIFYs of a call through A: C's NOTIFYs after the
    refresh (its burst, one per entity with a call) go on from the version
    B sent last, none repeated, from C alone."""
    A, B, C = cluster.nodes
    w = phones("watcher", kam=B, register=False)
    sub = w.subscribe("sip:any-dn@blf.test", expires=600)
    assert sub.responses[-1].status == 200, sub.responses[-1].first_line()
    lamp = blfutil.Lamp(sub, entity=False)
    lamp.pump(3, "the wildcard's first NOTIFY")
    blfutil.poll(lambda: _copies_at_owner_version(cluster.nodes), 5,
                 what="the wildcard's version replicated")
    call, inc = ring(phones, A)
    inc.answer()
    call.wait_state("confirmed")

    def both_confirmed(_):
        infos = [i for _, i in lamp.seen if i is not None]
        return {i.entity for i in infos
                if any(d.state == "confirmed" and d.call_id == call.call_id
                       for d in i.dialogs)} == {"sip:alice@blf.test",
                                                "sip:bob@blf.test"}
    lamp.wait(both_confirmed, 5, "confirmed for alice and bob")
    n_b = max((n for n, i in lamp.seen if i is not None),
              key=lambda n: n.time)
    v0, c0 = last_seen(lamp)
    sub.phone.proxy = C.addr
    t_ref = time.monotonic()
    r = sub.refresh(300)
    assert r.status == 200, r.first_line()
    n, info = lamp.pump(2, "a NOTIFY after the refresh through C")
    print("\nwildcard refresh through C %.0f ms after B's NOTIFY v%d; "
          "C's NOTIFY v%d after %.0f ms" % (
              (t_ref - n_b.time) * 1000, v0, info.version,
              (n.time - t_ref) * 1000))
    assert sender(cluster, n) is C, sender(cluster, n)
    assert info.version == v0 + 1, \
        "C's NOTIFY after the refresh: version %d, B sent %d last" % (
            info.version, v0)
    assert n.cseq > c0, (n.cseq, c0)
    t_moved = n.time
    assert call.bye().status == 200
    for ent in ("sip:alice@blf.test", "sip:bob@blf.test"):
        lamp.wait(lambda i: i.entity == ent and any(
            d.state == "terminated" and d.call_id == call.call_id
            for d in i.dialogs), 5, "terminated for %s" % ent)
    lamp.assert_versions()
    late = {sender(cluster, n).name for n, _ in lamp.seen
            if n.time >= t_moved}
    assert late == {C.name}, "NOTIFYs after the move came from %s" % late
    blfutil.poll(lambda: owner_of(C, sub.call_id) == "local" and
                 owner_of(A, sub.call_id) == owner_of(B, sub.call_id)
                 == C.name, 5, what="C owning the wildcard everywhere")
    for k in cluster.nodes:
        assert k.running


def test_wildcard_refresh_through_third_node_former_owner_silent(cluster,
                                                                 phones):
    """The wildcard's owner B dies just before the refresh reaches C (C
    still thinks it alive): no version comes; C's burst follows all the
    same (the timer, after 0.5 s of wait), with the next version, and C's
    NOTIFYs of changes go on from there."""
    A, B, C = cluster.nodes
    w = phones("watcher", kam=B, register=False)
    sub = w.subscribe("sip:any-dn@blf.test", expires=600)
    assert sub.responses[-1].status == 200, sub.responses[-1].first_line()
    lamp = blfutil.Lamp(sub, entity=False)
    lamp.pump(3, "the wildcard's first NOTIFY")
    call, inc = ring(phones, A)
    lamp.wait(lambda i: i.entity == "sip:bob@blf.test" and any(
        d.state == "early" for d in i.dialogs), 5, "bob early")
    blfutil.poll(lambda: _copies_at_owner_version(cluster.nodes), 5,
                 what="B's versions replicated")
    v0, c0 = last_seen(lamp)
    B.kill()
    sub.phone.proxy = C.addr
    t_ref = time.monotonic()
    r = sub.refresh(300)
    assert r.status == 200, r.first_line()
    n, info = lamp.pump(4, "C's burst after the refresh")
    print("\nwildcard refresh through C, B dead unnoticed: NOTIFY after "
          "%.0f ms" % ((n.time - t_ref) * 1000))
    assert sender(cluster, n) is C, sender(cluster, n)
    assert info.version == v0 + 1 and n.cseq > c0, (info.version, n.cseq)
    assert n.time - t_ref >= 0.4, "C did not wait for B's version"
    inc.answer()
    call.wait_state("confirmed")
    assert call.bye().status == 200
    for ent in ("sip:alice@blf.test", "sip:bob@blf.test"):
        lamp.wait(lambda i: i.entity == ent and any(
            d.state == "terminated" and d.call_id == call.call_id
            for d in i.dialogs), cluster.bound(), "terminated for %s" % ent)
    lamp.assert_versions()
    assert {sender(cluster, n) for n, _ in lamp.seen if n.time >= t_ref} \
        == {C}
    for k in (A, C):
        assert k.running


def test_unsubscribe_through_third_node_former_owner_silent(cluster, phones):
    """The owner B dies just before an unsubscribe reaches C (C still
    thinks it alive): no version comes; C's final NOTIFY follows all the
    same (after the 0.5 s wait, at a timer tick, within 2 s), with the next
    version, and the subscription is gone from C and A."""
    A, B, C = cluster.nodes
    lamp = watch_via(phones, B, "watcher", "bob")
    call, inc = ring(phones, A)
    lamp.wait_state("early", call.call_id)
    blfutil.poll(lambda: _copies_at_owner_version(cluster.nodes), 5,
                 what="B's versions replicated")
    v0, c0 = last_seen(lamp)
    B.kill()
    lamp.sub.phone.proxy = C.addr
    t_un = time.monotonic()
    assert lamp.sub.unsubscribe().status == 200
    fin = lamp.wait_final(timeout=3)
    print("\nunsubscribe through C, B dead unnoticed: final NOTIFY after "
          "%.0f ms" % ((fin.time - t_un) * 1000))
    info = next(i for n, i in lamp.seen if n is fin)
    assert sender(cluster, fin) is C, sender(cluster, fin)
    assert info.version == v0 + 1 and fin.cseq > c0, (info.version, fin.cseq)
    assert 0.4 <= fin.time - t_un <= 2.5, fin.time - t_un
    lamp.assert_versions()
    blfutil.poll(lambda: owner_of(C, lamp.sub.call_id) is None and
                 owner_of(A, lamp.sub.call_id) is None, 5,
                 what="the subscription gone from C and A")
    inc.answer()
    call.wait_state("confirmed")
    assert call.bye().status == 200
    time.sleep(0.5)
    lamp.drain()
    assert not [n for n, _ in lamp.seen if n.time > fin.time], \
        "NOTIFYs after the final one"
    for k in (A, C):
        assert k.running


def _owner_and_holder_die(make_cluster, phones, wait_versions):
    """B notified the call through A; B's versions are in its answer to A,
    which passes them on to C only dmq_version_delay later (1 s here, to
    make the window wide). A and B both die, inside that window or (when
    wait_versions) after C has B's versions: C takes B's subscription over.
    Returns (v0, c0, c_had, n, info, log): what B sent last, C's copy's
    version, C's takeover NOTIFY and C's log. The call ends at the
    takeover (takeover_call_hold 0: no address moves here)."""
    cl = make_cluster(dmq_version_delay=1000, takeover_call_hold=0)
    A, B, C = cl.nodes
    lamp = watch_via(phones, B, "watcher", "bob")
    wait_agree(cl.nodes, 5, "the cluster before the call")
    blfutil.poll(lambda: _copies_at_owner_version(cl.nodes), 5,
                 what="the initial version replicated")
    call, inc = ring(phones, A)
    lamp.wait_state("early", call.call_id)
    v0, c0 = last_seen(lamp)
    if wait_versions:
        blfutil.poll(lambda: _copies_at_owner_version(cl.nodes), 5,
                     what="B's version of the ring passed on to C")
    c_had = next(s["version"] for s in blfutil.subscriptions(C)
                 if s["callid"] == lamp.sub.call_id)
    t_kill = B.kill()
    A.kill()
    n, info = lamp.pump(cl.bound(), "C's takeover NOTIFY")
    print("\nB sent v%d (CSeq %d), C's copy had v%d; C's takeover NOTIFY "
          "v%d CSeq %d after %.1f s" % (v0, c0, c_had, info.version, n.cseq,
                                         n.time - t_kill))
    assert sender(cl, n) is C, sender(cl, n)
    assert n.cseq > c0, (n.cseq, c0)
    # nothing older than what B showed (early), whether or not A's death
    # was handled first
    assert [d.state for d in info.by_call_id(call.call_id)] in \
        (["early"], ["terminated"]), info.raw
    # A's death ends its call (before or after this NOTIFY, as C finds the
    # two deaths): whatever follows goes on from this version, CSeq rising
    blfutil.poll(lambda: lamp.drain() or any(
        d.state == "terminated" for _, i in lamp.seen if i is not None
        for d in i.by_call_id(call.call_id)), cl.bound(),
        what="the call ended with A's death")
    after = [(i.version, m.cseq) for m, i in lamp.seen
             if i is not None and m.time >= n.time]
    assert [v for v, _ in after] == list(range(
        info.version, info.version + len(after))), after
    assert [q for _, q in after] == sorted(set(q for _, q in after)), after
    assert C.running
    # both deaths handled (the takeover's log line follows its NOTIFYs)
    blfutil.poll(lambda: C.log().count(" is dead: calls ended") == 2,
                 cl.bound(), what="C's log lines of both deaths")
    return v0, c0, c_had, n, info, C.log()


def test_owner_and_version_holder_die_inside_the_window(make_cluster, phones):
    """Inside the window C's copy is behind what B sent (c_had < v0: one
    or both of B's NOTIFYs of the ring, trying and early, unknown to C): C
    must not send a version B used again (a watcher discards a repeated
    version; a NOTIFY whose CSeq is not higher may get a 500 and lose the
    subscription). C saw the changes through A, and A went silent before
    it would have passed B's versions on: C skips one version per such
    change, and does not replay them (B most likely showed them: the lamp
    would go back to trying). It failed before the takeover knew of the
    window: C sent v0 with B's last CSeq."""
    v0, c0, c_had, n, info, log = _owner_and_holder_die(
        make_cluster, phones, wait_versions=False)
    assert c_had < v0, "C's copy was not behind: the window was " \
        "not tested (C had v%d, B sent v%d)" % (c_had, v0)
    assert info.version == v0 + 1, \
        "C's takeover NOTIFY: version %d, B sent %d last" % (info.version, v0)
    # the operator is told, in the takeover's log line (B's, or A's when
    # C gave the subscription to A, dead but not noticed yet)
    dead = [ln for ln in log.splitlines() if "is dead" in ln]
    assert sum("versions skipped in 1 (" in ln for ln in dead) == 1, dead


def test_owner_and_version_holder_die_after_the_window(make_cluster, phones):
    """The same deaths after A passed B's version of the ring on to C: C's
    copy is current, so its takeover NOTIFY carries exactly the next
    version (no gap), and a higher CSeq."""
    v0, c0, c_had, n, info, log = _owner_and_holder_die(
        make_cluster, phones, wait_versions=True)
    assert c_had == v0, (c_had, v0)
    assert info.version == v0 + 1, \
        "C's takeover NOTIFY: version %d, B sent %d last" % (info.version, v0)
    dead = [ln for ln in log.splitlines() if "is dead" in ln]
    assert len(dead) == 2 and all("versions skipped in 0 (" in ln
                                  for ln in dead), dead


def test_wildcard_unsubscribe_through_third_node_right_after_notify(cluster,
                                                                    phones):
    """A wildcard subscription owned by B, unsubscribed through C right
    after B's NOTIFYs of a call through A: C's final NOTIFY carries the
    version after B's last, nothing follows it, the subscription is gone
    on every node."""
    A, B, C = cluster.nodes
    w = phones("watcher", kam=B, register=False)
    sub = w.subscribe("sip:any-dn@blf.test", expires=600)
    assert sub.responses[-1].status == 200, sub.responses[-1].first_line()
    lamp = blfutil.Lamp(sub, entity=False)
    lamp.pump(3, "the wildcard's first NOTIFY")
    blfutil.poll(lambda: _copies_at_owner_version(cluster.nodes), 5,
                 what="the wildcard's version replicated")
    call, inc = ring(phones, A)
    inc.answer()
    call.wait_state("confirmed")
    lamp.wait(lambda i: i.entity == "sip:bob@blf.test" and any(
        d.state == "confirmed" for d in i.dialogs), 5, "bob confirmed")
    v0, c0 = last_seen(lamp)
    sub.phone.proxy = C.addr
    t_un = time.monotonic()
    assert sub.unsubscribe().status == 200
    fin = lamp.wait_final(timeout=2)
    info = next(i for n, i in lamp.seen if n is fin)
    print("\nwildcard unsubscribe through C after B's v%d: final v%s after "
          "%.0f ms" % (v0, info and info.version, (fin.time - t_un) * 1000))
    assert sender(cluster, fin) is C, sender(cluster, fin)
    assert info is not None and info.version == v0 + 1, (info, v0)
    assert fin.cseq > c0, (fin.cseq, c0)
    assert call.bye().status == 200
    time.sleep(0.5)
    lamp.drain()
    assert not [n for n, _ in lamp.seen if n.time > fin.time], \
        "NOTIFYs after the final one"
    lamp.assert_versions()
    blfutil.poll(lambda: all(owner_of(k, sub.call_id) is None
                             for k in cluster.nodes), 5,
                 what="the wildcard gone on every node")
