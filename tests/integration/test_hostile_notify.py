"""Hostile input on the NOTIFY side (issue #9): what a peer can make the
module's NOTIFYs do must never take the proxy down, nor let another host
end a subscription, nor turn SIP into unbounded NOTIFYs or shared memory.

Every test runs against a real Kamailio in both NOTIFY modes (the default
notify_direct=1 and BLF_TEST_PARAMS=notify_direct=0) unless it says it is
about the module's own transactions; waits are event-driven with generous
bounds (a loaded 2-core host).
"""

import socket
import time

import pytest

import blfutil
from blfutil import Lamp
import sipua


def direct(kam):
    return bool(kam.params.get("notify_direct", 1))


def still_serving(kam, phones, tag):
    """Kamailio answers OPTIONS-like traffic and a new watcher sees a whole
    call: the proxy and the module both still work."""
    a = phones(tag + "a")
    phones(tag + "b", invite_policy="answer")
    w = phones(tag + "w")
    lamp = blfutil.watch(w, tag + "b")
    call = a.call(tag + "b").wait_state("confirmed")
    lamp.wait_state("confirmed", call.call_id)
    call.bye()
    lamp.wait_state("terminated", call.call_id)
    lamp.assert_versions()
    assert kam.running


def listed(kam, call_id):
    return call_id in [s["callid"] for s in blfutil.subscriptions(kam)]


# -- item 1: one SUBSCRIBE must not kill Kamailio -----------------------------
@pytest.mark.parametrize("idlen", [620, 3000])
def test_long_event_id_does_not_crash(proxy, phones, idlen):
    """Event: dialog;id=<idlen bytes>: the SUBSCRIBE gets a 4xx, or a 200
    and a NOTIFY carrying that id, or a 200 and the subscription ends at
    once (a NOTIFY that cannot be built); never a crash. Kamailio then
    still serves calls and watchers."""
    w = phones("longid")
    evid = "x" * idlen
    sub = w.subscribe("bob", event="dialog;id=" + evid, expires=600)
    r = sub.responses[-1]
    assert 200 <= r.status < 500, r.first_line()
    if r.status == 200 and idlen <= 620:
        lamp = Lamp(sub, event_id=evid)
        n, info = lamp.pump(5, "NOTIFY with the long Event id")
        assert info is not None and info.version == 0
    elif r.status == 200:
        # either notified with the id or ended: no live subscription that
        # can never be notified
        blfutil.poll(lambda: sub.notifies or not listed(proxy, sub.call_id),
                     5, what="NOTIFY or subscription gone")
    assert proxy.running
    still_serving(proxy, phones, "li%d" % idlen)


# -- item 10: a wildcard subscription answered 481 goes -----------------------
def test_wildcard_subscription_removed_on_481(proxy, phones):
    """A wildcard (any-dn) watcher that answers 481 to the NOTIFY of a call
    loses its subscription (RFC 6665 4.1.3), in both NOTIFY modes: the
    answer names the wildcard subscription, not the entity the NOTIFY
    described. Other watchers keep theirs."""
    a = phones("wa")
    phones("wb", invite_policy="answer")
    w = phones("ww")
    other = phones("wo")
    keep = blfutil.watch(other, "wb")
    sub = w.subscribe("sip:any-dn@%s" % w.domain, expires=600)
    assert sub.responses[-1].status == 200, sub.responses[-1].first_line()
    sub.next_notify(5, "wildcard burst NOTIFY")
    assert listed(proxy, sub.call_id)
    sub.notify_reply = 481
    call = a.call("wb").wait_state("confirmed")
    sub.next_notify(5, "NOTIFY of the call, answered 481")
    blfutil.poll(lambda: not listed(proxy, sub.call_id), 5,
                 what="wildcard subscription removed after its 481")
    keep.wait_state("confirmed", call.call_id)
    call.bye()
    keep.wait_state("terminated", call.call_id)
    keep.assert_versions()
    assert listed(proxy, keep.sub.call_id)
