"""The NOTIFYs a registration causes are not sent from inside usrloc's
callback (README "Registrations, reg and watcher info"): a REGISTER's
NOTIFYs go after its script, so the phone gets the REGISTER's 200 before
the reg NOTIFY that the same REGISTER caused; a contact that usrloc's timer
expires, or several that end together, still reach reg watchers as
terminated with their event, sent by the module's expiry timer.

What a user checks: the order of the messages on the registering phone's
own socket (one UDP socket over loopback keeps the order they were sent
in), and the reginfo documents (validated against tests/schema/)."""

import time

import kamproc
import pidfutil
from pidfutil import READY, UNAVAILABLE


def received_after_last(phone, method):
    """First lines received by phone after it last sent method."""
    tr = list(phone.trace)
    last = max(i for i, (_, d, line) in enumerate(tr)
               if d == "->" and line.startswith(method + " "))
    return [line for _, d, line in tr[last + 1:] if d == "<-"]


def test_register_200_before_the_notifies_it_causes(kamailio_factory,
                                                   phones):
    kamailio_factory(blf=True, track=True, usrloc=True)
    bob = phones("bob")
    rw = pidfutil.watch(bob, "bob", package="reg")
    pw = pidfutil.watch(phones("w", register=False), "bob")
    for expires in (1800, 600, 0):
        assert bob.register(expires=expires).status == 200
        n, doc = rw.pump(3, "the reg NOTIFY of REGISTER expires=%d"
                         % expires)
        got = received_after_last(bob, "REGISTER")
        assert got and got[0].startswith("200 "), \
            "the REGISTER's NOTIFY came before its 200: %s" % got
        assert any(line.startswith("NOTIFY ") for line in got), got
    assert [c.state for c in doc.contacts] == ["terminated"], doc.raw
    assert doc.contacts[0].event == "unregistered", doc.raw
    pw.wait_state(UNAVAILABLE, 3)


def test_expiry_from_usrloc_timer_notified_with_event(kamailio_factory,
                                                      phones, monkeypatch):
    """Two contacts of one AOR expire in the same usrloc timer pass: the
    expiry timer's NOTIFY shows both terminated, event expired."""
    monkeypatch.setattr(kamproc, "Kamailio", kamproc.FastUlKamailio)
    kamailio_factory(blf=True, track=True, usrloc=True)
    bob = phones("bob", register=False)
    rw = pidfutil.watch(bob, "bob", package="reg")
    pw = pidfutil.watch(phones("w", register=False), "bob")
    c1 = "sip:bob@127.0.0.1:%d;line=1" % bob.addr[1]
    c2 = "sip:bob@127.0.0.1:%d;line=2" % bob.addr[1]
    assert bob.register(expires=10, contact="<%s>" % c1).status == 200
    assert bob.register(expires=10, contact="<%s>" % c2).status == 200
    rw.wait(lambda d: len([c for c in d.contacts if c.state == "active"])
            == 2, 3, "both contacts active")
    pw.wait_state(READY, 3)
    t0 = time.monotonic()

    def ended():
        return [(c.uri, c.event, d.version) for _, d in rw.seen
                if d is not None for c in d.contacts
                if c.state == "terminated"]
    rw.wait(lambda d: {u for u, _, _ in ended()} == {c1, c2}, 20,
            "both contacts shown expired")
    assert time.monotonic() - t0 >= 7, "expired before its time"
    # one pass of usrloc's timer ends both; whether they share a NOTIFY
    # depends on the second each falls in: each is shown once, expired
    got = ended()
    assert sorted(u for u, _, _ in got) == sorted([c1, c2]), got
    assert all(ev == "expired" for _, ev, _ in got), got
    pw.wait_state(UNAVAILABLE, 3)
