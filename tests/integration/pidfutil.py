"""pidfutil.py — what the presence tests check on every PIDF, watcherinfo
and reginfo body, PUBLISH sending, and the blf.publications reader.

Bodies are validated with lxml against the RFCs' schemas in tests/schema/
(presence.xsd: pidf.xsd + data-model.xsd + rpid.xsd, so the lax wildcards
do not skip <dm:person> and the activities; watcherinfo.xsd; reginfo.xsd)
and read into small objects. Besides the schema, the SPEC fixes prefixes
that softphones match literally (baresip regex-matches `<rpid:on-the-phone/>`
and `<basic>open</basic>` on the raw text): check_prefixes() asserts them.

PresenceWatch follows one `Event: presence` subscription the way a buddy
list does: each NOTIFY is checked (Event, Content-Type, Subscription-State)
and parsed; `current` is the newest document. Every wait is bounded.
"""

import os
import re
import time
from dataclasses import dataclass
from typing import List, Optional

from lxml import etree

import blfutil
import sipua

PIDF_NS = "urn:ietf:params:xml:ns:pidf"
DM_NS = "urn:ietf:params:xml:ns:pidf:data-model"
RPID_NS = "urn:ietf:params:xml:ns:pidf:rpid"
WINFO_NS = "urn:ietf:params:xml:ns:watcherinfo"
REGINFO_NS = "urn:ietf:params:xml:ns:reginfo"
PIDF_CT = "application/pidf+xml"
WINFO_CT = "application/watcherinfo+xml"
REGINFO_CT = "application/reginfo+xml"

# the SPEC's table: entity state -> (basic, person activities, note)
UNAVAILABLE = ("closed", [], "Unavailable")
RINGING = ("open", ["on-the-phone"], "Ringing")
ON_THE_PHONE = ("open", ["on-the-phone"], "On the phone")
READY = ("open", [], "Ready")

SCHEMA_DIR = os.environ.get("BLF_SCHEMA_DIR") or os.path.join(
    os.path.dirname(os.path.abspath(__file__)), os.pardir, "schema")

_schemas = {}


def schema(name):
    """The lxml schema of tests/schema/<name> (cached); a missing file is
    a test failure naming it."""
    if name not in _schemas:
        path = os.path.join(SCHEMA_DIR, name)
        assert os.path.exists(path), "schema %s missing (tests/schema/ " \
            "gets it from the RFC text, README there)" % path
        _schemas[name] = etree.XMLSchema(etree.parse(path))
    return _schemas[name]


class InvalidBody(AssertionError):
    pass


def validate(body, name):
    """Parses body (str/bytes) and validates it against schema name;
    returns the root element."""
    raw = body.encode() if isinstance(body, str) else body
    try:
        root = etree.fromstring(raw)
    except etree.XMLSyntaxError as e:
        raise InvalidBody("not well-formed XML (%s):\n%s" % (e, body))
    s = schema(name)
    if not s.validate(root):
        raise InvalidBody("invalid against %s: %s\n%s" % (
            name, s.error_log.last_error, body))
    return root


# -- PIDF -----------------------------------------------------------------

@dataclass
class Tuple:
    id: str
    basic: Optional[str]
    note: Optional[str]
    notes: List[str]
    contact: Optional[str]


@dataclass
class Person:
    id: str
    activities: List[str]  # local names of the children of rpid:activities
    notes: List[str]  # dm:note texts


@dataclass
class Pidf:
    entity: str
    tuples: List[Tuple]
    persons: List[Person]
    notes: List[str]  # presence-level <note>s
    raw: str

    @property
    def person(self):
        assert len(self.persons) == 1, \
            "expected exactly one <dm:person>, got %d:\n%s" % (
                len(self.persons), self.raw)
        return self.persons[0]

    @property
    def basic(self):
        """<basic> of the module's own tuple (the first)."""
        assert self.tuples, "PIDF without a <tuple>:\n%s" % self.raw
        return self.tuples[0].basic

    def all_notes(self):
        out = list(self.notes)
        for t in self.tuples:
            out += t.notes
        for p in self.persons:
            out += p.notes
        return out

    def summary(self):
        """(basic, activities, note) as the SPEC's table writes them: the
        first tuple's basic, the person's activities, the person's note."""
        p = self.person
        return (self.basic, sorted(p.activities),
                p.notes[0] if p.notes else None)


def _text(el):
    return (el.text or "").strip() if el is not None else None


def parse_pidf(body, validate_schema=True):
    """Validates (presence.xsd) and reads a PIDF document; also checks what
    the SPEC fixes beyond the schema: the prefixes, one document."""
    raw = body.decode("utf-8", "replace") if isinstance(body, bytes) \
        else body
    if validate_schema:
        root = validate(raw, "presence.xsd")
    else:
        root = etree.fromstring(raw.encode())
    assert root.tag == "{%s}presence" % PIDF_NS, root.tag
    tuples = []
    for t in root.findall("{%s}tuple" % PIDF_NS):
        basic = t.find("{%s}status/{%s}basic" % (PIDF_NS, PIDF_NS))
        notes = [_text(n) for n in t.findall("{%s}note" % PIDF_NS)]
        tuples.append(Tuple(id=t.get("id"), basic=_text(basic),
                            note=notes[0] if notes else None, notes=notes,
                            contact=_text(t.find("{%s}contact" % PIDF_NS))))
    persons = []
    for p in root.findall("{%s}person" % DM_NS):
        acts = []
        for a in p.findall("{%s}activities" % RPID_NS):
            acts += [etree.QName(c).localname for c in a
                     if isinstance(c.tag, str)]
        persons.append(Person(id=p.get("id"), activities=acts, notes=[
            _text(n) for n in p.findall("{%s}note" % DM_NS)]))
    return Pidf(entity=root.get("entity"), tuples=tuples, persons=persons,
                notes=[_text(n) for n in root.findall("{%s}note" % PIDF_NS)],
                raw=raw)


def check_prefixes(doc):
    """The literal form clients match: the default namespace is PIDF's,
    `dm` and `rpid` bound to the data-model and RPID namespaces, and every
    activity written `<rpid:NAME/>` (baresip's regexes)."""
    root = etree.fromstring(doc.raw.encode())
    nsmap = root.nsmap
    assert nsmap.get(None) == PIDF_NS, nsmap
    assert nsmap.get("dm") == DM_NS, nsmap
    assert nsmap.get("rpid") == RPID_NS, nsmap
    for p in doc.persons:
        for a in p.activities:
            assert re.search(r"<rpid:%s\s*/>" % re.escape(a), doc.raw), \
                "activity %s not written as <rpid:%s/>:\n%s" % (a, a,
                                                                doc.raw)
    if doc.tuples:
        # baresip: "<basic[ \t]*>[^<]+</basic[ \t]*>" then an exact,
        # case-insensitive compare with "open": no prefix, no whitespace
        assert re.search(r"<basic>%s</basic>" % doc.basic, doc.raw), \
            "<basic> not written as <basic>%s</basic>:\n%s" % (doc.basic,
                                                               doc.raw)


def assert_state(doc, want, published_ids=()):
    """doc shows the SPEC table's row want (UNAVAILABLE, RINGING, ...):
    the module's tuple first (not one of the published ids) with that
    basic and note, one person with those activities and that note."""
    basic, acts, note = want
    assert doc.tuples and doc.tuples[0].id not in published_ids, \
        "the module's own tuple is not first: %s" % [t.id for t in
                                                     doc.tuples]
    got = doc.summary()
    assert got[0] == basic and got[1] == sorted(acts), \
        "expected basic %s, activities %s; got %s\n%s" % (
            basic, acts, got, doc.raw)
    assert doc.tuples[0].note == note, \
        "tuple <note> %r, expected %r\n%s" % (doc.tuples[0].note, note,
                                              doc.raw)
    assert doc.person.notes == [note], \
        "<dm:note> %r, expected %r\n%s" % (doc.person.notes, note, doc.raw)


# -- watcherinfo / reginfo ------------------------------------------------

@dataclass
class Watcher:
    id: str
    status: str
    event: str
    uri: str


@dataclass
class WatcherInfo:
    version: int
    state: str
    resource: Optional[str]
    package: Optional[str]
    watchers: List[Watcher]
    raw: str


def parse_winfo(body):
    raw = body.decode() if isinstance(body, bytes) else body
    root = validate(raw, "watcherinfo.xsd")
    lists = root.findall("{%s}watcher-list" % WINFO_NS)
    watchers = []
    for wl in lists:
        for w in wl.findall("{%s}watcher" % WINFO_NS):
            watchers.append(Watcher(id=w.get("id"), status=w.get("status"),
                                    event=w.get("event"), uri=_text(w)))
    return WatcherInfo(version=int(root.get("version")),
                       state=root.get("state"),
                       resource=lists[0].get("resource") if lists else None,
                       package=lists[0].get("package") if lists else None,
                       watchers=watchers, raw=raw)


@dataclass
class RegContact:
    id: str
    state: str
    event: str
    expires: Optional[int]
    uri: str


@dataclass
class RegInfo:
    version: int
    state: str
    aor: Optional[str]
    reg_state: Optional[str]
    contacts: List[RegContact]
    raw: str


def parse_reginfo(body):
    raw = body.decode() if isinstance(body, bytes) else body
    root = validate(raw, "reginfo.xsd")
    regs = root.findall("{%s}registration" % REGINFO_NS)
    contacts = []
    for r in regs:
        for c in r.findall("{%s}contact" % REGINFO_NS):
            exp = c.get("expires")
            contacts.append(RegContact(
                id=c.get("id"), state=c.get("state"), event=c.get("event"),
                expires=int(exp) if exp is not None else None,
                uri=_text(c.find("{%s}uri" % REGINFO_NS))))
    return RegInfo(version=int(root.get("version")),
                   state=root.get("state"),
                   aor=regs[0].get("aor") if regs else None,
                   reg_state=regs[0].get("state") if regs else None,
                   contacts=contacts, raw=raw)


# -- subscriptions --------------------------------------------------------

PACKAGES = {"presence": (PIDF_CT, parse_pidf),
            "presence.winfo": (WINFO_CT, parse_winfo),
            "dialog.winfo": (WINFO_CT, parse_winfo),
            "reg": (REGINFO_CT, parse_reginfo)}


class Watch:
    """One subscription of a package of PACKAGES, seen as a client."""

    def __init__(self, sub, package):
        self.sub = sub
        self.package = package
        self.content_type, self.parse = PACKAGES[package]
        self.seen = []  # (Notify, parsed document or None)

    def check(self, n):
        ev = (n.event or "").split(";")[0].strip().lower()
        assert ev == self.package, "NOTIFY Event: %r" % n.event
        assert n.state in ("active", "pending", "terminated"), \
            n.subscription_state
        if n.state == "active":
            assert n.expires is not None, n.subscription_state
        if n.state == "terminated":
            assert n.reason, n.subscription_state
        if not n.body.strip():
            assert n.state == "terminated", "NOTIFY without body: %s" % n.msg
            return None
        ct = (n.content_type or "").split(";")[0].strip().lower()
        assert ct == self.content_type, "Content-Type %r" % n.content_type
        if self.package == "presence":
            # baresip 1.0.0 compares the whole header value with
            # "application/pidf+xml" and answers anything else 415
            assert n.content_type.strip() == PIDF_CT, \
                "Content-Type %r: no parameters (baresip)" % n.content_type
        return self.parse(n.body)

    def pump(self, timeout=5.0, what=None):
        n = self.sub.next_notify(timeout, what)
        doc = self.check(n)
        self.seen.append((n, doc))
        return n, doc

    def drain(self):
        for n in self.sub.pending():
            self.pump(0.1)

    @property
    def current(self):
        self.drain()
        docs = [d for _, d in self.seen if d is not None]
        assert docs, "no document received"
        return docs[-1]

    def wait(self, pred, timeout=5.0, what="document"):
        """The first document (already seen and not yet matched ones
        included, newest last) for which pred holds."""
        self.drain()
        for i in range(getattr(self, "_mark", 0), len(self.seen)):
            d = self.seen[i][1]
            if d is not None and pred(d):
                self._mark = i + 1
                return d
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise sipua.SipTimeout("%s %s: no %s within %.1fs; last: %s"
                                       % (self.package, self.sub.target,
                                          what, timeout,
                                          self.seen[-1][1] if self.seen
                                          else None))
            try:
                _, d = self.pump(left, what)
            except sipua.SipTimeout:
                continue
            if d is not None and pred(d):
                self._mark = len(self.seen)
                return d

    def wait_final(self, timeout=5.0):
        for n, _ in self.seen:
            if n.state == "terminated":
                return n
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise sipua.SipTimeout("no terminated NOTIFY within %.1fs"
                                       % timeout)
            try:
                n, _ = self.pump(left, "terminated NOTIFY")
            except sipua.SipTimeout:
                continue
            if n.state == "terminated":
                return n


class PresenceWatch(Watch):
    def __init__(self, sub):
        super().__init__(sub, "presence")

    def wait_state(self, want, timeout=5.0, published_ids=()):
        """The first document showing the SPEC table's row want."""
        def pred(d):
            try:
                assert_state(d, want, published_ids)
                return True
            except AssertionError:
                return False
        d = self.wait(pred, timeout, "document showing %s" % (want,))
        check_prefixes(d)
        return d


def subscribe(phone, target, package, expires=600, accept="default",
              **kw):
    """The SUBSCRIBE (not asserted); accept "default": the package's
    Content-Type."""
    if accept == "default":
        accept = PACKAGES[package][0]
    return phone.subscribe(target, expires=expires, event=package,
                           accept=accept, **kw)


def watch(phone, target, package="presence", expires=600, **kw):
    """Subscribes, asserts the 200 and the initial full-state NOTIFY;
    returns the (Presence)Watch with that first document taken."""
    sub = subscribe(phone, target, package, expires, **kw)
    r = sub.responses[-1]
    assert r.status == 200, "SUBSCRIBE %s %s: %s" % (package, target,
                                                      r.first_line())
    w = PresenceWatch(sub) if package == "presence" else Watch(sub, package)
    n, doc = w.pump(3, "initial %s NOTIFY" % package)
    assert n.state == "active", n.subscription_state
    assert doc is not None, "initial NOTIFY without a body"
    return w


# -- PUBLISH --------------------------------------------------------------

def pidf_body(entity, tuple_id="pub1", basic="open", activities=(),
              note=None, contact=None, person_id="pp1", person=True):
    """A PIDF document as a client publishes it (tuple first, as the
    schema wants)."""
    if not entity.startswith("sip:"):
        entity = "sip:" + entity
    t = '<tuple id="%s"><status><basic>%s</basic></status>' % (tuple_id,
                                                               basic)
    if contact:
        t += "<contact>%s</contact>" % contact
    if note is not None:
        t += "<note>%s</note>" % note
    t += "</tuple>"
    p = ""
    if person:
        acts = "".join("<rpid:%s/>" % a for a in activities)
        p = '<dm:person id="%s">%s%s</dm:person>' % (
            person_id, "<rpid:activities>%s</rpid:activities>" % acts
            if activities else "",
            "<dm:note>%s</dm:note>" % note if note is not None else "")
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<presence xmlns="%s" xmlns:dm="%s" xmlns:rpid="%s" '
            'entity="%s">%s%s</presence>' % (PIDF_NS, DM_NS, RPID_NS,
                                              entity, t, p))


def publish(phone, target=None, body=None, etag=None, expires=3600,
            event="presence", content_type=PIDF_CT, from_uri=None,
            headers=(), timeout=5.0):
    """Sends one PUBLISH (RFC 3903) through the proxy and returns the
    final response. target defaults to the phone's own AOR; body None
    sends none (a refresh or a removal); etag adds SIP-If-Match."""
    target = target or phone.uri
    if not target.startswith("sip:"):
        target = "sip:%s@%s" % (target, phone.domain)
    hdrs = []
    if from_uri:
        hdrs.append(("From", "<%s>;tag=%s" % (from_uri, sipua.rand_hex())))
    hdrs.append(("To", "<%s>" % target))
    if event is not None:
        hdrs.append(("Event", event))
    if expires is not None:
        hdrs.append(("Expires", str(expires)))
    if etag:
        hdrs.append(("SIP-If-Match", etag))
    if body is not None and content_type:
        hdrs.append(("Content-Type", content_type))
    hdrs += list(headers)
    return phone.request("PUBLISH", target, hdrs,
                         body=body if body is not None else b"",
                         timeout=timeout)


def etag_of(resp):
    return resp.get("SIP-ETag")


# -- RPC ------------------------------------------------------------------

def field(rec, name):
    """A field of an RPC record, whatever its case (ETag, etag)."""
    for k, v in rec.items():
        if k.lower() == name.lower():
            return v
    return None


def publications(kam, entity=None):
    """Records of blf.publications [entity]: each has an etag."""
    res = kam.rpc("blf.publications", *([entity] if entity else []))
    out = []

    def walk(x):
        if isinstance(x, dict):
            if field(x, "etag") is not None:
                out.append(x)
                return
            for v in x.values():
                walk(v)
        elif isinstance(x, list):
            for v in x:
                walk(v)
    walk(res)
    return out


def subs_of(kam, event):
    return [s for s in blfutil.subscriptions(kam)
            if (s.get("event") or "").split(";")[0] == event]
