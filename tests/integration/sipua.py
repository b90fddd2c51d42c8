"""sipua.py — a small SIP user agent over UDP on 127.0.0.1, for the tests.

Every Phone owns one UDP socket on an ephemeral loopback port and one
receive thread. All requests go to one outbound proxy (the Kamailio under
test); the Request-URI and Route headers carry the SIP routing. The thread
parses what arrives, runs the transaction and dialog rules a phone needs
(answering NOTIFYs, ringing, answering, CANCEL, BYE, ACK, retransmissions)
and wakes waiters through one threading.Condition: every wait in the tests
is "until this happens, at most N seconds", never a fixed sleep.

Pure Python standard library; no SIP stack is installed on the machine.
"""

import hashlib
import itertools
import random
import re
import socket
import threading
import time

T1 = 0.5  # RFC 3261 timer T1, seconds
T2 = 4.0
TX_LIFETIME = 32.0  # 64*T1: how long we retransmit at most

COMPACT = {
    "i": "Call-ID", "m": "Contact", "e": "Content-Encoding",
    "l": "Content-Length", "c": "Content-Type", "f": "From", "s": "Subject",
    "k": "Supported", "t": "To", "v": "Via", "o": "Event",
    "u": "Allow-Events", "r": "Refer-To", "b": "Referred-By",
    "x": "Session-Expires",
}
CANONICAL = {n.lower(): n for n in (
    "Via", "From", "To", "Call-ID", "CSeq", "Contact", "Max-Forwards",
    "Content-Type", "Content-Length", "Route", "Record-Route", "Expires",
    "Min-Expires", "Event", "Allow-Events", "Accept", "Subscription-State",
    "WWW-Authenticate", "Authorization", "Proxy-Authenticate",
    "Proxy-Authorization", "Retry-After", "Replaces", "User-Agent", "Allow",
    "Supported", "Require", "Server")}
# headers whose comma-separated values are separate entries
MULTI = {"via", "route", "record-route", "contact", "allow", "allow-events",
         "supported", "require", "accept"}

_rand = random.SystemRandom()


def rand_hex(n=10):
    return "".join(_rand.choice("0123456789abcdef") for _ in range(n))


def canon(name):
    name = name.strip()
    low = name.lower()
    if low in COMPACT:
        return COMPACT[low]
    return CANONICAL.get(low, name)


def split_commas(value):
    """Splits a header value at commas outside quotes and <...>."""
    out, cur, depth, quoted, esc = [], [], 0, False, False
    for ch in value:
        if esc:
            cur.append(ch)
            esc = False
            continue
        if quoted:
            cur.append(ch)
            if ch == "\\":
                esc = True
            elif ch == '"':
                quoted = False
            continue
        if ch == '"':
            quoted = True
        elif ch == "<":
            depth += 1
        elif ch == ">":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    if "".join(cur).strip():
        out.append("".join(cur).strip())
    return out


class NameAddr:
    """A From/To/Contact/Route value: display name, URI, header params."""

    def __init__(self, display, uri, params):
        self.display = display
        self.uri = uri
        self.params = params  # dict, lower-case keys, value or None

    @classmethod
    def parse(cls, value):
        value = value.strip()
        display = None
        m = re.match(r'^\s*(?:"((?:[^"\\]|\\.)*)"|([^<"]*?))\s*<([^>]*)>(.*)$',
                     value)
        if m:
            if m.group(1) is not None:
                display = re.sub(r"\\(.)", r"\1", m.group(1))
            elif m.group(2):
                display = m.group(2).strip() or None
            uri, rest = m.group(3).strip(), m.group(4)
        else:  # addr-spec: URI params would be ambiguous, they are header's
            parts = value.split(";", 1)
            uri, rest = parts[0].strip(), (";" + parts[1] if len(parts) > 1
                                           else "")
        return cls(display, uri, parse_params(rest))

    def param(self, name):
        return self.params.get(name.lower())

    def __str__(self):
        s = ""
        if self.display:
            s += '"%s" ' % self.display.replace('"', '\\"')
        s += "<%s>" % self.uri
        for k, v in self.params.items():
            s += ";%s" % k if v is None else ";%s=%s" % (k, v)
        return s


def parse_params(rest):
    params = {}
    for p in rest.split(";"):
        p = p.strip()
        if not p:
            continue
        if "=" in p:
            k, v = p.split("=", 1)
            params[k.strip().lower()] = v.strip().strip('"')
        else:
            params[p.lower()] = None
    return params


def uri_user_host(uri):
    """('user', 'host') of sip:user@host:port;params (user may be None)."""
    m = re.match(r"^(?:sips?|tel):(?:([^@;]*)@)?([^;:?>]*)", uri.strip())
    if not m:
        return None, None
    return m.group(1), m.group(2)


def uri_hostport(uri):
    m = re.match(r"^sips?:(?:[^@;]*@)?([^;?>]*)", uri.strip())
    hp = m.group(1) if m else ""
    if ":" in hp:
        h, p = hp.rsplit(":", 1)
        return h, int(p)
    return hp, 5060


class SipMessage:
    """One SIP request or response; headers kept in order as [name, value]."""

    def __init__(self):
        self.method = None
        self.uri = None
        self.status = None
        self.reason = None
        self.headers = []
        self.body = b""
        self.src = None  # (host, port) it came from

    # -- building -------------------------------------------------------
    @classmethod
    def request(cls, method, uri, headers=(), body=b""):
        m = cls()
        m.method, m.uri = method, uri
        for k, v in headers:
            m.add(k, v)
        m.body = body.encode() if isinstance(body, str) else body
        return m

    @classmethod
    def response_to(cls, req, code, reason=None, headers=(), body=b"",
                    to_tag=None):
        m = cls()
        m.status, m.reason = code, reason or REASONS.get(code, "Unknown")
        for name in ("Via", "Record-Route", "From", "To", "Call-ID", "CSeq"):
            if name == "Record-Route" and not (
                    req.method in ("INVITE", "SUBSCRIBE") and 100 < code < 300):
                continue
            for v in req.get_all(name, split=False):
                m.add(name, v)
        if to_tag and not m.to_tag:
            m.set("To", m.get("To") + ";tag=" + to_tag)
        for k, v in headers:
            m.add(k, v)
        m.body = body.encode() if isinstance(body, str) else body
        return m

    def add(self, name, value):
        self.headers.append([canon(name), str(value)])

    def set(self, name, value):
        self.remove(name)
        self.add(name, value)

    def remove(self, name):
        name = canon(name).lower()
        self.headers = [h for h in self.headers if h[0].lower() != name]

    def encode(self):
        if self.method:
            first = "%s %s SIP/2.0" % (self.method, self.uri)
        else:
            first = "SIP/2.0 %d %s" % (self.status, self.reason)
        lines = [first]
        for k, v in self.headers:
            if k.lower() != "content-length":
                lines.append("%s: %s" % (k, v))
        lines.append("Content-Length: %d" % len(self.body))
        return ("\r\n".join(lines) + "\r\n\r\n").encode() + self.body

    # -- parsing --------------------------------------------------------
    @classmethod
    def parse(cls, data):
        head, sep, body = data.partition(b"\r\n\r\n")
        if not sep:
            head, sep, body = data.partition(b"\n\n")
        text = head.decode("utf-8", "replace")
        lines = re.split(r"\r?\n", text)
        m = cls()
        first = lines[0].strip()
        if first.startswith("SIP/2.0 "):
            parts = first.split(" ", 2)
            m.status = int(parts[1])
            m.reason = parts[2] if len(parts) > 2 else ""
        else:
            parts = first.split(" ")
            if len(parts) != 3 or not parts[2].startswith("SIP/"):
                raise ValueError("bad start line: %r" % first)
            m.method, m.uri = parts[0], parts[1]
        for line in lines[1:]:
            if not line:
                continue
            if line[0] in " \t" and m.headers:  # folded line
                m.headers[-1][1] += " " + line.strip()
                continue
            name, _, value = line.partition(":")
            m.headers.append([canon(name), value.strip()])
        clen = m.get("Content-Length")
        if clen is not None and clen.strip().isdigit():
            body = body[:int(clen)]
        m.body = body
        return m

    # -- access ---------------------------------------------------------
    def get(self, name, default=None):
        vals = self.get_all(name)
        return vals[0] if vals else default

    def get_all(self, name, split=True):
        """Every value of a header, comma-lists split for list headers."""
        name = canon(name).lower()
        out = []
        for k, v in self.headers:
            if k.lower() == name:
                out.extend(split_commas(v) if split and name in MULTI else [v])
        return out

    def has(self, name):
        return bool(self.get_all(name, split=False))

    @property
    def is_request(self):
        return self.method is not None

    @property
    def call_id(self):
        return self.get("Call-ID")

    @property
    def cseq(self):
        num, meth = self.get("CSeq").split()
        return int(num), meth.upper()

    @property
    def from_(self):
        return NameAddr.parse(self.get("From"))

    @property
    def to(self):
        return NameAddr.parse(self.get("To"))

    @property
    def from_tag(self):
        return self.from_.param("tag")

    @property
    def to_tag(self):
        return self.to.param("tag")

    @property
    def branch(self):
        via = self.get("Via")
        return parse_params(via.split(";", 1)[1]).get("branch") if via and \
            ";" in via else None

    @property
    def contact_uri(self):
        c = self.get("Contact")
        return NameAddr.parse(c).uri if c else None

    @property
    def text_body(self):
        return self.body.decode("utf-8", "replace")

    def first_line(self):
        if self.method:
            return "%s %s" % (self.method, self.uri)
        return "%d %s (%s)" % (self.status, self.reason,
                               self.get("CSeq", "?"))

    def __str__(self):
        return self.encode().decode("utf-8", "replace")


REASONS = {
    100: "Trying", 180: "Ringing", 183: "Session Progress", 200: "OK",
    202: "Accepted", 400: "Bad Request", 401: "Unauthorized",
    403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    406: "Not Acceptable", 408: "Request Timeout", 423: "Interval Too Brief",
    480: "Temporarily Unavailable", 481: "Call/Transaction Does Not Exist",
    486: "Busy Here", 487: "Request Terminated", 489: "Bad Event",
    500: "Server Internal Error", 501: "Not Implemented",
    503: "Service Unavailable", 603: "Decline",
}


def sdp(user, port, version=1, direction="sendrecv"):
    return ("v=0\r\n"
            "o=%s 1 %d IN IP4 127.0.0.1\r\n"
            "s=-\r\n"
            "c=IN IP4 127.0.0.1\r\n"
            "t=0 0\r\n"
            "m=audio %d RTP/AVP 0\r\n"
            "a=rtpmap:0 PCMU/8000\r\n"
            "a=%s\r\n") % (user, version, port, direction)


class SipTimeout(AssertionError):
    """A bounded wait ran out; the message says what was awaited."""


# ---------------------------------------------------------------------------
class ClientTx:
    """A request we sent, and the responses that came back for it."""

    def __init__(self, phone, msg):
        self.phone = phone
        self.msg = msg
        self.method = msg.method
        self.branch = msg.branch
        self.responses = []
        self.final = None
        self.sent_at = time.monotonic()
        self.on_response = None  # callable(resp), run in the receive thread

    @property
    def provisional(self):
        return [r for r in self.responses if r.status < 200]

    def wait_final(self, timeout=5.0):
        self.phone.wait(lambda: self.final is not None, timeout,
                        "final response to %s" % self.msg.first_line())
        return self.final

    def wait_response(self, pred, timeout=5.0, what=None):
        found = []

        def check():
            for r in self.responses:
                if pred(r):
                    found.append(r)
                    return True
            return False

        self.phone.wait(check, timeout,
                        what or "response to %s" % self.msg.first_line())
        return found[0]


class ServerTx:
    """A request we received: its last response, for retransmissions."""

    def __init__(self, msg):
        self.msg = msg
        self.last = None  # encoded bytes of our last response
        self.final = None  # SipMessage
        self.acked = False
        self.retransmits = 0


class Notify:
    """One NOTIFY transaction as received: msg is its first copy, copies
    every copy (the first and each retransmission, i.e. each request with
    the same Via branch) as (monotonic arrival time, SipMessage), answered
    the last code we sent for it (None: not answered)."""

    def __init__(self, msg, arrived):
        self.msg = msg
        self.time = arrived
        self.copies = [(arrived, msg)]
        self.body = msg.text_body
        self.cseq = msg.cseq[0]
        self.event = msg.get("Event")
        self.subscription_state = msg.get("Subscription-State") or ""
        parts = self.subscription_state.split(";")
        self.state = parts[0].strip().lower()
        self.params = parse_params(";".join(parts[1:]))
        self.reason = self.params.get("reason")
        exp = self.params.get("expires")
        self.expires = int(exp) if exp is not None and exp.isdigit() else None
        self.content_type = msg.get("Content-Type")
        self.retransmits = 0
        self.answered = None

    def header(self, name):
        return self.msg.get(name)

    def __repr__(self):
        return "<NOTIFY cseq=%d %s %dB>" % (self.cseq, self.subscription_state,
                                          len(self.body))


class Subscription:
    """The subscriber's side of one SUBSCRIBE dialog."""

    def __init__(self, phone, target, event, accept, extra, from_uri=None):
        self.phone = phone
        self.target = target  # URI subscribed to
        self.event = event
        self.accept = accept
        self.extra = list(extra or [])
        self.call_id = rand_hex(16) + "@127.0.0.1"
        self.local_tag = rand_hex(10)
        self.local_uri = from_uri or phone.uri
        self.remote_tag = None
        self.remote_target = target
        self.route_set = []
        self.cseq = 0
        self.responses = []  # final response of each SUBSCRIBE, in order
        self.notifies = []
        self.cursor = 0
        self.state = "pending"  # -> active -> terminated
        # 200, 481, None (silent), a callable (see Phone) or "phone"
        self.notify_reply = "phone"

    # -- requests ---------------------------------------------------------
    def build(self, expires=None, headers=None, event=None, accept="default"):
        self.cseq += 1
        hdrs = []
        to = "<%s>" % self.target
        if self.remote_tag:
            to += ";tag=" + self.remote_tag
        hdrs += [("From", "<%s>;tag=%s" % (self.local_uri, self.local_tag)),
                 ("To", to), ("Call-ID", self.call_id),
                 ("CSeq", "%d SUBSCRIBE" % self.cseq)]
        for r in self.route_set:
            hdrs.append(("Route", r))
        hdrs.append(("Contact", self.phone.contact))
        ev = self.event if event is None else event
        if ev is not False and ev is not None:
            hdrs.append(("Event", ev))
        acc = self.accept if accept == "default" else accept
        if acc:
            hdrs.append(("Accept", acc))
        if expires is not None:
            hdrs.append(("Expires", str(expires)))
        hdrs += self.extra + list(headers or [])
        return SipMessage.request("SUBSCRIBE", self.remote_target, hdrs)

    def send(self, expires=None, headers=None, timeout=5.0, **kw):
        """Sends a SUBSCRIBE (initial or in-dialog), returns the final
        response. A 2xx to the first one establishes the dialog."""
        msg = self.build(expires, headers, **kw)
        tx = self.phone.send_request(msg)
        resp = tx.wait_final(timeout)
        with self.phone.cond:
            self.responses.append(resp)
            if 200 <= resp.status < 300:
                if not self.remote_tag:
                    self.remote_tag = resp.to_tag
                    rr = resp.get_all("Record-Route")
                    self.route_set = list(reversed(rr))
                if resp.contact_uri:
                    self.remote_target = resp.contact_uri
                if self.state == "pending":
                    self.state = "active"
            elif resp.status == 481 and self.remote_tag:
                self.state = "terminated"
        return resp

    def refresh(self, expires=None, headers=None, timeout=5.0, **kw):
        assert self.remote_tag, "refresh before the dialog exists"
        return self.send(expires, headers, timeout, **kw)

    def unsubscribe(self, timeout=5.0, **kw):
        return self.send(0, None, timeout, **kw)

    # -- NOTIFYs ------------------------------------------------------------
    def next_notify(self, timeout=5.0, what=None):
        """The next NOTIFY not yet taken by next_notify/wait_notify."""
        with self.phone.cond:
            self.phone.wait(lambda: len(self.notifies) > self.cursor, timeout,
                            what or "NOTIFY #%d for %s" % (self.cursor,
                                                           self.target))
            n = self.notifies[self.cursor]
            self.cursor += 1
            return n

    def wait_notify(self, pred, timeout=5.0, what="matching NOTIFY"):
        """The first untaken NOTIFY for which pred(notify) is true; every
        NOTIFY before it is taken too. Raises SipTimeout with the list of
        NOTIFYs seen."""
        found = []

        def check():
            for i in range(self.cursor, len(self.notifies)):
                if pred(self.notifies[i]):
                    found.append(i)
                    return True
            return False

        with self.phone.cond:
            try:
                self.phone.wait(check, timeout, what)
            except SipTimeout as e:
                raise SipTimeout("%s; NOTIFYs after #%d: %s" % (
                    e, self.cursor, [n.body for n in
                                     self.notifies[self.cursor:]])) from None
            self.cursor = found[0] + 1
            return self.notifies[found[0]]

    def pending(self):
        """NOTIFYs received and not yet taken."""
        with self.phone.cond:
            return list(self.notifies[self.cursor:])


class Call:
    """One INVITE dialog, as UAC (we called) or UAS (we were called)."""

    def __init__(self, phone, role, call_id, local_tag, local_uri, remote_uri):
        self.phone = phone
        self.role = role
        self.call_id = call_id
        self.local_tag = local_tag
        self.local_uri = local_uri  # full name-addr text
        self.remote_uri = remote_uri  # full name-addr text (To / From)
        self.remote_tag = None
        self.remote_target = None
        self.route_set = []
        self.local_cseq = 1
        self.invite = None  # the initial INVITE (sent or received)
        self.invite_tx = None  # ClientTx (UAC) / ServerTx (UAS)
        self.state = "init"  # calling/proceeding/early/confirmed/terminated
        self.early_tags = []  # UAC: To tags of early dialogs (forking)
        self.end = None  # why it ended: bye-sent, bye-received, cancelled,
        #                  rejected, replaced, failed
        self.code = None  # final response code of the INVITE
        self.acked = False
        self.requests = []  # in-dialog requests received
        self.extra_answers = []  # UAC: 2xx from other forks, ACKed + BYEd
        self.replaces = None  # UAS: the Call that our INVITE's Replaces named
        self.replaced_by = None  # the Call that replaced this one
        self.remote_cseq = None
        self.sdp_version = 1
        self.rtp_port = 40000 + _rand.randrange(0, 20000, 2)

    def __repr__(self):
        return "<Call %s %s %s>" % (self.role, self.state, self.call_id)

    # -- waiting --------------------------------------------------------
    def wait_state(self, *states, timeout=5.0):
        self.phone.wait(lambda: self.state in states, timeout,
                        "call %s to reach %s (is %s)" % (self.call_id, states,
                                                         self.state))
        return self

    def wait_response(self, code, timeout=5.0):
        """UAC: the first response to the initial INVITE with this code."""
        return self.invite_tx.wait_response(lambda r: r.status == code,
                                            timeout, "%d to INVITE" % code)

    # -- UAC ------------------------------------------------------------
    def cancel(self, timeout=5.0, wait=True):
        """Sends CANCEL for our INVITE (after a provisional response, as RFC
        3261 asks); with wait, returns the 200 to the CANCEL."""
        assert self.role == "uac"
        inv = self.invite
        if wait:
            self.phone.wait(lambda: self.invite_tx.responses, timeout,
                            "a provisional response before CANCEL")
        hdrs = [("Via", inv.get_all("Via", split=False)[0]),
                ("From", inv.get("From")), ("To", inv.get("To")),
                ("Call-ID", inv.call_id),
                ("CSeq", "%d CANCEL" % inv.cseq[0]), ("Max-Forwards", "70")]
        for r in inv.get_all("Route"):
            hdrs.append(("Route", r))
        tx = self.phone.send_request(SipMessage.request("CANCEL", inv.uri,
                                                        hdrs))
        with self.phone.cond:
            if self.end is None:
                self.end = "cancelled"
        return tx.wait_final(timeout) if wait else tx

    def _in_dialog(self, method, headers=(), body=b""):
        self.local_cseq += 1
        hdrs = [("From", self.local_uri),
                ("To", self.remote_uri),
                ("Call-ID", self.call_id),
                ("CSeq", "%d %s" % (self.local_cseq, method)),
                ("Max-Forwards", "70")]
        for r in self.route_set:
            hdrs.append(("Route", r))
        hdrs += list(headers)
        return SipMessage.request(method, self.remote_target, hdrs, body)

    def bye(self, timeout=5.0):
        assert self.state == "confirmed", "BYE on a %s call" % self.state
        tx = self.phone.send_request(self._in_dialog("BYE"))
        with self.phone.cond:
            self.state = "terminated"
            self.end = "bye-sent"
        return tx.wait_final(timeout)

    def reinvite(self, direction="sendonly", timeout=5.0):
        """In-dialog INVITE with a=<direction> (hold: sendonly, unhold:
        sendrecv); ACKs the 2xx and returns it."""
        assert self.state == "confirmed"
        self.sdp_version += 1
        body = sdp(self.phone.user, self.rtp_port, self.sdp_version, direction)
        msg = self._in_dialog("INVITE", [
            ("Contact", self.phone.contact),
            ("Content-Type", "application/sdp")], body)
        tx = self.phone.send_request(msg)
        resp = tx.wait_final(timeout)
        if 200 <= resp.status < 300:
            self.phone._send_ack(self, msg, resp)
        return resp

    def hold(self, timeout=5.0):
        return self.reinvite("sendonly", timeout)

    def unhold(self, timeout=5.0):
        return self.reinvite("sendrecv", timeout)

    # -- UAS ------------------------------------------------------------
    def answer(self, code=200, timeout=5.0, wait_ack=True):
        """UAS: sends the final response to the INVITE (200 with SDP by
        default, or an error code); for 2xx waits for the ACK."""
        assert self.role == "uas"
        ph = self.phone
        with ph.cond:
            if self.state == "terminated":
                raise AssertionError("answer(%d): call already %s" % (
                    code, self.end))
            stx = self.invite_tx
            if code < 300:
                body = sdp(ph.user, self.rtp_port)
                resp = SipMessage.response_to(
                    self.invite, code, headers=[
                        ("Contact", ph.contact),
                        ("Content-Type", "application/sdp")], body=body,
                    to_tag=self.local_tag)
                self.state = "confirmed"
            else:
                resp = SipMessage.response_to(self.invite, code,
                                              to_tag=self.local_tag)
                self.state = "terminated"
                self.end = "rejected"
            self.code = code
            ph._send_response(stx, resp, retransmit_until_ack=True)
        if code < 300 and wait_ack:
            ph.wait(lambda: self.acked, timeout, "ACK for our %d" % code)
        return resp

    def reject(self, code=486, timeout=5.0):
        return self.answer(code, timeout)


# ---------------------------------------------------------------------------

# A test phone reads its socket from one Python thread; a burst (64 calls
# ringing at once, a wildcard's state) can outrun it, and the kernel then
# drops datagrams (RcvbufErrors). A dropped 1xx is never retransmitted (no
# 100rel), so a call would stay "proceeding": a flaky test, not a finding.
# Real phones read in C; give ours a buffer that holds any burst the tests
# make. SO_RCVBUFFORCE (root) passes net.core.rmem_max; else the cap holds.
_RCVBUF = 8 * 1024 * 1024


def _big_rcvbuf(sock):
    force = getattr(socket, "SO_RCVBUFFORCE", 33)
    try:
        sock.setsockopt(socket.SOL_SOCKET, force, _RCVBUF)
    except OSError:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RCVBUF)
        except OSError:
            pass

class Phone:
    """A SIP phone at 127.0.0.1:<ephemeral> using one outbound proxy.

    invite_policy decides what an incoming INVITE gets at once:
      "ring" (default): 100 then 180 with a To tag, then wait for answer()
      "answer": 100, 180, 200
      int code: 100 then that final code (e.g. 486)
      "trying": only 100
    notify_reply: 200 (default), another code (e.g. 481), None (silent), or
      a callable(notify, msg) -> code or None, asked for every copy of a
      NOTIFY (the first and each retransmission) until a final code has been
      sent for it: notify is the Notify (notify.copies already holds this
      copy), msg the copy received; a 1xx code may be followed by others,
      None sends nothing for that copy (not even a repeat of an earlier 1xx).
      Once a final code was sent, retransmissions get it again, as with a
      plain code. It runs in the receive thread, with the phone's lock held.
      Subscription.notify_reply, when not "phone", overrides this.
    contact_host: the host of our Contact (default 127.0.0.1; e.g.
      "localhost" for a host name that resolves to our socket).
    auto_replace: an INVITE with Replaces that matches one of our dialogs is
      answered 200 at once and the replaced dialog is cancelled (early UAC
      dialog) or hung up (confirmed); no match -> 481 (RFC 3891).
    """

    def __init__(self, user, proxy, domain, display=None, password=None,
                 invite_policy="ring", notify_reply=200, auto_replace=True,
                 contact_host="127.0.0.1"):
        self.user = user
        self.proxy = proxy
        self.domain = domain
        self.display = display
        self.password = password
        self.invite_policy = invite_policy
        self.notify_reply = notify_reply
        self.auto_replace = auto_replace
        self.uri = "sip:%s@%s" % (user, domain)
        self.cond = threading.Condition(threading.RLock())
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        _big_rcvbuf(self.sock)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.05)
        self.addr = self.sock.getsockname()
        self.contact = "<sip:%s@%s:%d>" % (user, contact_host,
                                           self.addr[1])
        self.client_txs = {}  # (branch, method) -> ClientTx
        self.server_txs = {}  # (branch, method) -> ServerTx
        self.subscriptions = []
        self.calls = []
        self.incoming = []  # UAS calls in arrival order
        self._in_cursor = 0
        self.stray = []  # messages no transaction/dialog wanted
        self.trace = []  # (monotonic time, "<-"/"->", first line)
        self.errors = []
        self._retrans = []  # [next_time, interval, bytes, dest, stop, end]
        self._cseq = itertools.count(1)
        self._closed = False
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name="sipua-" + user)
        self._thread.start()

    def __repr__(self):
        return "<Phone %s at %s:%d>" % (self.uri, *self.addr)

    @property
    def name_addr(self):
        if self.display:
            return '"%s" <%s>' % (self.display, self.uri)
        return "<%s>" % self.uri

    # -- plumbing -------------------------------------------------------
    def wait(self, pred, timeout, what):
        """Waits until pred() (called under the lock) is true, at most
        timeout seconds; raises SipTimeout naming what was awaited."""
        with self.cond:
            if not self.cond.wait_for(pred, timeout):
                raise SipTimeout("%s: no %s within %.1fs" % (self.user, what,
                                                             timeout))

    def close(self):
        self._closed = True
        self._thread.join(2)
        self.sock.close()

    def _send(self, data, dest=None):
        dest = dest or self.proxy
        self.sock.sendto(data, dest)

    def _log(self, direction, msg):
        self.trace.append((time.monotonic(), direction, msg.first_line()))

    def new_via(self):
        return "SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK%s;rport" % (
            self.addr[1], rand_hex(12))

    def send_request(self, msg, dest=None, retransmit=True):
        """Sends a request (adds Via and Max-Forwards if absent) as a new
        client transaction; returns the ClientTx."""
        if not msg.has("Via"):
            msg.headers.insert(0, ["Via", self.new_via()])
        if not msg.has("Max-Forwards"):
            msg.add("Max-Forwards", "70")
        if not msg.has("User-Agent"):
            msg.add("User-Agent", "blf-test-sipua")
        data = msg.encode()
        with self.cond:
            tx = ClientTx(self, msg)
            self.client_txs[(tx.branch, msg.method)] = tx
            self._log("->", msg)
            self._send(data, dest)
            if retransmit and msg.method != "ACK":
                now = time.monotonic()
                inv = msg.method == "INVITE"
                self._retrans.append([
                    now + T1, T1, data, dest or self.proxy,
                    (lambda: tx.responses) if inv else (lambda: tx.final),
                    now + TX_LIFETIME, inv])
        return tx

    def request(self, method, ruri, headers=(), body=b"", timeout=5.0):
        """Sends an out-of-dialog request built from headers (From, To,
        Call-ID, CSeq filled in when missing); returns the final response."""
        msg = SipMessage.request(method, ruri, headers, body)
        if not msg.has("From"):
            msg.add("From", "%s;tag=%s" % (self.name_addr, rand_hex()))
        if not msg.has("To"):
            msg.add("To", "<%s>" % ruri)
        if not msg.has("Call-ID"):
            msg.add("Call-ID", rand_hex(16) + "@127.0.0.1")
        if not msg.has("CSeq"):
            msg.add("CSeq", "%d %s" % (next(self._cseq), method))
        if not msg.has("Contact") and method in ("INVITE", "SUBSCRIBE",
                                                 "REGISTER"):
            msg.add("Contact", self.contact)
        return self.send_request(msg).wait_final(timeout)

    def _send_response(self, stx, resp, retransmit_until_ack=False):
        data = resp.encode()
        stx.last = data
        if resp.status >= 200:
            stx.final = resp
        dest = self._via_dest(stx.msg)
        self._log("->", resp)
        self._send(data, dest)
        if retransmit_until_ack and resp.status >= 200:
            now = time.monotonic()
            self._retrans.append([now + T1, T1, data, dest,
                                  lambda: stx.acked, now + TX_LIFETIME,
                                  False])

    def _via_dest(self, req):
        via = req.get_all("Via")[0]
        sent_by = via.split()[1].split(";")[0]
        params = parse_params(via.split(";", 1)[1]) if ";" in via else {}
        host, _, port = sent_by.partition(":")
        host = params.get("received") or host
        port = params.get("rport") or port or "5060"
        return host, int(port)

    def reply(self, req, code, reason=None, headers=(), body=b"",
              to_tag=None):
        """Answers a received request (statelessly remembered for
        retransmissions)."""
        with self.cond:
            key = (req.branch, req.method)
            stx = self.server_txs.get(key) or ServerTx(req)
            self.server_txs[key] = stx
            resp = SipMessage.response_to(req, code, reason, headers, body,
                                          to_tag)
            self._send_response(stx, resp)
            return resp

    # -- receive loop -------------------------------------------------------
    def _loop(self):
        while not self._closed:
            try:
                data, src = self.sock.recvfrom(65535)
            except socket.timeout:
                data = None
            except OSError:
                return
            with self.cond:
                if data:
                    try:
                        msg = SipMessage.parse(data)
                        msg.src = src
                        self._log("<-", msg)
                        if msg.is_request:
                            self._on_request(msg)
                        else:
                            self._on_response(msg)
                    except Exception as e:  # keep the phone alive
                        self.errors.append("%r on %r" % (e, data[:200]))
                self._run_timers()
                self.cond.notify_all()

    def _run_timers(self):
        now = time.monotonic()
        keep = []
        for r in self._retrans:
            nxt, interval, data, dest, stop, end, inv = r
            if stop() or now >= end:
                continue
            if now >= nxt:
                self._send(data, dest)
                interval = interval * 2 if inv else min(interval * 2, T2)
                r[0], r[1] = now + interval, interval
            keep.append(r)
        self._retrans = keep

    def _on_response(self, resp):
        num, method = resp.cseq
        tx = self.client_txs.get((resp.branch, method))
        if tx is None:
            self.stray.append(resp)
            return
        tx.responses.append(resp)
        if resp.status >= 200:
            if tx.final is None:
                tx.final = resp
            elif method != "INVITE":
                return  # retransmission
        if method == "INVITE" and resp.status >= 300:
            self._ack_negative(tx, resp)
        if tx.on_response:
            tx.on_response(resp)

    def _ack_negative(self, tx, resp):
        inv = tx.msg
        hdrs = [("Via", inv.get_all("Via", split=False)[0]),
                ("From", inv.get("From")), ("To", resp.get("To")),
                ("Call-ID", inv.call_id), ("CSeq", "%d ACK" % inv.cseq[0]),
                ("Max-Forwards", "70")]
        for r in inv.get_all("Route"):
            hdrs.append(("Route", r))
        ack = SipMessage.request("ACK", inv.uri, hdrs)
        self._log("->", ack)
        self._send(ack.encode())

    def _send_ack(self, call, invite, resp):
        """ACK for a 2xx: a new transaction, inside the dialog of resp."""
        hdrs = [("Via", self.new_via()), ("From", invite.get("From")),
                ("To", resp.get("To")), ("Call-ID", invite.call_id),
                ("CSeq", "%d ACK" % invite.cseq[0]), ("Max-Forwards", "70")]
        initial = NameAddr.parse(invite.get("To")).param("tag") is None
        rr = list(reversed(resp.get_all("Record-Route"))) if initial \
            else call.route_set
        for r in rr:
            hdrs.append(("Route", r))
        target = resp.contact_uri or call.remote_target
        ack = SipMessage.request("ACK", target, hdrs)
        self._log("->", ack)
        self._send(ack.encode())
        return ack

    def _on_request(self, req):
        key = (req.branch, req.method)
        if req.method != "ACK" and key in self.server_txs:
            stx = self.server_txs[key]  # a retransmission
            stx.retransmits += 1
            for sub in self.subscriptions:
                for n in sub.notifies:
                    if n.msg is stx.msg:
                        n.retransmits += 1
                        n.copies.append((time.monotonic(), req))
                        code = self._notify_policy(sub)
                        if stx.final is None and callable(code):
                            self._answer_notify(n, req, code(n, req))
                            return
            if stx.last:
                self._send(stx.last, self._via_dest(req))
            return
        if req.method == "ACK":
            self._on_ack(req)
            return
        self.server_txs[key] = ServerTx(req)
        handler = getattr(self, "_on_" + req.method.lower(), None)
        if handler is None:
            self.reply(req, 405 if req.method not in ("OPTIONS",) else 200)
            return
        handler(req)

    def _all_notifies(self):
        for s in self.subscriptions:
            yield from s.notifies

    def _find_call(self, call_id, local_tag):
        for c in self.calls:
            if c.call_id == call_id and c.local_tag == local_tag:
                return c
        return None

    def _on_ack(self, req):
        stx = self.server_txs.get((req.branch, "INVITE"))
        if stx is not None:  # ACK to a non-2xx final
            stx.acked = True
        call = self._find_call(req.call_id, req.to_tag)
        if call is not None:
            call.acked = True
            for s in self.server_txs.values():
                if (s.msg.method == "INVITE" and s.msg.call_id == req.call_id
                        and s.msg.cseq[0] == req.cseq[0]):
                    s.acked = True

    # -- NOTIFY -----------------------------------------------------------
    def _on_notify(self, req):
        sub = None
        for s in self.subscriptions:
            if s.call_id == req.call_id and s.local_tag == req.to_tag:
                sub = s
        if sub is None:
            self.stray.append(req)
            self.reply(req, 481)
            return
        n = Notify(req, time.monotonic())
        sub.notifies.append(n)
        if sub.remote_tag is None:  # NOTIFY before the 2xx
            sub.remote_tag = req.from_tag
        if req.contact_uri:
            sub.remote_target = req.contact_uri
        if n.state == "terminated":
            sub.state = "terminated"
        elif sub.state == "pending":
            sub.state = n.state or "active"
        code = self._notify_policy(sub)
        if callable(code):
            code = code(n, req)
        self._answer_notify(n, req, code)

    def _notify_policy(self, sub):
        return self.notify_reply if sub.notify_reply == "phone" \
            else sub.notify_reply

    def _answer_notify(self, n, req, code):
        if code is not None:
            n.answered = code
            self.reply(req, code)

    # -- incoming calls ---------------------------------------------------
    def _on_invite(self, req):
        if req.to_tag:  # re-INVITE
            call = self._find_call(req.call_id, req.to_tag)
            if call is None:
                self.reply(req, 481)
                return
            call.requests.append(req)
            call.remote_cseq = req.cseq[0]
            resp = SipMessage.response_to(
                req, 200, headers=[("Contact", self.contact),
                                   ("Content-Type", "application/sdp")],
                body=sdp(self.user, call.rtp_port))
            self._send_response(self.server_txs[(req.branch, req.method)],
                                resp, retransmit_until_ack=True)
            return
        stx = self.server_txs[(req.branch, req.method)]
        call = Call(self, "uas", req.call_id, rand_hex(10), req.get("To"),
                    req.get("From"))
        call.local_uri = req.get("To") + ";tag=" + call.local_tag
        call.remote_tag = req.from_tag
        call.remote_target = req.contact_uri
        call.route_set = req.get_all("Record-Route")
        call.invite = req
        call.invite_tx = stx
        call.state = "proceeding"
        self.calls.append(call)
        self.incoming.append(call)
        self.reply(req, 100)
        if req.has("Replaces"):
            if self._on_replaces(call, req):
                return
        pol = self.invite_policy
        if isinstance(pol, int):
            call.answer(pol, wait_ack=False)
            return
        if pol in ("ring", "answer"):
            self._send_response(stx, SipMessage.response_to(
                req, 180, headers=[("Contact", self.contact)],
                to_tag=call.local_tag))
            call.state = "early"
        if pol == "answer":
            call.answer(200, wait_ack=False)

    def _on_replaces(self, call, req):
        """RFC 3891: to-tag is our local tag, from-tag our remote tag."""
        rep = req.get("Replaces")
        cid, _, rest = rep.partition(";")
        p = parse_params(rest)
        target = None
        for c in self.calls:
            if c is call or c.call_id != cid.strip():
                continue
            if c.local_tag != p.get("to-tag"):
                continue
            remote = [c.remote_tag] + c.early_tags
            if p.get("from-tag") in remote and c.state in ("early",
                                                           "confirmed"):
                target = c
        call.replaces = target
        if target is None or (target.role == "uas" and
                              target.state == "early"):
            call.answer(481, wait_ack=False)
            return True
        if not self.auto_replace:
            return True
        target.replaced_by = call
        call.answer(200, wait_ack=False)
        if target.state == "confirmed":
            self._bye_nowait(target)
        else:
            target.cancel(wait=False)
            target.end = "replaced"
        return True

    def _bye_nowait(self, call):
        self.send_request(call._in_dialog("BYE"))
        call.state = "terminated"
        if call.end is None:
            call.end = "replaced"

    def _on_cancel(self, req):
        inv_stx = self.server_txs.get((req.branch, "INVITE"))
        if inv_stx is None:
            self.reply(req, 481)
            return
        self.reply(req, 200)
        call = next((c for c in self.calls if c.invite is inv_stx.msg), None)
        if inv_stx.final is None and call is not None:
            call.state = "terminated"
            call.end = "cancelled"
            call.code = 487
            self._send_response(inv_stx, SipMessage.response_to(
                inv_stx.msg, 487, to_tag=call.local_tag),
                retransmit_until_ack=True)

    def _on_bye(self, req):
        call = self._find_call(req.call_id, req.to_tag)
        if call is None:
            self.reply(req, 481)
            return
        call.requests.append(req)
        self.reply(req, 200)
        call.state = "terminated"
        if call.end is None:
            call.end = "bye-received"

    def _on_update(self, req):
        self.reply(req, 200)

    def _on_info(self, req):
        self.reply(req, 200)

    # -- outgoing calls ---------------------------------------------------
    def call(self, target, headers=(), replaces=None, body=None,
             to_display=None):
        """Sends an INVITE to target (a URI, or a user name in our domain)
        and returns the Call at once (see Call.wait_state). replaces is
        (call-id, to-tag, from-tag) for a Replaces header (RFC 3891)."""
        if not target.startswith("sip"):
            target = "sip:%s@%s" % (target, self.domain)
        cid = rand_hex(16) + "@127.0.0.1"
        to = ('"%s" <%s>' % (to_display, target)) if to_display \
            else "<%s>" % target
        call = Call(self, "uac", cid, rand_hex(10), None, to)
        call.local_uri = "%s;tag=%s" % (self.name_addr, call.local_tag)
        hdrs = [("From", call.local_uri), ("To", call.remote_uri),
                ("Call-ID", cid), ("CSeq", "1 INVITE"),
                ("Contact", self.contact),
                ("Content-Type", "application/sdp")]
        if replaces:
            cid_r, to_tag, from_tag = replaces
            hdrs.append(("Replaces", "%s;to-tag=%s;from-tag=%s" % (
                cid_r, to_tag, from_tag)))
            hdrs.append(("Require", "replaces"))
        hdrs += list(headers)
        msg = SipMessage.request("INVITE", target, hdrs,
                                 body if body is not None else
                                 sdp(self.user, call.rtp_port))
        call.invite = msg
        call.state = "calling"
        with self.cond:
            self.calls.append(call)
            tx = self.send_request(msg)
            call.invite_tx = tx
            tx.on_response = lambda r: self._on_invite_response(call, r)
        return call

    def _on_invite_response(self, call, resp):
        tag = resp.to_tag
        if resp.status < 200:
            if tag and tag not in call.early_tags:
                call.early_tags.append(tag)
            if call.state in ("calling", "proceeding", "early"):
                call.state = "early" if tag else (
                    "proceeding" if call.state == "calling" else call.state)
                if tag and call.remote_tag is None:
                    call.remote_tag = tag
            return
        if resp.status < 300:
            if call.state == "confirmed" or (
                    call.state == "terminated" and call.code and
                    call.code < 300):
                if tag == call.remote_tag:  # retransmitted 2xx
                    self._send_ack(call, call.invite, resp)
                    return
                # another fork answered too: ACK and hang it up
                call.extra_answers.append(resp)
                self._send_ack(call, call.invite, resp)
                rr = list(reversed(resp.get_all("Record-Route")))
                hdrs = [("From", call.local_uri), ("To", resp.get("To")),
                        ("Call-ID", call.call_id), ("CSeq", "2 BYE")]
                hdrs += [("Route", r) for r in rr]
                self.send_request(SipMessage.request(
                    "BYE", resp.contact_uri, hdrs))
                return
            call.remote_tag = tag
            call.remote_uri = resp.get("To")
            call.remote_target = resp.contact_uri
            call.route_set = list(reversed(resp.get_all("Record-Route")))
            call.code = resp.status
            call.state = "confirmed"
            self._send_ack(call, call.invite, resp)
            call.acked = True
            if call.end in ("cancelled", "replaced"):
                # the 200 crossed our CANCEL: hang up at once (RFC 3261 9.1)
                self._bye_nowait(call)
            return
        if call.state != "terminated":
            call.state = "terminated"
            call.code = resp.status
            if call.end is None:
                call.end = "cancelled" if resp.status == 487 else "rejected"

    def wait_incoming(self, timeout=5.0, index=None):
        """The next incoming call not yet taken (or the index-th one)."""
        with self.cond:
            i = self._in_cursor if index is None else index
            self.wait(lambda: len(self.incoming) > i, timeout,
                      "incoming INVITE #%d" % i)
            if index is None:
                self._in_cursor = i + 1
            return self.incoming[i]

    # -- REGISTER / SUBSCRIBE -------------------------------------------------
    def register(self, expires=3600, timeout=5.0, contact=None):
        """REGISTERs our contact; answers one 401/407 digest challenge when
        a password is set. Returns the final response."""
        cid = rand_hex(16) + "@127.0.0.1"
        tag = rand_hex()
        ruri = "sip:%s" % self.domain
        auth = None
        for _ in range(2):
            hdrs = [("From", "%s;tag=%s" % (self.name_addr, tag)),
                    ("To", self.name_addr), ("Call-ID", cid),
                    ("CSeq", "%d REGISTER" % next(self._cseq)),
                    ("Contact", contact or self.contact),
                    ("Expires", str(expires))]
            if auth:
                hdrs.append(auth)
            resp = self.send_request(SipMessage.request(
                "REGISTER", ruri, hdrs)).wait_final(timeout)
            if resp.status in (401, 407) and self.password and auth is None:
                hname = "WWW-Authenticate" if resp.status == 401 \
                    else "Proxy-Authenticate"
                aname = "Authorization" if resp.status == 401 \
                    else "Proxy-Authorization"
                auth = (aname, digest_response(resp.get(hname), "REGISTER",
                                               ruri, self.user,
                                               self.password))
                continue
            return resp
        return resp

    def subscribe(self, target, expires=60, event="dialog",
                  accept="application/dialog-info+xml", headers=None,
                  timeout=5.0, from_uri=None, send=True):
        """Creates a subscription to target (URI or user in our domain) and
        sends the initial SUBSCRIBE; sub.responses[-1] is its answer."""
        if not target.startswith("sip"):
            target = "sip:%s@%s" % (target, self.domain)
        sub = Subscription(self, target, event, accept, None, from_uri)
        with self.cond:
            self.subscriptions.append(sub)
        if send:
            sub.send(expires, headers, timeout)
        return sub


def digest_response(challenge, method, uri, user, password):
    """The Authorization value answering a Digest challenge (MD5, qop=auth
    or none)."""
    ch = {k.lower(): (q or t) for k, q, t in re.findall(
        r'([\w-]+)\s*=\s*(?:"([^"]*)"|([^,\s]+))', challenge.split(" ", 1)[1])}
    realm, nonce = ch.get("realm", ""), ch.get("nonce", "")
    qop = ch.get("qop")

    def md5(s):
        return hashlib.md5(s.encode()).hexdigest()

    ha1 = md5("%s:%s:%s" % (user, realm, password))
    ha2 = md5("%s:%s" % (method, uri))
    val = 'Digest username="%s", realm="%s", nonce="%s", uri="%s"' % (
        user, realm, nonce, uri)
    if qop and "auth" in qop.split(","):
        nc, cnonce = "00000001", rand_hex(8)
        resp = md5("%s:%s:%s:%s:auth:%s" % (ha1, nonce, nc, cnonce, ha2))
        val += ', qop=auth, nc=%s, cnonce="%s"' % (nc, cnonce)
    else:
        resp = md5("%s:%s:%s" % (ha1, nonce, ha2))
    val += ', response="%s", algorithm=MD5' % resp
    if ch.get("opaque"):
        val += ', opaque="%s"' % ch["opaque"]
    return val
