#!/usr/bin/env python3
"""Write tests/transcripts/auth_cram.txt and auth_scram.txt: the client side
of CRAM-MD5 (RFC 2195) and SCRAM-SHA-1/256 (RFC 5802, RFC 7677) computed with
Python's hashlib/hmac, independently of the C code, against the server core
driven by the transcript runner. The runner's random bytes are a counter
starting at 0 in each session (test_random in test_transcripts.c), so the
server's challenges and nonces are known here. Run from anywhere:

    python3 gen_auth_transcripts.py
"""
import base64, hashlib, hmac, os, struct, unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "transcripts")

EHLO_SUB_TLS = """C: EHLO client.example
E: hello EHLO client.example
A: accept
S: 250-mox.example
S: 250-PIPELINING
S: 250-SIZE 104857600
S: 250-REQUIRETLS
S: 250-AUTH {mechs}
S: 250-ENHANCEDSTATUSCODES
S: 250-8BITMIME
S: 250-LIMITS RCPTMAX=1000
S: 250-CHUNKING
S: 250 SMTPUTF8
"""
MECHS = "SCRAM-SHA-256 SCRAM-SHA-1 CRAM-MD5 PLAIN LOGIN"
MECHS_PLUS = "SCRAM-SHA-256-PLUS SCRAM-SHA-256 SCRAM-SHA-1-PLUS SCRAM-SHA-1 CRAM-MD5 PLAIN LOGIN"


def b64(b):
    return base64.b64encode(b).decode()


def counter(start, n):
    return bytes((start + i) & 0xFF for i in range(n))


def cram():
    chal_raw = counter(0, 16)
    a, b = struct.unpack("<QQ", chal_raw)
    chal = f"<{a}.{b}@mox.example>".encode()
    good = hmac.new(b"tanstaaftanstaaf", chal, hashlib.md5).hexdigest()
    bad = hmac.new(b"wrong", chal, hashlib.md5).hexdigest()
    s = ["# AUTH CRAM-MD5, RFC 2195 with RFC 4954; written by",
         "# tools/gen_auth_transcripts.py (client side computed in Python).", ""]
    for name, user, digest, answer, result, reply in [
        ("good password", "tim", good, "password tanstaaftanstaaf", "auth-result ok CRAM-MD5 tim", "235 2.7.0 nice"),
        ("wrong password", "tim", bad, "password tanstaaftanstaaf",
         "auth-result fail CRAM-MD5 bad-credentials tim", "535 5.7.8 bad user/pass"),
        ("unknown user", "nobody", good, "verdict bad",
         "auth-result fail CRAM-MD5 bad-credentials nobody", "535 5.7.8 bad user/pass"),
        ("upper-case hex digest is taken", "tim", good.upper(), "password tanstaaftanstaaf",
         "auth-result ok CRAM-MD5 tim", "235 2.7.0 nice"),
    ]:
        s += [f"== {name}", "opt submission tls", "S: 220 mox.example ESMTP",
              EHLO_SUB_TLS.format(mechs=MECHS).rstrip("\n"),
              "C: AUTH CRAM-MD5", f"S: 334 {b64(chal)}",
              f"C: {b64((user + ' ' + digest).encode())}",
              f"E: auth CRAM-MD5 password authc={user}", f"A: {answer}",
              f"E: {result}", f"S: {reply}", ""]
    s += ["== no initial response allowed; malformed response",
          "opt submission tls", "S: 220 mox.example ESMTP",
          EHLO_SUB_TLS.format(mechs=MECHS).rstrip("\n"),
          "C: AUTH CRAM-MD5 dGlt",
          "E: auth-result fail CRAM-MD5 malformed",
          "S: 501 5.5.2 CRAM-MD5 takes no initial response",
          "C: AUTH CRAM-MD5", f"S: 334 {b64(counter(16, 0) or chal2())}" if False else "C: AUTH CRAM-MD5",
          ]
    # The refused AUTH used no random bytes: the same challenge again.
    s.pop()
    s += [f"S: 334 {b64(chal)}", f"C: {b64(b'tim')}",
          "E: auth-result fail CRAM-MD5 malformed",
          "S: 501 5.5.2 malformed CRAM-MD5 response", ""]
    return "\n".join(s)


def scram_vectors(hname, user, password, cnonce, snonce_start, salt, iters, gs2, cbdata=b"",
                  authz_user=None, tamper=None):
    h = getattr(hashlib, hname)
    snonce = b64(counter(snonce_start, 18))
    first_bare = f"n={user},r={cnonce}"
    client_first = gs2 + first_bare
    server_first = f"r={cnonce}{snonce},s={b64(salt)},i={iters}"
    pw = unicodedata.normalize("NFC", password).encode()
    salted = hashlib.pbkdf2_hmac(hname, pw, salt, iters)
    ckey = hmac.new(salted, b"Client Key", h).digest()
    stored = h(ckey).digest()
    cbind = b64(gs2.encode() + cbdata)
    without_proof = f"c={cbind},r={cnonce}{snonce}"
    auth = f"{first_bare},{server_first},{without_proof}".encode()
    csig = hmac.new(stored, auth, h).digest()
    proof = bytes(a ^ b for a, b in zip(ckey, csig))
    if tamper == "proof":
        proof = bytes([proof[0] ^ 1]) + proof[1:]
    client_final = f"{without_proof},p={b64(proof)}"
    skey = hmac.new(salted, b"Server Key", h).digest()
    ssig = hmac.new(skey, auth, h).digest()
    return client_first, server_first, client_final, f"v={b64(ssig)}"


def scram():
    salt = b"saltsaltsalt1234"
    s = ["# AUTH SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802, RFC 7677) with RFC 4954,",
         "# and the -PLUS variants with tls-exporter channel binding; written by",
         "# tools/gen_auth_transcripts.py (client side computed in Python).", ""]

    def session(title, mech, hname, user, password, cnonce, gs2="n,,", cbhex=None,
                initial=True, tamper=None, secret_pw=None, expect="ok"):
        cb = bytes.fromhex(cbhex) if cbhex else b""
        cf, sf, cfin, sfin = scram_vectors(hname, user, password, cnonce, 0, salt, 4096, gs2, cb,
                                           tamper=tamper)
        hashw = "sha256" if hname == "sha256" else "sha1"
        out = [f"== {title}", "opt submission tls", "S: 220 mox.example ESMTP"]
        if cbhex:
            out.append(f"A: cb tls-exporter {cbhex}")
        out.append(EHLO_SUB_TLS.format(mechs=MECHS_PLUS if cbhex else MECHS).rstrip("\n"))
        if initial:
            out.append(f"C: AUTH {mech} {b64(cf.encode())}")
        else:
            out += [f"C: AUTH {mech}", "S: 334 ", f"C: {b64(cf.encode())}"]
        out += [f"E: auth {mech} scram authc={user} authz=",
                f"A: scram {hashw} {b64(salt)} 4096 {secret_pw or password}",
                f"S: 334 {b64(sf.encode())}", f"C: {b64(cfin.encode())}"]
        if expect == "ok":
            out += [f"S: 334 {b64(sfin.encode())}", "C: ", f"E: auth-result ok {mech} {user}",
                    "S: 235 2.7.0 nice"]
        else:
            out += [f"S: 334 {b64(b'e=invalid-proof')}", "C: *",
                    f"E: auth-result fail {mech} bad-credentials {user}",
                    "S: 535 5.7.8 bad user/pass"]
        out.append("")
        return out

    s += session("SCRAM-SHA-256 with initial response", "SCRAM-SHA-256", "sha256", "user",
                 "pencil", "rOprNGfwEbeRWgbNEkqO")
    s += session("SCRAM-SHA-1 without initial response", "SCRAM-SHA-1", "sha1", "user",
                 "pencil", "fyko+d2lbbFgONRv9qkxdawL", initial=False)
    s += session("SCRAM-SHA-256 with a non-ASCII password (NFC)", "SCRAM-SHA-256", "sha256",
                 "jos\u00e9", "pa\u0301ss\u00e9", "abcdefghijklmnop")
    s += session("SCRAM-SHA-256 wrong password", "SCRAM-SHA-256", "sha256", "user", "wrong",
                 "rOprNGfwEbeRWgbNEkqO", secret_pw="pencil", expect="bad")
    s += session("SCRAM-SHA-256-PLUS with tls-exporter", "SCRAM-SHA-256-PLUS", "sha256", "user",
                 "pencil", "rOprNGfwEbeRWgbNEkqO", gs2="p=tls-exporter,,",
                 cbhex="00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")
    s += session("SCRAM-SHA-1-PLUS with tls-exporter", "SCRAM-SHA-1-PLUS", "sha1", "user",
                 "pencil", "fyko+d2lbbFgONRv9qkxdawL", gs2="p=tls-exporter,,",
                 cbhex="ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100")
    # Channel binding of another connection: the proof is over other bytes.
    cf, sf, cfin, sfin = scram_vectors("sha256", "user", "pencil", "rOprNGfwEbeRWgbNEkqO", 0, salt,
                                       4096, "p=tls-exporter,,", bytes(32))
    s += ["== -PLUS with the wrong channel binding data (a MitM)", "opt submission tls",
          "S: 220 mox.example ESMTP", "A: cb tls-exporter " + "11" * 32,
          EHLO_SUB_TLS.format(mechs=MECHS_PLUS).rstrip("\n"),
          f"C: AUTH SCRAM-SHA-256-PLUS {b64(cf.encode())}",
          "E: auth SCRAM-SHA-256-PLUS scram authc=user authz=",
          f"A: scram sha256 {b64(salt)} 4096 pencil", f"S: 334 {b64(sf.encode())}",
          f"C: {b64(cfin.encode())}", f"S: 334 {b64(b'e=channel-bindings-dont-match')}",
          "C: *", "E: auth-result fail SCRAM-SHA-256-PLUS channel-binding user",
          "S: 535 5.7.8 channel bindings do not match", ""]
    # Unknown user: random salt (16 bytes) and salted password (32), then the nonce.
    snonce = b64(counter(48, 18))
    fake_sf = f"r=rOprNGfwEbeRWgbNEkqO{snonce},s={b64(counter(0, 16))},i=4096"
    cfin = f"c=biws,r=rOprNGfwEbeRWgbNEkqO{snonce},p={b64(bytes(32))}"
    s += ["== unknown user: the exchange goes on and fails at the proof", "opt submission tls",
          "S: 220 mox.example ESMTP", EHLO_SUB_TLS.format(mechs=MECHS).rstrip("\n"),
          f"C: AUTH SCRAM-SHA-256 {b64(b'n,,n=nobody,r=rOprNGfwEbeRWgbNEkqO')}",
          "E: auth SCRAM-SHA-256 scram authc=nobody authz=", "A: scram-unknown",
          f"S: 334 {b64(fake_sf.encode())}", f"C: {b64(cfin.encode())}",
          f"S: 334 {b64(b'e=invalid-proof')}", "C: abc=",
          "S: 535 5.7.8 bad user/pass", "E: auth-result fail SCRAM-SHA-256 bad-credentials nobody", ""]
    # Errors in the client-first message.
    s += ["== client-first errors", "opt submission tls auth_failures_max=100",
          "S: 220 mox.example ESMTP", EHLO_SUB_TLS.format(mechs=MECHS).rstrip("\n")]
    for msg, res, reply in [
        (b"x,,n=user,r=abcdefghij", "malformed", "501 5.5.2 bad gs2 channel binding flag"),
        (b"n,,m=ext,n=user,r=abcdefghij", "unsupported", "504 5.5.4 mandatory extension not supported"),
        (b"n,,n=user,r=short", "malformed", "501 5.5.2 client nonce too short or long"),
        (b"n,,n=us=3Xer,r=abcdefghij", "malformed", "501 5.5.2 bad username"),
        (b"p=tls-exporter,,n=user,r=abcdefghij", "channel-binding",
         "535 5.7.8 channel binding requested without TLS"),
        (b"n,a=other,n=user,r=abcdefghij", "authz",
         "535 5.7.8 authentication with authorization for different user not supported"),
        ("n,,n=jose\u0301,r=abcdefghij".encode(), "malformed", "501 5.5.2 username not in unicode NFC"),
    ]:
        user = " user" if res == "authz" else ""
        s += [f"C: AUTH SCRAM-SHA-256 {b64(msg)}", f"E: auth-result fail SCRAM-SHA-256 {res}{user}",
              f"S: {reply}"]
    s.append("")
    return "\n".join(s)


def main():
    with open(os.path.join(OUT, "auth_cram.txt"), "w") as f:
        f.write(cram())
    with open(os.path.join(OUT, "auth_scram.txt"), "w") as f:
        f.write(scram())


if __name__ == "__main__":
    main()
