"""Fixtures of the integration tests: a real Kamailio per test and phones.

  kamailio_factory(**kw) -> started kamproc.Kamailio (stopped at teardown)
  proxy                  -> Kamailio with blf.so and its default parameters
  make_proxy(**params)   -> Kamailio with blf.so and these blf modparams
  phones(user, ...)      -> sipua.Phone using the last started proxy,
                            REGISTERed unless register=False
  baresips(user, ...)    -> started baresip.Baresip (a real softphone) on
                            the last started proxy, registered; killed by
                            PID at teardown (skips when baresip is missing)

On a failure the tail of each Kamailio log and each phone's message trace
are attached to the report; the test's Kamailio directory (cfg, log) is
then kept under /tmp and named in the report.
"""

import os

import pytest

import kamproc
import sipua


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "blf: needs modules/blf/blf.so (skipped when not built)")
    config.addinivalue_line(
        "markers", "publish: the test's Kamailio routes PUBLISH to blf")
    config.addinivalue_line(
        "markers", "dmq_usrloc: the test's cluster nodes load dmq_usrloc")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, "rep_" + rep.when, rep)
    if not rep.failed:
        return
    for kam in getattr(item, "_blf_kams", []):
        rep.sections.append((
            "kamailio %s (cfg and log kept in %s)" % (kam.port, kam.dir),
            kam.log_tail(120)))
    for ph in getattr(item, "_blf_phones", []):
        t0 = ph.trace[0][0] if ph.trace else 0
        lines = ["%7.3f %s %s" % (t - t0, d, line) for t, d, line in
                 ph.trace[-60:]]
        if ph.errors:
            lines.append("parse errors: %s" % ph.errors)
        rep.sections.append(("sip trace of %s" % ph.uri, "\n".join(lines)))
    for bs in getattr(item, "_blf_baresips", []):
        rep.sections.append(("baresip %s (dir kept: %s)" % (bs.aor, bs.dir),
                             bs.log_tail(60)))


def _failed(node):
    return any(getattr(node, "rep_" + w, None) is not None and
               getattr(node, "rep_" + w).failed
               for w in ("setup", "call"))


@pytest.fixture
def kamailio_factory(request):
    kams = []
    request.node._blf_kams = kams

    def start(**kw):
        if kw.get("blf", True) and not os.path.exists(kamproc.BLF_MODULE):
            pytest.skip("blf module not built: %s does not exist (run `make "
                        "module`)" % kamproc.BLF_MODULE)
        kam = kamproc.Kamailio(**kw)
        kams.append(kam)
        kam.start()
        return kam

    yield start
    problems = []
    for kam in kams:
        if not kam.running:
            problems.append("kamailio %s died during the test" % kam.port)
        kam.stop()
        if kam.shutdown_crash is not None:
            problems.append("kamailio %s: main process ended with status %s "
                            "at shutdown" % (kam.port, kam.shutdown_crash))
        bad = kamproc.crash_lines(kam.log())
        if bad:
            problems.append("kamailio %s logged:\n%s" % (kam.port,
                                                         "\n".join(bad)))
        if not problems and not _failed(request.node):
            kam.cleanup()
    if problems:
        pytest.fail("\n".join(problems) + "\n(cfg and log kept in %s)" %
                    " ".join(k.dir for k in kams), pytrace=False)


@pytest.fixture
def make_proxy(kamailio_factory):
    """make_proxy(track=True, fr_timer=2000, **blf_params)"""
    def make(track=True, fr_timer=2000, **params):
        return kamailio_factory(blf=True, track=track, fr_timer=fr_timer,
                                params=params)
    return make


@pytest.fixture
def proxy(make_proxy):
    return make_proxy()


@pytest.fixture
def phones(request):
    made = []
    request.node._blf_phones = made

    def make(user, kam=None, register=True, **kw):
        kams = getattr(request.node, "_blf_kams", [])
        kam = kam or kams[-1]
        ph = sipua.Phone(user, kam.addr, kamproc.DOMAIN, **kw)
        made.append(ph)
        if register:
            r = ph.register()
            assert r.status == 200, "REGISTER %s: %s" % (user, r.first_line())
        return ph

    yield make
    for ph in made:
        ph.close()


@pytest.fixture
def baresips(request):
    """baresips(user, kam=None, contacts=(), pubint=0, register=True, ...)"""
    import baresip
    why = baresip.available()
    if why:
        pytest.skip(why)
    made = []
    request.node._blf_baresips = made

    def make(user, kam=None, register=True, **kw):
        kams = getattr(request.node, "_blf_kams", [])
        kam = kam or kams[-1]
        bs = baresip.Baresip(user, kam.addr, kamproc.DOMAIN, **kw)
        made.append(bs)
        bs.start(register=register)
        return bs

    yield make
    for bs in made:
        bs.stop()
    if not _failed(request.node):
        for bs in made:
            bs.cleanup()
