"""NOTIFYs over the transport the SUBSCRIBE came over (SPEC: NOTIFY).

A watcher subscribing over TCP gets its NOTIFYs on the same connection, even
when its Contact names no TCP port it listens on (phones seldom do): the
module sends them to the SUBSCRIBE's source over that connection.
"""

import random
import re
import socket
import time

import pytest

import blfutil
import kamproc
import rfc4235
from httputil import free_tcp_port


class TcpKamailio(kamproc.Kamailio):
    """The harness's Kamailio plus a TCP listen on a port of its own."""

    tcp_port = None

    def render(self):
        text = super().render()
        self.tcp_port = free_tcp_port()
        assert "disable_tcp=yes" in text
        text = text.replace(
            "disable_tcp=yes",
            "disable_tcp=no\ntcp_children=2\n"
            "listen=tcp:127.0.0.1:%d" % self.tcp_port, 1)
        with open(self.cfg_path, "w") as f:
            f.write(text)
        return text


@pytest.fixture
def tcp_proxy(request, kamailio_factory):
    kam = TcpKamailio(blf=True, track=True)
    request.node._blf_kams.append(kam)
    kam.start()
    return kam


class TcpWatcher:
    """A watcher speaking SIP over one TCP connection, reading messages by
    their Content-Length and answering every NOTIFY with 200."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.buf = b""
        self.local = self.sock.getsockname()

    def send(self, text):
        self.sock.sendall(text.replace("\n", "\r\n").encode())

    def read(self, timeout=5.0):
        deadline = time.monotonic() + timeout
        while True:
            head, sep, rest = self.buf.partition(b"\r\n\r\n")
            if sep:
                m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
                n = int(m.group(1)) if m else 0
                if len(rest) >= n:
                    self.buf = rest[n:]
                    return head.decode(), rest[:n].decode()
            left = deadline - time.monotonic()
            assert left > 0, "nothing read over TCP within %.1fs" % timeout
            self.sock.settimeout(left)
            data = self.sock.recv(65535)
            assert data, "the proxy closed the TCP connection"
            self.buf += data

    def answer(self, head):
        keep = [ln for ln in head.split("\r\n")[1:]
                if ln.split(":")[0].strip().lower() in
                ("via", "from", "to", "call-id", "cseq")]
        self.send("SIP/2.0 200 OK\n" + "\n".join(keep) +
                  "\nContent-Length: 0\n\n")

    def close(self):
        self.sock.close()


def test_notify_over_the_subscribe_connection(tcp_proxy, phones):
    a, b = phones("alice"), phones("bob")
    w = TcpWatcher(tcp_proxy.tcp_port)
    try:
        cid = "tcp-%d@127.0.0.1" % random.randint(0, 1 << 30)
        # a Contact with no transport and a port nobody listens on: the
        # NOTIFYs must come back over this connection all the same
        w.send("SUBSCRIBE sip:bob@blf.test SIP/2.0\n"
               "Via: SIP/2.0/TCP 127.0.0.1:%d;branch=z9hG4bK%d;rport\n"
               "From: <sip:watcher@blf.test>;tag=tcpw\n"
               "To: <sip:bob@blf.test>\n"
               "Call-ID: %s\nCSeq: 1 SUBSCRIBE\n"
               "Contact: <sip:watcher@127.0.0.1:9>\n"
               "Event: dialog\nExpires: 120\nMax-Forwards: 70\n"
               "Content-Length: 0\n\n"
               % (w.local[1], random.randint(0, 1 << 30), cid))
        seen = []
        while len(seen) < 1:
            head, body = w.read()
            if head.startswith("SIP/2.0"):
                assert head.startswith("SIP/2.0 200"), head
                continue
            assert head.startswith("NOTIFY sip:watcher@127.0.0.1:9 "), head
            assert "Via: SIP/2.0/TCP" in head, head
            w.answer(head)
            seen.append(rfc4235.parse(body))
        assert seen[0].version == 0 and seen[0].idle, seen[0].raw

        call = a.call("bob")
        b.wait_incoming()
        call.wait_state("early")
        while not any(d.state == "early" for d in seen[-1].dialogs):
            head, body = w.read()
            assert head.startswith("NOTIFY"), head
            w.answer(head)
            info = rfc4235.parse(body)
            assert info.version == seen[-1].version + 1, info.raw
            seen.append(info)
        call.cancel()
        subs = blfutil.subscriptions(tcp_proxy, "bob@blf.test")
        assert [s["callid"] for s in subs] == [cid]
    finally:
        w.close()
