"""Registrations from usrloc as the module keeps them (README "Registrations,
reg and watcher info"): the reg events of a re-REGISTER (refreshed /
shortened), the bound max_contacts_per_entity (logged, the entity still
registered), ul_domain, hostile contacts, and watcher info NOTIFYs only when
a watcher comes or goes (not on a refresh). Bodies validated against
tests/schema/ by pidfutil."""

import os
import signal
import subprocess
import time

import pytest

import blfutil
import kamproc
import pidfutil
import sipua

DOMAIN = kamproc.DOMAIN


def test_reg_refresh_and_shorten_events(make_proxy, phones):
    make_proxy()
    bob = phones("bob", register=False)
    assert bob.register(expires=600).status == 200
    rw = pidfutil.watch(bob, "bob", "reg")
    first = rw.current.contacts[0]
    assert bob.register(expires=600).status == 200
    doc = rw.wait(lambda d: d.contacts and d.contacts[0].event == "refreshed",
                  3, "refreshed")
    assert doc.contacts[0].id == first.id, doc.raw  # stable per binding
    assert bob.register(expires=100).status == 200
    doc = rw.wait(lambda d: d.contacts and d.contacts[0].event == "shortened",
                  3, "shortened")
    assert doc.contacts[0].state == "active"
    assert 90 <= doc.contacts[0].expires <= 100, doc.raw
    assert doc.contacts[0].id == first.id, doc.raw


def test_max_contacts_per_entity_bounds_and_logs(make_proxy, phones):
    kam = make_proxy(max_contacts_per_entity=1)
    bob = phones("bob", register=False)
    assert bob.register(expires=600).status == 200
    assert bob.register(expires=600,
                        contact="<sip:bob@127.0.0.1:5998>").status == 200
    rw = pidfutil.watch(bob, "bob", "reg")
    assert len(rw.current.contacts) == 1, rw.current.raw
    assert "max_contacts_per_entity" in kam.log()
    # still registered for presence
    pw = pidfutil.watch(phones("w", register=False), "bob")
    pidfutil.assert_state(pw.current, pidfutil.READY)
    # the tracked one goes: closed, although usrloc still has the other
    # (the bound is the operator's: registrar max_contacts should match)
    assert bob.register(expires=0, contact=bob.contact).status == 200
    rw.wait(lambda d: all(c.state == "terminated" for c in d.contacts), 3,
            "tracked contact gone")


def test_ul_domain_places_aors_without_domain(make_proxy, phones):
    # usrloc use_domain 0: AORs are "bob"; ul_domain names their domain.
    # Another domain than the alias: bob@blf.test is then never registered
    make_proxy(ul_domain="other.test")
    bob = phones("bob", register=False)
    assert bob.register(expires=600).status == 200
    pw = pidfutil.watch(phones("w", register=False), "bob")
    pidfutil.assert_state(pw.current, pidfutil.UNAVAILABLE)


def test_hostile_contacts_kamailio_stays_up(make_proxy, phones):
    kam = make_proxy()
    bob = phones("bob", register=False)
    long_user = "x" * 1500
    for c in ("<sip:%s@127.0.0.1:5997>" % long_user,
              "<sip:bob@127.0.0.1:5996;p=%s>" % ("%22<>&'" * 40)):
        r = bob.register(expires=600, contact=c)
        assert r.status in (200, 400, 500), r.first_line()
    rw = pidfutil.watch(bob, "bob", "reg")  # schema-valid, escaped
    for c in rw.current.contacts:
        assert len(c.uri) < 4 * 256 + 64, c.uri[:80]
    assert kam.running
    assert pidfutil.subscribe(bob, "bob", "reg").responses[-1].status == 200
    assert not kamproc.crash_lines(kam.log())


def test_winfo_no_notify_on_watcher_refresh(make_proxy, phones):
    make_proxy()
    bob = phones("bob")
    ww = pidfutil.watch(bob, "bob", "presence.winfo")
    w = pidfutil.watch(phones("alice", register=False), "bob", "presence")
    doc = ww.wait(lambda d: len(d.watchers) == 1, 3, "alice listed")
    v = doc.version
    assert w.sub.refresh(expires=600).status == 200
    with pytest.raises(sipua.SipTimeout):
        ww.pump(1.0, "no NOTIFY on a refresh")
    assert ww.current.version == v
    # the winfo subscriber itself is no watcher of presence
    assert [x.uri for x in ww.current.watchers if "bob@" in x.uri] == []


def test_winfo_watcher_removed_after_expiry(make_proxy, phones):
    make_proxy(min_expires=1)
    bob = phones("bob")
    ww = pidfutil.watch(bob, "bob", "dialog.winfo")
    pidfutil.subscribe(phones("alice", register=False), "bob", "dialog",
                       expires=2, accept="application/dialog-info+xml")
    ww.wait(lambda d: len(d.watchers) == 1, 3, "alice listed")
    doc = ww.wait(lambda d: [w for w in d.watchers
                             if w.status == "active"] == [], 8,
                  "alice expired")
    assert all(w.status == "terminated" for w in doc.watchers), doc.raw


# syscalls a timer process sleeps in (x86-64: nanosleep, clock_nanosleep,
# select, poll, pselect6): stopped there, it holds none of our locks
SLEEPS = {"35", "230", "23", "7", "270"}


def stop_asleep(pid, tries=200):
    """SIGSTOP of pid while it sleeps between ticks (so it holds no slot
    lock); True when it is stopped so."""
    for _ in range(tries):
        os.kill(pid, signal.SIGSTOP)
        blfutil.poll(lambda: open("/proc/%d/stat" % pid).read().split(
            ") ", 1)[1][0] == "T", 2, what="process %d stopped" % pid)
        with open("/proc/%d/syscall" % pid) as f:
            if f.read().split()[0] in SLEEPS:
                return True
        os.kill(pid, signal.SIGCONT)
        time.sleep(0.005)  # let it finish its tick
    return False


def test_rpc_contact_change_notified_without_the_timer(make_proxy, phones):
    """A contact removed by an RPC (usrloc's ul.rm: no SIP request, usrloc's
    lock held in the callback) is notified by the "BLF REG" process, not by
    the expiry timer's next tick: with the expiry timer stopped (SIGSTOP,
    between two ticks) the presence and reg NOTIFYs still come."""
    kam = make_proxy()
    bob = phones("bob")
    w = phones("w", register=False)
    pw = pidfutil.watch(w, "bob")
    pw.wait_state(pidfutil.READY, 3)
    rw = pidfutil.watch(bob, "bob", "reg")  # only the entity itself
    timer = [int(p["PID"]) for p in kam.rpc("core.psx")
             if "BLF TIMER" in p.get("DSC", "")]
    assert len(timer) == 1, kam.rpc("core.psx")
    assert stop_asleep(timer[0]), "the expiry timer never caught asleep"
    try:
        kam.kamcmd("ul.rm", "location", "bob@" + DOMAIN)
        pw.wait_state(pidfutil.UNAVAILABLE, 3)
        doc = rw.wait(lambda d: d.contacts and all(
            c.state == "terminated" for c in d.contacts), 3, "contact ended")
        assert doc.contacts[0].event in ("unregistered", "deactivated"), \
            doc.raw
        # and back: a REGISTER (inside a script) notifies at once too
        assert bob.register().status == 200
        pw.wait_state(pidfutil.READY, 3)
    finally:
        os.kill(timer[0], signal.SIGCONT)
    assert kam.rpc("core.psx")


class UlDbKamailio(kamproc.Kamailio):
    """usrloc writes through to SQLite (db_mode 1) and loads it at start."""

    def render(self):
        text = super().render()
        line = 'modparam("usrloc", "db_mode", 0)\n'
        assert line in text
        self.ul_db = os.path.join(self.dir, "ul.db")
        if not os.path.exists(self.ul_db):
            share = os.path.join(kamproc.KAMAILIO_SHARE, "db_sqlite")
            sql = ""
            for name in ("standard-create.sql", "usrloc-create.sql"):
                with open(os.path.join(share, name)) as f:
                    sql += f.read() + "\n"
            subprocess.run(["sqlite3", self.ul_db], input=sql.encode(),
                           check=True, capture_output=True, timeout=20)
        extra = 'modparam("usrloc", "db_mode", 1)\n' \
            'modparam("usrloc", "db_url", "sqlite:///%s")\n' % self.ul_db
        # before usrloc: its mod_init binds the database (WITH_PRESENCE
        # loads it later: the template's line is then skipped)
        ul = 'loadmodule "usrloc.so"\n'
        assert ul in text
        text = text.replace(ul, 'loadmodule "db_sqlite.so"\n' + ul, 1)
        text = text.replace('#!ifdef WITH_PRESENCE\nloadmodule "db_sqlite.so"'
                            '\n', '#!ifdef WITH_PRESENCE\n', 1)
        text = text.replace(line, extra)
        with open(self.cfg_path, "w") as f:
            f.write(text)
        return text


def test_contacts_in_usrloc_db_loaded_at_restart(kamailio_factory, phones,
                                                 monkeypatch):
    monkeypatch.setattr(kamproc, "Kamailio", UlDbKamailio)
    kam = kamailio_factory(blf=True, track=True)
    bob = phones("bob", register=False)
    assert bob.register(expires=600).status == 200
    kam.stop()
    kam.start()
    # no REGISTER since the restart: presence open, reg lists the contact
    pw = pidfutil.watch(phones("w", kam=kam, register=False), "bob")
    pw.wait_state(pidfutil.READY, 4)
    # the load notifies each contact as it goes and logs its count after
    # the last one: the NOTIFY may come first
    blfutil.poll(lambda: "registered contacts loaded from usrloc" in
                 kam.log(), 3, what="the load's log line")
