#!/usr/bin/env python3
"""soak.py — `make soak`: an hour (SOAK_SECONDS) of ordinary traffic on a
two-node blf cluster (DMQ) with the alias and park services of an HTTP stub,
sampling shm and pkg of each node; fails when memory grows.

What runs, all the time, from a seeded RNG (SOAK_SEED):
  - calls on each node between phones registered there: answered and hung
    up, rung and cancelled, rejected, some left up for a while; watchers on
    both nodes see them (the other node through DMQ replicas);
  - subscriptions: long ones refreshed, short ones (Expires 10) left to
    expire, others ended with Expires: 0, some to aliases (the stub names
    their entity) and to a park orbit (the stub's list changes);
  - HTTP flaps: every flap interval the stub turns slow, answers 500 or
    garbage, closes connections or goes down, for a while, then heals;
  - a node restart: node 2 is killed (SIGKILL of its process group, as a
    crashed host) at 40 % of the run; the load goes on with node 1, which
    takes its subscriptions over and ends its calls; after the takeover
    bound node 2 starts again, resyncs, and its phones register again.
Every SOAK_SAMPLE seconds (default: SOAK_SECONDS/60, within 5..15) the load
pauses until transactions are few (at most 3 s), then each node's
`core.shmmem` real_used and the sum of `pkg.stats` used over its processes
(plus subscriptions, transactions) go to a CSV (SOAK_CSV, default
build/soak-<time>.csv). The first WARMUP part is not sampled.

Verdict: every process of both nodes still up (checked at each sample),
a fresh SUBSCRIBE and a call that lights a lamp work on each node at the
end, and between the median of the first quarter of the samples and that
of the last quarter neither shm grew by more than SOAK_SHM_MARGIN (512 KB)
nor pkg by more than SOAK_PKG_MARGIN (128 KB). Node 2 is judged on its
samples after the restart (before it when too few). SIP answers that went
missing or were errors while HTTP was flapping or a node was down are
counted and printed, not failed: the soak is about memory and staying up.

Short mode: SOAK_SECONDS=120 make soak. SOAK_KEEP=1 keeps the nodes' logs
of a run that passed.
"""

import csv
import os
import random
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "integration"))

import blfutil  # noqa: E402
import cluster  # noqa: E402
import kamproc  # noqa: E402
import sipua  # noqa: E402
from httpstub import HttpStub  # noqa: E402
from httputil import http_params  # noqa: E402

REPO = os.path.dirname(HERE)
DOMAIN = kamproc.DOMAIN


def env_num(name, default, kind=float):
    v = os.environ.get(name, "").strip()
    return kind(v) if v else default


SECONDS = env_num("SOAK_SECONDS", 3600)
SAMPLE = env_num("SOAK_SAMPLE", max(5.0, min(15.0, SECONDS / 60.0)))
QUIET = 3.0  # s at most that a sample waits for transactions to end
SHM_MARGIN = env_num("SOAK_SHM_MARGIN", 512 * 1024, int)
PKG_MARGIN = env_num("SOAK_PKG_MARGIN", 128 * 1024, int)
SEED = env_num("SOAK_SEED", 1, int)
WARMUP = min(60.0, max(15.0, SECONDS * 0.1))
FLAP_EVERY = min(300.0, max(20.0, SECONDS / 12.0))
FLAP_LEN = min(30.0, FLAP_EVERY / 2.0)
RESTART_AT = 0.4  # of the run
TICK = 0.25  # s between two actions
FLAPS = ["slow", "error", "garbage", "close", "down"]
N_ALIASES = 10
MIN_EXPIRES = 10


class Node:
    """The phones of one cluster node: callers, callees and a watcher."""

    def __init__(self, idx, kam):
        self.idx = idx
        self.kam = kam
        self.phones = {}
        self.callers = []
        self.callees = []
        self.watcher = None
        self.calls = []  # (Call, end time) left up for a while
        self.long = []  # [Lamp, next refresh time]
        self.short = []  # [Subscription, end time or None (expires)]
        self.restarts = 0
        self.down = False  # killed on purpose, not restarted yet

    def phone(self, user, **kw):
        ph = sipua.Phone(user, self.kam.addr, DOMAIN, **kw)
        self.phones[user] = ph
        return ph

    def register_all(self):
        for ph in self.phones.values():
            r = ph.register(expires=3600)
            assert r.status == 200, "REGISTER %s: %s" % (ph.uri,
                                                         r.first_line())

    def close(self):
        for ph in self.phones.values():
            ph.close()


class Soak:
    def __init__(self):
        self.rng = random.Random(SEED)
        self.errors = {}
        self.counts = {}
        self.samples = []  # dicts
        self.csv_path = os.environ.get("SOAK_CSV") or os.path.join(
            REPO, "build", "soak-%s.csv" % time.strftime("%Y%m%d-%H%M%S"))
        self.stub = HttpStub().start()
        self.stub.set_orbits([])
        for i in range(N_ALIASES):
            self.stub.set_alias("sip:7%03d@%s" % (i, DOMAIN),
                                "sip:e%d%d@%s" % (i % 2, 1 + i % 3, DOMAIN),
                                max_age=5)
        params = http_params(self.stub, park=True, http_timeout=1000,
                             alias_cache_ttl=5, min_expires=MIN_EXPIRES)
        self.cluster = cluster.Cluster(2, **params)
        self.nodes = []
        self.flap = None  # (mode, until)
        self.next_flap = time.monotonic() + FLAP_EVERY
        self.next_park = time.monotonic() + 15
        self.parked = False
        self.restarted_at = None  # elapsed s when node 2 came back

    # -- bookkeeping ---------------------------------------------------------
    def count(self, what):
        self.counts[what] = self.counts.get(what, 0) + 1

    def error(self, what, exc):
        key = "%s: %s" % (what, type(exc).__name__) if exc else what
        self.errors[key] = self.errors.get(key, 0) + 1

    # -- set up --------------------------------------------------------------
    def start(self):
        self.cluster.start(timeout=60)
        for i, kam in enumerate(self.cluster.nodes):
            n = Node(i, kam)
            for k in range(1, 4):
                n.callers.append(n.phone("c%d%d" % (i, k)))
                n.callees.append(n.phone("e%d%d" % (i, k)))
            n.watcher = n.phone("w%d" % i)
            n.register_all()
            self.nodes.append(n)
        for n in self.nodes:
            self.subscribe_long(n)

    def subscribe_long(self, n):
        """The watcher of n watches every callee of both nodes, an alias
        and the park orbit, for 120 s, refreshed every 40-80 s."""
        n.long = []
        targets = [c.user for m in self.nodes for c in m.callees]
        targets += ["7%03d" % n.idx, "701"]
        for t in targets:
            try:
                lamp = blfutil.watch(n.watcher, t, expires=120)
                n.long.append([lamp, time.monotonic() +
                               self.rng.uniform(40, 80)])
            except Exception as e:  # counted; the soak goes on
                self.error("long subscribe", e)

    # -- actions -------------------------------------------------------------
    def live_nodes(self):
        return [n for n in self.nodes if not n.down]

    def act(self):
        nodes = self.live_nodes()
        if not nodes:
            return
        n = self.rng.choice(nodes)
        x = self.rng.random()
        try:
            if x < 0.5:
                self.call(n)
            elif x < 0.75:
                self.short_subscribe(n)
            else:
                self.alias_subscribe(n)
        except Exception as e:
            self.error("action on node %d" % (n.idx + 1), e)

    def call(self, n):
        r = self.rng
        a, b = r.choice(n.callers), r.choice(n.callees)
        kind = r.choice(["answer", "answer", "cancel", "reject", "keep"])
        self.count("call-" + kind)
        if kind == "cancel":
            b.invite_policy = "ring"
            c = a.call(b.user)
            c.wait_state("early")
            c.cancel()
        elif kind == "reject":
            b.invite_policy = r.choice([486, 603, 404])
            a.call(b.user).wait_state("terminated")
        else:
            b.invite_policy = "answer"
            c = a.call(b.user)
            c.wait_state("confirmed")
            if kind == "keep" and len(n.calls) < 4:
                n.calls.append((c, time.monotonic() + r.uniform(2, 20)))
            else:
                c.bye()

    def short_subscribe(self, n):
        r = self.rng
        target = r.choice([c.user for m in self.nodes for c in m.callees])
        sub = n.watcher.subscribe(target, expires=r.choice([MIN_EXPIRES,
                                                            60]))
        self.count("subscribe-short")
        if sub.responses[-1].status != 200:
            self.count("subscribe-short-%d" % sub.responses[-1].status)
            return
        # Expires 10: left to expire; 60: ended with Expires: 0 sooner
        end = None if sub.responses[-1].get("Expires") == str(MIN_EXPIRES) \
            else time.monotonic() + r.uniform(1, 15)
        n.short.append([sub, end])

    def alias_subscribe(self, n):
        """A fetch (Expires: 0) of an alias: an HTTP lookup when its cached
        answer is older than its max-age."""
        i = self.rng.randrange(N_ALIASES)
        sub = n.watcher.subscribe("7%03d" % i, expires=0)
        self.count("alias-fetch-%d" % sub.responses[-1].status)

    def housekeeping(self):
        now = time.monotonic()
        for n in self.live_nodes():
            for c, end in list(n.calls):
                if now >= end:
                    n.calls.remove((c, end))
                    try:
                        c.bye()
                    except Exception as e:
                        self.error("bye", e)
            for s in list(n.short):
                sub, end = s
                if end is not None and now >= end:
                    n.short.remove(s)
                    try:
                        sub.unsubscribe()
                    except Exception as e:
                        self.error("unsubscribe", e)
                elif end is None and (not sub.notifies or
                                      now - sub.notifies[0].time > 60):
                    n.short.remove(s)  # expired (or never notified)
            for ls in n.long:
                if now >= ls[1]:
                    ls[1] = now + self.rng.uniform(40, 80)
                    try:
                        r = ls[0].sub.refresh(120)
                        self.count("refresh-%d" % r.status)
                        if r.status != 200:
                            # which watcher and target, for the log
                            self.error("refresh %d (node %d watcher, %s, "
                                       "call-id %s)" % (
                                           r.status, n.idx + 1,
                                           ls[0].sub.target,
                                           ls[0].sub.call_id), None)
                    except Exception as e:
                        self.error("refresh", e)
            for ph in n.phones.values():
                trim(ph)
        # HTTP flaps
        if self.flap and now >= self.flap[1]:
            if self.flap[0] == "down":
                self.stub.up()
            self.stub.set_mode("ok")
            self.flap = None
        elif self.flap is None and now >= self.next_flap:
            mode = self.rng.choice(FLAPS)
            if mode == "down":
                self.stub.down()
            elif mode == "slow":
                self.stub.set_mode("slow", delay_ms=3000)
            else:
                self.stub.set_mode(mode)
            self.flap = (mode, now + FLAP_LEN)
            self.next_flap = now + FLAP_EVERY
            self.count("flap-" + mode)
        # the park orbit: a call parked there, then gone
        if now >= self.next_park:
            self.next_park = now + 15
            self.parked = not self.parked
            self.stub.set_orbits([{
                "orbit": "701", "call_id": "soak-park-%d" % int(now),
                "parked": "sip:c01@%s" % DOMAIN,
                "parker": "sip:e01@%s" % DOMAIN}] if self.parked else
                [{"orbit": "701"}])

    # -- the restart ---------------------------------------------------------
    def kill_node2(self, t0):
        """Node 2 dies; the load goes on with node 1, which takes over its
        subscriptions and ends its calls."""
        n = self.nodes[1]
        print("soak: %.0f s: killing node 2 (%s)" % (
            time.monotonic() - t0, n.kam.name), flush=True)
        n.calls = []
        n.short = []
        n.down = True
        n.kam.kill()

    def restart_node2(self, t0):
        n = self.nodes[1]
        n.kam.restart()
        n.down = False
        self.cluster.wait_formed(60)
        n.register_all()
        self.subscribe_long(n)
        n.restarts += 1
        self.restarted_at = time.monotonic() - t0
        print("soak: %.0f s: node 2 back" % self.restarted_at, flush=True)

    # -- sampling -------------------------------------------------------------
    def quiet(self):
        """The load pauses until each node has at most 4 transactions (its
        DMQ hellos; at most QUIET s): a sample then measures what is kept
        (subscriptions, calls, caches), not what is in flight."""
        deadline = time.monotonic() + QUIET
        while time.monotonic() < deadline:
            try:
                if all(int(n.kam.rpc("tm.stats").get("current", 0)) <= 4
                       for n in self.live_nodes()):
                    return
            except Exception:
                return  # sample() tells what is wrong
            time.sleep(0.1)  # poll interval of a bounded wait

    def sample(self, writer, t0):
        self.quiet()
        for n in self.nodes:
            if n.down:
                continue
            kam = n.kam
            if not kam.running or not all(alive(p) for p in kam.pids):
                raise SystemExit("soak FAILED: a process of node %d is gone "
                                 "(log %s):\n%s" % (
                                     n.idx + 1, kam.log_path,
                                     "\n".join(kamproc.crash_lines(
                                         kam.log(), 20))))
            try:
                row = {
                    "t": round(time.monotonic() - t0, 1), "node": n.idx + 1,
                    "incarnation": n.restarts,
                    "shm": int(kam.rpc("core.shmmem")["real_used"]),
                    "pkg": sum(int(p["used"]) for p in kam.rpc(
                        "pkg.stats")),
                    "subscriptions": len(blfutil.subscriptions(kam)),
                    "transactions": int(kam.rpc("tm.stats").get(
                        "current", 0)),
                    "http": self.flap[0] if self.flap else "ok",
                }
            except Exception as e:  # RPC must answer: that is a failure
                raise SystemExit("soak FAILED: node %d RPC: %r" % (
                    n.idx + 1, e))
            self.samples.append(row)
            writer.writerow(row)

    # -- the end --------------------------------------------------------------
    def settle(self):
        if self.flap:
            if self.flap[0] == "down":
                self.stub.up()
            self.stub.set_mode("ok")
            self.flap = None
        for n in self.nodes:
            for c, _ in n.calls:
                try:
                    c.bye()
                except Exception as e:
                    self.error("bye", e)
            n.calls = []
            for sub, _ in n.short:
                try:
                    sub.unsubscribe()
                except Exception as e:
                    self.error("unsubscribe", e)
            n.short = []

    def serves(self, n):
        """A fresh SUBSCRIBE gets 200 and a valid NOTIFY; a call lights
        the lamp (also on the other node's watcher) and BYE ends it."""
        a, b = n.callers[0], n.callees[0]
        w = n.phone("fresh%d" % n.idx)
        assert w.register().status == 200
        lamp = blfutil.watch(w, b.user, expires=60)
        b.invite_policy = "answer"
        c = a.call(b.user)
        c.wait_state("confirmed")
        lamp.wait_state("confirmed", c.call_id, timeout=10)
        c.bye()
        lamp.wait_state("terminated", c.call_id, timeout=10)
        assert lamp.sub.unsubscribe().status == 200

    def verdict(self):
        bad = []
        for n in self.nodes:
            rows = [r for r in self.samples if r["node"] == n.idx + 1]
            after = [r for r in rows if r["incarnation"] == n.restarts]
            if n.restarts and len(after) >= 8:
                rows, which = after, "after its restart"
            elif n.restarts:
                rows = [r for r in rows if r["incarnation"] == 0]
                which = "before its restart"
            else:
                which = "whole run"
            q = max(1, len(rows) // 4)
            for key, margin in (("shm", SHM_MARGIN), ("pkg", PKG_MARGIN)):
                first = statistics.median(r[key] for r in rows[:q])
                last = statistics.median(r[key] for r in rows[-q:])
                line = ("node %d %s (%s, %d samples): median of first "
                        "quarter %d, of last quarter %d (%+d, margin %d)" % (
                            n.idx + 1, key, which, len(rows), first, last,
                            last - first, margin))
                print("soak: " + line)
                if last - first > margin:
                    bad.append(line)
        return bad


def trim(ph):
    """Keeps a phone's bookkeeping small over an hour."""
    with ph.cond:
        del ph.trace[:-200]
        for d in (ph.client_txs, ph.server_txs):
            if len(d) > 2000:
                for k in list(d)[:-500]:
                    del d[k]
        if len(ph.subscriptions) > 100:
            ph.subscriptions[:] = [s for s in ph.subscriptions
                                   if s.state != "terminated"][-60:]
        del ph.calls[:-50]
        if len(ph.incoming) > 100:
            del ph.incoming[:-50]
            ph._in_cursor = 0


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def main():
    if not os.path.exists(kamproc.BLF_MODULE):
        sys.exit("soak: %s not built (make module)" % kamproc.BLF_MODULE)
    os.makedirs(os.path.dirname(os.path.abspath(
        os.environ.get("SOAK_CSV") or os.path.join(REPO, "build", "x"))),
        exist_ok=True)
    s = Soak()
    print("soak: %d s (warm-up %.0f s, sample every %.0f s, HTTP flap every "
          "%.0f s for %.0f s, node 2 restart at %.0f s), seed %d, CSV %s" % (
              SECONDS, WARMUP, SAMPLE, FLAP_EVERY, FLAP_LEN,
              SECONDS * RESTART_AT, SEED, s.csv_path), flush=True)
    failed = []
    try:
        s.start()
        t0 = time.monotonic()
        end = t0 + SECONDS
        next_sample = t0 + WARMUP
        killed_at = None  # node 2 is down from then until the takeover
        # bound (the SPEC's 3 DMQ ping intervals + 5 s) has passed
        down_for = s.cluster.bound() + 5
        with open(s.csv_path, "w", newline="") as f:
            writer = csv.DictWriter(f, ["t", "node", "incarnation", "shm",
                                        "pkg", "subscriptions",
                                        "transactions", "http"])
            writer.writeheader()
            while time.monotonic() < end:
                now = time.monotonic()
                if killed_at is None and now - t0 >= SECONDS * RESTART_AT:
                    killed_at = now
                    s.kill_node2(t0)
                elif killed_at and not s.nodes[1].restarts and \
                        now - killed_at >= down_for:
                    s.restart_node2(t0)
                    continue
                if now >= next_sample:
                    next_sample = now + SAMPLE
                    s.sample(writer, t0)
                    f.flush()
                s.act()
                s.housekeeping()
                time.sleep(TICK)  # the pace of the load, not a wait
            s.settle()
        for n in s.nodes:
            try:
                s.serves(n)
            except Exception as e:
                failed.append("node %d does not serve at the end: %r" % (
                    n.idx + 1, e))
        failed += s.verdict()
        for n in s.nodes:
            bad = kamproc.crash_lines(n.kam.log())
            if bad:
                failed.append("node %d logged:\n%s" % (n.idx + 1,
                                                       "\n".join(bad)))
    finally:
        print("soak: actions %s" % dict(sorted(s.counts.items())))
        print("soak: errors (counted, not failed) %s" % dict(
            sorted(s.errors.items())))
        try:
            s.cluster.stop()
        finally:
            for n in s.nodes:
                n.close()
            s.stub.down()
    if failed:
        print("soak FAILED:\n" + "\n".join(failed))
        print("soak: logs kept in %s" % " ".join(
            k.dir for k in s.cluster.nodes))
        return 1
    print("soak: OK, %d samples in %s" % (len(s.samples), s.csv_path))
    if os.environ.get("SOAK_KEEP"):
        print("soak: logs kept in %s" % " ".join(
            k.dir for k in s.cluster.nodes))
    else:
        for k in s.cluster.nodes:
            k.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
