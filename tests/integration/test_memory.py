"""Memory comes back: batches of subscribe / call / unsubscribe cycles, each
followed by settling (no transaction, dialog, subscription or call left),
must not make shm (core.shmmem real_used) nor pkg (pkg.stats used, summed
over all processes) grow batch after batch. Both were checked to catch a
deliberately leaking build (one shm block per NOTIFY; one pkg job per
NOTIFY)."""

import time

import blfutil

BATCHES = 4
CYCLES = 8
# measured flat to the byte on a correct build; the bound leaves room for
# allocator noise and still catches ~256 bytes lost per cycle
TOLERANCE = 4 * 1024


def settled(kam):
    if blfutil.subscriptions(kam):
        return False
    if any(blfutil.records(e.get("dialogs"), "callid")
           for e in blfutil.entities(kam)):
        return False
    tm = kam.rpc("tm.stats")
    if int(tm.get("current", 0)) != 0:
        return False
    if blfutil.records(kam.rpc("dlg.list") or [], "call-id"):
        return False
    return True




def pkg_used(kam):
    """Private (pkg) memory in use, summed over every process."""
    return sum(int(p["used"]) for p in kam.rpc("pkg.stats"))


def one_cycle(a, b, c, w, i):
    lamp = blfutil.watch(w, "bob", expires=120)
    lc = blfutil.watch(w, "carol", expires=120)
    # answered, ended by BYE
    b.invite_policy = "answer"
    call = a.call("bob").wait_state("confirmed")
    lamp.wait_state("confirmed", call.call_id)
    call.bye()
    lamp.wait_state("terminated", call.call_id)
    # ringing, cancelled
    b.invite_policy = "ring"
    call = a.call("bob").wait_state("early")
    lamp.wait_state("early", call.call_id)
    call.cancel()
    lamp.wait_state("terminated", call.call_id)
    # rejected
    b.invite_policy = 486
    call = a.call("bob").wait_state("terminated")
    lamp.wait_state("terminated", call.call_id)
    # to an entity nobody else calls, and a refresh
    c.invite_policy = "answer"
    call = a.call("carol").wait_state("confirmed")
    lc.wait_state("confirmed", call.call_id)
    assert lc.sub.refresh(120).status == 200
    c.incoming[-1].bye()
    lc.wait_state("terminated", call.call_id)
    for lp in (lamp, lc):
        assert lp.sub.unsubscribe().status == 200
        lp.wait_final(2)
    # a rejected SUBSCRIBE costs nothing either
    assert w.subscribe("bob", expires=5).responses[-1].status == 423


def test_shm_returns_after_batches(proxy, phones):
    a, b, c = phones("alice"), phones("bob"), phones("carol")
    w = phones("watcher")
    used, pkg = [], []
    for batch in range(BATCHES):
        for i in range(CYCLES):
            one_cycle(a, b, c, w, i)
        blfutil.poll(lambda: settled(proxy), 15, interval=0.2,
                     what="transactions, dialogs, calls and subscriptions "
                     "all gone")
        used.append(blfutil.shm_used(proxy))
        pkg.append(pkg_used(proxy))
    print("shm real_used / pkg used after each batch:", used, pkg)
    # batch 0 warms up (first allocations, hash slots, usrloc records)
    growth = [y - x for x, y in zip(used[1:], used[2:])]
    assert used[-1] - used[1] <= TOLERANCE, \
        "shm real_used after each batch: %s (growth %s)" % (used, growth)
    assert not all(g > 0 for g in growth), \
        "shm grows after every batch: %s" % used
    pgrowth = [y - x for x, y in zip(pkg[1:], pkg[2:])]
    assert pkg[-1] - pkg[1] <= TOLERANCE and not all(
        g > 0 for g in pgrowth), \
        "pkg used (all processes) after each batch: %s" % pkg
