"""rfc4235.py — validate and read application/dialog-info+xml bodies.

Every NOTIFY body the tests see goes through parse(): it is validated with
lxml against the RFC 4235 schema kept in tests/schema/ (the schema types
<state> as a plain string, so its value is checked here too), then turned
into small Python objects the tests assert on.
"""

import os
from dataclasses import dataclass, field
from typing import List, Optional

from lxml import etree

NS = "urn:ietf:params:xml:ns:dialog-info"
STATES = ("trying", "proceeding", "early", "confirmed", "terminated")
DIRECTIONS = ("initiator", "recipient")
SCHEMA_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                           os.pardir, "schema", "dialog-info.xsd")

_schema = None


def schema():
    global _schema
    if _schema is None:
        _schema = etree.XMLSchema(etree.parse(SCHEMA_PATH))
    return _schema


class InvalidBody(AssertionError):
    pass


@dataclass
class Party:
    identity: Optional[str] = None
    display: Optional[str] = None
    target: Optional[str] = None


@dataclass
class Dialog:
    id: str
    call_id: Optional[str]
    local_tag: Optional[str]
    remote_tag: Optional[str]
    direction: Optional[str]
    state: str
    event: Optional[str] = None
    code: Optional[int] = None
    duration: Optional[int] = None
    local: Optional[Party] = None
    remote: Optional[Party] = None


@dataclass
class DialogInfo:
    entity: str
    version: int
    state: str
    dialogs: List[Dialog] = field(default_factory=list)
    raw: str = ""

    @property
    def idle(self):
        return not self.dialogs

    def by_call_id(self, call_id):
        return [d for d in self.dialogs if d.call_id == call_id]

    def states(self):
        return [d.state for d in self.dialogs]


def _q(name):
    return "{%s}%s" % (NS, name)


def _party(el):
    if el is None:
        return None
    p = Party()
    ident = el.find(_q("identity"))
    if ident is not None:
        p.identity = (ident.text or "").strip()
        p.display = ident.get("display")
    tgt = el.find(_q("target"))
    if tgt is not None:
        p.target = tgt.get("uri")
    return p


def validate(body):
    """Parses and schema-validates body (str or bytes); returns the root."""
    if isinstance(body, str):
        body = body.encode("utf-8")
    if not body.strip():
        raise InvalidBody("empty body where dialog-info was expected")
    try:
        root = etree.fromstring(body)
    except etree.XMLSyntaxError as e:
        raise InvalidBody("not well-formed XML: %s\n%s" % (
            e, body.decode("utf-8", "replace"))) from None
    sch = schema()
    if not sch.validate(root):
        raise InvalidBody("dialog-info does not validate against RFC 4235 "
                          "schema: %s\n%s" % (
                              "; ".join(str(e) for e in sch.error_log),
                              body.decode("utf-8", "replace")))
    for st in root.iter(_q("state")):
        if (st.text or "").strip() not in STATES:
            raise InvalidBody("<state>%s</state> is not one of %s\n%s" % (
                st.text, STATES, body.decode("utf-8", "replace")))
    return root


def parse(body):
    """validate() then read the document into a DialogInfo."""
    root = validate(body)
    info = DialogInfo(entity=root.get("entity"),
                      version=int(root.get("version")),
                      state=root.get("state"),
                      raw=body if isinstance(body, str) else
                      body.decode("utf-8", "replace"))
    for d in root.findall(_q("dialog")):
        st = d.find(_q("state"))
        code = st.get("code")
        dur = d.find(_q("duration"))
        info.dialogs.append(Dialog(
            id=d.get("id"), call_id=d.get("call-id"),
            local_tag=d.get("local-tag"), remote_tag=d.get("remote-tag"),
            direction=d.get("direction"),
            state=(st.text or "").strip(), event=st.get("event"),
            code=int(code) if code is not None else None,
            duration=int(dur.text) if dur is not None else None,
            local=_party(d.find(_q("local"))),
            remote=_party(d.find(_q("remote")))))
    return info
