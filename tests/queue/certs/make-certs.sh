#!/bin/sh
# Makes the test PKI for tests/queue (run once; the output is committed):
#   ca.pem           test CA (the queue's ca_file in the PKIX/MTA-STS test)
#   mx.pem / mx.key  signed by the CA for mx.tls.mox.test and
#                    mx.danebad.mox.test (the STARTTLS peer)
# EC P-256 keys, valid for 100 years, so the tests do not age.
set -eu
cd "$(dirname "$0")"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
days=36500
openssl ecparam -name prime256v1 -genkey -noout -out "$tmp/ca.key"
openssl req -x509 -new -key "$tmp/ca.key" -days $days -subj "/CN=mox-c queue test CA" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
	-out ca.pem
openssl ecparam -name prime256v1 -genkey -noout -out mx.key
openssl req -new -key mx.key -subj "/CN=mx.tls.mox.test" -out "$tmp/mx.csr"
printf 'subjectAltName=DNS:mx.tls.mox.test,DNS:mx.danebad.mox.test,DNS:mx.stsbad.mox.test\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n' >"$tmp/ext"
openssl x509 -req -in "$tmp/mx.csr" -CA ca.pem -CAkey "$tmp/ca.key" -CAserial "$tmp/ca.srl" -CAcreateserial \
	-days $days -extfile "$tmp/ext" -out mx.pem
