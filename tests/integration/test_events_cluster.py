"""Event packages over the cluster (README "Upgrading", mixed versions): a
subscription replica names its package in the optional field `ev`, left
out for dialog, so dialog replicas are what older versions send and read.
A replica without `ev` is a dialog subscription; one of a package this node
does not serve is ignored with a log line, never stored."""

import json

import blfutil
import kamproc
from test_cluster_hostile import (in_dmq_list, make_cluster,  # noqa: F401
                                  peer, sub_rec)

DOMAIN = kamproc.DOMAIN


def test_sub_replica_event_field(make_cluster, peer, phones):  # noqa: F811
    cl = make_cluster(n=1, gate=False, blf_peers=False)
    A = cl.nodes[0]
    ua = phones("w", kam=A, register=False)
    contact = "sip:w@127.0.0.1:%d" % ua.addr[1]
    assert peer.join(A) == 200
    blfutil.poll(lambda: in_dmq_list(A, peer.port), 5,
                 what="the peer in the dmq node list")
    assert peer.blf(A, "hello", "peer1") == 200

    old = sub_rec("bob@" + DOMAIN, contact, callid="ev-absent")
    dialog = dict(sub_rec("bob@" + DOMAIN, contact, callid="ev-dialog"),
                  ev="dialog")
    # presence is served (stored as such); message-summary is served by no
    # version (ignored)
    pres = dict(sub_rec("bob@" + DOMAIN, contact, callid="ev-presence"),
                ev="presence")
    other = dict(sub_rec("bob@" + DOMAIN, contact, callid="ev-mwi"),
                 ev="message-summary")
    junk = dict(sub_rec("bob@" + DOMAIN, contact, callid="ev-junk"),
                ev=["x" * 100])
    assert peer.blf(A, "batch", "peer1", m=[old, dialog, pres, other, junk]) == 200
    subs = blfutil.poll(
        lambda: (lambda s: s if {"ev-absent", "ev-dialog",
                                  "ev-presence"} <= set(s)
                 else None)({s["callid"]: s for s in
                             blfutil.subscriptions(A)}),
        5, what="the dialog replicas stored")
    assert subs["ev-absent"]["event"] == "dialog"
    assert subs["ev-dialog"]["event"] == "dialog"
    assert subs["ev-presence"]["event"] == "presence"
    assert "ev-mwi" not in subs and "ev-junk" not in subs, subs
    log = A.log()
    assert "of event package 'message-summary' not served here " \
           "(events): ignored" in log
    assert "of event package '?' not served here" in log

    # a dialog subscription of this node replicates without "ev", as older
    # versions send it
    w = phones("w2", kam=A)
    lamp = blfutil.watch(w, "carol")

    def replica():
        for body in peer.got_blf():
            msg = json.loads(body)
            for r in msg.get("m", [msg]):
                if r.get("t") == "sub" and r["f"][0] == lamp.sub.call_id:
                    return r
        return None
    r = blfutil.poll(replica, 5, what="the replica of w2's subscription")
    assert "ev" not in r, r
