#!/usr/bin/python3
"""IMAP protocol transcripts against mox localserve: tests/imap/transcripts/*.txt.

Each file is one connection (after the greeting), in order:
  # comment
  C: text        the client sends text and CRLF (\\r and \\n in text are CR
                 and LF, for literals)
  S: text        the next server line must be exactly text
  S~ regex       the next server line must match regex (whole line); for
                 values that differ per run (UIDVALIDITY, dates, modseqs)
A server line ending in a literal announcement {n} is read with its n
bytes and what follows up to the line's end, shown as one line with CR and
LF in the literal written as \\r and \\n. The files run in name order on
one server, each on a fresh connection; each uses its own mailboxes.
Prints "N passed, M failed" (one per S line and one per file).
Usage: test_transcripts.py MOX_BINARY"""
import glob, os, re, shutil, signal, socket, subprocess, sys, tempfile, time

mox = sys.argv[1]
here = os.path.dirname(os.path.abspath(__file__))
passed = failed = 0


def free_offset():
    for off in range(22000 + os.getpid() % 5000, 42000, 13):
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


def read_response_line(f):
    line = f.readline()
    if not line:
        return None
    out = b""
    while True:
        m = re.search(rb"~?\{(\d+)\}\r\n$", line)
        if not m:
            out += line.rstrip(b"\r\n")
            return out.decode("utf-8", "replace")
        out += line[:-2]
        lit = f.read(int(m.group(1)))
        out += lit.replace(b"\r", b"\\r").replace(b"\n", b"\\n")
        line = f.readline()


def run(path, port):
    global passed, failed
    name = os.path.basename(path)
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    f = s.makefile("rb")
    f.readline()  # greeting
    ok = True
    for n, raw in enumerate(open(path, encoding="utf-8").read().split("\n"), 1):
        if raw == "" or raw.startswith("#"):
            continue
        kind, text = raw[:2], raw[3:]
        if kind == "C:":
            s.sendall(text.replace("\\r", "\r").replace("\\n", "\n").encode() + b"\r\n")
            continue
        try:
            got = read_response_line(f)
        except OSError as e:
            got = "(%s)" % e
        if kind == "S:":
            good = got == text
        elif kind == "S~":
            good = got is not None and re.fullmatch(text, got) is not None
        else:
            raise SystemExit("%s:%d: bad directive %r" % (name, n, raw))
        if good:
            passed += 1
        else:
            failed += 1
            ok = False
            print("FAIL %s:%d\n  want %s\n  got  %s" % (name, n, text, got))
            break
    s.close()
    return ok


tmp = tempfile.mkdtemp(prefix="mox-imapt-")
off = free_offset()
env = dict(os.environ, MOX_LOCALSERVE_PORT_OFFSET=str(off), MOX_RESOLVER="127.0.0.1:9")
log = open(os.path.join(tmp, "log.txt"), "w")
proc = subprocess.Popen([mox, "localserve", "-dir", os.path.join(tmp, "data")],
                        stdout=log, stderr=log, env=env)
try:
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", 1143 + off), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    files = sorted(glob.glob(os.path.join(here, "transcripts", "*.txt")))
    for p in files:
        if run(p, 1143 + off):
            passed += 1
        else:
            failed += 1
    if not files:
        failed += 1
        print("FAIL no transcripts")
finally:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()
    if failed:
        print(open(os.path.join(tmp, "log.txt")).read()[-3000:])
    shutil.rmtree(tmp, ignore_errors=True)
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
