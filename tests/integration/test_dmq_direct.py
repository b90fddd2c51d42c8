"""Cluster messages as the module's own UDP transactions (modparam
dmq_direct, blf_dtx.c), with three real Kamailio nodes on loopback.

- With dmq_direct=1 (the default), to blf's dmq_peers (each sent on its
  own) and to dmq's node list (broadcast, blf_peers=False): a call through
  A lights the lamps of watchers on B and C (every state, versions +1);
  every node counts its messages in blf:dmq_direct, none is refused by a
  peer (dmq_untrusted, dmq_invalid stay 0: the peer's dmq_handle_message()
  takes our request as it took tm's), every 200 is matched
  (dmq_direct_pending back to 0) and nothing was sent unkept. With
  dmq_direct=0 the same call works and nothing goes the direct way.
- A peer that stops answering: each of A's messages to it is retransmitted
  with the same branch, at growing intervals (T1 doubling), and given up
  at tm's fr_timer (2 s here): A keeps a bounded number waiting
  (dmq_direct_pending), and none once the peer answers again.
"""

import pytest

import blfutil
import cluster as clustermod
from test_cluster import make_cluster, watch_via, ring  # noqa: F401
from test_cluster_hostile import peer, stat, in_dmq_list, running  # noqa: F401

BRANCH = "z9hG4bKbdq."


@pytest.mark.parametrize("direct,blf_peers", [(1, True), (1, False),
                                              (0, True)],
                         ids=["direct-peers", "direct-bcast", "dmq-tm"])
def test_call_lights_lamps_either_way(make_cluster, phones, direct,
                                      blf_peers):
    cl = make_cluster(dmq_direct=direct, blf_peers=blf_peers)
    A, B, C = cl.nodes
    lamps = [watch_via(phones, k, "watcher%d" % i, "bob")
             for i, k in enumerate((B, C))]
    call, inc = ring(phones, A)
    for lp in lamps:
        lp.wait_state("early", call.call_id)
    inc.answer()
    call.wait_state("confirmed")
    for lp in lamps:
        lp.wait_state("confirmed", call.call_id)
    assert call.bye().status == 200
    for lp in lamps:
        lp.wait_state("terminated", call.call_id)
        assert lp.history(call.call_id) == [
            "trying", "early", "confirmed", "terminated"], \
            lp.history(call.call_id)
        lp.assert_versions()
    for k in cl.nodes:
        assert stat(k, "dmq_untrusted") == 0, k.name
        assert stat(k, "dmq_invalid") == 0, k.name
        if direct:
            assert stat(k, "dmq_direct") > 0, k.name
            assert stat(k, "dmq_direct_unkept") == 0, k.name
        else:
            assert stat(k, "dmq_direct") == 0, k.name
    # every 200 matched: nothing left waiting (hellos come and go each
    # second, answered within ms)
    blfutil.poll(lambda: all(stat(k, "dmq_direct_pending") == 0
                             for k in cl.nodes), 5, 0.05,
                 "every node's messages answered")


@pytest.mark.parametrize("delay", [100, 0],
                         ids=["versions-process", "own-process"])
def test_silent_peer_retransmitted_then_given_up(make_cluster, peer, delay):
    """(delay: dmq_version_delay; at 0 the retransmissions run in a "BLF
    DMQ TX" process of their own, else in "BLF DMQ VERSIONS")"""
    # dmq_direct=1 whatever BLF_TEST_PARAMS says: the direct path's test
    cl = make_cluster(gate=False, blf_peers=False, dmq_direct=1,
                      dmq_version_delay=delay)
    A = cl.nodes[0]
    assert peer.join(A) == 200
    blfutil.poll(lambda: in_dmq_list(A, peer.port), 5,
                 what="the peer in A's dmq node list")
    blfutil.poll(lambda: any(br.startswith(BRANCH) for _, br in peer.kdmq),
                 5, what="A's hello to the peer, sent the direct way")
    peer.silent = True
    start = len(peer.kdmq)
    # fr_timer is 2 s (cluster.py): a hello (one each second) sent now is
    # retransmitted at about 0.5 and 1.5 s, then given up
    blfutil.poll(lambda: max([sum(1 for _, b in peer.kdmq[start:] if b == br)
                              for _, br in peer.kdmq[start:]] or [0]) >= 3,
                 8, what="one message sent three times")
    seen = {}
    for t, br in peer.kdmq[start:]:
        seen.setdefault(br, []).append(t)
    for br, ts in seen.items():
        assert br.startswith(BRANCH), br
        # at most Timer E's sends within Timer F: 0, 0.5, 1.5 (3.5 > 2 s)
        assert len(ts) <= 4, (br, ts)
        gaps = [b - a for a, b in zip(ts, ts[1:])]
        assert all(g > 0.3 for g in gaps), gaps
        assert all(b > a * 1.4 for a, b in zip(gaps, gaps[1:])), gaps
    # bounded: about fr_timer's worth of hellos (and dmq's own pings do not
    # count: they are dmq's)
    waiting = [stat(A, "dmq_direct_pending") for _ in range(20)]
    assert max(waiting) <= 6, waiting
    assert stat(A, "dmq_direct_unkept") == 0
    peer.silent = False
    blfutil.poll(lambda: stat(A, "dmq_direct_pending") == 0, 5, 0.05,
                 "nothing waiting once the peer answers")
    assert running(A)


def test_forged_answers_ignored(make_cluster, peer):
    """200s that name one of A's direct messages (its branch) but not its
    Call-ID or CSeq are not its answer: dropped with a log line and counted
    in dmq_invalid; the message stays waiting and is retransmitted until
    Timer F; Kamailio stays up."""
    cl = make_cluster(gate=False, blf_peers=False, dmq_direct=1)
    A = cl.nodes[0]
    assert peer.join(A) == 200
    blfutil.poll(lambda: in_dmq_list(A, peer.port), 5,
                 what="the peer in A's dmq node list")
    forged = []

    def mangle(out):
        # alternately another Call-ID and another CSeq
        forged.append(1)
        if len(forged) % 2:
            return out.replace(b"Call-ID: bdq.", b"Call-ID: xdq.", 1)
        return out.replace(b"CSeq: 10 KDMQ", b"CSeq: 11 KDMQ", 1)

    before = stat(A, "dmq_invalid")
    peer.mangle = mangle
    blfutil.poll(lambda: stat(A, "dmq_invalid") >= before + 4, 10, 0.1,
                 "forged answers counted in dmq_invalid")
    assert "answer to a blf KDMQ from %s ignored" % peer.hostport \
        in A.log()
    assert stat(A, "dmq_direct_pending") > 0
    # a forged answer ended nothing: the same branch came again
    brs = [br for _, br in peer.kdmq]
    assert any(brs.count(b) > 1 for b in brs)
    peer.mangle = None
    blfutil.poll(lambda: stat(A, "dmq_direct_pending") == 0, 5, 0.05,
                 "nothing waiting once the peer answers")
    assert running(A)


def _hello_loop(peer, node, stop, **fields):
    """peer says hello to node as "evil" each 0.5 s until stop is set."""
    while not stop.is_set():
        peer.blf(node, "hello", "evil", **fields)
        stop.wait(0.5)


@pytest.mark.parametrize("cv", [1, None], ids=["reads-vc", "older-peer"])
def test_compact_versions_only_to_readers(make_cluster, peer, phones, cv):
    """A's versions go as one compact "vc" string only when every live
    peer says "cv": 1; with a live peer of an older version (no "cv") they
    go as JSON "ver" records, as before. Either way every watcher sees
    every state."""
    import json
    import threading
    cl = make_cluster(gate=False, blf_peers=False)
    A = cl.nodes[0]
    assert peer.join(A) == 200
    blfutil.poll(lambda: in_dmq_list(A, peer.port), 5,
                 what="the peer in A's dmq node list")
    stop = threading.Event()
    fields = {"rv": 1, "cv": cv} if cv else {}
    # A knows what the peer reads before the call (its 200 follows the
    # handling), not from a hello of the thread racing the call
    assert peer.blf(A, "hello", "evil", **fields) == 200
    t = threading.Thread(target=_hello_loop, args=(peer, A, stop),
                         kwargs=fields, daemon=True)
    t.start()
    try:
        lamp = watch_via(phones, A, "wa", "bob")
        call, inc = ring(phones, A)
        lamp.wait_state("early", call.call_id)
        inc.answer()
        call.wait_state("confirmed")
        lamp.wait_state("confirmed", call.call_id)

        def versions_seen():
            vc = ver = 0
            for b in peer.got_blf():
                try:
                    m = json.loads(b)
                except ValueError:
                    continue
                vc += len(m.get("vc", "").splitlines())
                ver += sum(1 for r in m.get("m", [])
                           if isinstance(r, dict) and r.get("t") == "ver")
            return (vc, ver) if vc + ver else None
        vc, ver = blfutil.poll(versions_seen, 5, 0.1,
                               "A's versions reach the peer")
        if cv:
            assert vc > 0 and ver == 0, (vc, ver)
        else:
            assert vc == 0 and ver > 0, (vc, ver)
        assert call.bye().status == 200
        lamp.wait_state("terminated", call.call_id)
        lamp.assert_versions()
    finally:
        stop.set()
        t.join(2)
    assert stat(A, "dmq_invalid") == 0


def test_hostile_compact_answers_ignored(make_cluster, peer):
    """Compact versions in a peer's 200 get the checks a message gets: a
    malformed line, or a version naming another owner, is ignored with a
    log line and counted in dmq_invalid."""
    cl = make_cluster(gate=False, blf_peers=False)
    A = cl.nodes[0]
    assert peer.join(A) == 200
    blfutil.poll(lambda: in_dmq_list(A, peer.port), 5,
                 what="the peer in A's dmq node list")
    assert peer.blf(A, "hello", "evil", rv=1, cv=1) == 200
    import json
    hostile = ["bob@x tag 1\n",                       # no cseq
               "bob@x tag 1 2 %s\n" % A.name,          # another owner
               "bob@x t\"g 1 2\n",                     # tag charset
               "bob@x tag 1 2"]                        # no newline
    sent = []

    def answer(body):
        i = len(sent)
        if i >= len(hostile):
            return None
        sent.append(i)
        return json.dumps({"t": "batch", "m": [], "vc": hostile[i],
                           "n": "evil", "b": 1}).encode()
    before = stat(A, "dmq_invalid")
    peer.answer = answer
    blfutil.poll(lambda: stat(A, "dmq_invalid") >= before + len(hostile),
                 len(hostile) * 3 + 5, 0.2,
                 "every hostile answer counted in dmq_invalid")
    assert stat(A, "dmq_invalid") == before + len(hostile)
    assert "blf DMQ answer from %s ignored" % peer.hostport in A.log()
    assert running(A)



def _passed_on(bodies, owner):
    """(versions of node owner's subscriptions passed on in bodies, blf
    batches: compact lines naming it or "ver" records with its "o";
    batches carrying nothing else: messages of their own)"""
    import json
    n = alone = 0
    for b in bodies:
        try:
            m = json.loads(b)
        except ValueError:
            continue
        if not isinstance(m, dict) or m.get("t") != "batch":
            continue
        lines = [ln for ln in m.get("vc", "").splitlines() if ln]
        recs = [r for r in m.get("m", []) if isinstance(r, dict)]
        k = sum(1 for ln in lines if ln.split(" ")[4:] == [owner])
        k += sum(1 for r in recs
                 if r.get("t") == "ver" and r.get("o") == owner)
        n += k
        if k and k == len(lines) + len(recs):
            alone += 1
    return n, alone


@pytest.mark.parametrize("pa", [1, None], ids=["reads-pa", "older-peer"])
def test_versions_passed_on_in_answers(request, peer, phones, pa):
    """In a cluster of three (A, B and a peer), the versions of B's NOTIFYs
    that A holds (from B's answer) go to the peer alone: with A's next
    replica when there is one, else, when the peer says "pa": 1, in A's
    200 to the peer's next message, no message of their own; to a peer of
    an older version (no "pa") in a message of their own, as before, never
    in an answer. Every state reaches the watcher either way, versions
    +1."""
    import threading
    cl = clustermod.Cluster(2, gate=False, blf_peers=False,
                            dmq_version_delay=1000)
    request.node._blf_kams = list(cl.nodes)
    stop = threading.Event()
    t = None
    try:
        cl.start()
        A, B = cl.nodes
        assert peer.join(A) == 200
        blfutil.poll(lambda: in_dmq_list(A, peer.port), 5,
                     what="the peer in A's dmq node list")
        fields = {"rv": 1, "cv": 1}
        if pa:
            fields["pa"] = pa
        t = threading.Thread(target=_hello_loop, args=(peer, A, stop),
                             kwargs=fields, daemon=True)
        t.start()
        lamp = watch_via(phones, B, "wb", "bob")
        call, inc = ring(phones, A)
        lamp.wait_state("early", call.call_id)
        inc.answer()
        call.wait_state("confirmed")
        lamp.wait_state("confirmed", call.call_id)
        assert call.bye().status == 200
        lamp.wait_state("terminated", call.call_id)
        lamp.assert_versions()
        # each of B's NOTIFYs for A's call: its version passed on to the
        # peer; the last one (terminated) has no replica of A's to go with
        # (dmq_version_delay 1 s: the peer's hellos, each 0.5 s, come
        # first)
        want = len([n for n, i in lamp.seen if i is not None]) - 1

        def got():
            return (_passed_on(peer.got_blf(), B.name)[0]
                    + _passed_on(peer.answer_bodies, B.name)[0] >= want)
        blfutil.poll(got, 5, 0.1, "B's versions passed on to the peer")
        in_answers = _passed_on(peer.answer_bodies, B.name)[0]
        alone = _passed_on(peer.got_blf(), B.name)[1]
        if pa:
            assert in_answers > 0 and alone == 0, (in_answers, alone)
        else:
            assert in_answers == 0 and alone > 0, (in_answers, alone)
        assert stat(A, "dmq_invalid") == 0
        assert running(A) and running(B)
    finally:
        stop.set()
        if t:
            t.join(2)
        cl.stop()
