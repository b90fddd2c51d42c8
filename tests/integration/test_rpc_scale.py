"""Listings at scale (issue #9, item 9): blf.subscriptions answered "reply
too big" at 3,000 subscriptions, blf.aliases with 20,000 entries logged
"tried to reply more then once" 368 times. Every listing now answers one
page ([filter [offset [limit]]], default 100 items) followed by a summary
struct (total, offset, limit, returned, more, next).

Here: 3,000 subscriptions to 3,000 entities made by a raw-UDP generator
that answers every NOTIFY; 1,500 alias cache entries (1,500 more
subscriptions, the alias service answering 404); 512 parked orbits (512
entities with a call). Each
listing is read whole, page by page, over jsonrpcs and over kamcmd (ctl,
binrpc: 8 KB of pkg memory per struct, 128 KB per reply), and must list
every item exactly once, with the right total, no fault and no "reply more
then once" in the log. 100,000 entries are measured by hand (README)."""

import re
import socket
import time

import pytest

import blfutil
import kamproc
from httpstub import stub  # noqa: F401  (pytest fixture)
from httputil import http_params

N_SUBS = 3000
N_ALIASES = 1500
N_ORBITS = 512  # BLF_PARK_MAX
WATCHERS = 10


def sub_flood(kam, n, window=100, timeout=90.0):
    """n SUBSCRIBEs to e0..e<n-1>@blf.test from WATCHERS watchers on one UDP
    socket, at most window unanswered; every NOTIFY is answered 200.
    Returns {call-id: entity} of the subscriptions that got a 200."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 22)
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.settimeout(0.2)
    run = "%x" % int(time.time() * 1000)
    ok, pending, sent = {}, {}, 0
    deadline = time.monotonic() + timeout
    try:
        while len(ok) < n:
            assert time.monotonic() < deadline, \
                "only %d of %d subscriptions after %.0fs" % (len(ok), n,
                                                               timeout)
            while sent < n and len(pending) < window:
                cid = "s%d-%s@gen" % (sent, run)
                ent = "e%d@%s" % (sent, kamproc.DOMAIN)
                w = "w%d" % (sent % WATCHERS)
                msg = ("SUBSCRIBE sip:%s SIP/2.0\r\n"
                       "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s%d\r\n"
                       "Max-Forwards: 70\r\n"
                       "From: <sip:%s@%s>;tag=f%d\r\n"
                       "To: <sip:%s>\r\n"
                       "Call-ID: %s\r\n"
                       "CSeq: 1 SUBSCRIBE\r\n"
                       "Contact: <sip:%s@127.0.0.1:%d>\r\n"
                       "Event: dialog\r\n"
                       "Accept: application/dialog-info+xml\r\n"
                       "Expires: 3600\r\n"
                       "Content-Length: 0\r\n\r\n") % (
                    ent, port, run, sent, w, kamproc.DOMAIN, sent, ent, cid,
                    w, port)
                s.sendto(msg.encode(), kam.addr)
                pending[cid] = (ent, time.monotonic(), msg)
                sent += 1
            try:
                data, src = s.recvfrom(65535)
            except socket.timeout:
                now = time.monotonic()
                for cid, (ent, t, msg) in list(pending.items()):
                    if now - t > 2.0:  # lost over loopback: send again
                        s.sendto(msg.encode(), kam.addr)
                        pending[cid] = (ent, now, msg)
                continue
            text = data.decode("utf-8", "replace")
            head = text.split("\r\n\r\n", 1)[0].split("\r\n")
            cid = next((h.split(":", 1)[1].strip() for h in head
                        if h.lower().startswith(("call-id:", "i:"))), "")
            if head[0].startswith("NOTIFY "):
                keep = [h for h in head[1:] if h.split(":", 1)[0].strip()
                        .lower() in ("via", "v", "from", "f", "to", "t",
                                     "call-id", "i", "cseq")]
                s.sendto(("SIP/2.0 200 OK\r\n" + "\r\n".join(keep) +
                          "\r\nContent-Length: 0\r\n\r\n").encode(), src)
            elif head[0].startswith("SIP/2.0 ") and cid in pending:
                code = int(head[0].split()[1])
                if code >= 200:
                    ent = pending.pop(cid)[0]
                    assert code == 200, "SUBSCRIBE %s: %s" % (ent, head[0])
                    ok[cid] = ent
        # the initial NOTIFYs still on their way: answer them too
        quiet = time.monotonic() + 1.0
        while time.monotonic() < quiet:
            try:
                data, src = s.recvfrom(65535)
            except socket.timeout:
                continue
            text = data.decode("utf-8", "replace")
            head = text.split("\r\n\r\n", 1)[0].split("\r\n")
            if head[0].startswith("NOTIFY "):
                keep = [h for h in head[1:] if h.split(":", 1)[0].strip()
                        .lower() in ("via", "v", "from", "f", "to", "t",
                                     "call-id", "i", "cseq")]
                s.sendto(("SIP/2.0 200 OK\r\n" + "\r\n".join(keep) +
                          "\r\nContent-Length: 0\r\n\r\n").encode(), src)
                quiet = time.monotonic() + 1.0
    finally:
        s.close()
    return ok


def split_page(result):
    """(items, summary) of one listing answer."""
    assert isinstance(result, list) and result, result
    summary = result[-1]
    assert set(summary) == {"total", "offset", "limit", "returned", "more",
                            "next"}, "no summary struct last: %s" % summary
    return result[:-1], summary


def read_all(kam, method, key, filt="*", limit=None, max_pages=400):
    """Every item of a listing over jsonrpcs, page by page: the items, and
    the totals each page announced."""
    items, totals, offset = [], set(), 0
    for _ in range(max_pages):
        args = [filt, offset] + ([limit] if limit is not None else [])
        page, summ = split_page(kam.rpc(method, *args))
        assert summ["offset"] == offset and summ["returned"] == len(page)
        assert all(key in it for it in page), page[:2]
        items += page
        totals.add(summ["total"])
        if not summ["more"]:
            assert summ["next"] == summ["total"]
            return items, totals
        assert summ["returned"] > 0, summ
        assert summ["next"] == offset + summ["returned"]
        offset = summ["next"]
    raise AssertionError("%s: more than %d pages" % (method, max_pages))


def read_all_kamcmd(kam, method, key, filt="*", limit=100, max_pages=400):
    items, offset = [], 0
    for _ in range(max_pages):
        out = blfutil.parse_kamcmd(kam.kamcmd(method, filt, offset, limit))
        page = blfutil.records(out, key)
        summ = blfutil.records(out, "total")
        assert len(summ) == 1, out[-3:]
        summ = summ[0]
        assert int(summ["returned"]) == len(page), (summ, len(page))
        items += page
        if not int(summ["more"]):
            return items, int(summ["total"])
        offset = int(summ["next"])
    raise AssertionError("kamcmd %s: more than %d pages" % (method,
                                                            max_pages))


def flood_proxy(make_proxy, stub, n, alias):  # noqa: F811
    """A proxy with n subscriptions to n entities (with alias: as many
    alias cache entries, the service answering 404) and N_ORBITS parked
    orbits."""
    kam = make_proxy(**http_params(stub, alias=alias, park=True,
                                   alias_negative_ttl=3600))
    stub.set_orbits([{"orbit": str(7000 + i),
                      "call_id": "park%d@pbx" % i,
                      "parked": "sip:p%d@%s" % (i, kamproc.DOMAIN),
                      "parker": "sip:q%d@%s" % (i, kamproc.DOMAIN)}
                     for i in range(N_ORBITS)])
    subs = sub_flood(kam, n) if n else {}
    assert len(subs) == n
    blfutil.poll(lambda: int(blfutil.stats(kam)["subscriptions"]) == n,
                 10, what="%d subscriptions in blf.stats" % n)
    return kam, subs


@pytest.fixture
def big(stub, make_proxy):  # noqa: F811
    return flood_proxy(make_proxy, stub, N_SUBS, alias=False)


def no_double_reply(kam):
    bad = [ln for ln in kam.log().splitlines()
           if re.search(r"more then once|too big|out of memory|"
                        r"Internal server error", ln)]
    assert not bad, "\n".join(bad[:5])


def test_subscriptions_at_scale(big):
    kam, subs = big
    # a plain call: the first page and where it stands
    page, summ = split_page(kam.rpc("blf.subscriptions"))
    assert len(page) == 100 and summ == {
        "total": N_SUBS, "offset": 0, "limit": 100, "returned": 100,
        "more": 1, "next": 100}, summ
    # every subscription once, over jsonrpcs, in big and in default pages
    for limit in (1000, None):
        items, totals = read_all(kam, "blf.subscriptions", "watcher",
                                 limit=limit)
        assert totals == {N_SUBS}
        got = [it["callid"] for it in items]
        assert len(got) == len(set(got)) == N_SUBS
        assert set(got) == set(subs)
        for it in items[:50]:
            assert "%s" % it["entity"] == subs[it["callid"]]
    # and over kamcmd (ctl), which failed with "reply too big"
    items, total = read_all_kamcmd(kam, "blf.subscriptions", "watcher")
    assert total == N_SUBS and len({it["callid"] for it in items}) == N_SUBS
    # filters: one entity, a domain, another domain; count only
    page, summ = split_page(kam.rpc("blf.subscriptions", "sip:e42@BLF.TEST"))
    assert [p["entity"] for p in page] == ["e42@blf.test"] and \
        summ["total"] == 1
    page, summ = split_page(kam.rpc("blf.subscriptions", "@blf.test", 0, 0))
    assert page == [] and summ["total"] == N_SUBS and summ["more"] == 1
    page, summ = split_page(kam.rpc("blf.subscriptions", "@other.test"))
    assert page == [] and summ["total"] == 0 and summ["more"] == 0
    page, summ = split_page(kam.rpc("blf.subscriptions", "*", N_SUBS - 5))
    assert len(page) == 5 and summ["more"] == 0
    no_double_reply(kam)


def test_aliases_at_scale(stub, make_proxy):  # noqa: F811
    # more entries than ctl could hold in one answer (8 KB of pkg each)
    kam, subs = flood_proxy(make_proxy, stub, N_ALIASES, alias=True)
    items, totals = read_all(kam, "blf.aliases", "uri", limit=1000)
    uris = [it["uri"] for it in items]
    assert len(uris) == len(set(uris)), "an alias listed twice"
    assert set(subs.values()) <= set(uris), \
        "%d alias entries missing" % len(set(subs.values()) - set(uris))
    assert totals == {len(uris)}
    assert {"uri", "state", "entity", "visibility", "ttl"} <= set(items[0])
    items, total = read_all_kamcmd(kam, "blf.aliases", "uri")
    assert total == len(uris) and len({it["uri"] for it in items}) == total
    page, summ = split_page(kam.rpc("blf.aliases", "e7@blf.test"))
    assert [p["uri"] for p in page] == ["e7@blf.test"]
    no_double_reply(kam)


def test_parks_and_entities_at_scale(stub, make_proxy):  # noqa: F811
    kam, _ = flood_proxy(make_proxy, stub, 0, alias=False)
    blfutil.poll(lambda: split_page(kam.rpc("blf.parks", "*", 0, 0))[1]
                 ["total"] == N_ORBITS, 10, what="%d orbits" % N_ORBITS)
    items, _ = read_all(kam, "blf.parks", "orbit")
    assert sorted(int(it["orbit"]) for it in items) == \
        list(range(7000, 7000 + N_ORBITS))
    assert all(it["state"] == "parked" for it in items)
    blfutil.poll(lambda: split_page(kam.rpc("blf.entities", "*", 0, 0))[1]
                 ["total"] == N_ORBITS, 10, what="%d entities with a call"
                 % N_ORBITS)
    items, totals = read_all(kam, "blf.entities", "entity", limit=1000)
    assert totals == {N_ORBITS}
    assert sorted(it["entity"] for it in items) == sorted(
        "%d@%s" % (7000 + i, kamproc.DOMAIN) for i in range(N_ORBITS))
    assert all(len(blfutil.records(it["dialogs"], "callid")) == 1
               for it in items)
    # over kamcmd: 3 structs an entity, 8 KB of pkg each in ctl
    items, total = read_all_kamcmd(kam, "blf.entities", "entity", limit=1000)
    assert total == N_ORBITS and len({it["entity"] for it in items}) == total
    items, total = read_all_kamcmd(kam, "blf.parks", "orbit", limit=1000)
    assert total == N_ORBITS
    no_double_reply(kam)
