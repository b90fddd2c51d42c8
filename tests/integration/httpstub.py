"""httpstub.py — a real HTTP server playing the alias and park services.

The module under test asks two services over HTTP (SPEC "Aliases over
HTTP", "Park orbits over HTTP"):

  GET /alias?uri=<url-encoded sip:user@host>
      -> 200 {"entity": "...", "visibility": "..."}  (optional
         Cache-Control: max-age=N), or 404 when the URI is not an alias
  GET /parks
      -> 200 {"orbits": [{"orbit": "701", "call_id": ..., ...}, ...]}

HttpStub is a http.server.ThreadingHTTPServer on 127.0.0.1 (a free port,
one thread per connection, HTTP/1.1 keep-alive as a real service) run in a
thread of the test process. A test controls it while Kamailio talks to it:

  stub.set_alias(uri, entity, visibility=None, max_age=None, delay_ms=0)
  stub.fail_alias(uri, status=500)       -> that status for uri
  stub.remove_alias(uri)                 -> 404 from now on
  stub.set_policy(uri, visibility)       -> 404 {"visibility": ...}: not an
                                            alias, but the policy of uri
  stub.set_huge(size, path=None)         -> 200 with a body of size bytes
                                            (a valid JSON string padded)
  stub.set_orbits([...])                 -> the park list
  stub.set_mode(mode, path=None, delay_ms=0)
      mode "ok" | "slow" (sleep delay_ms, then answer) | "error" (500) |
      "garbage" (200 with a body that is not JSON) | "close" (the
      connection is closed without an answer) | "huge" (200 with a body of
      delay_ms bytes); path "alias", "parks" or None (both)
  stub.set_list(uri, members, name=None, max_age=None)
      GET /list?uri=... -> 200 {"members": members, "name": name};
      members are URIs or {"uri":..,"name":..} dicts (issue #12)
  stub.remove_list(uri)                  -> 404 (not a list) from now on
  stub.set_visibility(entity, watcher, vis)
      GET /visibility?entity=..&watcher=.. -> 200 {"visibility": vis};
      404 (no rule) for pairs without one
  stub.down() / stub.up()                -> connection refused / serving
                                            again on the same port
  stub.count(path=None, uri=None, since=0), stub.mark(),
  stub.wait_requests(n, path=None, uri=None, since=0, timeout=5)

Every request is recorded (time, path, uri, what was answered) before any
delay, so counts include requests that were then answered slowly, with an
error or not at all. Nothing here sleeps but a "slow" answer, and that
sleep ends at once when the server goes down.

The `stub` pytest fixture gives a started HttpStub and stops it at
teardown; import it into a test module (from httpstub import stub).
"""

import json
import socket
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Optional
from urllib.parse import parse_qs, urlsplit

import pytest

MODES = ("ok", "slow", "error", "garbage", "close", "huge")
PATHS = ("alias", "parks", "list", "visibility")
GARBAGE = b"\x00\xff<html>not json {\"entity\": [unterminated"


@dataclass
class Alias:
    entity: str
    visibility: Optional[str] = None
    max_age: Optional[int] = None
    delay_ms: int = 0
    status: int = 200


@dataclass
class Request:
    time: float  # time.monotonic() when the request line arrived
    path: str  # "alias", "parks", "list", "visibility" or the raw path
    uri: Optional[str]  # the alias or list asked about; for visibility
    #                     "entity|watcher"
    answer: str = ""  # what it got: "200", "404", "500", "garbage", ...


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, stub):
        self.stub = stub
        self.conns = set()
        self.conns_lock = threading.Lock()
        super().__init__(addr, _Handler)

    def process_request(self, request, client_address):
        with self.conns_lock:
            self.conns.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request):
        with self.conns_lock:
            self.conns.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address):
        pass  # a client that gave up (curl timeout) is expected here

    def drop_connections(self):
        with self.conns_lock:
            conns = list(self.conns)
            self.conns.clear()
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                c.close()
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as libcurl's multi uses it
    server_version = "blf-httpstub/1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        self.server.stub._serve(self)

    def _send(self, code, body, ctype="application/json", headers=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)
        self.wfile.flush()


class HttpStub:
    def __init__(self):
        self.cond = threading.Condition()
        self.aliases = {}  # uri -> Alias
        self.orbits = []
        self.lists = {}  # uri -> (members, name, max_age)
        self.vis = {}  # (entity, watcher) -> visibility
        self.modes = {p: ("ok", 0) for p in PATHS}
        self.requests = []
        self.port = None
        self._server = None
        self._thread = None
        self._stop = threading.Event()  # ends "slow" sleeps at down()

    # -- lifecycle ----------------------------------------------------------
    def start(self):
        return self.up()

    def up(self):
        """Serves on 127.0.0.1:port (a free port the first time, the same
        one after down())."""
        with self.cond:
            if self._server is not None:
                return self
            self._stop.clear()
            self._server = _Server(("127.0.0.1", self.port or 0), self)
            self.port = self._server.server_address[1]
            self._thread = threading.Thread(
                target=self._server.serve_forever, kwargs={
                    "poll_interval": 0.05}, daemon=True,
                name="httpstub-%d" % self.port)
            self._thread.start()
        return self

    def down(self):
        """Stops listening and drops every open connection: from now on a
        client gets "connection refused"."""
        with self.cond:
            srv, self._server = self._server, None
            th, self._thread = self._thread, None
            self._stop.set()
        if srv is None:
            return
        srv.shutdown()
        srv.server_close()
        srv.drop_connections()
        if th is not None:
            th.join(5)

    stop = down

    @property
    def running(self):
        return self._server is not None

    @property
    def base(self):
        return "http://127.0.0.1:%d" % self.port

    @property
    def alias_url(self):
        return self.base + "/alias"

    @property
    def park_url(self):
        return self.base + "/parks"

    @property
    def list_url(self):
        return self.base + "/list"

    @property
    def visibility_url(self):
        return self.base + "/visibility"

    # -- what it answers ------------------------------------------------------
    def set_alias(self, uri, entity, visibility=None, max_age=None,
                  delay_ms=0):
        with self.cond:
            self.aliases[uri] = Alias(entity, visibility, max_age, delay_ms)

    def fail_alias(self, uri, status=500):
        """uri gets this HTTP status (no JSON body) from now on."""
        with self.cond:
            self.aliases[uri] = Alias(None, status=status)

    def set_policy(self, uri, visibility):
        """uri is not an alias (404), and its own policy is visibility."""
        with self.cond:
            self.aliases[uri] = Alias(None, visibility, status=404)

    def set_huge(self, size, path=None):
        self.set_mode("huge", path, delay_ms=size)

    def remove_alias(self, uri):
        with self.cond:
            self.aliases.pop(uri, None)

    def set_orbits(self, orbits):
        with self.cond:
            self.orbits = [dict(o) for o in orbits]

    def set_list(self, uri, members, name=None, max_age=None):
        with self.cond:
            self.lists[uri] = (list(members), name, max_age)

    def remove_list(self, uri):
        with self.cond:
            self.lists.pop(uri, None)

    def set_visibility(self, entity, watcher, vis):
        with self.cond:
            if vis is None:
                self.vis.pop((entity, watcher), None)
            else:
                self.vis[(entity, watcher)] = vis

    def set_mode(self, mode, path=None, delay_ms=0):
        assert mode in MODES, mode
        with self.cond:
            for p in ([path] if path else PATHS):
                self.modes[p] = (mode, delay_ms)

    # -- what was asked -------------------------------------------------------
    def mark(self):
        """The index of the next request, for count(since=...)."""
        with self.cond:
            return len(self.requests)

    def _match(self, path, uri, since):
        return [r for r in self.requests[since:]
                if (path is None or r.path == path) and
                (uri is None or r.uri == uri)]

    def count(self, path=None, uri=None, since=0):
        with self.cond:
            return len(self._match(path, uri, since))

    def asked(self, path=None, uri=None, since=0):
        with self.cond:
            return list(self._match(path, uri, since))

    def wait_requests(self, n=1, path=None, uri=None, since=0, timeout=5.0):
        """Waits until at least n matching requests arrived; returns them."""
        with self.cond:
            if not self.cond.wait_for(
                    lambda: len(self._match(path, uri, since)) >= n, timeout):
                raise AssertionError(
                    "httpstub: %d request(s) path=%s uri=%s expected within "
                    "%.1fs, got %d; all since #%d: %s" % (
                        n, path, uri, timeout,
                        len(self._match(path, uri, since)), since,
                        [(r.path, r.uri, r.answer)
                         for r in self.requests[since:]]))
            return list(self._match(path, uri, since))

    # -- serving ----------------------------------------------------------------
    def _serve(self, h):
        parts = urlsplit(h.path)
        path = parts.path.strip("/")
        q = parse_qs(parts.query)
        uri = q.get("uri", [None])[0] if path in ("alias", "list") else None
        if path == "visibility":
            uri = "%s|%s" % (q.get("entity", [""])[0],
                             q.get("watcher", [""])[0])
        with self.cond:
            req = Request(time.monotonic(), path, uri)
            self.requests.append(req)
            mode, delay = self.modes.get(path, ("ok", 0))
            alias = self.aliases.get(uri) if uri is not None else None
            orbits = json.dumps({"orbits": self.orbits}).encode()
            lst = self.lists.get(uri) if path == "list" else None
            vis = self.vis.get(tuple(uri.split("|", 1))) \
                if path == "visibility" else None
            self.cond.notify_all()
        if alias is not None and alias.delay_ms:
            delay = max(delay, alias.delay_ms) if mode in ("ok", "slow") \
                else delay
            if mode == "ok":
                mode = "slow"
        if mode == "slow" and delay:
            if self._stop.wait(delay / 1000.0):
                self._answered(req, "dropped (down)")
                h.close_connection = True
                return
            mode = "ok"
        if mode == "close":
            self._answered(req, "closed")
            h.close_connection = True
            try:
                h.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        if mode == "error":
            self._answered(req, "500")
            h._send(500, b'{"error":"stub says 500"}')
            return
        if mode == "huge":
            self._answered(req, "huge")
            pad = b'{"entity":"sip:huge@blf.test","pad":"' + \
                b"x" * max(0, delay) + b'"}'
            h._send(200, pad)
            return
        if mode == "garbage":
            self._answered(req, "garbage")
            h._send(200, GARBAGE)
            return
        if path == "parks":
            self._answered(req, "200")
            h._send(200, orbits)
            return
        if path in ("list", "visibility"):
            self._serve_list_vis(h, req, path, lst, vis)
            return
        if path != "alias" or uri is None:
            self._answered(req, "400")
            h._send(400, b'{"error":"unknown request"}')
            return
        if alias is not None and alias.status != 200:
            self._answered(req, str(alias.status))
            body = {"error": "stub says so"}
            if alias.visibility is not None:
                body["visibility"] = alias.visibility
            h._send(alias.status, json.dumps(body).encode())
            return
        if alias is None:
            self._answered(req, "404")
            h._send(404, b'{"error":"not an alias"}')
            return
        body = {"entity": alias.entity}
        if alias.visibility is not None:
            body["visibility"] = alias.visibility
        hdrs = []
        if alias.max_age is not None:
            hdrs.append(("Cache-Control", "max-age=%d" % alias.max_age))
        self._answered(req, "200")
        h._send(200, json.dumps(body).encode(), headers=hdrs)

    def _serve_list_vis(self, h, req, path, lst, vis):
        if path == "visibility":
            if vis is None:
                self._answered(req, "404")
                h._send(404, b'{"error":"no rule"}')
            else:
                self._answered(req, "200")
                h._send(200, json.dumps({"visibility": vis}).encode())
            return
        if lst is None:
            self._answered(req, "404")
            h._send(404, b'{"error":"not a list"}')
            return
        members, name, max_age = lst
        body = {"members": members}
        if name is not None:
            body["name"] = name
        hdrs = []
        if max_age is not None:
            hdrs.append(("Cache-Control", "max-age=%d" % max_age))
        self._answered(req, "200")
        h._send(200, json.dumps(body).encode(), headers=hdrs)

    def _answered(self, req, what):
        with self.cond:
            req.answer = what
            self.cond.notify_all()


@pytest.fixture
def stub():
    s = HttpStub().start()
    yield s
    s.down()
