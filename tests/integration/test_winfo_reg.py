"""Watcher information (RFC 3857/3858: presence.winfo, dialog.winfo) and
registration state (RFC 3680: reg), SPEC "Presence": only the entity
itself may subscribe (else 403); full-state documents, a NOTIFY whenever a
watcher comes or goes / a contact changes; reg needs usrloc (else 489).
Bodies validated against tests/schema/watcherinfo.xsd and reginfo.xsd."""

import pytest

import blfutil
import kamproc
import pidfutil

DOMAIN = kamproc.DOMAIN
BOB = "sip:bob@%s" % DOMAIN


@pytest.fixture
def wproxy(kamailio_factory):
    def make(usrloc=True, **params):
        return kamailio_factory(blf=True, track=True, usrloc=usrloc,
                                params=params)
    return make


def versions(watch):
    watch.drain()
    return [d.version for _, d in watch.seen if d is not None]


def assert_versions_count_up(watch):
    v = versions(watch)
    assert v == list(range(len(v))), "versions %s, expected 0..%d" % (
        v, len(v) - 1)


def active_uris(doc):
    return sorted(w.uri for w in doc.watchers if w.status == "active")


# -- presence.winfo / dialog.winfo -------------------------------------------

@pytest.mark.parametrize("package", ["presence.winfo", "dialog.winfo"])
def test_winfo_own_entity_200_full_state_empty(wproxy, phones, package):
    wproxy()
    bob = phones("bob")
    ww = pidfutil.watch(bob, "bob", package)
    doc = ww.current
    assert doc.state == "full" and doc.version == 0, doc.raw
    assert doc.resource == BOB, doc.raw
    assert doc.package == package.split(".")[0], doc.raw
    assert doc.watchers == [], doc.raw


@pytest.mark.parametrize("package", ["presence.winfo", "dialog.winfo"])
def test_winfo_of_another_entity_403(wproxy, phones, package):
    kam = wproxy()
    phones("bob")
    alice = phones("alice")
    r = pidfutil.subscribe(alice, "bob", package).responses[-1]
    assert r.status == 403, r.first_line()
    assert not pidfutil.subs_of(kam, package)


@pytest.mark.parametrize("package", ["presence.winfo", "dialog.winfo"])
def test_winfo_notify_when_watcher_comes_and_goes(wproxy, phones, package):
    wproxy()
    bob = phones("bob")
    ww = pidfutil.watch(bob, "bob", package)
    watched = package.split(".")[0]
    alice = phones("alice", register=False)
    if watched == "presence":
        w = pidfutil.watch(alice, "bob", "presence")
        sub = w.sub
    else:
        sub = blfutil.watch(alice, "bob").sub
    doc = ww.wait(lambda d: active_uris(d) != [], 3, "alice listed")
    assert len(doc.watchers) == 1, doc.raw
    wa = doc.watchers[0]
    assert "alice@%s" % DOMAIN in wa.uri, doc.raw
    assert wa.status == "active" and wa.id and wa.event, doc.raw
    assert doc.package == watched and doc.state == "full"
    assert sub.unsubscribe().status == 200
    doc = ww.wait(lambda d: active_uris(d) == [], 3, "alice gone")
    assert all(w.status == "terminated" for w in doc.watchers), doc.raw
    assert_versions_count_up(ww)


def test_winfo_lists_only_watchers_of_its_package(wproxy, phones):
    wproxy()
    bob = phones("bob")
    pres_w = pidfutil.watch(bob, "bob", "presence.winfo")
    dlg_w = pidfutil.watch(bob, "bob", "dialog.winfo")
    pidfutil.watch(phones("p", register=False), "bob", "presence")
    blfutil.watch(phones("d", register=False), "bob")
    pd = pres_w.wait(lambda d: active_uris(d) != [], 3, "presence watcher")
    dd = dlg_w.wait(lambda d: active_uris(d) != [], 3, "dialog watcher")
    assert ["p@%s" % DOMAIN in u for u in active_uris(pres_w.current)] == \
        [True], pres_w.current.raw
    assert ["d@%s" % DOMAIN in u for u in active_uris(dlg_w.current)] == \
        [True], dlg_w.current.raw
    assert pd.package == "presence" and dd.package == "dialog"


# -- reg (RFC 3680) ----------------------------------------------------------

def test_reg_own_aor_200_reginfo_with_contacts(wproxy, phones):
    wproxy()
    bob = phones("bob", register=False)
    assert bob.register(expires=600).status == 200
    rw = pidfutil.watch(bob, "bob", "reg")
    doc = rw.current
    assert doc.state == "full" and doc.version == 0, doc.raw
    assert doc.aor == BOB and doc.reg_state == "active", doc.raw
    assert len(doc.contacts) == 1, doc.raw
    c = doc.contacts[0]
    assert c.state == "active" and c.id and c.event, doc.raw
    assert c.uri == bob.contact.strip("<>"), (c.uri, bob.contact)
    assert 590 <= c.expires <= 600, doc.raw


def test_reg_of_another_aor_403(wproxy, phones):
    kam = wproxy()
    phones("bob")
    r = pidfutil.subscribe(phones("alice"), "bob", "reg").responses[-1]
    assert r.status == 403, r.first_line()
    assert not pidfutil.subs_of(kam, "reg")


def test_reg_without_usrloc_489(wproxy, phones):
    wproxy(usrloc=False)
    r = pidfutil.subscribe(phones("bob", register=False), "bob",
                           "reg").responses[-1]
    assert r.status == 489, r.first_line()


def test_reg_notify_on_register_and_unregister(wproxy, phones):
    wproxy()
    bob = phones("bob", register=False)
    assert bob.register(expires=600).status == 200
    rw = pidfutil.watch(bob, "bob", "reg")
    second = "<sip:bob@127.0.0.1:5999>"
    assert bob.register(expires=600, contact=second).status == 200
    doc = rw.wait(lambda d: len([c for c in d.contacts
                                 if c.state == "active"]) == 2, 3,
                  "two active contacts")
    new = next(c for c in doc.contacts if c.uri == "sip:bob@127.0.0.1:5999")
    assert new.event in ("registered", "created"), doc.raw
    assert bob.register(expires=0, contact=second).status == 200
    doc = rw.wait(lambda d: any(c.uri == "sip:bob@127.0.0.1:5999" and
                                c.state == "terminated" for c in d.contacts)
                  or len(d.contacts) == 1, 3, "second contact gone")
    gone = [c for c in doc.contacts if c.uri == "sip:bob@127.0.0.1:5999"]
    assert not gone or gone[0].event == "unregistered", doc.raw
    assert_versions_count_up(rw)


def test_reg_notify_on_expiry(kamailio_factory, phones, monkeypatch):
    monkeypatch.setattr(kamproc, "Kamailio", kamproc.FastUlKamailio)
    kamailio_factory(blf=True)
    bob = phones("bob", register=False)
    assert bob.register(expires=10).status == 200
    rw = pidfutil.watch(bob, "bob", "reg")
    assert [c.state for c in rw.current.contacts] == ["active"]
    doc = rw.wait(lambda d: all(c.state == "terminated"
                                for c in d.contacts), 16, "expired")
    assert [c.event for c in doc.contacts] in (["expired"], []), doc.raw
