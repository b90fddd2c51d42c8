"""Publications (RFC 3903) with db_url (SPEC "Presence": published state
persists like dialog subscriptions; "Persistence and cluster"), with
db_sqlite and no presence watcher (the merge into NOTIFYs is the presence
package's, tested in test_presence_persistence.py):

  - the table blf_publications is created as sql/sqlite/blf-create.sql
    says, rows follow PUBLISH, refresh and removal (write-behind);
  - a graceful restart keeps every live publication with its ETag and its
    note: a refresh with the ETag gets 200, a replaced ETag 412;
  - rows that are expired, not PIDF or too large are skipped at start
    (a log line), the rest restored, and Kamailio serves on.
"""

import os
import shutil
import sqlite3
import tempfile
import time

import pytest

import blfutil
import dbutil
import kamproc
import pidfutil

DOMAIN = kamproc.DOMAIN
BOB = "sip:bob@%s" % DOMAIN
BOBKEY = "bob@%s" % DOMAIN


@pytest.fixture
def sqlite_db():
    d = tempfile.mkdtemp(prefix="blf-db-", dir="/tmp")
    yield os.path.join(d, "blf.db")
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def dbproxy(kamailio_factory, monkeypatch, sqlite_db):
    monkeypatch.setattr(kamproc, "Kamailio",
                        dbutil.with_db_modules(["db_sqlite.so"]))

    def make():
        return kamailio_factory(blf=True, track=True, publish=True, params={
            "db_url": "sqlite:///" + sqlite_db, "db_flush_interval": 1})
    return make


def pub_rows(path):
    con = sqlite3.connect(path, timeout=10)
    try:
        con.row_factory = sqlite3.Row
        return sorted((dict(r) for r in con.execute(
            "SELECT * FROM blf_publications")), key=lambda r: r["etag"])
    finally:
        con.close()


def etags(rows):
    return sorted(r["etag"] for r in rows)


def test_rows_follow_publish_refresh_remove(dbproxy, sqlite_db, phones):
    kam = dbproxy()
    bob = phones("bob")
    r1 = pidfutil.publish(bob, expires=600, body=pidfutil.pidf_body(
        BOB, tuple_id="desk", note="Lunch", activities=["away"]))
    r2 = pidfutil.publish(bob, expires=600, body=pidfutil.pidf_body(
        BOB, tuple_id="mobile"))
    assert r1.status == 200 and r2.status == 200
    e1, e2 = pidfutil.etag_of(r1), pidfutil.etag_of(r2)
    blfutil.poll(lambda: etags(pub_rows(sqlite_db)) == sorted([e1, e2]), 5,
                 what="two rows")
    row = [r for r in pub_rows(sqlite_db) if r["etag"] == e1][0]
    assert row["entity"] == BOBKEY
    assert "Lunch" in row["body"] and "rpid:away" in row["body"]
    assert row["expires"] > time.time() + 500
    # a refresh: the row moves to the new ETag
    r3 = pidfutil.publish(bob, etag=e1, expires=600)
    e3 = pidfutil.etag_of(r3)
    blfutil.poll(lambda: etags(pub_rows(sqlite_db)) == sorted([e2, e3]), 5,
                 what="the refreshed row")
    # a removal: the row goes
    assert pidfutil.publish(bob, etag=e2, expires=0).status == 200
    blfutil.poll(lambda: etags(pub_rows(sqlite_db)) == [e3], 5,
                 what="the removed row gone")
    # the module's table is the shipped one
    con = sqlite3.connect(sqlite_db)
    ref = sqlite3.connect(":memory:")
    try:
        ref.executescript(dbutil.schema_sql("sqlite"))
        assert dbutil.sqlite_columns(con, "blf_publications") == \
            dbutil.sqlite_columns(ref, "blf_publications")
    finally:
        con.close()
        ref.close()


def test_publications_survive_graceful_restart(dbproxy, phones):
    kam = dbproxy()
    bob = phones("bob")
    r1 = pidfutil.publish(bob, expires=600, body=pidfutil.pidf_body(
        BOB, tuple_id="desk", note="Lunch", activities=["away"]))
    r2 = pidfutil.publish(bob, expires=600, body=pidfutil.pidf_body(
        BOB, tuple_id="mobile", note="Out"))
    e1, e2 = pidfutil.etag_of(r1), pidfutil.etag_of(r2)
    r3 = pidfutil.publish(bob, etag=e1, expires=600)  # e1 replaced by e3
    e3 = pidfutil.etag_of(r3)
    before = pidfutil.publications(kam, BOBKEY)
    assert [pidfutil.field(p, "etag") for p in before] == [e3, e2]

    dbutil.restart(kam)

    after = pidfutil.publications(kam, BOBKEY)
    assert [(pidfutil.field(p, "etag"), pidfutil.field(p, "tuples"),
             pidfutil.field(p, "note")) for p in after] == \
        [(e3, "desk", "Lunch"), (e2, "mobile", "Out")], after
    assert "restored 2 publications" in kam.log()
    assert pidfutil.publish(bob, etag=e1, expires=600).status == 412
    r = pidfutil.publish(bob, etag=e3, expires=600)
    assert r.status == 200, r.first_line()


def test_bad_rows_skipped_at_start(kamailio_factory, monkeypatch, sqlite_db,
                                   phones):
    con = sqlite3.connect(sqlite_db)
    now = int(time.time())
    good = pidfutil.pidf_body(BOB, tuple_id="desk", note="Kept")
    try:
        con.executescript(dbutil.schema_sql("sqlite"))
        rows = [
            ("goodetag000000000001", BOBKEY, now + 600, now, good),
            ("expiredetag000000001", BOBKEY, now - 5, now - 600, good),
            ("garbageetag000000001", BOBKEY, now + 600, now, "<x/>"),
            ("hugeetag000000000001", BOBKEY, now + 600, now,
             good.replace("Kept", "k" * 70000)),
            ("noatetag000000000001", "bob", now + 600, now, good),
            ("x" * 200, BOBKEY, now + 600, now, good),
        ]
        con.executemany("INSERT INTO blf_publications (etag, entity, "
                        "expires, modified, body) VALUES (?,?,?,?,?)", rows)
        con.commit()
    finally:
        con.close()
    monkeypatch.setattr(kamproc, "Kamailio",
                        dbutil.with_db_modules(["db_sqlite.so"]))
    kam = kamailio_factory(blf=True, track=True, publish=True, params={
        "db_url": "sqlite:///" + sqlite_db, "db_flush_interval": 1})
    pubs = pidfutil.publications(kam)
    assert [(pidfutil.field(p, "etag"), pidfutil.field(p, "note"))
            for p in pubs] == [("goodetag000000000001", "Kept")], pubs
    assert "restored 1 publications" in kam.log()
    assert "garbageetag000000001" in kam.log()  # the reason logged
    r = pidfutil.publish(phones("bob"), etag="goodetag000000000001",
                         expires=600)
    assert r.status == 200, r.first_line()
