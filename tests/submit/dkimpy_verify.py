"""Verify every DKIM-Signature of a message with dkimpy.

Usage: dkimpy_verify.py message-file records-file
records-file has lines "name<TAB>txt" (name without trailing dot). DNS
lookups are answered from it only: nothing goes to the network.
Prints "sig N: pass|fail" per signature; exit 0 when all pass and there
is at least one, 1 otherwise.
"""
import sys

import dkim


def main():
    msg = open(sys.argv[1], "rb").read()
    records = {}
    for line in open(sys.argv[2], "rb").read().splitlines():
        if not line.strip():
            continue
        name, txt = line.split(b"\t", 1)
        records[name.lower().rstrip(b".")] = txt

    def dnsfunc(name, timeout=5):
        return records.get(name.lower().rstrip(b"."))

    d = dkim.DKIM(msg)
    n = sum(1 for (k, _) in d.headers if k.lower() == b"dkim-signature")
    ok = n > 0
    for i in range(n):
        try:
            r = d.verify(idx=i, dnsfunc=dnsfunc)
        except Exception as e:  # a verification error is a failure
            print("sig %d: error %s" % (i, e))
            r = False
        print("sig %d: %s" % (i, "pass" if r else "fail"))
        ok = ok and r
    sys.exit(0 if ok else 1)


main()
