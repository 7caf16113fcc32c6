#!/usr/bin/python3
"""mox localserve end to end with Python's smtplib on loopback.

Starts `mox localserve` in a temporary directory on free ports (the usual
ports plus an offset), delivers over SMTP, submission with STARTTLS and
submissions with implicit TLS, with every AUTH mechanism smtplib has, and
checks that each accepted message is in the account's store byte for byte
(after the Received header we add), that the test local parts give their
errors, and that bad logins are refused. Prints "N passed, M failed".
Usage: test_localserve.py MOX_BINARY"""
import base64, hashlib, hmac, os, signal, socket, sqlite3, ssl, subprocess, sys, tempfile, time, smtplib

mox = sys.argv[1]
passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL", name, detail)


def free_offset():
    for off in range(20000 + os.getpid() % 5000, 40000, 7):
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


tmp = tempfile.mkdtemp(prefix="mox-localserve-")
off = free_offset()
env = dict(os.environ, MOX_LOCALSERVE_PORT_OFFSET=str(off), MOX_RESOLVER="127.0.0.1:9")
log = open(os.path.join(tmp, "log.txt"), "w")
proc = subprocess.Popen([mox, "localserve", "-dir", os.path.join(tmp, "data")],
                        stdout=log, stderr=log, env=env)
try:
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", 1465 + off), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    sent = []

    def message(n, extra=""):
        m = ("From: Sender <sender@example.org>\r\nTo: mox@localhost\r\n"
             "Subject: message %d\r\nMessage-ID: <m%d@example.org>\r\n%s\r\n"
             "Hello %d.\r\n.leading dot\r\n" % (n, n, extra, n))
        return m

    # Plain SMTP, several messages on one connection, pipelined.
    s = smtplib.SMTP("127.0.0.1", 1025 + off, timeout=10)
    code, caps = s.ehlo("client.example")
    check("ehlo", code == 250 and b"PIPELINING" in caps and b"STARTTLS" in caps, caps)
    for n in range(1, 6):
        m = message(n)
        r = s.sendmail("sender@example.org", ["mox@localhost", "other@localhost"], m)
        check("smtp send %d" % n, r == {}, r)
        sent.append(m)
    # As mox: a "rcptto" prefix makes the error come at RCPT TO.
    for local, code in (("rcpttotemperror", 451), ("rcpttopermerror", 550), ("rcptto452", 452)):
        try:
            s.sendmail("sender@example.org", [local + "@localhost"], message(99))
            check("error local part " + local, False, "accepted")
        except smtplib.SMTPRecipientsRefused as e:
            check("error local part " + local, e.recipients[local + "@localhost"][0] == code, e)
    # 8-bit and SMTPUTF8.
    m8 = "From: s\u00e9nder@\u00e9xample.org\r\nTo: mox@localhost\r\nSubject: caf\u00e9\r\n\r\nna\u00efve\r\n"
    r = s.sendmail("s\u00e9nder@\u00e9xample.org", ["mox@localhost"], m8.encode("utf-8"),
                   mail_options=["SMTPUTF8", "BODY=8BITMIME"])
    check("smtputf8", r == {}, r)
    sent.append(m8)
    # Larger than the server keeps in memory (1 MiB): spooled to a file.
    big = message(50, "X-Big: yes\r\n") + "".join(
        "line %06d of a big message, to go past the in-memory spool\r\n" % i
        for i in range(60000))
    r = s.sendmail("sender@example.org", ["mox@localhost"], big)
    check("big message (%d bytes) accepted" % len(big), r == {}, r)
    sent.append(big)
    s.quit()

    # Submission with STARTTLS and each mechanism.
    for mech in ("PLAIN", "LOGIN", "CRAM-MD5"):
        s = smtplib.SMTP("127.0.0.1", 1587 + off, timeout=10)
        s.starttls(context=ctx)
        s.ehlo()
        s.user, s.password = "mox@localhost", "moxmoxmox"
        code, _ = s.auth(mech, getattr(s, "auth_" + mech.lower().replace("-", "_")),
                         initial_response_ok=(mech == "PLAIN"))
        check("auth " + mech, code == 235)
        m = message(100 + len(sent))
        check("submission send " + mech, s.sendmail("mox@localhost", ["x@example.com"], m) == {})
        sent.append(m)
        s.quit()

    # Submissions (implicit TLS); a wrong password is refused.
    s = smtplib.SMTP_SSL("127.0.0.1", 1465 + off, context=ctx, timeout=10)
    s.login("mox@localhost", "moxmoxmox")
    m = message(200)
    check("submissions send", s.sendmail("mox@localhost", ["x@example.com"], m) == {})
    sent.append(m)
    s.quit()
    try:
        s = smtplib.SMTP_SSL("127.0.0.1", 1465 + off, context=ctx, timeout=10)
        s.login("mox@localhost", "wrong")
        check("bad password refused", False)
    except smtplib.SMTPAuthenticationError as e:
        check("bad password refused", e.smtp_code == 535, e)

    # SCRAM-SHA-256 (RFC 5802, RFC 7677) by hand: smtplib has no SCRAM.
    # The server checks it with the StoredKey/ServerKey the store keeps.
    def scram(password):
        raw = ctx.wrap_socket(socket.create_connection(("127.0.0.1", 1465 + off), timeout=10))
        f = raw.makefile("rb")
        def reply():
            while True:
                line = f.readline()
                if line[3:4] != b"-":
                    return line
        reply()
        raw.sendall(b"EHLO client\r\n")
        reply()
        cnonce = base64.b64encode(os.urandom(18)).decode()
        bare = "n=mox@localhost,r=" + cnonce
        raw.sendall(b"AUTH SCRAM-SHA-256 " + base64.b64encode(("n,," + bare).encode()) + b"\r\n")
        r = reply()
        if not r.startswith(b"334 "):
            return r
        sfirst = base64.b64decode(r[4:].strip()).decode()
        attrs = dict(kv.split("=", 1) for kv in sfirst.split(","))
        salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(attrs["s"]),
                                     int(attrs["i"]))
        ckey = hmac.new(salted, b"Client Key", "sha256").digest()
        stored = hashlib.sha256(ckey).digest()
        without = "c=biws,r=" + attrs["r"]
        authmsg = (bare + "," + sfirst + "," + without).encode()
        proof = bytes(a ^ b for a, b in zip(ckey, hmac.new(stored, authmsg, "sha256").digest()))
        raw.sendall(base64.b64encode((without + ",p=" + base64.b64encode(proof).decode()).encode())
                    + b"\r\n")
        r = reply()
        if r.startswith(b"334 "):
            skey = hmac.new(salted, b"Server Key", "sha256").digest()
            want = "v=" + base64.b64encode(hmac.new(skey, authmsg, "sha256").digest()).decode()
            got = base64.b64decode(r[4:].strip()).decode()
            if password == "moxmoxmox":
                check("scram server signature", got == want, (got, want))
            else:
                check("scram server error for a bad proof", got == "e=invalid-proof", got)
            raw.sendall(b"\r\n")
            r = reply()
        raw.close()
        return r
    r = scram("moxmoxmox")
    check("scram-sha-256 login", r.startswith(b"235"), r)
    r = scram("wrong")
    check("scram-sha-256 bad password refused", r.startswith(b"535"), r)

    # BDAT via raw commands (smtplib has no CHUNKING).
    raw = socket.create_connection(("127.0.0.1", 1025 + off), timeout=10)
    f = raw.makefile("rb")
    def reply():
        lines = []
        while True:
            line = f.readline()
            lines.append(line)
            if line[3:4] != b"-":
                return lines
    reply()
    body = message(300).encode()
    raw.sendall(b"EHLO client\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<mox@localhost>\r\n"
                + b"BDAT %d\r\n" % 20 + body[:20] + b"BDAT %d LAST\r\n" % (len(body) - 20) + body[20:])
    replies = [reply() for _ in range(5)]
    check("bdat", replies[-1][0].startswith(b"250"), replies)
    sent.append(message(300))
    raw.sendall(b"QUIT\r\n")
    reply()
    raw.close()

    # The store: every message, byte for byte after our Received header.
    time.sleep(0.3)
    acct = os.path.join(tmp, "data", "accounts", "mox")
    files = []
    for d, _, fs in os.walk(os.path.join(acct, "msg")):
        files += [os.path.join(d, x) for x in fs]
    contents = []
    for p in files:
        data = open(p, "rb").read()
        # Our fields come first (Received and Authentication-Results; on
        # SMTP also Delivered-To, Return-Path, Received-SPF), then the
        # message as sent.
        check("received header " + p, b"\nReceived: from " in data[:4096] or
              data.startswith(b"Received: from "))
        ours = (b"delivered-to:", b"return-path:", b"authentication-results:",
                b"received-spf:", b"received:")
        i = 0
        while data[i:i + 30].lower().startswith(ours):
            while True:
                i = data.find(b"\r\n", i) + 2
                if data[i:i + 1] not in (b" ", b"\t"):
                    break
        contents.append(data[i:])
    for m in sent:
        b = m.encode("utf-8") if isinstance(m, str) else m
        check("stored byte-identical: " + b[:60].decode("utf-8", "replace"), b in contents)
    check("message count", len(files) == len(sent), (len(files), len(sent)))
    db = sqlite3.connect(os.path.join(acct, "index.db"))
    check("database sees them", db.execute("select count(*) from message").fetchone()[0]
          == len(sent))
    db.close()
finally:
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
    log.close()
    check("clean exit on SIGTERM", rc == 0, rc)
    if failed:
        print(open(os.path.join(tmp, "log.txt")).read()[-3000:])
    subprocess.run(["rm", "-rf", tmp])
print("localserve: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
