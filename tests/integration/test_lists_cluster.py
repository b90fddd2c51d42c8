"""Resource lists in the cluster (SPEC "Resource lists", "Persistence and
cluster"; issue #12): a list subscription is replicated like any other;
when the node that NOTIFYs it dies, a survivor takes it over within the
cluster's bound and continues the RLMI version, each member's version and
the instance ids, with a higher CSeq; later changes reach the watcher from
the new owner as partial NOTIFYs. Kept apart from test_lists.py because a
three-node cluster is slow to start.
"""

import pytest

import rfc4662
from httpstub import stub  # noqa: F401  (pytest fixture)
from test_cluster import make_cluster, ring, sender  # noqa: F401
from test_lists import (LIST, MEMBERS, assert_list_200, list_params,
                        member_state, next_list, subscribe_list)


def test_list_subscription_taken_over_after_a_node_kill(stub, make_cluster,
                                                        phones):
    stub.set_list(LIST, MEMBERS)
    cl = make_cluster(**list_params(stub))
    A, B, C = cl.nodes
    w = phones("reception", kam=B, register=False)
    sub = subscribe_list(w)
    assert_list_200(sub)
    n0, first = next_list(sub)
    assert sender(cl, n0) is B
    ids = {r.uri: r.instance.id for r in first.resources}

    B.kill()
    n1 = sub.next_notify(timeout=cl.bound() + 2,
                         what="the takeover NOTIFY of the list")
    ln = rfc4662.parse(n1)
    assert sender(cl, n1) in (A, C), "takeover NOTIFY not from a survivor"
    assert n1.cseq > n0.cseq
    assert ln.full and ln.version == 1, (ln.full, ln.version)
    assert {r.uri: r.instance.id for r in ln.resources} == ids
    for r in ln.resources:
        assert member_state(r).version == 1, \
            "member versions continue after a takeover: %s" % r

    owner = sender(cl, n1)
    call, inc = ring(phones, A, callee="201")
    version = 2
    while True:  # "trying", then "early" (test_lists.until_state)
        n2, ln = next_list(sub)
        assert sender(cl, n2) is owner
        assert ln.version == version and not ln.full
        r = ln.by_uri()[MEMBERS[0]]
        assert member_state(r).version == version
        states = [d.state for d in member_state(r).dialogs]
        if states == ["early"]:
            break
        assert states == ["trying"], states
        version += 1
    call.cancel()


def test_member_versions_after_a_takeover_continue_exactly(
        stub, make_cluster, phones):
    """SPEC: each member's version counts per (subscription, member) 0, 1,
    2..., never repeated nor skipped -- also across a takeover. 201's call
    takes RLMI versions 1.. while 202 stays at 0; after the owner's death
    the takeover NOTIFY (a full state) must show 202 at version 1 (the
    replica after each of the owner's list NOTIFYs carries the member
    versions it took), not the RLMI version (a skip, as before). One more
    is right when the owner took an RLMI version the watcher never saw (it
    died between the replica of a NOTIFY and its send): that NOTIFY may have
    carried 202 (a full state), so the takeover may not repeat it; a gap is
    never larger than the versions the watcher missed."""
    stub.set_list(LIST, MEMBERS)
    cl = make_cluster(**list_params(stub))
    A, B, C = cl.nodes
    w = phones("reception", kam=B, register=False)
    sub = subscribe_list(w)
    assert_list_200(sub)
    n0, first = next_list(sub)
    assert sender(cl, n0) is B
    seen = {"rlmi": first.version}  # what the watcher saw from B
    if MEMBERS[1] in first.by_uri():
        seen[202] = member_state(first.by_uri()[MEMBERS[1]]).version
    call, inc = ring(phones, A, callee="201")
    while True:  # "trying", then "early" (test_lists.until_state)
        n, ln = next_list(sub)
        seen["rlmi"] = ln.version
        if MEMBERS[1] in ln.by_uri():
            seen[202] = member_state(ln.by_uri()[MEMBERS[1]]).version
        states = [d.state for d in
                  member_state(ln.by_uri()[MEMBERS[0]]).dialogs]
        if states == ["early"]:
            break
    call.cancel()
    B.kill()
    n1 = sub.next_notify(timeout=cl.bound() + 5,
                         what="the takeover NOTIFY of the list")
    ln = rfc4662.parse(n1)
    while not ln.full:  # 201's terminated may still come from B's replica
        seen["rlmi"] = ln.version
        if MEMBERS[1] in ln.by_uri():
            seen[202] = member_state(ln.by_uri()[MEMBERS[1]]).version
        n1 = sub.next_notify(timeout=cl.bound() + 5,
                             what="the takeover NOTIFY of the list")
        ln = rfc4662.parse(n1)
    v = member_state(ln.by_uri()[MEMBERS[1]]).version
    last = seen.get(202, 0)
    assert v > last, "member version repeated after a takeover: %d" % v
    missed = ln.version - seen["rlmi"] - 1  # B's NOTIFYs never seen
    assert v <= last + 1 + missed, \
        "member 202 resumed at %d after %d (RLMI %d after %d): a skip" % (
            v, last, ln.version, seen["rlmi"])
    if missed == 0:
        assert v == last + 1, "member 202 resumed at %d, not %d" % (
            v, last + 1)
