"""baresip.py — a real softphone no one here wrote, driven headless.

One Baresip object is one `baresip -f DIR` process (Debian's baresip 1.0.0)
with a private config directory under /tmp: its own SIP port and ctrl_tcp
port on 127.0.0.1, the account REGISTERing through the Kamailio under test
(as outbound proxy), a contact list whose entries marked `;presence=p2p` it
SUBSCRIBEs to (`Event: presence`, modules/presence/subscriber.c), and, with
`pubint` > 0, PUBLISHes of its own state (modules/presence/publisher.c).

Control goes over the ctrl_tcp socket: netstrings (`LEN:JSON,`) both ways;
a command `{"command","params","token"}` is answered by
`{"response":true,"ok":..,"data":"<text>","token":..}`, and events arrive
as `{"event":true,"class":..,"type":..,"param":..}` at any time. A reader
thread collects both; every wait is bounded (poll a command or wait for an
event until a deadline), nothing sleeps for correctness.

What baresip 1.0.0 shows for a contact's presence (src/contact.c
contact_presence_str, printed by the `contacts` command) is one of
Unknown / Online / Offline / Busy. Its subscriber maps a PIDF NOTIFY so
(regexes on the raw body): `<basic>open</basic>` → Online, else Offline;
`<rpid:away/>` → Offline, `<rpid:busy/>` or `<rpid:on-the-phone/>` → Busy;
a failed SUBSCRIBE (e.g. 489) → Unknown, retried after 30 s, 300 s, 1 h.

Facts of 1.0.0 that the config below relies on: `;mwi=no` on the account
(without it baresip re-SUBSCRIBEs to message-summary in a tight loop when
answered 489); the presence subscriber SUBSCRIBEs from the FIRST account
only; the `menu` module carries dial/accept/hangup/reginfo, `contact` the
`contacts` command; aubridge as audio source and player works with no
sound card.
"""

import itertools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import kamproc

BARESIP = os.environ.get("BARESIP", shutil.which("baresip") or
                         "/usr/bin/baresip")
MODULE_PATH = os.environ.get("BARESIP_MODULES", "/usr/lib/baresip/modules")
AUDIO_PATH = "/usr/share/baresip"

ANSI = re.compile(r"\x1b\[[0-9;]*m")
PRESENCE_STATES = ("Unknown", "Online", "Offline", "Busy")
CONTACT_LINE = re.compile(r"^\s*>?\s*(%s)\s+(.*?)\s*<([^>]+)>\s*$" %
                          "|".join(PRESENCE_STATES))


def available():
    """None when baresip can run here, else why not (a skip reason)."""
    if not os.access(BARESIP, os.X_OK):
        return "baresip not installed (%s)" % BARESIP
    for mod in ("account", "contact", "menu", "presence", "ctrl_tcp",
                "g711", "aubridge"):
        if not os.path.exists(os.path.join(MODULE_PATH, mod + ".so")):
            return "baresip module %s.so missing in %s" % (mod, MODULE_PATH)
    return None


def free_udp_tcp_port():
    """A port free for both UDP and TCP (baresip listens on both)."""
    return kamproc.free_port()


class BaresipError(AssertionError):
    pass


class Baresip:
    """Baresip(user, proxy_addr, domain, contacts=[...], pubint=0).

    contacts: entries "user" or "sip:user@host" or (display, uri); each is
    subscribed to (`;presence=p2p`) unless presence=False."""

    def __init__(self, user, proxy, domain, contacts=(), password="secret",
                 pubint=0, regint=600, answermode="manual", presence=True,
                 display=None):
        self.user = user
        self.proxy = proxy  # (host, port) of Kamailio
        self.domain = domain
        self.aor = "sip:%s@%s" % (user, domain)
        self.password = password
        self.pubint = pubint
        self.regint = regint
        self.answermode = answermode
        self.display = display or user.upper()
        self.contacts = []
        for c in contacts:
            disp, uri = c if isinstance(c, tuple) else (None, c)
            if not uri.startswith("sip:"):
                uri = "sip:%s@%s" % (uri, domain)
            self.contacts.append((disp or uri.split(":")[1].split("@")[0],
                                  uri))
        self.presence = presence
        self.dir = tempfile.mkdtemp(prefix="blf-baresip-%s-" % user,
                                    dir="/tmp")
        self.log_path = os.path.join(self.dir, "baresip.log")
        self.sip_port = None
        self.ctrl_port = None
        self.proc = None
        self.sock = None
        self._reader = None
        self._cond = threading.Condition()
        self._responses = {}
        self.events = []
        self._tokens = itertools.count(1)
        self._closed = False

    def __repr__(self):
        return "<Baresip %s sip:%s ctrl:%s>" % (self.aor, self.sip_port,
                                                 self.ctrl_port)

    # -- configuration -------------------------------------------------
    def _write_config(self):
        cfg = [
            "poll_method\t\tepoll",
            "sip_listen\t\t127.0.0.1:%d" % self.sip_port,
            "net_interface\t\t127.0.0.1",
            "call_local_timeout\t120",
            "call_max_calls\t\t4",
            "audio_path\t\t%s" % AUDIO_PATH,
            "audio_player\t\taubridge,%s" % self.user,
            "audio_source\t\taubridge,%s" % self.user,
            "audio_alert\t\taubridge,%s-alert" % self.user,
            "rtp_ports\t\t10000-60000",
            "module_path\t\t%s" % MODULE_PATH,
            "module\t\t\tg711.so",
            "module\t\t\taubridge.so",
            "module_app\t\taccount.so",
            "module_app\t\tcontact.so",
            "module_app\t\tmenu.so",
            "module_app\t\tpresence.so",
            "module_app\t\tctrl_tcp.so",
            "ctrl_tcp_listen\t\t127.0.0.1:%d" % self.ctrl_port,
            "menu_bell\t\tno",
        ]
        with open(os.path.join(self.dir, "config"), "w") as f:
            f.write("\n".join(cfg) + "\n")
        acc = ('"%s" <%s>;auth_pass=%s;outbound="sip:%s:%d";regint=%d;'
               'pubint=%d;mwi=no;answermode=%s;audio_codecs=pcmu\n' % (
                   self.display, self.aor, self.password, self.proxy[0],
                   self.proxy[1], self.regint, self.pubint, self.answermode))
        with open(os.path.join(self.dir, "accounts"), "w") as f:
            f.write(acc)
        with open(os.path.join(self.dir, "contacts"), "w") as f:
            for disp, uri in self.contacts:
                f.write('"%s" <%s>%s\n' % (
                    disp, uri, ";presence=p2p" if self.presence else ""))

    # -- lifecycle -----------------------------------------------------
    def start(self, timeout=15.0, register=True):
        last = None
        for _attempt in range(3):
            self.sip_port = free_udp_tcp_port()
            self.ctrl_port = kamproc.free_port(socket.SOCK_STREAM)
            self._write_config()
            try:
                self._start_once(timeout)
                break
            except BaresipError as e:
                last = e
                self.stop()
                if "in use" not in self.log():
                    raise
        else:
            raise last
        if register:
            self.wait_registered(timeout)
        return self

    def _start_once(self, timeout):
        logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [BARESIP, "-f", self.dir], stdin=subprocess.DEVNULL,
            stdout=logf, stderr=logf, cwd=self.dir, start_new_session=True)
        logf.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise BaresipError("baresip %s exited with %s while starting;"
                                   " log:\n%s" % (self.user,
                                                  self.proc.returncode,
                                                  self.log_tail()))
            try:
                s = socket.create_connection(("127.0.0.1", self.ctrl_port),
                                             timeout=0.5)
                break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise BaresipError("baresip %s: ctrl_tcp not up after %.0fs;"
                                   " log:\n%s" % (self.user, timeout,
                                                  self.log_tail()))
            time.sleep(0.05)  # polling interval of a bounded readiness wait
        s.settimeout(None)
        self.sock = s
        self._closed = False
        self._reader = threading.Thread(target=self._read_loop, daemon=True,
                                        name="baresip-%s" % self.user)
        self._reader.start()

    def stop(self, timeout=5.0):
        """Stops the process by its PID: `quit` would PUBLISH/unSUBSCRIBE,
        which tests of teardown do not want to depend on; SIGTERM, then
        SIGKILL after a bound."""
        self._closed = True
        if self.sock is not None:
            try:
                self.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            self.sock.close()
            self.sock = None
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout)
        self.proc = None

    def kill(self):
        """SIGKILL: the phone vanishes without unregistering."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(5)
        self.stop()

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return ANSI.sub("", f.read().decode("utf-8", "replace"))
        except FileNotFoundError:
            return ""

    def log_tail(self, lines=60):
        return "\n".join(self.log().splitlines()[-lines:])

    # -- ctrl_tcp ------------------------------------------------------
    def _read_loop(self):
        buf = b""
        sock = self.sock
        while not self._closed:
            try:
                data = sock.recv(65536)
            except OSError:
                break
            if not data:
                break
            buf += data
            while True:
                colon = buf.find(b":")
                if colon < 0 or colon > 10:
                    break
                try:
                    n = int(buf[:colon])
                except ValueError:  # not a netstring: drop the junk
                    buf = b""
                    break
                if len(buf) < colon + 1 + n + 1:
                    break
                payload = buf[colon + 1:colon + 1 + n]
                buf = buf[colon + 1 + n + 1:]  # the trailing ','
                try:
                    msg = json.loads(payload.decode("utf-8", "replace"))
                except ValueError:
                    continue
                with self._cond:
                    if msg.get("response"):
                        self._responses[msg.get("token")] = msg
                    elif msg.get("event"):
                        msg["_time"] = time.monotonic()
                        self.events.append(msg)
                    self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    def command(self, command, params=None, timeout=5.0, check=True):
        """Runs a baresip command; returns its `data` text (ANSI colours
        removed). check: raise when baresip says ok=false."""
        if self.sock is None:
            raise BaresipError("baresip %s is not running" % self.user)
        token = "t%d" % next(self._tokens)
        req = {"command": command, "token": token}
        if params is not None:
            req["params"] = params
        data = json.dumps(req).encode()
        self.sock.sendall(b"%d:%s," % (len(data), data))
        deadline = time.monotonic() + timeout
        with self._cond:
            while token not in self._responses:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BaresipError("baresip %s: no answer to %r in %.1fs"
                                       % (self.user, command, timeout))
                self._cond.wait(left)
            resp = self._responses.pop(token)
        text = ANSI.sub("", resp.get("data") or "")
        if check and not resp.get("ok"):
            raise BaresipError("baresip %s: %s %s failed: %s" % (
                self.user, command, params or "", text))
        return text

    def poll(self, fn, timeout, what, interval=0.1):
        """Calls fn() until it returns a true value, at most timeout s."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            last = fn()
            if last:
                return last
            if time.monotonic() > deadline:
                raise BaresipError("baresip %s: timed out after %.1fs waiting"
                                   " for %s (last: %r)\nlog:\n%s" % (
                                       self.user, timeout, what, last,
                                       self.log_tail(30)))
            time.sleep(interval)  # polling interval of a bounded wait

    def wait_event(self, pred, timeout=10.0, what="event", since=0):
        """The first event (index >= since) for which pred(ev) holds."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for ev in self.events[since:]:
                    if pred(ev):
                        return ev
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BaresipError(
                        "baresip %s: no %s in %.1fs; events: %s" % (
                            self.user, what, timeout,
                            [(e.get("class"), e.get("type"), e.get("param"))
                             for e in self.events[since:]][-12:]))
                self._cond.wait(left)

    def wait_call_event(self, etype, timeout=10.0, since=0):
        return self.wait_event(lambda e: e.get("type") == etype, timeout,
                               etype, since)

    # -- what a user does ----------------------------------------------
    def registered(self):
        """True when baresip's `reginfo` says its REGISTER got 200."""
        out = self.command("reginfo")
        return bool(re.search(r"\bOK\b", out))

    def wait_registered(self, timeout=10.0):
        return self.poll(self.registered, timeout, "REGISTER 200 (reginfo)")

    def contacts_status(self):
        """{contact uri: "Unknown"|"Online"|"Offline"|"Busy"} as the
        `contacts` command prints it."""
        out = self.command("contacts")
        status = {}
        for line in out.splitlines():
            m = CONTACT_LINE.match(line)
            if m:
                status[m.group(3)] = m.group(1)
        return status

    def presence_of(self, uri):
        if not uri.startswith("sip:"):
            uri = "sip:%s@%s" % (uri, self.domain)
        return self.contacts_status().get(uri)

    def wait_presence(self, uri, *states, timeout=10.0):
        """Until the contact's status is one of states; returns it."""
        seen = []

        def shown():
            cur = self.presence_of(uri)
            if not seen or seen[-1] != cur:
                seen.append(cur)
            return cur if cur in states else None
        try:
            return self.poll(shown, timeout, "%s shown as %s" % (
                uri, "/".join(states)))
        except BaresipError as e:
            raise BaresipError("%s\n(%s was shown as %s)" % (
                e, uri, " -> ".join(map(str, seen)))) from None

    def dial(self, target):
        if not target.startswith("sip:"):
            target = "sip:%s@%s" % (target, self.domain)
        mark = len(self.events)
        self.command("dial", target)
        return mark

    def accept(self):
        self.command("accept")

    def hangup(self):
        self.command("hangup")

    def calls(self):
        return self.command("listcalls")
