#!/bin/sh
# Makes the test PKI for tests/mtasts (run once; the output is committed):
#   ca.pem            test CA the integration test trusts (CA file option)
#   server.pem/.key   signed by the CA for the mta-sts.*.sts.test policy hosts
#   untrusted.pem/.key self-signed for mta-sts.untrusted.sts.test
# EC P-256 keys, valid for 100 years, so the tests do not age.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
days=36500
openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/ca.key"
openssl req -x509 -new -key "$tmp/ca.key" -days $days -subj "/CN=mox-c test CA" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
	-out ca.pem
openssl ecparam -name prime256v1 -genkey -noout -out server.key
hosts="good testing slow trickle huge hugecl exact over ctype noctype redirect notfound status syntax none"
san=""
for h in $hosts; do
	san="${san:+$san,}DNS:mta-sts.$h.sts.test"
done
openssl req -new -key server.key -subj "/CN=mta-sts.good.sts.test" -out "$tmp/server.csr"
printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' "$san" >"$tmp/ext"
openssl x509 -req -in "$tmp/server.csr" -CA ca.pem -CAkey "$tmp/ca.key" -CAserial "$tmp/ca.srl" -CAcreateserial \
	-days $days -extfile "$tmp/ext" -out server.pem
openssl ecparam -name prime256v1 -genkey -noout -out untrusted.key
openssl req -x509 -new -key untrusted.key -days $days -subj "/CN=mta-sts.untrusted.sts.test" \
	-addext "subjectAltName=DNS:mta-sts.untrusted.sts.test" -out untrusted.pem
