#!/usr/bin/env python3
"""bench/run.py — the orchestrator of `make bench`.

Runs one BLF workload against two Kamailio instances, one after the other,
on distinct ports, with the same parameters and the same number of children:
  stock  dialog + pua_dialoginfo -> PUBLISH -> presence + presence_dialoginfo
  blf    dialog + the blf module (skipped as "not available" when its .so is
         missing or Kamailio refuses to start with it)
  blf-presence / blf-list  the blf module with presence watchers (after a
         PUBLISH per extension) / RFC 4662 list subscriptions (lists served
         by ListServer below), reported against the blf side's dialog NOTIFY
For each side it starts Kamailio from a rendered template (stock.cfg,
blf.cfg), drives the load generator (blfgen) phase by phase, samples the CPU
time of every Kamailio process from /proc and the shared memory from
`kamcmd core.shmmem` between phases, stops what it started by PID, and
finally prints both sides with their ratios and writes the JSON to
bench/results/.

Standard library only (no PyPI here). Every wait is bounded.
"""

import argparse
import datetime
import json
import os
import re
import selectors
import shutil
import sqlite3
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
# stock: presence + pua_dialoginfo; blf: the module as configured by default
# (notify_direct=1: UDP NOTIFYs as the module's own transactions); blf-tm:
# notify_direct=0 (every NOTIFY through tm)
# blf-presence: the same workload with Event: presence watchers (PIDF),
# after one PUBLISH per extension; blf-list: one RFC 4662 list subscription
# per LIST_SIZE watchers (lists served over HTTP by ListServer below)
SIDE_NAMES = ["stock", "blf", "blf-tm", "blf-presence", "blf-list", "floor",
              "blf-calls"]
# blf-calls: the blf side's config and calls with one subscription: what
# the calls alone cost (relayed through tm and dialog, tracked by blf), so
# that the blf side's CPU per NOTIFY can be read without them (a diagnostic)
# blf-mi<N>: the blf side with notify_min_interval=N ms (--min-intervals,
# make MI=50,200): how many NOTIFYs coalescing saves, and its latency


def min_interval(side):
    """N of a blf-mi<N> side, else 0"""
    if side.startswith("blf-mi") and side[6:].isdigit():
        return int(side[6:])
    return 0


LIST_SIZE = 50  # members per list of the blf-list side (--list-size)


def list_size(a):
    """members per list: --list-size, at most M"""
    return max(1, min(a.list_size, a.exts))


def list_members(i, n, m):
    """list i holds extensions (i*n + j) % m, j < n (as blfgen's
    list_has()): with S/n lists every extension is in S/m of them, the same
    fan-out as the dialog sides"""
    return [(i * n + j) % m for j in range(n)]


class ListServer:
    """The blf-list side's list_url: GET /list?uri=sip:list<i>@DOMAIN ->
    200 {"members": [...]} (SPEC "Resource lists"), anything else 404.
    A thread of this process, on a free loopback port."""

    def __init__(self, n, m):
        import http.server
        import threading
        import urllib.parse

        class H(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                q = urllib.parse.urlparse(self.path)
                uri = urllib.parse.parse_qs(q.query).get("uri", [""])[0]
                mt = re.match(r"^sip:list(\d+)@", uri)
                if q.path != "/list" or not mt:
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                body = json.dumps({"members": [
                    "sip:%d@%s" % (100000 + e, DOMAIN)
                    for e in list_members(int(mt.group(1)), n, m)]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Cache-Control", "max-age=3600")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        class S(http.server.ThreadingHTTPServer):
            # blf asks many lists at once (a SUBSCRIBE storm): the default
            # backlog of 5 dropped connections, which blf took for a list
            # service failing
            request_queue_size = 256

        self.srv = S(("127.0.0.1", 0), H)
        self.srv.daemon_threads = True
        self.url = "http://127.0.0.1:%d/list" % self.srv.server_address[1]
        self.th = threading.Thread(target=self.srv.serve_forever,
                                   kwargs={"poll_interval": 0.2}, daemon=True)
        self.th.start()

    def stop(self):
        self.srv.shutdown()
        self.srv.server_close()
        self.th.join(timeout=5)


def side_index(side):
    """the side's place, for its ports: blf-mi<N> sides after the others"""
    if side in SIDE_NAMES:
        return SIDE_NAMES.index(side)
    return len(SIDE_NAMES) + 1  # sides run one after the other
TICK = os.sysconf("SC_CLK_TCK")
KAMCMD = shutil.which("kamcmd") or "/usr/sbin/kamcmd"
KAMAILIO = shutil.which("kamailio") or "/usr/sbin/kamailio"
MPATH = "/usr/lib/x86_64-linux-gnu/kamailio/modules"
DOMAIN = "bench.local"

# What the blf module is asked to reach (see README.md); we only measure.
# Against stock (ratios), against the floor (multiples of Kamailio's own
# cost per message), and absolute. p99: 2 ms up to 10k subscriptions, 5 ms
# beyond (set in main()).
TARGETS = {
    "cpu_per_notify_ratio": 0.25,
    "cpu_per_subscribe_ratio": 0.25,
    "cpu_per_notify_floor": 1.0,
    "cpu_per_subscribe_floor": 2.0,
    "p99_ms": 2.0,
    "shm_per_sub": 512,
    # issues #11 and #12, against the blf side's dialog NOTIFY of the run
    "presence_notify_over_dialog": 1.2,
    "list_partial_over_dialog": 1.5,
    "list_full_over_dialog": 50.0,
}


def log(msg):
    print("bench: " + msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- /proc

def proc_stat(pid):
    """(ppid, utime+stime ticks) of a process, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    return int(rest[1]), int(rest[11]) + int(rest[12])


def proc_run_ns(pid):
    """Time on CPU in ns from schedstat (finer than ticks), or 0."""
    try:
        with open("/proc/%d/schedstat" % pid) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def children_of(ppid):
    pids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = proc_stat(int(d))
            if st and st[0] == ppid:
                pids.append(int(d))
    return pids


def host_busy_ticks():
    """Ticks the whole host spent busy (all CPUs), from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return sum(v) - v[3] - (v[4] if len(v) > 4 else 0)  # minus idle, iowait


class CpuSample:
    """utime+stime (ticks and seconds) and schedstat of a set of PIDs,
    with the host's busy time, to tell how much else ran meanwhile."""

    def __init__(self, pids):
        self.t = time.monotonic()
        self.host = host_busy_ticks()
        self.ticks = 0
        self.ns = 0
        for p in pids:
            st = proc_stat(p)
            if st:
                self.ticks += st[1]
                self.ns += proc_run_ns(p)

    def since(self, before):
        wall = self.t - before.t
        cpu = (self.ticks - before.ticks) / TICK
        return {
            "wall_s": round(wall, 3),
            "cpu_s": round(cpu, 3),
            "cpu_s_schedstat": round((self.ns - before.ns) / 1e9, 4),
            # percentages from schedstat: ticks are too coarse for short
            # phases of a mostly idle process (the generator)
            "cpu_pct_of_one_core": round(
                100 * (self.ns - before.ns) / 1e9 / wall, 1) if wall else 0,
            "host_busy_cores": round(
                (self.host - before.host) / TICK / wall, 2) if wall else 0,
        }


# ---------------------------------------------------------------- Kamailio

class Kamailio:
    def __init__(self, side, template, subst, tmpdir, shm_mb, pkg_mb,
                 mem_manager=""):
        self.side = side
        self.blf = side.startswith("blf")
        self.tmpdir = tmpdir
        self.ctl = os.path.join(tmpdir, "ctl.sock")
        self.cfg = os.path.join(tmpdir, side + ".cfg")
        self.logpath = os.path.join(tmpdir, "kamailio.log")
        self.shm_mb = shm_mb
        self.pkg_mb = pkg_mb
        # Kamailio's -x: "" keeps its default (qm); tlsf or fm are faster
        self.mm_args = ["-x", mem_manager] if mem_manager else []
        self.proc = None
        self.pids = []
        with open(template) as f:
            text = f.read()
        subst = dict(subst, CTL=self.ctl, TMPDIR=tmpdir)
        for k, v in subst.items():
            text = text.replace("@%s@" % k, str(v))
        left = re.findall(r"@[A-Z_]+@", text)
        if left:
            raise RuntimeError("unfilled placeholders in %s: %s"
                               % (template, sorted(set(left))))
        with open(self.cfg, "w") as f:
            f.write(text)

    def check(self):
        """kamailio -c: '' when the config loads, else the reason."""
        r = subprocess.run([KAMAILIO, "-c", "-f", self.cfg, "-m",
                            str(self.shm_mb), "-M", str(self.pkg_mb)],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=60)
        if r.returncode == 0:
            return ""
        errs = [l.strip() for l in r.stdout.splitlines() if "ERROR" in l]
        return (errs[0] if errs else r.stdout.strip()[-300:])[:400]

    def start(self, limit=30):
        logf = open(self.logpath, "a")
        self.proc = subprocess.Popen(
            [KAMAILIO, "-DD", "-E", "-f", self.cfg, "-m", str(self.shm_mb),
             "-M", str(self.pkg_mb), "-w", self.tmpdir] + self.mm_args,
            stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            start_new_session=True)
        logf.close()
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return "kamailio exited at startup: " + self.log_tail()
            if os.path.exists(self.ctl) and self.rpc("core.uptime"):
                self.pids = [self.proc.pid] + children_of(self.proc.pid)
                return ""
            time.sleep(0.2)
        return "kamailio did not answer RPC within %g s" % limit

    def processes(self):
        """{pid: description} from core.psx ("BLF TIMER", "udp receiver
        child=0 sock=...", ...)."""
        d = self.rpc("core.psx") or {}
        out = {}
        for m in re.finditer(r"PID:\s*(\d+)\s*\n\s*DSC:\s*(.*)",
                             d.get("_raw", "")):
            out[int(m.group(1))] = m.group(2).strip()
        return out

    def quiet_cpu(self, secs):
        """CPU of each process over secs seconds with nothing sent to it
        (what the timers cost with every subscription in place), in us of
        CPU per second of wall time, by process description."""
        names = self.processes()
        pids = list(self.pids)
        n0 = {p: proc_run_ns(p) for p in pids}
        h0, t0 = host_busy_ticks(), time.monotonic()
        time.sleep(secs)
        n1 = {p: proc_run_ns(p) for p in pids}
        wall = time.monotonic() - t0
        by = {}
        for p in pids:
            k = names.get(p, "pid %d" % p)
            by[k] = by.get(k, 0) + (n1[p] - n0[p]) / 1e3 / wall
        by = {k: round(v, 1) for k, v in sorted(by.items(),
                                                key=lambda kv: -kv[1])}
        return {"wall_s": round(wall, 1),
                "total_us_per_s": round(sum(by.values()), 1),
                "by_process_us_per_s": by,
                "host_busy_cores": round(
                    (host_busy_ticks() - h0) / TICK / wall, 2)}

    def alive(self):
        """PIDs of ours that are gone (a crash), [] when all run."""
        return [p for p in self.pids if proc_stat(p) is None]

    def log_problems(self, n=4):
        """(count, last lines) of CRITICAL/ALERT/ERROR lines in the log."""
        try:
            with open(self.logpath) as f:
                bad = [l.strip() for l in f
                       if re.search(r"\b(ERROR|CRITICAL|ALERT|BUG)\b", l)]
        except OSError:
            return 0, []
        return len(bad), bad[-n:]

    def log_tail(self, n=5):
        try:
            with open(self.logpath) as f:
                lines = [l.strip() for l in f if l.strip()]
        except OSError:
            return ""
        errs = [l for l in lines if "ERROR" in l or "CRITICAL" in l]
        return " | ".join((errs or lines)[-n:])

    def rpc(self, *cmd):
        """A kamcmd answer as a dict of its scalar fields (nested flattened),
        or None on failure."""
        try:
            r = subprocess.run([KAMCMD, "-s", "unix:" + self.ctl] + list(cmd),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True, timeout=20)
        except subprocess.TimeoutExpired:
            return None
        if r.returncode != 0:
            return None
        d = {}
        for m in re.finditer(r"^\s*([\w.:-]+):\s*(-?\d+)\s*$", r.stdout, re.M):
            d[m.group(1)] = int(m.group(2))
        d["_raw"] = r.stdout
        return d

    def shm(self):
        d = self.rpc("core.shmmem") or {}
        return {k: d[k] for k in ("used", "real_used", "free") if k in d}

    def cpu(self):
        return CpuSample(self.pids)

    def tm_current(self):
        return (self.rpc("tm.stats") or {}).get("current")

    def wait_tm_drained(self, limit=40, base=0):
        """Until no transaction is held: tm's (NOTIFY/PUBLISH ones wait ~5 s)
        and, on the blf side, the module's own UDP NOTIFY transactions and
        their block pool (freed after 2 s idle). Returns what is left.
        base: tm transactions a quiet node always holds (a cluster node's
        hellos, one KDMQ to each peer a second, each kept ~5 s by tm)."""
        deadline = time.monotonic() + limit
        cur = None
        while time.monotonic() < deadline and self.proc.poll() is None:
            cur = self.tm_current()
            if cur is not None and cur <= base:
                cur = 0
            if cur == 0 and self.blf:
                b = self.rpc("stats.get_statistics", "blf:") or {}
                m = re.search(r"notify_blocks\s*=\s*(\d+)", b.get("_raw", ""))
                cur = int(m.group(1)) if m else 0
            if cur == 0:
                return 0
            time.sleep(0.25)
        return cur

    def kill(self):
        """SIGKILL of the whole process group, as a crashed host: returns
        the monotonic time of the kill."""
        t = time.monotonic()
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except OSError:
            pass
        self.proc.wait(timeout=10)
        for _ in range(100):  # children go with the group; bounded wait
            if not [p for p in self.pids if proc_stat(p)]:
                break
            time.sleep(0.05)
        return t

    def stop(self, limit=15):
        if not self.proc:
            return
        pids = set(self.pids) | set(children_of(self.proc.pid))
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=limit)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        # children normally die with the main process; make sure, by PID
        for p in pids:
            if p == self.proc.pid:
                continue
            for _ in range(20):
                st = proc_stat(p)
                if not st or st[0] not in (self.proc.pid, 1):
                    break
                time.sleep(0.1)
            else:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass


# ---------------------------------------------------------------- generator

class Generator:
    def __init__(self, binary, args):
        self.proc = subprocess.Popen([binary] + args, stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True,
                                     bufsize=1)
        self.sel = selectors.DefaultSelector()
        self.sel.register(self.proc.stdout, selectors.EVENT_READ)

    def expect(self, word, timeout, dead=None):
        """The JSON (or text) after `word` on the generator's next line
        starting with it; raises on timeout or exit. When dead() turns true
        (Kamailio died) the generator is told to ABORT the phase."""
        deadline = time.monotonic() + timeout
        aborted = False
        while True:
            if dead and not aborted and dead():
                self.send("ABORT")
                aborted = True
            left = deadline - time.monotonic()
            if left <= 0:
                raise RuntimeError("generator: no %s within %d s"
                                   % (word, timeout))
            if not self.sel.select(timeout=min(left, 1.0)):
                if self.proc.poll() is not None:
                    raise RuntimeError("generator exited (%s) before %s"
                                       % (self.proc.returncode, word))
                continue
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("generator closed its output before "
                                   + word)
            if line.startswith(word):
                rest = line[len(word):].strip()
                return json.loads(rest) if rest.startswith("{") else rest

    def send(self, word):
        self.proc.stdin.write(word + "\n")
        self.proc.stdin.flush()

    def cpu(self):
        return CpuSample([self.proc.pid])

    def stop(self):
        if self.proc.poll() is None:
            try:
                self.proc.stdin.close()
            except OSError:
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


# ---------------------------------------------------------------- one side

def other_load(kcpu, gcpu):
    """Cores busy with neither Kamailio nor the generator during a phase:
    noise from whatever else runs on the host (0 on a quiet machine)."""
    w = kcpu["wall_s"] or 1
    return round(max(0.0, kcpu["host_busy_cores"] - kcpu["cpu_s_schedstat"] / w
                     - gcpu["cpu_pct_of_one_core"] / 100), 2)


def ports_free(base, n):
    for p in range(base, base + n):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(("127.0.0.1", p))
        except OSError:
            return False
        finally:
            s.close()
    return True


def pick_ports(base, n):
    for i in range(20):
        b = base + i * 50
        if ports_free(b, n):
            return b
    raise RuntimeError("no free UDP port range near %d" % base)


def htable_exp(n):
    """log2 of a hash size giving ~4 entries per slot (presence's params)."""
    e = 9
    while (1 << e) * 4 < n and e < 20:
        e += 1
    return e


def db_rows(path, table="blf_subscriptions"):
    """Rows in the module's sqlite table, or -1 when it cannot be read
    (yet); read-only, with a busy timeout (Kamailio writes meanwhile)."""
    try:
        c = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=5)
        try:
            return c.execute("select count(*) from %s" % table).fetchone()[0]
        finally:
            c.close()
    except sqlite3.Error:
        return -1


def wait_db_flushed(dbpath, est, limit=900):
    """Until the DB holds every subscription (the flush timer writes them,
    db_flush_interval); how long that took after the subscription phase."""
    t0 = time.monotonic()
    n = -1
    while time.monotonic() - t0 < limit:
        n = db_rows(dbpath)
        if n >= est:
            break
        time.sleep(0.5)
    time.sleep(3)  # one more flush: the initial NOTIFYs' versions
    return {"rows": n, "wait_s": round(time.monotonic() - t0 - 3, 1)}


def restart_db(kam, dbpath, est):
    """--restart-db: waits until the DB holds every subscription (the
    flush timer writes them, db_flush_interval), stops Kamailio (SIGTERM:
    mod_destroy writes what is left), starts it again from the same config
    and times how long until it answers RPC with every subscription loaded
    (the load runs in mod_init, before the workers exist: when RPC answers,
    the table is whole). The call phase that follows runs against the
    restarted Kamailio: its NOTIFYs (versions and CSeqs continuing, none
    lost) show the loaded subscriptions work."""
    r = {"ok": False}
    t0 = time.monotonic()
    n = -1
    while time.monotonic() - t0 < 600:
        n = db_rows(dbpath)
        if n >= est:
            break
        time.sleep(1)
    r["flushed_rows"] = n
    r["flush_wait_s"] = round(time.monotonic() - t0, 1)
    if n < est:
        r["reason"] = "only %d of %d rows in the DB after 600 s" % (n, est)
        return r
    time.sleep(3)  # one more flush: the initial NOTIFYs' versions
    t1 = time.monotonic()
    kam.stop(limit=300)
    r["stop_s"] = round(time.monotonic() - t1, 2)
    r["db_bytes"] = os.path.getsize(dbpath)
    t2 = time.monotonic()
    why = kam.start(limit=600)
    r["start_to_rpc_s"] = round(time.monotonic() - t2, 2)
    if why:
        r["reason"] = why
        return r
    st = kam.rpc("blf.stats") or {}
    r["loaded"] = st.get("subscriptions")
    r["shm_after_load"] = kam.shm()
    r["ok"] = r["loaded"] == est
    if not r["ok"]:
        r["reason"] = "%s of %d subscriptions loaded" % (r["loaded"], est)
    return r


def run_side(side, a, blf_module):
    res = {"side": side, "available": False}
    template = os.path.join(HERE, ("blf" if side.startswith("blf") else side)
                            + ".cfg")
    tmpdir = tempfile.mkdtemp(prefix="blfbench-%s-" % side)
    nports = 1 + a.sockets + 1
    base = pick_ports(a.port_base + 1000 * side_index(side), nports)
    port, gen_base = base, base + 1
    subst = {
        "PORT": port, "PHONE_PORT": gen_base + a.sockets,
        "CHILDREN": a.children, "MPATH": MPATH, "DOMAIN": DOMAIN,
        "MAXBUFFER": a.maxbuffer, "SUBS_HTABLE": htable_exp(a.subs),
        "PRES_HTABLE": htable_exp(a.exts), "BLF_MODULE": blf_module or "",
        # blf's entity table sized like stock's presentity table (about 4
        # extensions a slot), never below the module's default
        "BLF_HASH": max(4096, 1 << htable_exp(a.exts)),
        "NOTIFY_DIRECT": 0 if side == "blf-tm" else 1,
        "NOTIFY_MIN_INTERVAL": min_interval(side),
        "LIST_PARAM": "", "PUBLISH_ROUTE": "", "DB_PARAM": "",
    }
    dbpath = None
    if a.restart_db and side.startswith("blf"):
        # persistence to sqlite: the subscriptions are flushed there, then
        # Kamailio is restarted and has to load them all (--restart-db)
        dbpath = os.path.join(tmpdir, "blf.sqlite")
        subst["DB_PARAM"] = ('loadmodule "db_sqlite.so"\n'
                             'modparam("blf", "db_url", "sqlite:///%s")'
                             % dbpath)
    nsubs = 1 if side == "blf-calls" else a.subs
    extra = []
    lists = None
    if side == "blf-presence":
        extra = ["--event", "presence"]
        if not a.no_publish:
            extra.append("--publish")
            subst["PUBLISH_ROUTE"] = ('if(is_method("PUBLISH")) '
                                      '{ blf_handle_publish(); exit; }')
    elif side == "blf-list":
        n = list_size(a)
        nsubs = max(1, a.subs // n)
        extra = ["--list", str(n)]
        lists = ListServer(n, a.exts)
        subst["LIST_PARAM"] = 'modparam("blf", "list_url", "%s")' % lists.url
    if side == "stock":
        # pua needs a db_url even in db_mode 0: db_text, from the shipped
        # schema files, in the run's temp dir
        dbdir = os.path.join(tmpdir, "db")
        os.mkdir(dbdir)
        src = "/usr/share/kamailio/dbtext/kamailio"
        shutil.copy(os.path.join(src, "pua"), dbdir)
        with open(os.path.join(src, "version")) as f:
            lines = f.readlines()
        with open(os.path.join(dbdir, "version"), "w") as f:
            f.write(lines[0])
            f.writelines(l for l in lines[1:] if l.split(":")[1:2] == ["pua"])

    kam = gen = None
    try:
        kam = Kamailio(side, template, subst, tmpdir, a.shm_mb, a.pkg_mb,
                       a.mem_manager)
        why = kam.check()
        if why:
            res["reason"] = "kamailio -c refuses the config: " + why
            return res
        why = kam.start()
        if why:
            res["reason"] = why
            return res
        res["available"] = True
        res["kamailio"] = {"children": a.children,
                           "processes": len(kam.pids),
                           "port": port}
        if a.keep_tmp:
            res["kamailio"]["tmpdir"] = tmpdir

        # idle baseline: timers of tm/dialog/presence... with nothing to do
        idle0 = kam.cpu()
        time.sleep(a.idle_s)
        idle = kam.cpu().since(idle0)
        res["kamailio"]["idle_cpu_us_per_s"] = round(
            1e6 * idle["cpu_s_schedstat"] / idle["wall_s"], 1)

        shm0 = kam.shm()
        gen = Generator(a.gen, extra + [
            "--proxy-port", str(port), "--port-base", str(gen_base),
            "--sockets", str(a.sockets), "--subs", str(nsubs),
            "--exts", str(a.exts), "--rate", str(a.rate),
            "--duration", str(a.duration), "--ring-ms", str(a.ring_ms),
            "--hold-ms", str(a.hold_ms), "--domain", DOMAIN,
            "--window", str(a.window), "--sub-rate", str(a.sub_rate),
            "--expires", "3600", "--settle-ms", str(a.settle_ms),
            "--seed", str(a.seed), "--dump", str(a.dump)])
        gen.expect("READY", 10)
        dead = lambda: kam.proc.poll() is not None

        # --- publications (blf-presence): one PIDF per extension
        if "--publish" in extra:
            log("%s: %d PUBLISHes" % (side, a.exts))
            kp0 = kam.cpu()
            gen.send("PUBLISH")
            pub = gen.expect("PUB_DONE", 60 + a.exts / 50, dead)
            pub["tm_transactions_left"] = kam.wait_tm_drained()
            kp1 = kam.cpu()
            shmp = kam.shm()
            kcpu = kp1.since(kp0)
            ok = pub["accepted"]
            pub["kamailio_cpu"] = kcpu
            # schedstat: the phase is short (M PUBLISHes), ticks too coarse
            pub["cpu_us_per_publish"] = (
                round(1e6 * kcpu["cpu_s_schedstat"] / ok, 1) if ok else None)
            if ok and "real_used" in shm0 and "real_used" in shmp:
                pub["shm_bytes_per_publication"] = round(
                    (shmp["real_used"] - shm0["real_used"]) / ok, 1)
            pub["shm_before"], pub["shm_after"] = shm0, shmp
            res["publish"] = pub
            shm0 = shmp  # the subscriptions' growth from here

        # --- subscription phase
        if lists:
            log("%s: %d list subscriptions of %d members over %d extensions"
                % (side, nsubs, list_size(a), a.exts))
        else:
            log("%s: %d subscriptions over %d extensions"
                % (side, a.subs, a.exts))
        k0, g0 = kam.cpu(), gen.cpu()
        gen.send("START")
        subs = gen.expect("SUBS_DONE", 120 + a.subs / 50, dead)
        k1, g1 = kam.cpu(), gen.cpu()
        left = kam.wait_tm_drained()
        k1d = kam.cpu()
        shm1 = kam.shm()
        kcpu = k1.since(k0)
        est = subs["established"]
        subs["kamailio_cpu"] = kcpu
        subs["kamailio_cpu_with_tm_drain"] = k1d.since(k0)
        subs["cpu_us_per_subscribe"] = (
            round(1e6 * kcpu["cpu_s"] / est, 1) if est else None)
        subs["cpu_us_per_subscribe_schedstat"] = (
            round(1e6 * kcpu["cpu_s_schedstat"] / est, 1) if est else None)
        subs["generator_cpu"] = g1.since(g0)
        subs["other_load_cores"] = other_load(kcpu, subs["generator_cpu"])
        subs["tm_transactions_left"] = left
        if lists:
            res["list_size"] = list_size(a)
            # a full state: the SUBSCRIBE, its HTTP list fetch, the initial
            # NOTIFY and those it was split into (until tm drained: split
            # parts may follow SUBS_DONE), their 200s
            # (schedstat: a few hundred lists make a short phase)
            subs["cpu_us_per_full_state"] = round(
                1e6 * subs["kamailio_cpu_with_tm_drain"]["cpu_s_schedstat"]
                / est, 1) if est else None
        res["subscribe"] = subs
        res["shm"] = {"before": shm0, "after_subscribe": shm1}
        if est and "real_used" in shm0 and "real_used" in shm1:
            res["shm"]["bytes_per_subscription"] = round(
                (shm1["real_used"] - shm0["real_used"]) / est, 1)
        log("%s: %d/%d established at %.0f/s; calls: %g/s for %g s"
            % (side, est, nsubs, subs["rate_per_s"], a.rate, a.duration))

        # --- with the DB: first every subscription written (the flush of the
        # subscription phase's rows is not the quiet cost)
        if dbpath and est:
            res["db_flush"] = wait_db_flushed(dbpath, est)
            log("%s: DB: %s" % (side, json.dumps(res["db_flush"])))

        # --- quiet: every subscription in place, nothing sent (the expiry
        # timer's cost, per process)
        if a.quiet_s > 0:
            log("%s: %g s quiet (timers only)" % (side, a.quiet_s))
            res["quiet"] = kam.quiet_cpu(a.quiet_s)
            log("%s: quiet: %s us/s" % (side, json.dumps(
                res["quiet"]["by_process_us_per_s"])))

        # --- restart with the DB: flushed, stopped, started, loaded
        if dbpath and est:
            res["restart_db"] = restart_db(kam, dbpath, est)
            log("%s: restart: %s" % (side, json.dumps(res["restart_db"])))
            if not res["restart_db"].get("ok"):
                raise RuntimeError("restart with the DB failed: "
                                   + res["restart_db"].get("reason", "?"))

        # --- call phase
        k2, g2 = kam.cpu(), gen.cpu()
        gen.send("GO")
        calls = gen.expect("CALLS_DONE",
                           a.duration + (a.ring_ms + a.hold_ms) / 1000 + 150,
                           dead)
        k3, g3 = kam.cpu(), gen.cpu()
        left = kam.wait_tm_drained()
        shm2 = kam.shm()
        res["shm"]["after_calls"] = shm2
        kcpu = k3.since(k2)
        recv = calls["notify"]["received"]
        deliv = calls["notify"]["delivered"]
        done = calls["calls"]["completed"]
        calls["kamailio_cpu"] = kcpu
        calls["cpu_us_per_notify"] = (
            round(1e6 * kcpu["cpu_s"] / recv, 1) if recv else None)
        calls["cpu_us_per_notify_schedstat"] = (
            round(1e6 * kcpu["cpu_s_schedstat"] / recv, 1) if recv else None)
        calls["cpu_us_per_delivered_state"] = (
            round(1e6 * kcpu["cpu_s"] / deliv, 1) if deliv else None)
        calls["cpu_us_per_call"] = (
            round(1e6 * kcpu["cpu_s"] / done, 1) if done else None)
        calls["generator_cpu"] = g3.since(g2)
        calls["other_load_cores"] = other_load(kcpu, calls["generator_cpu"])
        calls["tm_transactions_left"] = left
        res["calls"] = calls
        if lists and est:
            # NOTIFYs per full state: initial ones and their split parts
            subs["full_state_notifies"] = round(
                (subs["got_initial_notify"]
                 + calls["notify"]["sub_phase_extra"]) / est, 2)

        gen.send("END")
        final = gen.expect("RESULT", 20)
        # NOTIFYs that came in after CALLS_DONE (while tm drained)
        res["late"] = {"notify": final["call_phase"]["notify"]}
        if kam.blf:
            st = kam.rpc("blf.stats")
            if st:
                res["blf_stats"] = {k: v for k, v in st.items()
                                    if not k.startswith("_")}
        # blf-calls: its one watcher may see none of the calls
        res["working"] = bool(est) and (deliv > 0 or side == "blf-calls")
    except Exception as e:  # a broken side is reported, not fatal
        res["error"] = str(e)
        if kam:
            res["kamailio_log"] = kam.log_tail()
    finally:
        if kam and kam.proc:
            gone = kam.alive()
            if gone:
                res["crashed"] = {"pids_gone": gone,
                                  "processes": len(kam.pids)}
                res["working"] = False
            nbad, last = kam.log_problems()
            if nbad:
                res["kamailio_log_problems"] = {"count": nbad, "last": last}
        if gen:
            gen.stop()
        if kam:
            kam.stop()
        if lists:
            lists.stop()
        if not a.keep_tmp:
            shutil.rmtree(tmpdir, ignore_errors=True)
    return res


def run_floor(a, ref):
    """The floor: Kamailio answering NOTIFY-sized requests statelessly, as
    many as `ref` (a blf side's result) delivered NOTIFYs, on its calls'
    schedule. Without a reference, the workload's expected NOTIFY count."""
    res = {"side": "floor", "available": False}
    recv = g(ref, "calls", "notify", "received")
    ncalls = g(ref, "calls", "calls", "completed")
    nbytes = g(ref, "calls", "notify_bytes")
    if not recv or not ncalls:
        ncalls = max(1, int(a.rate * a.duration))
        recv = int(ncalls * 2 * 4 * a.subs / a.exts)
        res["reference"] = "workload"
    else:
        res["reference"] = ref["side"]
    size = int(nbytes / recv) if nbytes and recv else 900
    tmpdir = tempfile.mkdtemp(prefix="blfbench-floor-")
    base = pick_ports(a.port_base + 1000 * SIDE_NAMES.index("floor"),
                      1 + a.sockets + 1)
    port, gen_base = base, base + 1
    subst = {"PORT": port, "CHILDREN": a.children, "MPATH": MPATH,
             "DOMAIN": DOMAIN, "MAXBUFFER": a.maxbuffer}
    kam = gen = None
    try:
        kam = Kamailio("floor", os.path.join(HERE, "floor.cfg"), subst,
                       tmpdir, a.shm_mb, a.pkg_mb, a.mem_manager)
        why = kam.check() or kam.start()
        if why:
            res["reason"] = why
            return res
        res["available"] = True
        res["kamailio"] = {"children": a.children,
                           "processes": len(kam.pids), "port": port}
        gen = Generator(a.gen, [
            "--proxy-port", str(port), "--port-base", str(gen_base),
            "--sockets", str(a.sockets), "--subs", str(a.subs),
            "--exts", str(a.exts), "--rate", str(a.rate),
            "--ring-ms", str(a.ring_ms), "--hold-ms", str(a.hold_ms),
            "--domain", DOMAIN, "--settle-ms", str(a.settle_ms),
            "--seed", str(a.seed), "--floor-notifies", str(recv),
            "--floor-calls", str(ncalls), "--floor-bytes", str(size)])
        gen.expect("READY", 10)
        log("floor: %d NOTIFY-sized requests of %d B over %d calls at %g/s"
            % (recv, size, ncalls, a.rate))
        k0, g0 = kam.cpu(), gen.cpu()
        gen.send("GO")
        dead = lambda: kam.proc.poll() is not None
        fl = gen.expect("FLOOR_DONE", ncalls / a.rate
                        + (a.ring_ms + a.hold_ms) / 1000 + 120, dead)
        k1, g1 = kam.cpu(), gen.cpu()
        kcpu = k1.since(k0)
        fl["kamailio_cpu"] = kcpu
        fl["generator_cpu"] = g1.since(g0)
        fl["other_load_cores"] = other_load(kcpu, fl["generator_cpu"])
        ans = fl["answered"]
        fl["cpu_us_per_message"] = (
            round(1e6 * kcpu["cpu_s"] / ans, 1) if ans else None)
        fl["cpu_us_per_message_schedstat"] = (
            round(1e6 * kcpu["cpu_s_schedstat"] / ans, 1) if ans else None)
        res["floor"] = fl
        gen.send("END")
        gen.expect("RESULT", 20)
        res["working"] = ans > 0
    except Exception as e:
        res["error"] = str(e)
        if kam:
            res["kamailio_log"] = kam.log_tail()
    finally:
        if kam and kam.proc:
            gone = kam.alive()
            if gone:
                res["crashed"] = {"pids_gone": gone,
                                  "processes": len(kam.pids)}
        if gen:
            gen.stop()
        if kam:
            kam.stop()
        if not a.keep_tmp:
            shutil.rmtree(tmpdir, ignore_errors=True)
    return res


def tm_local(kam):
    d = kam.rpc("tm.stats") or {}
    return d.get("total_local", 0)


def kdmq_sent(kam):
    """KDMQ requests kam sent: tm's local transactions (dmq's pings, and
    blf's messages with dmq_direct=0 or to a peer only dmq reaches) plus
    blf's own (blf:dmq_direct, one per peer)."""
    return tm_local(kam) + (blf_stat(kam, "dmq_direct") or 0)


def blf_stat(kam, name):
    """A blf statistic of kam (blf:<name>), or None."""
    d = kam.rpc("stats.get_statistics", "blf:") or {}
    m = re.search(r"blf:%s\s*=\s*(\d+)" % re.escape(name), d.get("_raw", ""))
    return int(m.group(1)) if m else None


def cluster_rejoin(kams, est):
    """--cluster-rejoin: the last node is SIGKILLed once every subscription
    is established, the others take its subscriptions over, then it is
    restarted and pulls the full state. pull_s: from its start (Kamailio
    launched) until it holds every subscription again as another node's
    (blf:subscription_replicas == est); ready_pull_s the same from when it
    answered RPC (what the cluster, not Kamailio's startup, costs)."""
    victim, rest = kams[-1], kams[:-1]
    r = {"subscriptions": est}
    victim.killed = True
    t_k = victim.kill()
    while time.monotonic() < t_k + 60:
        if sum(blf_stat(k, "subscriptions") or 0 for k in rest) >= est:
            break
        time.sleep(0.2)
    else:
        r["error"] = "the takeover was not complete after 60 s"
        return r
    r["takeover_s"] = round(time.monotonic() - t_k, 2)
    tl0 = [kdmq_sent(k) for k in rest]
    c0 = [k.cpu() for k in rest]
    t_r = time.monotonic()
    why = victim.start()
    if why:
        r["error"] = why
        return r
    victim.killed = False
    t_ready = time.monotonic()
    r["start_s"] = round(t_ready - t_r, 2)
    n, t_dmq = 0, None
    while time.monotonic() < t_r + 300:
        if t_dmq is None and dmq_active(victim) >= len(kams):
            t_dmq = time.monotonic()
        n = blf_stat(victim, "subscription_replicas") or 0
        if n >= est:
            break
        time.sleep(0.05)
    t_done = time.monotonic()
    r["held"] = n
    r["complete"] = n >= est
    r["pull_s"] = round(t_done - t_r, 2)
    r["ready_pull_s"] = round(t_done - t_ready, 2)
    if t_dmq is not None:
        r["dmq_active_s"] = round(t_dmq - t_r, 2)
    r["kdmq"] = sum(kdmq_sent(k) - tl0[i] for i, k in enumerate(rest))
    r["senders_cpu_s"] = round(sum(k.cpu().since(c0[i])["cpu_s"]
                                   for i, k in enumerate(rest)), 3)
    return r


def dmq_active(kam):
    """How many DMQ nodes (itself included) this node sees active."""
    d = kam.rpc("dmq.list_nodes") or {}
    return len(re.findall(r"status:\s*active", d.get("_raw", "")))


def run_cluster(a, blf_module, ref):
    """N blf nodes over DMQ on loopback (cluster.cfg): watcher i subscribes
    through node i % N, call k goes through node k % N. Per node and in
    all: CPU per subscription and per call, KDMQ requests (tm's locally
    started transactions: with notify_direct=1 NOTIFYs are not among them),
    NOTIFYs lost. With --cluster-kill the last node is SIGKILLed in the
    middle of the call phase and restarted --cluster-restart-s later."""
    n = a.cluster
    res = {"side": "cluster", "available": False, "nodes": n}
    base = pick_ports(a.port_base + 5000, n + a.sockets + 1)
    ports = list(range(base, base + n))
    gen_base = base + n
    kams = []
    gen = None
    try:
        for i, port in enumerate(ports):
            tmp = tempfile.mkdtemp(prefix="blfbench-node%d-" % i)
            peers = "\n".join('modparam("dmq", "notification_address", '
                              '"sip:127.0.0.1:%d")' % q
                              for q in ports if q != port)
            vip = a.cluster_kill and not a.kill_no_vip
            # no address failover: its operator ends the calls at the
            # takeover (the old model's figures)
            hold = a.takeover_call_hold
            if hold is None and a.cluster_kill and a.kill_no_vip:
                hold = 0
            aliases = "\n".join("alias=udp:127.0.0.1:%d" % q
                                 for q in ports if q != port) if vip else ""
            subst = {"PORT": port, "PHONE_PORT": gen_base + a.sockets,
                     "ALIASES": aliases,
                     "TAKEOVER_CALL_HOLD": "" if hold is None else
                     'modparam("blf", "takeover_call_hold", %d)' % hold,
                     "CHILDREN": a.children, "MPATH": MPATH,
                     "DOMAIN": DOMAIN, "MAXBUFFER": a.maxbuffer,
                     "BLF_MODULE": blf_module, "NOTIFY_DIRECT": 1,
                     "DMQ_PEERS": peers}
            k = Kamailio("blf-node%d" % i, os.path.join(HERE, "cluster.cfg"),
                         subst, tmp, a.shm_mb, a.pkg_mb, a.mem_manager)
            kams.append(k)
            why = k.check() or k.start()
            if why:
                res["reason"] = "node %d: %s" % (i, why)
                return res
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if all(dmq_active(k) >= n for k in kams):
                break
            time.sleep(0.5)
        else:
            res["reason"] = "the DMQ cluster did not form within 60 s"
            return res
        time.sleep(2)  # blf's own hello round after DMQ's
        # the transactions a quiet node holds (its hellos): a phase is over
        # when a node is back to that, not to zero (never, in a cluster)
        tm_base = [0] * n
        for _ in range(12):
            tm_base = [max(b, k.tm_current() or 0)
                       for b, k in zip(tm_base, kams)]
            time.sleep(0.5)
        res["quiet_tm_transactions"] = tm_base
        res["available"] = True
        gen = Generator(a.gen, [
            "--proxy-ports", ",".join(str(p) for p in ports),
            "--port-base", str(gen_base),
            "--sockets", str(a.sockets), "--subs", str(a.subs),
            "--exts", str(a.exts), "--rate", str(a.rate),
            "--duration", str(a.duration), "--ring-ms", str(a.ring_ms),
            "--hold-ms", str(a.hold_ms), "--domain", DOMAIN,
            "--window", str(a.window), "--sub-rate", str(a.sub_rate),
            "--expires", "3600", "--settle-ms", str(a.settle_ms),
            "--seed", str(a.seed)]
            + (["--vip"] if a.cluster_kill and not a.kill_no_vip else []))
        gen.expect("READY", 10)
        dead = lambda: any(k.proc.poll() is not None for k in kams
                           if not getattr(k, "killed", False))

        # subscriptions
        c0 = [k.cpu() for k in kams]
        t0 = [kdmq_sent(k) for k in kams]
        gen.send("START")
        subs = gen.expect("SUBS_DONE", 120 + a.subs / 50, dead)
        for i, k in enumerate(kams):
            k.wait_tm_drained(base=tm_base[i])
        c1 = [k.cpu() for k in kams]
        t1 = [kdmq_sent(k) for k in kams]
        est = subs["established"]
        per = [c1[i].since(c0[i]) for i in range(n)]
        tot = sum(x["cpu_s"] for x in per)
        subs["per_node_cpu_s"] = [x["cpu_s"] for x in per]
        subs["cpu_us_per_subscribe"] = round(1e6 * tot / est, 1) \
            if est else None
        subs["kdmq_per_subscribe"] = round(
            sum(t1[i] - t0[i] for i in range(n)) / est, 2) if est else None
        res["subscribe"] = subs
        log("cluster: %d/%d established; calls: %g/s for %g s"
            % (est, a.subs, a.rate, a.duration))
        if a.cluster_rejoin:
            # a subscription phase only: the pull of a (re)joining node
            res["rejoin"] = cluster_rejoin(kams, est)
            log("cluster: rejoin %s" % json.dumps(res["rejoin"]))
            gen.send("END")
            gen.expect("RESULT", 20)
            res["working"] = bool(est) and res["rejoin"].get("complete")
            return res

        if a.quiet_s > 0:
            # what each node costs with nothing happening (timers, pings):
            # a fixed cost per second that the call phase's CPU includes
            res["quiet"] = [k.quiet_cpu(a.quiet_s) for k in kams]
            log("cluster: quiet: %s us/s" % json.dumps(
                [q["total_us_per_s"] for q in res["quiet"]]))

        # calls (and the kill)
        c2 = [k.cpu() for k in kams]
        t2 = [kdmq_sent(k) for k in kams]
        gen.send("GO")
        ev = {}
        if a.cluster_kill:
            victim = kams[-1]
            time.sleep(a.duration / 2)
            gen.send("DOWN %d" % (n - 1))
            c_kill = victim.cpu()
            ev["killed_at_s"] = round(a.duration / 2, 1)
            victim.killed = True
            victim.kill()
            ev["victim_cpu_s_before_kill"] = round(
                c_kill.since(c2[-1])["cpu_s"], 3)
            time.sleep(a.cluster_restart_s)
            why = victim.start()
            if why:
                ev["restart_error"] = why
            else:
                victim.killed = False
                t_r = time.monotonic()
                c2[-1] = victim.cpu()
                t2[-1] = kdmq_sent(victim)
                while time.monotonic() < t_r + 60:
                    if dmq_active(victim) >= n:
                        break
                    time.sleep(0.2)
                ev["rejoin_dmq_s"] = round(time.monotonic() - t_r, 2)
                gen.send("UP %d" % (n - 1))
        calls = gen.expect("CALLS_DONE",
                           a.duration + (a.ring_ms + a.hold_ms) / 1000 + 150,
                           dead)
        for i, k in enumerate(kams):
            k.wait_tm_drained(base=tm_base[i])
        c3 = [k.cpu() for k in kams]
        t3 = [kdmq_sent(k) for k in kams]
        per = [c3[i].since(c2[i]) for i in range(n)]
        tot = sum(x["cpu_s"] for x in per)
        done = calls["calls"]["completed"]
        recv = calls["notify"]["received"]
        # which node sent each NOTIFY of a repeated or out-of-order version
        for d in calls.get("dup_detail", []):
            for w in ("first", "then"):
                if d.get(w) and d[w].get("port") in ports:
                    d[w]["node"] = ports.index(d[w]["port"])
        calls["per_node_cpu_s"] = [x["cpu_s"] for x in per]
        calls["phase_wall_s"] = round(max(x["wall_s"] for x in per), 1)
        calls["cpu_us_per_call"] = round(1e6 * tot / done, 1) \
            if done else None
        calls["max_node_cpu_us_per_call"] = round(
            1e6 * max(x["cpu_s"] for x in per) / done, 1) if done else None
        calls["cpu_us_per_notify"] = round(1e6 * tot / recv, 1) \
            if recv else None
        calls["kdmq_per_call"] = round(
            sum(t3[i] - t2[i] for i in range(n)) / done, 2) if done else None
        if ev:
            calls["kill"] = ev
        res["calls"] = calls
        single = g(ref, "calls", "cpu_us_per_call")
        if single and calls["cpu_us_per_call"]:
            res["cpu_per_call_over_single"] = round(
                calls["cpu_us_per_call"] / single, 3)
        gen.send("END")
        gen.expect("RESULT", 20)
        res["working"] = bool(est) and calls["notify"]["delivered"] > 0
    except Exception as e:
        res["error"] = str(e)
    finally:
        gone = [i for i, k in enumerate(kams)
                if k.proc and not getattr(k, "killed", False) and k.alive()]
        if gone:
            res["crashed"] = {"nodes": gone}
        if gen:
            gen.stop()
        for k in kams:
            if k.proc and k.proc.poll() is None:
                k.stop()
            if not a.keep_tmp:
                shutil.rmtree(k.tmpdir, ignore_errors=True)
    return res


def cluster_report(r, ref):
    if not r.get("available"):
        return "cluster: not available (%s)" % (r.get("reason")
                                                or r.get("error"))
    c = r.get("calls", {})
    sb = r.get("subscribe", {})
    nt = c.get("notify", {})
    out = ["cluster of %d nodes: subs %s/%s, %s us/SUBSCRIBE (all nodes), "
           "%s KDMQ/SUBSCRIBE" % (r["nodes"], sb.get("established"),
                                  sb.get("requested"),
                                  sb.get("cpu_us_per_subscribe"),
                                  sb.get("kdmq_per_subscribe")),
           "  calls %s, CPU per call %s us in all (%s x the single node's "
           "%s us; target <=1.30x), busiest node %s us; %s KDMQ per call"
           % (g(c, "calls", "completed"), c.get("cpu_us_per_call"),
              r.get("cpu_per_call_over_single", "-"),
              g(ref, "calls", "cpu_us_per_call"),
              c.get("max_node_cpu_us_per_call"), c.get("kdmq_per_call")),
           "  NOTIFYs expected %s delivered %s lost %s (of them caused "
           "through the killed node: %s) duplicates %s version gaps %s "
           "out of order %s; p50/p99 %s/%s ms"
           % (nt.get("expected"), nt.get("delivered"), nt.get("lost"),
              nt.get("lost_via_down_node", 0), nt.get("duplicates"),
              nt.get("version_gaps"), nt.get("out_of_order"),
              g(c, "latency_ms", "p50"), g(c, "latency_ms", "p99"))]
    if not c:
        out = out[:1]  # --cluster-rejoin: no call phase
    if c.get("kill"):
        out.append("  kill: %s" % json.dumps(c["kill"]))
    rj = r.get("rejoin")
    if rj:
        out.append("  rejoin: %s subscriptions pulled in %s s from the "
                   "restart (%s s once Kamailio answered; target <=5 s at "
                   "100k), %s KDMQ, senders' CPU %s s%s"
                   % (rj.get("held"), rj.get("pull_s"),
                      rj.get("ready_pull_s"), rj.get("kdmq"),
                      rj.get("senders_cpu_s"),
                      "" if rj.get("complete") else
                      " INCOMPLETE: %s" % (rj.get("error") or "timeout")))
    if r.get("crashed"):
        out.append("  CRASHED nodes: %s" % r["crashed"])
    if r.get("error"):
        out.append("  error: %s" % r["error"])
    return "\n".join(out)


# ---------------------------------------------------------------- report

def g(d, *path):
    for p in path:
        if not isinstance(d, dict) or p not in d:
            return None
        d = d[p]
    return d


ROWS = [
    # label, path, format, ratio?, target(kind, value)
    ("subscriptions established", ("subscribe", "established"), "%d", False,
     None),
    ("subscribe rate (/s)", ("subscribe", "rate_per_s"), "%.0f", True, None),
    ("Kamailio CPU per SUBSCRIBE (us)", ("subscribe", "cpu_us_per_subscribe"),
     "%.1f", True, ("ratio", TARGETS["cpu_per_subscribe_ratio"])),
    ("shm per subscription (B)", ("shm", "bytes_per_subscription"), "%.0f",
     True, ("abs", TARGETS["shm_per_sub"])),
    ("calls completed", ("calls", "calls", "completed"), "%d", False, None),
    ("NOTIFYs expected", ("calls", "notify", "expected"), "%d", False, None),
    ("NOTIFYs delivered", ("calls", "notify", "delivered"), "%d", False, None),
    ("NOTIFYs lost", ("calls", "notify", "lost"), "%d", False,
     ("abs", 0)),
    ("duplicates (same version)", ("calls", "notify", "duplicates"), "%d",
     False, ("abs", 0)),
    ("out-of-order versions", ("calls", "notify", "out_of_order"), "%d",
     False, None),
    ("version gaps", ("calls", "notify", "version_gaps"), "%d", False,
     ("abs", 0)),
    ("NOTIFYs received (call phase)", ("calls", "notify", "received"), "%d",
     True, None),
    ("Kamailio CPU per NOTIFY (us)", ("calls", "cpu_us_per_notify"), "%.1f",
     True, ("ratio", TARGETS["cpu_per_notify_ratio"])),
    ("Kamailio CPU per call (us)", ("calls", "cpu_us_per_call"), "%.0f", True,
     None),
    ("latency p50 (ms)", ("calls", "latency_ms", "p50"), "%.2f", True, None),
    ("latency p95 (ms)", ("calls", "latency_ms", "p95"), "%.2f", True, None),
    ("latency p99 (ms)", ("calls", "latency_ms", "p99"), "%.2f", True,
     ("abs", TARGETS["p99_ms"])),
    ("latency max (ms)", ("calls", "latency_ms", "max"), "%.2f", True, None),
    ("generator CPU, subscribe (% core)",
     ("subscribe", "generator_cpu", "cpu_pct_of_one_core"), "%.1f", False,
     None),
    ("generator CPU, calls (% core)",
     ("calls", "generator_cpu", "cpu_pct_of_one_core"), "%.1f", False, None),
    ("other load on the host, calls (cores)", ("calls", "other_load_cores"),
     "%.2f", False, None),
]


def coalesce_table(results, sides):
    """notify_min_interval: NOTIFYs received in the call phase per blf side
    against the plain blf side (interval 0), states delivered (merged ones
    are not: each is reported by a later NOTIFY of the full state), and the
    change->NOTIFY latency of those delivered. Counts are exact; latencies
    on a shared machine are indicative."""
    rows = [("blf", results.get("blf"))] + [
        (s, results.get(s)) for s in sides if min_interval(s)]
    rows = [(s, r) for s, r in rows if r and r.get("calls")]
    if len(rows) < 2 or rows[0][0] != "blf":
        return ""
    base = g(rows[0][1], "calls", "notify", "received")
    out = ["notify_min_interval   NOTIFYs  saved   confirmed  terminated"
           "  p50 ms  p99 ms  p99 ms ended  CPU us/call  idle us/s"]
    for s, r in rows:
        recv = g(r, "calls", "notify", "received")
        bs = g(r, "calls", "notify", "by_state") or {}

        def dl(state):
            x = bs.get(state) or {}
            return "%s/%s" % (x.get("delivered"), x.get("expected"))
        saved = ("%5.1f%%" % (100.0 * (base - recv) / base)
                 if base and recv is not None else "   -  ")
        out.append("%-20s %8s %7s %10s %11s %7s %7s %13s %12s %10s" % (
            "%d ms" % min_interval(s), recv, saved, dl("confirmed"),
            dl("terminated"),
            fmt("%.2f", g(r, "calls", "latency_ms", "p50")),
            fmt("%.2f", g(r, "calls", "latency_ms", "p99")),
            fmt("%.2f", g(r, "calls", "latency_by_state_ms", "terminated",
                          "p99")),
            fmt("%.0f", g(r, "calls", "cpu_us_per_call")),
            fmt("%.0f", g(r, "kamailio", "idle_cpu_us_per_s"))))
        results.setdefault("coalesce", {})[s] = {
            "interval_ms": min_interval(s), "notifies_received": recv,
            "saved_pct": round(100.0 * (base - recv) / base, 1)
            if base and recv is not None else None,
            "by_state": bs,
            "p50_ms": g(r, "calls", "latency_ms", "p50"),
            "p99_ms": g(r, "calls", "latency_ms", "p99")}
    return "\n".join(out)


def verdict(target, stock_v, blf_v):
    if target is None or blf_v is None:
        return ""
    kind, val = target
    if kind == "ratio":
        if not stock_v:
            return ""
        ok = blf_v / stock_v <= val
        return "%s (<=%.2fx)" % ("ok" if ok else "MISS", val)
    ok = blf_v <= val
    return "%s (<=%g)" % ("ok" if ok else "MISS", val)


def fmt(f, v):
    return "-" if v is None else f % v


def table(stock, others):
    """stock, then each (name, result) of others with its ratio to stock
    and the verdict against the targets."""
    head = "%-36s %12s" % ("", "stock")
    for name, _ in others:
        head += " %12s %8s %-13s" % (name, "/stock", "target")
    out = [head]
    for label, path, f, ratio, target in ROWS:
        sv = g(stock, *path)
        line = "%-36s %12s" % (label, fmt(f, sv))
        for name, r in others:
            have = r and r.get("available")
            bv = g(r, *path) if have else None
            rr = ("%.3fx" % (bv / sv)) if (ratio and sv and bv is not None) \
                else ""
            # a list subscription is LIST_SIZE watchers in one: the
            # per-subscription targets are not its; see packages()
            tg = None if (name == "blf-list"
                          and path[0] in ("subscribe", "shm")) else target
            line += " %12s %8s %-13s" % (fmt(f, bv) if have else "n/a", rr,
                                         verdict(tg, sv, bv) if have
                                         else "")
        out.append(line.rstrip())
    for name, r in [("stock", stock)] + list(others):
        if r and r.get("crashed"):
            out.append("%s side: Kamailio CRASHED during the run (%d of %d "
                       "processes gone); see kamailio_log_problems in the "
                       "JSON" % (name, len(r["crashed"]["pids_gone"]),
                                 r["crashed"]["processes"]))
        if r and r.get("error"):
            out.append("%s side: error: %s" % (name, r["error"]))
        if name != "stock" and not (r and r.get("available")):
            out.append("%s side: not available (%s)"
                       % (name, (r or {}).get("reason", "not run")))
    return "\n".join(out)


def side_summary(r):
    if not r or not r.get("available"):
        return "n/a"
    if r.get("error"):
        return "error"
    crash = " CRASHED" if r.get("crashed") else ""
    return crash + ("subs %s/%s %s us/SUB %s B/sub; notif %s/%s lost %s dup %s "
            "%s us/NOTIFY p50/p99 %s/%s ms" % (
                fmt("%d", g(r, "subscribe", "established")),
                fmt("%d", g(r, "subscribe", "requested")),
                fmt("%.0f", g(r, "subscribe", "cpu_us_per_subscribe")),
                fmt("%.0f", g(r, "shm", "bytes_per_subscription")),
                fmt("%d", g(r, "calls", "notify", "delivered")),
                fmt("%d", g(r, "calls", "notify", "expected")),
                fmt("%d", g(r, "calls", "notify", "lost")),
                fmt("%d", g(r, "calls", "notify", "duplicates")),
                fmt("%.1f", g(r, "calls", "cpu_us_per_notify")),
                fmt("%.2f", g(r, "calls", "latency_ms", "p50")),
                fmt("%.2f", g(r, "calls", "latency_ms", "p99"))))


def packages(results):
    """The presence and list figures (issues #11, #12) as multiples of the
    blf side's CPU per dialog NOTIFY in the same run: a dict for the JSON
    and the lines of the table printed under the main one."""
    base = g(results.get("blf"), "calls", "cpu_us_per_notify")
    # per state the watchers had to get (the same calls give each side the
    # same states): the presence side sends no NOTIFY for trying -> early
    # (both "Ringing"), so it divides the same calls by a quarter fewer
    # NOTIFYs; this ratio carries no target, it is printed beside the one
    # that does (bench/README.md, "Presence and list NOTIFYs")
    base_st = g(results.get("blf"), "calls", "cpu_us_per_delivered_state")
    pres, lst = results.get("blf-presence"), results.get("blf-list")
    out, lines = {}, []

    def row(label, v, f, x=None, target=None):
        xs = ("%.2fx" % x) if x is not None else ""
        vd = ""
        if x is not None and target is not None:
            vd = "%s (<=%gx)" % ("ok" if x <= target else "MISS", target)
        lines.append(("%-44s %12s %8s %s" % (label, fmt(f, v), xs,
                                             vd)).rstrip())

    def over(v):
        return round(v / base, 3) if (v is not None and base) else None

    def over_st(v):
        return round(v / base_st, 3) if (v is not None and base_st) else None

    if not (pres and pres.get("available")) and not (
            lst and lst.get("available")):
        return out, ""
    lines.append("%-44s %12s %8s %s" % (
        "event packages (blf side: %s us per dialog NOTIFY)"
        % fmt("%.1f", base), "", "/blf", "target"))
    if pres and pres.get("available"):
        v = g(pres, "calls", "cpu_us_per_notify")
        d = {"cpu_us_per_notify": v, "cpu_per_notify_over_blf": over(v),
             "shm_bytes_per_subscription": g(pres, "shm",
                                             "bytes_per_subscription"),
             "shm_bytes_per_publication": g(pres, "publish",
                                            "shm_bytes_per_publication"),
             "cpu_us_per_publish": g(pres, "publish", "cpu_us_per_publish"),
             "publications_accepted": g(pres, "publish", "accepted"),
             "notifies_lost": g(pres, "calls", "notify", "lost"),
             "pidf_invalid": g(pres, "calls", "pidf_invalid")}
        d["cpu_us_per_delivered_state"] = g(
            pres, "calls", "cpu_us_per_delivered_state")
        d["delivered_state_over_blf"] = over_st(
            d["cpu_us_per_delivered_state"])
        out["blf_presence"] = d
        row("presence: CPU per presence NOTIFY (us)", v, "%.1f",
            d["cpu_per_notify_over_blf"],
            TARGETS["presence_notify_over_dialog"])
        row("presence: CPU per delivered state (us)",
            d["cpu_us_per_delivered_state"], "%.1f",
            d["delivered_state_over_blf"])
        row("presence: shm per subscription (B)",
            d["shm_bytes_per_subscription"], "%.0f")
        row("presence: publications accepted (of M)",
            d["publications_accepted"], "%d")
        row("presence: shm per publication (B)",
            d["shm_bytes_per_publication"], "%.0f")
        row("presence: CPU per PUBLISH (us)", d["cpu_us_per_publish"],
            "%.1f")
        row("presence: NOTIFYs lost / PIDF invalid",
            None if d["notifies_lost"] is None else "%s / %s" % (
                d["notifies_lost"], d["pidf_invalid"]), "%s")
    if lst and lst.get("available"):
        est = g(lst, "subscribe", "established")
        v = g(lst, "calls", "cpu_us_per_notify")
        full = g(lst, "subscribe", "cpu_us_per_full_state")
        d = {"list_size": g(lst, "list_size"), "lists_established": est,
             "cpu_us_per_partial_notify": v,
             "partial_over_blf": over(v),
             "cpu_us_per_full_state": full,
             "full_state_over_blf": over(full),
             "full_state_notifies": g(lst, "subscribe", "full_state_notifies"),
             "shm_bytes_per_list_subscription": g(
                 lst, "shm", "bytes_per_subscription"),
             "notifies_lost": g(lst, "calls", "notify", "lost")}
        d["cpu_us_per_delivered_state"] = g(
            lst, "calls", "cpu_us_per_delivered_state")
        d["delivered_state_over_blf"] = over_st(
            d["cpu_us_per_delivered_state"])
        out["blf_list"] = d
        row("list: lists established (members each)",
            None if est is None else "%s (%s)" % (est, d["list_size"]), "%s")
        row("list: CPU per member change, partial (us)", v, "%.1f",
            d["partial_over_blf"], TARGETS["list_partial_over_dialog"])
        row("list: CPU per delivered member state (us)",
            d["cpu_us_per_delivered_state"], "%.1f",
            d["delivered_state_over_blf"])
        row("list: CPU per full state (us)", full, "%.1f",
            d["full_state_over_blf"], TARGETS["list_full_over_dialog"])
        row("list: NOTIFYs per full state",
            d["full_state_notifies"], "%.2f")
        row("list: shm per list subscription (B)",
            d["shm_bytes_per_list_subscription"], "%.0f")
        row("list: member states lost", d["notifies_lost"], "%d")
    return out, "\n".join(lines)


FLOOR_ROWS = [
    ("CPU per NOTIFY / floor", ("calls", "cpu_us_per_notify"),
     TARGETS["cpu_per_notify_floor"]),
    ("CPU per SUBSCRIBE / floor", ("subscribe", "cpu_us_per_subscribe"),
     TARGETS["cpu_per_subscribe_floor"]),
]


def floor_table(floor, others):
    """The floor's cost per message, then each blf side's CPU figures as
    multiples of it, with the verdicts."""
    fv = g(floor, "floor", "cpu_us_per_message")
    if not fv:
        why = (floor or {}).get("reason") or (floor or {}).get("error") \
            or "no message answered"
        return "floor: not available (%s)" % why
    fl = floor["floor"]
    out = ["floor (Kamailio answering %d NOTIFY-sized requests of %d B "
           "statelessly, %d lost, p99 %.2f ms): %.1f us per message"
           % (fl["answered"], fl["bytes"], fl["lost"],
              g(fl, "latency_ms", "p99") or 0, fv)]
    head = "%-36s" % ""
    for name, _ in others:
        head += " %12s %-13s" % (name, "target")
    out.append(head)
    for label, path, tv in FLOOR_ROWS:
        line = "%-36s" % label
        for name, r in others:
            bv = g(r, *path) if r and r.get("available") else None
            if bv is None:
                line += " %12s %-13s" % ("n/a", "")
                continue
            x = bv / fv
            line += " %12s %-13s" % ("%.2fx" % x, "%s (<=%.1fx)" % (
                "ok" if x <= tv else "MISS", tv))
        out.append(line.rstrip())
    return "\n".join(out)


def calls_alone(results):
    """The blf side's CPU per NOTIFY without what its calls cost by
    themselves (relayed through tm and dialog, tracked by blf), as the
    blf-calls side measured them (the same config and calls, one
    subscription): a diagnostic beside the floor ratio, not a target."""
    b, c = results.get("blf"), results.get("blf-calls")
    per_call = g(c, "calls", "cpu_us_per_call")
    if not (b and b.get("working") and c and c.get("working") and per_call):
        return None
    done = g(b, "calls", "calls", "completed")
    recv = g(b, "calls", "notify", "received")
    cpu = g(b, "calls", "kamailio_cpu", "cpu_s")
    if not (done and recv and cpu):
        return None
    calls_us = per_call * done / recv
    out = {"calls_alone_us_per_call": per_call,
           "calls_alone_us_per_blf_notify": round(calls_us, 1),
           "blf_us_per_notify": round(1e6 * cpu / recv, 1),
           "blf_us_per_notify_without_calls":
               round(1e6 * cpu / recv - calls_us, 1)}
    fv = g(results.get("floor"), "floor", "cpu_us_per_message")
    if fv:
        out["over_floor"] = round(out["blf_us_per_notify_without_calls"]
                                  / fv, 3)
    return out


def calls_alone_report(ca):
    return ("the calls alone (blf-calls: the blf config, one subscription): "
            "%s us per call = %s of the blf side's %s us per NOTIFY; "
            "without them %s us per NOTIFY%s (a diagnostic, no target)"
            % (ca["calls_alone_us_per_call"],
               ca["calls_alone_us_per_blf_notify"], ca["blf_us_per_notify"],
               ca["blf_us_per_notify_without_calls"],
               " = %.2fx the floor" % ca["over_floor"]
               if "over_floor" in ca else ""))


def floor_ratios(floor, r):
    fv = g(floor, "floor", "cpu_us_per_message")
    out = {}
    if not fv or not (r and r.get("available")):
        return out
    for label, path, tv in FLOOR_ROWS:
        bv = g(r, *path)
        if bv is not None:
            out[".".join(path)] = round(bv / fv, 3)
    return out


def ratios(stock, blf):
    out = {}
    if not (stock and blf and blf.get("available")):
        return out
    for label, path, f, ratio, target in ROWS:
        sv, bv = g(stock, *path), g(blf, *path)
        if ratio and sv and bv is not None:
            out[".".join(path)] = round(bv / sv, 4)
    return out


# ---------------------------------------------------------------- main

def main():
    env = os.environ.get
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--subs", type=int, default=10000, help="S")
    p.add_argument("--exts", type=int, default=1000, help="M")
    p.add_argument("--rate", type=float, default=20, help="R calls/s")
    p.add_argument("--duration", type=float, default=30, help="T s")
    p.add_argument("--ring-ms", type=int, default=300)
    p.add_argument("--hold-ms", type=int, default=2000)
    p.add_argument("--children", type=int, default=4)
    p.add_argument("--shm-mb", type=int, default=256)
    p.add_argument("--pkg-mb", type=int, default=32)
    p.add_argument("--mem-manager", default="",
                   help="Kamailio -x for both sides: qm (its default), tlsf, "
                        "fm")
    p.add_argument("--maxbuffer", type=int, default=4194304)
    p.add_argument("--window", type=int, default=200,
                   help="subscriptions in flight")
    p.add_argument("--sub-rate", type=float, default=0,
                   help="SUBSCRIBEs/s (0 = as fast as the window allows)")
    p.add_argument("--sockets", type=int, default=4,
                   help="watcher UDP sockets of the generator")
    p.add_argument("--settle-ms", type=int, default=5000)
    p.add_argument("--idle-s", type=float, default=2)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--port-base", type=int, default=25060)
    p.add_argument("--sides", default="stock,blf,blf-tm,floor",
                   help="comma-separated, of: " + ",".join(SIDE_NAMES))
    p.add_argument("--blf-module", default=env("BLF_MODULE") or os.path.join(
        HERE, "..", "modules", "blf", "blf.so"))
    p.add_argument("--gen", default=os.path.join(HERE, "blfgen"))
    p.add_argument("--results", default=os.path.join(HERE, "results"))
    p.add_argument("--name", default="bench")
    p.add_argument("--keep-tmp", action="store_true")
    p.add_argument("--cluster", type=int, default=0,
                   help="also run N blf nodes over DMQ (make bench-cluster)")
    p.add_argument("--cluster-kill", action="store_true",
                   help="SIGKILL the last node mid-call-phase, restart it")
    p.add_argument("--kill-no-vip", action="store_true",
                   help="--cluster-kill without the address move: the "
                   "phones keep sending a call's messages to the killed "
                   "node (no survivor can adopt its calls)")
    p.add_argument("--takeover-call-hold", type=int, default=None,
                   help="the nodes' takeover_call_hold (default: the "
                   "module's, 30 s; 0 with --kill-no-vip)")
    p.add_argument("--cluster-restart-s", type=float, default=8)
    p.add_argument("--cluster-rejoin", action="store_true",
                   help="after the subscriptions, kill the last node, let "
                   "the others take over, restart it and time its pull of "
                   "the full state (no call phase)")
    p.add_argument("--min-intervals", default="",
                   help="also run blf with notify_min_interval=N ms for "
                   "each N of this comma-separated list (sides blf-mi<N>)")
    p.add_argument("--list-size", type=int, default=LIST_SIZE,
                   help="members per list of the blf-list side (at most M); "
                   "it subscribes S/N lists")
    p.add_argument("--no-publish", action="store_true",
                   help="blf-presence without the PUBLISH of one PIDF "
                   "document per extension (NOTIFYs without published "
                   "tuples)")
    p.add_argument("--quiet-s", type=float, default=0,
                   help="after the subscriptions, measure each Kamailio "
                   "process's CPU over this many quiet seconds (timers)")
    p.add_argument("--restart-db", action="store_true",
                   help="blf sides: persist to sqlite, restart Kamailio "
                   "after the subscriptions and time the reload")
    p.add_argument("--dump", type=int, default=0,
                   help="print the first N call-phase NOTIFY bodies")
    a = p.parse_args()
    if a.exts < 2 or a.subs < 1:
        p.error("need S >= 1 and M >= 2")
    sides = [s for s in a.sides.split(",") if s]
    for n in (x.strip() for x in a.min_intervals.split(",")):
        if n:
            if not n.isdigit():
                p.error("--min-intervals takes ms values, not %r" % n)
            if "blf-mi" + n not in sides:
                # before the floor, which runs last anyway
                sides.insert(len([s for s in sides if s != "floor"]),
                             "blf-mi" + n)
    if a.subs > 10000:
        TARGETS["p99_ms"] = 5.0
    for i, (label, path, f, ratio, target) in enumerate(ROWS):
        if path == ("calls", "latency_ms", "p99"):
            ROWS[i] = (label, path, f, ratio, ("abs", TARGETS["p99_ms"]))

    params = {k: getattr(a, k) for k in (
        "subs", "exts", "rate", "duration", "ring_ms", "hold_ms", "children",
        "shm_mb", "pkg_mb", "mem_manager", "window", "sub_rate", "sockets", "seed",
        "quiet_s", "restart_db")}
    params["watchers_per_ext"] = round(a.subs / a.exts, 2)
    results = {"name": a.name, "params": params,
               "started": datetime.datetime.now().isoformat(timespec="seconds"),
               "host": {"cpus": os.cpu_count(),
                        "kamailio": subprocess.run(
                            [KAMAILIO, "-v"], stdout=subprocess.PIPE,
                            text=True).stdout.splitlines()[0]}}
    blf_mod = os.path.abspath(a.blf_module)

    for side in sides:
        if side not in SIDE_NAMES and not min_interval(side):
            p.error("unknown side %r (sides: %s)" % (side,
                                                    ",".join(SIDE_NAMES)))
        if side == "floor":
            continue  # last: it replays what a blf side delivered
        if side.startswith("blf") and not os.path.isfile(blf_mod):
            results[side] = {"side": side, "available": False,
                             "reason": "%s not built" % blf_mod}
            log("%s: not available (%s not built)" % (side, blf_mod))
            continue
        log("%s: starting (S=%d M=%d R=%g T=%g, %d children)"
            % (side, a.subs, a.exts, a.rate, a.duration, a.children))
        r = run_side(side, a, blf_mod if side.startswith("blf") else None)
        results[side] = r
        if not r.get("available"):
            r.setdefault("reason", r.get("error"))
            log("%s: not available (%s)" % (side, r.get("reason")))
        elif r.get("error"):
            log("%s: error: %s" % (side, r["error"]))
        if r.get("crashed"):
            log("%s: Kamailio processes died during the run: %s"
                % (side, r.get("kamailio_log_problems", {}).get("last")))
        else:
            log("%s: %s" % (side, side_summary(r)))

    if "floor" in sides:
        ref = next((results[s] for s in ("blf", "blf-tm")
                    if s in results and results[s].get("working")), None)
        log("floor: starting")
        results["floor"] = run_floor(a, ref)
        fl = results["floor"]
        log("floor: %s" % (("%.1f us per message" % g(fl, "floor",
                                                      "cpu_us_per_message"))
                           if g(fl, "floor", "cpu_us_per_message")
                           else "not available (%s)"
                           % (fl.get("reason") or fl.get("error"))))

    if a.cluster:
        if a.cluster < 2 or a.cluster > 8:
            p.error("--cluster takes 2..8 nodes")
        ref = results.get("blf")
        log("cluster: %d nodes%s" % (a.cluster, ", one killed mid-run"
                                     if a.cluster_kill else ""))
        results["cluster"] = run_cluster(a, blf_mod, ref)

    stock = results.get("stock")
    floor = results.get("floor")
    others = [(s, results.get(s)) for s in sides
              if s not in ("stock", "floor", "blf-calls")]
    summary = ("%s S=%d M=%d R=%g T=%g children=%d | stock: %s"
               % (a.name, a.subs, a.exts, a.rate, a.duration, a.children,
                  side_summary(stock)))
    for name, r in others:
        summary += " | %s: %s" % (name, side_summary(r))
    for name, r in others:
        rr = ratios(stock, r)
        results["ratios_%s_over_stock" % name.replace("-", "_")] = rr
        fr = floor_ratios(floor, r)
        if fr:
            results["ratios_%s_over_floor" % name.replace("-", "_")] = fr
            summary += " | %s/floor CPU/NOTIFY %s CPU/SUB %s" % (
                name, fmt("%.2fx", fr.get("calls.cpu_us_per_notify")),
                fmt("%.2fx", fr.get("subscribe.cpu_us_per_subscribe")))
        if rr:
            summary += " | %s/stock CPU/NOTIFY %s CPU/SUB %s" % (
                name, fmt("%.3fx", rr.get("calls.cpu_us_per_notify")),
                fmt("%.3fx", rr.get("subscribe.cpu_us_per_subscribe")))
    ca = calls_alone(results)
    if ca:
        results["calls_alone"] = ca
        summary += " | blf CPU/NOTIFY without the calls %s us%s" % (
            ca["blf_us_per_notify_without_calls"],
            " = %.2fx floor" % ca["over_floor"] if "over_floor" in ca
            else "")
    results["summary"] = summary
    ct = coalesce_table(results, sides)  # also adds results["coalesce"]
    pk, pt = packages(results)
    if pk:
        results["packages"] = pk
        for k, v in pk.items():
            summary += " | %s: %s" % (k, ", ".join(
                "%s %s" % (x, v[x]) for x in (
                    "cpu_per_notify_over_blf", "shm_bytes_per_publication",
                    "partial_over_blf", "full_state_over_blf",
                    "shm_bytes_per_list_subscription") if x in v))
    results["finished"] = datetime.datetime.now().isoformat(
        timespec="seconds")

    os.makedirs(a.results, exist_ok=True)
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    path = os.path.join(a.results, "%s-%s.json" % (a.name, stamp))
    with open(path, "w") as f:
        json.dump(results, f, indent=2)
    shutil.copy(path, os.path.join(a.results, a.name + "-latest.json"))

    print()
    print(table(stock, others))
    if floor:
        print()
        print(floor_table(floor, others))
    if ca:
        print()
        print(calls_alone_report(ca))
    if pt:
        print()
        print(pt)
    if ct:
        print()
        print(ct)
    if results.get("cluster"):
        print()
        print(cluster_report(results["cluster"], results.get("blf")))
    print()
    print(summary)
    print("results: " + os.path.relpath(path))
    # the harness only fails when the stock side (the baseline) failed
    return 0 if stock is None or (stock.get("available")
                                  and not stock.get("error")) else 1


if __name__ == "__main__":
    sys.exit(main())
