"""The 200 to a SUBSCRIBE, byte for byte (issue #13).

With reply_direct=1 (the default) the module writes the 200 itself and
sends it with the core's msg_send(); with reply_direct=0 sl builds it as it
always did. Both must be the bytes sl's build_res_buf_from_sip_req() makes:
the status line, every Via in place (the top one's empty rport filled in
with the source port, ;received= added because its host is not the source
address), Record-Route, From, To with our tag added, Call-ID, CSeq (each
copied as received, odd spacing included), then Expires, Contact, Server,
Content-Length: 0. blf:subscribe_replies_direct counts the module's own.
"""

import re
import socket

import pytest

import blfutil

BOB = "sip:bob@blf.test"


def stat(kam, name):
    """a blf counter (stats.get_statistics)"""
    for line in kam.rpc("stats.get_statistics", "blf:"):
        k, _, v = str(line).partition(" = ")
        if k == "blf:" + name:
            return int(v)
    raise AssertionError("no statistic blf:" + name)


class Raw:
    """A UDP socket that speaks raw SIP: every byte of the 200 is ours to
    check. NOTIFYs that arrive are answered with a 200."""

    def __init__(self):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.s.bind(("127.0.0.1", 0))
        self.s.settimeout(0.2)
        self.port = self.s.getsockname()[1]
        self.notifies = []

    def close(self):
        self.s.close()

    def answer(self, data):
        head = data.split(b"\r\n\r\n", 1)[0].split(b"\r\n")
        keep = [h for h in head[1:] if h.split(b":", 1)[0].lower() in (
            b"via", b"from", b"to", b"call-id", b"cseq")]
        ok = b"\r\n".join([b"SIP/2.0 200 OK"] + keep +
                          [b"Content-Length: 0", b"", b""])
        self.s.sendto(ok, self.peer)

    def request(self, kam, data, timeout=5.0):
        """sends data, returns the final response's bytes"""
        self.peer = kam.addr
        self.s.sendto(data, kam.addr)
        return self.wait(lambda d: d.startswith(b"SIP/2.0 2")
                         or d[:9] in (b"SIP/2.0 4", b"SIP/2.0 5"),
                         timeout)

    def _next(self):
        """one datagram, None on the socket's timeout; a NOTIFY is kept and
        answered (None too)"""
        try:
            d, _ = self.s.recvfrom(65535)
        except socket.timeout:
            return None
        if d.startswith(b"NOTIFY "):
            self.notifies.append(d)
            self.answer(d)
            return None
        return d

    def pump_notify(self, timeout=3.0):
        """waits for a NOTIFY (answered); True when one came"""
        deadline = blfutil.time.monotonic() + timeout
        while not self.notifies and blfutil.time.monotonic() < deadline:
            self._next()
        return bool(self.notifies)

    def wait(self, pred, timeout):
        deadline = blfutil.time.monotonic() + timeout
        while blfutil.time.monotonic() < deadline:
            d = self._next()
            if d is not None and pred(d):
                return d
        raise AssertionError("no response within %.1f s" % timeout)


def subscribe_bytes(raw, kam, callid, to_tag=None, cseq=7, expires=120,
                    rr=True):
    """An initial (or, with to_tag, an in-dialog) SUBSCRIBE whose headers
    exercise every rule of the reply: two Vias with another header between
    them, a top Via with an empty rport and a host that is not the source
    address, a Record-Route, odd spacing. Returns (bytes, header lines)."""
    to = "To: <%s>" % BOB + (";tag=%s" % to_tag if to_tag else "")
    hdrs = [
        "Via: SIP/2.0/UDP 192.0.2.7:5099;branch=z9hG4bK-r%s-%d;rport"
        % (callid, cseq),
        "Max-Forwards: 70",
        "From: \"W\" <sip:watcher@blf.test>;tag=wt%s" % callid,
        "Via: SIP/2.0/UDP 10.0.0.1;branch=z9hG4bK-p2, "
        "SIP/2.0/UDP 10.0.0.2:5070;branch=z9hG4bK-p3",
        to,
        "Call-ID: %s@raw" % callid,
        "CSeq:   %d  SUBSCRIBE" % cseq,
    ]
    if rr:
        hdrs.append("Record-Route: <sip:127.0.0.1:%d;lr>" % raw.port)
    hdrs += [
        "Contact: <sip:watcher@127.0.0.1:%d>" % raw.port,
        "Event: dialog",
        "Accept: application/dialog-info+xml",
        "Expires: %d" % expires,
        "User-Agent: raw",
        "Content-Length: 0",
    ]
    data = ("SUBSCRIBE %s SIP/2.0\r\n" % BOB + "\r\n".join(hdrs) +
            "\r\n\r\n").encode()
    return data, hdrs


def expected_200(raw, kam, hdrs, tag, granted, server):
    """sl's 200 for the request of header lines hdrs"""
    out = ["SIP/2.0 200 OK"]
    first_via = True
    for h in hdrs:
        name = h.split(":", 1)[0].lower()
        if name == "via":
            if first_via:
                h = h.replace(";rport", ";rport=%d" % raw.port) + \
                    ";received=127.0.0.1"
                first_via = False
            out.append(h)
        elif name == "to":
            out.append(h if ";tag=" in h else h + ";tag=" + tag)
        elif name in ("record-route", "from", "call-id", "cseq"):
            out.append(h)
    out += ["Expires: %d" % granted,
            "Contact: <sip:127.0.0.1:%d>" % kam.port]
    if server:
        out.append(server)
    out += ["Content-Length: 0", "", ""]
    return "\r\n".join(out).encode()


def to_tag_of(reply):
    m = re.search(rb"\r\nTo: [^\r]*;tag=([^;\r]+)", reply)
    assert m, reply
    return m.group(1).decode()


def server_of(reply):
    m = re.search(rb"\r\n(Server: [^\r]*)\r\n", reply)
    return m.group(1).decode() if m else None


@pytest.mark.parametrize("direct", [1, 0])
def test_200_is_sls_bytes(make_proxy, direct):
    """The initial 200 and the refresh's 200 are exactly the bytes sl
    writes, whichever writes them; the initial NOTIFY follows; the direct
    path counts its replies and sl's path none."""
    kam = make_proxy(reply_direct=direct)
    raw = Raw()
    try:
        before = stat(kam, "subscribe_replies_direct")
        data, hdrs = subscribe_bytes(raw, kam, "a%d" % direct)
        r = raw.request(kam, data)
        tag = to_tag_of(r)
        assert re.fullmatch(r"[0-9a-f]{8}[0-9A-Za-z.\-]*", tag), tag
        server = server_of(r)
        assert server and server.startswith("Server: kamailio"), r
        assert r == expected_200(raw, kam, hdrs, tag, 120, server), r
        assert raw.pump_notify(), "no initial NOTIFY"
        # the refresh: the To tag is the phone's to send, copied as is
        data, hdrs = subscribe_bytes(raw, kam, "a%d" % direct, to_tag=tag,
                                     cseq=8, expires=300)
        r2 = raw.request(kam, data)
        assert r2 == expected_200(raw, kam, hdrs, tag, 300, server), r2
        got = stat(kam, "subscribe_replies_direct") - before
        assert got == (2 if direct else 0), got
        # and the unsubscribe
        data, hdrs = subscribe_bytes(raw, kam, "a%d" % direct, to_tag=tag,
                                     cseq=9, expires=0)
        r3 = raw.request(kam, data)
        assert r3 == expected_200(raw, kam, hdrs, tag, 0, server), r3
        assert blfutil.subscriptions(kam) == []
    finally:
        raw.close()


def test_200_without_record_route_or_rport(make_proxy):
    """A top Via without rport whose host is the source address: neither
    rport nor received is added (sl's received_test), the reply goes to
    the Via's port; no Record-Route is invented."""
    kam = make_proxy()
    raw = Raw()
    try:
        data, hdrs = subscribe_bytes(raw, kam, "b", rr=False)
        via = "Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-plain" % raw.port
        hdrs[0] = via
        data = ("SUBSCRIBE %s SIP/2.0\r\n" % BOB + "\r\n".join(hdrs) +
                "\r\n\r\n").encode()
        before = stat(kam, "subscribe_replies_direct")
        r = raw.request(kam, data)
        tag = to_tag_of(r)
        exp = expected_200(raw, kam, hdrs, tag, 120, server_of(r))
        exp = exp.replace(via.encode() + b";received=127.0.0.1", via.encode())
        assert r == exp, r
        assert b"Record-Route" not in r
        assert stat(kam, "subscribe_replies_direct") - before == 1
    finally:
        raw.close()


def test_reply_direct_fetch_and_list_headers(make_proxy):
    """Expires: 0 (a fetch) gets a 200 with Expires: 0 and its NOTIFY;
    Kamailio still answers normal subscriptions afterwards."""
    kam = make_proxy()
    raw = Raw()
    try:
        data, hdrs = subscribe_bytes(raw, kam, "c", expires=0)
        r = raw.request(kam, data)
        tag = to_tag_of(r)
        assert r == expected_200(raw, kam, hdrs, tag, 0, server_of(r)), r
        assert raw.pump_notify() and b"Subscription-State: terminated" in \
            raw.notifies[0], raw.notifies
        assert blfutil.subscriptions(kam) == []
        data, hdrs = subscribe_bytes(raw, kam, "d")
        r = raw.request(kam, data)
        assert r.startswith(b"SIP/2.0 200 OK\r\n"), r
    finally:
        raw.close()


@pytest.mark.parametrize("define,header", [
    ("WITH_REPLY_HDR", "X-Blf-Test: appended"),
    ("WITH_SL_LOCAL_RESPONSE", None),
])
def test_sl_sends_the_200_when_the_script_would_see_it(kamailio_factory,
                                                      define, header):
    """A header the script added with append_to_reply(), or an
    event_route[sl:local-response]: sl sends the 200 (with that header;
    the event route runs), blf:subscribe_replies_direct stays 0, and the
    rest of the reply is still the bytes above."""
    kam = kamailio_factory(blf=True, defines=[define])
    raw = Raw()
    try:
        data, hdrs = subscribe_bytes(raw, kam, "e" + define[-4:])
        r = raw.request(kam, data)
        tag = to_tag_of(r)
        exp = expected_200(raw, kam, hdrs, tag, 120, server_of(r))
        if header:
            exp = exp.replace(b"\r\nExpires: ", ("\r\n%s\r\nExpires: "
                                                  % header).encode(), 1)
        assert r == exp, r
        assert stat(kam, "subscribe_replies_direct") == 0
        assert raw.pump_notify(), "no initial NOTIFY"
        if not header:
            blfutil.poll(lambda: "sl local response" in kam.log(), 3,
                         what="the event route run for the 200")
    finally:
        raw.close()


@pytest.mark.parametrize("direct", [1, 0])
def test_hostile_via_stack(make_proxy, direct):
    """A Via stack of 20 KB, longer than the module's reply buffer: sl
    sends that 200 (the module's counter does not move), still sl's bytes;
    a normal SUBSCRIBE after it gets the module's 200 again."""
    kam = make_proxy(reply_direct=direct)
    raw = Raw()
    try:
        before = stat(kam, "subscribe_replies_direct")
        # 20 KB of Vias below the top one
        data, hdrs = subscribe_bytes(raw, kam, "v%d" % direct)
        vias = ["Via: SIP/2.0/UDP 10.1.%d.%d;branch=z9hG4bK-%s" %
                (n // 250, n % 250, "x" * 40) for n in range(300)]
        hdrs[1:1] = vias
        data = ("SUBSCRIBE %s SIP/2.0\r\n" % BOB + "\r\n".join(hdrs) +
                "\r\n\r\n").encode()
        assert len(data) > 20000
        r = raw.request(kam, data)
        tag = to_tag_of(r)
        assert r == expected_200(raw, kam, hdrs, tag, 120, server_of(r)), \
            r[:300]
        assert stat(kam, "subscribe_replies_direct") - before == 0
        still = subscribe_bytes(raw, kam, "w%d" % direct)[0]
        assert raw.request(kam, still).startswith(b"SIP/2.0 200 OK\r\n")
        assert stat(kam, "subscribe_replies_direct") - before == direct
    finally:
        raw.close()


@pytest.mark.parametrize("direct", [1, 0])
def test_force_rport_appends_rport(kamailio_factory, direct):
    """force_rport() in the script and a top Via without rport: ;rport=
    with the source port, then ;received=, at the end of the top Via (as
    sl writes it); the reply goes to the source port."""
    kam = kamailio_factory(blf=True, defines=["WITH_FORCE_RPORT"],
                           params={"reply_direct": direct})
    raw = Raw()
    try:
        before = stat(kam, "subscribe_replies_direct")
        data, hdrs = subscribe_bytes(raw, kam, "f%d" % direct)
        hdrs[0] = hdrs[0].replace(";rport", "")
        data = ("SUBSCRIBE %s SIP/2.0\r\n" % BOB + "\r\n".join(hdrs) +
                "\r\n\r\n").encode()
        r = raw.request(kam, data)
        tag = to_tag_of(r)
        exp = expected_200(raw, kam, hdrs, tag, 120, server_of(r))
        exp = exp.replace(b";received=", b";rport=%d;received=" % raw.port, 1)
        assert r == exp, r
        assert stat(kam, "subscribe_replies_direct") - before == direct
    finally:
        raw.close()
