"""Metrics an operator scrapes: the module's statistics through xhttp_prom
at /metrics (as kamcfg-examples expose them), read over real HTTP from a
real Kamailio while real SIP traffic (a subscription, a call) goes through
it. The blf counters must move with that traffic, and the change->NOTIFY
delay statistics must count every NOTIFY sent."""

import http.client
import os
import re
import socket

import pytest

import blfutil
import kamproc

# what kamcfg-examples/kamailio-blf-pbx.cfg does (WITH_METRICS), on a TCP
# port of the test's own
METRICS_ROUTE = """
event_route[xhttp:request] {
	if($hu =~ "^/metrics") {
		prom_dispatch();
		exit;
	}
	xhttp_reply("404", "Not Found", "text/plain", "no such page\\n");
}
"""

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})? (-?[0-9.eE+-]+)"
                    r"( -?[0-9]+)?$")


class MetricsKamailio(kamproc.Kamailio):
    """kamproc.Kamailio plus xhttp.so and xhttp_prom.so exporting the blf
    statistics group, on a TCP listen of its own. The rendered cfg of the
    harness template is edited; the template is left as it is."""

    http_port = None

    def render(self):
        text = super().render()
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.http_port = s.getsockname()[1]
        s.close()
        blf_line = 'loadmodule "%s"' % kamproc.BLF_MODULE
        assert "disable_tcp=yes" in text and blf_line in text
        text = text.replace(
            "disable_tcp=yes",
            "disable_tcp=no\ntcp_accept_no_cl=yes\ntcp_children=2\n"
            "listen=tcp:127.0.0.1:%d" % self.http_port, 1)
        text = text.replace(
            blf_line, blf_line + '\nloadmodule "xhttp.so"\n'
            'loadmodule "xhttp_prom.so"\n'
            'modparam("xhttp_prom", "xhttp_prom_stats", "blf:")\n', 1)
        text += "\n" + METRICS_ROUTE.lstrip()
        with open(self.cfg_path, "w") as f:
            f.write(text)
        return text

    def scrape(self):
        """GET /metrics: {metric name: value} of the Prometheus text."""
        conn = http.client.HTTPConnection("127.0.0.1", self.http_port,
                                          timeout=5)
        try:
            conn.request("GET", "/metrics")
            r = conn.getresponse()
            body = r.read().decode("utf-8", "replace")
        finally:
            conn.close()
        assert r.status == 200, "GET /metrics: %d %s" % (r.status, body[:200])
        assert r.getheader("Content-Type", "").startswith("text/plain"), \
            r.getheader("Content-Type")
        out = {}
        for line in body.splitlines():
            if not line or line.startswith("#"):
                continue
            m = SAMPLE.match(line)
            assert m, "not a Prometheus sample line: %r" % line
            out[m.group(1)] = float(m.group(3))
        return out


@pytest.fixture
def metrics_proxy(request, kamailio_factory):
    """A started MetricsKamailio, stopped and checked by kamailio_factory's
    teardown like any other Kamailio of the test."""
    kams = getattr(request.node, "_blf_kams", None)
    assert kams is not None, "kamailio_factory did not run"
    if not os.path.exists(kamproc.BLF_MODULE):
        pytest.skip("blf module not built: %s" % kamproc.BLF_MODULE)
    kam = MetricsKamailio(blf=True, track=True, fr_timer=2000)
    kams.append(kam)
    kam.start()
    return kam


BLF = "kamailio_blf_"
NAMES = ("subscriptions", "notifies_sent", "notifies_failed",
         "notifies_pending", "notify_delay_max_ms", "notify_delay_sum_us",
         "notify_delay_count")


def settled(kam, pred, timeout=5.0):
    """Scrapes until pred(metrics) holds and every NOTIFY sent has its
    delay counted (notify_delay_count == notifies_sent); returns them."""
    last = {}

    def ok():
        last.update(kam.scrape())
        return pred(last) and \
            last[BLF + "notify_delay_count"] == last[BLF + "notifies_sent"]
    try:
        blfutil.poll(ok, timeout, what="metrics")
    except AssertionError:
        raise AssertionError("metrics did not settle: %s" % last)
    return dict(last)


def test_metrics_follow_a_subscription_and_a_call(metrics_proxy, phones):
    kam = metrics_proxy
    m0 = kam.scrape()
    for name in NAMES:
        assert BLF + name in m0, "%s%s not exported: %s" % (
            BLF, name, sorted(m0))
    assert m0[BLF + "subscriptions"] == 0
    assert m0[BLF + "notifies_sent"] == 0
    assert m0[BLF + "notify_delay_count"] == 0

    alice = phones("alice")
    bob = phones("bob")
    watcher = phones("watcher")
    lamp = blfutil.watch(watcher, "bob")  # 200 + the initial NOTIFY
    # the worker counts a NOTIFY just after sending it: a scrape may come
    # between the two, so wait (bounded) for the counters to settle
    m1 = settled(kam, lambda m: m[BLF + "notifies_sent"] >= 1)
    assert m1[BLF + "subscriptions"] == 1, m1

    call = alice.call("bob")
    inc = bob.wait_incoming()
    inc.answer()
    call.wait_state("confirmed")
    lamp.wait_state("confirmed", call.call_id)
    assert call.bye().status == 200
    lamp.wait_state("terminated", call.call_id)
    # trying/early/confirmed/terminated: at least confirmed and terminated
    m2 = settled(kam, lambda m: m[BLF + "notifies_sent"] >=
                 m1[BLF + "notifies_sent"] + 2)
    assert m2[BLF + "notify_delay_sum_us"] >= m1[BLF + "notify_delay_sum_us"]
    # the window's max (ms, rounded up) is at least the mean delay
    n, total = m2[BLF + "notify_delay_count"], m2[BLF + "notify_delay_sum_us"]
    assert m2[BLF + "notify_delay_max_ms"] * 1000 >= total / n, m2
    assert m2[BLF + "notifies_failed"] == 0, m2
    assert m2[BLF + "subscriptions"] == 1, m2
    # the same figures as the RPC an operator types
    st = blfutil.stats(kam)
    assert st["notifies_sent"] == m2[BLF + "notifies_sent"], st

    # unsubscribing takes the gauge back down
    assert lamp.sub.unsubscribe().status == 200
    blfutil.poll(lambda: kam.scrape()[BLF + "subscriptions"] == 0,
                 what="kamailio_blf_subscriptions back to 0")
