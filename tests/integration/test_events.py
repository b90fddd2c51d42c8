"""Event packages (SPEC "Parameters" `events`, "SUBSCRIBE handling"): the
`events` parameter says which packages blf_handle_subscribe() serves; any
other gets 489 with Allow-Events listing exactly the served ones. A listed
package this version does not build is skipped with a NOTICE; an unknown
name stops Kamailio with a clear log line. A database table of a version
before event packages (no `event` column) is migrated at start and its rows
load and NOTIFY as dialog subscriptions."""

import os
import re
import shutil
import sqlite3
import tempfile

import pytest

import blfutil
import dbutil
import kamproc

# the SPEC's default `events`, in its order
KNOWN = ["dialog", "presence", "presence.winfo", "dialog.winfo", "reg"]
# built into every version from now on (more may be: read from the log)
BUILT_AT_LEAST = ["dialog", "presence"]


def served_from_log(log):
    """The packages the module says it serves (its INFO line at start)."""
    m = re.search(r"event packages served: ([a-z., ]+)", log)
    assert m, "no 'event packages served' line in the log"
    return [v.strip() for v in m.group(1).split(",") if v.strip()]


def allow_events(r):
    return [v.strip().lower() for v in r.get_all("Allow-Events")]


def assert_489(w, event, served):
    sub = w.subscribe("bob", event=event, accept="*/*")
    r = sub.responses[-1]
    assert r.status == 489, r.first_line()
    assert allow_events(r) == served, r.get_all("Allow-Events")
    assert sub.notifies == []


def test_default_events_serve_what_is_built(proxy, phones):
    w = phones("watcher")
    log = proxy.log()
    served = served_from_log(log)
    assert served == [k for k in KNOWN if k in served], served
    assert set(BUILT_AT_LEAST) <= set(served), served
    for ev in [k for k in KNOWN if k not in served] + ["message-summary"]:
        assert_489(w, ev, served)
    blfutil.watch(w, "bob")
    # the SPEC's default may list packages this version does not build:
    # skipped, said (and nothing said when every one is built)
    skipped = [k for k in KNOWN if k not in served]
    m = re.search(r"events: (\S+) not built into this version: skipped",
                  log)
    if skipped:
        assert m and m.group(1) == ",".join(skipped), \
            "no NOTICE about the skipped packages %s" % skipped
    else:
        assert m is None, m.group(0)


@pytest.mark.parametrize("events,served", [
    ("dialog", ["dialog"]),
    (" dialog , DIALOG,,dialog ", ["dialog"]),
    ("dialog,presence", ["dialog", "presence"]),
    ("presence, dialog", ["dialog", "presence"]),
])
def test_events_param_variants(make_proxy, phones, events, served):
    make_proxy(events=events)
    w = phones("watcher")
    if "presence" not in served:
        assert_489(w, "presence", served)
    assert_489(w, "reg-x", served)
    assert_489(w, "dialog-x", served)
    lamp = blfutil.watch(w, "bob")
    assert lamp.sub.notifies[0].msg.get("Event").split(";")[0] == "dialog"
    assert lamp.sub.notifies[0].msg.get("Content-Type") == \
        "application/dialog-info+xml"


def test_events_presence_only(make_proxy, phones):
    make_proxy(events="presence")
    w = phones("watcher")
    assert_489(w, "dialog", ["presence"])
    sub = w.subscribe("bob", event="presence", accept="application/pidf+xml")
    assert sub.responses[-1].status == 200, sub.responses[-1].first_line()


@pytest.mark.parametrize("events,why", [
    ("dialog,foo", "unknown event package 'foo'"),
    ("dialog,presence.winfoX", "unknown event package 'presence.winfoX'"),
    ("", "no event package served"),
    (" , ,", "no event package served"),
    ("x" * 300, "unknown event package '" + "x" * 64 + "'"),
])
def test_bad_events_param_refuses_to_start(events, why):
    kam = kamproc.Kamailio(blf=True, track=True, params={"events": events})
    try:
        with pytest.raises(kamproc.StartError) as e:
            kam.start()
    finally:
        kam.stop()
        kam.cleanup()
    assert "events '" in str(e.value) and why in str(e.value), \
        "no clear log line for events=%r:\n%s" % (events, str(e.value)[-2000:])


# ---- the DB column ----

OLD_SCHEMA_DROP = "    event TEXT DEFAULT 'dialog' NOT NULL,\n"


def old_schema():
    sql = dbutil.schema_sql("sqlite")
    assert OLD_SCHEMA_DROP in sql
    return sql.replace(OLD_SCHEMA_DROP, "")


@pytest.fixture
def sqlite_db():
    d = tempfile.mkdtemp(prefix="blf-db-", dir="/tmp")
    yield os.path.join(d, "blf.db")
    shutil.rmtree(d, ignore_errors=True)


def to_old_table(path):
    """Rebuilds the table as a version before event packages had it (no
    event column), keeping its rows."""
    con = sqlite3.connect(path, timeout=10)
    try:
        cols = [c[0] for c in dbutil.sqlite_columns(con) if c[0] != "event"]
        con.executescript(
            "ALTER TABLE {t} RENAME TO old_{t};"
            "DROP INDEX IF EXISTS {t}_expires_idx;".format(t=dbutil.TABLE))
        con.executescript(old_schema())
        con.execute("INSERT INTO {t} ({c}) SELECT {c} FROM old_{t}".format(
            t=dbutil.TABLE, c=",".join(cols)))
        con.execute("DROP TABLE old_%s" % dbutil.TABLE)
        con.commit()
        assert "event" not in [c[0] for c in dbutil.sqlite_columns(con)]
    finally:
        con.close()


def test_old_table_migrated_rows_load_as_dialog(sqlite_db, kamailio_factory,
                                                 phones, monkeypatch):
    monkeypatch.setattr(kamproc, "Kamailio",
                        dbutil.with_db_modules(["db_sqlite.so"]))
    kam = kamailio_factory(blf=True, track=True, fr_timer=2000, params={
        "db_url": "sqlite:///" + sqlite_db, "min_expires": 2})
    a = phones("alice")
    b = phones("bob", invite_policy="answer")
    w = phones("w1")
    lamp = blfutil.watch(w, "bob", expires=600)
    dbutil.stop_gracefully(kam)
    rows = {r["callid"]: r for r in dbutil.sqlite_rows(sqlite_db)}
    assert rows[lamp.sub.call_id]["event"] == "dialog"
    v0 = int(rows[lamp.sub.call_id]["version"])

    to_old_table(sqlite_db)
    kam._start_once(20.0)
    assert "adding column event" in kam.log()
    con = sqlite3.connect(sqlite_db)
    cols = dbutil.sqlite_columns(con)
    con.close()
    assert ("event", "TEXT", 1, "'dialog'", 0) in cols, cols
    subs = {s["callid"]: s for s in blfutil.subscriptions(kam)}
    assert set(subs) == {lamp.sub.call_id}, subs
    assert subs[lamp.sub.call_id]["event"] == "dialog"
    assert b.register().status == 200  # usrloc keeps no state
    call = a.call("bob").wait_state("confirmed")
    n, info = lamp.pump(5, "first NOTIFY after the migration")
    assert info.version == v0, (info.version, v0)
    assert n.msg.get("Event").split(";")[0] == "dialog"
    assert n.msg.call_id == lamp.sub.call_id
    lamp.wait_state("confirmed", call.call_id)
    call.bye()
    lamp.wait_state("terminated", call.call_id)
    lamp.assert_versions()
    # written back with the column
    dbutil.stop_gracefully(kam)
    rows = {r["callid"]: r for r in dbutil.sqlite_rows(sqlite_db)}
    assert rows[lamp.sub.call_id]["event"] == "dialog"
    kam._start_once(20.0)
