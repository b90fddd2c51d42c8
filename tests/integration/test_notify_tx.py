"""NOTIFYs over UDP as RFC 3261 non-INVITE client transactions (17.1.2):
what a phone (or an edge proxy in front of it) sees of their Via branch,
retransmissions (T1 doubling up to T2, every T2 after a 1xx, none after a
final answer), the fr_timer timeout, error answers, the route set taken
from the SUBSCRIBE's Record-Route, and a Contact with a host name.

The proxy's tm timers are the template's: retr_timer1 (T1) 500 ms,
retr_timer2 (T2) 4 s, fr_timer as given to make_proxy. Timing bounds are
generous: the tests run on a loaded 2-core host.
"""

import os
import select
import socket
import time

import pytest

import blfutil
import kamproc
from blfutil import Lamp
import sipua

T1, T2 = 0.5, 4.0


# -- helpers ------------------------------------------------------------------
def copy_times(n):
    return [t for t, _ in n.copies]


def copies_of(sub, cseq):
    """Every copy (time, msg) of the NOTIFYs of sub with this CSeq, in
    arrival order, whichever transaction (branch) they came in."""
    return sorted(((t, m) for n in sub.notifies for t, m in n.copies
                   if n.cseq == cseq), key=lambda c: c[0])


def describe(copies, t0=None):
    t0 = copies[0][0] if t0 is None and copies else t0
    return ["+%.3fs cseq=%s branch=%s" % (t - t0, m.cseq[0], m.branch)
            for t, m in copies]


def assert_our_via(msg, kam):
    """A NOTIFY's (only) Via names the proxy over UDP with an RFC 3261
    branch."""
    vias = msg.get_all("Via")
    assert len(vias) == 1, "NOTIFY Vias: %s" % vias
    sent = vias[0].split(";")[0].split()
    assert sent[0].upper() == "SIP/2.0/UDP", vias[0]
    assert sent[1] == "%s:%d" % kam.addr, vias[0]
    assert (msg.branch or "").startswith("z9hG4bK") and \
        len(msg.branch) > len("z9hG4bK"), vias[0]


def wait_no_copy(phone, pred, seconds, what):
    """Asserts that pred() (under the phone's lock) stays false for
    seconds: a bounded wait that must run out."""
    with pytest.raises(sipua.SipTimeout):
        phone.wait(pred, seconds, what)


def listed(kam, sub):
    return sub.call_id in [s["callid"] for s in blfutil.subscriptions(kam)]


def via_dest(req):
    """Where a response to req goes (RFC 3261 18.2.2, with rport)."""
    via = req.get_all("Via")[0]
    sent_by = via.split()[1].split(";")[0]
    params = sipua.parse_params(via.split(";", 1)[1]) if ";" in via else {}
    host, _, port = sent_by.partition(":")
    host = params.get("received") or host
    port = params.get("rport") or port or "5060"
    return host, int(port)


class Hop:
    """A bare UDP socket on 127.0.0.1 standing for an edge proxy named in a
    Record-Route: it keeps what arrives and answers only when told."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.addr = self.sock.getsockname()
        self.uri = "sip:127.0.0.1:%d;lr" % self.addr[1]
        self.got = []  # (monotonic time, SipMessage)

    def recv(self, timeout, what="a request"):
        """The next message, at most timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise sipua.SipTimeout("no %s at %s:%d within %.1fs" % (
                    what, self.addr[0], self.addr[1], timeout))
            r, _, _ = select.select([self.sock], [], [], left)
            if not r:
                continue
            data, src = self.sock.recvfrom(65535)
            msg = sipua.SipMessage.parse(data)
            msg.src = src
            self.got.append((time.monotonic(), msg))
            return msg

    def quiet(self, seconds):
        """Asserts nothing arrives for seconds."""
        r, _, _ = select.select([self.sock], [], [], seconds)
        if r:
            data, _ = self.sock.recvfrom(65535)
            raise AssertionError("unexpected at %s:%d: %r" % (
                self.addr[0], self.addr[1], data[:300]))

    def answer(self, req, code):
        resp = sipua.SipMessage.response_to(req, code)
        self.sock.sendto(resp.encode(), via_dest(req))

    def close(self):
        self.sock.close()


@pytest.fixture
def hops():
    made = []

    def make():
        h = Hop()
        made.append(h)
        return h
    yield make
    for h in made:
        h.close()


# -- 1. one retransmission, answered ------------------------------------------
def test_unanswered_notify_retransmitted_same_transaction(proxy, phones):
    """A watcher silent to the first NOTIFY gets it again after about T1
    (same branch, CSeq, body); its 200 to that copy stops the copies; the
    subscription stays and sees the next call; every NOTIFY has its own
    branch and the proxy's UDP Via."""
    a = phones("alice")
    phones("bob", invite_policy="answer")
    w = phones("watcher")
    sub = w.subscribe("bob", send=False)

    def ignore_first_copy(n, msg):
        # silent to the very first copy of the first NOTIFY, 200 otherwise
        if n is sub.notifies[0] and len(n.copies) == 1:
            return None
        return 200
    sub.notify_reply = ignore_first_copy
    r = sub.send(600)
    assert r.status == 200, r.first_line()
    lamp = Lamp(sub)
    n, info = lamp.pump(3, "initial NOTIFY")
    assert info is not None and info.version == 0
    assert_our_via(n.msg, proxy)

    # the same NOTIFY again after about T1: same transaction, same request
    w.wait(lambda: len(copies_of(sub, n.cseq)) >= 2, 3,
           "retransmission of the unanswered NOTIFY")
    copies = copies_of(sub, n.cseq)
    assert len(n.copies) >= 2, "the second copy came as another " \
        "transaction (branch changed): %s" % describe(copies)
    (t0, first), (t1, again) = n.copies[0], n.copies[1]
    assert 0.3 <= t1 - t0 <= 2.5, "retransmission %.3fs after the NOTIFY " \
        "(T1 = 0.5 s)" % (t1 - t0)
    assert again.branch == first.branch
    assert again.cseq == first.cseq
    assert again.body == first.body
    assert again.uri == first.uri
    assert again.get("Subscription-State") == first.get("Subscription-State")
    assert_our_via(again, proxy)
    assert n.answered == 200

    # answered: no further copy of it
    wait_no_copy(w, lambda: len(copies_of(sub, n.cseq)) > 2, 2.0,
                 "copy of the NOTIFY after its 200")
    assert len(copies_of(sub, n.cseq)) == 2, describe(copies_of(sub, n.cseq))

    # the subscription lives on and still sees the calls
    assert listed(proxy, sub), blfutil.subscriptions(proxy)
    call = a.call("bob").wait_state("confirmed")
    lamp.wait_state("confirmed", call.call_id)
    call.bye()
    lamp.wait_state("terminated", call.call_id)
    lamp.assert_versions()
    later = [x for x, _ in lamp.seen[1:]]
    assert later, "no NOTIFY after the initial one"
    for m in later:
        assert m.msg.branch != first.branch, \
            "a later NOTIFY reused the branch of the first"
        assert_our_via(m.msg, proxy)
    assert len({m.msg.branch for m in later}) == len(later), \
        "NOTIFYs share a branch: %s" % [m.msg.branch for m in later]
    assert listed(proxy, sub)


# -- 2. never answered: doubling, then gone after fr_timer --------------------
def test_never_answered_doubling_then_removed_after_fr_timer(make_proxy,
                                                             phones):
    """A watcher that never answers: copies of one transaction at growing
    intervals (0.5, 1, 2 s ...), the subscription listed until fr_timer and
    gone after it, no copy once the transaction has timed out."""
    fr = 5.0
    kam = make_proxy(fr_timer=int(fr * 1000))
    mute = phones("mute", notify_reply=None)
    sub = mute.subscribe("bob")
    assert sub.responses[-1].status == 200, sub.responses[-1].first_line()
    lamp = Lamp(sub)
    n, info = lamp.pump(3, "initial NOTIFY")
    assert info is not None and info.version == 0
    t0 = n.time

    mute.wait(lambda: len(n.copies) >= 3, 1.5 + 3,
              "the 3rd copy of the unanswered NOTIFY")
    # well before fr_timer: still there, its NOTIFY awaiting an answer
    assert listed(kam, sub), "subscription gone %.2fs after the NOTIFY, " \
        "fr_timer is %.1fs" % (time.monotonic() - t0, fr)
    if kam.params.get("notify_direct", 1):
        # the module's own transaction: one NOTIFY awaiting its answer
        assert blfutil.stats(kam)["notifies_pending"] == 1, \
            blfutil.stats(kam)

    blfutil.poll(lambda: not listed(kam, sub), fr + 5,
                 what="unanswered subscription gone after fr_timer")
    gone = time.monotonic() - t0
    assert gone >= fr - 1.0, "removed %.2fs after the NOTIFY, fr_timer " \
        "%.1fs" % (gone, fr)
    st = blfutil.stats(kam)
    assert st["notifies_pending"] == 0 and st["notifies_failed"] >= 1, st
    count = len(n.copies)
    # the transaction has timed out: no copy any more
    wait_no_copy(mute, lambda: len(n.copies) > count, 1.5,
                 "copy after the transaction timed out")

    times = copy_times(n)
    msgs = [m for _, m in n.copies]
    trace = describe(n.copies)
    assert len(times) >= 3, trace
    assert {m.branch for m in msgs} == {n.msg.branch}, trace
    assert {m.cseq for m in msgs} == {n.msg.cseq}, trace
    assert {m.body for m in msgs} == {n.msg.body}, trace
    for m in msgs:
        assert_our_via(m, kam)
    assert times[-1] - t0 <= fr + 0.5, "copy after fr_timer: %s" % trace
    iv = [b - a for a, b in zip(times, times[1:])]
    assert 0.3 <= iv[0] <= 2.5, "first retransmission after %.3fs (T1 = " \
        "0.5 s): %s" % (iv[0], trace)
    tol = 0.25
    for prev, cur in zip(iv, iv[1:]):
        if prev * 1.5 < T2:
            assert cur >= prev * 1.5 - tol, "intervals %s not doubling: " \
                "%s" % (["%.3f" % i for i in iv], trace)
    for i in iv:
        assert i <= T2 + 1.0, "interval %.3f > T2: %s" % (i, trace)
    # no other NOTIFY (e.g. a retransmission with a new branch)
    assert len(sub.notifies) == 1, [repr(x) for x in sub.notifies]


# -- 3. provisional answer: T2 cadence, then 200 ------------------------------
def test_provisional_answer_slows_retransmissions_to_t2(make_proxy, phones):
    """A 100 to the first NOTIFY: no copy within 2.5 s of it, the next about
    T2 later; a 200 to that one stops the copies and the subscription
    outlives fr_timer."""
    fr = 7.0
    kam = make_proxy(fr_timer=int(fr * 1000))
    w = phones("watcher")
    sub = w.subscribe("bob", send=False)
    seen = {}

    def trying_then_ok(n, msg):
        if n is not sub.notifies[0]:
            return 200
        now = time.monotonic()
        if len(n.copies) == 1:
            seen["1xx"] = now
            return 100
        # the retransmission about T2 after the 1xx gets the 200
        return 200 if now - seen["1xx"] >= 2.5 else None
    sub.notify_reply = trying_then_ok
    r = sub.send(600)
    assert r.status == 200, r.first_line()
    lamp = Lamp(sub)
    n, info = lamp.pump(3, "initial NOTIFY")
    assert info is not None and info.version == 0
    t1xx = seen["1xx"]

    # after the 100: no copy within 2.5 s (T2 is 4 s)
    wait_no_copy(w, lambda: len(n.copies) > 1,
                 max(0.1, t1xx + 2.5 - time.monotonic()),
                 "copy of the NOTIFY within 2.5 s of our 100")
    # then one about T2 after the 100, before fr_timer ends the transaction
    w.wait(lambda: len(n.copies) > 1, t1xx + T2 + 2.5 - time.monotonic(),
           "retransmission about T2 after our 100")
    tr, again = n.copies[1]
    trace = describe(n.copies)
    assert tr - t1xx >= 2.5, trace
    assert again.branch == n.msg.branch and again.cseq == n.msg.cseq, trace
    assert again.body == n.msg.body, trace
    assert n.answered == 200, trace

    # answered 200: nothing more, and the subscription outlives fr_timer
    end = n.time + fr + 1.0
    wait_no_copy(w, lambda: len(n.copies) > 2,
                 max(2.0, end - time.monotonic()),
                 "copy of the NOTIFY after its 200")
    assert listed(kam, sub), "subscription removed although the NOTIFY " \
        "was answered 100 then 200: %s" % trace
    assert len(sub.notifies) == 1, [repr(x) for x in sub.notifies]


# -- 4. other final errors only log -------------------------------------------
def test_notify_answered_500_keeps_subscription(proxy, phones):
    """A 500 to a NOTIFY is final (no copy) but not fatal: the subscription
    stays listed and gets the next call's NOTIFYs."""
    a = phones("alice")
    phones("bob", invite_policy="answer")
    w = phones("watcher")
    sub = w.subscribe("bob", send=False)
    sub.notify_reply = lambda n, msg: 500 if n is sub.notifies[0] else 200
    r = sub.send(600)
    assert r.status == 200, r.first_line()
    lamp = Lamp(sub)
    n, info = lamp.pump(3, "initial NOTIFY")
    assert info is not None and info.version == 0
    assert n.answered == 500
    # a final answer: no retransmission; the subscription stays
    wait_no_copy(w, lambda: len(n.copies) > 1 or len(sub.notifies) > 1, 2.0,
                 "copy of the NOTIFY answered 500")
    assert listed(proxy, sub), "subscription removed after a 500: %s" % \
        blfutil.subscriptions(proxy)

    call = a.call("bob").wait_state("confirmed")
    lamp.wait_state("confirmed", call.call_id)
    call.bye()
    lamp.wait_state("terminated", call.call_id)
    lamp.assert_versions()
    assert listed(proxy, sub)


# -- 5. route set from the SUBSCRIBE's Record-Route ---------------------------
def test_notify_sent_to_first_record_route_hop_with_route_set(proxy, phones,
                                                              hops):
    """A SUBSCRIBE with two Record-Routes (loose routes): every NOTIFY goes
    to the first one's address with Route headers for both, in order, and
    the watcher's Contact as Request-URI; none reaches the phone itself;
    answered, it is not retransmitted."""
    a = phones("alice")
    phones("bob", invite_policy="answer")
    w = phones("watcher")
    edge, far = hops(), hops()  # edge: nearest to us; far: next to phone
    sub = w.subscribe("bob", send=False)
    r = sub.send(600, headers=[("Record-Route", "<%s>" % edge.uri),
                               ("Record-Route", "<%s>" % far.uri)])
    assert r.status == 200, r.first_line()
    contact = sipua.NameAddr.parse(w.contact).uri
    lamp = Lamp(sub)

    answered = set()

    def take(what):
        while True:
            msg = edge.recv(3, what)
            if msg.branch not in answered:
                break
            edge.answer(msg, 200)  # a copy that crossed our 200
        assert msg.method == "NOTIFY", msg.first_line()
        assert msg.uri == contact, "R-URI %s, Contact %s" % (msg.uri,
                                                             contact)
        routes = [sipua.NameAddr.parse(v).uri for v in msg.get_all("Route")]
        assert routes == [edge.uri, far.uri], "Route: %s" % \
            msg.get_all("Route")
        assert msg.call_id == sub.call_id and msg.to_tag == sub.local_tag
        assert_our_via(msg, proxy)
        n = sipua.Notify(msg, time.monotonic())
        return n, lamp.check(n)

    n, info = take("initial NOTIFY at the first Record-Route hop")
    assert info is not None and info.version == 0 and info.idle
    edge.answer(n.msg, 200)
    answered.add(n.msg.branch)
    edge.quiet(2.0)  # answered: not retransmitted
    assert not sub.notifies and not [m for m in w.stray
                                     if m.method == "NOTIFY"], \
        "NOTIFY reached the phone directly"
    far.quiet(0.1)
    assert listed(proxy, sub)

    # later NOTIFYs follow the same route set
    call = a.call("bob").wait_state("confirmed")
    # NOTIFYs of one call leave from different processes a moment apart
    # and may arrive swapped: go on until the confirmed one came and no
    # version before it is missing
    versions = [0]
    confirmed = False
    deadline = time.monotonic() + 5
    while not (confirmed and sorted(versions) == list(range(len(versions)))):
        assert time.monotonic() < deadline, \
            "no confirmed NOTIFY with versions 0..n at the hop: %s" % versions
        n, info = take("call NOTIFY at the first Record-Route hop")
        edge.answer(n.msg, 200)
        answered.add(n.msg.branch)
        versions.append(info.version)
        confirmed = confirmed or any(
            d.state == "confirmed" and d.call_id == call.call_id
            for d in info.dialogs)
    assert len(set(versions)) == len(versions), versions
    call.bye()
    assert not sub.notifies, "NOTIFY reached the phone directly"
    far.quiet(0.1)


# -- 6. Contact with a host name ----------------------------------------------
def test_contact_with_host_name_gets_notifies(proxy, phones):
    """A Contact with a host name (localhost): the initial NOTIFY (R-URI =
    that Contact) and the call's NOTIFYs arrive, versions complete."""
    a = phones("alice")
    phones("bob", invite_policy="answer")
    w = phones("watcher", contact_host="localhost")
    assert "@localhost:" in w.contact, w.contact
    lamp = blfutil.watch(w, "bob")
    first = lamp.seen[0][0]
    assert first.msg.uri == sipua.NameAddr.parse(w.contact).uri, \
        first.msg.uri
    call = a.call("bob").wait_state("confirmed")
    lamp.wait_state("confirmed", call.call_id)
    call.bye()
    lamp.wait_state("terminated", call.call_id)
    lamp.assert_versions()
    assert listed(proxy, lamp.sub)


# -- 7. who runs the transaction: the module by default, tm with notify_direct=0
def tm_local(kam):
    """tm's count of transactions it started itself (UAC)."""
    return int(kam.rpc("tm.stats")["total_local"])


def notify_a_call(kam, phones, name):
    a = phones(name + "a")
    phones(name + "b", invite_policy="answer")
    w = phones(name + "w")
    lamp = blfutil.watch(w, name + "b")
    before = tm_local(kam)
    call = a.call(name + "b").wait_state("confirmed")
    lamp.wait_state("confirmed", call.call_id)
    call.bye()
    lamp.wait_state("terminated", call.call_id)
    lamp.assert_versions()
    return lamp, tm_local(kam) - before


def test_notifies_go_through_tm_with_notify_direct_0(make_proxy, phones):
    """notify_direct=0: NOTIFYs are sent statefully through tm (so tm's
    event_route[tm:local-request] and statistics see them)."""
    kam = make_proxy(notify_direct=0)
    lamp, local = notify_a_call(kam, phones, "dflt")
    sent = len(lamp.seen) - 1  # the call's NOTIFYs, not the initial one
    assert sent >= 3, lamp.seen
    assert local >= sent, "tm started %d transactions for %d NOTIFYs" % (
        local, sent)
    assert blfutil.stats(kam)["notifies_pending"] == 0


def test_notify_direct_runs_its_own_transactions(make_proxy, phones):
    """notify_direct=1: UDP NOTIFYs to an address bypass tm (none of its
    local transactions), with the module's own branch."""
    kam = make_proxy(notify_direct=1)
    lamp, local = notify_a_call(kam, phones, "drct")
    assert local == 0, "tm started %d transactions for NOTIFYs" % local
    for n, _ in lamp.seen:
        assert n.msg.branch.startswith("z9hG4bKblf."), n.msg.branch
    blfutil.poll(lambda: blfutil.stats(kam)["notifies_pending"] == 0, 3,
                 what="every NOTIFY answered")


def blf_stat(kam, name):
    """A blf statistic (kex stats.get_statistics)."""
    res = kam.rpc("stats.get_statistics", "blf:")
    for line in (res if isinstance(res, list) else [res]):
        if isinstance(line, str) and line.startswith("blf:%s = " % name):
            return int(line.split("=", 1)[1])
    raise AssertionError("no statistic blf:%s in %r" % (name, res))


def test_notify_answers_read_off_the_wire(make_proxy, phones):
    """notify_direct=1 and nothing else looking at received data (no
    reply_route, siptrace, topoh): the watchers' 200s are matched as they
    come off the socket (blf:notify_answers_fast counts each), end their
    transactions, and nothing is retransmitted or ignored."""
    kam = make_proxy(notify_direct=1)
    before = blf_stat(kam, "notify_answers_fast")
    lamp, local = notify_a_call(kam, phones, "fast")
    assert local == 0, "tm started %d transactions for NOTIFYs" % local
    blfutil.poll(lambda: blfutil.stats(kam)["notifies_pending"] == 0, 3,
                 what="every NOTIFY answered")
    fast = blf_stat(kam, "notify_answers_fast") - before
    # the call's NOTIFYs (the initial one was answered before `before`
    # only if it came first; count what the lamp saw since)
    assert fast >= len(lamp.seen) - 1, (fast, len(lamp.seen))
    assert blf_stat(kam, "notify_answers_ignored") == 0
    for n, _ in lamp.seen:
        assert len(n.copies) == 1, "NOTIFY retransmitted although answered"
    # Kamailio still up and answering
    assert blfutil.stats(kam)["notifies_pending"] == 0


def test_answer_of_unusual_shape_goes_through_core(make_proxy, phones):
    """A 200 whose top Via carries a quoted parameter and whose To header
    is folded over two lines (both legal, RFC 3261 7.3.1, 25.1): the
    module's light reader leaves it to the core's parser, and the reply
    callback still matches it -- the NOTIFY is not retransmitted, the
    subscription lives on, and blf:notify_answers_fast does not count it."""
    kam = make_proxy(notify_direct=1)
    a = phones("odda")
    phones("oddb", invite_policy="ring")
    w = phones("oddw")
    lamp = blfutil.watch(w, "oddb")
    blfutil.poll(lambda: blfutil.stats(kam)["notifies_pending"] == 0, 3,
                 what="the initial NOTIFY answered")
    fast0 = blf_stat(kam, "notify_answers_fast")
    target = {}

    def policy(n, msg):
        if n.cseq == lamp.seen[0][0].cseq or "n" in target:
            return 200
        target["n"] = n
        ok = sipua.SipMessage.response_to(msg, 200)
        raw = ok.encode()
        head, _, rest = raw.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        for i, ln in enumerate(lines):
            if ln.lower().startswith(b"via:") and "via" not in target:
                lines[i] = ln + b';x-odd="a;b"'
                target["via"] = 1
            elif ln.lower().startswith(b"to:"):
                lines[i] = b"To:\r\n  " + ln[3:].strip()
        w._send(b"\r\n".join(lines) + b"\r\n\r\n" + rest, kam.addr)
        n.answered = 200
        return None

    lamp.sub.notify_reply = policy
    call = a.call("oddb")
    blfutil.poll(lambda: "n" in target, 5, what="the call's NOTIFY")
    n = target["n"]
    blfutil.poll(lambda: blfutil.stats(kam)["notifies_pending"] == 0, 3,
                 what="the odd answer ending its transaction")
    wait_no_copy(w, lambda: len(n.copies) > 1, 1.5,
                 "copy of the NOTIFY answered in an unusual shape")
    call.cancel()
    lamp.wait(lambda i: i.version > 1 and all(
        d.state == "terminated" for d in i.dialogs), 5, "the lamp off")
    blfutil.poll(lambda: blfutil.stats(kam)["notifies_pending"] == 0, 3,
                 what="every NOTIFY answered")
    lamp.assert_versions()
    assert listed(kam, lamp.sub)
    # every answer of the call read off the wire but the odd one
    others = len(lamp.seen) - 2  # not the initial NOTIFY, not the odd one
    assert others >= 1, lamp.seen
    assert blf_stat(kam, "notify_answers_fast") - fast0 == others
    assert blf_stat(kam, "notify_answers_ignored") == 0


def sipdump_kamailio_class():
    """The proxy with sipdump writing what it sends and receives to text
    files in its directory: sipdump listens on the core's outgoing-data
    event (SREV_NET_DATA_OUT), as topoh and siptrace's network mode do."""
    class SipdumpKamailio(kamproc.Kamailio):
        def render(self):
            text = super().render()
            line = 'loadmodule "ctl.so"\n'
            assert line in text
            self.dump_dir = os.path.join(self.dir, "sipdump")
            os.makedirs(self.dump_dir, exist_ok=True)
            text = text.replace(line, line + 'loadmodule "sipdump.so"\n'
                                'modparam("sipdump", "enable", 1)\n'
                                'modparam("sipdump", "mode", 1)\n'
                                'modparam("sipdump", "folder", "%s")\n'
                                % self.dump_dir, 1)
            with open(self.cfg_path, "w") as f:
                f.write(text)
            return text
    return SipdumpKamailio


def test_send_hook_sees_every_direct_notify(make_proxy, phones, monkeypatch):
    """notify_direct=1 with a module on the core's send path (sipdump): the
    module's own NOTIFYs, which otherwise leave a change at a time in one
    sendmmsg(), each go through the core's msg_send(), so the hook sees
    every one (README, notify_direct)."""
    monkeypatch.setattr(kamproc, "Kamailio", sipdump_kamailio_class())
    kam = make_proxy(notify_direct=1)
    lamp, local = notify_a_call(kam, phones, "hook")
    assert local == 0, "tm started %d transactions for NOTIFYs" % local
    branches = {n.msg.branch for n, _ in lamp.seen}
    assert len(branches) >= 4, lamp.seen
    assert all(b.startswith("z9hG4bKblf.") for b in branches), branches

    def sent_notifies():
        """The branches of the NOTIFYs sipdump saw leave (tag "snd"; the
        watchers' 200s, tag "rcv", carry the same branches)."""
        text = ""
        for name in os.listdir(kam.dump_dir):
            with open(os.path.join(kam.dump_dir, name), errors="replace") as f:
                text += f.read()
        out = set()
        for rec in text.split("====================\n"):
            head, _, msg = rec.partition("~~~~~~~~~~~~~~~~~~~~\n")
            if "tag: snd\n" in head and msg.startswith("NOTIFY "):
                out |= {b for b in branches if b in msg}
        return out
    blfutil.poll(lambda: sent_notifies() == branches, 5,
                 what="every NOTIFY in sipdump's files as sent")
