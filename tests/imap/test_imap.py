#!/usr/bin/python3
"""mox localserve's IMAP server end to end with Python's imaplib (and curl).

Starts `mox localserve` in a temporary directory on free ports (the usual
ports plus an offset, MOX_RESOLVER pointing at a port that answers
nothing), delivers mail over SMTP, and exercises every command imaplib
offers over plain IMAP, STARTTLS and implicit TLS, with every SASL
mechanism the server announces, checking exact responses where they are
deterministic. Two connections: IDLE in one sees mail delivered over SMTP
and a flag change and expunge made by the other, within a second; FETCH
returns delivered and appended mail byte for byte; sequence numbers stay
right while another session expunges. curl's IMAP fetches a message.
Prints "N passed, M failed"; exits non-zero on any failure.
Usage: test_imap.py MOX_BINARY"""
import base64, hashlib, hmac, os, re, shutil, signal, smtplib, socket, ssl
import subprocess, sys, tempfile, time, imaplib

mox = sys.argv[1]
passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL", name, detail)
        sys.stdout.flush()


def free_offset():
    for off in range(21000 + os.getpid() % 5000, 41000, 11):
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


tmp = tempfile.mkdtemp(prefix="mox-imap-")
off = free_offset()
IMAP, IMAPS, SMTP = 1143 + off, 1993 + off, 1025 + off
env = dict(os.environ, MOX_LOCALSERVE_PORT_OFFSET=str(off), MOX_RESOLVER="127.0.0.1:9")
log = open(os.path.join(tmp, "log.txt"), "w")
proc = subprocess.Popen([mox, "localserve", "-dir", os.path.join(tmp, "data")],
                        stdout=log, stderr=log, env=env)
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE


def message(n, extra=""):
    return ("From: Sender <sender@example.org>\r\nTo: mox@localhost\r\n"
            "Subject: message %d\r\nMessage-ID: <m%d@example.org>\r\n"
            "Date: Mon, 2 Jan 2023 10:00:00 +0100\r\n%s\r\n"
            "Hello %d.\r\nThe magic word is xyzzy%d.\r\n" % (n, n, extra, n, n))


def deliver(n):
    s = smtplib.SMTP("127.0.0.1", SMTP, timeout=10)
    m = message(n)
    s.sendmail("sender@example.org", ["mox@localhost"], m)
    s.quit()
    return m.encode()


def connect(kind="plain", login=True):
    if kind == "tls":
        c = imaplib.IMAP4_SSL("127.0.0.1", IMAPS, ssl_context=ctx, timeout=10)
    else:
        c = imaplib.IMAP4("127.0.0.1", IMAP, timeout=10)
        if kind == "starttls":
            c.starttls(ssl_context=ctx)
    if login:
        c.login("mox@localhost", "moxmoxmox")
    return c


def ok(name, r, expect=None):
    typ, data = r
    check(name, typ == "OK", r)
    if expect is not None:
        check(name + " data", data == expect, "got %r want %r" % (data, expect))
    return data


def err(name, fn, *args):
    """The command fails: tagged NO or BAD (imaplib raises for BAD)."""
    try:
        r = fn(*args)
        check(name, r[0] in ("NO", "BAD"), "no error: %r" % (r,))
        return str(r)
    except imaplib.IMAP4.error as e:
        check(name, True)
        return str(e)


def scram_client(mech, user, password, good=True):
    """A SCRAM (RFC 5802) client for imaplib.authenticate."""
    h = hashlib.sha256 if mech.endswith("256") else hashlib.sha1
    cnonce = base64.b64encode(os.urandom(18)).decode()
    first_bare = "n=%s,r=%s" % (user, cnonce)
    state = {"step": 0}

    def cb(challenge):
        if state["step"] == 0:
            state["step"] = 1
            return ("n,," + first_bare).encode()
        if state["step"] == 1:
            state["step"] = 2
            sf = challenge.decode()
            attrs = dict(a.split("=", 1) for a in sf.split(","))
            salted = hashlib.pbkdf2_hmac(h().name, password.encode(), base64.b64decode(attrs["s"]),
                                         int(attrs["i"]))
            ck = hmac.new(salted, b"Client Key", h).digest()
            sk = h(ck).digest()
            final_wo = "c=biws,r=" + attrs["r"]
            am = ",".join([first_bare, sf, final_wo]).encode()
            sig = hmac.new(sk, am, h).digest()
            proof = bytes(a ^ b for a, b in zip(ck, sig))
            skey = hmac.new(salted, b"Server Key", h).digest()
            state["v"] = base64.b64encode(hmac.new(skey, am, h).digest()).decode()
            return (final_wo + ",p=" + base64.b64encode(proof).decode()).encode()
        state["step"] = 3
        if good:
            check("scram server signature " + mech, challenge.decode() == "v=" + state["v"], challenge)
        else:
            check("scram error " + mech, challenge.decode() == "e=invalid-proof", challenge)
        return b""
    return cb


def wait_line(c, pattern, timeout):
    """Read lines until one matches pattern; returns (line, elapsed)."""
    t0 = time.time()
    sock = c.socket()
    sock.settimeout(timeout)
    try:
        while time.time() - t0 < timeout:
            line = c.readline().decode().rstrip("\r\n")
            if re.search(pattern, line):
                return line, time.time() - t0
    except (socket.timeout, TimeoutError, OSError):
        pass
    finally:
        sock.settimeout(10)
    return None, time.time() - t0


try:
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", IMAPS), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)

    delivered = [deliver(n) for n in (1, 2, 3)]

    # Greeting and CAPABILITY, before and after login (RFC 9051 section 7.1).
    c = connect(login=False)
    check("greeting", c.welcome.startswith(b"* OK [CAPABILITY IMAP4rev2 IMAP4rev1 "), c.welcome)
    caps = ok("capability", c.capability())[0].decode().split()
    for cap in ("IMAP4rev2", "IMAP4rev1", "STARTTLS", "AUTH=PLAIN", "AUTH=SCRAM-SHA-256",
                "IDLE", "UIDPLUS", "MOVE", "CONDSTORE", "QRESYNC", "LITERAL+", "ESEARCH", "BINARY"):
        check("capability " + cap, cap in caps, caps)
    ok("noop", c.noop())
    check("select before login", err("select before login", c.select, "INBOX") is not None)
    check("bad login", "AUTHENTICATIONFAILED" in (err("bad login", c.login, "mox@localhost", "wrong") or ""))
    typ, data = c.login("mox@localhost", "moxmoxmox")
    check("login", typ == "OK" and data[0].startswith(b"[CAPABILITY IMAP4rev2 ") and
          data[0].endswith(b"] authenticated"), data)
    caps = ok("capability after login", c.capability())[0].decode().split()
    check("no AUTH after login", not any(x.startswith("AUTH=") for x in caps), caps)
    typ, data = c.logout()
    check("logout", typ == "BYE", (typ, data))

    # Every SASL mechanism, on plain, STARTTLS and TLS connections.
    for kind in ("plain", "starttls", "tls"):
        c = connect(kind, login=False)
        ok("authenticate plain " + kind,
           c.authenticate("PLAIN", lambda _: b"\0mox@localhost\0moxmoxmox"))
        c.logout()
    c = connect(login=False)
    ok("cram-md5", c.login_cram_md5("mox@localhost", "moxmoxmox"))
    c.logout()
    c = connect(login=False)
    err("cram-md5 bad", c.login_cram_md5, "mox@localhost", "nope")
    c.logout()
    steps = iter([b"mox@localhost", b"moxmoxmox"])
    c = connect(login=False)
    ok("authenticate login", c.authenticate("LOGIN", lambda _: next(steps)))
    c.logout()
    for mech in ("SCRAM-SHA-1", "SCRAM-SHA-256"):
        c = connect("tls", login=False)
        ok("authenticate " + mech, c.authenticate(mech, scram_client(mech, "mox@localhost", "moxmoxmox")))
        c.logout()
        c = connect(login=False)
        err("authenticate bad " + mech, c.authenticate, mech,
            scram_client(mech, "mox@localhost", "wrongpw", False))
        c.logout()
    # A second login with the same credentials comes from the cache of
    # verified credentials: it must be much faster than bcrypt.
    t0 = time.time()
    for _ in range(20):
        c = connect()
        c.logout()
    check("cached logins fast", (time.time() - t0) / 20 < 0.1, (time.time() - t0) / 20)

    c = connect()
    # ENABLE, ID, NAMESPACE.
    ok("enable", c.enable("CONDSTORE"), [b"enabled"])
    check("enabled", c.untagged_responses.pop("ENABLED", None) == [b"CONDSTORE"], c.untagged_responses)
    typ, data = c.xatom("ID", '("name" "test")')
    check("id", typ == "OK" and c.untagged_responses.get("ID") == [b'("name" "mox-c" "version" "0.1.0")'],
          (typ, c.untagged_responses.get("ID")))
    ok("namespace", c.namespace(), [b'(("" "/")) NIL NIL'])

    # LIST, LSUB, CREATE, RENAME, DELETE, SUBSCRIBE, UNSUBSCRIBE, STATUS.
    ok("list", c.list(), [b'(\\HasNoChildren \\Archive) "/" Archive',
                          b'(\\HasNoChildren \\Drafts) "/" Drafts',
                          b'(\\HasNoChildren) "/" INBOX',
                          b'(\\HasNoChildren \\Junk) "/" Junk',
                          b'(\\HasNoChildren \\Sent) "/" Sent',
                          b'(\\HasNoChildren \\Trash) "/" Trash'])
    ok("list separator", c.list('""', '""'), [b'(\\Noselect) "/" ""'])
    ok("list pattern", c.list('""', "inbox"), [b'(\\HasNoChildren) "/" INBOX'])
    ok("list pattern 2", c.list('""', "T%"), [b'(\\HasNoChildren \\Trash) "/" Trash'])
    ok("create", c.create("a/b"))
    ok("list children", c.list('""', "a*"), [b'(\\HasChildren) "/" a', b'(\\HasNoChildren) "/" a/b'])
    ok("list percent", c.list('""', "a/%"), [b'(\\HasNoChildren) "/" a/b'])
    err("create exists", c.create, "a/b")
    ok("rename", c.rename("a/b", "a/c"))
    ok("list renamed", c.list('""', "a/*"), [b'(\\HasNoChildren) "/" a/c'])
    ok("create utf7", c.create("Entw&APw-rfe"))
    ok("list utf7", c.list('""', "Entw*"), [b'(\\HasNoChildren) "/" Entw&APw-rfe'])
    ok("unsubscribe", c.unsubscribe("a/c"))
    ok("lsub", c.lsub('""', "a/*"), [None])
    ok("subscribe", c.subscribe("a/c"))
    ok("lsub subscribed", c.lsub('""', "a/*"), [b'() "/" a/c'])
    typ, data = c._simple_command("LIST", '(SUBSCRIBED) ""', "a*", "RETURN", "(STATUS (MESSAGES UIDNEXT))")
    check("list-extended", typ == "OK", typ)
    r = c.untagged_responses.pop("LIST", None)
    check("list-extended list", r == [b'(\\HasChildren \\Subscribed) "/" a',
                                      b'(\\HasNoChildren \\Subscribed) "/" a/c'], r)
    r = c.untagged_responses.pop("STATUS", None)
    check("list-status", r == [b'a (MESSAGES 0 UIDNEXT 1)', b'a/c (MESSAGES 0 UIDNEXT 1)'], r)
    ok("delete", c.delete("a/c"))
    err("delete nonexistent", c.delete, "a/c")
    ok("delete parent", c.delete("a"))
    typ, data = c.status("INBOX", "(MESSAGES UIDNEXT UNSEEN DELETED)")
    check("status exact", data == [b'INBOX (MESSAGES 3 UIDNEXT 4 UNSEEN 3 DELETED 0)'], data)
    err("status nonexistent", c.status, "nope", "(MESSAGES)")

    # SELECT and FETCH of delivered mail, byte for byte.
    typ, data = c.select("INBOX")
    check("select", typ == "OK" and data == [b"3"], (typ, data))
    check("select uidnext", c.untagged_responses.get("UIDNEXT") == [b"4"], c.untagged_responses)
    for i, m in enumerate(delivered):
        typ, data = c.fetch(str(i + 1), "(BODY.PEEK[])")
        check("fetch delivered %d" % (i + 1), typ == "OK" and data[0][1].endswith(m),
              data)
    typ, data = c.uid("FETCH", "1:*", "(UID FLAGS RFC822.SIZE)")
    check("uid fetch flags", typ == "OK" and len(data) == 3 and
          re.match(rb"1 \(UID 1 FLAGS \(\) RFC822.SIZE \d+\)", data[0]), data)
    typ, data = c.fetch("1", "(ENVELOPE)")
    check("fetch envelope", typ == "OK" and data[0].startswith(
        b'1 (ENVELOPE ("Mon, 2 Jan 2023 10:00:00 +0100" "message 1" (("Sender" NIL "sender" "example.org")) '
        b'(("Sender" NIL "sender" "example.org")) (("Sender" NIL "sender" "example.org")) '
        b'((NIL NIL "mox" "localhost")) NIL NIL NIL "<m1@example.org>"))'), data)
    typ, data = c.fetch("1", "(BODYSTRUCTURE)")
    check("fetch bodystructure", typ == "OK" and data[0].startswith(
        b'1 (BODYSTRUCTURE ("TEXT" "PLAIN" ("CHARSET" "US-ASCII") NIL NIL "7BIT" 37 2 NIL NIL NIL NIL))'), data)
    typ, data = c.fetch("2", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[TEXT]<0.5>)")
    check("fetch header fields", typ == "OK" and data[0][1] == b"Subject: message 2\r\n\r\n" and
          data[1][1] == b"Hello", data)
    typ, data = c.fetch("3", "(RFC822.HEADER)")
    check("fetch rfc822.header", typ == "OK" and data[0][1].endswith(
          delivered[2][:delivered[2].index(b"\r\n\r\n") + 4]), data)
    typ, data = c.fetch("3", "(RFC822)")
    check("fetch rfc822 sets seen", typ == "OK" and b"\\Seen" in data[0][0] + data[-1]
          if isinstance(data[-1], bytes) else b"\\Seen" in data[0][0], data)
    typ, data = c.fetch("3", "FLAGS")
    check("seen stored", data == [b"3 (FLAGS (\\Seen) MODSEQ (" + data[0].split(b"MODSEQ (")[1]] if b"MODSEQ" in data[0] else data == [b"3 (FLAGS (\\Seen))"], data)
    err("fetch bad seq", c.fetch, "9", "FLAGS")
    err("fetch bad syntax", c.fetch, "1", "(FLAGS")

    # APPEND with flags and date; byte identical; APPENDUID.
    app = b"From: a@example.org\r\nSubject: appended\r\n\r\nbody\r\nline 2\r\n"
    typ, data = c.append("INBOX", "(\\Flagged $Junk custom)", '"01-Feb-2024 12:00:00 +0000"', app)
    check("append", typ == "OK" and re.match(rb"\[APPENDUID \d+ 4\]", data[0]), (typ, data))
    c.noop()
    typ, data = c.uid("FETCH", "4", "(FLAGS INTERNALDATE BODY.PEEK[])")
    check("fetch appended", typ == "OK" and data[0][1] == app and
          b"INTERNALDATE \"01-Feb-2024 12:00:00 +0000\"" in data[0][0] and
          b"FLAGS (\\Flagged $Junk custom)" in data[0][0], data)
    check("append trycreate", "TRYCREATE" in err("append nonexistent", c.append, "nope", None, None, b"x\r\n"))

    # A large message: the APPEND literal is streamed to a file, FETCH
    # streams it back from the file, whole and in part.
    big = b"From: big@example.org\r\nSubject: big\r\n\r\n" + b"".join(
        b"line %07d of a large message, with some filler text.\r\n" % i for i in range(150000))
    typ, data = c.append("Trash", None, None, big)
    check("append large", typ == "OK", (typ, data))
    c.select("Trash")
    typ, data = c.fetch("1", "(RFC822.SIZE BODY.PEEK[] BODY.PEEK[]<4000000.100> BODY.PEEK[TEXT]<0.20>)")
    check("fetch large", typ == "OK" and data[0][1] == big and data[1][1] == big[4000000:4000100] and
          data[2][1] == b"line 0000000 of a la" and b"RFC822.SIZE %d" % len(big) in data[0][0],
          (typ, [d[0] if isinstance(d, tuple) else d for d in data]))
    c.store("1", "+FLAGS.SILENT", "(\\Deleted)")
    c.expunge()
    c.select("INBOX")

    # A multipart message: BODYSTRUCTURE and sections of its parts.
    mp = (b"From: m@example.org\r\nSubject: parts\r\nMIME-Version: 1.0\r\n"
          b"Content-Type: multipart/mixed; boundary=xx\r\n\r\npreamble\r\n"
          b"--xx\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nfirst part\r\n"
          b"--xx\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n"
          b"PGI+aGk8L2I+\r\n--xx--\r\n")
    typ, data = c.append("Drafts", None, None, mp)
    check("append multipart", typ == "OK", data)
    c.select("Drafts")
    typ, data = c.fetch("1", "(BODYSTRUCTURE BODY.PEEK[1] BODY.PEEK[2] BODY.PEEK[2.MIME] BODY.PEEK[3])")
    check("multipart bodystructure", typ == "OK" and data[0][0].startswith(
        b'1 (BODYSTRUCTURE (("TEXT" "PLAIN" ("CHARSET" "utf-8") NIL NIL "7BIT" 10 1 NIL NIL NIL NIL)'
        b'("TEXT" "HTML" ("CHARSET" "US-ASCII") NIL NIL "BASE64" 12 1 NIL NIL NIL NIL) "MIXED" '
        b'("BOUNDARY" "xx") NIL NIL NIL) BODY[1] {10}'), data)
    check("multipart sections", typ == "OK" and data[0][1] == b"first part" and
          data[1][1] == b"PGI+aGk8L2I+" and
          data[2][1] == b"Content-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\n" and
          data[3].endswith(b" BODY[3] NIL)"), data)
    # BINARY (RFC 3516): the base64 part decoded.
    typ, data = c.fetch("1", "(BINARY.PEEK[2] BINARY.SIZE[2])")
    check("fetch binary", typ == "OK" and data[0][0] == b"1 (BINARY[2] ~{9}" and data[0][1] == b"<b>hi</b>"
          and data[1] == b" BINARY.SIZE[2] 9)", data)
    # SEARCH BODY matches decoded text (here a base64 part).
    ok("search decoded body", c.search(None, "BODY", '"<b>hi"'), [b"1"])
    ok("search decoded miss", c.search(None, "BODY", "PGI"), [b""])
    c.select("INBOX")

    # SEARCH and UID SEARCH, ESEARCH.
    ok("search all", c.search(None, "ALL"), [b"1 2 3 4"])
    ok("search text", c.search(None, "TEXT", "xyzzy2"), [b"2"])
    ok("search body miss", c.search(None, "BODY", "nothere"), [b""])
    ok("search subject", c.search(None, "SUBJECT", '"message 3"'), [b"3"])
    ok("search flagged", c.search(None, "FLAGGED"), [b"4"])
    ok("search or not", c.search(None, "OR", "SEEN", "NOT", "FROM", "sender"), [b"3 4"])
    ok("search keyword", c.search(None, "KEYWORD", "custom"), [b"4"])
    ok("uid search", c.uid("SEARCH", "UNSEEN"), [b"1 2 4"])
    typ, data = c._simple_command("SEARCH", "RETURN", "(MIN MAX COUNT)", "ALL")
    es = c.untagged_responses.pop("ESEARCH", [b""])[0]
    check("esearch", typ == "OK" and re.match(rb'^\(TAG "[A-Z]+\d+"\) MIN 1 MAX 4 COUNT 4$', es), es)
    err("search bad charset", c.search, "KOI8-R", "ALL")

    # STORE and UID STORE.
    typ, data = c.store("1", "+FLAGS", "(\\Answered)")
    check("store", typ == "OK" and re.match(rb"1 \(FLAGS \(\\Answered\) MODSEQ \(\d+\)\)", data[0]), data)
    typ, data = c.uid("STORE", "2", "FLAGS.SILENT", "(kw1 kw2)")
    check("uid store silent", typ == "OK", data)
    typ, data = c.fetch("2", "FLAGS")
    check("store keywords", typ == "OK" and b"FLAGS (kw1 kw2)" in data[0], data)
    typ, data = c.store("2", "-FLAGS", "(kw1)")
    check("store remove", typ == "OK" and b"FLAGS (kw2)" in data[0], data)
    typ, data = c._simple_command("STORE", "1", "(UNCHANGEDSINCE 1)", "+FLAGS", "(\\Seen)")
    check("store unchangedsince", typ == "OK" and b"MODIFIED 1" in data[0], (typ, data))

    # COPY, UID COPY, MOVE, EXPUNGE, UID EXPUNGE.
    typ, data = c.copy("1:2", "Archive")
    check("copy", typ == "OK" and re.match(rb"\[COPYUID \d+ 1:2 1:2\]", data[0]), data)
    typ, data = c._simple_command("UID", "COPY", "4", "Archive")
    check("uid copy", typ == "OK" and re.match(rb"\[COPYUID \d+ 4 3\]", data[0]), data)
    err("copy trycreate", c.copy, "1", "nope")
    typ, data = c.uid("MOVE", "4", "Trash")
    check("uid move", typ == "OK", (typ, data))
    check("move expunge", c.untagged_responses.pop("EXPUNGE", None) == [b"4"], c.untagged_responses)
    ok("store deleted", c.store("1", "+FLAGS.SILENT", "(\\Deleted)"))
    typ, data = c.expunge()
    check("expunge", typ == "OK" and data == [b"1"], data)
    ok("store deleted 2", c.store("2", "+FLAGS.SILENT", "(\\Deleted)"))
    typ, data = c.uid("EXPUNGE", "1:2")
    check("uid expunge other", typ == "OK" and "EXPUNGE" not in c.untagged_responses, c.untagged_responses)
    typ, data = c.uid("EXPUNGE", "3")
    check("uid expunge", typ == "OK" and c.untagged_responses.pop("EXPUNGE", None) == [b"2"],
          c.untagged_responses)
    ok("search after expunge", c.search(None, "ALL"), [b"1"])
    ok("check", c.check())
    ok("unselect", c.unselect())
    typ, data = c.select("Archive", readonly=True)
    check("examine", typ == "OK" and data == [b"3"], data)
    err("store in examine", c.store, "1", "+FLAGS", "(\\Seen)")
    ok("close", c.close())
    err("fetch after close", c.fetch, "1", "FLAGS")

    # CONDSTORE and QRESYNC (RFC 7162): changes since a modseq, VANISHED.
    q = connect()
    typ, data = q.enable("QRESYNC")
    check("enable qresync", q.untagged_responses.pop("ENABLED", None) == [b"QRESYNC"], data)
    q.select("INBOX")
    uidv = int(q.untagged_responses["UIDVALIDITY"][-1])
    hms = int(q.untagged_responses["HIGHESTMODSEQ"][-1])
    n = len(q.search(None, "ALL")[1][0].split())
    q.append("INBOX", "(\\Seen)", None, b"Subject: q1\r\n\r\nq1\r\n")
    q.append("INBOX", None, None, b"Subject: q2\r\n\r\nq2\r\n")
    q.noop()
    typ, data = q.uid("SEARCH", "ALL")
    quids = [int(x) for x in data[0].split()]
    q.uid("STORE", str(quids[-1]), "+FLAGS.SILENT", "(\\Deleted)")
    q.expunge()
    v = q.untagged_responses.pop("VANISHED", None)
    check("expunge with qresync", v == [b"%d" % quids[-1]], v)
    q.unselect()
    typ, data = q._simple_command("SELECT", "INBOX", "(QRESYNC (%d %d))" % (uidv, hms))
    check("select qresync", typ == "OK", data)
    q.state = "SELECTED"  # imaplib does not know this SELECT
    v = q.untagged_responses.pop("VANISHED", None)
    check("qresync vanished", v == [b"(EARLIER) %d" % quids[-1]], v)
    f = q.untagged_responses.pop("FETCH", None)
    check("qresync changed", f is not None and len(f) == 1 and
          re.match(rb"\d+ \(UID %d FLAGS \(\\Seen\) MODSEQ \(\d+\)\)" % quids[-2], f[0]), f)
    typ, data = q._simple_command("UID", "FETCH", "1:*", "(FLAGS)", "(CHANGEDSINCE %d VANISHED)" % hms)
    f = q.untagged_responses.pop("FETCH", None)
    v = q.untagged_responses.pop("VANISHED", None)
    check("fetch changedsince vanished", typ == "OK" and v == [b"(EARLIER) %d" % quids[-1]] and
          f is not None and len(f) == 1 and b"UID %d" % quids[-2] in f[0] and b"MODSEQ" in f[0], (v, f))
    q.uid("STORE", str(quids[-2]), "+FLAGS.SILENT", "(\\Deleted)")
    typ, data = q.uid("EXPUNGE", str(quids[-2]))
    v = q.untagged_responses.pop("VANISHED", None)
    check("expunge as vanished", v == [b"%d" % quids[-2]], v)
    q.logout()

    # Commands imaplib offers that the server does not implement: a
    # tagged error, and the connection goes on.
    for name, fn, args in (("getacl", c.getacl, ("INBOX",)), ("myrights", c.myrights, ("INBOX",)),
                           ("getquota", c.getquota, ("",)), ("getquotaroot", c.getquotaroot, ("INBOX",)),
                           ("setacl", c.setacl, ("INBOX", "x", "lr")), ("deleteacl", c.deleteacl, ("INBOX", "x")),
                           ("setquota", c.setquota, ("", "(STORAGE 1)")),
                           ("getannotation", c.getannotation, ("INBOX", '"/x"', '"value"')),
                           ("setannotation", c.setannotation, ("INBOX", '"/x"', '("value" "y")')),
                           ("proxyauth", c.proxyauth, ("x",))):
        err("unsupported " + name, fn, *args)
    c.select("INBOX")
    for name, fn, args in (("sort", c.sort, ("(DATE)", "UTF-8", "ALL")),
                           ("thread", c.thread, ("REFERENCES", "UTF-8", "ALL")),
                           ("partial", c.partial, ("1", "BODY[]", "0", "10"))):
        err("unsupported " + name, fn, *args)
    ok("noop still works", c.noop())

    # Two sessions: IDLE in one sees SMTP delivery, a flag change and an
    # expunge from the other, each within a second.
    a = connect()
    b = connect()
    a.select("INBOX")
    b.select("INBOX")
    n0 = int(a.untagged_responses.get("EXISTS", [b"0"])[-1])
    tag = a._new_tag()
    a.send(tag + b" IDLE\r\n")
    line = a.readline()
    check("idle continuation", line.startswith(b"+ "), line)
    m5 = deliver(5)
    line, dt = wait_line(a, r"^\* \d+ EXISTS$", 3)
    check("idle sees delivery", line == "* %d EXISTS" % (n0 + 1), line)
    check("idle delivery within 1s", dt < 1.0, dt)
    typ, data = b.noop()
    b.store(str(n0 + 1), "+FLAGS.SILENT", "(\\Flagged)")
    line, dt = wait_line(a, r"FETCH", 3)
    check("idle sees flags", line is not None and re.match(r"^\* %d FETCH \(UID \d+ FLAGS \(\\Flagged\)" % (n0 + 1), line),
          line)
    check("idle flags within 1s", dt < 1.0, dt)
    b.store(str(n0 + 1), "+FLAGS.SILENT", "(\\Deleted)")
    b.expunge()
    line, dt = wait_line(a, r"EXPUNGE", 3)
    check("idle sees expunge", line == "* %d EXPUNGE" % (n0 + 1), line)
    check("idle expunge within 1s", dt < 1.0, dt)
    a.send(b"DONE\r\n")
    line, _ = wait_line(a, "^" + tag.decode(), 3)
    check("idle done", line == tag.decode() + " OK idle done", line)

    # Sequence numbers while another session expunges: a's FETCH may not
    # be told of the expunge (RFC 9051 section 7.5.1), NOOP is.
    for n in (6, 7, 8):
        deliver(n)
    a.noop()
    b.noop()
    typ, data = a.fetch("1:*", "(UID)")
    uids_before = [int(re.search(rb"UID (\d+)", d).group(1)) for d in data]
    nb = len(uids_before)
    b.store("2", "+FLAGS.SILENT", "(\\Deleted)")
    b.expunge()
    typ, data = a.fetch("1:*", "(UID)")
    check("fetch after other expunge keeps numbers", typ == "OK" and
          [int(re.search(rb"UID (\d+)", d).group(1)) for d in data] ==
          uids_before[:1] + uids_before[2:] and data[1].startswith(b"3 "), data)
    check("no expunge during fetch", "EXPUNGE" not in a.untagged_responses, a.untagged_responses)
    typ, data = a.noop()
    check("noop reports expunge", a.untagged_responses.pop("EXPUNGE", None) == [b"2"], a.untagged_responses)
    check("noop reports flags", a.untagged_responses.pop("FETCH", None) ==
          [b"2 (UID %d FLAGS (\\Deleted))" % uids_before[1]], a.untagged_responses)
    typ, data = a.fetch("1:*", "(UID)")
    check("renumbered", [int(re.search(rb"UID (\d+)", d).group(1)) for d in data] ==
          uids_before[:1] + uids_before[2:] and data[1].startswith(b"2 "), data)
    typ, data = a.uid("FETCH", str(uids_before[-1]), "(BODY.PEEK[])")
    check("fetch delivered byte identical", data[0][1].endswith(message(8).encode()) and
          data[0][1].startswith(b"Delivered-To: ") or data[0][1].startswith(b"Received: "), data)
    # The selected mailbox deleted by another session: its messages are
    # reported expunged.
    ok("create t5", b.create("t5"))
    b.append("t5", None, None, b"Subject: x\r\n\r\nx\r\n")
    b.append("t5", None, None, b"Subject: y\r\n\r\ny\r\n")
    typ, data = a.select("t5")
    check("select t5", data == [b"2"], data)
    ok("delete selected elsewhere", b.delete("t5"))
    a.noop()
    check("deleted mailbox expunged", a.untagged_responses.pop("EXPUNGE", None) == [b"2", b"1"],
          a.untagged_responses)
    a.logout()
    b.logout()

    # Raw protocol helpers for what imaplib hides (tagged response codes).
    def raw_conn():
        s = socket.create_connection(("127.0.0.1", IMAP), timeout=20)
        f = s.makefile("rb")
        f.readline()
        s.sendall(b"r0 LOGIN mox@localhost moxmoxmox\r\n")
        f.readline()
        return s, f

    def raw_cmd(s, f, tag, line):
        """Send a command; return (untagged lines with literals inline,
        tagged line)."""
        s.sendall(tag + b" " + line + b"\r\n")
        out = []
        while True:
            l = f.readline()
            if not l:
                return out, b""
            while re.search(rb"\{\d+\}\r\n$", l):
                n = int(re.search(rb"\{(\d+)\}\r\n$", l).group(1))
                l = l + f.read(n) + f.readline()
            if l.startswith(tag + b" "):
                return out, l.rstrip(b"\r\n")
            out.append(l.rstrip(b"\r\n"))

    # MULTIAPPEND (RFC 3502): one command, all messages, one APPENDUID.
    s, f = raw_conn()
    raw_cmd(s, f, b"m1", b"CREATE t8")
    msgs = [message(100 + i).encode() for i in range(5)]
    cmd = b"APPEND t8"
    for i, m in enumerate(msgs):
        cmd += (b" (\\Flagged)" if i == 1 else b"") + b" {%d+}\r\n" % len(m) + m
    _, tagged = raw_cmd(s, f, b"m2", cmd)
    check("multiappend", re.fullmatch(rb"m2 OK \[APPENDUID \d+ 1:5\] APPEND completed", tagged), tagged)
    raw_cmd(s, f, b"m3", b"SELECT t8")
    lines, tagged = raw_cmd(s, f, b"m4", b"FETCH 1:* (UID FLAGS BODY.PEEK[])")
    check("multiappend fetch", tagged == b"m4 OK FETCH completed" and len(lines) == 5 and
          all(lines[i].endswith(msgs[i] + b")") for i in range(5)) and
          b"FLAGS (\\Flagged)" in lines[1] and b"FLAGS ()" in lines[0], (tagged, lines[:2]))
    # A failing message fails the whole MULTIAPPEND: nothing added.
    _, tagged = raw_cmd(s, f, b"m5", b"APPEND t8 {3+}\r\na\r\n (\\Bogus) {3+}\r\nb\r\n")
    lines, _ = raw_cmd(s, f, b"m6", b"NOOP")
    check("multiappend all or nothing", tagged.startswith(b"m5 BAD") and not any(b"EXISTS" in l for l in lines),
          (tagged, lines))

    # ENVELOPE, BODY and BODYSTRUCTURE from the stored part tree equal
    # those from the parsed message (asked together with BODY[HEADER],
    # which parses the file), for the shared test messages, in both
    # encodings of names (UTF8=ACCEPT).
    tdir = "/work/shared/testdata/messages"
    files = sorted(os.path.join(d, n) for d, _, ns in os.walk(tdir) for n in ns if n.endswith(".eml"))
    raw_cmd(s, f, b"e1", b"CREATE t9")
    appended = 0
    for p in files[:120]:
        data = open(p, "rb").read()
        if len(data) > 1 << 20:
            continue
        _, tagged = raw_cmd(s, f, b"e2", b"APPEND t9 {%d+}\r\n" % len(data) + data)
        appended += tagged.startswith(b"e2 OK")
    raw_cmd(s, f, b"e3", b"SELECT t9")
    for enable in (False, True):
        if enable:
            raw_cmd(s, f, b"e4", b"ENABLE UTF8=ACCEPT")
        stored, _ = raw_cmd(s, f, b"e5", b"FETCH 1:* (ENVELOPE BODYSTRUCTURE BODY)")
        parsed, _ = raw_cmd(s, f, b"e6", b"FETCH 1:* (ENVELOPE BODYSTRUCTURE BODY BODY.PEEK[HEADER])")
        same = 0
        for a, b in zip(stored, parsed):
            ea = a[a.index(b"ENVELOPE "):-1]
            eb = b[b.index(b"ENVELOPE "):b.index(b" BODY[HEADER] ")]
            if ea == eb:
                same += 1
            else:
                print("structure differs:\n  stored %r\n  parsed %r" % (ea[:3000], eb[:3000]))
        check("stored envelope/bodystructure utf8=%s" % enable, appended > 50 and len(stored) == appended and
              same == appended, (appended, len(stored), same))
    s.close()

    # A message another session expunged, before our view learned of it:
    # FETCH sends no data for it (its file is gone) and completes with
    # OK [EXPUNGEISSUED] (RFC 5530 section 3, RFC 2180 section 4.1.2, as
    # mox does); the EXPUNGE comes after the FETCH (RFC 9051 section 7.5.1).
    s, f = raw_conn()
    s2, f2 = raw_conn()
    raw_cmd(s, f, b"x1", b"SELECT t8")
    raw_cmd(s2, f2, b"y1", b"SELECT t8")
    _, t2 = raw_cmd(s2, f2, b"y2", b"STORE 2 +FLAGS.SILENT (\\Deleted)")
    _, t3 = raw_cmd(s2, f2, b"y3", b"EXPUNGE")
    time.sleep(0.3)
    lines, tagged = raw_cmd(s, f, b"x2", b"FETCH 1:3 (UID)")
    check("expungeissued fetch", tagged == b"x2 OK [EXPUNGEISSUED] at least one message was expunged" and
          lines == [b"* 1 FETCH (UID 1)", b"* 3 FETCH (UID 3)"], (t2, t3, lines, tagged))
    lines, tagged = raw_cmd(s, f, b"x3", b"NOOP")
    check("expungeissued then expunge", b"* 2 EXPUNGE" in lines and tagged == b"x3 OK NOOP completed", (lines, tagged))
    lines, tagged = raw_cmd(s, f, b"x4", b"FETCH 1:* (UID)")
    check("fetch after expunge", tagged == b"x4 OK FETCH completed" and len(lines) == 4, (lines, tagged))
    s.close()
    s2.close()

    # SEARCH beyond ASCII: Unicode case folding of the decoded subject and
    # the body text; \Recent as mox: never set (RECENT and NEW match
    # nothing, OLD everything).
    s, f = raw_conn()
    raw_cmd(s, f, b"u1", b"CREATE t11")
    um = ("Subject: =?utf-8?q?Gr=C3=BC=C3=9Fe_aus_K=C3=B6ln?=\r\n"
          "Content-Type: text/plain; charset=utf-8\r\n\r\n"
          "\u00c9COLE de la STRASSE\r\n").encode()
    raw_cmd(s, f, b"u2", b"APPEND t11 {%d+}\r\n" % len(um) + um)
    raw_cmd(s, f, b"u2b", b"APPEND t11 {13+}\r\nSubject: x\r\n\r\n")
    raw_cmd(s, f, b"u3", b"SELECT t11")
    for key, want in (("SUBJECT k\u00f6ln", b"* SEARCH 1"), ("SUBJECT K\u00d6LN", b"* SEARCH 1"),
                      ("SUBJECT GR\u00dcSSE", b"* SEARCH 1"), ("BODY \u00e9cole", b"* SEARCH 1"),
                      ("TEXT stra\u00dfe", b"* SEARCH 1"), ("SUBJECT k\u00e4ln", b"* SEARCH"),
                      ("RECENT", b"* SEARCH"), ("NEW", b"* SEARCH"), ("OLD", b"* SEARCH 1 2")):
        k, v = key.split(" ", 1) if " " in key else (key, None)
        if v is None:
            line = b"SEARCH " + k.encode()
        else:
            vb = v.encode()
            line = b"SEARCH CHARSET UTF-8 " + k.encode() + b" {%d+}\r\n" % len(vb) + vb
        lines, tagged = raw_cmd(s, f, b"u4", line)
        check("search %s" % key, lines == [want] and tagged == b"u4 OK SEARCH completed", (lines, tagged))
    s.close()

    # COMPRESS=DEFLATE (RFC 4978): raw deflate both ways after the OK;
    # a FETCH of a large body comes back intact and smaller on the wire;
    # a second COMPRESS gets COMPRESSIONACTIVE.
    import zlib
    s, f = raw_conn()
    lines, tagged = raw_cmd(s, f, b"z0", b"COMPRESS FOO")
    check("compress unknown", tagged.startswith(b"z0 BAD"), tagged)
    lines, tagged = raw_cmd(s, f, b"z1", b"COMPRESS DEFLATE")
    check("compress ok", tagged == b"z1 OK DEFLATE active", tagged)
    zo = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    zi = zlib.decompressobj(-15)
    zbuf = bytearray()
    wire = [0]

    def zsend(data):
        s.sendall(zo.compress(data) + zo.flush(zlib.Z_SYNC_FLUSH))

    def zline():
        while b"\r\n" not in zbuf:
            chunk = s.recv(65536)
            if not chunk:
                return b""
            wire[0] += len(chunk)
            zbuf.extend(zi.decompress(chunk))
        i = zbuf.index(b"\r\n") + 2
        l = bytes(zbuf[:i])
        del zbuf[:i]
        return l

    def zcmd(tag, line):
        zsend(tag + b" " + line + b"\r\n")
        out = []
        while True:
            l = zline()
            m = re.search(rb"\{(\d+)\}\r\n$", l)
            while m:
                n = int(m.group(1))
                while len(zbuf) < n:
                    chunk = s.recv(65536)
                    if not chunk:
                        break
                    wire[0] += len(chunk)
                    zbuf.extend(zi.decompress(chunk))
                l = l + bytes(zbuf[:n])
                del zbuf[:n]
                l = l + zline()
                m = re.search(rb"\{(\d+)\}\r\n$", l)
            if not l or l.startswith(tag + b" "):
                return out, l.rstrip(b"\r\n")
            out.append(l)

    big = b"Subject: big\r\n\r\n" + b"compressible line of text\r\n" * 20000
    _, tagged = zcmd(b"z2", b"APPEND t11 {%d+}\r\n" % len(big) + big)
    check("compress append", tagged.startswith(b"z2 OK [APPENDUID"), tagged)
    zcmd(b"z3", b"SELECT t11")
    wire[0] = 0
    lines, tagged = zcmd(b"z4", b"FETCH 3 (BODY.PEEK[])")
    check("compress fetch", tagged == b"z4 OK FETCH completed" and len(lines) == 1 and big in lines[0] and
          wire[0] < len(big) // 10, (tagged, wire[0], len(big)))
    _, tagged = zcmd(b"z5", b"COMPRESS DEFLATE")
    check("compress twice", tagged == b"z5 NO [COMPRESSIONACTIVE] compression already active", tagged)
    lines, tagged = zcmd(b"z6", b"LOGOUT")
    check("compress logout", tagged == b"z6 OK LOGOUT completed", (lines, tagged))
    s.close()

    # curl's IMAP client (RFC 5092 URL).
    if shutil.which("curl"):
        c = connect()
        c.select("INBOX")
        typ, data = c.uid("FETCH", "1:*", "(UID)")
        uid = int(re.search(rb"UID (\d+)", data[0]).group(1))
        typ, data = c.uid("FETCH", str(uid), "(BODY.PEEK[])")
        want = data[0][1]
        c.logout()
        r = subprocess.run(["curl", "-s", "--max-time", "20",
                            "imap://127.0.0.1:%d/INBOX;UID=%d" % (IMAP, uid),
                            "-u", "mox@localhost:moxmoxmox"], capture_output=True)
        check("curl fetch", r.returncode == 0 and r.stdout == want, (r.returncode, r.stdout[:200], r.stderr))
        r = subprocess.run(["curl", "-s", "--max-time", "20", "--ssl-reqd", "-k",
                            "imap://127.0.0.1:%d/INBOX;UID=%d" % (IMAP, uid),
                            "-u", "mox@localhost:moxmoxmox"], capture_output=True)
        check("curl starttls fetch", r.returncode == 0 and r.stdout == want, (r.returncode, r.stderr))
    else:
        print("SKIP curl: not installed")

    # Bad input: unbalanced parentheses, a huge literal announcement,
    # deep search nesting. Tagged BAD/NO, and the connection goes on.
    s = socket.create_connection(("127.0.0.1", IMAP), timeout=10)
    f = s.makefile("rb")
    f.readline()
    s.sendall(b"x1 LOGIN mox@localhost moxmoxmox\r\n")
    f.readline()
    s.sendall(b"x2 SELECT INBOX\r\n")
    while not f.readline().startswith(b"x2 "):
        pass
    for cmd, want in ((b"x3 FETCH 1 (FLAGS\r\n", b"x3 BAD"),
                      (b"x4 APPEND INBOX {4294967296}\r\n", b"x4 NO [TOOBIG]"),
                      (b"x5 SEARCH " + b"(" * 200 + b"ALL" + b")" * 200 + b"\r\n", b"x5 BAD"),
                      (b"x6 CREATE &Jjo\r\n", b"x6 BAD"),
                      (b"x7 NOOP\r\n", b"x7 OK")):
        s.sendall(cmd)
        line = f.readline()
        while line.startswith(b"* "):
            line = f.readline()
        check("bad input " + cmd[:12].decode(errors="replace"), line.startswith(want), line)
    s.close()
finally:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    log.close()
    if failed:
        print(open(os.path.join(tmp, "log.txt")).read()[-4000:])
    check("server exit status", proc.returncode == 0, proc.returncode)
    shutil.rmtree(tmp, ignore_errors=True)

# Autologout (RFC 9051 section 5.4) with a short timeout for the test.
off2 = free_offset()
tmp2 = tempfile.mkdtemp(prefix="mox-imap2-")
env2 = dict(env, MOX_LOCALSERVE_PORT_OFFSET=str(off2), MOX_LOCALSERVE_LIMITS="command=2s")
log2 = open(os.path.join(tmp2, "log.txt"), "w")
proc2 = subprocess.Popen([mox, "localserve", "-dir", os.path.join(tmp2, "data")],
                         stdout=log2, stderr=log2, env=env2)
try:
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", 1143 + off2), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    s = socket.create_connection(("127.0.0.1", 1143 + off2), timeout=10)
    f = s.makefile("rb")
    f.readline()
    t0 = time.time()
    s.sendall(b"a LOGIN mox moxmoxmox\r\n")
    f.readline()
    line = f.readline()
    check("autologout", line == b"* BYE [UNAVAILABLE] autologout\r\n" and 1.5 < time.time() - t0 < 8,
          (line, time.time() - t0))
    check("autologout closes", f.readline() == b"")
    s.close()
finally:
    proc2.send_signal(signal.SIGTERM)
    try:
        proc2.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc2.kill()
        proc2.wait()
    log2.close()
    shutil.rmtree(tmp2, ignore_errors=True)

print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
