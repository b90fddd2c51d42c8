"""Checks of rfc4662.py itself (no Kamailio): the list-NOTIFY reader that
test_lists.py relies on must accept a correct RFC 4662 body (the shape of
RFC 4662 section 5's example, as blf_rlmi.c renders it) and refuse each
way a body can be wrong, so a failure in test_lists.py points at the
module, not at the reader.
"""

import pytest

import rfc4662

B = "blf-rlmi-0123456789abcdef"
CT = ('multipart/related;type="application/rlmi+xml";'
      'start="<r1@blf.test>";boundary="%s"' % B)
DI = ('<?xml version="1.0"?>\n<dialog-info xmlns="urn:ietf:params:xml:ns:'
      'dialog-info" version="%d" state="full" entity="%s"/>\n')


def rlmi(resources, version=0, full="true"):
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<list xmlns="urn:ietf:'
            'params:xml:ns:rlmi" uri="sip:reception@blf.test" version="%d" '
            'fullState="%s">\n<name>Reception</name>\n%s</list>\n' % (
                version, full, resources))


def part(cid, ctype, body, cte="binary"):
    return ("\r\n--%s\r\nContent-Transfer-Encoding: %s\r\nContent-ID: <%s>"
            "\r\nContent-Type: %s\r\n\r\n%s" % (B, cte, cid, ctype, body))


def body(rl, parts, first_cid="r1@blf.test", first_ct="application/rlmi+xml"
         ';charset="UTF-8"', tail=True):
    s = ("--%s\r\nContent-Transfer-Encoding: binary\r\nContent-ID: <%s>\r\n"
         "Content-Type: %s\r\n\r\n%s" % (B, first_cid, first_ct, rl))
    s += "".join(parts)
    if tail:
        s += "\r\n--%s--\r\n" % B
    return s.encode()


GOOD_RES = ('<resource uri="sip:201@blf.test"><name>Anna</name>'
            '<instance id="a1" state="active" cid="c1@blf.test"/></resource>\n'
            '<resource uri="sip:202@blf.test"><instance id="a2" '
            'state="terminated" reason="noresource"/></resource>\n')
GOOD_PARTS = [part("c1@blf.test", "application/dialog-info+xml",
                   DI % (3, "sip:201@blf.test"))]


def test_reads_a_correct_body():
    ln = rfc4662.parse_body(CT, body(rlmi(GOOD_RES), GOOD_PARTS))
    assert ln.uri == "sip:reception@blf.test" and ln.full and ln.version == 0
    assert ln.name == "Reception"
    r1, r2 = ln.resources
    assert (r1.uri, r1.name, r1.instance.id, r1.instance.state) == \
        ("sip:201@blf.test", "Anna", "a1", "active")
    assert r1.instance.dialog_info.version == 3
    assert (r2.instance.state, r2.instance.reason, r2.instance.cid) == \
        ("terminated", "noresource", None)
    assert [r.uri for r in ln.with_state()] == ["sip:201@blf.test",
                                                "sip:202@blf.test"]


@pytest.mark.parametrize("ct,data", [
    # not multipart, wrong type, start naming another part
    ("application/dialog-info+xml", body(rlmi(GOOD_RES), GOOD_PARTS)),
    (CT.replace("rlmi+xml", "pidf+xml"), body(rlmi(GOOD_RES), GOOD_PARTS)),
    (CT.replace("<r1@", "<c1@"), body(rlmi(GOOD_RES), GOOD_PARTS)),
    # RLMI not first, not valid (bad state, no version), not well-formed
    (CT, body(rlmi(GOOD_RES), GOOD_PARTS, first_ct="text/plain")),
    (CT, body(rlmi(GOOD_RES.replace('"active"', '"busy"')), GOOD_PARTS)),
    (CT, body(rlmi(GOOD_RES).replace(' version="0"', ""), GOOD_PARTS)),
    (CT, body(rlmi(GOOD_RES).replace("</list>", ""), GOOD_PARTS)),
    # a cid naming no part, a part no instance names, a cid twice
    (CT, body(rlmi(GOOD_RES.replace("c1@", "zz@")), GOOD_PARTS)),
    (CT, body(rlmi(GOOD_RES), GOOD_PARTS + [part("c9@blf.test", "text/x",
                                                 "x")])),
    (CT, body(rlmi(GOOD_RES), GOOD_PARTS * 2)),
    # an encoding other than binary, no closing boundary
    (CT, body(rlmi(GOOD_RES), [part("c1@blf.test",
                                    "application/dialog-info+xml",
                                    DI % (0, "sip:201@blf.test"),
                                    cte="base64")])),
    (CT, body(rlmi(GOOD_RES), GOOD_PARTS, tail=False)),
    # a member body that is not valid dialog-info
    (CT, body(rlmi(GOOD_RES), [part("c1@blf.test",
                                    "application/dialog-info+xml",
                                    "<dialog-info/>")])),
])
def test_refuses_a_wrong_body(ct, data):
    with pytest.raises(AssertionError):
        rfc4662.parse_body(ct, data)


def test_reads_what_blf_rlmi_renders():
    """tests/unit/golden_rlmi.txt is rendered by blf_rlmi.c (test_rlmi.c
    checks it byte for byte): Content-Type on the first line, the body
    after it. The builder and this reader must agree on it."""
    import os
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
                        os.pardir, "unit", "golden_rlmi.txt")
    with open(path, "rb") as f:
        ct, data = f.read().split(b"\n", 1)
    ln = rfc4662.parse_body(ct.decode(), data)
    assert ln.version == 7 and ln.full and ln.name == "Reception"
    r1, r2 = ln.resources
    assert r1.name == 'Anna & "Co"'
    assert r1.instance.dialog_info.version == 4
    assert r1.instance.dialog_info.entity == "sip:201@blf.test"
    assert (r2.instance.state, r2.instance.reason, r2.instance.cid) == \
        ("terminated", "noresource", None)
