"""cluster.py — N real Kamailio nodes running blf over DMQ, on loopback.

  Cluster(n, ping_interval=5, names=None, dmq_params=None, db=None,
          gate=True, extra_peers=(), blf_peers=True, **blf_params)
      n nodes on 127.0.0.1, each with its own free UDP port chosen before any
      starts (every node's cfg names all the others as DMQ notification
      addresses, so a node that restarts finds the live ones); dmq_params:
      more integer dmq modparams (e.g. {"num_workers": 1}); db="sqlite":
      each node persists to an SQLite file of its own (node.blf_db_path,
      db_flush_interval 1 unless given); gate: the KDMQ branch of each
      node's script answers 403 to KDMQ from any address but the other
      nodes' (and extra_peers, ports on 127.0.0.1), as the example
      kamailio-blf-cluster.cfg does (gate=False: every KDMQ reaches
      dmq_handle_message(), the script of issue #9); blf_peers: blf's
      modparam dmq_peers names the other nodes (and extra_peers);
      ipv6_first: each node listens on [::1] (its own port) before
      127.0.0.1, so its first UDP socket is an IPv6 one (give names then);
      tls: DMQ over TLS (tls.so, a socket of its own per node, certificates
      of a CA made for the cluster by make_certs(), verified both ways;
      the gate then wants $tls_peer_verified and dmq_peers names the
      peers' sip:IP:port;transport=tls URIs); vip: each node has an
      alias= line for every other node's address, as when the nodes
      share the cluster's addresses (a VIP moves to a survivor): a
      message naming a dead node's address in its Via or Route is then
      "myself" at the node it reached (takeover_call_hold's adoption).
  DmqPeer(cluster)         a raw UDP socket on loopback speaking KDMQ to
                           the nodes: a stranger (or, once admitted, a
                           hostile peer) of the tests of
                           test_cluster_hostile.py
  cluster.start()          starts every node, then waits for the cluster to
                           form (below); returns the cluster
  cluster.nodes[i]         ClusterNode: a kamproc.Kamailio (rpc, kamcmd, log,
                           dir, port, addr) with name, kill(), restart()
  cluster.stop()           SIGTERM then SIGKILL, per process group
  cluster.bound()          the SPEC's takeover bound: 3 DMQ ping intervals
                           plus 5 s

Each node renders the integration tests' kamailio.cfg.tpl (through
kamproc.Kamailio) with dmq.so loaded before blf.so, the dmq modparams, blf's
enable_dmq (and node_name when one is given) and a KDMQ branch at the top
of request_route (behind the peer gate unless gate=False). It runs in a session of its own (start_new_session), so
the process group id is its main PID: kill() SIGKILLs the whole group, as a
crashed host would lose every process at once (SIGKILL of the main process
alone leaves the children running, still answering SIP and DMQ).

Formation is awaited, never slept for: first every node's dmq.list_nodes
shows all n nodes active, then a probe subscription made through each node
is listed by every node's blf.subscriptions (which proves blf's own
replication works both ways) and is removed again with Expires: 0.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time

import blfutil
import kamproc
import sipua

DMQ_MIN_PING = 5  # dmq.h MIN_PING_INTERVAL: smaller values are raised to it


def _kill_group(pgid, sig):
    try:
        os.killpg(pgid, sig)
        return True
    except (ProcessLookupError, PermissionError):
        return False


free_tcp_port = kamproc.free_tcp_port


def make_certs(rogue=False):
    """A directory with a CA (ca.pem) and a certificate it signed
    (node.pem, node.key) for 127.0.0.1, made with openssl; rogue: another
    CA, for a stranger's certificate."""
    d = tempfile.mkdtemp(prefix="blf-tls-", dir="/tmp")

    def run(*args):
        subprocess.run(["openssl"] + list(args), cwd=d, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                       timeout=60)
    name = "rogue" if rogue else "blf-cluster"
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-subj", "/CN=%s-ca" % name, "-keyout", "ca.key", "-out", "ca.pem")
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj",
        "/CN=127.0.0.1", "-keyout", "node.key", "-out", "node.csr")
    with open(os.path.join(d, "ext.cnf"), "w") as f:
        f.write("subjectAltName=IP:127.0.0.1\n")
    run("x509", "-req", "-in", "node.csr", "-CA", "ca.pem", "-CAkey",
        "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "ext.cnf",
        "-out", "node.pem")
    return d


class ClusterNode(kamproc.Kamailio):
    """One node: a kamproc.Kamailio on a fixed port with DMQ in its cfg."""

    def __init__(self, port, peers, ping_interval, node_name=None,
                 params=None, dmq_params=None, db=None, gate=True,
                 extra_peers=(), blf_peers=True, ipv6_first=False,
                 tls=None, vip=False, **kw):
        params = dict(params or {})
        params["enable_dmq"] = 1
        trusted = list(peers) + list(extra_peers)
        # tls: (this node's DMQ TLS port, {UDP port: TLS port} of the
        # others, directory of tls.cfg's certificates) -- DMQ over TLS
        self.tls = tls
        if blf_peers and tls:
            params["dmq_peers"] = ",".join(
                "sip:127.0.0.1:%d;transport=tls" % tls[1][p] for p in peers)
        elif blf_peers:
            params["dmq_peers"] = ",".join("127.0.0.1:%d" % p
                                           for p in trusted)
        # source ports the KDMQ gate lets through (None: no gate)
        self.gate_ports = trusted if gate else None
        # a first UDP socket on [::1] (same port): the node's own Contact
        # after a takeover is then an IPv6 one
        self.ipv6_first = ipv6_first
        self.vip = vip
        if node_name:
            params["node_name"] = node_name
        kw.setdefault("fr_timer", 2000)
        super().__init__(blf=True, track=True, params=params, **kw)
        # db="sqlite": a database file of its own in the node's directory
        self.db = db
        self.blf_db_path = None
        if db == "sqlite":
            self.blf_db_path = os.path.join(self.dir, "blf.db")
            self.params["db_url"] = "sqlite:///" + self.blf_db_path
            self.params.setdefault("db_flush_interval", 1)
        elif db is not None:
            raise ValueError("db=%r: only sqlite" % db)
        self.port = port
        self.peers = list(peers)  # ports of the other nodes
        self.ping_interval = ping_interval
        # one DMQ worker, as the example config (blf also copes with
        # several: replicas carry their call's history); dmq_params may
        # override it
        self.dmq_params = dict({"num_workers": 1}, **(dmq_params or {}))
        # the name blf gives this node: node_name, else its first UDP socket
        self.name = node_name or "udp:127.0.0.1:%d" % port
        self.pgid = None

    def render(self):
        text = super().render()
        blf_line = 'loadmodule "%s"' % kamproc.BLF_MODULE
        assert blf_line in text, "no blf loadmodule line in the template"
        me = "sip:127.0.0.1:%d" % self.port
        dmq = []
        if self.tls:
            me = "sip:127.0.0.1:%d;transport=tls" % self.tls[0]
            text = text.replace(
                "disable_tcp=yes", "disable_tcp=no\nenable_tls=yes\n"
                "listen=tls:127.0.0.1:%d" % self.tls[0], 1)
            cfg = os.path.join(self.dir, "tls.cfg")
            with open(cfg, "w") as f:
                for side in ("server", "client"):
                    f.write("[%s:default]\nmethod = TLSv1.2+\n"
                            "certificate = %s/node.pem\n"
                            "private_key = %s/node.key\n"
                            "ca_list = %s/ca.pem\n"
                            "verify_certificate = yes\n"
                            "require_certificate = yes\n\n" % (
                                side, self.tls[2], self.tls[2],
                                self.tls[2]))
            dmq += ['loadmodule "tls.so"',
                    'modparam("tls", "config", "%s")' % cfg]
        dmq += ['loadmodule "dmq.so"',
               'modparam("dmq", "server_address", "%s")' % me,
               'modparam("dmq", "ping_interval", %d)' % self.ping_interval,
               'modparam("dmq", "multi_notify", 0)']
        dmq += ['modparam("dmq", "%s", %d)' % kv
                for kv in self.dmq_params.items()]
        if self.db == "sqlite":
            dmq.append('loadmodule "db_sqlite.so"')
        if self.tls:
            dmq += ['modparam("dmq", "notification_address", '
                    '"sip:127.0.0.1:%d;transport=tls")' % self.tls[1][p]
                    for p in self.peers]
        else:
            dmq += ['modparam("dmq", "notification_address", '
                    '"sip:127.0.0.1:%d")' % p for p in self.peers]
        text = text.replace(blf_line, "\n".join(dmq) + "\n" + blf_line, 1)
        if self.vip:
            v4 = "listen=udp:127.0.0.1:%d" % self.port
            assert v4 in text, "no listen line in the template"
            text = text.replace(v4, v4 + "".join(
                "\nalias=udp:127.0.0.1:%d" % p for p in self.peers), 1)
        if self.ipv6_first:
            v4 = "listen=udp:127.0.0.1:%d" % self.port
            assert v4 in text, "no listen line in the template"
            text = text.replace(v4, "listen=udp:[::1]:%d\n%s" % (
                self.port, v4), 1)
        route = "request_route {\n"
        assert route in text, "no request_route in the template"
        gate = ""
        if self.gate_ports is not None and self.tls:
            # over TLS: from the peers' address, with a certificate of the
            # cluster's CA (their source ports are ephemeral)
            gate = ('\t\tif(!($pr == "tls" && $tls_peer_verified == 1 && '
                    '$si == "127.0.0.1")) {\n'
                    '\t\t\tsl_send_reply("403", "Forbidden");\n'
                    '\t\t\texit;\n'
                    '\t\t}\n')
        elif self.gate_ports is not None:
            # as kamailio-blf-cluster.cfg: KDMQ only from the peers
            ports = " || ".join("$sp == %d" % p for p in self.gate_ports)
            gate = ('\t\tif(!($si == "127.0.0.1" && (%s))) {\n'
                    '\t\t\tsl_send_reply("403", "Forbidden");\n'
                    '\t\t\texit;\n'
                    '\t\t}\n' % (ports or "0"))
        text = text.replace(route, route +
                            '\tif(is_method("KDMQ")) {\n' + gate +
                            '\t\tdmq_handle_message();\n'
                            '\t\texit;\n'
                            '\t}\n', 1)
        with open(self.cfg_path, "w") as f:
            f.write(text)
        return text

    # -- lifecycle ------------------------------------------------------------
    def start(self, timeout=15.0):
        """Starts on the fixed port (no retry on another port: the other
        nodes' cfgs name this one)."""
        self.render()
        self._start_once(timeout)
        return self

    def _start_once(self, timeout):
        for p in (self.ctl_socket, self.rpc_socket):
            if os.path.exists(p):
                os.unlink(p)
        with open(self.log_path, "ab") as logf:
            logf.write(b"\n==== start %s ====\n" % time.strftime(
                "%H:%M:%S").encode())
            logf.flush()
            self.proc = subprocess.Popen(
                [kamproc.KAMAILIO, "-f", self.cfg_path, "-DD", "-E", "-m",
                 "64", "-M", "8", "-w", self.dir],
                stdin=subprocess.DEVNULL, stdout=logf, stderr=logf,
                cwd=self.dir, start_new_session=True)
        self.pgid = self.proc.pid
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise kamproc.StartError(
                    "kamailio %s exited with %s while starting; log:\n%s" % (
                        self.name, self.proc.returncode, self.log_tail()))
            if os.path.exists(self.rpc_socket):
                try:
                    psx = self.rpc("core.psx", timeout=1.0)
                    self.pids = sorted({int(p["PID"])
                                        for p in psx if "PID" in p})
                    return
                except (OSError, kamproc.RpcError, ValueError, KeyError):
                    pass
            if time.monotonic() > deadline:
                raise kamproc.StartError(
                    "kamailio %s not ready after %.0fs; log:\n%s" % (
                        self.name, timeout, self.log_tail()))
            time.sleep(0.05)  # polling interval of a bounded readiness wait

    def kill(self, timeout=5.0):
        """SIGKILL of the whole process group (a crash of the host, as far
        as the cluster can tell); returns the monotonic time of the kill."""
        assert self.proc is not None, "node %s is not running" % self.name
        t = time.monotonic()
        _kill_group(self.pgid, signal.SIGKILL)
        self.proc.wait(timeout)
        self._reap(timeout)
        self.proc = None
        return t

    def stop(self, timeout=5.0):
        """SIGTERM to the main process (it stops its children; see
        kamproc.terminate), then SIGKILL of whatever is left of the
        group."""
        if self.proc is None:
            return
        if self.proc.poll() is None and not kamproc.terminate(
                self.proc, timeout, self.log_path):
            _kill_group(self.pgid, signal.SIGKILL)
            self.proc.wait(timeout)
        self._reap(timeout)
        self.proc = None

    def _reap(self, timeout):
        """Children outlive a dead main process for a moment (or for ever
        when only it was killed): SIGKILL the group until it is empty."""
        deadline = time.monotonic() + timeout
        while kamproc.group_live(self.pgid):
            _kill_group(self.pgid, signal.SIGKILL)
            if time.monotonic() > deadline:
                raise AssertionError("processes of kamailio %s (group %d) "
                                     "still alive after SIGKILL" % (
                                         self.name, self.pgid))
            time.sleep(0.02)  # polling interval of a bounded wait

    def restart(self, timeout=15.0):
        """Starts again with the same cfg and port (after kill or stop)."""
        assert self.proc is None, "node %s is still running" % self.name
        self._start_once(timeout)
        return self

    # -- views ------------------------------------------------------------
    def dmq_nodes(self):
        return blfutil.records(self.rpc("dmq.list_nodes"), "host")

    @property
    def dmq_port(self):
        """The port of this node's DMQ URI (its TLS one with tls)."""
        return self.tls[0] if self.tls else self.port

    def active_peers(self):
        """Ports of the DMQ nodes this node sees active (itself excluded)."""
        return {int(n["port"]) for n in self.dmq_nodes()
                if n.get("status") == "active" and not int(n.get("local", 0))}

    def __repr__(self):
        return "<ClusterNode %s>" % self.name


class Cluster:
    def __init__(self, n=3, ping_interval=DMQ_MIN_PING, names=None,
                 dmq_params=None, db=None, gate=True, extra_peers=(),
                 blf_peers=True, ipv6_first=False, tls=False,
                 vip=False, **blf_params):
        ports = set()
        while len(ports) < n:
            ports.add(kamproc.free_udp_port())
        ports = sorted(ports)
        self.tls_dir = None
        tlsmap = {}
        if tls:
            self.tls_dir = make_certs()
            while len(set(tlsmap.values())) < n:
                tlsmap = {p: free_tcp_port() for p in ports}
        names = list(names or [None] * n)
        self.ping_interval = max(ping_interval, DMQ_MIN_PING)
        self.nodes = [ClusterNode(p, [q for q in ports if q != p],
                                  self.ping_interval, names[i], blf_params,
                                  dmq_params, db, gate, extra_peers,
                                  blf_peers, ipv6_first,
                                  (tlsmap[p], tlsmap, self.tls_dir)
                                  if tls else None, vip)
                      for i, p in enumerate(ports)]

    def bound(self):
        """SPEC: takeover within 3 DMQ ping intervals plus 5 s."""
        return 3 * self.ping_interval + 5

    def live(self):
        return [k for k in self.nodes if k.running]

    def start(self, timeout=30.0):
        for k in self.nodes:
            k.start()
        self.wait_formed(timeout)
        return self

    def stop(self):
        errors = []
        for k in self.nodes:
            try:
                k.stop()
            except Exception as e:  # stop the others anyway
                errors.append("%s: %s" % (k.name, e))
        if self.tls_dir:
            shutil.rmtree(self.tls_dir, ignore_errors=True)
        assert not errors, "; ".join(errors)

    def wait_formed(self, timeout=30.0):
        """Every live node sees every other live node active in DMQ, and
        blf replicates a subscription from each live node to all others."""
        live = self.live()
        want = {k: {o.dmq_port for o in live if o is not k} for k in live}
        deadline = time.monotonic() + timeout
        blfutil.poll(lambda: all(want[k] <= k.active_peers() for k in live),
                     timeout, 0.1, "DMQ cluster of %s" % [
                         k.name for k in live])
        for k in live:
            self._probe(k, max(1.0, deadline - time.monotonic()))

    def _probe(self, via, timeout):
        ph = sipua.Phone("probe", via.addr, kamproc.DOMAIN)
        try:
            target = "sip:probe-%d@%s" % (via.port, kamproc.DOMAIN)
            sub = ph.subscribe(target, expires=120)
            assert sub.responses[-1].status == 200, \
                "probe SUBSCRIBE via %s: %s" % (
                    via.name, sub.responses[-1].first_line())
            cid = sub.call_id

            def listed(k):
                return any(s["callid"] == cid
                           for s in blfutil.subscriptions(k))
            live = self.live()
            blfutil.poll(lambda: all(listed(k) for k in live), timeout, 0.1,
                         "probe subscription via %s on every node" %
                         via.name)
            r = sub.unsubscribe()
            assert r.status == 200, r.first_line()
            blfutil.poll(lambda: not any(listed(k) for k in live), timeout,
                         0.1, "probe subscription via %s gone from every "
                         "node" % via.name)
        finally:
            ph.close()


class DmqPeer:
    """A raw UDP socket on loopback (127.0.0.2 on Kamailio 6.0) that speaks
    KDMQ to the nodes, as a host on the network could: it joins dmq's node
    list (notification_peer) and sends blf messages with any From, name and
    body. A thread answers 200 to every request the nodes send it (dmq
    pings, blf hellos and replicas) and keeps their bodies (received).
    port: give a fixed one (e.g. one listed in extra_peers); None picks a
    free one."""

    def __init__(self, port=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        # Kamailio 6.0's dmq, given a node it does not list by URI, looks
        # it up by IP address alone (find_dmq_node_ip): on 127.0.0.1 it
        # would take this peer for a node already listed (they all share
        # that address) and never admit it. A peer of its own address is
        # a host as any other; a fixed port is one listed in extra_peers
        # (on 127.0.0.1), found by URI.
        self.host = "127.0.0.2" if port is None and \
            kamproc.kamailio_version() >= (6, 0) else "127.0.0.1"
        self.sock.bind((self.host, port or 0))
        self.port = self.sock.getsockname()[1]
        self.hostport = "%s:%d" % (self.host, self.port)
        self.uri = "sip:%s" % self.hostport
        self.received = []  # (method line, From, body) of requests to it
        # answer(body of a blf request) -> the body of our 200 (None: none),
        # as a node answers with its versions (blf_dmq.c blf_dmq_handle)
        self.answer = None
        self.responses = {}  # Call-ID -> [status, ...]
        self.answer_bodies = []  # bodies of the answers to our requests
        # silent: blf requests are kept (kdmq) but not answered, as a peer
        # that hangs; kdmq: (monotonic time, Via branch) of each blf request
        self.silent = False
        self.kdmq = []
        # every message in the order it came: ("req", first line, Call-ID)
        # or ("resp", status, Call-ID); last_cid: our last request's
        self.events = []
        self.last_cid = None
        # mangle(bytes of our 200 to a blf request) -> the bytes sent
        self.mangle = None
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._stop = False
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def close(self):
        self._stop = True
        self.sock.close()
        self._t.join(2)

    def _run(self):
        self.sock.settimeout(0.2)
        while not self._stop:
            try:
                data, src = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                msg = sipua.SipMessage.parse(data)
            except Exception:  # not SIP: ignore, as a phone would
                continue
            with self._cond:
                self.events.append(
                    ("req", msg.first_line(), msg.call_id) if msg.is_request
                    else ("resp", msg.status, msg.call_id))
            if msg.is_request:
                with self._cond:
                    self.received.append((msg.first_line(),
                                          msg.get("From", ""),
                                          msg.text_body))
                    if msg.first_line().startswith("KDMQ sip:blf@"):
                        via = msg.get("Via", "")
                        br = via.split("branch=", 1)[1].split(";")[0] \
                            if "branch=" in via else ""
                        self.kdmq.append((time.monotonic(), br))
                        if self.silent:
                            continue
                if msg.method != "ACK":
                    body = b""
                    if self.answer and msg.first_line().startswith(
                            "KDMQ sip:blf@"):
                        body = self.answer(msg.text_body) or b""
                    hdrs = [("Content-Type", "application/json")] \
                        if body else []
                    out = sipua.SipMessage.response_to(
                        msg, 200, headers=hdrs, body=body).encode()
                    if self.mangle and msg.first_line().startswith(
                            "KDMQ sip:blf@"):
                        out = self.mangle(out)
                    try:
                        self.sock.sendto(out, src)
                    except OSError:
                        return
            else:
                with self._cond:
                    self.responses.setdefault(msg.call_id, []).append(
                        msg.status)
                    if msg.text_body:
                        self.answer_bodies.append(msg.text_body)
                    self._cond.notify_all()

    def send(self, node, body, peer="blf", from_uri=None,
             ctype="application/json", timeout=5.0):
        """One KDMQ request to node's DMQ peer `peer` (its To and
        Request-URI user), From from_uri (default: this socket's own URI,
        as dmq sends); returns the final status (None: no answer)."""
        if isinstance(body, (dict, list)):
            body = json.dumps(body, separators=(",", ":"))
        if isinstance(body, str):
            body = body.encode()
        cid = "dmqpeer-%s" % sipua.rand_hex(12)
        self.last_cid = cid
        ruri = "sip:%s@127.0.0.1:%d" % (peer, node.port)
        frm = from_uri or "sip:%s@%s" % (peer, self.hostport)
        head = ("KDMQ %s SIP/2.0\r\n"
                "Via: SIP/2.0/UDP %s;branch=z9hG4bK%s;rport\r\n"
                "From: <%s>;tag=%s\r\n"
                "To: <%s>\r\n"
                "Call-ID: %s\r\n"
                "CSeq: 10 KDMQ\r\n"
                "Max-Forwards: 1\r\n"
                "Content-Type: %s\r\n"
                "Content-Length: %d\r\n\r\n" % (
                    ruri, self.hostport, sipua.rand_hex(10), frm,
                    sipua.rand_hex(8), ruri, cid, ctype, len(body)))
        self.sock.sendto(head.encode() + body, node.addr)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                finals = [c for c in self.responses.get(cid, ())
                          if c >= 200]
                if finals:
                    return finals[0]
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def join(self, node, timeout=5.0):
        """Asks node's dmq to add this socket to its node list, as a new
        DMQ server does at start; returns the status."""
        return self.send(node, "%s;status=active\r\n" % self.uri,
                         peer="notification_peer", ctype="text/plain",
                         timeout=timeout)

    def blf(self, node, t, name, boot=1, from_uri=None, **fields):
        """A blf message of type t sent as node `name` (sender fields n, b)."""
        msg = dict(fields, t=t, n=name, b=boot)
        return self.send(node, msg, from_uri=from_uri)

    def got_blf(self):
        """Bodies of the blf messages the nodes sent to this socket."""
        with self._lock:
            return [b for line, _, b in self.received
                    if line.startswith("KDMQ sip:blf@")]
