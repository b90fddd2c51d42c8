"""httputil.py — what the HTTP-service tests share (aliases, park orbits,
wildcard, resilience, phone page): RPC readers for blf.aliases and
blf.parks, a request barrier through the HTTP process, timing of SIP
transactions, and a Kamailio with xhttp on a TCP port for the park page.

Kept apart from the harness files (conftest.py, kamproc.py, blfutil.py),
which it only uses.
"""

import os
import socket
import time

import pytest

import blfutil
import kamproc
import sipua

DOMAIN = kamproc.DOMAIN


def uri(user, domain=DOMAIN):
    return "sip:%s@%s" % (user, domain)


def http_params(stub, alias=True, park=False, **kw):
    """blf modparams pointing at stub."""
    p = {}
    if alias:
        p["alias_url"] = stub.alias_url
    if park:
        p["park_url"] = stub.park_url
        p.setdefault("park_domain", DOMAIN)
        p["park_poll_interval"] = 1
    p.update(kw)
    return p


# -- RPC readers ----------------------------------------------------------
def aliases(kam):
    """blf.aliases as a list of dicts (uri, state, entity, visibility,
    ttl)."""
    return blfutil.listing(kam, "blf.aliases", "uri")


def alias_of(kam, key):
    """The blf.aliases record of key (user@host, with or without sip:)."""
    key = key.replace("sip:", "")
    for a in aliases(kam):
        if str(a["uri"]).replace("sip:", "") == key:
            return a
    return None


def wait_alias(kam, key, pred, timeout=5.0, what=None):
    return blfutil.poll(lambda: (lambda a: a if a and pred(a) else None)(
        alias_of(kam, key)), timeout,
        what=what or "blf.aliases record of %s" % key)


def parks(kam):
    """blf.parks as a list of dicts (orbit, entity, callid, parked...)."""
    return blfutil.listing(kam, "blf.parks", "orbit")


def parks_by_orbit(kam):
    return {str(p["orbit"]): p for p in parks(kam)}


def same_key(a, b):
    return str(a).replace("sip:", "").lower() == \
        str(b).replace("sip:", "").lower()


# -- barriers -------------------------------------------------------------
_seq = [0]


def barrier(stub, phone, timeout=5.0):
    """Sends one alias lookup through the module's HTTP process and waits
    until the stub has answered it: lookups queued before it have reached
    the stub by then (the module asks in queue order). Uses a fetch
    (SUBSCRIBE with Expires: 0) to a URI nobody asked before; returns the
    stub mark taken before it."""
    _seq[0] += 1
    target = uri("barrier-%d-%d" % (os.getpid(), _seq[0]))
    mark = stub.mark()
    sub = phone.subscribe(target, expires=0, timeout=timeout)
    assert sub.responses[-1].status == 200, sub.responses[-1].first_line()
    stub.wait_requests(1, "alias", target, since=mark, timeout=timeout)
    return mark


# -- SIP timing -----------------------------------------------------------
class Timer:
    """Times SIP transactions: each t.final(label, fn) runs fn (which sends
    a request and returns its final response) and records how long the
    answer took."""

    def __init__(self):
        self.samples = []  # (seconds, label, status)

    def final(self, label, fn):
        t0 = time.monotonic()
        r = fn()
        dt = time.monotonic() - t0
        status = getattr(r, "status", None)
        if status is None and getattr(r, "responses", None):
            status = r.responses[-1].status
        self.samples.append((dt, label, status))
        return r

    def first_response(self, label, call, timeout=5.0):
        """The delay from sending an INVITE (phone.call() returned just
        now) to its first response, whatever it is."""
        call.phone.wait(lambda: call.invite_tx.responses, timeout,
                        "a response to INVITE %s" % call.call_id)
        dt = time.monotonic() - call.invite_tx.sent_at
        r = call.invite_tx.responses[0]
        self.samples.append((dt, label, r.status))
        return r

    def subscribe(self, label, phone, target, expires=600, timeout=5.0):
        """Sends an initial SUBSCRIBE, records the delay of its final
        response; returns the Subscription."""
        sub = phone.subscribe(target, expires=expires, send=False)
        self.final(label, lambda: sub.send(expires, timeout=timeout))
        return sub

    @property
    def worst(self):
        return max(self.samples) if self.samples else (0.0, None, None)

    def report(self, title):
        dt, label, status = self.worst
        lines = ["%s: worst SIP response delay %.3f s (%s -> %s) over %d "
                 "transactions" % (title, dt, label, status,
                                   len(self.samples))]
        for s in sorted(self.samples, reverse=True)[:8]:
            lines.append("  %.3f s  %s -> %s" % s)
        print("\n".join(lines))
        return dt


# -- Kamailio with the phone page (xhttp) -----------------------------------
PAGE_ROUTE = r"""
event_route[xhttp:request] {
	if($hu =~ "^/park\.yealink") {
		blf_park_xml("yealink");
		exit;
	}
	if($hu =~ "^/park\.cisco") {
		blf_park_xml("cisco");
		exit;
	}
	if($hu =~ "^/park\.json") {
		blf_park_xml("json");
		exit;
	}
	xhttp_reply("404", "Not Found", "text/plain", "no such page\n");
}
"""


free_tcp_port = kamproc.free_tcp_port


class PageKamailio(kamproc.Kamailio):
    """kamproc.Kamailio plus xhttp.so (before blf.so) on a TCP listen of
    its own and an event_route[xhttp:request] serving the park page at
    /park.yealink, /park.cisco and /park.json. The rendered cfg of the
    harness template is edited after rendering; the template is left as
    it is."""

    http_port = None

    def render(self):
        text = super().render()
        self.http_port = free_tcp_port()
        blf_line = 'loadmodule "%s"' % kamproc.BLF_MODULE
        assert "disable_tcp=yes" in text and blf_line in text
        text = text.replace(
            "disable_tcp=yes",
            "disable_tcp=no\ntcp_accept_no_cl=yes\ntcp_children=2\n"
            "listen=tcp:127.0.0.1:%d" % self.http_port, 1)
        text = text.replace(blf_line, 'loadmodule "xhttp.so"\n' + blf_line, 1)
        text += "\n" + PAGE_ROUTE.lstrip()
        with open(self.cfg_path, "w") as f:
            f.write(text)
        return text

    @property
    def http_base(self):
        return "http://127.0.0.1:%d" % self.http_port


@pytest.fixture
def page_proxy(request, kamailio_factory):
    """page_proxy(**blf_params) -> a started PageKamailio. It joins the
    harness's list of the test's Kamailios, so kamailio_factory's teardown
    stops it by PID, checks its log for crashes and reports its log on a
    failure, as for any other."""
    def make(**params):
        kam = PageKamailio(blf=True, track=True, fr_timer=2000,
                           params=params)
        kams = getattr(request.node, "_blf_kams", None)
        assert kams is not None, "kamailio_factory did not run"
        kams.append(kam)
        if not os.path.exists(kamproc.BLF_MODULE):
            pytest.skip("blf module not built: %s" % kamproc.BLF_MODULE)
        kam.start()
        return kam
    return make


def sip_uri_user(u):
    return sipua.uri_user_host(u)[0]
