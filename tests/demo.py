#!/usr/bin/python3
"""make demo: the blf module in a real Kamailio, with a scripted scene.

Three phones register on 127.0.0.1: Alice (201), Bob (202) and a receptionist
(300) whose BLF key watches Bob. Alice calls Bob; Bob's phone rings, he
answers, they talk, Alice hangs up. The receptionist's lamp for Bob is printed
as each NOTIFY arrives (idle -> ringing -> busy -> idle), with what
`kamcmd blf.entities` says at each step. Everything started is stopped at the
end, also on failure or Ctrl-C.
"""

import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "integration"))

import blfutil  # noqa: E402
import kamproc  # noqa: E402
import sipua  # noqa: E402

LAMP = {"idle": "off         (idle)",
        "trying": "blinking    (call being set up)",
        "proceeding": "blinking    (call being set up)",
        "early": "blinking    (ringing: press to pick up)",
        "confirmed": "solid red   (busy)",
        "terminated": "off         (call ended)"}

T0 = time.monotonic()


def say(text):
    print("[%6.2fs] %s" % (time.monotonic() - T0, text), flush=True)


def lamp_state(info):
    """What a BLF key shows for one dialog-info body."""
    if not info.dialogs:
        return "idle"
    order = ["terminated", "trying", "proceeding", "early", "confirmed"]
    return max((d.state for d in info.dialogs), key=order.index)


def show_notifies(lamp, timeout=3.0):
    """Prints every NOTIFY that arrives within timeout of the first."""
    got = 0
    while True:
        try:
            n, info = lamp.pump(timeout if got == 0 else 0.5)
        except sipua.SipTimeout:
            return got
        got += 1
        st = lamp_state(info)
        d = info.dialogs[0] if info.dialogs else None
        extra = ""
        if d is not None:
            extra = " call-id=%s local-tag=%s remote-tag=%s" % (
                d.call_id, d.local_tag, d.remote_tag)
        if n.state == "terminated":
            extra += " (Subscription-State: %s)" % n.subscription_state
        say("NOTIFY v%d for %s: %-10s -> Bob's lamp %s%s" % (
            info.version, info.entity, st, LAMP[st], extra))


def show_entities(kam):
    for e in blfutil.entities(kam):
        for d in e.get("dialogs", []):
            say("  kamcmd blf.entities: %s %s %s with %s" % (
                e.get("entity"), d.get("direction"), d.get("state"),
                d.get("peer")))


def main():
    if not os.path.exists(kamproc.BLF_MODULE):
        sys.exit("demo: %s is not built (run `make`)" % kamproc.BLF_MODULE)
    kam = kamproc.Kamailio(params={"min_expires": 10})
    phones = []
    try:
        kam.start()
        say("Kamailio with blf.so listening on udp:127.0.0.1:%d (log: %s)"
            % (kam.port, kam.log_path))
        alice = sipua.Phone("201", kam.addr, "example.com", display="Alice")
        bob = sipua.Phone("202", kam.addr, "example.com", display="Bob")
        recep = sipua.Phone("300", kam.addr, "example.com",
                            display="Reception")
        phones = [alice, bob, recep]
        for p in phones:
            r = p.register()
            say("%s (%s) REGISTER -> %d" % (p.display, p.uri, r.status))

        say("Reception subscribes to Bob's dialog state (its BLF key)")
        lamp = blfutil.watch(recep, "202")
        info = lamp.seen[-1][1]
        say("NOTIFY v%d for %s: idle       -> Bob's lamp %s" % (
            info.version, info.entity, LAMP["idle"]))

        say("Alice calls Bob")
        call = alice.call("202", to_display="Bob")
        incoming = bob.wait_incoming(5)
        show_notifies(lamp)
        show_entities(kam)

        time.sleep(1.0)
        say("Bob answers")
        incoming.answer()
        call.wait_state("confirmed", timeout=5)
        show_notifies(lamp)
        show_entities(kam)

        time.sleep(1.0)
        say("Alice hangs up")
        call.bye()
        show_notifies(lamp)

        stats = blfutil.stats(kam)
        say("kamcmd blf.stats: subscriptions=%s notifies_sent=%s "
            "notifies_failed=%s" % (stats.get("subscriptions"),
                                    stats.get("notifies_sent"),
                                    stats.get("notifies_failed")))
        say("Reception unsubscribes")
        lamp.sub.unsubscribe()
        show_notifies(lamp, 2.0)
        say("demo done: the lamp went %s" % " -> ".join(
            blfutil.colors(lamp)))
    finally:
        for p in phones:
            p.close()
        kam.stop()
        kam.cleanup()


if __name__ == "__main__":
    main()
