"""rfc4662.py — validate and read RFC 4662 list NOTIFYs (issue #12).

A list NOTIFY is multipart/related (RFC 2387) with the RLMI document
(application/rlmi+xml) first and one part per resource. parse() takes the
NOTIFY apart with Python's `email` package (a real MIME parser, not ours),
checks the framing rules a phone relies on, validates the RLMI part with
lxml against tests/schema/rlmi.xsd, checks that every <instance cid> names
exactly one part and every part is named by one instance, validates each
dialog-info part with rfc4235, and returns small objects to assert on.
"""

import os
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from typing import Dict, List, Optional

from lxml import etree

import rfc4235

NS = "urn:ietf:params:xml:ns:rlmi"
RLMI_CT = "application/rlmi+xml"
SCHEMA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           os.pardir, "schema", "rlmi.xsd")
_schema = None


def schema():
    global _schema
    if _schema is None:
        _schema = etree.XMLSchema(etree.parse(SCHEMA_PATH))
    return _schema


class InvalidList(AssertionError):
    pass


@dataclass
class Instance:
    id: str
    state: str
    reason: Optional[str]
    cid: Optional[str]
    ctype: Optional[str] = None  # of its part
    body: Optional[bytes] = None  # its part
    dialog_info: Optional[rfc4235.DialogInfo] = None


@dataclass
class Resource:
    uri: str
    name: Optional[str]
    instances: List[Instance] = field(default_factory=list)

    @property
    def instance(self):
        return self.instances[0] if self.instances else None


@dataclass
class ListNotify:
    uri: str
    version: int
    full: bool
    name: Optional[str]
    resources: List[Resource]
    boundary: str
    raw: bytes

    def by_uri(self) -> Dict[str, Resource]:
        return {r.uri: r for r in self.resources}

    def with_state(self):
        """The resources whose instance (state) this NOTIFY carries."""
        return [r for r in self.resources if r.instances]


def _q(n):
    return "{%s}%s" % (NS, n)


def _text(el):
    return None if el is None else (el.text or "")


def _cid(v):
    v = (v or "").strip()
    if not (v.startswith("<") and v.endswith(">")):
        raise InvalidList("Content-ID not in angle brackets: %r" % v)
    return v[1:-1]


def parse(notify):
    """notify: a sipua.Notify (or anything with .content_type and
    .msg.body bytes). Returns a ListNotify or raises InvalidList."""
    ctype = notify.content_type or ""
    body = notify.msg.body if hasattr(notify, "msg") else notify.body
    if isinstance(body, str):
        body = body.encode("utf-8")
    return parse_body(ctype, body)


def parse_body(ctype, body):
    if not ctype.lower().startswith("multipart/related"):
        raise InvalidList("Content-Type is not multipart/related: %r" % ctype)
    msg = BytesParser(policy=HTTP).parsebytes(
        b"Content-Type: " + ctype.encode() + b"\r\n\r\n" + body)
    if not msg.is_multipart():
        raise InvalidList("not a multipart body")
    params = dict(msg["Content-Type"].params)
    if params.get("type", "").lower() != RLMI_CT:
        raise InvalidList('type="%s" (want %s)' % (params.get("type"),
                                                   RLMI_CT))
    boundary = params.get("boundary")
    parts = list(msg.iter_parts())
    if not parts:
        raise InvalidList("no parts")
    if msg.defects or any(p.defects for p in parts):
        raise InvalidList("MIME defects: %s %s" % (
            msg.defects, [p.defects for p in parts]))
    if not body.rstrip(b"\r\n").endswith(b"--" + boundary.encode() + b"--"):
        raise InvalidList("no closing boundary")
    first = parts[0]
    if first.get_content_type() != RLMI_CT:
        raise InvalidList("first part is %s" % first.get_content_type())
    start = params.get("start")
    if start is None or _cid(start) != _cid(first["Content-ID"]):
        raise InvalidList("start=%r is not the RLMI part's Content-ID %r" % (
            start, first["Content-ID"]))
    by_cid = {}
    for p in parts:
        cte = (p["Content-Transfer-Encoding"] or "").strip().lower()
        if cte != "binary":
            raise InvalidList("Content-Transfer-Encoding %r" % cte)
        c = _cid(p["Content-ID"])
        if c in by_cid:
            raise InvalidList("Content-ID %s twice" % c)
        by_cid[c] = p
    rlmi = first.get_payload(decode=True)
    try:
        root = etree.fromstring(rlmi)
    except etree.XMLSyntaxError as e:
        raise InvalidList("RLMI not well-formed: %s\n%r" % (e, rlmi))
    if not schema().validate(root):
        raise InvalidList("RLMI invalid: %s\n%s" % (
            schema().error_log, rlmi.decode("utf-8", "replace")))
    named = set()
    resources = []
    for r in root.findall(_q("resource")):
        res = Resource(uri=r.get("uri"), name=_text(r.find(_q("name"))))
        for i in r.findall(_q("instance")):
            inst = Instance(id=i.get("id"), state=i.get("state"),
                            reason=i.get("reason"), cid=i.get("cid"))
            if inst.cid is not None:
                p = by_cid.get(inst.cid)
                if p is None or p is first:
                    raise InvalidList("cid %s names no part" % inst.cid)
                if inst.cid in named:
                    raise InvalidList("cid %s named twice" % inst.cid)
                named.add(inst.cid)
                inst.ctype = p.get_content_type()
                inst.body = p.get_payload(decode=True)
                if inst.ctype == "application/dialog-info+xml":
                    inst.dialog_info = rfc4235.parse(inst.body)
            res.instances.append(inst)
        resources.append(res)
    unnamed = [c for c, p in by_cid.items() if p is not first and
               c not in named]
    if unnamed:
        raise InvalidList("parts no instance names: %s" % unnamed)
    return ListNotify(uri=root.get("uri"), version=int(root.get("version")),
                      full=root.get("fullState") in ("true", "1"),
                      name=_text(root.find(_q("name"))),
                      resources=resources, boundary=boundary, raw=body)
