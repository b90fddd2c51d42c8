"""Park orbits over HTTP (SPEC "Park orbits over HTTP", RPC blf.parks): the
park list polled from the HTTP stub every park_poll_interval (1 s here)
becomes entities <orbit>@<park_domain>. A parked orbit shows one
confirmed recipient dialog with the parked call's call-id and the parked
party as remote identity; an empty or vanished orbit is idle. Changes
reach watchers within one poll interval (asserted with a margin for the
HTTP round trip, not as a tight timing). HTTP errors and garbage keep the
last list.
"""

import time

import pytest

import blfutil
from httpstub import stub  # noqa: F401  (pytest fixture)
from httputil import http_params, parks_by_orbit, same_key, uri

PARKDOM = "park.blf.test"
POLL = 1  # park_poll_interval
# a change made at the stub shows within one poll interval; the margin
# covers the HTTP round trip, the NOTIFY and a loaded machine
WITHIN = POLL + 1.5


def orbit(name, call_id=None, parked=None, parker=None):
    o = {"orbit": name}
    if call_id:
        o["call_id"] = call_id
        o["parked"] = parked
        if parker:
            o["parker"] = parker
    return o


def lit(info):
    return any(d.state != "terminated" for d in info.dialogs)


@pytest.fixture
def kam(stub, make_proxy):
    stub.set_orbits([])
    return make_proxy(**http_params(stub, alias=False, park=True,
                                    park_domain=PARKDOM))


def watch_orbit(phone, name):
    return blfutil.watch(phone, uri(name, PARKDOM))


def test_orbit_appears_fills_empties_vanishes(stub, kam, phones):
    w = phones("watcher")
    lamp = watch_orbit(w, "701")
    assert lamp.current.idle

    # appears, empty: announced (idle)
    t0 = time.monotonic()
    stub.set_orbits([orbit("701")])
    lamp.wait(lambda i: i.version >= 1 and i.idle, WITHIN,
              "the new empty orbit announced")
    blfutil.poll(lambda: "701" in parks_by_orbit(kam), 2,
                 what="701 in blf.parks")
    p = parks_by_orbit(kam)["701"]
    assert same_key(p["entity"], "701@" + PARKDOM), p
    assert not p.get("callid"), p

    # fills
    t0 = time.monotonic()
    stub.set_orbits([orbit("701", "pc-701@127.0.0.1", uri("211"),
                           uri("207"))])
    d = lamp.wait_state("confirmed", "pc-701@127.0.0.1", WITHIN)
    filled = time.monotonic() - t0
    assert d.direction == "recipient"
    assert d.remote is not None and d.remote.identity == uri("211"), d
    info = lamp.current
    assert len(info.dialogs) == 1, info.raw
    p = parks_by_orbit(kam)["701"]
    assert p["callid"] == "pc-701@127.0.0.1" and \
        same_key(p["parked"], uri("211")), p

    # empties: the parked call ends, the lamp goes dark
    t0 = time.monotonic()
    stub.set_orbits([orbit("701")])
    lamp.wait(lambda i: not lit(i) and i.version > info.version, WITHIN,
              "the orbit dark again")
    emptied = time.monotonic() - t0
    blfutil.poll(lambda: not parks_by_orbit(kam)["701"].get("callid"), 2,
                 what="701 empty in blf.parks")

    # fills again, then vanishes while parked
    stub.set_orbits([orbit("701", "pc-701b@127.0.0.1", uri("212"))])
    lamp.wait_state("confirmed", "pc-701b@127.0.0.1", WITHIN)
    last = lamp.current.version
    t0 = time.monotonic()
    stub.set_orbits([])
    lamp.wait(lambda i: not lit(i) and i.version > last, WITHIN,
              "the vanished orbit dark")
    vanished = time.monotonic() - t0
    blfutil.poll(lambda: "701" not in parks_by_orbit(kam), 2,
                 what="701 gone from blf.parks")
    lamp.assert_versions()
    assert blfutil.colors(lamp)[-1] in ("idle", "terminated")
    print("park change -> NOTIFY: filled %.2fs, emptied %.2fs, vanished "
          "%.2fs (poll interval %ds)" % (filled, emptied, vanished, POLL))


def test_parked_call_of_a_tracked_call(stub, kam, phones):
    """The orbit shows the real call-id of a call this proxy follows; the
    parked party is its remote identity."""
    a, w = phones("alice"), phones("watcher")
    phones("bob", invite_policy="answer")
    lamp = watch_orbit(w, "702")
    call = a.call("bob").wait_state("confirmed")
    stub.set_orbits([orbit("702", call.call_id, uri("alice"), uri("bob"))])
    d = lamp.wait_state("confirmed", call.call_id, WITHIN)
    assert d.call_id == call.call_id
    assert d.direction == "recipient"
    assert d.remote.identity == uri("alice")
    assert d.local is None or d.local.identity is None or \
        same_key(d.local.identity, "702@" + PARKDOM), d
    call.bye()
    stub.set_orbits([orbit("702")])
    lamp.wait(lambda i: not lit(i), WITHIN, "702 dark")


def test_two_orbits_independent(stub, kam, phones):
    w = phones("watcher")
    l1, l2 = watch_orbit(w, "701"), watch_orbit(w, "702")
    stub.set_orbits([orbit("701", "c1@127.0.0.1", uri("211")),
                     orbit("702")])
    l1.wait_state("confirmed", "c1@127.0.0.1", WITHIN)
    l2.wait(lambda i: i.version >= 1, WITHIN, "702 announced")
    stub.set_orbits([orbit("701", "c1@127.0.0.1", uri("211")),
                     orbit("702", "c2@127.0.0.1", uri("212"))])
    l2.wait_state("confirmed", "c2@127.0.0.1", WITHIN)
    # 701 did not change: no NOTIFY for it (checked after one more poll)
    mark = stub.mark()
    stub.wait_requests(2, "parks", since=mark, timeout=4)
    l1.drain()
    assert [len(i.dialogs) for i in l1.infos()][-1] == 1
    assert all(d.call_id == "c1@127.0.0.1" for d in l1.dialogs())
    assert l1.current.version == 1, \
        "an unchanged orbit was notified again: %s" % [
            i.raw for i in l1.infos()]


@pytest.mark.parametrize("trouble", ["error", "garbage", "close", "down"])
def test_http_trouble_keeps_last_list(stub, kam, phones, trouble):
    w = phones("watcher")
    lamp = watch_orbit(w, "701")
    stub.set_orbits([orbit("701", "keep@127.0.0.1", uri("211")),
                     orbit("702")])
    lamp.wait_state("confirmed", "keep@127.0.0.1", WITHIN)
    blfutil.poll(lambda: set(parks_by_orbit(kam)) == {"701", "702"}, 3,
                 what="both orbits listed")
    version = lamp.current.version
    if trouble == "down":
        stub.down()
        # no request can be seen at the stub: let three polls go by,
        # measured by the module's own counter of failed requests
        e0 = int(blfutil.stats(kam)["http_errors"])
        blfutil.poll(lambda: int(blfutil.stats(kam)["http_errors"]) >=
                     e0 + 3, 3 * POLL + 4, interval=0.2,
                     what="three failed park polls")
    else:
        stub.set_mode(trouble, "parks")
        mark = stub.mark()
        stub.wait_requests(3, "parks", since=mark, timeout=3 * POLL + 4)
    got = parks_by_orbit(kam)
    assert set(got) == {"701", "702"}, \
        "orbits lost on HTTP %s: %s" % (trouble, got)
    assert got["701"]["callid"] == "keep@127.0.0.1"
    lamp.drain()
    assert lamp.current.version == version and lit(lamp.current), \
        "the lamp changed while the park service was in trouble: %s" % \
        lamp.current.raw
    assert kam.running
    # the service recovers with a new list: it is used again
    if trouble == "down":
        stub.up()
    else:
        stub.set_mode("ok")
    stub.set_orbits([orbit("702")])
    lamp.wait(lambda i: not lit(i), WITHIN + 2, "701 dark after recovery")
    blfutil.poll(lambda: set(parks_by_orbit(kam)) == {"702"}, 3,
                 what="the new list in blf.parks")


def test_parks_rpc_fields(stub, kam, phones):
    stub.set_orbits([orbit("701", "f1@127.0.0.1", uri("211"), uri("207")),
                     orbit("702")])
    blfutil.poll(lambda: len(parks_by_orbit(kam)) == 2, WITHIN + 1,
                 what="two orbits in blf.parks")
    got = parks_by_orbit(kam)
    for name, p in got.items():
        assert {"orbit", "entity", "callid", "parked"} <= set(p), p
        assert same_key(p["entity"], "%s@%s" % (name, PARKDOM)), p
    assert got["701"]["callid"] == "f1@127.0.0.1"
    assert same_key(got["701"]["parked"], uri("211"))
    assert not got["702"]["callid"] and not got["702"]["parked"]
    out = kam.kamcmd("blf.parks")
    assert "701" in out and "f1@127.0.0.1" in out, out

