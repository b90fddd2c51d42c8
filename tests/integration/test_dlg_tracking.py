"""Call tracking details that watchers cannot tell apart from a plain call
but that matter for privacy and for the proxy's health:

- dialog ids (issue #9, item 6b): under visibility `state` a watcher sees no
  call-id nor tags; the RFC 4235 dialog id must not give the pairing away,
  so the caller's and the callee's ids of one call are unrelated, while
  each stays the same through the call's life (RFC 4235);
- the dialog module's DLGCB_DESTROY callback runs under its hash lock
  (dialog's destroy_dlg() is called by dlg_unref() with the entry locked):
  a call that ends there (a tracked INVITE the script dropped: no reply,
  no BYE) is ended by the "BLF DLG" process, not by the process holding
  the dialog lock, and its lamp still goes dark. Which process ended it
  is seen in the statistic only that process counts (calls_destroyed);
  the lock itself cannot be seen from outside."""

import re

import blfutil
import kamproc


def test_state_visibility_ids_do_not_pair_the_parties(make_proxy, phones):
    make_proxy(visibility="state")
    a = phones("alice")
    b = phones("bob", invite_policy="ring")
    wa, wb = phones("wa"), phones("wb")  # another user watches each side
    la = blfutil.watch(wa, "alice")
    lb = blfutil.watch(wb, "bob")
    call = a.call("bob")
    inc = b.wait_incoming()
    call.wait_state("early")
    la.wait_state("early")
    lb.wait_state("early")
    inc.answer()
    call.wait_state("confirmed")
    la.wait_state("confirmed")
    lb.wait_state("confirmed")
    call.bye()
    la.wait_state("terminated")
    lb.wait_state("terminated")

    ids = {}
    for name, lamp in (("alice", la), ("bob", lb)):
        dl = lamp.dialogs()
        assert dl and all(d.call_id is None and d.local_tag is None and
                          d.remote_tag is None for d in dl), \
            "visibility state shows call-id or tags: %s" % dl
        seen = {d.id for d in dl}
        assert len(seen) == 1, "%s's dialog id changed during the call: " \
            "%s" % (name, seen)
        ids[name] = seen.pop()
    ia, ib = ids["alice"], ids["bob"]
    assert ia != ib
    # no common part either (the old ids were hash(call-id) + i/r)
    assert ia[:8] != ib[:8] and ia[-8:] != ib[-8:] and \
        ia[:-1] != ib[:-1], "ids %s and %s pair the parties" % (ia, ib)
    assert call.call_id not in ia and call.call_id not in ib


def test_ids_stable_per_call_and_side(make_proxy, phones):
    """Full visibility, two calls between the same parties: each (call,
    side) keeps one id; no two are equal."""
    make_proxy()
    a = phones("alice")
    b = phones("bob", invite_policy="answer")
    w = phones("w")
    la, lb = blfutil.watch(w, "alice"), blfutil.watch(w, "bob")
    calls = []
    for _ in range(2):
        c = a.call("bob").wait_state("confirmed")
        la.wait_state("confirmed", c.call_id)
        lb.wait_state("confirmed", c.call_id)
        c.bye()
        la.wait_state("terminated", c.call_id)
        lb.wait_state("terminated", c.call_id)
        calls.append(c.call_id)
    ids = []
    for lamp in (la, lb):
        for cid in calls:
            seen = {d.id for d in lamp.dialogs(cid)}
            assert len(seen) == 1, seen
            ids.append(seen.pop())
    assert len(set(ids)) == 4, ids


def dropping_kamailio_class():
    """INVITEs to "void" are tracked, then dropped by the script: no reply,
    no transaction: the dialog ends in DLGCB_DESTROY only."""
    class DroppingKamailio(kamproc.Kamailio):
        def render(self):
            text = super().render()
            line = "\t\tblf_track();\n"
            assert line in text
            text = text.replace(line, line + '\t\tif($rU == "void") {\n'
                                '\t\t\texit;\n\t\t}\n', 1)
            with open(self.cfg_path, "w") as f:
                f.write(text)
            return text
    return DroppingKamailio


def test_destroy_ends_the_call_outside_the_dialog_lock(
        kamailio_factory, monkeypatch, phones):
    monkeypatch.setattr(kamproc, "Kamailio", dropping_kamailio_class())
    kam = kamailio_factory(blf=True, track=True)
    a = phones("alice")
    w = phones("w")
    lamp = blfutil.watch(w, "void")
    other = blfutil.watch(w, "alice")
    call = a.call("void")
    lamp.wait_state("trying", call.call_id)
    # nothing answers: the lamp goes dark when the dialog is destroyed
    lamp.wait_state("terminated", call.call_id)
    lamp.wait_idle()
    other.wait_idle()
    lamp.assert_versions()
    # ended by the "BLF DLG" process (the only place that counts it), not
    # by the worker that destroyed the dialog holding the dialog's lock
    text = kam.kamcmd("stats.get_statistics", "blf:")
    assert re.search(r"blf:calls_destroyed = [1-9]", text), text
    assert "BLF DLG" in kam.kamcmd("core.psx")
    assert kam.running


def expected_id(secret, direction, identity, call_id):
    """The documented dialog id: 16 hex digits of SHA-256(secret, NUL,
    i|r, the side's identity, NUL, Call-ID)."""
    import hashlib
    h = hashlib.sha256(secret.encode() + b"\0" + direction[0].encode() +
                       identity.encode() + b"\0" + call_id.encode())
    return h.hexdigest()[:16]


def test_dialog_id_secret(make_proxy, phones):
    """dialog_id_secret keys the ids: each node of a cluster with the same
    secret computes the same id for the same call and side."""
    secret = "q3V9yTz1oJmE4cW8rXs2"
    make_proxy(dialog_id_secret=secret)
    a = phones("alice")
    phones("bob", invite_policy="answer")
    w = phones("w")
    la, lb = blfutil.watch(w, "alice"), blfutil.watch(w, "bob")
    call = a.call("bob").wait_state("confirmed")
    da = la.wait_state("confirmed", call.call_id)
    db = lb.wait_state("confirmed", call.call_id)
    assert da.id == expected_id(secret, "initiator", "sip:alice@blf.test",
                                call.call_id)
    assert db.id == expected_id(secret, "recipient", "sip:bob@blf.test",
                                call.call_id)
    assert da.id != expected_id("", "initiator", "sip:alice@blf.test",
                                call.call_id)
    call.bye()
    la.wait_state("terminated", call.call_id)
