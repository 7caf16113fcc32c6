"""Check a DSN composed by mox_dsn_compose with Python's email package.

Usage: dsn_check.py FILE REPORT_TYPE ORIGINAL_TYPE RCPT:ACTION:STATUS...

Parses FILE (bytes, CRLF) with the standard library (policy.default, which
understands message/delivery-status as a list of field blocks), and checks
the structure RFC 3464 / RFC 6522 ask for: multipart/report with the given
report-type, a text first part, a delivery-status second part whose
per-recipient blocks have the given Final-Recipient address, Action and
Status, and a third part of ORIGINAL_TYPE ("-" for none). Exits non-zero
with a message on the first difference.
"""
import email
import email.policy
import sys


def fail(msg):
    print("dsn_check: " + msg)
    sys.exit(1)


def main():
    path, report_type, orig_type = sys.argv[1:4]
    want = [a.split(":") for a in sys.argv[4:]]
    with open(path, "rb") as f:
        data = f.read()
    if b"\n" in data.replace(b"\r\n", b""):
        fail("bare LF in message")
    for line in data.split(b"\r\n"):
        if len(line) > 998:
            fail("line longer than 998 octets")
    msg = email.message_from_bytes(data, policy=email.policy.default)
    if msg.defects:
        fail("defects: %r" % msg.defects)
    if msg.get_content_type() != "multipart/report":
        fail("content type " + msg.get_content_type())
    if msg.get_param("report-type") != report_type:
        fail("report-type %r" % msg.get_param("report-type"))
    for h in ("From", "To", "Subject", "Message-ID", "Date"):
        if msg[h] is None:
            fail("missing header " + h)
    parts = list(msg.iter_parts())
    if len(parts) != (2 if orig_type == "-" else 3):
        fail("%d parts" % len(parts))
    if parts[0].get_content_maintype() != "text":
        fail("first part " + parts[0].get_content_type())
    text = parts[0].get_content()
    if not text.strip():
        fail("empty text part")
    st = parts[1]
    if st.get_content_type() not in ("message/delivery-status", "message/global-delivery-status"):
        fail("second part " + st.get_content_type())
    blocks = st.get_payload()
    if st.get_content_type() == "message/global-delivery-status":
        # Python knows only message/delivery-status as field blocks; read
        # the RFC 6533 one the same way (RFC 3464 section 2.1).
        raw = st.as_bytes().decode("utf-8").replace("\r\n", "\n").split("\n\n", 1)[1]
        blocks = [email.message_from_string(b + "\n", policy=email.policy.default)
                  for b in raw.split("\n\n") if b.strip()]
    if not isinstance(blocks, list) or len(blocks) < 2:
        fail("delivery-status not parsed into blocks: %r" % (blocks,))
    if not blocks[0]["Reporting-MTA"] or not blocks[0]["Reporting-MTA"].lower().startswith("dns;"):
        fail("Reporting-MTA %r" % blocks[0]["Reporting-MTA"])
    rcpts = blocks[1:]
    if len(rcpts) != len(want):
        fail("%d recipient blocks, want %d" % (len(rcpts), len(want)))
    for blk, (addr, action, status) in zip(rcpts, want):
        fr = blk["Final-Recipient"]
        if fr is None or ";" not in fr:
            fail("Final-Recipient %r" % fr)
        typ, a = fr.split(";", 1)
        if a.strip() != addr:
            fail("Final-Recipient address %r, want %r" % (a.strip(), addr))
        if blk["Action"].strip() != action:
            fail("Action %r" % blk["Action"])
        if blk["Status"].split()[0] != status:
            fail("Status %r" % blk["Status"])
    if orig_type != "-":
        if parts[2].get_content_type() != orig_type:
            fail("third part " + parts[2].get_content_type())
        if orig_type in ("message/rfc822", "message/global"):
            inner = parts[2].get_payload()[0] if parts[2].is_multipart() else None
            if inner is None or inner["Subject"] is None:
                fail("attached message without Subject")
        else:
            content = parts[2].get_content()
            if isinstance(content, bytes):
                content = content.decode("utf-8")
            if "Subject:" not in content:
                fail("attached headers without Subject")
    print("ok")


main()
