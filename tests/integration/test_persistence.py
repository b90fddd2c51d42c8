"""Persistence (SPEC "Persistence and cluster"): with db_url set,
subscriptions survive a graceful restart; NOTIFYs resume in the same dialogs
with the next version and a higher CSeq, without a new SUBSCRIBE. With
db_sqlite (the module creates its table) and with a private PostgreSQL
server (schema from modules/blf/sql/postgres). Also: a DB outage never
holds SIP back and the rows catch up afterwards, and the restore time of
10,000 subscriptions (printed, not asserted)."""

import os
import re
import shutil
import sqlite3
import tempfile
import time

import pytest

import blfutil
import dbutil
import kamproc

MIN_EXPIRES = 2


@pytest.fixture
def db_proxy(kamailio_factory, monkeypatch):
    """db_proxy(db_modules, **blf_params): a proxy whose cfg loads the DB
    modules before blf.so; started and stopped by conftest's factory."""
    def make(db_modules, **params):
        monkeypatch.setattr(kamproc, "Kamailio",
                            dbutil.with_db_modules(db_modules))
        params.setdefault("min_expires", MIN_EXPIRES)
        return kamailio_factory(blf=True, track=True, fr_timer=2000,
                                params=params)
    return make


@pytest.fixture
def sqlite_db():
    d = tempfile.mkdtemp(prefix="blf-db-", dir="/tmp")
    yield os.path.join(d, "blf.db")
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(scope="module")
def pg_server():
    why = dbutil.PgServer.available()
    if why:
        pytest.skip(why)
    pg = dbutil.PgServer().start()
    try:
        yield pg
    finally:
        pg.stop()


@pytest.fixture
def pg(pg_server):
    """The server with an empty blf_subscriptions from the shipped SQL."""
    pg_server.psql_admin("DROP TABLE IF EXISTS %s" % dbutil.TABLE)
    pg_server.load(dbutil.schema_sql("postgres"))
    return pg_server


def sqlite_url(path):
    return "sqlite:///" + path  # sqlite:////abs/path: four slashes


def notified(lamp):
    """(highest version, highest CSeq) of the NOTIFYs lamp received."""
    lamp.drain()
    pairs = [(i.version, n.cseq) for n, i in lamp.seen if i is not None]
    return max(v for v, _ in pairs), max(c for _, c in pairs)


def reregister(phones):
    for ph in phones:
        r = ph.register()
        assert r.status == 200, r.first_line()


def call_and_hang_up(a, callee, lamp):
    call = a.call(callee).wait_state("confirmed")
    lamp.wait_state("confirmed", call.call_id)
    call.bye()
    lamp.wait_state("terminated", call.call_id)
    return call


def restart_scenario(kam, phones, db_rows, write_behind):
    """The common story; db_rows() -> {callid: {"version", "cseq", ...}}.
    write_behind: also check that rows reach the DB while running."""
    a = phones("alice")
    callees = [phones("bob", invite_policy="answer"),
               phones("carol", invite_policy="answer")]
    w1, w2, w3, w4 = (phones(u) for u in ("w1", "w2", "w3", "w4"))
    l1 = blfutil.watch(w1, "bob", expires=600)
    t1 = time.time()
    l2 = blfutil.watch(w2, "carol", expires=600)
    l3 = blfutil.watch(w3, "bob", expires=600)

    call_and_hang_up(a, "bob", l1)
    assert l3.sub.unsubscribe().status == 200
    l3.wait_final(2)
    v1, c1 = notified(l1)
    assert v1 >= 2, "expected a few versions before the restart"

    if write_behind:
        rows = blfutil.poll(
            lambda: (lambda r: r if l1.sub.call_id in r and
                     int(r[l1.sub.call_id]["version"]) == v1 + 1 and
                     l3.sub.call_id not in r else None)(db_rows()),
            8, what="the flush process writing version %d, deleting the "
                    "unsubscribed row" % (v1 + 1))
        assert int(rows[l1.sub.call_id]["cseq"]) == c1

    # the last changes before the stop: only the final flush may save them
    assert l2.sub.refresh(300).status == 200
    t2 = time.time()
    l2.pump(2, "NOTIFY after the refresh")
    v2, c2 = notified(l2)
    # a subscription that expires while Kamailio is down
    l4 = blfutil.watch(w4, "bob", expires=4)
    t4 = time.time() + 4

    dbutil.stop_gracefully(kam)
    rows = db_rows()
    assert set(rows) == {l1.sub.call_id, l2.sub.call_id, l4.sub.call_id}, \
        "rows after the graceful stop: %s" % sorted(rows)
    assert int(rows[l2.sub.call_id]["version"]) == v2 + 1
    assert int(rows[l2.sub.call_id]["cseq"]) == c2
    blfutil.poll(lambda: time.time() > t4 + 0.5, 10,
                 what="w4's subscription expiring while kamailio is down")
    kam._start_once(20.0)
    reregister(callees)  # usrloc keeps no state; the watchers do nothing

    subs = {s["callid"]: s for s in blfutil.subscriptions(kam)}
    assert set(subs) == {l1.sub.call_id, l2.sub.call_id}, \
        "after the restart blf.subscriptions lists %s" % sorted(subs)
    now = time.time()
    for sid, granted, t in ((l1.sub.call_id, 600, t1),
                            (l2.sub.call_id, 300, t2)):
        want = granted - (now - t)
        assert abs(int(subs[sid]["expires"]) - want) <= 2.5, \
            "expires of %s: %s, expected about %.0f" % (
                sid, subs[sid]["expires"], want)
    assert int(blfutil.stats(kam)["subscriptions"]) == 2
    assert l4.sub.call_id not in db_rows(), "expired row left in the DB"

    # no re-SUBSCRIBE: a call lights bob's lamp with exactly the next
    # version, in the old dialog, with a higher CSeq
    call = a.call("bob").wait_state("confirmed")
    n, info = l1.pump(5, "first NOTIFY after the restart")
    assert info.version == v1 + 1, \
        "version %d after the restart, expected %d" % (info.version, v1 + 1)
    assert n.cseq > c1, "CSeq %d after the restart, not above %d" % (
        n.cseq, c1)
    assert n.msg.call_id == l1.sub.call_id
    assert n.msg.from_tag == l1.sub.remote_tag
    l1.wait_state("confirmed", call.call_id)
    call.bye()
    l1.wait_state("terminated", call.call_id)
    l1.assert_versions()

    # the restored dialog is found again by a refresh
    assert l2.sub.refresh(300).status == 200
    n, info = l2.pump(2, "NOTIFY after a refresh following the restart")
    assert info.version == v2 + 1 and n.cseq > c2
    l2.assert_versions()

    # the unsubscribed and the expired ones stay gone
    assert l3.sub.refresh(120).status == 481
    assert l4.sub.refresh(120).status == 481
    assert not l4.sub.pending(), "NOTIFY for a subscription expired while " \
                                 "down"
    for ph in (w1, w2, w3, w4):
        assert not ph.stray, "stray NOTIFYs to %s: %s" % (ph.uri, ph.stray)
    return l1, l2


def version_of(rows, callid):
    """the stored next version of callid's row, None when it has none"""
    r = rows.get(callid)
    return int(r["version"]) if r else None


def sqlite_rows_by_callid(path):
    return {r["callid"]: r for r in dbutil.sqlite_rows(path)}


def test_sqlite_restart_resumes(sqlite_db, db_proxy, phones):
    kam = db_proxy(["db_sqlite.so"], db_url=sqlite_url(sqlite_db),
                   db_flush_interval=1)
    # the module created its table, the same as the shipped schema
    con = sqlite3.connect(sqlite_db)
    got = dbutil.sqlite_columns(con)
    con.close()
    ref = sqlite3.connect(":memory:")
    ref.executescript(dbutil.schema_sql("sqlite"))
    assert got == dbutil.sqlite_columns(ref), \
        "table created by the module differs from sql/sqlite/blf-create.sql"
    ref.close()
    restart_scenario(kam, phones, lambda: sqlite_rows_by_callid(sqlite_db),
                     write_behind=True)


def test_sqlite_restart_applies_a_lowered_visibility(sqlite_db, db_proxy,
                                                     phones):
    """A subscription stored under visibility full, restored after the
    operator lowered the parameter to state: its NOTIFYs carry no call-id,
    tag or identity. Lowered to none: it is not restored at all (the
    watcher's refresh gets 481), while the entity's own one is."""
    kam = db_proxy(["db_sqlite.so"], db_url=sqlite_url(sqlite_db),
                   visibility="full")
    a = phones("alice", display="Alice")
    b = phones("bob", invite_policy="answer")
    w = phones("w1")
    lamp = blfutil.watch(w, "bob", expires=600)
    own = blfutil.watch(b, "bob", expires=600)
    dbutil.stop_gracefully(kam)

    kam.params["visibility"] = "state"
    kam.render()
    kam._start_once(20.0)
    reregister([b])
    call = a.call("bob").wait_state("confirmed")
    lamp.wait_state("confirmed")
    d = own.wait_state("confirmed", call.call_id)
    assert d.call_id == call.call_id, "the entity itself sees everything"
    bodies = [i for _, i in lamp.seen if i is not None and i.dialogs]
    assert bodies
    for info in bodies:
        assert call.call_id not in info.raw, info.raw
        assert "alice" not in info.raw.lower(), info.raw
        for dd in info.dialogs:
            assert dd.call_id is None and dd.local_tag is None and \
                dd.remote_tag is None, info.raw
    call.bye()
    lamp.wait(lambda i: not i.dialogs or all(
        x.state == "terminated" for x in i.dialogs), 5, "the call over")

    dbutil.stop_gracefully(kam)
    kam.params["visibility"] = "none"
    kam.render()
    kam._start_once(20.0)
    subs = {s["callid"] for s in blfutil.subscriptions(kam)}
    assert subs == {own.sub.call_id}, subs
    assert lamp.sub.refresh(600).status == 481


def test_sqlite_outage_never_blocks_sip(sqlite_db, db_proxy, phones):
    """The DB file locked by someone else: NOTIFYs go on at once, the
    flush fails and retries, the rows catch up when the lock goes."""
    kam = db_proxy(["db_sqlite.so"], db_url=sqlite_url(sqlite_db),
                   db_flush_interval=1)
    a = phones("alice")
    b = phones("bob", invite_policy="answer")
    w = phones("w1")
    lamp = blfutil.watch(w, "bob", expires=600)
    blfutil.poll(lambda: lamp.sub.call_id in
                 sqlite_rows_by_callid(sqlite_db), 5, what="first flush")

    locker = sqlite3.connect(sqlite_db, isolation_level=None)
    locker.execute("BEGIN EXCLUSIVE")
    try:
        t0 = time.monotonic()
        call = a.call("bob").wait_state("confirmed")
        lamp.wait_state("confirmed", call.call_id, timeout=2)
        call.bye()
        lamp.wait_state("terminated", call.call_id, timeout=2)
        assert time.monotonic() - t0 < 3, "SIP slowed down by the DB"
        blfutil.poll(lambda: "cannot write subscriptions" in kam.log(), 5,
                     what="the flush failing while the DB is locked")
    finally:
        locker.execute("COMMIT")
        locker.close()
    v, c = notified(lamp)
    blfutil.poll(lambda: version_of(sqlite_rows_by_callid(sqlite_db),
                                    lamp.sub.call_id) == v + 1, 8,
                 what="the rows catching up after the outage")
    assert "database writes work again" in kam.log()
    dbutil.restart(kam)
    reregister([b])
    call = a.call("bob").wait_state("confirmed")
    n, info = lamp.pump(5, "NOTIFY after the restart")
    assert info.version == v + 1 and n.cseq > c
    call.bye()
    lamp.wait_state("terminated", call.call_id)
    lamp.assert_versions()


def test_sqlite_crash_restart_cseq_margin(sqlite_db, db_proxy, phones):
    """kill -9 after a flush: the restart resumes with the flushed version
    and a CSeq raised by the margin (the loss window is documented)."""
    kam = db_proxy(["db_sqlite.so"], db_url=sqlite_url(sqlite_db),
                   db_flush_interval=1)
    a = phones("alice")
    b = phones("bob", invite_policy="answer")
    w = phones("w1")
    lamp = blfutil.watch(w, "bob", expires=600)
    call_and_hang_up(a, "bob", lamp)
    v, c = notified(lamp)
    blfutil.poll(lambda: version_of(sqlite_rows_by_callid(sqlite_db),
                                    lamp.sub.call_id) == v + 1, 5,
                 what="the flush of version %d" % (v + 1))
    kam.kill_group()
    kam.proc.wait(10)
    kam.stop()  # reaps, kills what is left by PID
    kam._start_once(20.0)
    reregister([b])
    call = a.call("bob").wait_state("confirmed")
    n, info = lamp.pump(5, "NOTIFY after the crash")
    assert info.version == v + 1
    assert n.cseq > c + 100, "CSeq %d: the restore margin is missing" % \
        n.cseq
    call.bye()
    lamp.wait_state("terminated", call.call_id)
    lamp.assert_versions()


def pg_rows(pg):
    return {r["callid"]: r for r in pg.rows()}


def test_postgres_restart_resumes(pg, db_proxy, phones):
    # a long interval: what the stop saves is the final flush's doing
    kam = db_proxy(["db_postgres.so"], db_url=pg.url, db_flush_interval=30)
    restart_scenario(kam, phones, lambda: pg_rows(pg), write_behind=False)


def test_postgres_outage_and_reconnect(pg, db_proxy, phones):
    kam = db_proxy(["db_postgres.so"], db_url=pg.url, db_flush_interval=1)
    a = phones("alice")
    b = phones("bob", invite_policy="answer")
    w = phones("w1")
    lamp = blfutil.watch(w, "bob", expires=600)
    blfutil.poll(lambda: lamp.sub.call_id in pg_rows(pg), 5,
                 what="first flush")
    pg.halt()
    try:
        t0 = time.monotonic()
        call_and_hang_up(a, "bob", lamp)
        assert time.monotonic() - t0 < 3, "SIP slowed down by the DB"
        blfutil.poll(lambda: "cannot write subscriptions" in kam.log(), 5,
                     what="the flush failing while the server is down")
    finally:
        pg.resume()
    v, c = notified(lamp)
    blfutil.poll(lambda: version_of(pg_rows(pg), lamp.sub.call_id) ==
                 v + 1, 10, what="the rows catching up after reconnecting")
    dbutil.restart(kam)
    reregister([b])
    call = a.call("bob").wait_state("confirmed")
    n, info = lamp.pump(5, "NOTIFY after the restart")
    assert info.version == v + 1 and n.cseq > c
    call.bye()
    lamp.wait_state("terminated", call.call_id)


def test_postgres_down_at_start(pg, db_proxy, phones):
    """SIP does not wait for the database: Kamailio starts without it and
    the table is rewritten once the server is back."""
    pg.psql_admin("INSERT INTO %s (callid, from_tag, to_tag, entity, "
                  "watcher, watcher_uri, uri, entity_esc, contact, socket, "
                  "local_contact, expires) VALUES ('stale', 'f', 't', "
                  "'x@blf.test', 'w@blf.test', 'sip:w@blf.test', "
                  "'sip:x@blf.test', 'sip:x@blf.test', 'sip:w@127.0.0.1', "
                  "'udp:127.0.0.1:1', 'sip:127.0.0.1', %d)" % (
                      dbutil.TABLE, int(time.time()) + 600))
    pg.halt()
    try:
        kam = db_proxy(["db_postgres.so"], db_url=pg.url,
                       db_flush_interval=1)
        assert "starting without the stored subscriptions" in kam.log()
        w = phones("w1")
        lamp = blfutil.watch(w, "bob", expires=600)
    finally:
        pg.resume()
    rows = blfutil.poll(lambda: (lambda r: r if lamp.sub.call_id in r
                                 else None)(pg_rows(pg)), 10,
                        what="the rewrite once the server is back")
    assert "stale" not in rows, "the rewrite kept a row nobody has"


def test_postgres_module_creates_missing_table(pg, db_proxy):
    pg.psql_admin("DROP TABLE %s" % dbutil.TABLE)
    kam = db_proxy(["db_postgres.so"], db_url=pg.url)
    assert "creating table %s" % dbutil.TABLE in kam.log()
    cols = pg.psql_admin(
        "SELECT column_name FROM information_schema.columns WHERE "
        "table_name='%s' ORDER BY ordinal_position" % dbutil.TABLE).split()
    assert cols[0] == "id" and "cseq" in cols and "dst" in cols and \
        "event" in cols and "mvers" in cols and len(cols) == 22, cols


def test_postgres_old_table_gets_event_column(pg, db_proxy, phones):
    """A table of a version before event packages (no event column): the
    module adds it at start; the rows restore as dialog subscriptions."""
    kam = db_proxy(["db_postgres.so"], db_url=pg.url)
    w = phones("w1")
    lamp = blfutil.watch(w, "bob", expires=600)
    dbutil.stop_gracefully(kam)
    pg.psql_admin("ALTER TABLE %s DROP COLUMN event" % dbutil.TABLE)
    kam._start_once(20.0)
    assert "adding column event" in kam.log()
    subs = {s["callid"]: s for s in blfutil.subscriptions(kam)}
    assert subs[lamp.sub.call_id]["event"] == "dialog", subs
    ev = pg.psql_admin("SELECT event FROM %s" % dbutil.TABLE).split()
    assert ev == ["dialog"], ev


def test_postgres_old_table_gets_mvers_column(pg, db_proxy, phones):
    """A table of a version before lists stored their member versions (no
    mvers column): the module adds it at start; the rows restore, and are
    written with the column again."""
    kam = db_proxy(["db_postgres.so"], db_url=pg.url, db_flush_interval=1)
    lamp = blfutil.watch(phones("w1"), "bob", expires=600)
    dbutil.stop_gracefully(kam)
    pg.psql_admin("ALTER TABLE %s DROP COLUMN mvers" % dbutil.TABLE)
    kam._start_once(20.0)
    assert "adding column mvers" in kam.log()
    assert lamp.sub.call_id in {s["callid"]
                                for s in blfutil.subscriptions(kam)}
    dbutil.stop_gracefully(kam)
    got = pg.psql_admin("SELECT callid, mvers FROM %s" % dbutil.TABLE)
    assert lamp.sub.call_id in got, got
    kam._start_once(20.0)


N_RESTORE = 10000


def fill_sqlite(path, n, port):
    """n subscriptions of 10 watchers each to n/10 entities, as the module
    writes them."""
    now = int(time.time())
    rows = []
    for i in range(n):
        ent = "%d@blf.test" % (1000 + i // 10)
        w = "w%d@blf.test" % (i % 10)
        rows.append((
            "cid%06d@127.0.0.1" % i, "ft%06d" % i,
            # our To tag starts with the entity hash; any value restores
            "%08x%012d" % (i, i), ent, w, "sip:" + w, "sip:" + ent,
            "sip:" + ent, "sip:%s@127.0.0.1:5999" % w.split("@")[0], "",
            "udp:127.0.0.1:%d" % port, "sip:127.0.0.1:%d" % port, "",
            now + 3600, 7, 7, 0, 0))
    con = sqlite3.connect(path)
    con.executemany(
        "INSERT INTO %s (callid, from_tag, to_tag, entity, watcher, "
        "watcher_uri, uri, entity_esc, contact, record_route, socket, "
        "local_contact, event_id, expires, version, cseq, flags, vis) "
        "VALUES (%s)" % (dbutil.TABLE, ",".join("?" * 18)), rows)
    con.commit()
    con.close()


def test_restore_10k_time(sqlite_db, db_proxy):
    kam = db_proxy(["db_sqlite.so"], db_url=sqlite_url(sqlite_db))
    kam.stop(timeout=10.0)  # the module created the table: fill it
    fill_sqlite(sqlite_db, N_RESTORE, kam.port)
    t0 = time.monotonic()
    kam._start_once(60.0)
    t_rpc = time.monotonic() - t0
    blfutil.poll(lambda: int(blfutil.stats(kam)["subscriptions"]) == N_RESTORE,
                 30, what="blf.stats subscriptions == %d" % N_RESTORE)
    t_all = time.monotonic() - t0
    m = re.findall(r"restored (\d+) subscriptions .* in (\d+) ms",
                   kam.log())  # the log of both starts: the last line
    assert m and int(m[-1][0]) == N_RESTORE, "no restore line in the log"
    print("\nrestore of %d subscriptions (sqlite): %s ms in mod_init; "
          "kamailio start to RPC answering %.2f s, to blf.stats showing "
          "them %.2f s" % (N_RESTORE, m[-1][1], t_rpc, t_all))
    subs = blfutil.subscriptions(kam, "1000@blf.test")
    assert len(subs) == 10 and all(int(s["version"]) == 6 for s in subs)
