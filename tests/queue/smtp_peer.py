#!/usr/bin/python3
"""A scripted SMTP server for the queue tests (tests/queue/test_queue_deliver.c).

usage: smtp_peer.py ADDR PORT MODE DIR [CERT KEY]

Listens on ADDR:PORT, prints "ready" on stdout once listening, and serves
connections one at a time until killed. Each accepted message is written to
DIR/msg-N.eml (N counting from 1), first line "RCPT <addr>", then the data,
only after the final "." got its 250 reply, so a connection that ends
earlier leaves no file (the test checks for duplicates).

MODE:
  accept   every command is accepted
  flaky    the first connection gets "451 4.3.0" to RCPT TO, later ones
           are accepted (retry after a temporary failure)
  reject   RCPT TO gets "550 5.1.1 no such user"
  drop     the first connection is closed in the middle of the message
           data without a reply; later ones are accepted
  plain    as accept, but without 8BITMIME and SMTPUTF8 in the EHLO reply
  tls      as accept, and offers STARTTLS (RFC 3207) with CERT/KEY; the
           saved file's first line says "TLS=1" for a message sent over TLS
"""
import os
import socket
import ssl
import sys


def serve(conn, mode, nconn, outdir, counter, tlsctx):
    f = conn.makefile("rb")
    tls = [False]

    def send(line):
        conn.sendall(line.encode() + b"\r\n")

    send("220 peer.mox.test ESMTP test peer")
    rcpts = []
    while True:
        line = f.readline()
        if not line:
            return
        cmd = line.decode("utf-8", "replace").strip()
        verb = cmd.split(" ", 1)[0].upper()
        if verb == "EHLO":
            send("250-peer.mox.test")
            if mode != "plain":
                send("250-8BITMIME")
                send("250-SMTPUTF8")
            send("250-PIPELINING")
            if tlsctx is not None and not tls[0]:
                send("250-STARTTLS")
            send("250 ENHANCEDSTATUSCODES")
        elif verb == "STARTTLS" and tlsctx is not None and not tls[0]:
            send("220 2.0.0 go ahead")
            conn = tlsctx.wrap_socket(conn, server_side=True)
            f = conn.makefile("rb")
            tls[0] = True
        elif verb == "HELO":
            send("250 peer.mox.test")
        elif verb == "MAIL":
            rcpts = []
            send("250 2.1.0 ok")
        elif verb == "RCPT":
            if mode == "reject":
                send("550 5.1.1 no such user")
            elif mode == "flaky" and nconn == 1:
                send("451 4.3.0 try again later")
            else:
                rcpts.append(cmd[8:].strip().strip("<>"))
                send("250 2.1.5 ok")
        elif verb == "DATA":
            if not rcpts:
                send("554 5.5.1 no valid recipients")
                continue
            send("354 go ahead")
            data = b""
            nlines = 0
            while True:
                l = f.readline()
                if not l:
                    return
                nlines += 1
                if mode == "drop" and nconn == 1 and nlines == 2:
                    # Gone in the middle of the data, no reply.
                    conn.shutdown(socket.SHUT_RDWR)
                    return
                if l in (b".\r\n", b".\n"):
                    break
                if l.startswith(b".."):
                    l = l[1:]
                data += l
            counter[0] += 1
            path = os.path.join(outdir, "msg-%d.eml" % counter[0])
            with open(path + ".tmp", "wb") as o:
                o.write(b"RCPT " + rcpts[0].encode() + b" TLS=" + (b"1" if tls[0] else b"0") + b"\r\n" + data)
            send("250 2.0.0 queued as %d" % counter[0])
            os.rename(path + ".tmp", path)
        elif verb == "RSET" or verb == "NOOP":
            send("250 2.0.0 ok")
        elif verb == "QUIT":
            send("221 2.0.0 bye")
            return
        else:
            send("500 5.5.2 unknown command")


def main():
    addr, port, mode, outdir = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    tlsctx = None
    if mode == "tls":
        tlsctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        tlsctx.load_cert_chain(sys.argv[5], sys.argv[6])
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, port))
    s.listen(16)
    print("ready", flush=True)
    nconn = 0
    counter = [0]
    while True:
        conn, _ = s.accept()
        nconn += 1
        conn.settimeout(30)
        try:
            serve(conn, mode, nconn, outdir, counter, tlsctx)
        except (OSError, socket.timeout, ssl.SSLError):
            pass
        finally:
            conn.close()


if __name__ == "__main__":
    main()
