"""kamproc.py — one real Kamailio process for a test.

Renders kamailio.cfg.tpl into a private directory under /tmp (short paths:
unix socket names are limited to 108 bytes), starts `kamailio -DD -E` with
its log in that directory, waits until its RPC answers, and stops it by PID
(SIGTERM, then SIGKILL after a bound). RPC goes over the jsonrpcs datagram
socket (JSON answers) and, for what an operator types, over ctl with kamcmd.
"""

import itertools
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, os.pardir, os.pardir))
TEMPLATE = os.path.join(HERE, "kamailio.cfg.tpl")
KEMI_SCRIPT = os.path.join(HERE, "kemi_route.js")
BLF_MODULE = os.environ.get("BLF_MODULE",
                            os.path.join(REPO, "modules", "blf", "blf.so"))
# Which Kamailio: the installed one unless the environment names another
# (`make test-kamailio6` runs the suite on a Kamailio 6.0 built in build/).
KAMAILIO_MODULES = os.environ.get(
    "KAMAILIO_MODULES", "/usr/lib/x86_64-linux-gnu/kamailio/modules")
KAMAILIO = (os.environ.get("KAMAILIO") or shutil.which("kamailio")
            or "/usr/sbin/kamailio")
KAMCMD = (os.environ.get("KAMCMD") or shutil.which("kamcmd")
          or "/usr/sbin/kamcmd")
# the SQL scripts of that Kamailio (db_sqlite/presence-create.sql & co.)
KAMAILIO_SHARE = os.environ.get("KAMAILIO_SHARE", "/usr/share/kamailio")
DOMAIN = "blf.test"
AUTH_PASSWORD = "secret"


class RpcError(Exception):
    def __init__(self, method, error):
        super().__init__("%s: %s" % (method, error))
        self.error = error


class StartError(Exception):
    pass


# Ports for the servers the tests start (Kamailio, HTTP, PostgreSQL,
# baresip) come from below the kernel's ephemeral range: a port the kernel
# hands out for port 0 can be taken again by any client socket (a test
# phone, a resolver, libcurl) between the pick and the server's bind, which
# is how a cluster node once failed with "Address already in use".  Each
# port is handed out once per run and is free for both UDP and TCP when
# handed out.
_PORT_LOW, _PORT_HIGH = 20000, 32000
_handed_out = set()
_port_rng = random.Random(os.getpid() ^ int(time.time()))


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(port, kind):
    s = socket.socket(socket.AF_INET, kind)
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


def free_port(kind=None):
    """A port no one holds for UDP or TCP, outside the ephemeral range,
    not handed out before in this run (`kind` is accepted for the callers
    that name the one they need; both are checked)."""
    high = min(_PORT_HIGH, _ephemeral_low() - 1)
    for _ in range(500):
        port = _port_rng.randint(_PORT_LOW, high)
        if port in _handed_out:
            continue
        if _bindable(port, socket.SOCK_DGRAM) and \
                _bindable(port, socket.SOCK_STREAM):
            _handed_out.add(port)
            return port
    raise OSError("no free port in %d-%d" % (_PORT_LOW, high))


def free_udp_port():
    return free_port(socket.SOCK_DGRAM)


def free_tcp_port():
    return free_port(socket.SOCK_STREAM)


def env_blf_params():
    """BLF_TEST_PARAMS="name=value,..." adds blf modparams to every Kamailio
    of the run (a test's own parameters win): `make integration-tm`
    runs tests with notify_direct=0 this way."""
    out = {}
    for item in os.environ.get("BLF_TEST_PARAMS", "").split(","):
        if "=" in item:
            k, v = item.split("=", 1)
            out[k.strip()] = int(v) if v.strip().lstrip("-").isdigit() \
                else v.strip()
    return out


def blf_param_lines(params):
    out = []
    for k, v in params.items():
        if isinstance(v, (int, bool)):
            out.append('modparam("blf", "%s", %d)' % (k, int(v)))
        else:
            out.append('modparam("blf", "%s", "%s")' % (k, v))
    return "\n".join(out)


class Kamailio:
    """blf: load the module; track: call blf_track() on initial INVITEs;
    params: blf modparams; auth: digest-challenge REGISTER; presence: the
    stock presence + pua_dialoginfo stack (harness check); kemi: route in
    JavaScript through KSR.blf.* (kemi_route.js); usrloc: load usrloc +
    registrar (REGISTER saved, INVITE looked up; False: no registrar, so
    REGISTER gets 405); publish: route PUBLISH to blf_handle_publish();
    presence_xml: with presence, stock presence_xml too (Event: presence
    served by the stock stack, for harness self-checks)."""

    def __init__(self, blf=True, params=None, track=True, auth=False,
                 presence=False, fr_timer=2000, fr_inv_timer=30000,
                 wt_timer=2000, debug=2, kemi=False, usrloc=True,
                 publish=False, presence_xml=False, defines=()):
        self.kemi = kemi
        self.defines = list(defines)  # more #!define names (the template's)
        self.usrloc = usrloc
        self.publish = publish
        self.presence_xml = presence_xml
        self.blf = blf
        self.params = dict(env_blf_params(), **(params or {}))
        self.track = track
        self.auth = auth
        self.presence = presence
        self.fr_timer = fr_timer
        self.fr_inv_timer = fr_inv_timer
        self.wt_timer = wt_timer
        self.debug = debug
        self.dir = tempfile.mkdtemp(prefix="blf-it-", dir="/tmp")
        self.cfg_path = os.path.join(self.dir, "kamailio.cfg")
        self.log_path = os.path.join(self.dir, "kamailio.log")
        self.ctl_socket = os.path.join(self.dir, "ctl.sock")
        self.rpc_socket = os.path.join(self.dir, "rpc.sock")
        self.db_path = os.path.join(self.dir, "presence.db")
        self.port = None
        self.proc = None
        self.pids = []
        self._ids = itertools.count(1)

    @property
    def addr(self):
        return ("127.0.0.1", self.port)

    # -- configuration --------------------------------------------------------
    def render(self):
        defines = []
        if self.blf:
            defines.append("#!define WITH_BLF")
            if self.track:
                defines.append("#!define WITH_BLF_TRACK")
            if self.publish:
                defines.append("#!define WITH_BLF_PUBLISH")
        if self.usrloc:
            defines.append("#!define WITH_USRLOC")
        if self.auth:
            defines.append("#!define WITH_AUTH")
        if self.presence:
            defines.append("#!define WITH_PRESENCE")
            if self.presence_xml:
                defines.append("#!define WITH_PRESENCE_XML")
        if self.kemi:
            defines.append("#!define WITH_KEMI")
        defines += ["#!define " + d for d in self.defines]
        values = {
            "KEMI_SCRIPT": KEMI_SCRIPT,
            "DEFINES": "\n".join(defines), "DEBUG": str(self.debug),
            "PORT": str(self.port), "DOMAIN": DOMAIN,
            "MPATH": KAMAILIO_MODULES, "BLF_MODULE": BLF_MODULE,
            "CTL_SOCKET": self.ctl_socket, "RPC_SOCKET": self.rpc_socket,
            "FR_TIMER": str(self.fr_timer),
            "FR_INV_TIMER": str(self.fr_inv_timer),
            "WT_TIMER": str(self.wt_timer),
            "BLF_PARAMS": blf_param_lines(self.params),
            "DB_PATH": self.db_path, "AUTH_PASSWORD": AUTH_PASSWORD,
        }
        with open(TEMPLATE) as f:
            text = f.read()
        text = re.sub(r"\{\{(\w+)\}\}", lambda m: values[m.group(1)], text)
        with open(self.cfg_path, "w") as f:
            f.write(text)
        return text

    def _make_presence_db(self):
        if os.path.exists(self.db_path):
            return
        share = os.path.join(KAMAILIO_SHARE, "db_sqlite")
        sql = ""
        for name in ("standard-create.sql", "presence-create.sql"):
            with open(os.path.join(share, name)) as f:
                sql += f.read() + "\n"
        subprocess.run(["sqlite3", self.db_path], input=sql.encode(),
                       check=True, capture_output=True, timeout=20)

    # -- lifecycle ------------------------------------------------------------
    def start(self, timeout=15.0):
        last = None
        for _attempt in range(3):
            self.port = free_udp_port()
            self.render()
            if self.presence:
                self._make_presence_db()
            try:
                self._start_once(timeout)
                return self
            except StartError as e:
                last = e
                self.stop()
                if "Address already in use" not in self.log():
                    raise
        raise last

    def _start_once(self, timeout):
        for p in (self.ctl_socket, self.rpc_socket):
            if os.path.exists(p):
                os.unlink(p)
        logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [KAMAILIO, "-f", self.cfg_path, "-DD", "-E", "-m", "64", "-M",
             "8", "-w", self.dir],
            stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
            cwd=self.dir, start_new_session=True)
        logf.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise StartError("kamailio exited with %s while starting; "
                                 "log:\n%s" % (self.proc.returncode,
                                               self.log_tail()))
            if os.path.exists(self.rpc_socket):
                try:
                    psx = self.rpc("core.psx", timeout=1.0)
                    self.pids = sorted({int(p["PID"])
                                        for p in psx if "PID" in p})
                    break
                except (OSError, RpcError, ValueError, KeyError):
                    pass
            if time.monotonic() > deadline:
                raise StartError("kamailio not ready after %.0fs; log:\n%s"
                                 % (timeout, self.log_tail()))
            time.sleep(0.05)  # polling interval of a bounded readiness wait

    shutdown_crash = None  # main process exit status when it crashed
    hang_stack = None  # main process stack when a stop timed out

    def stop(self, timeout=5.0):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            if terminate(self.proc, timeout, self.log_path):
                # Kamailio exits 0 on SIGTERM: anything else (a signal) is a
                # crash of the main process while modules shut down
                if self.proc.returncode != 0:
                    self.shutdown_crash = self.proc.returncode
            else:
                # where it hangs, for the warning or failure that follows
                self.hang_stack = stacks_of_group(self.proc.pid)
                self.proc.kill()
                self.proc.wait(timeout)
        # children that outlived the main process (it was SIGKILLed): the
        # whole process group (its session, start_new_session), as core.psx
        # may have been read before every child was forked
        self.kill_group()
        self.proc = None

    def kill_group(self):
        """SIGKILL of every process of this Kamailio (a crash): its process
        group, whose id is the main process's PID."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for pid in self.pids:
            if pid != self.proc.pid and _is_kamailio(pid):
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    @property
    def running(self):
        return self.proc is not None and self.proc.poll() is None

    # -- logs -----------------------------------------------------------------
    def log(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def log_tail(self, lines=80):
        return "\n".join(self.log().splitlines()[-lines:])

    # -- RPC ----------------------------------------------------------------
    def rpc(self, method, *params, timeout=5.0):
        """JSON-RPC over the jsonrpcs datagram socket; returns "result"."""
        req = {"jsonrpc": "2.0", "method": method, "id": next(self._ids)}
        if params:
            req["params"] = list(params)
        path = os.path.join(self.dir, "c%d-%d.sock" % (os.getpid(),
                                                        req["id"]))
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            s.bind(path)
            s.settimeout(timeout)
            s.sendto(json.dumps(req).encode(), self.rpc_socket)
            data = s.recv(1 << 20)
        finally:
            s.close()
            if os.path.exists(path):
                os.unlink(path)
        ans = json.loads(data.decode("utf-8", "replace"))
        if "error" in ans:
            raise RpcError(method, ans["error"])
        return ans.get("result")

    def kamcmd(self, *args, timeout=10.0, check=True):
        """kamcmd over the ctl socket; returns its stdout."""
        r = subprocess.run([KAMCMD, "-s", "unix:" + self.ctl_socket] +
                           [str(a) for a in args], capture_output=True,
                           timeout=timeout)
        out = r.stdout.decode("utf-8", "replace")
        if check and r.returncode != 0:
            raise RpcError(" ".join(map(str, args)), "kamcmd rc=%d: %s%s" % (
                r.returncode, out, r.stderr.decode("utf-8", "replace")))
        return out


CRASH = re.compile(r"BUG:|exited by a signal|core was generated|"
                   r"CRITICAL: <core> \[core/mem/")


class FastUlKamailio(Kamailio):
    """A Kamailio whose usrloc expiry timer runs every second (default 60 s):
    for tests of contacts that expire."""

    def render(self):
        text = super().render()
        line = 'loadmodule "registrar.so"\n'
        assert line in text
        text = text.replace(line, line +
                            'modparam("usrloc", "timer_interval", 1)\n')
        with open(self.cfg_path, "w") as f:
            f.write(text)
        return text


_version = None


def kamailio_version():
    """(major, minor) of the Kamailio binary the tests run (KAMAILIO)."""
    global _version
    if _version is None:
        out = subprocess.run([KAMAILIO, "-v"], stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True,
                             timeout=20).stdout
        m = re.search(r"kamailio (\d+)\.(\d+)", out)
        _version = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
    return _version


# Kamailio's tls module with OpenSSL 3 (Debian 12's) frees some OpenSSL
# blocks twice, mostly at shutdown; qm catches it ("- ignoring"). A known
# Kamailio issue (kamailio#3205, #3635; 5.7+ has tls_threads_mode for it),
# not blf's: only the DMQ-over-TLS test loads tls.so.
KNOWN = re.compile(r"freeing already freed pointer .*called from tls: "
                   r"tls_init\.c: ser_(free|malloc)")


def crash_lines(log, limit=12):
    """Log lines that tell of a crash or memory corruption."""
    return [line for line in log.splitlines()
            if CRASH.search(line) and not KNOWN.search(line)][:limit]


def stack_of(pid):
    """The backtrace of process pid (gdb, bounded), else its kernel wait
    channel: to name where a stop hangs."""
    if shutil.which("gdb"):
        try:
            r = subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex", "bt"],
                               capture_output=True, text=True, timeout=30)
            frames = [line for line in r.stdout.splitlines()
                      if line.startswith("#")]
            if frames:
                return "\n".join(frames)
        except (OSError, subprocess.TimeoutExpired):
            pass
    try:
        with open("/proc/%d/wchan" % pid) as f:
            return "wchan " + f.read()
    except OSError:
        return "(no stack)"


# A child that is still running this long after the main process got
# SIGTERM (and passed it on) gets it again from the harness.
RESIGNAL_AFTER = 3.0


def terminate(proc, timeout, log_path=None):
    """Stops a Kamailio as its service manager would: SIGTERM to the main
    process, which sends it on to every child, waits for them, then runs
    the modules' destroy (blf's final flush); True when it exited within
    timeout. Under load (Kamailio 6.0, two busy loops beside four test
    runs) a child was seen, about once in 100 stops, still sleeping in
    its timer loop with nothing pending, its SIGTERM gone (Kamailio's own
    secondary timer as well as blf's processes; a second SIGTERM ends it
    at once), the main process waiting for it in shutdown_children()
    until ser_kill_timeout. systemd
    (KillMode=control-group) sends SIGTERM to every process of the service
    anyway; the harness sends it again to the children still running
    after RESIGNAL_AFTER seconds and notes it in the log."""
    proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + timeout
    try:
        proc.wait(min(RESIGNAL_AFTER, timeout))
        return True
    except subprocess.TimeoutExpired:
        pass
    left = [pid for pid in group_live(proc.pid) if pid != proc.pid]
    for pid in left:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    if left and log_path:
        with open(log_path, "ab") as f:
            f.write(b"==== harness: SIGTERM again to children %s, still "
                    b"running %.0f s after the main process's ====\n" % (
                        ", ".join(map(str, left)).encode(), RESIGNAL_AFTER))
    try:
        proc.wait(max(0.1, deadline - time.monotonic()))
        return True
    except subprocess.TimeoutExpired:
        return False


def group_live(pgid):
    """PIDs of group pgid's processes that still run (zombies waiting for
    a reaper that may never come, as PID 1 of some containers, do not)."""
    return [pid for pid in _group_members(pgid)
            if _state(pid) not in ("Z", None)]


def _state(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return None


def stacks_of_group(pgid):
    """The main process's backtrace, then each live child's of its process
    group: the main process waiting in shutdown_children() names nothing,
    the child that did not exit on SIGTERM does."""
    out = [stack_of(pgid)]
    for pid in sorted(_group_members(pgid)):
        if pid == pgid:
            continue
        state = _state(pid)
        if state not in ("Z", None):
            out.append("child %d (state %s, %s):\n%s" % (
                pid, state, _signal_masks(pid), stack_of(pid)))
    return "\n".join(out)


def _signal_masks(pid):
    """SigPnd/ShdPnd/SigBlk/SigIgn/SigCgt of /proc/pid/status: whether a
    SIGTERM is pending, blocked, ignored or caught there."""
    try:
        with open("/proc/%d/status" % pid) as f:
            return " ".join(line.strip().replace(":\t", "=")
                            for line in f if line.startswith(
                                ("SigPnd", "ShdPnd", "SigBlk", "SigIgn",
                                 "SigCgt")))
    except OSError:
        return "no status"


def _group_members(pgid):
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            if int(fields[2]) == pgid:
                pids.append(int(d))
        except (OSError, IndexError, ValueError):
            continue
    return pids


def _is_kamailio(pid):
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip() == "kamailio"
    except OSError:
        return False
