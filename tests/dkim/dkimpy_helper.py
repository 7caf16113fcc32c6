#!/usr/bin/python3
# dkimpy (Debian python3-dkim) for tests/dkim/test_dkim_interop.c. Run with
# /usr/bin/python3 (Debian's, which has python3-dkim), not another python.
#
#   dkimpy_helper.py verify DNSADDR MSGFILE
#       prints one line per DKIM-Signature: "pass" or "fail <reason>";
#       keys come from the DNS server at DNSADDR (ip:port) via dnspython.
#   dkimpy_helper.py sign SELECTOR DOMAIN KEYFILE ALG CANON MSGFILE
#       prints the DKIM-Signature field; ALG rsa-sha256 or ed25519-sha256
#       (KEYFILE: PEM for RSA, base64 seed for ed25519); CANON like
#       relaxed/simple.
import sys

import dkim
import dns.resolver


def dnsfunc_for(addr):
    host, port = addr.rsplit(":", 1)
    r = dns.resolver.Resolver(configure=False)
    r.nameservers = [host]
    r.port = int(port)
    r.timeout = r.lifetime = 5

    def get_txt(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode()
        try:
            ans = r.resolve(name, "TXT")
        except Exception:
            return None
        for rr in ans:
            return b"".join(rr.strings)
        return None

    return get_txt


def verify(addr, path):
    msg = open(path, "rb").read()
    d = dkim.DKIM(msg)
    n = len([h for h in d.headers if h[0].lower() == b"dkim-signature"])
    get_txt = dnsfunc_for(addr)
    for i in range(n):
        try:
            ok = d.verify(idx=i, dnsfunc=get_txt)
            print("pass" if ok else "fail signature")
        except dkim.ValidationError as e:
            print("fail %s" % e)


def sign(selector, domain, keyfile, alg, canon, path):
    msg = open(path, "rb").read()
    key = open(keyfile, "rb").read().strip()
    h, b = canon.split("/")
    sig = dkim.sign(msg, selector.encode(), domain.encode(), key,
                    canonicalize=(h.encode(), b.encode()),
                    signature_algorithm=alg.encode(),
                    include_headers=[b"from", b"to", b"subject", b"date", b"message-id",
                                     b"x-tag"])
    sys.stdout.buffer.write(sig)


if __name__ == "__main__":
    if sys.argv[1] == "verify":
        verify(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "sign":
        sign(*sys.argv[2:8])
    else:
        sys.exit(2)
