#!/usr/bin/python3
"""Bad input and abuse against a running `mox localserve` (issue #9).

Starts localserve on free loopback ports with its limits lowered through
MOX_LOCALSERVE_LIMITS (4 s per command, 5 s for DATA, 1 s for a TLS
handshake, 16 open connections in all, 5 per address, 20 new ones a
minute per address, 3 failed logins per address
a minute) and protocol tracing on (MOX_LOGLEVELS), then sends: garbage
commands, NUL bytes, commands before EHLO, a 1 MB command line, DATA with
bare CR, slowloris clients (one byte every half second, in a command and
in DATA), TLS garbage and stalled handshakes on the implicit-TLS port and
after STARTTLS, a client that never reads, a connection flood past the
per-address limit (also on the TLS port), and repeated failed logins.
Each must get a clear reply or a closed connection in bounded time; after
each, a normal client on 127.0.0.1 still delivers a message. Scenarios
use their own source addresses (127.x.0.y, all local on Linux) in
different /21 networks so that their limits do not meet. At the end: the
server is still running, the trace has no password, and SIGTERM ends it
cleanly. Prints "N passed, M failed". Usage: test_badinput.py MOX_BINARY"""
import base64, os, signal, smtplib, socket, ssl, subprocess, sys, tempfile, threading, time

mox = sys.argv[1]
passed = failed = 0
lock = threading.Lock()


def check(name, cond, detail=""):
    global passed, failed
    with lock:
        if cond:
            passed += 1
        else:
            failed += 1
            print("FAIL", name, repr(detail)[:300])


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


tmp = tempfile.mkdtemp(prefix="mox-badinput-")
off = free_offset()
SMTP, SUB, SUBS = 1025 + off, 1587 + off, 1465 + off
env = dict(os.environ, MOX_LOCALSERVE_PORT_OFFSET=str(off), MOX_RESOLVER="127.0.0.1:9",
           MOX_LOCALSERVE_LIMITS="conns=16,conns_ip=5,rate_ip=20,authfail_ip=3,command=4s,data=5s,tls=1s,close=2s",
           MOX_LOGLEVELS="info;smtpserver=trace")
logpath = os.path.join(tmp, "log.txt")
log = open(logpath, "w")
proc = subprocess.Popen([mox, "localserve", "-dir", os.path.join(tmp, "data")],
                        stdout=log, stderr=log, env=env)
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
PASSWORD = "moxmoxmox"
GOOD = base64.b64encode(b"\0mox@localhost\0" + PASSWORD.encode())
BAD = base64.b64encode(b"\0mox@localhost\0wrong")


def conn(src, port, timeout=10):
    s = socket.socket()
    s.bind((src, 0))
    s.settimeout(timeout)
    s.connect(("127.0.0.1", port))
    return s


class Peer:
    """A raw SMTP client: send bytes, read complete replies."""

    def __init__(self, sock):
        self.s = sock
        self.buf = b""

    def reply(self):
        """One complete (multi-line) reply as bytes, b"" on EOF."""
        out = b""
        while True:
            while b"\n" not in self.buf:
                d = self.s.recv(65536)
                if not d:
                    return out + self.buf
                self.buf += d
            line, self.buf = self.buf.split(b"\n", 1)
            out += line + b"\n"
            if line[3:4] != b"-":
                return out

    def send(self, b):
        self.s.sendall(b)

    def starttls(self):
        self.s = ctx.wrap_socket(self.s)


def closed_within(s, limit):
    """Read until EOF; the seconds it took and what came, or None on a
    read timeout (the server kept the connection)."""
    t0 = time.time()
    got = b""
    s.settimeout(limit)
    try:
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += d
    except (ConnectionResetError, ssl.SSLError, BrokenPipeError):
        pass
    except socket.timeout:
        return None, got
    return time.time() - t0, got


delivered = []


T0 = time.time()


def healthy(name):
    """A normal client from 127.0.0.1 is answered and delivers a message."""
    print("%5.1f s: %s done" % (time.time() - T0, name))
    subject = "healthy after %s %d" % (name, len(delivered))
    try:
        s = smtplib.SMTP("127.0.0.1", SMTP, timeout=10)
        s.ehlo("client.example")
        r = s.sendmail("sender@example.org", ["mox@localhost"],
                       "From: sender@example.org\r\nTo: mox@localhost\r\nSubject: %s\r\n\r\n"
                       "Hello.\r\n" % subject)
        s.quit()
        check("healthy after " + name, r == {}, r)
        delivered.append(subject)
    except Exception as e:
        check("healthy after " + name, False, e)


def wait_up():
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", SUBS), timeout=1).close()
            return True
        except OSError:
            time.sleep(0.1)
    return False


# ---- scenarios that take seconds run in threads, next to the others ----

def slowloris_command():
    # One byte every 0.5 s: the command deadline (4 s from the greeting)
    # counts the whole line, not the time between bytes.
    p = Peer(conn("127.24.0.1", SMTP))
    p.reply()
    t0 = time.time()
    try:
        for ch in b"EHLO slowloris.example\r\n":
            p.send(bytes([ch]))
            time.sleep(0.5)
    except OSError:
        pass
    took, got = closed_within(p.s, 6)
    total = time.time() - t0
    check("slowloris command: 421 timeout", b"421 4.4.2" in got, got)
    check("slowloris command: closed in time", took is not None and 3.5 < total < 8, total)


def slowloris_data():
    p = Peer(conn("127.24.0.2", SMTP))
    p.reply()
    p.send(b"EHLO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<mox@localhost>\r\nDATA\r\n")
    for _ in range(4):
        p.reply()
    t0 = time.time()
    try:
        for i in range(30):
            p.send(b"line %d\r\n" % i)
            time.sleep(0.5)
    except OSError:
        pass
    took, got = closed_within(p.s, 6)
    total = time.time() - t0
    check("slowloris data: 421 timeout", b"421 4.4.2" in got, got)
    check("slowloris data: closed in time", took is not None and 4.5 < total < 9, total)


def tls_stalls():
    # Implicit TLS, no handshake at all; half a ClientHello; STARTTLS
    # then nothing. Each is closed by the 1 s handshake limit, well before
    # the 4 s command timeout (times from the connect or the STARTTLS).
    t0 = time.time()
    s = conn("127.24.0.3", SUBS)
    took, got = closed_within(s, 6)
    total = time.time() - t0
    check("tls no handshake closed", took is not None and 0.9 < total < 3.5, total)
    t0 = time.time()
    s = conn("127.24.0.3", SUBS)
    s.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
    took, got = closed_within(s, 6)
    total = time.time() - t0
    check("tls partial handshake closed", took is not None and 0.9 < total < 3.5, total)
    p = Peer(conn("127.24.0.3", SUB))
    p.reply()
    t0 = time.time()
    p.send(b"EHLO x\r\nSTARTTLS\r\n")
    p.reply()
    r = p.reply()
    check("starttls go ahead", r.startswith(b"220 "), r)
    took, got = closed_within(p.s, 6)
    total = time.time() - t0
    check("starttls without handshake closed", took is not None and 0.9 < total < 3.5, total)


def no_reader():
    # Pipelines NOOPs and never reads a reply: the server stops reading
    # (backpressure) instead of buffering replies without bound, and its
    # command timeout (4 s) then ends the connection: the blocked send
    # fails with a reset.
    s = socket.socket()
    # A small receive window, as a stalled client has: the replies pile
    # up in the server, not in our kernel.
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
    s.bind(("127.32.0.1", 0))
    s.settimeout(25)
    s.connect(("127.0.0.1", SMTP))
    t0 = time.time()
    how = "kept open"
    try:
        chunk = b"NOOP\r\n" * 10000
        for _ in range(1000):
            s.sendall(chunk)
    except socket.timeout:
        how = "send timed out"
    except OSError as e:
        how = "closed"
    took = time.time() - t0
    check("client that does not read is closed", how == "closed" and took < 20, (how, took))


try:
    check("server up", wait_up())
    healthy("start")
    threads = [threading.Thread(target=f) for f in (slowloris_command, slowloris_data,
                                                     tls_stalls, no_reader)]
    for t in threads:
        t.start()

    # Garbage, NUL bytes, commands before EHLO, a 1 MB line.
    p = Peer(conn("127.40.0.1", SMTP))
    p.reply()
    p.send(b"MAIL FROM:<a@example.org>\r\nEHLO a\x00b\r\nHELLO?\r\n\x01\x02\xff\xfe\r\n"
           + b"A" * (1 << 20) + b"\r\nRCPT TO:<x@localhost>\r\nDATA\r\nNOOP\r\n")
    want = [b"503 ", b"501 ", b"500 ", b"500 ", b"500 5.5.2 line too long", b"503 ", b"503 ",
            b"250 "]
    got = [p.reply() for _ in want]
    check("garbage replies", all(g.startswith(w) for g, w in zip(got, want)), got)
    p.send(b"EHLO ok.example\r\nQUIT\r\n")
    check("after garbage: ehlo", p.reply().startswith(b"250-"))
    check("after garbage: quit", p.reply().startswith(b"221 "))
    healthy("garbage")

    # Too many errors: the core closes with 421 (mox: after 20 or so).
    p = Peer(conn("127.40.0.2", SMTP))
    p.reply()
    p.send(b"NOOP\r\n" + b"BOGUS\r\n" * 40)
    replies = []
    while True:
        r = p.reply()
        if not r:
            break
        replies.append(r)
    check("too many errors: 421 then close",
          replies and replies[-1].startswith(b"421 ") and len(replies) < 40, replies[-2:])
    healthy("errors")

    # DATA with a bare CR (smuggling): a clear 5xx, the session goes on.
    p = Peer(conn("127.40.0.3", SMTP))
    p.reply()
    p.send(b"EHLO x\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<mox@localhost>\r\nDATA\r\n")
    r = [p.reply() for _ in range(4)]
    check("data 354", r[-1].startswith(b"354 "), r)
    p.send(b"Subject: cr\r\n\r\nbare\rcr\r\n.\r\n")
    r = p.reply()
    check("bare CR refused", r[:1] == b"5" and b"bare" in r, r)
    p.send(b"RSET\r\n")
    check("rset after bare CR", p.reply().startswith(b"250 "))
    p.send(b"QUIT\r\n")
    p.reply()
    healthy("bare CR")

    # TLS garbage on the implicit-TLS port and after STARTTLS: closed at
    # once, nothing in plaintext comes back.
    s = conn("127.48.0.1", SUBS)
    s.sendall(os.urandom(512))
    took, got = closed_within(s, 5)
    check("tls garbage closed", took is not None and took < 1.5 and b"220" not in got, (took, got))
    p = Peer(conn("127.48.0.1", SUB))
    p.reply()
    p.send(b"EHLO x\r\nSTARTTLS\r\n")
    p.reply()
    p.reply()
    p.send(b"EHLO not-tls\r\n" * 20)
    took, got = closed_within(p.s, 5)
    check("starttls garbage closed", took is not None and took < 1.5 and b"250" not in got,
          (took, got))
    healthy("tls garbage")

    # Connection flood: 5 open connections per address; the 6th, also on
    # the implicit-TLS port, is refused with 421 (as mox); closing by
    # QUIT or by a reset gives the places back.
    flood = [Peer(conn("127.8.0.1", SMTP)) for _ in range(5)]
    greet = [f.reply() for f in flood]
    check("flood: 5 greeted", all(g.startswith(b"220 ") for g in greet), greet)
    s = conn("127.8.0.1", SMTP)
    took, got = closed_within(s, 5)
    check("flood: 6th refused",
          got.startswith(b"421 4.7.0 too many open connections") and took is not None, got)
    try:
        t = ctx.wrap_socket(conn("127.8.0.1", SUBS))
        took, got = closed_within(t, 5)
    except (ssl.SSLError, OSError) as e:
        got = repr(e).encode()
    check("flood: refused over TLS too", got.startswith(b"421 4.7.0 too many open"), got)
    s = conn("127.8.0.2", SMTP)  # same /26, whose limit is 15
    check("flood: neighbour still greeted", Peer(s).reply().startswith(b"220 "))
    s.close()
    flood[0].send(b"QUIT\r\n")
    flood[0].reply()
    flood[0].s.close()
    flood[1].s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\1\0\0\0\0\0\0\0")
    flood[1].s.close()  # RST
    time.sleep(0.3)
    again = [Peer(conn("127.8.0.1", SMTP)) for _ in range(3)]
    got = [a.reply() for a in again]
    check("flood: places given back",
          got[0].startswith(b"220 ") and got[1].startswith(b"220 ")
          and got[2].startswith(b"421 "), got)
    for f in flood[2:] + again:
        f.s.close()
    healthy("flood")

    # Connection rate: 20 new connections a minute from one address, even
    # when each is closed at once; the 21st is refused.
    got = []
    for i in range(21):
        p = Peer(conn("127.72.0.1", SMTP))
        got.append(p.reply())
        if got[-1].startswith(b"220 "):
            p.send(b"QUIT\r\n")
            p.reply()
            closed_within(p.s, 5)  # the server is done with it
        p.s.close()
    check("rate: 20 greeted", all(g.startswith(b"220 ") for g in got[:20]), got[:20])
    check("rate: 21st refused", got[20].startswith(b"421 4.7.0 connection rate"), got[20])
    healthy("connection rate")

    # Failed logins: a session opened first, then 3 failures from the
    # same address on other connections; the open session's next AUTH,
    # even with the right password, gets 421 and is closed; a new
    # submission connection is refused at once (as mox); plain SMTP still
    # greets; another address still logs in.
    first = Peer(conn("127.16.0.1", SUB))
    first.reply()
    first.send(b"EHLO x\r\nSTARTTLS\r\n")
    first.reply()
    first.reply()
    first.starttls()
    first.send(b"EHLO x\r\n")
    first.reply()
    for i in range(3):
        p = Peer(ctx.wrap_socket(conn("127.16.0.1", SUBS)))
        p.reply()
        p.send(b"EHLO x\r\n")
        p.reply()
        p.send(b"AUTH PLAIN " + BAD + b"\r\n")
        r = p.reply()
        check("bad login %d: 535" % i, r.startswith(b"535 "), r)
        p.s.close()
        first.send(b"NOOP\r\n")  # keep it within its command timeout
        first.reply()
    first.send(b"AUTH PLAIN " + GOOD + b"\r\n")
    r = first.reply()
    check("auth after failures: 421", r.startswith(b"421 4.7.0 too many auth failures"), r)
    took, _ = closed_within(first.s, 5)
    check("auth after failures: closed", took is not None)
    s = conn("127.16.0.1", SUB)
    took, got = closed_within(s, 5)
    check("submission refused at connect", got.startswith(b"421 4.7.0 too many auth failures"),
          got)
    s = conn("127.16.0.1", SMTP)
    check("smtp port still greets", Peer(s).reply().startswith(b"220 "))
    s.close()
    try:
        s = smtplib.SMTP_SSL("127.0.0.1", SUBS, context=ctx, timeout=10)
        s.login("mox@localhost", PASSWORD)
        check("other address logs in", True)
        s.quit()
    except Exception as e:
        check("other address logs in", False, e)
    healthy("failed logins")

    for t in threads:
        t.join(30)
        check("scenario thread done", not t.is_alive())
    healthy("slow clients")
    # The slow clients were closed by timeouts: their places are back.
    again = [Peer(conn("127.24.0.1", SMTP)) for _ in range(5)]
    got = [a.reply() for a in again]
    check("timeout closes give places back", all(g.startswith(b"220 ") for g in got), got)
    for a in again:
        a.s.close()
    # 16 connections in all: the 17th, from yet another network, is
    # refused; once some close, new ones are greeted again.
    time.sleep(0.5)  # the connections closed above are gone
    # Four /26 networks of four addresses: under every per-address and
    # per-network limit.
    many = [Peer(conn("127.56.0.%d" % (1 + 64 * (i // 4) + i % 4), SMTP)) for i in range(16)]
    got = [m.reply() for m in many]
    check("total limit: 16 greeted", all(g.startswith(b"220 ") for g in got), [g[:12] for g in got])
    s = conn("127.64.0.1", SMTP)
    took, got = closed_within(s, 5)
    check("total limit: 17th refused", got.startswith(b"421 4.7.0 too many connections"), got)
    for m in many[:4]:
        m.s.close()
    time.sleep(0.3)
    healthy("total limit")
    for m in many[4:]:
        m.s.close()
    check("server still running", proc.poll() is None, proc.poll())

    # Every healthy message is in the store.
    time.sleep(0.3)
    stored = b""
    for d, _, fs in os.walk(os.path.join(tmp, "data", "accounts", "mox", "msg")):
        for x in fs:
            stored += open(os.path.join(d, x), "rb").read()
    for subject in delivered:
        check("stored: " + subject, ("Subject: " + subject).encode() in stored)
finally:
    proc.send_signal(signal.SIGTERM)
    try:
        rc = proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
    log.close()
    check("clean exit on SIGTERM", rc == 0, rc)
    text = open(logpath, "rb").read()
    # The trace shows the protocol but never a password (mox: "***"
    # unless traceauth), nor message data ("..." unless tracedata).
    check("trace has commands", b'l=trace m="C: EHLO ok.example" pkg=smtpserver' in text)
    check("trace hides auth", b'l=traceauth m="C: (initial response) ***"' in text)
    check("trace hides data", b'l=tracedata m="C: ..."' in text)
    check("no password in log", GOOD not in text and BAD not in text)
    check("refusals logged", b'm="refusing connection" pkg=smtpserver' in text)
    check("no sanitizer report", b"ERROR: AddressSanitizer" not in text
          and b"runtime error:" not in text)
    if failed:
        print(text.decode("utf-8", "replace")[-4000:])
    subprocess.run(["rm", "-rf", tmp])
print("badinput: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
