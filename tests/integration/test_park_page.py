"""The phone page of park orbits: blf_park_xml(format) in
event_route[xhttp:request] answers with the orbit list as Yealink
(YealinkIPPhoneTextMenu) or Cisco (CiscoIPPhoneMenu) phone XML, or JSON.
The pages are fetched over real HTTP from Kamailio's xhttp listener
(httputil.PageKamailio) and parsed with lxml: well-formed, every orbit
listed with a Dial action that dials the orbit, parked calls named.
"""

import json
import urllib.request

import pytest
from lxml import etree

import blfutil
from httpstub import stub  # noqa: F401  (pytest fixture)
from httputil import http_params, page_proxy, parks_by_orbit, uri  # noqa

# orbits as the park service gives them; the parked party of 702 has
# characters that XML must escape
ORBITS = [
    {"orbit": "701", "call_id": "pp701@127.0.0.1", "parked": uri("211"),
     "parker": uri("207")},
    {"orbit": "702", "call_id": "pp702&<x>@127.0.0.1",
     "parked": "sip:o'neil&co@blf.test", "parker": uri("208")},
    {"orbit": "703"},
]
NAMES = [o["orbit"] for o in ORBITS]


@pytest.fixture
def kam(stub, page_proxy):
    stub.set_orbits(ORBITS)
    k = page_proxy(**http_params(stub, alias=False, park=True))
    blfutil.poll(lambda: set(parks_by_orbit(k)) == set(NAMES), 5,
                 what="the orbits fetched")
    return k


def get(kam, path):
    with urllib.request.urlopen(kam.http_base + path, timeout=5) as r:
        return r.status, r.headers.get("Content-Type", ""), r.read()


def xml(body):
    try:
        return etree.fromstring(body)
    except etree.XMLSyntaxError as e:
        raise AssertionError("page is not well-formed XML: %s\n%s" % (
            e, body.decode("utf-8", "replace"))) from None


def dial_target(text):
    """The number a phone XML Dial action dials: "Dial:701" or "701"."""
    t = (text or "").strip()
    return t[5:] if t.lower().startswith("dial:") else t


def test_yealink_page(kam):
    status, ctype, body = get(kam, "/park.yealink")
    assert status == 200 and "xml" in ctype, (status, ctype)
    root = xml(body)
    assert root.tag == "YealinkIPPhoneTextMenu", root.tag
    items = root.findall("MenuItem")
    dials = {}
    for it in items:
        uri_el = it.find("URI")
        assert uri_el is not None, etree.tostring(it)
        assert uri_el.text.strip().lower().startswith("dial:"), \
            "a MenuItem without a Dial action: %s" % etree.tostring(it)
        dials[dial_target(uri_el.text)] = it
    assert sorted(dials) == sorted(NAMES), \
        "orbits on the page: %s" % sorted(dials)
    prompt = dials["702"].findtext("Prompt")
    assert "o'neil&co" in prompt, prompt  # escaped on the wire, text here
    assert "211" in dials["701"].findtext("Prompt")


def test_cisco_page(kam):
    status, ctype, body = get(kam, "/park.cisco")
    assert status == 200 and "xml" in ctype, (status, ctype)
    root = xml(body)
    assert root.tag == "CiscoIPPhoneMenu", root.tag
    dials = {}
    for it in root.findall("MenuItem"):
        url = it.findtext("URL")
        assert url and url.strip().startswith("Dial:"), \
            "a MenuItem without a Dial: URL: %s" % etree.tostring(it)
        assert it.findtext("Name"), etree.tostring(it)
        dials[dial_target(url)] = it
    assert sorted(dials) == sorted(NAMES), sorted(dials)
    assert "o'neil&co" in dials["702"].findtext("Name")


def test_json_page(kam):
    status, ctype, body = get(kam, "/park.json")
    assert status == 200 and "json" in ctype, (status, ctype)
    doc = json.loads(body)
    got = {o["orbit"]: o for o in doc["orbits"]}
    assert sorted(got) == sorted(NAMES), doc
    assert got["701"]["call_id"] == "pp701@127.0.0.1"
    assert got["702"]["call_id"] == "pp702&<x>@127.0.0.1"
    assert got["702"]["parked"] == "sip:o'neil&co@blf.test"
    assert not got["703"].get("call_id")


def test_page_follows_the_list(stub, kam):
    stub.set_orbits([{"orbit": "709", "call_id": "n709@127.0.0.1",
                      "parked": uri("219")}])
    blfutil.poll(lambda: set(parks_by_orbit(kam)) == {"709"}, 4,
                 what="the new list fetched")
    root = xml(get(kam, "/park.yealink")[2])
    assert [dial_target(u) for u in root.xpath("//MenuItem/URI/text()")] \
        == ["709"]
    stub.set_orbits([])
    blfutil.poll(lambda: not parks_by_orbit(kam), 4, what="no orbits")
    for fmt in ("yealink", "cisco"):
        root = xml(get(kam, "/park." + fmt)[2])
        assert root.findall("MenuItem") == [], fmt
    assert json.loads(get(kam, "/park.json")[2]) == {"orbits": []}


# -- issue #9: visibility and hostile labels -----------------------------------
def test_pages_follow_the_visibility_parameter(stub, page_proxy):
    """visibility=state: anyone can fetch the page, so it shows which
    orbits hold a call, never the call-id nor who is parked (SPEC: no
    identity, call-id or tag reaches a watcher whose policy forbids it,
    "through any ... page")."""
    stub.set_orbits(ORBITS)
    kam = page_proxy(**http_params(stub, alias=False, park=True,
                                   visibility="state"))
    blfutil.poll(lambda: set(parks_by_orbit(kam)) == set(NAMES), 5,
                 what="the orbits fetched")
    status, _, body = get(kam, "/park.json")
    assert status == 200
    doc = json.loads(body)
    got = {o["orbit"]: o for o in doc["orbits"]}
    assert sorted(got) == sorted(NAMES), doc
    for o in doc["orbits"]:
        assert "call_id" not in o and "parked" not in o and \
            "parker" not in o, o
        assert o["dial"] == o["orbit"]
    assert got["701"]["state"] == "parked" and \
        got["703"]["state"] == "empty", doc
    text = body.decode()
    for secret in ("pp701", "pp702", "211", "neil"):
        assert secret not in text, text
    for fmt, tag in (("yealink", "Prompt"), ("cisco", "Name")):
        root = xml(get(kam, "/park." + fmt)[2])
        labels = [t for t in root.xpath("//MenuItem/%s/text()" % tag)]
        assert sorted(labels) == ["701 parked", "702 parked", "703 empty"], \
            labels


def test_hostile_label_still_gets_a_page(stub, page_proxy):
    """A parked party whose name is 251 apostrophes (6 bytes each once
    escaped) with a 63-digit orbit: the label ran past the escape buffer
    and the phone got no answer at all. Now every format answers with a
    well-formed page listing every orbit."""
    long_orbit = "7" * 63
    hostile = [{"orbit": long_orbit, "call_id": "h1@127.0.0.1",
                "parked": "sip:" + "'" * 251, "parker": uri("207")},
               {"orbit": "702", "call_id": "h2@127.0.0.1",
                "parked": "sip:\"<&>\"@blf.test"},
               {"orbit": "703"}]
    stub.set_orbits(hostile)
    kam = page_proxy(**http_params(stub, alias=False, park=True))
    blfutil.poll(lambda: len(parks_by_orbit(kam)) == 3, 5,
                 what="the hostile orbits fetched")
    for fmt, tag in (("yealink", "Prompt"), ("cisco", "Name")):
        status, _, body = get(kam, "/park." + fmt)
        assert status == 200 and body, (fmt, status)
        root = xml(body)
        labels = root.xpath("//MenuItem/%s/text()" % tag)
        assert len(labels) == 3, labels
        long_label = [t for t in labels if t.startswith(long_orbit)][0]
        assert long_label.startswith(long_orbit + " parked: '''"), long_label
        assert len(long_label) < 63 + 10 + 64 + 1, len(long_label)
    doc = json.loads(get(kam, "/park.json")[2])
    assert len(doc["orbits"]) == 3
    assert kam.running
