"""Calls survive a restart (SPEC "Persistence and cluster"): with the dialog
module keeping its dialogs in a database (db_mode 1 or 2, db_sqlite here)
and the subscriptions persisted through blf's db_url, a call tracked before
a graceful restart is followed again after it: the watcher's next NOTIFY
(a refresh, no new SUBSCRIBE) still shows it confirmed, with the same
dialog id, and the BYE after the restart turns the lamp dark. A call the
script did not track does not come back."""

import os
import shutil
import sqlite3
import subprocess
import tempfile

import pytest

import blfutil
import dbutil
import kamproc

SQL = "/usr/share/kamailio/db_sqlite"


def make_dialog_db(path):
    # WAL (kept in the file): the test's reads never lock Kamailio's
    # writers out; db_sqlite has no busy timeout, so a write that meets a
    # reader's lock in the default journal mode fails ("database is locked")
    sql = "PRAGMA journal_mode=WAL;\n"
    for name in ("standard-create.sql", "dialog-create.sql"):
        with open(os.path.join(SQL, name)) as f:
            sql += f.read() + "\n"
    subprocess.run(["sqlite3", path], input=sql.encode(), check=True,
                   capture_output=True, timeout=20)


def restart_kamailio_class(dialog_db, db_mode):
    """kamproc.Kamailio whose dialog module keeps its dialogs in dialog_db
    (db_sqlite loaded before dialog.so) and whose script does not track
    calls to carol (an untracked call)."""
    class RestartKamailio(kamproc.Kamailio):
        def render(self):
            text = super().render()
            line = 'loadmodule "dialog.so"\n'
            assert line in text and "\tblf_track();\n" in text
            text = text.replace(line, (
                'loadmodule "db_sqlite.so"\n' + line +
                'modparam("dialog", "db_url", "sqlite:///%s")\n'
                'modparam("dialog", "db_mode", %d)\n'
                'modparam("dialog", "db_update_period", 1)\n') % (
                    dialog_db, db_mode), 1)
            text = text.replace("\tblf_track();\n",
                                '\tif($rU != "carol") { blf_track(); }\n', 1)
            # one SIP worker: db_sqlite has no busy timeout, so with four
            # of them writing the dialog module's rows (a dialog variable on
            # the INVITE, the 200, the ACK) one worker's write sometimes met
            # another's lock ("database is locked") and that worker's later
            # inserts failed too: the dialog never reached its table (3 runs
            # in 30 under load), the test's precondition, not blf
            assert "\nchildren=4\n" in text
            text = text.replace("\nchildren=4\n", "\nchildren=1\n", 1)
            with open(self.cfg_path, "w") as f:
                f.write(text)
            return text
    return RestartKamailio


@pytest.fixture
def dbdir():
    d = tempfile.mkdtemp(prefix="blf-rc-", dir="/tmp")
    yield d
    shutil.rmtree(d, ignore_errors=True)


def dialog_rows(path):
    con = sqlite3.connect(path, timeout=10)
    try:
        return con.execute("SELECT callid, state FROM dialog").fetchall()
    finally:
        con.close()


def start_proxy(kamailio_factory, monkeypatch, dbdir, db_mode):
    dialog_db = os.path.join(dbdir, "dialog.db")
    make_dialog_db(dialog_db)
    monkeypatch.setattr(kamproc, "Kamailio",
                        restart_kamailio_class(dialog_db, db_mode))
    kam = kamailio_factory(blf=True, track=True, params={
        "db_url": "sqlite:///" + os.path.join(dbdir, "blf.db"),
        "db_flush_interval": 1, "min_expires": 2})
    return kam, dialog_db


@pytest.mark.parametrize("db_mode", [1, 2])
def test_call_survives_restart(kamailio_factory, monkeypatch, dbdir, phones,
                               db_mode):
    kam, dialog_db = start_proxy(kamailio_factory, monkeypatch, dbdir,
                                 db_mode)
    a = phones("alice", display="Alice")
    b = phones("bob", invite_policy="answer")
    c = phones("carol", invite_policy="answer")
    w = phones("w1")
    lb = blfutil.watch(w, "bob", expires=600)
    la = blfutil.watch(w, "alice", expires=600)
    lc = blfutil.watch(w, "carol", expires=600)

    call = a.call("bob").wait_state("confirmed")
    before_b = lb.wait_state("confirmed", call.call_id)
    before_a = la.wait_state("confirmed", call.call_id)
    untracked = a.call("carol").wait_state("confirmed")
    # the dialog module has both dialogs in its table (mode 2: within its
    # update period)
    blfutil.poll(lambda: {call.call_id, untracked.call_id} <=
                 {r[0] for r in dialog_rows(dialog_db)}, 10,
                 what="both dialogs in the dialog table")
    assert not lc.dialogs(), "the untracked call lit carol's lamp"

    dbutil.restart(kam)
    dbutil_reregister([b, c])

    # the call is tracked again, on both sides, confirmed
    ents = {e["entity"]: blfutil.records(e.get("dialogs"), "callid")
            for e in blfutil.entities(kam)}
    for who, direction in (("bob@blf.test", "recipient"),
                           ("alice@blf.test", "initiator")):
        dl = [d for d in ents.get(who, []) if d["callid"] == call.call_id]
        assert len(dl) == 1 and dl[0]["state"] == "confirmed" and \
            dl[0]["direction"] == direction, \
            "after the restart blf.entities shows %s: %s" % (who, ents)
    assert not [d for d in ents.get("carol@blf.test", [])], \
        "the untracked call came back: %s" % ents
    assert "following 1 calls restored by the dialog module" in kam.log()

    # no new SUBSCRIBE: the next NOTIFY (a refresh) still shows the call,
    # with the dialog id it had
    for lamp, before in ((lb, before_b), (la, before_a)):
        info = lamp.refresh()
        dl = [d for d in info.dialogs if d.call_id == call.call_id]
        assert len(dl) == 1 and dl[0].state == "confirmed", \
            "after the restart the lamp shows %s" % info.raw
        assert dl[0].id == before.id, "dialog id changed over the restart"
        assert dl[0].direction == before.direction
        assert dl[0].local_tag == before.local_tag and \
            dl[0].remote_tag == before.remote_tag
    assert not lc.refresh().dialogs, "carol's lamp lit after the restart"

    # the BYE after the restart turns both lamps dark
    call.bye()
    for lamp in (lb, la):
        lamp.wait_state("terminated", call.call_id)
        lamp.wait_idle()
        lamp.assert_versions()
    blfutil.poll(lambda: not any(
        blfutil.records(e.get("dialogs"), "callid")
        for e in blfutil.entities(kam)), 3, what="no call listed after the BYE")
    untracked.bye()
    assert not w.stray, "stray NOTIFYs: %s" % w.stray


def dbutil_reregister(phones):
    for ph in phones:  # usrloc keeps no state over the restart
        r = ph.register()
        assert r.status == 200, r.first_line()


def test_no_dialog_db_no_restore(kamailio_factory, monkeypatch, dbdir,
                                 phones):
    """db_mode 0: the dialog module forgets its dialogs, and so do we: the
    lamp is idle after the restart (what the SPEC promises only with a
    dialog database)."""
    kam, _ = start_proxy(kamailio_factory, monkeypatch, dbdir, 0)
    a = phones("alice")
    b = phones("bob", invite_policy="answer")
    w = phones("w1")
    lb = blfutil.watch(w, "bob", expires=600)
    call = a.call("bob").wait_state("confirmed")
    lb.wait_state("confirmed", call.call_id)
    dbutil.restart(kam)
    assert not lb.refresh().dialogs
    assert "restored by the dialog module" not in kam.log()
