"""Wildcard subscriptions (SPEC "Wildcard (any-dn)"): a SUBSCRIBE to
sip:any-dn@DOMAIN first gets one NOTIFY per known entity of DOMAIN (every
entity with a current call, every existing park orbit), or one empty
NOTIFY naming the wildcard URI when there is none; then one NOTIFY per
entity per change, each naming the entity it describes, with versions
counted per subscription across entities. Park orbits come from the HTTP
stub (park_domain = the phones' domain).
"""

import pytest

import blfutil
from httpstub import stub  # noqa: F401  (pytest fixture)
from httputil import http_params, parks_by_orbit, uri

ANY = uri("any-dn")


def wildcard(phone, target=ANY, expires=600):
    """Subscribes to the wildcard; returns the Lamp (entity not checked:
    each NOTIFY names the entity it describes)."""
    sub = phone.subscribe(target, expires=expires)
    r = sub.responses[-1]
    assert r.status == 200, "SUBSCRIBE %s: %s" % (target, r.first_line())
    return blfutil.Lamp(sub, entity=False)


def by_entity(lamp, entity):
    return [i for i in lamp.infos() if i.entity == entity]


def wait_entity(lamp, entity, pred=lambda i: True, timeout=5.0, what=None):
    return lamp.wait(lambda i: i.entity == entity and pred(i), timeout,
                     what or "a NOTIFY for %s" % entity)


def has_state(state, call_id=None):
    return lambda i: any(d.state == state and (call_id is None or
                                               d.call_id == call_id)
                         for d in i.dialogs)


@pytest.fixture
def kam(stub, make_proxy):
    stub.set_orbits([])
    return make_proxy(**http_params(stub, alias=False, park=True))


def wait_parks(kam, orbits, timeout=5.0):
    """Until blf.parks lists exactly these orbits (name -> callid)."""
    def ok():
        got = {o: str(p.get("callid") or "")
               for o, p in parks_by_orbit(kam).items()}
        return got == orbits
    blfutil.poll(ok, timeout, what="blf.parks == %s" % orbits)


def test_burst_with_nothing_is_one_empty_notify(kam, phones):
    w, a = phones("watcher"), phones("alice")
    phones("bob", invite_policy="answer")
    lamp = wildcard(w)
    n, info = lamp.pump(3, "the initial NOTIFY")
    assert n.state == "active"
    assert info.entity == ANY, "the empty NOTIFY names the wildcard URI"
    assert info.version == 0 and info.idle, info.raw
    # the next NOTIFY is the next change, version 1: the burst was one
    call = a.call("bob").wait_state("confirmed")
    info = wait_entity(lamp, uri("alice"), has_state("confirmed"))
    lamp.drain()
    assert [i.version for i in lamp.infos()][:2] == [0, 1], \
        [(i.version, i.entity) for i in lamp.infos()]
    assert len([i for i in lamp.infos() if i.entity == ANY]) == 1
    call.bye()
    wait_entity(lamp, uri("bob"), has_state("terminated", call.call_id))
    lamp.assert_versions()


def test_burst_one_notify_per_entity(stub, kam, phones):
    a, c, d = phones("alice"), phones("carol"), phones("dave")
    phones("bob", invite_policy="answer")
    stub.set_orbits([{"orbit": "701", "call_id": "park-701@127.0.0.1",
                      "parked": uri("211"), "parker": uri("207")},
                     {"orbit": "702"}])
    wait_parks(kam, {"701": "park-701@127.0.0.1", "702": ""})
    talk = a.call("bob").wait_state("confirmed")
    ring = c.call("dave")
    d.wait_incoming()
    ring.wait_state("early")
    w = phones("watcher")
    # an entity with only a subscription (no call) is not in the burst
    blfutil.watch(w, uri("erin"))
    lamp = wildcard(w)
    expected = {uri(x) for x in ("alice", "bob", "carol", "dave", "701",
                                 "702")}
    lamp.wait(lambda i: expected <= {x.entity for x in lamp.infos()}, 5,
              "a NOTIFY for each of %s" % sorted(expected))
    # a change after the burst; its version ends the burst
    talk.bye()
    wait_entity(lamp, uri("alice"), has_state("terminated", talk.call_id))
    lamp.drain()
    infos = lamp.infos()
    end = next(i.version for i in infos if i.entity == uri("alice") and
               any(x.state == "terminated" for x in i.dialogs))
    burst = [i for i in infos if i.version < end]
    names = [i.entity for i in burst]
    assert sorted(names) == sorted(expected), \
        "burst NOTIFYs name %s, expected one each of %s" % (
            sorted(names), sorted(expected))
    assert ANY not in names
    got = {i.entity: i for i in burst}
    assert [x.direction for x in got[uri("alice")].dialogs] == ["initiator"]
    assert got[uri("alice")].dialogs[0].call_id == talk.call_id
    assert [x.direction for x in got[uri("bob")].dialogs] == ["recipient"]
    assert got[uri("dave")].dialogs[0].state == "early"
    orbit = got[uri("701")].dialogs
    assert len(orbit) == 1 and orbit[0].state == "confirmed" and \
        orbit[0].call_id == "park-701@127.0.0.1", got[uri("701")].raw
    assert got[uri("702")].idle, got[uri("702")].raw
    lamp.assert_versions()
    ring.cancel()


def test_changes_reach_wildcard_versions_across_entities(kam, phones):
    a, b, w = phones("alice"), phones("bob"), phones("watcher")
    lamp = wildcard(w)
    lamp.pump(3)
    call = a.call("bob")
    inc = b.wait_incoming()
    wait_entity(lamp, uri("bob"), has_state("early", call.call_id))
    inc.answer()
    wait_entity(lamp, uri("alice"), has_state("confirmed", call.call_id))
    wait_entity(lamp, uri("bob"), has_state("confirmed", call.call_id))
    call.bye()
    wait_entity(lamp, uri("alice"), has_state("terminated", call.call_id))
    wait_entity(lamp, uri("bob"), has_state("terminated", call.call_id))
    versions = lamp.assert_versions()  # 0, 1, 2 ... across both entities
    assert len(versions) >= 7, versions
    for ent, direction in ((uri("alice"), "initiator"),
                           (uri("bob"), "recipient")):
        seq = [i for i in by_entity(lamp, ent)]
        states = []
        for i in seq:
            assert len(i.dialogs) == 1, i.raw
            assert i.dialogs[0].direction == direction
            if not states or states[-1] != i.dialogs[0].state:
                states.append(i.dialogs[0].state)
        assert states == ["trying", "early", "confirmed", "terminated"], \
            (ent, states)


def test_new_extension_and_new_orbit_reach_wildcard(stub, kam, phones):
    w = phones("watcher")
    lamp = wildcard(w)
    _, info = lamp.pump(3)
    assert info.entity == ANY and info.idle
    # a new extension, never seen before the SUBSCRIBE
    c, d = phones("carol"), phones("dave")
    call = c.call("dave")
    d.wait_incoming()
    wait_entity(lamp, uri("carol"), has_state("early", call.call_id))
    wait_entity(lamp, uri("dave"), has_state("early", call.call_id))
    call.cancel()
    wait_entity(lamp, uri("dave"), has_state("terminated", call.call_id))
    # a new orbit, announced even while empty
    stub.set_orbits([{"orbit": "703"}])
    info = wait_entity(lamp, uri("703"), timeout=3.0)
    assert info.idle, info.raw
    stub.set_orbits([{"orbit": "703", "call_id": "p703@127.0.0.1",
                      "parked": uri("211")}])
    info = wait_entity(lamp, uri("703"), has_state("confirmed"), timeout=3.0)
    assert info.dialogs[0].call_id == "p703@127.0.0.1"
    assert info.dialogs[0].remote.identity == uri("211")
    stub.set_orbits([])
    wait_entity(lamp, uri("703"), lambda i: all(
        x.state == "terminated" for x in i.dialogs), timeout=3.0)
    lamp.assert_versions()


def test_wildcard_sees_only_its_domain(stub, make_proxy, phones):
    stub.set_orbits([])
    kam = make_proxy(**http_params(stub, alias=False, park=True,
                                   park_domain="park.blf.test"))
    assert kam
    w = phones("watcher")
    here = wildcard(w)
    parkw = wildcard(w, uri("any-dn", "park.blf.test"))
    assert here.pump(3)[1].entity == ANY
    assert parkw.pump(3)[1].entity == uri("any-dn", "park.blf.test")
    stub.set_orbits([{"orbit": "701", "call_id": "p701@127.0.0.1",
                      "parked": uri("211")}])
    wait_entity(parkw, uri("701", "park.blf.test"), has_state("confirmed"),
                timeout=3.0)
    a, b = phones("alice"), phones("bob")
    call = a.call("bob")
    b.wait_incoming()
    wait_entity(here, uri("bob"), has_state("early"))
    call.cancel()
    wait_entity(here, uri("bob"), has_state("terminated"))
    here.drain()
    parkw.drain()
    assert all(i.entity.endswith("@blf.test") for i in here.infos()), \
        [i.entity for i in here.infos()]
    assert all(i.entity.endswith("@park.blf.test") for i in parkw.infos()), \
        [i.entity for i in parkw.infos()]


def test_wildcard_refresh_gets_a_notify(stub, kam, phones):
    """RFC 6665 4.2.2: a notifier sends a NOTIFY at once after accepting a
    refresh too (SPEC: "Refresh -> 200 OK and a full-state NOTIFY")."""
    w = phones("watcher")
    lamp = wildcard(w)
    lamp.pump(3)
    r = lamp.sub.refresh(600)
    assert r.status == 200, r.first_line()
    n, info = lamp.pump(3, "a NOTIFY after the refresh of a wildcard")
    assert n.state == "active"
    assert info.version == 1
    lamp.assert_versions()


def test_wildcard_unsubscribe_final_notify(kam, phones):
    w = phones("watcher")
    lamp = wildcard(w)
    lamp.pump(3)
    assert lamp.sub.unsubscribe().status == 200
    n = lamp.wait_final(3)
    assert n.reason == "timeout", n.subscription_state
    blfutil.poll(lambda: not blfutil.subscriptions(kam), 3,
                 what="no subscription after Expires: 0")


@pytest.mark.parametrize("policy", ["none", "state"])
def test_wildcard_respects_entity_visibility(stub, make_proxy, phones,
                                             policy):
    """A wildcard watcher watches every entity of the domain, so each
    entity's policy from the alias service holds for it as for any other
    watcher (SPEC "Aliases over HTTP": the visibility is "the policy of
    that canonical entity, for all its watchers"; visibility none forbids
    every watcher but the entity itself; state: no call-id, tags or remote
    party). The service gives 300's policy for sip:300 itself."""
    e300 = uri("300")
    stub.set_alias(e300, e300, visibility=policy)
    make_proxy(**http_params(stub))
    a, p300 = phones("alice"), phones("300", invite_policy="answer")
    w = phones("watcher")
    # the policy of 300 is known before anything happens
    assert p300.subscribe(e300, expires=0).responses[-1].status == 200
    lamp = wildcard(w)
    lamp.pump(3)
    call = a.call("300").wait_state("confirmed")
    wait_entity(lamp, uri("alice"), has_state("confirmed", call.call_id))
    call.bye()
    wait_entity(lamp, uri("alice"), has_state("terminated", call.call_id))
    # 300's NOTIFYs, if any, were sent with alice's (same call events)
    lamp.drain()
    leaked = [i for i in by_entity(lamp, e300) if i.dialogs]
    if policy == "none":
        assert not leaked, "visibility none, yet a wildcard watcher saw " \
            "300's calls:\n%s" % "\n".join(i.raw for i in leaked)
    else:
        for info in leaked:
            assert call.call_id not in info.raw and \
                "alice" not in info.raw.lower(), \
                "visibility state, yet the wildcard watcher got:\n%s" % \
                info.raw
