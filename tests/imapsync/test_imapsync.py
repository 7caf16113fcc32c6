#!/usr/bin/python3
"""Real IMAP clients against mox localserve: mbsync (isync) and curl.

mbsync does a two-way sync between a local Maildir of a few hundred
generated messages (varied sizes and flags) and the server's INBOX:
  run 1 pushes everything; imaplib checks every message is there byte for
        byte (mbsync turns the Maildir's LF into CRLF) with the right flags;
  then flags change and messages are deleted on both sides;
  and new messages appear on both sides (imaplib APPEND, new files);
  run 2 propagates that; both sides are compared again;
  run 3 must find nothing to do (mbsync's counters all zero, its state
        and the Maildir unchanged, the server's UIDNEXT unchanged).
curl: LIST, FETCH of one message by UID, APPEND with `curl -T`, over
STARTTLS and implicit TLS.

Usage: test_imapsync.py MOX_BINARY
The same test runs against Debian's Dovecot, to show the test itself is
right: MOX_IMAPSYNC_SERVER=dovecot test_imapsync.py MOX_BINARY
Exit 77 (ctest skip) only when mox localserve has no IMAP listener yet.
Prints "N passed, M failed"."""
import imaplib, os, random, re, signal, socket, ssl, subprocess, sys, tempfile, time

MBSYNC = "/usr/bin/mbsync"
CURL = "/usr/bin/curl"
USER, PASS = "mox@localhost", "moxmoxmox"
NMSG = 300

mox = sys.argv[1] if len(sys.argv) > 1 else ""
which = os.environ.get("MOX_IMAPSYNC_SERVER", "mox")
passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL", name, str(detail)[:2000])
    return cond


def port_free(p):
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", p))
        return True
    except OSError:
        return False
    finally:
        s.close()


def listening(p, timeout=1.0):
    try:
        socket.create_connection(("127.0.0.1", p), timeout=timeout).close()
        return True
    except OSError:
        return False


def wait_port(p, secs):
    deadline = time.time() + secs
    while time.time() < deadline:
        if listening(p):
            return True
        time.sleep(0.1)
    return False


tmp = tempfile.mkdtemp(prefix="mox-imapsync-")
os.chmod(tmp, 0o755)
procs = []
logs = []


def stop_all():
    for p in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def start_mox():
    """mox localserve on the usual ports plus a free offset."""
    off = None
    for o in range(21000 + os.getpid() % 5000, 45000, 11):
        if all(port_free(b + o) for b in (1025, 1587, 1465, 1143, 1993, 1080)):
            off = o
            break
    if off is None:
        raise RuntimeError("no free ports")
    env = dict(os.environ, MOX_LOCALSERVE_PORT_OFFSET=str(off), MOX_RESOLVER="127.0.0.1:9")
    log = os.path.join(tmp, "mox.log")
    logs.append(log)
    p = subprocess.Popen([mox, "localserve", "-dir", os.path.join(tmp, "data")],
                         stdout=open(log, "w"), stderr=subprocess.STDOUT, env=env)
    procs.append(p)
    if not wait_port(1025 + off, 20):
        raise RuntimeError("mox localserve did not start: " + open(log).read()[-2000:])
    # The SMTP listeners are up; IMAP starts in the same loop iteration.
    if not wait_port(1143 + off, 3):
        print("SKIP: mox localserve has no IMAP listener on 127.0.0.1:%d yet" % (1143 + off))
        stop_all()
        subprocess.run(["rm", "-rf", tmp])
        sys.exit(77)
    wait_port(1993 + off, 3)
    return 1143 + off, 1993 + off, os.path.join(tmp, "data", "localhost.crt")


def start_dovecot():
    """Debian's Dovecot with its own config in the temporary directory:
    loopback only, a passwd-file user, maildir under tmp, own cert."""
    d = os.path.join(tmp, "dovecot")
    for sub in ("run", "state", "mail"):
        os.makedirs(os.path.join(d, sub))
    cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                    "/CN=localhost", "-addext",
                    "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", key, "-out", cert],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if os.getuid() == 0:
        # Dovecot will not run mail processes as root: use its own users.
        import pwd
        mu = pwd.getpwnam("dovecot")
        uid, gid, internal, login = mu.pw_uid, mu.pw_gid, "dovecot", "dovenull"
    else:
        import pwd
        me = pwd.getpwuid(os.getuid()).pw_name
        uid, gid, internal, login = os.getuid(), os.getgid(), me, me
    os.chown(os.path.join(d, "mail"), uid, gid)
    port = imaps = None
    for p in range(31000 + os.getpid() % 5000, 50000, 13):
        if port_free(p) and port_free(p + 1):
            port, imaps = p, p + 1
            break
    passwd = os.path.join(d, "passwd")
    with open(passwd, "w") as f:
        f.write("%s:{PLAIN}%s:%d:%d::%s/mail/mox::\n" % (USER, PASS, uid, gid, d))
    os.chmod(passwd, 0o644)
    conf = os.path.join(d, "dovecot.conf")
    with open(conf, "w") as f:
        f.write(f"""
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
default_internal_user = {internal}
default_login_user = {login}
first_valid_uid = {min(uid, 100)}
disable_plaintext_auth = no
auth_mechanisms = plain login
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {passwd}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {passwd}
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps}
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
""")
    logs.append(os.path.join(d, "dovecot.log"))
    p = subprocess.Popen(["/usr/sbin/dovecot", "-F", "-c", conf],
                         stdout=open(os.path.join(d, "stdout.log"), "w"), stderr=subprocess.STDOUT)
    procs.append(p)
    if not wait_port(port, 20) or not wait_port(imaps, 5):
        raise RuntimeError("dovecot did not start: " +
                           open(os.path.join(d, "stdout.log")).read()[-2000:])
    return port, imaps, cert


def tls_ctx():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def imap_login(port):
    c = imaplib.IMAP4("127.0.0.1", port, timeout=30)
    c.starttls(ssl_context=tls_ctx())
    c.login(USER, PASS)
    return c


# Maildir flag letters and the IMAP flags mbsync maps them to.
FLAGMAP = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen"}


def gen_message(i, rnd):
    """A message with LF line ends, as a Maildir holds it; a few hundred
    bytes to ~40 KB, some multipart, every one with a unique Message-ID."""
    lines = ["From: Sender %d <sender%d@example.org>" % (i, i % 7),
             "To: mox@localhost",
             "Subject: sync test %d %s" % (i, "x" * (i % 13)),
             "Date: Mon, 2 Mar 2026 10:%02d:%02d +0100" % (i // 60 % 60, i % 60),
             "Message-ID: <sync%d@example.org>" % i]
    if i % 5 == 0:
        lines += ["MIME-Version: 1.0", 'Content-Type: multipart/mixed; boundary="b%d"' % i, "",
                  "--b%d" % i, "Content-Type: text/plain", "", "part one of %d" % i,
                  "--b%d" % i, "Content-Type: application/octet-stream",
                  "Content-Transfer-Encoding: base64", ""]
        lines += ["QUJDRA" * 12 for _ in range(rnd.randint(1, 60))]
        lines += ["--b%d--" % i, ""]
    else:
        lines += [""]
        n = rnd.choice((1, 3, 20, 100, 600))
        lines += ["line %d of message %d: %s" % (k, i, "lorem ipsum " * (k % 6)) for k in range(n)]
        lines += [".a line with a leading dot", ""]
    return "\n".join(lines).encode()


def maildir_flags(name):
    return set(name.split(":2,", 1)[1]) if ":2," in name else set()


def read_maildir(md):
    """Message-ID -> (path, LF bytes, set of flag letters)."""
    out = {}
    for sub in ("cur", "new"):
        for fn in os.listdir(os.path.join(md, sub)):
            p = os.path.join(md, sub, fn)
            data = open(p, "rb").read()
            m = re.search(rb"^Message-ID: <([^>]*)>", data, re.M | re.I)
            out[m.group(1).decode() if m else fn] = (p, data, maildir_flags(fn))
    return out


def read_server(c):
    """Message-ID -> (uid, CRLF bytes, set of IMAP system flags we map)."""
    typ, _ = c.select("INBOX")
    out = {}
    typ, data = c.uid("FETCH", "1:*", "(FLAGS BODY.PEEK[])")
    if typ != "OK":
        raise RuntimeError("fetch: %r" % data)
    for item in data:
        if not isinstance(item, tuple):
            continue
        meta, body = item
        uid = int(re.search(rb"UID (\d+)", meta).group(1))
        fl = re.search(rb"FLAGS \(([^)]*)\)", meta)
        flags = set(fl.group(1).decode().split()) if fl else set()
        m = re.search(rb"^Message-ID: <([^>]*)>", body, re.M | re.I)
        out[m.group(1).decode() if m else "uid%d" % uid] = (uid, body, flags)
    return out


def imap_flags_of(letters):
    return {FLAGMAP[x] for x in letters if x in FLAGMAP}


TUID_RE = re.compile(rb"^X-TUID: [A-Za-z0-9+/]{12}\r\n", re.M)


def compare(tag, c, md):
    local, remote = read_maildir(md), read_server(c)
    check(tag + ": same message set", set(local) == set(remote),
          (sorted(set(local) - set(remote))[:10], sorted(set(remote) - set(local))[:10]))
    bad_body, bad_flags = [], []
    for mid in set(local) & set(remote):
        _, ldata, lflags = local[mid]
        _, rdata, rflags = remote[mid]
        # mbsync adds an "X-TUID:" header to messages it uploads, to find
        # their UIDs again (isync's sync.c); everything else must match.
        if TUID_RE.sub(b"", ldata.replace(b"\n", b"\r\n"), 1) != TUID_RE.sub(b"", rdata, 1):
            bad_body.append(mid)
        if imap_flags_of(lflags) != {f for f in rflags if f in FLAGMAP.values()}:
            bad_flags.append((mid, sorted(lflags), sorted(rflags)))
    check(tag + ": bodies byte-identical (LF->CRLF)", not bad_body, bad_body[:10])
    check(tag + ": flags equal", not bad_flags, bad_flags[:10])
    return local, remote


STATS_RE = re.compile(r"\b([FN]): \+(\d+)/\d+ \*(\d+)/\d+ #(\d+)/\d+")


def mbsync(cfg, tag):
    """Runs mbsync on a pseudo-terminal: it prints its progress counters
    only to a console ("C: 1/1  B: 1/1  F: +3/3 *0/0 #0/0  N: +0/0 *1/1
    #0/0": added, flags updated, trashed, per side). Returns the output and
    the last counters as {"F": (added, flagged, trashed), "N": ...}."""
    master, slave = os.openpty()
    p = subprocess.Popen([MBSYNC, "-c", cfg, "-a"], stdin=subprocess.DEVNULL,
                         stdout=slave, stderr=slave, close_fds=True)
    os.close(slave)
    chunks = []
    deadline = time.time() + 240
    while time.time() < deadline:
        try:
            b = os.read(master, 65536)
        except OSError:  # EIO: the child closed the terminal
            break
        if not b:
            break
        chunks.append(b)
    os.close(master)
    try:
        rc = p.wait(timeout=max(1, deadline - time.time()))
    except subprocess.TimeoutExpired:
        p.kill()
        rc = p.wait()
    out = b"".join(chunks).decode("utf-8", "replace")
    open(os.path.join(tmp, "mbsync-%s.log" % tag), "w").write(out)
    check(tag + ": mbsync exit 0", rc == 0, out[-3000:])
    stats = {}
    for m in STATS_RE.finditer(out):
        stats[m.group(1)] = tuple(int(x) for x in m.groups()[1:])
    return out, stats


def snapshot(md):
    files = {}
    for root, _, fs in os.walk(md):
        for fn in fs:
            p = os.path.join(root, fn)
            files[os.path.relpath(p, md)] = open(p, "rb").read()
    return files


def curl(args, data=None):
    r = subprocess.run([CURL, "-sS", "--max-time", "30", "-u", USER + ":" + PASS] + args,
                       input=data, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
    return r.returncode, r.stdout, r.stderr.decode("utf-8", "replace")


try:
    if which == "dovecot":
        port, imaps, cert = start_dovecot()
    else:
        if not mox:
            raise RuntimeError("usage: test_imapsync.py MOX_BINARY")
        port, imaps, cert = start_mox()

    rnd = random.Random(10)
    md = os.path.join(tmp, "maildir", "INBOX")
    for sub in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(md, sub))
    letters = ["", "S", "SF", "R", "RS", "D", "FRS", "F"]
    for i in range(NMSG):
        fl = letters[i % len(letters)]
        sub = "new" if fl == "" and i % 2 == 0 else "cur"
        fn = "%d.M%dP%d.gen" % (1700000000 + i, i, os.getpid())
        if sub == "cur":
            fn += ":2," + fl
        with open(os.path.join(md, sub, fn), "wb") as f:
            f.write(gen_message(i, rnd))

    cfg = os.path.join(tmp, "mbsyncrc")
    with open(cfg, "w") as f:
        f.write(f"""IMAPAccount srv
Host localhost
Port {port}
User {USER}
Pass {PASS}
SSLType STARTTLS
CertificateFile {cert}
Timeout 60

IMAPStore far
Account srv

MaildirStore near
Path {tmp}/maildir/
Inbox {md}

Channel inbox
Far :far:INBOX
Near :near:INBOX
Create Both
Expunge Both
Sync All
SyncState *
""")

    # Run 1: push everything.
    t0 = time.time()
    out, st = mbsync(cfg, "run1")
    print("mbsync run 1: %.2f s, %s" % (time.time() - t0, st))
    check("run1: far got all new messages", st.get("F", (0,))[0] == NMSG, st)
    c = imap_login(port)
    local, remote = compare("run1", c, md)
    check("run1: server has %d messages" % NMSG, len(remote) == NMSG, len(remote))

    # Changes on both sides. Server side (imaplib): flags and deletes.
    ids = sorted(remote, key=lambda k: remote[k][0])
    srv_flag = ids[0:40]          # add \Flagged \Seen on the server
    srv_unseen = [k for k in ids[40:120] if "\\Seen" in remote[k][2]][:20]
    srv_del = ids[200:225]        # delete on the server
    loc_flag = ids[120:160]       # change flags in the Maildir
    loc_del = ids[160:190]        # delete in the Maildir
    for k in srv_flag:
        c.uid("STORE", str(remote[k][0]), "+FLAGS", "(\\Flagged \\Seen)")
    for k in srv_unseen:
        c.uid("STORE", str(remote[k][0]), "-FLAGS", "(\\Seen)")
    for k in srv_del:
        c.uid("STORE", str(remote[k][0]), "+FLAGS", "(\\Deleted)")
    typ, _ = c.expunge()
    check("imaplib expunge", typ == "OK")
    # New messages on both sides: APPEND on the server, files in the Maildir.
    srv_new = ["srvnew%d@example.org" % n for n in range(5)]
    for n, mid in enumerate(srv_new):
        m = gen_message(1000 + n, rnd).replace(b"sync%d@example.org" % (1000 + n), mid.encode())
        typ, data = c.append("INBOX", "(\\Seen)" if n % 2 else "()", None, m.replace(b"\n", b"\r\n"))
        check("imaplib append " + mid, typ == "OK", data)
    c.logout()
    loc_new = []
    for n in range(3):
        m = gen_message(2000 + n, rnd)
        loc_new.append("sync%d@example.org" % (2000 + n))
        with open(os.path.join(md, "cur", "%d.M%dP%d.gen:2,S" % (1800000000 + n, n, os.getpid())),
                  "wb") as f:
            f.write(m)
    for k in loc_flag:
        p, _, fl = local[k]
        new = "".join(sorted(set(fl) ^ {"R", "F"}))
        d = os.path.dirname(os.path.dirname(p))
        base = os.path.basename(p).split(":2,")[0]
        os.rename(p, os.path.join(d, "cur", base + ":2," + new))
    for k in loc_del:
        os.unlink(local[k][0])
    want_total = NMSG - len(srv_del) - len(loc_del) + len(srv_new) + len(loc_new)

    # Run 2: propagate both ways.
    t0 = time.time()
    out, st = mbsync(cfg, "run2")
    print("mbsync run 2: %.2f s, %s" % (time.time() - t0, st))
    # mbsync counts a message it deletes on the other side as a flag
    # update (it sets \Deleted or T, then expunges).
    srv_changed = [k for k in srv_flag if not {"\\Flagged", "\\Seen"} <= remote[k][2]]
    check("run2: far side: %d new, %d flag updates and deletes" %
          (len(loc_new), len(loc_flag) + len(loc_del)),
          st.get("F") == (len(loc_new), len(loc_flag) + len(loc_del), 0), st)
    check("run2: near side: %d new, %d flag updates and deletes" %
          (len(srv_new), len(srv_changed) + len(srv_unseen) + len(srv_del)),
          st.get("N") == (len(srv_new), len(srv_changed) + len(srv_unseen) + len(srv_del), 0), st)
    c = imap_login(port)
    local, remote = compare("run2", c, md)
    check("run2: %d messages left" % want_total, len(remote) == want_total and len(local) == want_total,
          (len(remote), len(local)))
    for k in srv_flag:
        if k in local:
            check("run2: server flag reached maildir " + k, {"F", "S"} <= local[k][2], local[k][2])
    for k in srv_unseen:
        check("run2: server unseen reached maildir " + k, "S" not in local[k][2], local[k][2])
    for k in srv_new + loc_new:
        check("run2: new message on both sides " + k, k in local and k in remote)
    for k in loc_del + srv_del:
        check("run2: deleted everywhere " + k, k not in local and k not in remote)
    typ, st1 = c.status("INBOX", "(MESSAGES UIDNEXT UIDVALIDITY)")
    c.logout()

    # Run 3: nothing to do.
    before = snapshot(os.path.join(tmp, "maildir"))
    out, st = mbsync(cfg, "run3")
    zero = (0, 0, 0)
    check("run3: nothing to do (counters zero)", st.get("F") == zero and st.get("N") == zero,
          (st, out[-1500:]))
    after = snapshot(os.path.join(tmp, "maildir"))
    check("run3: maildir and sync state unchanged", before == after,
          sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))[:10])
    c = imap_login(port)
    typ, st2 = c.status("INBOX", "(MESSAGES UIDNEXT UIDVALIDITY)")
    check("run3: server STATUS unchanged", st1 == st2, (st1, st2))

    # curl: LIST, FETCH by UID, APPEND (-T), STARTTLS and implicit TLS.
    remote = read_server(c)
    c.logout()
    appended = 0
    for scheme, p, extra in (("imap", port, ["--ssl-reqd"]), ("imaps", imaps, [])):
        base = "%s://127.0.0.1:%d/" % (scheme, p)
        rc, out, err = curl(extra + ["-k", base])
        check("curl %s LIST" % scheme, rc == 0 and re.search(rb"^\* LIST \([^)]*\) \S+ \"?INBOX\"?\r?$",
                                                             out, re.M | re.I), (rc, out[:500], err))
        mid = sorted(remote)[7]
        uid, body, _ = remote[mid]
        rc, out, err = curl(extra + ["-k", base + "INBOX;UID=%d" % uid])
        check("curl %s FETCH UID %d byte-identical" % (scheme, uid), rc == 0 and out == body,
              (rc, len(out), len(body), err))
        rc, out, err = curl(extra + ["-k", base + "INBOX?ALL"])
        check("curl %s SEARCH ALL" % scheme, rc == 0 and out.startswith(b"* SEARCH") and
              len(out.split()) - 2 == len(remote) + appended, (rc, out[:200], err))
        app = ("From: curl <curl@example.org>\r\nTo: mox@localhost\r\n"
               "Subject: appended by curl over %s\r\nMessage-ID: <curl-%s@example.org>\r\n\r\n"
               "Body from curl -T.\r\n.dot line\r\n" % (scheme, scheme)).encode()
        fpath = os.path.join(tmp, "curl-%s.eml" % scheme)
        open(fpath, "wb").write(app)
        rc, out, err = curl(extra + ["-k", "-T", fpath, base + "INBOX"])
        check("curl %s APPEND" % scheme, rc == 0, (rc, out[:300], err))
        appended += 1
        c = imap_login(port)
        c.select("INBOX")
        typ, data = c.uid("SEARCH", None, "HEADER", "Message-ID", "curl-%s@example.org" % scheme)
        uids = data[0].split() if typ == "OK" and data and data[0] else []
        ok = len(uids) == 1
        if ok:
            typ, data = c.uid("FETCH", uids[0].decode(), "(BODY.PEEK[])")
            ok = typ == "OK" and isinstance(data[0], tuple) and data[0][1] == app
        check("curl %s APPEND stored byte-identical" % scheme, ok, (uids, data))
        c.logout()
except Exception as e:  # a crash of the test itself is a failure, with its reason
    import traceback
    traceback.print_exc()
    check("test ran to the end", False, repr(e))
finally:
    stop_all()
    for p in procs:
        if which == "mox":
            check("server exit on SIGTERM", p.returncode == 0, p.returncode)
    if failed:
        for lg in logs:
            if os.path.exists(lg):
                print("--- " + lg)
                print(open(lg, errors="replace").read()[-3000:])
        print("work directory kept: " + tmp)
    else:
        subprocess.run(["rm", "-rf", tmp])
print("imapsync (%s): %d passed, %d failed" % (which, passed, failed))
sys.exit(1 if failed else 0)
