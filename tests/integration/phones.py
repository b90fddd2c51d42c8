"""phones.py — the SUBSCRIBE header sets real phones send for a BLF *list*
(RFC 4662 resource list) key, as fixtures for test_lists.py (issue #12).

sipua builds the dialog headers (From, To, Call-ID, CSeq, Contact, Via,
Max-Forwards); a fixture gives the rest exactly as the phone sends it:
Event, Accept, Supported, Expires, Allow-Events, User-Agent and the order
they come in. Each fixture says where it comes from and which headers are
copied from that source ("seen") and which are what the vendor's own
documentation implies but does not print ("doc"); keep that honest when a
capture from a real phone arrives: replace the fixture by the capture.

Sources (read through the search tools, 2026-12-05):
  Yealink  "Administrator's Guide for SIP-T2/T4/T5 Series IP Phones",
           section "BLF/BLF List Subscription": the phone sends one
           SUBSCRIBE whose Request-URI is the BLF List URI
           (the "BLF List URI" account setting) and expects RLMI NOTIFYs;
           account.X.blf.subscribe_event 0 = dialog (default), 1 = presence;
           account.X.blf.subscribe_period default 1800. The guide's own
           SUBSCRIBE example (call completion, same stack) shows the header
           order and "Accept: application/dialog-info+xml",
           "User-Agent: Yealink SIP-T46G 28.82.0.20", "Event: dialog".
  Polycom  "Polycom UC Software Administrator's Guide", attendant.uri /
           attendant.reg: a list URI subscribed with Event: dialog; the
           phone advertises its packages in Allow-Events.
  Grandstream  forums.grandstream.com/t/subscribe-events-for-blf/37775
           (a SUBSCRIBE from Grandstream's SIP stack, Wave, as captured by
           a user): "Supported: replaces, path, timer, eventlist",
           "Event: dialog", "Accept: application/dialog-info+xml,
           multipart/related, application/rlmi+xml"; and Grandstream's
           "How to configure Eventlist BLF" (GXP21xx/16xx, GRP26xx): the
           Eventlist BLF URI is subscribed once, RFC 4662.
  Snom     wiki.snom.com "Contact List" / service.snom.com "How to -
           Presence": Contact List URI, the server "must support Resource
           Lists as defined in RFC 4662"; presence list (Event: presence).
"""

from dataclasses import dataclass, field
from typing import List, Tuple

EVENTLIST = "eventlist"


@dataclass
class PhoneListSubscribe:
    name: str
    event: str
    accept: str
    expires: int
    headers: List[Tuple[str, str]]  # besides Event/Accept/Expires, in order
    body_type: str  # the Content-Type each member part must have
    seen: List[str] = field(default_factory=list)  # copied from a capture
    doc: List[str] = field(default_factory=list)  # implied by the vendor doc

    def subscribe(self, phone, list_uri, **kw):
        """phone (a sipua.Phone) sends this phone's initial SUBSCRIBE."""
        return phone.subscribe(list_uri, expires=self.expires,
                               event=self.event, accept=self.accept,
                               headers=list(self.headers), **kw)


YEALINK = PhoneListSubscribe(
    name="yealink",
    event="dialog",
    accept="application/dialog-info+xml,multipart/related,"
           "application/rlmi+xml",
    expires=1800,
    headers=[("User-Agent", "Yealink SIP-T46G 28.82.0.20"),
             ("Supported", EVENTLIST)],
    body_type="application/dialog-info+xml",
    seen=["Event", "User-Agent", "Expires (subscribe_period default)"],
    doc=["Accept with multipart/related and rlmi+xml",
         "Supported: eventlist"])

POLYCOM = PhoneListSubscribe(
    name="polycom",
    event="dialog",
    accept="application/dialog-info+xml, application/rlmi+xml, "
           "multipart/related",
    expires=3600,
    headers=[("User-Agent", "PolycomVVX-VVX_411-UA/6.3.0.14929"),
             ("Allow-Events", "conference,talk,hold,dialog,line-seize,"
                              "check-sync,refer"),
             ("Supported", "100rel,replaces,eventlist")],
    body_type="application/dialog-info+xml",
    seen=[],
    doc=["Event: dialog (attendant.uri)", "Allow-Events", "Accept",
         "Supported: eventlist", "Expires"])

GRANDSTREAM = PhoneListSubscribe(
    name="grandstream",
    event="dialog",
    accept="application/dialog-info+xml, multipart/related, "
           "application/rlmi+xml",
    expires=3600,
    headers=[("User-Agent", "Grandstream GXP2170 1.0.11.23"),
             ("Supported", "replaces, path, timer, eventlist")],
    body_type="application/dialog-info+xml",
    seen=["Event", "Accept", "Supported"],
    doc=["Expires", "User-Agent"])

SNOM = PhoneListSubscribe(
    name="snom",
    event="presence",
    accept="application/pidf+xml, multipart/related, application/rlmi+xml",
    expires=3600,
    headers=[("User-Agent", "snomD785/10.1.73.16"),
             ("Supported", "timer, 100rel, replaces, from-change, "
                           "eventlist")],
    body_type="application/pidf+xml",
    seen=[],
    doc=["Event: presence (Contact List)", "Accept", "Supported: eventlist"])

PHONES = [YEALINK, POLYCOM, GRANDSTREAM, SNOM]
