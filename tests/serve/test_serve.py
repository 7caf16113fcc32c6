#!/usr/bin/python3
"""mox serve end to end, with the ctl commands.

`mox quickstart` into a temporary directory for test.example on 127.0.0.1,
mox.conf rewritten to free high ports (SMTP, Submission, Submissions),
`mox serve` started with MOX_RESOLVER at a loopback port that answers
nothing (as the user "nobody" when the test runs as root). Then: an account
added and its password set over the ctl socket, delivery over SMTP into
that account, an unknown address refused with 550, submission with AUTH to
a remote address queued (`mox queue list`), domains.conf changed over ctl
and effective at once, `mox loglevels`, bad ctl requests answered with
errors, the ctl socket refused to another user, and `mox stop`: new
connections told 421 during the grace period, exit code 0.
Prints "N passed, M failed". Usage: test_serve.py MOX_BINARY"""
import glob, imaplib, os, pwd, signal, smtplib, socket, ssl, stat, subprocess, sys, tempfile, time

mox = sys.argv[1]
passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL", name, detail)


def free_ports(n):
    socks, ports = [], []
    for _ in range(n):
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        socks.append(s)
        ports.append(s.getsockname()[1])
    for s in socks:
        s.close()
    return ports


root = os.getuid() == 0
runuser = "nobody" if root else pwd.getpwuid(os.getuid()).pw_name
tmp = tempfile.mkdtemp(prefix="mox-serve-")
os.chmod(tmp, 0o755)  # the server user must reach its files
env = dict(os.environ, MOX_RESOLVER="127.0.0.1:9",
           MOXCONF=os.path.join(tmp, "config", "mox.conf"))
env.pop("MOX_DATADIR", None)
datadir = os.path.join(tmp, "data")


def run(args, inp=None, as_uid=None, timeout=30):
    pre = None
    if as_uid is not None:
        def pre():
            os.setgroups([])
            os.setgid(as_uid)
            os.setuid(as_uid)
    p = subprocess.run([mox] + args, input=inp, capture_output=True, text=True, env=env,
                       timeout=timeout, preexec_fn=pre)
    return p.returncode, p.stdout, p.stderr


rc, out, err = run(["quickstart", "-dir", tmp, "-hostname", "mail.test.example", "-ip",
                    "127.0.0.1", "admin@test.example", runuser])
check("quickstart", rc == 0, out + err)
qs_lines = out.split("password (shown only now):", 1)[-1].split()
admin_pw = qs_lines[0] if qs_lines else ""
conf = os.path.join(tmp, "config", "mox.conf")
smtp_port, sub_port, subs_port, imaps_port = free_ports(4)
text = open(conf).read()
for svc, port in (("SMTP", smtp_port), ("Submissions", subs_port), ("IMAPS", imaps_port)):
    old = "\t\t%s:\n\t\t\tEnabled: true\n" % svc
    check("mox.conf has " + svc, old in text)
    text = text.replace(old, old + "\t\t\tPort: %d\n" % port, 1)
text = text.replace("\t\tSMTP:\n", "\t\tSubmission:\n\t\t\tEnabled: true\n\t\t\tPort: %d\n"
                    "\t\tSMTP:\n" % sub_port, 1)
open(conf, "w").write(text)
rc, out, err = run(["config", "test"])
check("config test", rc == 0, out + err)

log = open(os.path.join(tmp, "log.txt"), "w")
proc = subprocess.Popen([mox, "serve"], stdout=log, stderr=log, env=env)
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE


def message(to, subject, frm="someone@sender.example"):
    return ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <%s@sender.example>\r\n"
            "\r\nHello.\r\n" % (frm, to, subject, subject.replace(" ", "-")))


def deliver(to, subject):
    """SMTP delivery; {} when accepted, else the refused code."""
    s = smtplib.SMTP("127.0.0.1", smtp_port, timeout=20)
    try:
        s.ehlo("client.sender.example")
        return s.sendmail("someone@sender.example", [to], message(to, subject))
    except smtplib.SMTPRecipientsRefused as e:
        return e.recipients[to][0]
    finally:
        try:
            s.quit()
        except Exception:
            pass


def stored(account, subject):
    """Whether a message with subject is in the account's message files."""
    for f in glob.glob(os.path.join(datadir, "accounts", account, "msg", "*", "*")):
        try:
            if ("Subject: " + subject).encode() in open(f, "rb").read():
                return True
        except OSError:
            pass
    return False


try:
    deadline = time.time() + 30
    up = False
    while time.time() < deadline and proc.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", smtp_port), timeout=1).close()
            if os.path.exists(os.path.join(datadir, "ctl")):
                up = True
                break
        except OSError:
            pass
        time.sleep(0.1)
    check("server up", up, proc.poll())
    ctlpath = os.path.join(datadir, "ctl")
    st = os.stat(ctlpath)
    check("ctl socket mode 0600", stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode))
    check("ctl socket owned by the server user",
          st.st_uid == pwd.getpwnam(runuser).pw_uid, st.st_uid)
    if root:
        status = open("/proc/%d/status" % proc.pid).read()
        uid_line = [l for l in status.splitlines() if l.startswith("Uid:")][0]
        check("privileges dropped", uid_line.split()[1:] == [str(pwd.getpwnam(runuser).pw_uid)] * 4,
              uid_line)

    # Accounts over ctl.
    rc, out, err = run(["config", "account", "add", "bob", "bob@test.example"])
    check("account add", rc == 0, out + err)
    rc, out, err = run(["setaccountpassword", "bob@test.example"], inp="bobsecret1234\n")
    check("setaccountpassword", rc == 0, out + err)
    check("domains.conf has bob", "bob@test.example" in
          open(os.path.join(tmp, "config", "domains.conf")).read())
    rc, out, err = run(["config", "account", "add", "bob", "bob2@test.example"])
    check("duplicate account refused", rc == 1 and err.strip() != "", (rc, err))

    # Delivery over SMTP.
    check("deliver to bob", deliver("bob@test.example", "for bob 1") == {})
    check("stored in bob's account", stored("bob", "for bob 1"))
    check("not in admin's account", not stored("admin", "for bob 1"))
    check("deliver to admin", deliver("admin@test.example", "for admin 1") == {})
    check("stored in admin's account", stored("admin", "for admin 1"))
    check("catchall separator", deliver("bob+tag@test.example", "for bob tag") == {})
    check("unknown user 550", deliver("nosuchuser@test.example", "nobody") == 550)
    check("other domain 550", deliver("bob@elsewhere.example", "relay") == 550)

    # IMAP: each login sees its own account.
    def imap_subjects(user, pw):
        m = imaplib.IMAP4_SSL("127.0.0.1", imaps_port, ssl_context=ctx, timeout=20)
        try:
            m.login(user, pw)
            typ, _ = m.select("Inbox")
            typ, data = m.fetch("1:*", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
            subs = [d[1].decode().strip() for d in data if isinstance(d, tuple)]
            m.logout()
            return subs
        except imaplib.IMAP4.error as e:
            return "error: %s" % e
    subs = imap_subjects("bob@test.example", "bobsecret1234")
    check("imap bob sees his mail", isinstance(subs, list) and "Subject: for bob 1" in subs, subs)
    check("imap bob not admin's", isinstance(subs, list) and "Subject: for admin 1" not in subs,
          subs)
    subs = imap_subjects("admin@test.example", admin_pw)
    check("imap admin sees own mail", isinstance(subs, list) and subs == ["Subject: for admin 1"],
          subs)
    check("imap bad password", imap_subjects("bob@test.example", "nope").startswith("error"))
    check("imap unknown user", imap_subjects("zed@test.example", "nope").startswith("error"))

    # Submission with AUTH to a remote address: queued.
    s = smtplib.SMTP("127.0.0.1", sub_port, timeout=20)
    s.ehlo("client.example")
    s.starttls(context=ctx)
    s.ehlo("client.example")
    try:
        s.login("bob@test.example", "wrongpassword")
        check("bad password refused", False)
    except smtplib.SMTPAuthenticationError:
        check("bad password refused", True)
    s.login("bob@test.example", "bobsecret1234")
    r = s.sendmail("bob@test.example", ["someone@remote.example"],
                   message("someone@remote.example", "submitted 1", "bob@test.example"))
    check("submission accepted", r == {}, r)
    # The From address must be the account's (mox's submission rules).
    try:
        s.sendmail("bob@test.example", ["someone@remote.example"],
                   message("someone@remote.example", "forged", "admin@test.example"))
        check("foreign From refused", False, "accepted")
    except smtplib.SMTPDataError as e:
        check("foreign From refused", e.smtp_code == 550, e)
    s.quit()
    # Submissions (implicit TLS) to a local address: the queue delivers
    # it to the account.
    s = smtplib.SMTP_SSL("127.0.0.1", subs_port, timeout=20, context=ctx)
    s.login("admin@test.example", admin_pw)
    r = s.sendmail("admin@test.example", ["bob@test.example"],
                   message("bob@test.example", "submitted local", "admin@test.example"))
    check("submissions accepted", r == {}, r)
    s.quit()
    deadline = time.time() + 15
    while time.time() < deadline and not stored("bob", "submitted local"):
        time.sleep(0.2)
    check("submitted local mail delivered by the queue", stored("bob", "submitted local"))
    rc, out, err = run(["queue", "list", "-datadir", datadir])
    check("queue list shows the submission", rc == 0 and "someone@remote.example" in out,
          out + err)
    check("forged not queued", out.count("someone@remote.example") == 1, out)
    qid = [l.split()[0] for l in out.splitlines() if "someone@remote.example" in l]
    if qid:
        rc, dump, err = run(["queue", "dump", "-datadir", datadir, qid[0]])
        check("queued message DKIM-signed", rc == 0 and "DKIM-Signature:" in dump, dump[:2000])
        check("queued message has Message-Id", "Message-ID:" in dump or "Message-Id:" in dump)
    rc, out, err = run(["queue", "kick", "-todomain", "remote.example"])
    check("queue kick over ctl", rc == 0 and "1 message(s)" in out, out + err)
    rc, out, err = run(["queue", "kick"])
    check("queue kick all over ctl", rc == 0 and "message(s) marked" in out, out + err)
    rc, out, err = run(["queue", "kick", "-id", "notanumber"])
    check("queue kick bad id", rc == 1 and "bad id" in err, (rc, err))

    # domains.conf changed over ctl, effective without restart.
    check("carol unknown before", deliver("carol@test.example", "carol 0") == 550)
    rc, out, err = run(["config", "address", "add", "carol@test.example", "bob"])
    check("address add", rc == 0, out + err)
    check("carol delivered after add", deliver("carol@test.example", "carol 1") == {})
    check("carol's mail in bob's account", stored("bob", "carol 1"))
    rc, out, err = run(["config", "address", "rm", "carol@test.example"])
    check("address rm", rc == 0, out + err)
    check("carol refused after rm", deliver("carol@test.example", "carol 2") == 550)
    rc, out, err = run(["config", "domain", "add", "other.example", "bob"])
    check("domain add", rc == 0, out + err)
    rc, out, err = run(["config", "address", "add", "dave@other.example", "bob"])
    check("address add in new domain", rc == 0, out + err)
    check("deliver to new domain", deliver("dave@other.example", "dave 1") == {})
    check("new domain's mail in bob's account", stored("bob", "dave 1"))
    rc, out, err = run(["config", "address", "add", "x@unconfigured.example", "bob"])
    check("address in unknown domain refused", rc == 1 and err.strip() != "", (rc, err))
    rc, out, err = run(["config", "address", "rm", "dave@other.example"])
    check("address rm in new domain", rc == 0, out + err)
    rc, out, err = run(["config", "domain", "rm", "other.example"])
    check("domain rm", rc == 0, out + err)
    check("domain gone", deliver("dave@other.example", "dave 2") == 550)

    # A change to the file itself is picked up (polled every second).
    dconf = os.path.join(tmp, "config", "domains.conf")
    dtext = open(dconf).read()
    check("file has bob's destination", "\t\t\tbob@test.example: nil\n" in dtext)
    if "\t\t\tbob@test.example: nil\n" in dtext:
        ntext = dtext.replace("\t\t\tbob@test.example: nil\n",
                              "\t\t\tbob@test.example: nil\n\t\t\terin@test.example: nil\n", 1)
        tmpf = dconf + ".test"
        open(tmpf, "w").write(ntext)
        os.rename(tmpf, dconf)
        ok = False
        deadline = time.time() + 10
        while time.time() < deadline and not ok:
            time.sleep(0.3)
            ok = deliver("erin@test.example", "erin 1") == {}
        check("file edit reloaded", ok)

    # Log levels.
    rc, out, err = run(["loglevels"])
    check("loglevels print", rc == 0 and out.startswith("info"), out + err)
    rc, out, err = run(["loglevels", "debug", "smtpserver"])
    check("loglevels set", rc == 0, out + err)
    rc, out, err = run(["loglevels"])
    check("loglevels shows change", rc == 0 and "smtpserver=debug" in out, out + err)
    rc, out, err = run(["loglevels", "bogus"])
    check("loglevels bad level", rc == 1 and "unknown log level" in err, (rc, err))

    # Bad ctl input.
    rc, out, err = run(["config", "account", "add", "onlyname"])
    check("config usage", rc != 0 and "usage" in err, (rc, err))
    rc, out, err = run(["setaccountpassword", "nosuch@test.example"], inp="pw12345678\n")
    check("password for unknown account", rc == 1 and "no account" in err, (rc, err))

    def raw(req, nresp=1):
        """Send req, read until nresp final lines ("ok", "err ...") or EOF."""
        c = socket.socket(socket.AF_UNIX)
        c.settimeout(10)
        c.connect(ctlpath)
        try:
            c.sendall(req)
        except OSError:
            pass
        data = b""
        def finals():
            return sum(1 for l in data.split(b"\n")[:-1] if l == b"ok" or l.startswith(b"err "))
        while finals() < nresp:
            try:
                d = c.recv(4096)
            except OSError:
                break
            if not d:
                break
            data += d
        c.close()
        return data
    check("raw unknown command", raw(b"frobnicate\n\n").startswith(b"err unknown command"))
    check("raw bad line", raw(b"loglevels\r\n\n").startswith(b"err bad request"))
    two = raw(b"loglevels\n\nloglevels\ninfo\n\n", 2)
    check("raw two requests", two.startswith(b"> info") and two.split(b"\n").count(b"ok") == 2, two)
    check("raw one request", raw(b"loglevels\n\n").endswith(b"ok\n"))
    check("raw too long", raw(b"x" * 70000).startswith(b"err request too long"))
    if root:
        # Another user than root and the server's: refused.
        other = pwd.getpwnam("daemon").pw_uid
        dmode = stat.S_IMODE(os.stat(datadir).st_mode)
        os.chmod(datadir, 0o755)
        os.chmod(ctlpath, 0o666)  # only SO_PEERCRED stands in the way now
        code = ("import socket,sys\nc=socket.socket(socket.AF_UNIX)\nc.settimeout(10)\n"
                "c.connect(sys.argv[1])\n"
                "sys.stdout.write(c.recv(200).decode())\n")
        def pre():
            os.setgroups([])
            os.setgid(other)
            os.setuid(other)
        p = subprocess.run(["/usr/bin/python3", "-c", code, ctlpath], capture_output=True,
                           text=True, timeout=30, preexec_fn=pre)
        check("other user refused", p.stdout.startswith("err permission denied"),
              (p.stdout, p.stderr))
        os.chmod(ctlpath, 0o600)
        os.chmod(datadir, dmode)

    # mox stop: new connections get 421 during the grace period.
    stopper = subprocess.Popen([mox, "stop"], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    time.sleep(0.7)
    try:
        c = socket.create_connection(("127.0.0.1", smtp_port), timeout=5)
        greet = c.recv(512)
        c.close()
    except OSError as e:
        greet = str(e).encode()
    check("421 while stopping", greet.startswith(b"421 "), greet)
    sout, serr = stopper.communicate(timeout=30)
    check("mox stop exit 0", stopper.returncode == 0, (sout, serr))
    try:
        rc = proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        rc = None
    check("server exit 0 after stop", rc == 0, rc)
    rc, out, err = run(["stop"])
    check("stop without server", rc == 1 and "mox serve running" in err, (rc, err))
finally:
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    log.close()
    if failed:
        print(open(os.path.join(tmp, "log.txt")).read()[-6000:])
    subprocess.run(["rm", "-rf", tmp])
print("serve: %d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
