#!/usr/bin/python3
"""mox sendmail against mox localserve's submission ports on loopback.

Starts `mox localserve` in a temporary directory on free ports, writes
moxsubmit.conf files (MOXSUBMITCONF) for submission with STARTTLS (1587)
and submissions with implicit TLS (1465), runs `mox sendmail` with
messages on stdin and checks: the message is in the account's store byte
for byte apart from the fields we add (and the server's Received and
Authentication-Results); missing From/Date/Message-ID are added; -t takes
recipients from To/Cc/Bcc and removes Bcc (localserve's "rcpttopermerror"
local part refuses a recipient, which shows which addresses were used);
a single dot ends the message unless -i/-oi; a wrong password gives exit
code 69 and the server's 535; an unreachable server gives 75 and the
message in ~/moxsubmit.failures; the self-signed certificate is refused
unless pinned with CAFile or TLSInsecureSkipVerify; usage errors give 64.
Prints "N passed, M failed". Usage: test_sendmail.py MOX_BINARY"""
import os, socket, subprocess, sys, tempfile, time

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
    for off in range(20000 + (os.getpid() * 7) % 5000, 40000, 11):
        ok = True
        for base in (1025, 1587, 1465, 1143, 1993, 1080, 1443):
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


tmp = tempfile.mkdtemp(prefix="mox-sendmail-")
off = free_offset()
data = os.path.join(tmp, "data")
env = dict(os.environ, MOX_LOCALSERVE_PORT_OFFSET=str(off), MOX_RESOLVER="127.0.0.1:9")
log = open(os.path.join(tmp, "log.txt"), "w")
proc = subprocess.Popen([mox, "localserve", "-dir", data], stdout=log, stderr=log, env=env)


def conf(name, **kw):
    base = dict(Host="127.0.0.1", Port=str(1587 + off), STARTTLS="true",
                TLSInsecureSkipVerify="true", Username="mox@localhost",
                Password="moxmoxmox", From="mox@localhost", LocalHostname="client.example")
    base.update(kw)
    p = os.path.join(tmp, name + ".conf")
    with open(p, "w") as f:
        for k, v in base.items():
            if v is not None:
                f.write("%s: %s\n" % (k, v))
    return p


def sendmail(confpath, args, msg):
    e = dict(os.environ, MOXSUBMITCONF=confpath, HOME=tmp, MOX_RESOLVER="127.0.0.1:9")
    r = subprocess.run([mox, "sendmail"] + args, input=msg, env=e, capture_output=True,
                       timeout=60)
    return r.returncode, r.stderr.decode("utf-8", "replace")


def stored():
    """Messages in the account's store, without the server's fields."""
    out = []
    for d, _, fs in os.walk(os.path.join(data, "accounts", "mox", "msg")):
        for x in fs:
            b = open(os.path.join(d, x), "rb").read()
            i = 0
            while b[i:i + 30].lower().startswith((b"received:", b"authentication-results:")):
                while True:
                    i = b.find(b"\r\n", i) + 2
                    if b[i:i + 1] not in (b" ", b"\t"):
                        break
            out.append(b[i:])
    return out


def new_stored(before):
    return [m for m in stored() if m not in before]


try:
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", 1465 + off), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    starttls = conf("starttls")

    # A complete message: stored byte for byte, nothing added.
    m1 = (b"From: Mox <mox@localhost>\r\nTo: someone@example.com\r\n"
          b"Date: Mon, 2 Jan 2023 10:00:00 +0100\r\nMessage-ID: <one@localhost>\r\n"
          b"Subject: test one\r\n\r\nHello.\r\n..leading dot kept\r\nbye\r\n")
    before = stored()
    rc, err = sendmail(starttls, ["-i", "someone@example.com"], m1)
    check("starttls exit 0", rc == 0, (rc, err))
    new = new_stored(before)
    check("starttls stored byte-identical", new == [m1], new)

    # Implicit TLS; From, Date and Message-ID added in front of the rest.
    tlsconf = conf("tls", Port=str(1465 + off), STARTTLS=None, TLS="true")
    m2 = b"To: x@example.com\r\nSubject: no from\r\n\r\nBody two.\r\n"
    before = stored()
    rc, err = sendmail(tlsconf, ["-oi", "-F", "Cron Daemon", "x@example.com"], m2)
    check("tls exit 0", rc == 0, (rc, err))
    new = new_stored(before)
    ok = len(new) == 1 and new[0].endswith(m2)
    check("tls stored with original bytes at the end", ok, new)
    if ok:
        added = new[0][:-len(m2)].decode()
        lines = added.split("\r\n")
        check("added From with -F name", lines[0] == 'From: "Cron Daemon" <mox@localhost>', lines)
        check("added Date", any(l.startswith("Date: ") and l.endswith(("+0000", "-0000")) or
                                l.startswith("Date: ") for l in lines), lines)
        check("added Message-ID", any(l.startswith("Message-ID: <") and l.endswith("@localhost>")
                                      for l in lines), lines)
        check("only those added", len(lines) == 4 and lines[3] == "", lines)

    # -t: To, Cc, Bcc are the recipients, Bcc is removed, LF endings.
    m3 = (b"To: One <one@example.com>, two@example.com\nCc: three@example.org\n"
          b"Bcc: hidden@example.net,\n\tmore-hidden@example.net\nSubject: dash t\n\nbody\n")
    before = stored()
    rc, err = sendmail(starttls, ["-t"], m3)
    check("-t exit 0", rc == 0, (rc, err))
    new = new_stored(before)
    check("-t stored once", len(new) == 1, new)
    if len(new) == 1:
        check("-t Bcc removed", b"bcc:" not in new[0].lower() and b"hidden" not in new[0], new[0])
        check("-t To and Cc kept", b"To: One <one@example.com>, two@example.com\r\n" in new[0]
              and b"Cc: three@example.org\r\n" in new[0], new[0])
    # Which addresses were used: a refused local part in Bcc/Cc fails.
    for field in ("Bcc", "Cc", "To"):
        m = (b"To: a@example.com\r\n%s: rcpttopermerror@localhost\r\nSubject: x\r\n\r\nx\r\n"
             % field.encode())
        if field == "To":
            m = b"To: rcpttopermerror@localhost\r\nSubject: x\r\n\r\nx\r\n"
        rc, err = sendmail(starttls, ["-t"], m)
        check("-t uses %s (refused rcpt: 69)" % field, rc == 69 and "550" in err, (rc, err))
    rc, err = sendmail(starttls, ["a@example.com", "rcpttotemperror@localhost"],
                       b"Subject: x\r\n\r\nx\r\n")
    check("4xx recipient: 75", rc == 75 and "451" in err, (rc, err))

    # Without -i a line with one dot ends the message.
    before = stored()
    rc, err = sendmail(starttls, ["dot@example.com"],
                       b"Subject: dot\r\nMessage-ID: <d@x>\r\nDate: Mon, 2 Jan 2023 10:00:00 +0100\r\n"
                       b"From: mox@localhost\r\n\r\nbefore\r\n.\r\nafter\r\n")
    new = new_stored(before)
    check("dot ends message", rc == 0 and len(new) == 1 and new[0].endswith(b"\r\nbefore\r\n")
          and b"after" not in new[0], (rc, err, new))

    # Wrong password: 535 from the server, exit 69, message saved.
    failures = os.path.join(tmp, "moxsubmit.failures")
    nsaved = len(os.listdir(failures)) if os.path.isdir(failures) else 0
    rc, err = sendmail(conf("badpw", Password="wrong"), ["x@example.com"],
                       b"Subject: bad\r\n\r\nx\r\n")
    check("wrong password exit 69", rc == 69, (rc, err))
    check("wrong password message", "535" in err and "auth" in err, err)
    saved = [open(os.path.join(failures, x), "rb").read() for x in os.listdir(failures)]
    check("failed message saved", len(saved) == nsaved + 1 and
          any(x.endswith(b"Subject: bad\r\n\r\nx\r\n") for x in saved), saved)

    # Nothing listening: temporary failure.
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    closed_port = s.getsockname()[1]
    s.close()
    rc, err = sendmail(conf("closed", Port=str(closed_port)), ["x@example.com"],
                       b"Subject: x\r\n\r\nx\r\n")
    check("unreachable exit 75", rc == 75, (rc, err))

    # The self-signed certificate: refused when verified against the
    # system CAs, accepted when pinned (CAFile) under its name.
    crt = os.path.join(data, "localhost.crt")
    rc, err = sendmail(conf("verify", TLSInsecureSkipVerify=None, Host="localhost"),
                       ["x@example.com"], b"Subject: x\r\n\r\nx\r\n")
    check("unverified cert refused, 75", rc == 75 and "TLS" in err, (rc, err))
    before = stored()
    rc, err = sendmail(conf("pinned", TLSInsecureSkipVerify=None, Host="localhost", CAFile=crt,
                            Port=str(1465 + off), STARTTLS=None, TLS="true"),
                       ["x@example.com"], b"Subject: pinned\r\n\r\nx\r\n")
    check("pinned cert accepted", rc == 0 and len(new_stored(before)) == 1, (rc, err))

    # Installed as /usr/sbin/sendmail: a link named sendmail to mox.
    link = os.path.join(tmp, "sendmail")
    os.symlink(os.path.abspath(mox), link)
    before = stored()
    e = dict(os.environ, MOXSUBMITCONF=starttls, HOME=tmp, MOX_RESOLVER="127.0.0.1:9")
    r = subprocess.run([link, "-oi", "-t"], input=b"To: l@example.com\r\nSubject: link\r\n\r\nx\r\n",
                       env=e, capture_output=True, timeout=60)
    check("invoked as sendmail", r.returncode == 0 and len(new_stored(before)) == 1,
          (r.returncode, r.stderr))

    # Usage and configuration errors.
    rc, err = sendmail(starttls, [], b"Subject: x\r\n\r\nx\r\n")
    check("no recipients 64", rc == 64, (rc, err))
    rc, err = sendmail(starttls, ["-t"], b"Subject: x\r\n\r\nx\r\n")
    check("-t without To 64", rc == 64, (rc, err))
    rc, err = sendmail(starttls, ["-f"], b"")
    check("-f without value 64", rc == 64, (rc, err))
    rc, err = sendmail(starttls, ["root"], b"Subject: x\r\n\r\nx\r\n")
    check("local user without DefaultDestination 67", rc == 67, (rc, err))
    before = stored()
    rc, err = sendmail(conf("dd", DefaultDestination="admin@example.com"), ["root"],
                       b"Subject: root\r\n\r\nx\r\n")
    check("DefaultDestination", rc == 0 and len(new_stored(before)) == 1, (rc, err))
    rc, err = sendmail(starttls, ["x@example.com"], b"not a header\r\n\r\nx\r\n")
    check("bad header 65", rc == 65, (rc, err))
    rc, err = sendmail(conf("unknownkey", Bogus="1"), ["x@example.com"], b"Subject: x\r\n\r\n")
    check("bad config 78", rc == 78 and "Bogus" in err, (rc, err))
    rc, err = sendmail(os.path.join(tmp, "nonexistent.conf"), ["x@example.com"], b"")
    check("missing config 78", rc == 78, (rc, err))
finally:
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()

print("%d passed, %d failed" % (passed, failed))
if failed:
    print("localserve log:", open(os.path.join(tmp, "log.txt")).read()[-3000:])
sys.exit(1 if failed else 0)
