"""Hostile SUBSCRIBEs (issue #9): what one SUBSCRIBE from anyone on the
network can make the module store or send. Every field a subscription
keeps is bounded and checked at SUBSCRIBE time (a 400 naming the header,
nothing stored), a Contact that can never take a NOTIFY is refused, the
Accept header is read as media ranges, a wildcard of another domain is
forbidden, one watcher or one address cannot take every slot, and wildcard
refreshes cannot turn into NOTIFY floods. After each: Kamailio is up and a
normal subscription still works."""

import time

import pytest

import blfutil
from httpstub import stub  # noqa: F401  (pytest fixture)
from httputil import http_params, parks_by_orbit, uri
import sipua

BOB = "sip:bob@blf.test"


def stats(kam):
    """The blf statistics (Kamailio counters of group blf) as a dict."""
    out = {}
    for line in kam.rpc("stats.get_statistics", "blf:"):
        name, _, val = str(line).partition(" = ")
        out[name.split(":", 1)[1]] = int(val)
    return out


def send_sub(w, target="bob", set_hdrs=(), drop=(), expires=120):
    """An initial SUBSCRIBE of phone w to target with headers replaced
    (set_hdrs: (name, value) pairs; a value of None removes the header)
    or added; returns (Subscription, final response)."""
    sub = w.subscribe(target, send=False)
    msg = sub.build(expires)
    for name, value in set_hdrs:
        if value is None:
            msg.headers = [h for h in msg.headers
                           if h[0].lower() != name.lower()]
        elif msg.has(name):
            msg.set(name, value)
        else:
            msg.add(name, value)
    r = w.send_request(msg).wait_final(5)
    if 200 <= r.status < 300:
        sub.remote_tag = r.to_tag
        sub.remote_target = r.contact_uri or sub.remote_target
    return sub, r


def still_serving(kam, w, target="carol"):
    """Kamailio answers and a normal subscription gets its NOTIFY."""
    lamp = blfutil.watch(w, target, expires=120)
    assert lamp.sub.unsubscribe().status == 200
    lamp.wait_final(3)


# -- item 1: every stored field bounded ----------------------------------

LONG = "a" * 700


@pytest.mark.parametrize("hdr,value,reason", [
    ("Event", "dialog;id=" + LONG, "Event id Too Long"),
    ("Event", "dialog;id=a/b", "Bad Event id"),
    ("Call-ID", "c" * 300 + "@127.0.0.1", "Call-ID Too Long"),
    ("From", "<sip:watcher@blf.test>;tag=" + "t" * 200, "From Tag Too Long"),
    ("From", "<sip:watcher@blf.test;x=%s>;tag=abc" % LONG,
     "From URI Too Long"),
    ("Contact", "<sip:watcher@127.0.0.1:5060;x=%s>" % LONG,
     "Contact Too Long"),
    ("Record-Route", ", ".join(["<sip:127.0.0.1:5060;lr;x=%s>" % LONG] * 4),
     "Record-Route Too Long"),
])
def test_oversized_field_400_nothing_stored(proxy, phones, hdr, value,
                                            reason):
    w = phones("watcher")
    sub, r = send_sub(w, set_hdrs=[(hdr, value)])
    assert (r.status, r.reason) == (400, reason), r.first_line()
    assert not blfutil.subscriptions(proxy)
    assert stats(proxy)["subscribes_rejected"] >= 1
    assert sub.notifies == []
    still_serving(proxy, w)


@pytest.mark.parametrize("where", ["Request-URI", "From URI"])
def test_long_user_400_without_module_error(proxy, phones, where):
    """A user@host longer than an entity key (255 bytes): 400 naming the
    header, and no ERROR line of the module quoting the whole URI."""
    w = phones("watcher")
    long_uri = "sip:%s@blf.test" % ("u" * 300)
    if where == "From URI":
        _, r = send_sub(w, set_hdrs=[("From", "<%s>;tag=abc" % long_uri)])
    else:
        _, r = send_sub(w, target=long_uri)
    assert (r.status, r.reason) == (400, where + " Too Long"), \
        r.first_line()
    assert not [ln for ln in proxy.log().splitlines()
                if "ERROR: blf" in ln and "u" * 100 in ln], \
        "the module logged the hostile URI as an error"
    still_serving(proxy, w)


def test_event_id_at_the_bound_is_echoed(proxy, phones):
    """64 bytes of id is accepted and comes back in every NOTIFY."""
    w = phones("watcher")
    evid = "i" * 64
    sub, r = send_sub(w, set_hdrs=[("Event", "dialog;id=" + evid)])
    assert r.status == 200, r.first_line()
    lamp = blfutil.Lamp(sub, event_id=evid)
    lamp.pump(3)
    assert sub.unsubscribe().status == 200
    lamp.wait_final(3)


# -- item 10: Contacts that can never take a NOTIFY, route sets, Accept ---

@pytest.mark.parametrize("contact,reason", [
    ("<tel:+15551234>", "Contact Not A SIP URI"),
    ("<mailto:watcher@blf.test>", "Contact Not A SIP URI"),
    ("*", "Bad Contact"),
    ("", "Bad Contact"),
    ("<sip:watcher@[::1]:5060>", "Contact Unreachable"),
    ("<sip:watcher@[2001:db8::1]>", "Contact Unreachable"),
    ("<sip:watcher@127.0.0.1:5060;transport=tcp>", "Contact Unreachable"),
])
def test_unnotifiable_contact_400(proxy, phones, contact, reason):
    """The test Kamailio listens on udp:127.0.0.1 only: no IPv6 socket, no
    TCP; the NOTIFY could never leave."""
    w = phones("watcher")
    _, r = send_sub(w, set_hdrs=[("Contact", contact)])
    assert (r.status, r.reason) == (400, reason), \
        "Contact %r: %s" % (contact, r.first_line())
    assert not blfutil.subscriptions(proxy)
    assert stats(proxy)["subscriptions"] == 0
    still_serving(proxy, w)


def test_refresh_to_unnotifiable_contact_400_keeps_subscription(proxy,
                                                                 phones):
    w = phones("watcher")
    lamp = blfutil.watch(w, "bob", expires=120)
    msg = lamp.sub.build(120)
    msg.set("Contact", "<tel:+15551234>")
    r = w.send_request(msg).wait_final(5)
    assert (r.status, r.reason) == (400, "Contact Not A SIP URI")
    # the subscription and its target are unchanged
    assert lamp.sub.refresh(300).status == 200
    lamp.pump(3)
    assert len(blfutil.subscriptions(proxy)) == 1


@pytest.mark.parametrize("rr,reason", [
    ("<<<>>>", "Bad Record-Route"),
    ("<tel:+1555>", "Bad Record-Route"),
    ("<sip:[::1]:5060;lr>", "Record-Route Unreachable"),
])
def test_bad_record_route_400(proxy, phones, rr, reason):
    w = phones("watcher")
    _, r = send_sub(w, set_hdrs=[("Record-Route", rr)])
    assert (r.status, r.reason) == (400, reason), \
        "Record-Route %r: %s" % (rr, r.first_line())
    assert not blfutil.subscriptions(proxy)
    still_serving(proxy, w)


@pytest.mark.parametrize("accept", [
    "x-application/dialog-info+xml-not",
    "application/dialog-info+xml-not",
    "application/dialog-info+xml;q=0",
    "application/*, application/dialog-info+xml;q=0",
    "*/*;q=0",
    "text/*",
])
def test_accept_not_acceptable_406(proxy, phones, accept):
    w = phones("watcher")
    r = w.subscribe("bob", accept=accept).responses[-1]
    assert r.status == 406, "Accept %r: %s" % (accept, r.first_line())
    assert not blfutil.subscriptions(proxy)


@pytest.mark.parametrize("accept", [
    "application/*", "*/*", "Application/Dialog-Info+XML",
    "application/pidf+xml;q=1, application/dialog-info+xml;q=0.1",
    "*/*;q=0, application/dialog-info+xml"])
def test_accept_ranges_200(proxy, phones, accept):
    w = phones("watcher")
    r = w.subscribe("bob", accept=accept).responses[-1]
    assert r.status == 200, "Accept %r: %s" % (accept, r.first_line())


def test_ipv6_entity_validates(proxy, phones):
    """sip:202@[::1]: the entity attribute is an anyURI, which has no room
    for brackets outside an authority: the module percent-encodes them, and
    the body validates against the RFC 4235 schema (Lamp checks it)."""
    w = phones("watcher")
    sub = w.subscribe("sip:202@[::1]", expires=120)
    assert sub.responses[-1].status == 200, sub.responses[-1].first_line()
    lamp = blfutil.Lamp(sub, entity="sip:202@%5B::1%5D")
    n, info = lamp.pump(3)
    assert info.version == 0 and info.idle
    assert sub.unsubscribe().status == 200
    lamp.wait_final(3)


# -- item 6(c): a wildcard of another domain ------------------------------

def test_wildcard_of_other_domain_403(proxy, phones):
    w = phones("watcher")
    r = w.subscribe("sip:any-dn@other.test").responses[-1]
    assert (r.status, r.reason) == (403, "Forbidden"), r.first_line()
    assert not blfutil.subscriptions(proxy)
    # a watcher of that domain may; and our domain's wildcard still works
    sub = w.subscribe("sip:any-dn@other.test",
                      from_uri="sip:watcher@other.test")
    assert sub.responses[-1].status == 200, sub.responses[-1].first_line()
    mine = w.subscribe("sip:any-dn@blf.test")
    assert mine.responses[-1].status == 200
    assert len(blfutil.subscriptions(proxy)) == 2


# -- item 8: per watcher and per source address ---------------------------

def counted(kam):
    s = stats(kam)
    return (s["watcher_counted"], s["source_counted"], s["watcher_counters"])


def test_watcher_limit_503_others_unaffected(make_proxy, phones):
    """max_subscriptions=10, max_watcher_subscriptions=4: the greedy
    watcher gets 4 and a 503 with Retry-After, another watcher still gets
    its subscription; all counts go back to 0 at the end."""
    kam = make_proxy(max_subscriptions=10, max_watcher_subscriptions=4)
    greedy, other = phones("greedy"), phones("other")
    subs = []
    for i in range(4):
        sub, r = send_sub(greedy, target="bob")
        assert r.status == 200, r.first_line()
        subs.append(sub)
    _, r = send_sub(greedy, target="bob")
    assert (r.status, r.reason) == (503, "Too Many Subscriptions Of Watcher")
    assert r.get("Retry-After", "").strip().isdigit(), r.get("Retry-After")
    # a retransmission-like refresh of one it holds is fine
    assert subs[0].refresh(300).status == 200
    lamp = blfutil.watch(other, "bob", expires=120)
    s = stats(kam)
    assert s["watcher_limited"] == 1 and s["subscriptions"] == 5, s
    assert counted(kam) == (5, 5, 3), counted(kam)  # 2 watchers, 1 address
    for sub in subs:
        assert sub.unsubscribe().status == 200
    assert lamp.sub.unsubscribe().status == 200
    blfutil.poll(lambda: counted(kam) == (0, 0, 0), 5,
                 what="watcher/source counts back to 0")
    assert stats(kam)["subscriptions"] == 0
    # the greedy watcher may subscribe again
    still_serving(kam, greedy)


def test_source_limit_503(make_proxy, phones):
    kam = make_proxy(max_source_subscriptions=3)
    a, b = phones("a"), phones("b")
    ok = [send_sub(a)[1].status, send_sub(b)[1].status,
          send_sub(a, target="carol")[1].status]
    assert ok == [200, 200, 200]
    _, r = send_sub(b, target="carol")
    assert (r.status, r.reason) == (503, "Too Many Subscriptions From Address")
    assert r.get("Retry-After")
    assert stats(kam)["source_limited"] == 1
    assert counted(kam) == (3, 3, 3)


def test_counts_follow_every_removal(make_proxy, phones):
    """Expiry, a 481 to a NOTIFY, an unsubscribe and a fetch: each ends
    its count, so the counters come back to 0."""
    kam = make_proxy(min_expires=1, max_watcher_subscriptions=50)
    w = phones("watcher")
    gone = phones("gone", notify_reply=481)
    # expires by itself
    short = blfutil.watch(w, "bob", expires=2)
    # its NOTIFY is answered 481: removed
    sub, r = send_sub(gone, target="bob")
    assert r.status == 200
    # unsubscribed
    lamp = blfutil.watch(w, "carol", expires=120)
    # a fetch is never counted
    assert w.subscribe("dave", expires=0).responses[-1].status == 200
    assert lamp.sub.unsubscribe().status == 200
    short.wait_final(6)
    blfutil.poll(lambda: not blfutil.subscriptions(kam), 8,
                 what="every subscription gone")
    blfutil.poll(lambda: counted(kam) == (0, 0, 0), 5,
                 what="watcher/source counts back to 0")


# -- item 4: wildcard refresh bursts ---------------------------------------

ORBITS = 120
REFRESHES = 12


def test_wildcard_refresh_burst_bounded(stub, make_proxy, phones):
    """A wildcard watcher with many entities in its domain refreshing in a
    loop: the first SUBSCRIBE gets one NOTIFY per entity, each refresh
    within wildcard_burst_interval gets its 200 and one NOTIFY naming the
    wildcard (no new burst); shm comes back to its level."""
    stub.set_orbits([{"orbit": str(800 + i)} for i in range(ORBITS)])
    kam = make_proxy(**http_params(stub, alias=False, park=True))
    w = phones("watcher")
    blfutil.poll(lambda: len(parks_by_orbit(kam)) == ORBITS, 10,
                 what="%d park orbits known" % ORBITS)

    def shm():
        return int(kam.rpc("core.shmmem")["real_used"])

    lamp = blfutil.Lamp(w.subscribe(uri("any-dn"), expires=600), entity=False)
    assert lamp.sub.responses[-1].status == 200
    lamp.wait(lambda i: len({x.entity for x in lamp.infos()}) >= ORBITS, 15,
              "one NOTIFY per orbit")
    lamp.drain()
    first = len(lamp.seen)
    base = shm()
    for i in range(REFRESHES):
        r = lamp.sub.refresh(600 - i)
        assert r.status == 200, r.first_line()
    # the final NOTIFY's version is above every NOTIFY the refreshes
    # caused: once all lower versions are in, nothing else is on its way
    assert lamp.sub.unsubscribe().status == 200
    lamp.wait_final(5)
    lamp.complete(5)
    lamp.drain()
    extra = len(lamp.seen) - first - 1
    assert extra <= REFRESHES, \
        "%d refreshes brought %d NOTIFYs (a burst is %d)" % (
            REFRESHES, extra, ORBITS)
    assert extra == REFRESHES, "RFC 6665: a NOTIFY after each refresh"
    assert stats(kam)["wildcard_bursts_limited"] == REFRESHES
    lamp.assert_versions()
    blfutil.poll(lambda: shm() <= base + 4096, 10, interval=0.2,
                 what="shm back to its level (%d)" % base)


# -- the counts across cluster takeover (replica removal, takeover) -------

from test_cluster import cluster, make_cluster  # noqa: E402,F401 (fixtures)
from test_cluster import last_seen, sender, wait_agree, watch_via  # noqa


def counts_match(nodes):
    """On every node: the per-watcher count equals the subscriptions it
    owns, and nothing is left counted for a watcher it no longer has."""
    out = {}
    for k in nodes:
        s = stats(k)
        out[k.name] = (s["subscriptions"], s["watcher_counted"],
                       s["watcher_counters"])
    ok = all(v[0] == v[1] for v in out.values())
    return ok, out


def test_counts_follow_takeover_and_moves(cluster, phones):
    """Subscriptions taken over after their owner's death, then moved to
    another node by a refresh through it, then ended: on every node the
    per-watcher count stays equal to the subscriptions it owns, and ends
    at 0."""
    A, B, C = cluster.nodes
    lamps = [watch_via(phones, B, "watcher%d" % i, "bob") for i in range(3)]
    wait_agree(cluster.nodes, 5, "the cluster before the kill")
    assert stats(B)["watcher_counted"] == 3
    B.kill()
    survivors = [A, C]
    owners = {}
    for lp in lamps:
        n, _ = lp.pump(cluster.bound(), "takeover NOTIFY")
        owners[lp.sub.call_id] = sender(cluster, n)
    blfutil.poll(lambda: counts_match(survivors)[0] and sum(
        stats(k)["watcher_counted"] for k in survivors) == 3, 5,
        what="counts equal to owned subscriptions after takeover "
        "(%s)" % (counts_match(survivors),))
    # a refresh through the other survivor moves each subscription there
    for lp in lamps:
        other = C if owners[lp.sub.call_id] is A else A
        lp.sub.phone.proxy = other.addr
        lp.refresh()
    blfutil.poll(lambda: counts_match(survivors)[0], 5,
                 what="counts after the moves (%s)" % (
                     counts_match(survivors),))
    for lp in lamps:
        assert lp.sub.unsubscribe().status == 200
        lp.wait_final()
    blfutil.poll(lambda: all(counted(k) == (0, 0, 0) for k in survivors), 5,
                 what="every count back to 0 (%s)" % (
                     [counted(k) for k in survivors],))


# -- the counts after a restart from the database -------------------------

from test_persistence import db_proxy, sqlite_db, sqlite_url  # noqa: E402,F401
import dbutil  # noqa: E402


def test_counts_after_restore_from_db(sqlite_db, db_proxy, phones):
    """Subscriptions restored at start count for their watcher (their
    source address is not stored): the per-watcher limit holds across a
    restart, and the counts end at 0."""
    kam = db_proxy(["db_sqlite.so"], db_url=sqlite_url(sqlite_db),
                   db_flush_interval=1, max_watcher_subscriptions=2)
    w = phones("watcher")
    lamps = [blfutil.watch(w, t, expires=600) for t in ("bob", "carol")]
    dbutil.restart(kam)
    assert stats(kam)["subscriptions"] == 2
    assert counted(kam) == (2, 0, 1), counted(kam)
    _, r = send_sub(w, target="dave")
    assert (r.status, r.reason) == (503, "Too Many Subscriptions Of Watcher")
    for lp in lamps:
        assert lp.sub.unsubscribe().status == 200
        lp.wait_final(3)
    blfutil.poll(lambda: counted(kam) == (0, 0, 0), 5,
                 what="counts back to 0")


def test_wildcard_subscribe_unsubscribe_loop_bounded(proxy, phones):
    """New wildcard subscriptions (each unsubscribed at once) cost a burst
    each: past 16 per wildcard_burst_interval for one watcher, a new one
    gets 503 with Retry-After; other watchers are not affected."""
    w, other = phones("watcher"), phones("other")
    codes = []
    for i in range(17):  # bounded: the budget is 16
        sub, r = send_sub(w, target=uri("any-dn"), expires=600)
        codes.append(r.status)
        if r.status != 200:
            break
        assert sub.unsubscribe().status == 200
    assert codes == [200] * 16 + [503], codes
    assert r.reason == "Too Many Wildcard Subscriptions", r.first_line()
    assert r.get("Retry-After") == "60", r.get("Retry-After")
    assert stats(proxy)["wildcard_bursts_limited"] == 1
    lamp = blfutil.Lamp(other.subscribe(uri("any-dn"), expires=600),
                        entity=False)
    assert lamp.sub.responses[-1].status == 200
    lamp.pump(3)


# -- address families: the socket the NOTIFYs can leave from --------------

import socket  # noqa: E402

import kamproc  # noqa: E402


def kamailio_listening(listens):
    """A kamproc.Kamailio class whose cfg listens on listens (format
    strings of the port) instead of udp:127.0.0.1:PORT."""
    class Kam(kamproc.Kamailio):
        def render(self):
            text = super().render()
            text = text.replace(
                "listen=udp:127.0.0.1:%d" % self.port,
                "\n".join("listen=" + x % self.port for x in listens))
            with open(self.cfg_path, "w") as f:
                f.write(text)
            return text
    return Kam


def udp6():
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.bind(("::1", 0))
    s.settimeout(0.2)
    return s


def recv_sip(sock, pred, timeout, what):
    """The first SIP message received on sock for which pred holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            data, src = sock.recvfrom(65535)
        except socket.timeout:
            continue
        m = sipua.SipMessage.parse(data)
        m.src = src
        if pred(m):
            return m
    raise AssertionError("no %s within %.1fs" % (what, timeout))


def test_ipv6_contact_of_ipv4_subscribe_notified_over_ipv6(
        kamailio_factory, phones, monkeypatch):
    """With an IPv6 socket too, a SUBSCRIBE over IPv4 whose Contact is an
    IPv6 address is accepted, and its NOTIFYs leave from the IPv6 socket
    (the SUBSCRIBE's IPv4 socket cannot reach it): answered, the
    subscription stays."""
    monkeypatch.setattr(kamproc, "Kamailio", kamailio_listening(
        ["udp:127.0.0.1:%d", "udp:[::1]:%d"]))
    kam = kamailio_factory(blf=True, track=True, params={})
    w = phones("watcher")
    s6 = udp6()
    try:
        port6 = s6.getsockname()[1]
        _, r = send_sub(w, set_hdrs=[
            ("Contact", "<sip:watcher@[::1]:%d>" % port6)])
        assert r.status == 200, r.first_line()
        n = recv_sip(s6, lambda m: m.method == "NOTIFY", 5,
                     "NOTIFY over IPv6")
        assert n.src[0] == "::1" and n.src[1] == kam.port, n.src
        assert "[::1]" in n.get("Contact"), n.get("Contact")
        s6.sendto(sipua.SipMessage.response_to(n, 200).encode(), n.src[:2])
        assert len(blfutil.subscriptions(kam)) == 1
        assert stats(kam)["notifies_failed"] == 0
    finally:
        s6.close()


def test_ipv4_contact_without_ipv4_socket_400(kamailio_factory,
                                              monkeypatch):
    """An IPv6-only Kamailio refuses a Contact with an IPv4 address."""
    monkeypatch.setattr(kamproc, "Kamailio", kamailio_listening(
        ["udp:[::1]:%d"]))
    kam = kamailio_factory(blf=True, track=True, params={})
    s6 = udp6()
    try:
        me = s6.getsockname()[1]

        def subscribe(contact):
            cid = "v6-%s@[::1]" % contact.count(".")
            msg = sipua.SipMessage.request("SUBSCRIBE", BOB, [
                ("Via", "SIP/2.0/UDP [::1]:%d;branch=z9hG4bK%s;rport" % (
                    me, sipua.rand_hex(12))),
                ("Max-Forwards", "70"),
                ("From", "<sip:watcher@blf.test>;tag=%s" % sipua.rand_hex()),
                ("To", "<%s>" % BOB), ("Call-ID", cid),
                ("CSeq", "1 SUBSCRIBE"), ("Contact", contact),
                ("Event", "dialog"), ("Expires", "120")])
            s6.sendto(msg.encode(), ("::1", kam.port))
            return recv_sip(s6, lambda m: m.status is not None and
                            m.status >= 200 and m.call_id == cid, 5,
                            "the answer to the SUBSCRIBE")
        r = subscribe("<sip:watcher@127.0.0.1:5060>")
        assert (r.status, r.reason) == (400, "Contact Unreachable"), \
            r.first_line()
        r = subscribe("<sip:watcher@[::1]:%d>" % me)
        assert r.status == 200, r.first_line()
    finally:
        s6.close()
