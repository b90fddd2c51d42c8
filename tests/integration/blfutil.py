"""blfutil.py — what the tests check on every NOTIFY, and RPC readers.

Lamp follows one subscription the way a phone does: every NOTIFY is checked
(headers, schema, entity, state="full") and parsed; the newest version is
the lamp's current state. Versions may arrive out of order over UDP (the
module may send from several processes), a phone then keeps the highest, so
the order checks use version order; assert_versions() checks that the
versions are exactly 0, 1, 2 ... with no gap nor repeat.
"""

import re
import time

import rfc4235
import sipua

CT = "application/dialog-info+xml"


class Lamp:
    def __init__(self, sub, entity=None, event_id=None, allow_empty=False):
        self.sub = sub
        self.allow_empty = allow_empty  # stock presence: body-less NOTIFYs
        self.entity = sub.target if entity is None else entity
        self.event_id = event_id
        self.seen = []  # (Notify, DialogInfo) in arrival order

    # -- intake -----------------------------------------------------------
    def pump(self, timeout=5.0, what=None):
        """Takes the next NOTIFY of the subscription, checks and parses it."""
        n = self.sub.next_notify(timeout, what)
        info = self.check(n)
        self.seen.append((n, info))
        return n, info

    def check(self, n):
        ev = (n.event or "").split(";")
        assert ev[0].strip().lower() == "dialog", "NOTIFY Event: %r" % n.event
        if self.event_id is not None:
            params = sipua.parse_params(";".join(ev[1:]))
            assert params.get("id") == self.event_id, \
                "NOTIFY Event %r lacks id=%s" % (n.event, self.event_id)
        assert n.state in ("active", "pending", "terminated"), \
            "Subscription-State: %r" % n.subscription_state
        if n.state == "active":
            assert n.expires is not None, \
                "active Subscription-State without expires: %r" % \
                n.subscription_state
        if n.state == "terminated":
            assert n.reason, "terminated without reason: %r" % \
                n.subscription_state
        if self.sub.remote_tag:
            assert n.msg.from_tag == self.sub.remote_tag, \
                "NOTIFY From tag %s != SUBSCRIBE dialog's %s" % (
                    n.msg.from_tag, self.sub.remote_tag)
        if not n.body.strip():
            # RFC 6665 allows a body-less final NOTIFY; others need one
            assert n.state == "terminated" or self.allow_empty, \
                "NOTIFY without body: %s" % n.msg
            return None
        assert (n.content_type or "").split(";")[0].strip().lower() == CT, \
            "NOTIFY Content-Type: %r" % n.content_type
        info = rfc4235.parse(n.body)
        assert info.state == "full", "dialog-info state=%r" % info.state
        if self.entity is not False:
            assert info.entity == self.entity, \
                "dialog-info entity %r, expected %r" % (info.entity,
                                                        self.entity)
        for d in info.dialogs:
            assert d.id, "dialog without id: %s" % info.raw
            assert d.direction in (None,) + rfc4235.DIRECTIONS
        return info

    def drain(self):
        """Takes every NOTIFY already received."""
        while self.sub.pending():
            self.pump(0.1)

    # -- views ------------------------------------------------------------
    def infos(self):
        """Parsed bodies in version order."""
        return sorted((i for _, i in self.seen if i is not None),
                      key=lambda i: i.version)

    @property
    def current(self):
        infos = self.infos()
        return infos[-1] if infos else None

    def complete(self, timeout=2.0):
        """Waits until the versions received have no gap (a NOTIFY sent
        before the last one may still be on its way)."""
        def versions():
            return sorted(i.version for _, i in self.seen if i is not None)
        deadline = time.monotonic() + timeout
        while versions() != list(range(len(versions()))):
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("%s: versions %s have a gap" % (
                    self.entity, versions()))
            try:
                self.pump(left, "the NOTIFY of a missing version")
            except sipua.SipTimeout:
                pass

    def history(self, call_id=None):
        """The states of one call (any call when call_id is None) in
        version order, repeated states collapsed."""
        self.complete()
        out = []
        for info in self.infos():
            for d in info.dialogs:
                if call_id is None or d.call_id == call_id:
                    if not out or out[-1] != d.state:
                        out.append(d.state)
        return out

    def dialogs(self, call_id=None):
        return [d for info in self.infos() for d in info.dialogs
                if call_id is None or d.call_id == call_id]

    # -- waits ------------------------------------------------------------
    def wait(self, pred, timeout=5.0, what="lamp condition"):
        """Pumps NOTIFYs until pred(info) holds for a received body;
        returns that DialogInfo."""
        for _, info in self.seen:
            if info is not None and pred(info):
                return info
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise sipua.SipTimeout(
                    "%s: no NOTIFY with %s within %.1fs; bodies seen:\n%s" % (
                        self.entity, what, timeout,
                        "\n".join(i.raw for _, i in self.seen if i)))
            try:
                _, info = self.pump(left, what)
            except sipua.SipTimeout:
                continue
            if info is not None and pred(info):
                return info

    def wait_state(self, state, call_id=None, timeout=5.0):
        """The first <dialog> (of call_id, or any) in the given state."""
        def pred(info):
            return any(d.state == state and (call_id is None or
                                             d.call_id == call_id)
                       for d in info.dialogs)
        info = self.wait(pred, timeout, "a %s dialog%s" % (
            state, " call-id %s" % call_id if call_id else ""))
        return next(d for d in info.dialogs if d.state == state and (
            call_id is None or d.call_id == call_id))

    def wait_idle(self, timeout=5.0):
        return self.wait(lambda i: i.idle, timeout, "an empty dialog-info")

    def wait_final(self, timeout=5.0):
        """The NOTIFY with Subscription-State: terminated."""
        for n, _ in self.seen:
            if n.state == "terminated":
                return n
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise sipua.SipTimeout("%s: no terminated NOTIFY within "
                                       "%.1fs" % (self.entity, timeout))
            try:
                n, _ = self.pump(left, "terminated NOTIFY")
            except sipua.SipTimeout:
                continue
            if n.state == "terminated":
                return n

    def refresh(self, expires=None, timeout=2.0):
        """Refreshes the subscription and returns the full state of the
        first NOTIFY sent after the refresh took effect. That NOTIFY is told
        apart from ones already under way by its Subscription-State expires:
        the refresh asks for a value far from the current one."""
        self.drain()
        cur = [n.expires for n, _ in self.seen if n.expires is not None]
        if expires is None:
            expires = 300 if not cur or cur[-1] > 450 else 600
        if cur:
            assert abs(cur[-1] - expires) >= 60, "pick a refresh Expires " \
                "far from the current %d" % cur[-1]
        r = self.sub.refresh(expires)
        assert r.status == 200, "refresh: %s" % r.first_line()
        granted = int(r.get("Expires"))
        start = len(self.seen)

        def after(info):
            for n, i in self.seen[start:]:
                if i is not None and n.expires is not None and \
                        abs(n.expires - granted) <= 10:
                    return True
            return False
        self.wait(after, timeout, "NOTIFY after the refresh (expires~%d)" %
                  granted)
        return next(i for n, i in self.seen[start:] if i is not None and
                    n.expires is not None and abs(n.expires - granted) <= 10)

    # -- whole-subscription checks -----------------------------------------
    def assert_versions(self):
        """versions 0, 1, 2 ... each once; CSeq rising with the version."""
        self.drain()
        try:
            self.complete()
        except AssertionError:
            pass  # reported below with the arrival order
        pairs = [(i.version, n.cseq) for n, i in self.seen if i is not None]
        versions = sorted(v for v, _ in pairs)
        assert versions == list(range(len(versions))), \
            "versions of %s are %s (arrival order %s), expected 0..%d" % (
                self.entity, versions, [v for v, _ in pairs],
                len(versions) - 1)
        cseqs = [c for _, c in sorted(pairs)]
        assert cseqs == sorted(set(cseqs)), \
            "NOTIFY CSeq not rising with the version: %s" % sorted(pairs)
        return versions


def records(result, key):
    """Every dict in an RPC result (any nesting) that has key."""
    out = []

    def walk(x):
        if isinstance(x, dict):
            if key in x:
                out.append(x)
                return
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
    walk(result)
    return out


def listing(kam, method, key, *args, max_pages=1000):
    """Every item of a paged listing RPC (blf.subscriptions, blf.entities,
    blf.parks, blf.aliases): pages of up to 1000 are read until the closing
    summary struct says there is no more. args: the filter, if any."""
    filt = args[0] if args else "*"
    items, offset = [], 0
    for _ in range(max_pages):
        res = kam.rpc(method, filt, offset, 1000)
        items += records(res, key)
        summ = records(res, "total")
        if not summ or not int(summ[-1].get("more", 0)):
            return items
        offset = int(summ[-1]["next"])
    raise AssertionError("%s: more than %d pages" % (method, max_pages))


def subscriptions(kam, *args):
    return listing(kam, "blf.subscriptions", "watcher", *args)


def entities(kam, *args):
    return listing(kam, "blf.entities", "entity", *args)


def stats(kam):
    """blf.stats as one dict of counters."""
    res = kam.rpc("blf.stats")
    flat = {}

    def walk(x):
        if isinstance(x, dict):
            for k, v in x.items():
                if isinstance(v, (dict, list)):
                    walk(v)
                else:
                    flat[k.split(":")[-1]] = v
        elif isinstance(x, list):
            for v in x:
                walk(v)
    walk(res)
    return flat


def poll(fn, timeout=5.0, interval=0.05, what="condition"):
    """Calls fn() until it returns a true value (returned), at most timeout
    seconds: for state only visible through RPC."""
    deadline = time.monotonic() + timeout
    last = None
    while True:
        last = fn()
        if last:
            return last
        if time.monotonic() > deadline:
            raise AssertionError("%s not reached within %.1fs (last: %r)" % (
                what, timeout, last))
        time.sleep(interval)


def parse_kamcmd(text):
    """Parses kamcmd's printing of RPC answers: `{` / `}` open and close
    structs, `name: value` members, `name: {` nested structs, other lines
    plain values. Returns the list of top-level values."""
    top = []
    stack = [top]

    def put(container, key, value):
        if isinstance(container, list):
            container.append(value)
        elif key in container:
            if not isinstance(container[key], list) or \
                    key not in container.get("__multi__", ()):
                container[key] = [container[key]]
                container.setdefault("__multi__", set()).add(key)
            container[key].append(value)
        else:
            container[key] = value

    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line == "{":
            d = {}
            put(stack[-1], None, d)
            stack.append(d)
        elif line == "}":
            if len(stack) > 1:
                d = stack.pop()
                d.pop("__multi__", None)
        else:
            m = re.match(r"^([^:\s][^:]*?):\s*(.*)$", line)
            if m and isinstance(stack[-1], dict):
                key, val = m.group(1), m.group(2)
                if val == "{":
                    d = {}
                    put(stack[-1], key, d)
                    stack.append(d)
                else:
                    put(stack[-1], key, _scalar(val))
            else:
                put(stack[-1], None, _scalar(line))
    return top


def _scalar(v):
    return int(v) if re.fullmatch(r"-?\d+", v) else v


def watch(phone, target, expires=600, **kw):
    """Subscribes phone to target, asserts the 200 and the initial idle
    full-state NOTIFY (version 0); returns the Lamp."""
    sub = phone.subscribe(target, expires=expires, **kw)
    r = sub.responses[-1]
    assert r.status == 200, "SUBSCRIBE %s: %s" % (target, r.first_line())
    lamp = Lamp(sub)
    n, info = lamp.pump(3, "initial NOTIFY")
    assert n.state == "active", n.subscription_state
    assert info is not None and info.version == 0, info
    return lamp


PRIORITY = {"terminated": 0, "trying": 1, "proceeding": 2, "early": 3,
            "confirmed": 4}


def colors(lamp, call_id=None):
    """What a lamp shows per NOTIFY (version order), repeats collapsed: the
    most advanced state among the dialogs of call_id (any call when None),
    "idle" when there is none."""
    lamp.complete()
    out = []
    for info in lamp.infos():
        ds = [d for d in info.dialogs
              if call_id is None or d.call_id == call_id]
        c = max((d.state for d in ds), key=PRIORITY.get) if ds else "idle"
        if not out or out[-1] != c:
            out.append(c)
    return out


def shm_used(kam):
    """core.shmmem real_used once it stops moving (timers free lazily)."""
    last = None
    deadline = time.monotonic() + 10
    while True:
        cur = int(kam.rpc("core.shmmem")["real_used"])
        if cur == last or time.monotonic() > deadline:
            return cur
        last = cur
        time.sleep(0.2)  # poll interval of a bounded wait
