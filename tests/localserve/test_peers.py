#!/usr/bin/python3
"""mox localserve against real SMTP peers on loopback: swaks and Postfix's
smtp-source.

Starts `mox localserve` in a temporary directory on free ports (the usual
ports plus an offset, MOX_RESOLVER at a closed loopback port) and:
  - swaks: plain SMTP, STARTTLS on 1025 and 1587, AUTH PLAIN and LOGIN on
    submission with STARTTLS (1587) and implicit TLS (1465, swaks
    --tls-on-connect), an 8-bit body, a 3 MB message with leading dots,
    PIPELINING (checked in swaks' transcript: MAIL, RCPT and DATA go out
    before the first reply), a wrong password refused;
  - smtp-source: 500 messages at concurrency 10 over reused connections
    (-d) and 500 at concurrency 50 with a connection per message.
Then every message is checked in the store: swaks' messages byte for byte
after the header fields the server prepends (Received, Return-Path,
Authentication-Results, ...); smtp-source's messages (same body for all,
a Date and a Message-Id of its own per message) each present exactly
once (by Message-Id) and byte-identical to what smtp-source sends,
captured by a small sink in this test, apart from those two fields.
Prints "N passed, M failed".
Usage: test_peers.py MOX_BINARY"""
import os, re, signal, socket, sqlite3, subprocess, sys, tempfile, threading, time

mox = sys.argv[1]
SWAKS = "/usr/bin/swaks"
SMTP_SOURCE = "/usr/sbin/smtp-source"
passed = failed = 0
t_start = time.time()


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL", name, str(detail)[:2000])


def free_offset():
    for off in range(20000 + (os.getpid() * 13) % 5000, 40000, 11):
        ok = True
        for base in (1025, 1587, 1465, 1143, 1993, 1080):
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


def capture_smtp_source(args):
    """Run smtp-source for one message against a minimal SMTP sink on a
    free loopback port and return the DATA it sent, unstuffed, without
    the final dot line."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)
    port = ls.getsockname()[1]
    got = {}

    def serve():
        c, _ = ls.accept()
        c.settimeout(10)
        f = c.makefile("rb")
        c.sendall(b"220 capture ESMTP\r\n")
        data = None
        while True:
            line = f.readline()
            if not line:
                break
            cmd = line[:4].upper()
            if data is not None:
                if line == b".\r\n":
                    got["data"] = b"".join(data)
                    data = None
                    c.sendall(b"250 ok\r\n")
                else:
                    data.append(line[1:] if line.startswith(b".") else line)
            elif cmd == b"DATA":
                data = []
                c.sendall(b"354 go\r\n")
            elif cmd == b"QUIT":
                c.sendall(b"221 bye\r\n")
                break
            else:
                c.sendall(b"250 ok\r\n")
        c.close()

    th = threading.Thread(target=serve, daemon=True)
    th.start()
    subprocess.run([SMTP_SOURCE] + args + ["-m", "1", "127.0.0.1:%d" % port],
                   timeout=20, check=True)
    th.join(10)
    ls.close()
    return got.get("data")


VARIABLE = re.compile(rb"^(Date|Message-Id): [^\r\n]*\r\n", re.M | re.I)


def blank_variable(b):
    """smtp-source's message with its per-message Date and Message-Id
    values blanked."""
    head, sep, body = b.partition(b"\r\n\r\n")
    return VARIABLE.sub(lambda m: m.group(1) + b": -\r\n", head + b"\r\n") + sep[2:] + body


def prepended_ok(p):
    """Whether p is a block of header fields (RFC 5322 section 2.2) with a
    Received field among them: what the server may put before a message
    (Received, Return-Path, Authentication-Results, ...)."""
    if not p.endswith(b"\r\n") or b"\r\n\r\n" in p:
        return False
    names = []
    for ln in p[:-2].split(b"\r\n"):
        if ln[:1] in (b" ", b"\t") and names:
            continue
        m = re.match(rb"([!-9;-~]+):", ln)
        if m is None:
            return False
        names.append(m.group(1).lower())
    return b"received" in names


tmp = tempfile.mkdtemp(prefix="mox-peers-")
off = free_offset()
env = dict(os.environ, MOX_LOCALSERVE_PORT_OFFSET=str(off), MOX_RESOLVER="127.0.0.1:9")
log = open(os.path.join(tmp, "log.txt"), "w")
proc = subprocess.Popen([mox, "localserve", "-dir", os.path.join(tmp, "data")],
                        stdout=log, stderr=log, env=env)
smtp_port, sub_port, subs_port = 1025 + off, 1587 + off, 1465 + off
try:
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", subs_port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)

    # ---- swaks ----
    # Each message goes into a file without its final CRLF: swaks sends
    # the file, then CRLF . CRLF, so what arrives is the file plus CRLF.
    sent = []  # (name, bytes expected in the store after our header)
    nfile = [0]

    def swaks(name, body, args, want_rc=0, expect_stored=True):
        nfile[0] += 1
        path = os.path.join(tmp, "swaks%d.eml" % nfile[0])
        with open(path, "wb") as f:
            f.write(body)
        cmd = [SWAKS, "--from", "sender@example.org", "--to", "mox@localhost",
               "--helo", "client.example", "--timeout", "20", "--data", "@" + path] + args
        r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
        check("swaks " + name + " exit code", r.returncode == want_rc,
              (r.returncode, r.stdout[-1500:]))
        if want_rc == 0 and expect_stored:
            sent.append((name, body + b"\r\n"))
        return r.stdout

    def msg(n, extra=b"", body=None):
        return (b"From: Sender <sender@example.org>\r\nTo: mox@localhost\r\n"
                b"Subject: swaks %d\r\nMessage-ID: <swaks%d@example.org>\r\n" % (n, n)
                + extra + b"\r\n"
                + (body if body is not None else b"Hello %d.\r\n.leading dot\r\n..two dots\r\nend" % n))

    server = ["--server", "127.0.0.1:%d" % smtp_port]
    sub = ["--server", "127.0.0.1:%d" % sub_port]
    subs = ["--server", "127.0.0.1:%d" % subs_port, "--tls-on-connect"]
    login = ["--auth-user", "mox@localhost", "--auth-password", "moxmoxmox"]

    out = swaks("plain", msg(1), server)
    check("swaks plain: ESMTP, not TLS", b"250 2.0.0" in out and b"TLS started" not in out, out)
    out = swaks("starttls 1025", msg(2), server + ["--tls"])
    check("swaks starttls 1025 used TLS", b"=== TLS started" in out, out)
    for port_args, what in ((sub + ["--tls"], "submission starttls"),
                            (subs, "submissions implicit tls")):
        for mech in ("PLAIN", "LOGIN"):
            out = swaks("%s auth %s" % (what, mech), msg(10 + len(sent)),
                        port_args + ["--auth", mech] + login)
            check("swaks %s auth %s: 235 over TLS" % (what, mech),
                  b"=== TLS started" in out and b"235 " in out, out[-1500:])
    # A wrong password: swaks exits 28 (authentication failed), no message.
    out = swaks("wrong password", msg(90), sub + ["--tls", "--auth", "PLAIN",
                "--auth-user", "mox@localhost", "--auth-password", "wrong"], want_rc=28)
    check("swaks wrong password: 535", b"535 " in out, out[-800:])
    # 8-bit body (RFC 6152): UTF-8 and a stray Latin-1 byte.
    body8 = ("Gr\u00fc\u00dfe, na\u00efve caf\u00e9 \u2603\r\n".encode("utf-8")
             + b"latin1: \xe9\xe8\r\nend")
    swaks("8bit body", msg(20, b"Content-Type: text/plain; charset=utf-8\r\n"
                           b"Content-Transfer-Encoding: 8bit\r\n", body8), server)
    # A large message: 3 MB of varied lines, some starting with dots.
    lines = []
    size = 0
    i = 0
    while size < 3 << 20:
        ln = (b"." if i % 7 == 0 else b"") + (b"line %08d " % i) + bytes(
            (33 + (i * 31 + j) % 94) for j in range(i % 90))
        lines.append(ln)
        size += len(ln) + 2
        i += 1
    big = msg(30, body=b"\r\n".join(lines))
    swaks("large 3MB", big, sub + ["--tls", "--auth", "PLAIN"] + login)
    # PIPELINING (RFC 2920): swaks sends MAIL, RCPT, DATA in one go.
    out = swaks("pipeline", msg(40), server + ["--pipeline"])
    i_mail = next((k for k, ln in enumerate(out.split(b"\n")) if ln.startswith(b" -> MAIL FROM")), -1)
    seq = out.split(b"\n")[i_mail:i_mail + 3] if i_mail >= 0 else []
    check("swaks pipeline: MAIL, RCPT, DATA before a reply",
          len(seq) == 3 and seq[1].startswith(b" -> RCPT TO") and seq[2].startswith(b" -> DATA"),
          out[-1500:])
    out = swaks("pipeline starttls", msg(41), server + ["--pipeline", "--tls"])
    check("swaks pipeline starttls", b"=== TLS started" in out, out[-800:])

    # ---- smtp-source ----
    # Its default message: From, To, Date, Message-Id (pid.session.count,
    # unique per run), a blank line and -l bytes of payload.
    runs = []
    for conc, reuse, count, length in ((10, True, 500, 2000), (50, False, 500, 700)):
        sender = "src%d@example.org" % conc
        base = ["-l", str(length), "-f", sender, "-t", "mox@localhost", "-M", "client.example"]
        want = capture_smtp_source(base)
        check("captured smtp-source message c%d" % conc, want is not None and b"Message-Id:" in want)
        args = base + ["-s", str(conc), "-m", str(count)] + (["-d"] if reuse else [])
        t0 = time.time()
        r = subprocess.run([SMTP_SOURCE] + args + ["127.0.0.1:%d" % smtp_port],
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=45)
        el = time.time() - t0
        check("smtp-source c%d exit" % conc, r.returncode == 0 and not r.stdout, r.stdout[-800:])
        print("smtp-source: %d messages at concurrency %d%s: %.2f s (%.0f msg/s)"
              % (count, conc, " (-d)" if reuse else "", el, count / el if el else 0))
        runs.append((conc, sender, count, blank_variable(want or b"")))

    # ---- the store ----
    acct = os.path.join(tmp, "data", "accounts", "mox")
    files = []
    for d, _, fs in os.walk(os.path.join(acct, "msg")):
        files += [os.path.join(d, x) for x in fs]
    datas = [open(p, "rb").read() for p in files]
    bad_prefix = []
    # swaks: each sent message is the tail of exactly one stored file,
    # after a block of header fields the server prepended.
    for name, b in sent:
        hits = [d for d in datas if d.endswith(b) and prepended_ok(d[:len(d) - len(b)])]
        check("swaks stored once, byte-identical: " + name, len(hits) == 1,
              (len(b), len(hits)))
    # smtp-source: the message starts at its From line.
    for conc, sender, count, want in runs:
        start = re.compile(rb"^From: <%s>\r\n" % re.escape(sender.encode()), re.M)
        ids = {}
        bad = n = 0
        for d in datas:
            m = start.search(d)
            if m is None:
                continue
            n += 1
            if not prepended_ok(d[:m.start()]):
                bad_prefix.append(d[:m.start() + 200])
            s = d[m.start():]
            mid = re.search(rb"^Message-Id: (<[^>\r\n]+>)\r\n", s, re.M | re.I)
            if mid:
                ids[mid.group(1)] = ids.get(mid.group(1), 0) + 1
            if blank_variable(s) != want:
                bad += 1
        check("smtp-source c%d: %d messages stored" % (conc, count), n == count, n)
        check("smtp-source c%d: every Message-Id exactly once" % conc,
              len(ids) == count and all(v == 1 for v in ids.values()),
              (len(ids), [k for k, v in ids.items() if v != 1][:5]))
        check("smtp-source c%d: byte-identical apart from Date, Message-Id" % conc, bad == 0,
              "%d differ" % bad)
    check("smtp-source: only header fields (with Received) prepended", not bad_prefix,
          bad_prefix[:2])
    total = len(sent) + sum(r[2] for r in runs)
    check("message files", len(files) == total, (len(files), total))
    db = sqlite3.connect(os.path.join(acct, "index.db"))
    n, sz = db.execute("select count(*), coalesce(sum(size), 0) from message").fetchone()
    db.close()
    check("database rows", n == total, (n, total))
    check("database sizes match the files", sz == sum(os.path.getsize(p) for p in files),
          (sz, sum(os.path.getsize(p) for p in files)))
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
        print(open(os.path.join(tmp, "log.txt"), errors="replace").read()[-3000:])
    subprocess.run(["rm", "-rf", tmp])
print("peers: %d passed, %d failed (%.1f s)" % (passed, failed, time.time() - t_start))
sys.exit(1 if failed else 0)
