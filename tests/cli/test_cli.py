#!/usr/bin/python3
"""The mox CLI commands of issue #11, end to end.

- help: every entry of the command table (read from server/commands.c) is
  in the "mox help" list, and "mox help <name>" prints its usage line and
  a paragraph; groups ("mox help config") list their commands; unknown
  commands (for help and for mox itself) exit 2.
- version: mox-c and one line per library, libmoxcore and libmoxdns first.
- example: the list, each example printed, mox.conf == describe-static,
  domains.conf == describe-domains, the transport example accepted by
  "mox config test" when added to mox.conf.
- quickstart into a temp dir, then config printservice (the same unit as
  quickstart printed) and clientconfig (from the listeners).
- config dnscheck: unbound on a free loopback port serves the zone that
  "mox config dnsrecords" prints, first with the MX, DMARC, one DKIM key and
  the host address wrong and TLSRPT missing (exit 1, each reported), then
  right (exit 0).
Prints "N passed, M failed". Usage: test_cli.py MOX_BINARY COMMANDS_C"""
import os, re, socket, subprocess, sys, tempfile, time

mox, commands_c = os.path.abspath(sys.argv[1]), sys.argv[2]
passed = failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print("FAIL", name, str(detail)[-3000:])


tmp = tempfile.mkdtemp(prefix="mox-cli-")
tmp = os.path.realpath(tmp)
env = dict(os.environ, MOX_RESOLVER="127.0.0.1:9",
           MOXCONF=os.path.join(tmp, "config", "mox.conf"))


def run(args, cwd=None, timeout=60):
    p = subprocess.run([mox] + args, capture_output=True, text=True, env=env, cwd=cwd,
                       timeout=timeout)
    return p.returncode, p.stdout, p.stderr


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
            continue
        finally:
            u.close()
            t.close()
    raise RuntimeError("no free port")


# ---- help ----
src = open(commands_c).read()
table = src[src.index("static const mox_command commands[]"):src.index("#undef B")]
names = re.findall(r'^\s*\{"([a-z0-9 -]+)",', table, re.M)
check("table has commands", len(names) >= 40, names)
check("table names unique", len(set(names)) == len(names), names)
rc, listing, err = run(["help"])
check("mox help", rc == 0 and listing.startswith("usage: mox"), err)
listed = [l.strip() for l in listing.splitlines() if l.startswith("  ") and l.strip()]
for n in names:
    check("listed: " + n, any(l == n or l.startswith(n + " ") for l in listed))
    rc, out, err = run(["help"] + n.split())
    lines = out.split("\n")
    para = " ".join(lines[2:]).strip()
    check("help " + n, rc == 0 and re.match(r"usage: mox %s( |$)" % re.escape(n), lines[0])
          and lines[1] == "" and len(para) >= 60 and out.endswith("\n"), (rc, out, err))
rc, out, err = run(["help", "config"])
check("help group config", rc == 0 and out.count("usage: mox config ") >= 6, out)
rc, out, err = run(["help", "nosuchcommand"])
check("help unknown", rc == 2 and "unknown command 'nosuchcommand'" in err, (rc, err))
rc, out, err = run(["help", "config", "nosuch"])
check("help unknown subcommand", rc == 2, (rc, err))
rc, out, err = run(["nosuchcommand"])
check("unknown command", rc == 2 and "unknown command" in err, (rc, err))
rc, out, err = run([])
check("no command", rc == 2 and "usage: mox" in err, (rc, err))
# Tool commands of the table reach their tool ("mox dns help").
for tool in sorted(set(n.split()[0] for n in names
                       if n.split()[0] in ("dns", "spf", "dkim", "dmarc", "dnsbl",
                                           "mtasts", "tlsrpt", "message"))):
    rc, out, err = run([tool, "help"])
    check("tool help " + tool, rc in (0, 2) and "usage: mox " + tool in (out + err),
          (rc, out, err))

# Store commands reach mox-store: "mox import" alone prints its usage.
for words in (["import"], ["export"], ["verifydata"]):
    rc, out, err = run(words)
    check("store tool " + words[0], rc == 2 and "usage: mox import maildir" in out + err,
          (rc, out, err))

# ---- version ----
rc, out, err = run(["version"])
vl = out.splitlines()
check("version", rc == 0 and re.match(r"^mox-c \d+\.\d+\.\d+$", vl[0] if vl else "")
      and len(vl) >= 13 and all(re.match(r"^libmox[a-z]+ +\d+\.\d+\.\d+$", l) for l in vl[1:])
      and vl[1].startswith("libmoxcore") and vl[2].startswith("libmoxdns"), out)
rc, out, err = run(["version", "extra"])
check("version extra arg", rc == 2, rc)

# ---- example ----
rc, out, err = run(["example"])
examples = out.split()
check("example list", rc == 0 and {"mox.conf", "domains.conf", "transport", "ruleset"}
      <= set(examples), out)
for e in examples:
    rc, eo, err = run(["example", e])
    check("example " + e, rc == 0 and len(eo) > 100, (rc, err))
for e, cmd in (("mox.conf", "describe-static"), ("domains.conf", "describe-domains")):
    rc1, a, _ = run(["example", e])
    rc2, b, _ = run(["config", cmd])
    check("example %s is %s" % (e, cmd), rc1 == 0 and rc2 == 0 and a == b)
rc, out, err = run(["example", "nosuch"])
check("example unknown", rc == 2 and "unknown example" in err, (rc, err))

# ---- quickstart, printservice, clientconfig ----
import pwd
user = pwd.getpwuid(os.getuid()).pw_name
rc, qs, err = run(["quickstart", "-dir", tmp, "-hostname", "mail.cli.test", "-ip", "127.0.0.1",
                   "me@cli.test", user])
check("quickstart", rc == 0, qs + err)
marker = "A systemd unit, e.g. /etc/systemd/system/mox.service:\n\n"
qunit = qs.split(marker, 1)[1] if marker in qs else ""
rc, unit, err = run(["config", "printservice"], cwd=tmp)
check("printservice same as quickstart", rc == 0 and unit == qunit and
      "ExecStart=%s -config %s/config/mox.conf serve\n" % (os.path.realpath(mox), tmp) in unit,
      (rc, unit, qunit, err))
rc, out, err = run(["config", "printservice", "extra"], cwd=tmp)
check("printservice extra arg", rc == 2, rc)

rc, out, err = run(["clientconfig", "cli.test"])
rows = [l.split(None, 4) for l in out.splitlines()[1:] if l and not l.startswith(("User", "Auth"))]
check("clientconfig", rc == 0 and
      ["IMAP", "mail.cli.test", "993", "public", "with TLS"] in rows and
      ["Submission", "mail.cli.test", "465", "public", "with TLS"] in rows and
      len(rows) == 2, (rc, out, err))
# A plain submission port with STARTTLS and a client settings domain.
conf = os.path.join(tmp, "config", "mox.conf")
orig_conf = open(conf).read()
text = orig_conf.replace("\t\tSubmissions:\n", "\t\tSubmission:\n\t\t\tEnabled: true\n"
                         "\t\t\tPort: 2587\n\t\tSubmissions:\n", 1)
open(conf, "w").write(text)
rc, out, err = run(["clientconfig", "cli.test"])
check("clientconfig starttls", rc == 0 and re.search(
    r"^Submission +mail\.cli\.test +2587 +public +with STARTTLS$", out, re.M), (rc, out, err))
open(conf, "w").write(orig_conf)
rc, out, err = run(["clientconfig", "other.test"])
check("clientconfig unknown domain", rc == 1 and "not configured" in err, (rc, err))

# The transport example is a valid mox.conf part.
rc, tr, _ = run(["example", "transport"])
open(conf, "w").write(orig_conf + tr)
rc, out, err = run(["config", "test"])
check("transport example passes config test", rc == 0 and "config OK" in out, (rc, out, err))
open(conf, "w").write(orig_conf)

# ---- dnscheck against unbound ----
rc, records, err = run(["config", "dnsrecords", "cli.test"])
check("dnsrecords", rc == 0 and "_dmarc.cli.test." in records, err)
head = "$ORIGIN test.\n@ 300 IN SOA ns.test. hostmaster.test. 1 3600 600 86400 60\n" \
       "@ 300 IN NS ns.test.\nns 300 IN A 127.0.0.1\n"
good = head + records
bad_lines = []
dkim_broken = False
for l in records.splitlines():
    if l.startswith("_smtp._tls.cli.test."):
        continue  # TLSRPT missing
    if l.startswith("cli.test.") and " MX " in l:
        l = l.replace("mail.cli.test.", "other.cli.test.")
    if l.startswith("_dmarc.cli.test."):
        l = l.replace("p=reject", "p=none")
    if l.startswith("mail.cli.test.") and " A " in l:
        l = l.replace("127.0.0.1", "127.0.0.2")
    if "._domainkey.cli.test." in l and not dkim_broken:
        l = re.sub(r'p=([A-Za-z0-9+/])', lambda m: "p=" + ("B" if m.group(1) != "B" else "C"), l, 1)
        dkim_broken = True
    bad_lines.append(l)
bad = head + "\n".join(bad_lines) + "\n"
check("dkim record changed", dkim_broken)

dnsport, deadport = free_port(), free_port()
zonefile = os.path.join(tmp, "test.zone")
uconf = """server:
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
remote-control:
  control-enable: no
auth-zone:
  name: "test."
  zonefile: "{z}"
  for-downstream: no
  for-upstream: yes
  fallback-enabled: no
stub-zone:
  name: "."
  stub-addr: 127.0.0.1@{dead}
""".format(p=dnsport, d=tmp, z=zonefile, dead=deadport)
open(os.path.join(tmp, "unbound.conf"), "w").write(uconf)
env["MOX_RESOLVER"] = "127.0.0.1:%d" % dnsport


def start_unbound(zone):
    open(zonefile, "w").write(zone)
    u = subprocess.Popen(["/usr/sbin/unbound", "-d", "-c", os.path.join(tmp, "unbound.conf")],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 10
    while time.time() < deadline:
        p = subprocess.run([mox, "dns", "lookup", "txt", "_dmarc.cli.test"], env=env,
                           capture_output=True, text=True, timeout=30)
        if "DMARC1" in p.stdout:
            return u, True
        time.sleep(0.2)
    return u, False


def stop_unbound(u):
    u.terminate()
    try:
        u.wait(timeout=5)
    except subprocess.TimeoutExpired:
        u.kill()
        u.wait()


def verdicts(out):
    v = {}
    for l in out.splitlines():
        m = re.match(r"^(OK|MISSING|WRONG|ERROR|UNCHECKED) +(\S+) (\S+) ", l)
        if m:
            v.setdefault((m.group(2), m.group(3)), []).append(m.group(1))
    return v


u, ready = start_unbound(bad)
try:
    check("unbound serves the bad zone", ready)
    rc, out, err = run(["config", "dnscheck", "cli.test"])
    if os.environ.get("MOX_TEST_VERBOSE"):
        print(out)
    v = verdicts(out)
    dk = [k for k in v if k[0].endswith("._domainkey.cli.test.")]
    check("dnscheck bad: exit 1", rc == 1, (rc, out, err))
    check("dnscheck bad: MX wrong", v.get(("cli.test.", "MX")) == ["WRONG"]
          and "DNS has: other.cli.test" in out, out)
    check("dnscheck bad: DMARC wrong", v.get(("_dmarc.cli.test.", "TXT")) == ["WRONG"]
          and "p=none" in out, out)
    check("dnscheck bad: TLSRPT missing",
          v.get(("_smtp._tls.cli.test.", "TXT")) == ["MISSING"], out)
    check("dnscheck bad: A wrong", v.get(("mail.cli.test.", "A")) == ["WRONG"]
          and "DNS has: 127.0.0.2" in out, out)
    check("dnscheck bad: one DKIM wrong, one OK", len(dk) == 2 and
          sorted(v[k][0] for k in dk) == ["OK", "WRONG"], out)
    check("dnscheck bad: SPF OK", v.get(("cli.test.", "TXT")) == ["OK"] and
          v.get(("mail.cli.test.", "TXT")) == ["OK"], out)
    check("dnscheck bad: MTA-STS and autoconfig OK",
          v.get(("_mta-sts.cli.test.", "TXT"), ["OK"]) == ["OK"] and
          v.get(("autoconfig.cli.test.", "CNAME")) == ["OK"], out)
    check("dnscheck bad: SRV unchecked",
          v.get(("_imaps._tcp.cli.test.", "SRV")) == ["UNCHECKED"], out)
    check("dnscheck bad: summary", re.search(r"^5 of \d+ checked records missing or different$",
                                             out, re.M), out)
finally:
    stop_unbound(u)

u, ready = start_unbound(good + "\n")
try:
    check("unbound serves the good zone", ready)
    rc, out, err = run(["config", "dnscheck", "cli.test"])
    v = verdicts(out)
    check("dnscheck good: exit 0", rc == 0 and "all " in out, (rc, out, err))
    check("dnscheck good: all OK or SRV", len(v) >= 10 and all(
        x == ["OK"] or (k[1] == "SRV" and x == ["UNCHECKED"]) for k, x in v.items()), out)
    rc, out, err = run(["config", "dnscheck", "other.test"])
    check("dnscheck unknown domain", rc == 1 and "not configured" in err, (rc, err))
    rc, out, err = run(["config", "dnscheck"])
    check("dnscheck usage", rc == 2, rc)
finally:
    stop_unbound(u)

subprocess.run(["rm", "-rf", tmp])
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
