#!/usr/bin/python3
"""Inbound analysis of mox localserve, end to end on loopback.

Starts unbound on a free loopback port (only upstream: a closed loopback
port, as tests/common/unbound_fixture.c does) serving a zone under test.
with SPF, DKIM (an RSA key made here, messages signed with dkimpy) and DMARC
records and a reverse zone for 127.0.0.0/8, then `mox localserve` with
MOX_RESOLVER at that unbound. Sends with smtplib from 127.0.0.1 (and
127.0.0.2 for an iprev fail) and checks, in the stored messages, each
Authentication-Results (RFC 8601) and Received-SPF (RFC 7208 section 9.1)
field exactly, the order of the fields we prepend, that dkimpy still
verifies the stored signed message, that a DMARC p=reject fail is refused
with 550 5.7.26 and kept in Rejects, the localserve special local parts
(mox semantics), and CRAM-MD5 against the stored secrets.
Prints "N passed, M failed". Usage: test_analysis.py MOX_BINARY"""
import base64, os, re, signal, socket, sqlite3, ssl, subprocess, sys, tempfile, time, smtplib

import dkim
import dns.resolver
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

mox = sys.argv[1]
passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL", name, detail)


def free_port():
    for _ in range(50):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        t = socket.socket()
        try:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            t.bind(("127.0.0.1", port))
            return port
        except OSError:
            pass
        finally:
            u.close()
            t.close()
    raise RuntimeError("no free port")


def free_offset():
    for off in range(21000 + (os.getpid() * 13) % 9000, 44000, 11):
        ok = True
        for base in (1025, 1587, 1465):
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", base + off))
            except OSError:
                ok = False
            finally:
                s.close()
        if ok:
            return off
    raise RuntimeError("no free ports")


tmp = tempfile.mkdtemp(prefix="mox-analysis-")

# ---- keys and zones ----
key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
keypem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                           serialization.NoEncryption())
pub = base64.b64encode(key.public_key().public_bytes(
    serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)).decode()
txt = "v=DKIM1; k=rsa; p=" + pub
dkimtxt = " ".join('"%s"' % txt[i:i + 200] for i in range(0, len(txt), 200))

zone = """$ORIGIN test.
$TTL 300
@ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60
@ IN NS ns.test.
ns IN A 127.0.0.1
pass IN TXT "v=spf1 ip4:127.0.0.1 -all"
sel._domainkey.pass IN TXT %s
_dmarc.pass IN TXT "v=DMARC1; p=reject"
fail IN TXT "v=spf1 ip4:192.0.2.1 -all"
_dmarc.fail IN TXT "v=DMARC1; p=reject"
soft IN TXT "v=spf1 ~all"
_dmarc.soft IN TXT "v=DMARC1; p=none"
none IN A 192.0.2.5
helo IN TXT "v=spf1 ip4:127.0.0.0/8 -all"
badhelo IN TXT "v=spf1 -all"
mail.client IN A 127.0.0.1
nomatch.client IN A 192.0.2.77
""" % dkimtxt
rzone = """$ORIGIN 127.in-addr.arpa.
$TTL 300
@ IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60
@ IN NS ns.test.
1.0.0 IN PTR mail.client.test.
2.0.0 IN PTR nomatch.client.test.
"""
open(os.path.join(tmp, "test.zone"), "w").write(zone)
open(os.path.join(tmp, "rev.zone"), "w").write(rzone)
dnsport, deadport = free_port(), free_port()
conf = """server:
  verbosity: 1
  num-threads: 1
  interface: 127.0.0.1@{p}
  port: {p}
  interface-automatic: no
  so-reuseport: no
  outgoing-interface: 127.0.0.1
  do-ip4: yes
  do-ip6: no
  do-udp: yes
  do-tcp: yes
  access-control: 127.0.0.0/8 allow
  do-not-query-localhost: no
  chroot: ""
  username: ""
  directory: "{d}"
  pidfile: "{d}/unbound.pid"
  logfile: "{d}/unbound.log"
  use-syslog: no
  module-config: "iterator"
  qname-minimisation: no
  prefetch: no
  target-fetch-policy: "0 0 0 0 0"
  outbound-msg-retry: 0
  local-zone: "test." nodefault
  local-zone: "127.in-addr.arpa." nodefault
remote-control:
  control-enable: no
auth-zone:
  name: "test."
  zonefile: "{d}/test.zone"
  for-downstream: no
  for-upstream: yes
  fallback-enabled: no
auth-zone:
  name: "127.in-addr.arpa."
  zonefile: "{d}/rev.zone"
  for-downstream: no
  for-upstream: yes
  fallback-enabled: no
stub-zone:
  name: "."
  stub-addr: 127.0.0.1@{dead}
""".format(p=dnsport, d=tmp, dead=deadport)
open(os.path.join(tmp, "unbound.conf"), "w").write(conf)

resolver = dns.resolver.Resolver(configure=False)
resolver.nameservers = ["127.0.0.1"]
resolver.port = dnsport
resolver.timeout = resolver.lifetime = 3


def get_txt(name, timeout=5):
    if isinstance(name, bytes):
        name = name.decode()
    try:
        for rr in resolver.resolve(name, "TXT"):
            return b"".join(rr.strings)
    except Exception:
        return None
    return None


def sign(msg, headers=(b"from", b"to", b"subject", b"date", b"message-id")):
    sig = dkim.sign(msg, b"sel", b"pass.test", keypem, include_headers=list(headers),
                    canonicalize=(b"relaxed", b"simple"))
    return sig + msg


def message(mid, frm, extra="", body="Hello.\r\n"):
    return ("From: <%s>\r\nTo: <mox@localhost>\r\nSubject: analysis %s\r\n"
            "Date: Mon, 2 Jan 2006 15:04:05 -0700\r\nMessage-ID: <%s@test>\r\n%s\r\n%s"
            % (frm, mid, mid, extra, body)).encode()


def unfold(v):
    return re.sub(r"\r\n[ \t]", " ", v)


def fields(data):
    """The header fields as (name, raw value) in order."""
    head = data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
    out = []
    for line in re.split(r"\r\n(?![ \t])", head):
        name, _, value = line.partition(":")
        out.append((name, value[1:] if value.startswith(" ") else value))
    return out


unbound = subprocess.Popen(["/usr/sbin/unbound", "-d", "-c", os.path.join(tmp, "unbound.conf")],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
proc = None
log = None
try:
    deadline = time.time() + 10
    ready = False
    while time.time() < deadline and not ready:
        try:
            ready = resolver.resolve("pass.test", "TXT") is not None
        except Exception:
            time.sleep(0.1)
    check("unbound serves the zone", ready)
    check("reverse zone", str(resolver.resolve("1.0.0.127.in-addr.arpa", "PTR")[0])
          == "mail.client.test.")

    off = free_offset()
    env = dict(os.environ, MOX_LOCALSERVE_PORT_OFFSET=str(off),
               MOX_RESOLVER="127.0.0.1:%d" % dnsport)
    log = open(os.path.join(tmp, "log.txt"), "w")
    proc = subprocess.Popen([mox, "localserve", "-dir", os.path.join(tmp, "data")],
                            stdout=log, stderr=log, env=env)
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", 1025 + off), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)

    def smtp(helo="helo.test", source="127.0.0.1"):
        s = smtplib.SMTP("127.0.0.1", 1025 + off, timeout=20, source_address=(source, 0))
        s.ehlo(helo)
        return s

    def send(s, frm, to, msg):
        """sendmail's result, or the exception it raised."""
        try:
            return s.sendmail(frm, to, msg)
        except smtplib.SMTPException as e:
            return e

    def sent_ok(name, s, frm, to, msg):
        r = send(s, frm, to, msg)
        check(name, r == {}, r)

    # 1. DKIM pass, SPF pass (MAIL FROM and HELO), DMARC pass, iprev pass.
    m1 = sign(message("m1", "bob@pass.test"))
    s = smtp()
    sent_ok("dkim-signed accepted", s, "bob@pass.test", ["mox@localhost"], m1)
    # 2. Altered after signing: DKIM fail; SPF pass still aligns (DMARC pass).
    m2 = sign(message("m2", "bob@pass.test")).replace(b"Hello.", b"Hullo.")
    sent_ok("altered accepted", s, "bob@pass.test", ["mox@localhost"], m2)
    # 3. SPF fail, no DKIM, DMARC p=reject: refused 550 5.7.26, kept in Rejects.
    m3 = message("m3", "eve@fail.test")
    try:
        s.sendmail("eve@fail.test", ["mox@localhost"], m3)
        check("dmarc reject", False, "accepted")
    except smtplib.SMTPDataError as e:
        check("dmarc reject", e.smtp_code == 550 and e.smtp_error.startswith(b"5.7.26 "), e)
    # 4. SPF softfail, DMARC p=none: accepted, dmarc=fail.
    m4 = message("m4", "sam@soft.test")
    sent_ok("softfail accepted", s, "sam@soft.test", ["mox@localhost"], m4)
    # 5. No SPF record, no DMARC record.
    m5 = message("m5", "nick@none.test")
    sent_ok("spf none accepted", s, "nick@none.test", ["mox@localhost"], m5)
    # 6. DMARC pass by aligned DKIM alone: MAIL FROM fails SPF at a p=reject
    # domain, but the From domain's signature passes.
    m6 = sign(message("m6", "bob@pass.test"))
    sent_ok("dkim-only dmarc pass accepted", s, "bounce@fail.test", ["mox@localhost"], m6)
    s.quit()
    # 7. Null sender: SPF of the HELO identity (RFC 7208 section 2.4).
    s = smtp("helo.test")
    m7 = message("m7", "daemon@helo.test")
    sent_ok("null sender accepted", s, "", ["mox@localhost"], m7)
    s.quit()
    s = smtp("badhelo.test")
    m8 = message("m8", "daemon@badhelo.test")
    sent_ok("null sender bad helo accepted", s, "", ["mox@localhost"], m8)
    s.quit()
    # 9. From 127.0.0.2: its PTR name does not resolve back: iprev fail.
    s = smtp("helo.test", "127.0.0.2")
    m9 = message("m9", "sam@soft.test")
    sent_ok("iprev fail accepted", s, "sam@soft.test", ["mox@localhost"], m9)
    s.quit()

    # ---- special local parts (mox localserve semantics) ----
    s = smtp()
    try:
        s.sendmail("a@none.test", ["rcpttotemperror@localhost"], m5)
        check("rcptto temperror", False, "accepted")
    except smtplib.SMTPRecipientsRefused as e:
        check("rcptto temperror", e.recipients["rcpttotemperror@localhost"][0] == 451, e)
    try:
        s.sendmail("mailfrom550@none.test", ["mox@localhost"], m5)
        check("mailfrom 550", False, "accepted")
    except smtplib.SMTPSenderRefused as e:
        check("mailfrom 550", e.smtp_code == 550, e)
    s.rset()
    for local, code in (("permerror", 550), ("xtemperror", 451), ("552", 552)):
        try:
            s.sendmail("a@none.test", [local + "@localhost"], message("e" + local, "a@none.test"))
            check("data error " + local, False, "accepted")
        except smtplib.SMTPDataError as e:
            check("data error " + local, e.smtp_code == code, e)
    # One failing recipient of two: delivered (once) for the other.
    m10 = message("m10", "nick@none.test")
    sent_ok("partial failure delivers", s, "nick@none.test", ["mox@localhost", "x452@localhost"], m10)
    s.quit()
    # "timeout": no answer (mox waits an hour).
    for stage in ("rcpt", "data"):
        raw = socket.create_connection(("127.0.0.1", 1025 + off), timeout=10)
        f = raw.makefile("rb")
        f.readline()
        rcpt = "rcpttotimeout@localhost" if stage == "rcpt" else "timeout@localhost"
        raw.sendall(b"HELO helo.test\r\nMAIL FROM:<a@none.test>\r\nRCPT TO:<%s>\r\n" % rcpt.encode())
        replies = [f.readline() for _ in range(2)]
        if stage == "data":
            replies.append(f.readline())
            raw.sendall(b"DATA\r\n")
            replies.append(f.readline())
            raw.sendall(b"From: a@none.test\r\n\r\nhi\r\n.\r\n")
        raw.settimeout(2)
        try:
            got = f.readline()
        except (socket.timeout, TimeoutError):
            got = None
        check("timeout at " + stage, got is None, (replies, got))
        raw.close()

    # ---- CRAM-MD5 against the stored HMAC states ----
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    for pw, ok in (("moxmoxmox", True), ("moxmoxmo", False)):
        s = smtplib.SMTP_SSL("127.0.0.1", 1465 + off, context=ctx, timeout=10)
        s.ehlo()
        check("cram-md5 offered", "CRAM-MD5" in s.esmtp_features.get("auth", ""))
        s.user, s.password = "mox@localhost", pw
        try:
            code, _ = s.auth("CRAM-MD5", s.auth_cram_md5)
            check("cram-md5 " + pw, ok and code == 235, code)
            m11 = message("m11", "mox@localhost")
            sent_ok("submission send", s, "mox@localhost", ["x@example.com"], m11)
        except smtplib.SMTPAuthenticationError as e:
            check("cram-md5 " + pw, not ok and e.smtp_code == 535, e)
        s.quit()

    # ---- the store ----
    time.sleep(0.3)
    acct = os.path.join(tmp, "data", "accounts", "mox")
    db = sqlite3.connect(os.path.join(acct, "index.db"))
    mbox = dict(db.execute("select m.id, b.name from message m join mailbox b on b.id = m.mailbox_id"))
    db.close()
    msgs = {}
    for d, _, fs in os.walk(os.path.join(acct, "msg")):
        for x in fs:
            data = open(os.path.join(d, x), "rb").read()
            mid = re.search(rb"(?im)^Message-ID: <([^@>]*)@", data)
            key_ = mid.group(1).decode() if mid else x
            msgs[key_] = (data, mbox.get(int(x)) if x.isdigit() else None)
    check("stored count", sorted(msgs) == sorted(["m1", "m2", "m3", "m4", "m5", "m6", "m7", "m8",
                                                  "m9", "m10", "m11"]), sorted(msgs))

    def hdr(mid, name):
        if mid not in msgs:
            return []
        return [unfold(v) for n, v in fields(msgs[mid][0]) if n.lower() == name.lower()]

    def ar(mid, expect):
        got = hdr(mid, "Authentication-Results")
        check("authres " + mid, got == [expect], "\n got %r\nwant %r" % (got, expect))

    def rspf(mid, expect):
        got = hdr(mid, "Received-SPF")
        check("received-spf " + mid, got == [expect], "\n got %r\nwant %r" % (got, expect))

    def b12(m):
        """header.b: the first 12 characters of b= (RFC 6008 section 4), as an
        RFC 8601 value: a quoted-string when it has a tspecial ('/')."""
        b = re.search(rb"\bb=([^;]*)", m.split(b"\r\n\r\n")[0].replace(b"\r\n", b"").replace(
            b" ", b"").replace(b"\t", b"")).group(1)[:12].decode()
        return '"%s"' % b if "/" in b else b

    ip1 = "iprev=pass (without dnssec) policy.iprev=127.0.0.1"
    spfpass = ("pass (localhost: domain of bob@pass.test designates 127.0.0.1 as permitted "
               "sender) client-ip=127.0.0.1; envelope-from=\"bob@pass.test\"; helo=helo.test; "
               "mechanism=\"ip4:127.0.0.1\"; receiver=localhost; identity=mailfrom")
    ar("m1", "localhost; " + ip1 + "; dkim=pass (2048 bit rsa, without dnssec) header.d=pass.test "
       "header.s=sel header.a=rsa-sha256 header.b=%s header.i=@pass.test; spf=pass (without dnssec) "
       "smtp.mailfrom=pass.test; spf=pass (without dnssec) smtp.helo=helo.test; "
       "dmarc=pass (without dnssec) header.from=pass.test" % b12(m1))
    rspf("m1", spfpass)
    got = hdr("m2", "Authentication-Results")
    want2 = re.compile(r"localhost; " + re.escape(ip1) + r"; dkim=fail \(2048 bit rsa, without "
                       r"dnssec\) reason=\"[^\"]*body hash[^\"]*\" header\.d=pass\.test header\.s=sel "
                       r"header\.a=rsa-sha256 header\.b=" + re.escape(b12(m2)) + r" header\.i=@pass\.test; spf=pass "
                       r"\(without dnssec\) smtp\.mailfrom=pass\.test; spf=pass \(without dnssec\) "
                       r"smtp\.helo=helo\.test; dmarc=pass \(without dnssec\) header\.from=pass\.test$")
    check("authres m2 (dkim fail)", len(got) == 1 and want2.match(got[0]), got)
    ar("m3", "localhost; " + ip1 + "; dkim=none reason=\"no dkim signatures\"; spf=fail (without "
       "dnssec) smtp.mailfrom=fail.test; spf=pass (without dnssec) smtp.helo=helo.test; "
       "dmarc=fail (without dnssec) header.from=fail.test")
    rspf("m3", "fail (localhost: domain of eve@fail.test does not designate 127.0.0.1 as "
         "permitted sender) client-ip=127.0.0.1; envelope-from=\"eve@fail.test\"; helo=helo.test; "
         "mechanism=-all; receiver=localhost; identity=mailfrom")
    check("dmarc reject kept in Rejects", msgs.get("m3", (0, None))[1] == "Rejects", msgs.get("m3"))
    check("accepted in Inbox", all(msgs.get(k, (0, None))[1] == "Inbox" for k in
                                   ("m1", "m2", "m4", "m5", "m6", "m7", "m9", "m10", "m11")))
    ar("m4", "localhost; " + ip1 + "; dkim=none reason=\"no dkim signatures\"; spf=softfail "
       "(without dnssec) smtp.mailfrom=soft.test; spf=pass (without dnssec) smtp.helo=helo.test; "
       "dmarc=fail (without dnssec) header.from=soft.test")
    rspf("m4", "softfail (localhost: domain of transitioning sam@soft.test does not designate "
         "127.0.0.1 as permitted sender) client-ip=127.0.0.1; envelope-from=\"sam@soft.test\"; "
         "helo=helo.test; mechanism=~all; receiver=localhost; identity=mailfrom")
    ar("m5", "localhost; " + ip1 + "; dkim=none reason=\"no dkim signatures\"; spf=none (without "
       "dnssec) smtp.mailfrom=none.test; spf=pass (without dnssec) smtp.helo=helo.test; "
       "dmarc=none (without dnssec) header.from=none.test")
    rspf("m5", "none (localhost: domain of nick@none.test does not designate permitted sender "
         "hosts) client-ip=127.0.0.1; envelope-from=\"nick@none.test\"; helo=helo.test; "
         "problem=\"no SPF record for none.test\"; receiver=localhost; identity=mailfrom")
    ar("m6", "localhost; " + ip1 + "; dkim=pass (2048 bit rsa, without dnssec) header.d=pass.test "
       "header.s=sel header.a=rsa-sha256 header.b=%s header.i=@pass.test; spf=fail (without dnssec) "
       "smtp.mailfrom=fail.test; spf=pass (without dnssec) smtp.helo=helo.test; "
       "dmarc=pass (without dnssec) header.from=pass.test" % b12(m6))
    ar("m7", "localhost; " + ip1 + "; dkim=none reason=\"no dkim signatures\"; spf=pass (without "
       "dnssec) smtp.helo=helo.test; dmarc=none (without dnssec) header.from=helo.test")
    rspf("m7", "pass (localhost: domain of postmaster@helo.test designates 127.0.0.1 as permitted "
         "sender) client-ip=127.0.0.1; envelope-from=\"postmaster@helo.test\"; helo=helo.test; "
         "mechanism=\"ip4:127.0.0.0/8\"; receiver=localhost; identity=helo")
    ar("m8", "localhost; " + ip1 + "; dkim=none reason=\"no dkim signatures\"; spf=fail (without "
       "dnssec) smtp.helo=badhelo.test; dmarc=none (without dnssec) header.from=badhelo.test")
    ar("m9", "localhost; iprev=fail (without dnssec) policy.iprev=127.0.0.2; dkim=none "
       "reason=\"no dkim signatures\"; spf=softfail (without dnssec) smtp.mailfrom=soft.test; "
       "spf=pass (without dnssec) smtp.helo=helo.test; dmarc=fail (without dnssec) "
       "header.from=soft.test")
    ar("m11", "localhost; auth=pass smtp.mailfrom=mox@localhost")
    check("no received-spf on submission", hdr("m11", "Received-SPF") == [])

    # The fields we prepend, mox's order, then the message as sent.
    for mid, sent in (("m1", m1), ("m5", m5), ("m9", m9)):
        data = msgs.get(mid, (b"", None))[0]
        names = [n for n, _ in fields(data)][:5]
        check("prefix order " + mid, names == ["Delivered-To", "Return-Path",
                                               "Authentication-Results", "Received-SPF",
                                               "Received"], names)
        check("message intact " + mid, data.endswith(sent), data[-200:])
        # Folded as mox folds: lines of at most 78, continuations with a tab.
        head = data.split(b"\r\n\r\n")[0].split(b"\r\n")
        pre = head[:len(head) - len(sent.split(b"\r\n\r\n")[0].split(b"\r\n"))]
        check("folding " + mid, all(len(x) <= 78 for x in pre), pre)
    check("delivered-to", hdr("m1", "Delivered-To") == ["mox@localhost"], hdr("m1", "Delivered-To"))
    check("return-path", hdr("m1", "Return-Path") == ["<bob@pass.test>"] and
          hdr("m7", "Return-Path") == ["<>"])
    rcv = hdr("m1", "Received")
    check("received m1", len(rcv) == 1 and re.match(
        r"from helo\.test \(mail\.client\.test \[127\.0\.0\.1\]\) by localhost \(\[127\.0\.0\.1\]\) "
        r"via tcp with ESMTP id [0-9a-f]+ for <mox@localhost>; \w{3}, \d+ \w{3} \d{4} "
        r"\d\d:\d\d:\d\d [+-]\d{4}$", rcv[0]), rcv)
    rcv = hdr("m9", "Received")
    check("received m9 (iprev fail)", len(rcv) == 1 and rcv[0].startswith(
        "from helo.test (nomatch.client.test [127.0.0.2]) by localhost"), rcv)
    rcv = hdr("m10", "Received")
    check("received m10 (two rcpts, one failed)", len(rcv) == 1 and " for <mox@localhost>;" in rcv[0], rcv)
    rcv = hdr("m11", "Received")
    check("received m11 (submission)", len(rcv) == 1 and re.match(
        r"from localhost by localhost \(\[127\.0\.0\.1\]\) via tcp with ESMTPSA id [0-9a-f]+ "
        r"\(TLS1\.[23] TLS_[A-Z0-9_]+\) for <x@example\.com>; ", rcv[0]), rcv)
    # Submission: Received first, then Authentication-Results, as mox.
    names = [n for n, _ in fields(msgs.get("m11", (b"", None))[0])][:2]
    check("submission prefix order", names == ["Received", "Authentication-Results"], names)

    # dkimpy still verifies the stored message (we did not damage it).
    for mid in ("m1", "m6"):
        data = msgs.get(mid, (b"", None))[0]
        try:
            ok = dkim.verify(data, dnsfunc=get_txt)
        except Exception as e:
            ok = e
        check("dkimpy verifies stored " + mid, ok is True, ok)
    try:
        ok = dkim.verify(msgs.get("m2", (b"", None))[0], dnsfunc=get_txt)
    except Exception as e:
        ok = e
    check("dkimpy fails altered m2 too", ok is False, ok)
finally:
    if proc is not None:
        proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        check("clean exit on SIGTERM", rc == 0, rc)
    if log is not None:
        log.close()
    unbound.terminate()
    try:
        unbound.wait(timeout=5)
    except subprocess.TimeoutExpired:
        unbound.kill()
        unbound.wait()
    if failed and os.path.exists(os.path.join(tmp, "log.txt")):
        print(open(os.path.join(tmp, "log.txt")).read()[-4000:])
    subprocess.run(["rm", "-rf", tmp])
print("analysis: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
