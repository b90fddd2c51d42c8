"""The headers of a SUBSCRIBE read in place (issue #13).

Once the core has parsed From, To, Call-ID and CSeq, the module reads the
headers after them itself (blf_sipscan_req_rest), and From and Contact of
the usual shape ([display-name] <URI>;params, blf_sip_nameaddr_simple),
instead of the core's parse of every header into pkg memory. Every other
shape goes to the core's parser as before. These tests send the same
request in both kinds of shape and check the answers a watcher sees: the
200's Expires, the NOTIFY's Request-URI (the Contact), its To (From's URI
and tag) and Event, the errors; and that the script can still read any
header after blf_handle_subscribe().
"""

import re

import pytest

import blfutil
from test_subscribe_reply import Raw, BOB


def subscribe(raw, kam, callid, before=(), after=None, frm=None,
              contact=None, timeout=5.0):
    """A SUBSCRIBE with the header lines before (between Max-Forwards and
    From) and after (after CSeq; default Contact, Event, Accept, Expires,
    User-Agent); returns the final response's bytes."""
    if contact is None:
        contact = "<sip:watcher@127.0.0.1:%d>" % raw.port
    if after is None:
        after = ["Contact: " + contact, "Event: dialog",
                 "Accept: application/dialog-info+xml", "Expires: 300",
                 "User-Agent: scan"]
    hdrs = (["Via: SIP/2.0/UDP 127.0.0.1:%d;branch=z9hG4bK-s%s;rport"
             % (raw.port, callid), "Max-Forwards: 70"] + list(before) +
            ["From: " + (frm or "<sip:watcher@blf.test>;tag=t" + callid),
             "To: <%s>" % BOB, "Call-ID: %s@scan" % callid,
             "CSeq: 1 SUBSCRIBE"] + list(after) + ["Content-Length: 0"])
    data = ("SUBSCRIBE %s SIP/2.0\r\n" % BOB + "\r\n".join(hdrs) +
            "\r\n\r\n").encode()
    return raw.request(kam, data, timeout)


def header(msg, name):
    m = re.search(rb"\r\n" + name.encode() + rb": *([^\r]*)\r\n", msg)
    return m.group(1).decode() if m else None


@pytest.fixture
def raw():
    r = Raw()
    yield r
    r.close()


@pytest.mark.parametrize("where", ["after", "before", "after-rr"])
def test_expires_and_contact_wherever_they_stand(proxy, raw, where):
    """Expires 300 and the Contact after CSeq (read in place), before it
    (the core parsed them), or after CSeq behind a Record-Route (the
    core's parser for all): the same 200 (Expires: 300) and a NOTIFY to
    the Contact."""
    ct = "Contact: <sip:watcher@127.0.0.1:%d>" % raw.port
    rest = ["Event: dialog", "Accept: application/dialog-info+xml"]
    if where == "before":
        r = subscribe(raw, proxy, "e1", before=[ct, "Expires: 300"],
                      after=rest)
    elif where == "after":
        r = subscribe(raw, proxy, "e2", after=[ct, "Expires: 300"] + rest)
    else:
        rr = "Record-Route: <sip:127.0.0.1:%d;lr>" % raw.port
        r = subscribe(raw, proxy, "e3", after=[rr, ct, "Expires: 300"] + rest)
    assert r.startswith(b"SIP/2.0 200 OK\r\n"), r
    assert header(r, "Expires") == "300", r
    assert raw.pump_notify(), "no NOTIFY"
    n = raw.notifies[0]
    assert n.startswith(b"NOTIFY sip:watcher@127.0.0.1:%d SIP/2.0\r\n"
                        % raw.port), n[:200]
    assert re.search(rb"Subscription-State: active;expires=(29\d|300)\r\n",
                     n), n


@pytest.mark.parametrize("two", [
    ["Event: dialog;id=a1", "Event: presence"],  # both after CSeq
    ["Event: dialog;id=a1", "o: presence"],
])
def test_event_twice_the_first_counts(proxy, raw, two):
    """Two Event headers after CSeq: the core's parser decides, as before
    (the first one counts): a dialog subscription with id a1."""
    after = ["Contact: <sip:watcher@127.0.0.1:%d>" % raw.port] + two + [
        "Expires: 120"]
    r = subscribe(raw, proxy, "ev" + str(len(two[1])), after=after)
    assert r.startswith(b"SIP/2.0 200 OK\r\n"), r
    assert raw.pump_notify(), "no NOTIFY"
    assert header(raw.notifies[0], "Event") == "dialog;id=a1"


def test_event_before_and_after_cseq(proxy, raw):
    """An Event before CSeq (the core has it) and another after: the first
    counts, as with the core's parse of everything."""
    after = ["Contact: <sip:watcher@127.0.0.1:%d>" % raw.port,
             "Event: presence", "Expires: 120"]
    r = subscribe(raw, proxy, "evb", before=["Event: dialog;id=b2"],
                  after=after)
    assert r.startswith(b"SIP/2.0 200 OK\r\n"), r
    assert raw.pump_notify(), "no NOTIFY"
    assert header(raw.notifies[0], "Event") == "dialog;id=b2"


@pytest.mark.parametrize("contact,uri", [
    # read in place: <URI> and parameters, a display name of tokens
    ('<sip:watcher@127.0.0.1:{p};transport=udp>;+sip.instance='
     '"<urn:uuid:00000000-0000-0000-0000-000000000001>";expires=60',
     "sip:watcher@127.0.0.1:{p};transport=udp"),
    ("Wat Cher <sip:watcher@127.0.0.1:{p}>", "sip:watcher@127.0.0.1:{p}"),
    # the core's parser: a backslash in the display name, a bare
    # addr-spec with a parameter, white space inside the brackets
    ('"W \\"x\\"" <sip:watcher@127.0.0.1:{p}>', "sip:watcher@127.0.0.1:{p}"),
    ("sip:watcher@127.0.0.1:{p};expires=60", "sip:watcher@127.0.0.1:{p}"),
    ("< sip:watcher@127.0.0.1:{p} >", "sip:watcher@127.0.0.1:{p}"),
    # a display name before a bare URI (not RFC 3261) and white space
    # after it: parse_contacts() reads all of the URI only with that white
    # space, which the in-place reading had cut (fuzz_subcore found it:
    # the NOTIFY went to port {p} without its last digit)
    ("Wat sip:watcher@127.0.0.1:{p} ", "sip:watcher@127.0.0.1:{p}"),
])
def test_contact_shapes(proxy, raw, contact, uri):
    """Each Contact shape: 200 and the NOTIFY sent to its URI."""
    c = contact.format(p=raw.port)
    r = subscribe(raw, proxy, "c%d" % (hash(contact) & 0xffff), contact=c)
    assert r.startswith(b"SIP/2.0 200 OK\r\n"), r
    assert raw.pump_notify(), "no NOTIFY"
    assert raw.notifies[0].startswith(
        ("NOTIFY %s SIP/2.0\r\n" % uri.format(p=raw.port)).encode()), \
        raw.notifies[0][:200]


@pytest.mark.parametrize("frm,tag", [
    ("Al Ice <sip:watcher@blf.test>;foo=bar;tag=x1", "x1"),  # in place
    ('"Al \\"Ice\\"" <sip:watcher@blf.test>;tag=x2', "x2"),  # the core's
    ("sip:watcher@blf.test;tag=x3", "x3"),  # a bare addr-spec: the core's
])
def test_from_shapes(proxy, raw, frm, tag):
    """From's URI and tag, however it is written: the NOTIFY's To."""
    r = subscribe(raw, proxy, "f" + tag, frm=frm)
    assert r.startswith(b"SIP/2.0 200 OK\r\n"), r
    assert raw.pump_notify(), "no NOTIFY"
    to = header(raw.notifies[0], "To")
    assert to == "<sip:watcher@blf.test>;tag=" + tag, to


@pytest.mark.parametrize("kw,code", [
    ({"contact": "<>"}, b"400"),
    ({"contact": "*"}, b"400"),
    ({"contact": "<sip:watcher@127.0.0.1:5060>, <sip:other@127.0.0.1>"},
     b"200"),
    ({"frm": "<sip:watcher@blf.test>"}, b"400"),  # no tag
    ({"frm": "<sip:watcher@blf.test>;tag=a;tag=b"}, None),  # the core's
    ({"after": ["Contact: <sip:w@127.0.0.1:5060>", "Event: dialog",
                "Expires: soon"]}, b"400"),
    ({"after": ["Contact: <sip:w@127.0.0.1:5060>", "Event: dialog",
                "Accept: text/plain"]}, b"406"),
    ({"after": ["Contact: <sip:w@127.0.0.1:5060>"]}, b"400"),  # no Event
    # parse_to() refuses a backslash in the URI (tests/fuzz/fuzz_subcore.c
    # found it: read in place, the SUBSCRIBE was taken)
    ({"frm": "<sip:wat\\cher@blf.test>;tag=xb"}, b"400"),
    # parse_params() quotes with a single quote: an unterminated one
    ({"contact": "<sip:watcher@127.0.0.1:5060>;q='.5"}, b"400"),
])
def test_errors_in_both_shapes(proxy, raw, kw, code):
    """What is refused is refused as before; Kamailio stays up."""
    r = subscribe(raw, proxy, "x%d" % (hash(repr(kw)) & 0xffff), **kw)
    if code:
        assert r.startswith(b"SIP/2.0 " + code), r
    assert proxy.running


@pytest.mark.parametrize("extra", [
    "l: 0",  # a second Content-Length (subscribe() ends with one)
    "Max-Forwards: 69",  # a second Max-Forwards
    "Retry-After: soon",  # parsed as the core reads the line
    "X*Y: z",  # a token, but not a header name to the core
])
def test_what_the_core_refuses_is_not_taken(proxy, raw, extra):
    """A header after CSeq that makes the core's parser refuse the message
    (tests/fuzz/fuzz_subcore.c found each: read in place, the SUBSCRIBE got
    a 200 and a subscription). Now it goes to the core's parser, as before
    the in-place reading: no reply can be built (sl parses the headers
    too), so there is none, no NOTIFY, a log line, Kamailio still up."""
    before = proxy.log().count("cannot send 400 reply")
    after = ["Contact: <sip:watcher@127.0.0.1:%d>" % raw.port,
             "Event: dialog", "Expires: 120", extra]
    with pytest.raises(AssertionError, match="no response"):
        subscribe(raw, proxy, "cr%d" % (hash(extra) & 0xffff), after=after,
                  timeout=1.5)
    assert not raw.notifies
    blfutil.poll(lambda: proxy.log().count("cannot send 400 reply") > before,
                 3, what="the log line of the refused SUBSCRIBE")
    assert proxy.running


def test_script_reads_headers_after_blf(kamailio_factory, raw):
    """The module leaves the message as the core had it: the script after
    blf_handle_subscribe() still reads any header ($hdr parses on)."""
    kam = kamailio_factory(blf=True, defines=["WITH_HDR_AFTER_SUBSCRIBE"])
    after = ["Contact: <sip:watcher@127.0.0.1:%d>" % raw.port,
             "Event: dialog;id=q7", "Expires: 120", "User-Agent: scan-ua",
             "X-After: seen"]
    r = subscribe(raw, kam, "ua", after=after)
    assert r.startswith(b"SIP/2.0 200 OK\r\n"), r
    blfutil.poll(lambda: "after subscribe: ua=[scan-ua] x=[seen] "
                 "event=[dialog;id=q7]" in kam.log(), 3,
                 what="the script's log line")
