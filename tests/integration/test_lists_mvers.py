"""A list subscription's member versions across a restart and a takeover
(SPEC "Resource lists (RFC 4662) over HTTP": each member's version counts
per (subscription, member) 0,1,2..., never repeated nor skipped; README
"Persistence and cluster" of the lists section). The exact continuation is
pinned by test_lists_order.py::test_member_versions_after_restart_continue_
exactly and test_lists_cluster.py::test_member_versions_after_a_takeover_
continue_exactly; here what may come from outside: the stored `mvers`
column (a damaged row, a table of an older version without the column) and
the cluster replica's `mv`/`mvd` fields from a hostile peer. Each is
refused with a log line or a 400, Kamailio stays up, and the member versions
never repeat (they resume at the RLMI version, as before they were stored).
"""

import re
import sqlite3

import pytest

import blfutil
import dbutil
import kamproc
from httpstub import stub  # noqa: F401  (pytest fixture)
from test_cluster_hostile import (make_cluster, peer, in_dmq_list,  # noqa
                                  our_tag, running, stat, sub_rec)
from test_lists import (LIST, MEMBERS, assert_list_200, list_params,
                        member_state, next_list, subscribe_list, until_state)

MVERS = re.compile(r"^\d+;([0-9a-f]{8}:\d+(,[0-9a-f]{8}:\d+)*)?$")


def _list_proxy(stub, kamailio_factory, monkeypatch, path):
    monkeypatch.setattr(kamproc, "Kamailio",
                        dbutil.with_db_modules(["db_sqlite.so"]))
    stub.set_list(LIST, MEMBERS)
    return kamailio_factory(blf=True, track=True, fr_timer=2000, params=dict(
        list_params(stub), db_url="sqlite:///" + path, db_flush_interval=1))


def _ring_201(phones, sub, ln_version):
    """A call to 201 rung and cancelled: RLMI versions from ln_version+1
    on carry 201 only. Returns the last RLMI version."""
    a, p201 = phones("alice"), phones("201")
    call = a.call("201")
    p201.wait_incoming()
    ln, _ = until_state(sub, MEMBERS[0], "early", ln_version + 1)
    call.cancel()
    ln, _ = until_state(sub, MEMBERS[0], "terminated", ln.version + 1)
    return ln.version


def _list_with_a_call(stub, kamailio_factory, monkeypatch, phones, path):
    """The list proxy on the sqlite file path, a receptionist subscribed
    to the list (200, its first NOTIFY read) and a call ringing 201: the
    proxy, the subscription and what _ring_201 returned."""
    kam = _list_proxy(stub, kamailio_factory, monkeypatch, path)
    sub = subscribe_list(phones("reception"))
    assert_list_200(sub)
    next_list(sub)
    return kam, sub, _ring_201(phones, sub, 0)


def _list_row(path):
    rows = [r for r in dbutil.sqlite_rows(path) if int(r["flags"]) & 64]
    assert len(rows) == 1, rows
    return rows[0]


def _set_mvers(path, value):
    con = sqlite3.connect(path, timeout=10)
    try:
        con.execute("UPDATE %s SET mvers=? WHERE flags&64" % dbutil.TABLE,
                    (value,))
        con.commit()
    finally:
        con.close()


def _202_after_restart(kam, phones, sub, last_rlmi):
    """The first NOTIFY after the restart, caused by a call to 202: its
    RLMI version and 202's version."""
    p202 = phones("202")
    assert p202.register().status == 200
    call = phones("alice").call("202")
    p202.wait_incoming()
    _, ln = next_list(sub, timeout=10)
    call.cancel()
    assert ln.version == last_rlmi + 1, (ln.version, last_rlmi)
    return ln.version, member_state(ln.by_uri()[MEMBERS[1]]).version


def test_stored_member_versions_row_format(stub, kamailio_factory,
                                           monkeypatch, phones, tmp_path):
    """The row of a list subscription carries its member versions: the
    anchor is the row's version (the next RLMI version), one entry per
    member, 201 at its next version (shown in the full state and 3
    partial NOTIFYs: 4), the others at 1."""
    path = str(tmp_path / "blf.db")
    kam, sub, last = _list_with_a_call(stub, kamailio_factory, monkeypatch,
                                       phones, path)
    # written behind (db_flush_interval 1 s), while Kamailio runs
    row = blfutil.poll(
        lambda: [r for r in dbutil.sqlite_rows(path)
                 if int(r["flags"]) & 64
                 and int(r["version"]) == last + 1 and r["mvers"]
                 and r["mvers"].startswith("%d;" % (last + 1))], 10,
        what="the list row with the last version and member versions")[0]
    assert MVERS.match(row["mvers"]), row["mvers"]
    anchor, entries = row["mvers"].split(";")
    assert int(anchor) == int(row["version"]) == last + 1, (row, last)
    vers = sorted(int(e.split(":")[1]) for e in entries.split(","))
    assert vers == [1, 1, last + 1], (vers, last)


@pytest.mark.parametrize("bad", [
    "garbage",
    "5;DEADBEEF:1",
    "5;deadbeef:1,",
    "5;deadbeef:99999999999",
    "1;" + ",".join("%08x:1" % i for i in range(10001)),  # > any list
])
def test_damaged_stored_member_versions_never_repeat(
        stub, kamailio_factory, monkeypatch, phones, tmp_path, bad):
    """A damaged mvers value is left out with a log line: the list comes
    back, its members resume at the RLMI version (never a repeat)."""
    path = str(tmp_path / "blf.db")
    kam, sub, last = _list_with_a_call(stub, kamailio_factory, monkeypatch,
                                       phones, path)
    dbutil.stop_gracefully(kam)
    _set_mvers(path, bad)
    kam._start_once(20.0)
    assert "stored member versions not valid" in kam.log()
    rlmi, v = _202_after_restart(kam, phones, sub, last)
    assert v == rlmi, (v, rlmi)  # 1 + the NOTIFYs 202 may have been in
    assert kam.proc.poll() is None


def test_table_without_mvers_column_is_migrated(stub, kamailio_factory,
                                                monkeypatch, phones,
                                                tmp_path):
    """A table of a version before the column: it is added at start, the
    list row loads (members resume at the RLMI version, as that version
    did), and the next flush stores the member versions."""
    path = str(tmp_path / "blf.db")
    kam, sub, last = _list_with_a_call(stub, kamailio_factory, monkeypatch,
                                       phones, path)
    dbutil.stop_gracefully(kam)
    con = sqlite3.connect(path, timeout=10)
    try:
        con.execute("ALTER TABLE %s DROP COLUMN mvers" % dbutil.TABLE)
        con.commit()
        assert "mvers" not in [c[0] for c in dbutil.sqlite_columns(con)]
    finally:
        con.close()
    kam._start_once(20.0)
    assert "adding column mvers" in kam.log()
    con = sqlite3.connect(path, timeout=10)
    try:
        cols = dbutil.sqlite_columns(con)
    finally:
        con.close()
    assert ("mvers", "TEXT", 1, "''", 0) in cols, cols
    rlmi, v = _202_after_restart(kam, phones, sub, last)
    assert v == rlmi, (v, rlmi)
    dbutil.stop_gracefully(kam)
    row = _list_row(path)
    assert MVERS.match(row["mvers"]) and row["mvers"].startswith(
        "%d;" % int(row["version"])), row
    kam._start_once(20.0)  # running again for the teardown's checks


def test_hostile_member_versions_in_a_replica(stub, make_cluster, peer,
                                              phones):
    """An admitted peer's list subscription replica with member versions
    that are malformed or larger than any list: 400, counted, nothing
    applied, every node up; well-formed ones are accepted (a node of this
    version sends them; one of an older version leaves them out)."""
    stub.set_list(LIST, MEMBERS)
    cl = make_cluster(gate=False, blf_peers=False, **list_params(stub))
    A, B = cl.nodes
    ua = phones("w", kam=A, register=False)
    contact = "sip:w@127.0.0.1:%d" % ua.addr[1]
    assert peer.join(A) == 200
    assert peer.blf(A, "hello", "evil") == 200

    def lsub(callid, **extra):
        r = sub_rec("bob@" + kamproc.DOMAIN, contact, callid=callid)
        r["fl"] = 64
        r.update(extra)
        return r

    bad = {
        "not a string": lsub("forged-1", mv=7),
        "upper-case hash": lsub("forged-2", mv="3;DEADBEEF:1"),
        "version past 32 bits": lsub("forged-3", mv="3;deadbeef:4294967296"),
        "delta without anchor": lsub("forged-4", mvd="3;deadbeef:1"),
        "anchor past 32 bits": lsub("forged-5", mvd="3;", fa=1 << 32),
        "mvx 2": lsub("forged-6", mvx=2),
        # (10001 members do not fit a UDP datagram: test_repl.c checks
        # that bound, and the damaged-row test here)
        "a NUL inside": lsub("forged-7", mv="3;deadbeef:1\u0000,00000001:1"),
        "trailing comma": lsub("forged-8", mv="3;deadbeef:1,"),
    }
    before = stat(A, "dmq_invalid")
    codes = {w: peer.blf(A, "batch", "evil", m=[r]) for w, r in bad.items()}
    wrong = {w: c for w, c in codes.items() if c != 400}
    assert not wrong, "hostile member versions not answered 400: %s" % wrong
    assert stat(A, "dmq_invalid") == before + len(bad)
    ok = lsub("peer-list", mv="3;deadbeef:2,00000001:0")
    assert peer.blf(A, "batch", "evil", m=[ok]) == 200
    ok2 = lsub("peer-list", mvd="4;deadbeef:3", fa=3)
    assert peer.blf(A, "batch", "evil", m=[ok2]) == 200
    subs = [s["callid"] for s in blfutil.subscriptions(A)]
    assert "peer-list" in subs and not [c for c in subs
                                        if c.startswith("forged")], subs
    assert "member versions of list subscription" not in A.log()
    assert running(A) and running(B)
