"""Directed call pickup with the data of a NOTIFY (SPEC: visibility full
gives "everything phones need for directed pickup").

Carol watches bob. Alice calls bob; bob rings. Carol takes call-id and tags
from bob's early <dialog> and sends INVITE with Replaces to the caller,
alice (the remote identity of the NOTIFY), through the proxy. Alice's phone
checks the Replaces header against its early dialog, answers and CANCELs
its INVITE to bob.

Tag order: RFC 3891 compares the Replaces to-tag with the local tag of the
receiving UA (alice: her From tag, the NOTIFY's remote-tag) and the from-tag
with its remote tag (bob's To tag, the NOTIFY's local-tag).
"""

import blfutil

ALICE = "sip:alice@blf.test"


def test_directed_pickup_via_replaces(proxy, phones):
    a, b = phones("alice"), phones("bob")
    c = phones("carol")
    lb = blfutil.watch(c, "bob")
    la = blfutil.watch(c, "alice")
    orig = a.call("bob")
    ring = b.wait_incoming()
    d = lb.wait_state("early", orig.call_id)
    assert d.call_id == orig.call_id
    assert d.local_tag == ring.local_tag and d.remote_tag == orig.local_tag
    assert d.remote.identity == ALICE
    pick = c.call(d.remote.identity,
                  replaces=(d.call_id, d.remote_tag, d.local_tag))
    pick.wait_state("confirmed")
    rep = a.incoming[0]
    assert rep.replaces is orig, "alice did not match Replaces to her call"
    # alice dropped her ringing call: bob's phone stops ringing
    orig.wait_state("terminated")
    ring.wait_state("terminated")
    assert ring.end == "cancelled"
    db = lb.wait_state("terminated", orig.call_id)
    assert lb.history(orig.call_id) == ["trying", "early", "terminated"], \
        lb.history(orig.call_id)
    assert db.event in ("cancelled", "replaced"), db
    # carol is talking to alice: alice's lamp shows the new call
    dn = la.wait_state("confirmed", pick.call_id)
    assert dn.direction == "recipient"
    assert dn.remote.identity == "sip:carol@blf.test"
    assert dn.local_tag == rep.local_tag and dn.remote_tag == pick.local_tag
    assert pick.bye().status == 200
    la.wait_state("terminated", pick.call_id)
    assert lb.refresh().idle
    lb.assert_versions()
    la.assert_versions()
