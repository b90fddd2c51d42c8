"""A list member's call that ends while the list's NOTIFY is owed is still
shown terminated (SPEC "NOTIFY": a call that ends is reported once as
terminated; SPEC "Resource lists": each member's part is its ordinary
body; RFC 4235 + RFC 4662).

A member's change normally goes out with a snapshot of the member taken at
the change, which still holds the ended call as terminated. A change that
cannot go at once (the subscription's NOTIFYs in flight past
max_notifies_per_sub, or another worker sending this list's NOTIFY) is
owed, and the NOTIFY that pays it later was built from the member's state
by then: the call, dropped from its entity when it ended, was simply gone
from a full member document. RFC 4235 reads that as the end of the call,
but the watcher never saw "terminated" (its reason, its duration), unlike
the member's own watchers; the bench's blf-list side counted 330 of 12,000
terminated member states never delivered (2 ms list-sender batches).

Here the watcher holds one list NOTIFY unanswered (max_notifies_per_sub=1)
while a member's answered call is hung up: that change is owed. Once the
watcher answers, the NOTIFY that pays the debt must show the call
terminated (bodies validated against the RLMI and RFC 4235 schemas),
exactly once, and the lamp ends idle. Before the fix it showed the member
with no dialog at all. Both modes (BLF_TEST_PARAMS=notify_direct=0: tm).
"""

import threading
import time

from httpstub import stub  # noqa: F401  (pytest fixture)
from httputil import uri
from test_lists import (LIST, assert_list_200, full_state, list_params,
                        member_state, next_list, subscribe_list)

MEMBERS = [uri("201"), uri("202"), uri("203")]


def test_call_ended_while_owed_is_shown_terminated(stub, make_proxy, phones):
    stub.set_list(LIST, MEMBERS, name="Reception")
    # a NOTIFY held unanswered for a second must not time out (fr_timer)
    make_proxy(fr_timer=10000, max_notifies_per_sub=1, **list_params(stub))
    a, c = phones("alice"), phones("carol")
    p201 = phones("201")
    phones("202", invite_policy="ring")
    w = phones("reception")
    sub = subscribe_list(w)
    assert_list_200(sub)
    got, _ = full_state(sub, len(MEMBERS))
    version = got[-1].version + 1

    def until_201(state):
        """list NOTIFYs (versions consecutive) until 201 shows state"""
        nonlocal version
        while True:
            _, ln = next_list(sub)
            assert ln.version == version, (ln.version, version)
            version += 1
            res = ln.by_uri().get(MEMBERS[0])
            if res is not None and res.instance is not None and \
                    [d.state for d in member_state(res).dialogs] == [state]:
                return

    call = a.call("201")
    inc = p201.wait_incoming()
    until_201("early")
    inc.answer()
    until_201("confirmed")
    # whatever else is on its way first (the first NOTIFYs' own debts)
    time.sleep(0.5)
    while sub.pending():
        _, ln = next_list(sub)
        assert ln.version == version, (ln.version, version)
        version += 1

    # the watcher stops answering: the next list NOTIFY stays in flight,
    # and with it max_notifies_per_sub (1) is reached
    hold = threading.Event()
    hold.set()
    sub.notify_reply = lambda n, msg: None if hold.is_set() else 200
    seen = len(sub.notifies)
    ring = c.call("202")  # 202 rings: a NOTIFY the watcher holds
    w.wait(lambda: len(sub.notifies) > seen, 5, "the NOTIFY of 202 ringing")
    assert call.bye().status == 200  # 201's call ends: owed
    time.sleep(0.3)
    hold.clear()  # the next retransmission is answered: the debt is paid

    # every NOTIFY from the held one on, in order, until 201 shows again
    states, ids = [], []
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        _, ln = next_list(sub, timeout=max(0.1, deadline - time.monotonic()))
        assert ln.version == version, \
            "RLMI version %d after %d" % (ln.version, version - 1)
        version += 1
        res = ln.by_uri().get(MEMBERS[0])
        if res is None or res.instance is None:
            continue
        di = member_state(res)
        states.append([(d.call_id, d.state) for d in di.dialogs])
        ids.append(di.version)
        if not any(d.state != "terminated" for d in di.dialogs):
            break
    assert states, "201 never shown again after its call ended"
    ended = [s for s in sum(states, []) if s[1] == "terminated"]
    assert len(ended) == 1, \
        "201's call that ended while the NOTIFY was owed: shown %r " \
        "(expected once as terminated, not dropped silently)" % states
    cid = ended[0][0]
    assert cid in (None, call.call_id), (cid, call.call_id)
    assert states[-1] in ([], [ended[0]]), \
        "201's lamp must end idle: %r" % states
    ring.cancel()
