#!/usr/bin/python3
"""APPEND throughput and UID FETCH envelope speed against mox localserve.

Not a test (no pass/fail): a measurement for issue #10, bounded in count
and time. Starts its own localserve on loopback (MOX_RESOLVER to a closed
port), then measures
  - sequential single APPENDs on one connection,
  - MULTIAPPEND batches (RFC 3502) on one connection,
  - single APPENDs from several connections at once,
  - UID FETCH 1:* (FLAGS RFC822.SIZE ENVELOPE) and (BODYSTRUCTURE) over
    what was appended.
Usage: bench_append.py MOX_BINARY [messages, default 1000]"""
import os, shutil, signal, socket, subprocess, sys, tempfile, threading, time

mox = sys.argv[1]
N = int(sys.argv[2]) if len(sys.argv) > 2 else 1000
TIME_MAX = 60.0  # seconds per phase, whatever N is
CONNS = 4
BATCH = 50


def free_offset():
    for off in range(23000 + os.getpid() % 5000, 43000, 17):
        ok = True
        for base in (1025, 1587, 1465, 1143, 1993):
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


def message(i):
    body = ("line %d of a message body that is about five kilobytes long\r\n" % i) * 80
    return ("From: Bench <bench@localhost>\r\nTo: mox@localhost\r\n"
            "Subject: bench message %d\r\nMessage-ID: <b%d@localhost>\r\n"
            "Date: Mon, 01 Jan 2024 00:00:00 +0000\r\n\r\n%s" % (i, i, body)).encode()


class Conn:
    def __init__(self, port):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.f = self.s.makefile("rb")
        self.f.readline()
        self.n = 0
        self.cmd(b"LOGIN mox@localhost moxmoxmox")

    def cmd(self, line, lits=()):
        """Send a command with non-synchronizing literals; return the
        tagged line and count untagged lines."""
        self.n += 1
        tag = b"t%d" % self.n
        out = tag + b" " + line
        for lit in lits:
            out += b" {%d+}\r\n" % len(lit) + lit
        self.s.sendall(out + b"\r\n")
        untagged = 0
        while True:
            l = self.f.readline()
            if not l:
                raise RuntimeError("connection closed")
            if l.startswith(tag + b" "):
                if not l.startswith(tag + b" OK"):
                    raise RuntimeError(l.decode())
                return l, untagged
            untagged += 1
            while l.rstrip(b"\r\n").endswith(b"}"):
                n = int(l[l.rindex(b"{") + 1:-3])
                self.f.read(n)
                l = self.f.readline()


def main():
    tmp = tempfile.mkdtemp(prefix="mox-bench-append-")
    off = free_offset()
    env = dict(os.environ, MOX_LOCALSERVE_PORT_OFFSET=str(off), MOX_RESOLVER="127.0.0.1:9")
    log = open(os.path.join(tmp, "log.txt"), "w")
    proc = subprocess.Popen([mox, "localserve", "-dir", os.path.join(tmp, "data")],
                            stdout=log, stderr=log, env=env)
    port = 1143 + off
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        c = Conn(port)
        msgs = [message(i) for i in range(N)]

        # Sequential single APPENDs.
        c.cmd(b"CREATE seq")
        t0 = time.time()
        done = 0
        for m in msgs:
            c.cmd(b"APPEND seq", [m])
            done += 1
            if time.time() - t0 > TIME_MAX:
                break
        dt = time.time() - t0
        print("append sequential: %d msgs in %.2fs: %.0f msg/s" % (done, dt, done / dt))

        # MULTIAPPEND batches: one command, BATCH messages.
        c.cmd(b"CREATE multi")
        t0 = time.time()
        done = 0
        for i in range(0, N, BATCH):
            part = msgs[i:i + BATCH]
            line = b"APPEND multi"
            # Each message: " {n+}\r\n<bytes>", the first after the name.
            body = b""
            for j, m in enumerate(part):
                body += b" " + b"{%d+}\r\n" % len(m) + m
            c.n += 1
            tag = b"t%d" % c.n
            c.s.sendall(tag + b" " + line + body + b"\r\n")
            while True:
                l = c.f.readline()
                if l.startswith(tag + b" "):
                    if not l.startswith(tag + b" OK"):
                        raise RuntimeError(l.decode())
                    break
            done += len(part)
            if time.time() - t0 > TIME_MAX:
                break
        dt = time.time() - t0
        print("append multiappend x%d: %d msgs in %.2fs: %.0f msg/s" % (BATCH, done, dt, done / dt))

        # Parallel single APPENDs from CONNS connections.
        c.cmd(b"CREATE par")
        conns = [Conn(port) for _ in range(CONNS)]
        counts = [0] * CONNS
        t0 = time.time()

        def work(k):
            for m in msgs[k::CONNS]:
                conns[k].cmd(b"APPEND par", [m])
                counts[k] += 1
                if time.time() - t0 > TIME_MAX:
                    break

        th = [threading.Thread(target=work, args=(k,)) for k in range(CONNS)]
        for t in th:
            t.start()
        for t in th:
            t.join()
        dt = time.time() - t0
        done = sum(counts)
        print("append %d connections: %d msgs in %.2fs: %.0f msg/s" % (CONNS, done, dt, done / dt))

        # UID FETCH envelopes over the multiappend mailbox.
        c.cmd(b"SELECT multi")
        best = None
        for _ in range(3):
            t0 = time.time()
            _, n = c.cmd(b"UID FETCH 1:* (FLAGS RFC822.SIZE ENVELOPE)")
            dt = time.time() - t0
            best = dt if best is None or dt < best else best
        print("uid fetch envelope: %d msgs in %.3fs: %.0f msg/s" % (n, best, n / best))
        best = None
        for _ in range(3):
            t0 = time.time()
            _, n = c.cmd(b"UID FETCH 1:* (BODYSTRUCTURE)")
            dt = time.time() - t0
            best = dt if best is None or dt < best else best
        print("uid fetch bodystructure: %d msgs in %.3fs: %.0f msg/s" % (n, best, n / best))
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


main()
