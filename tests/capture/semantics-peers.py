#!/usr/bin/env python3
"""semantics-peers.py: the servers and clients of make-semantics.sh (issue 14: exact
server_closed, orphan responses, failed retries, client expectation timers).

Only the Python standard library, and peers.py's raw HTTP helpers. Run
`semantics-peers.py server ROLE --listen ADDR:PORT` or
`semantics-peers.py client ROLE --connect ADDR:PORT`.

Servers (raw sockets: the behaviour is the point):
  rst-mid      reads the head, sends 100, reads 8 KiB of the body, then resets the
               connection (SO_LINGER 0) while the client is still uploading
  fin-mid      reads the head, sends 100, reads 8 KiB of the body, answers 413 with
               Connection: close and shuts its side down (FIN) while the client is still
               uploading; then reads and drops what comes until the client closes
  greet400     answers every new connection at once with 400 Bad Request and closes,
               before the client sent anything
  417-401      answers 417 to a request with Expect (keeping the connection) and 401 to
               one without (reading its body)
  always417    answers 417 to every request (reading a body that follows)
  giveup       never sends 100; when no body came 6 s after the head, answers 408 with
               Connection: close and closes
Clients:
  silent       connects, sends nothing, reads the answer until the server closes
  wait-forever sends an Expect head and never the body; reads until the server closes
"""
import argparse
import os
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peers  # noqa: E402  (the raw HTTP helpers)
from peers import Conn, log, response  # noqa: E402


def serve(listen, handler):
    host, port = peers.split_hostport(listen)
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, port))
    ls.listen(16)
    log("listening", listen)
    while True:
        s, _ = ls.accept()
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        threading.Thread(target=run_conn, args=(Conn(s), handler), daemon=True).start()


def run_conn(c, handler):
    try:
        handler(c)
    except (EOFError, OSError) as e:
        log("connection ended:", e)
    finally:
        try:
            c.s.close()
        except OSError:
            pass


def read_some_body(c, n):
    """n body bytes (what the head's read left in the buffer counts)."""
    while len(c.buf) < n:
        if not c.fill(10):
            raise EOFError("short body")
    c.buf = c.buf[n:]


def s_rst_mid(c):
    if c.read_head(30) is None:
        return
    c.send(b"HTTP/1.1 100 Continue\r\n\r\n")
    read_some_body(c, 8192)
    c.s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    c.s.close()             # RST: the client is still sending


def s_fin_mid(c):
    if c.read_head(30) is None:
        return
    c.send(b"HTTP/1.1 100 Continue\r\n\r\n")
    read_some_body(c, 8192)
    c.send(response(413, "Payload Too Large", b"too large\n",
                    ["Content-Type: text/plain", "Connection: close"]))
    c.s.shutdown(socket.SHUT_WR)  # FIN while the upload goes on
    c.s.settimeout(5)
    while c.s.recv(65536):    # drop the rest, so that close() sends no RST
        pass


def s_greet400(c):
    c.send(response(400, "Bad Request", b"bad request\n",
                    ["Content-Type: text/plain", "Connection: close"]))
    c.s.shutdown(socket.SHUT_WR)
    c.s.settimeout(5)
    while c.s.recv(65536):
        pass


def s_417_401(c):
    while True:
        r = c.read_head(30)
        if r is None:
            return
        line, hdrs = r
        log("417-401:", line, "expect" in hdrs)
        if "expect" in hdrs:
            c.send(response(417, "Expectation Failed", b"expectation not supported\n",
                            ["Content-Type: text/plain"]))
            continue
        c.read_body(hdrs)
        c.send(response(401, "Unauthorized", b"credentials needed\n",
                        ["Content-Type: text/plain", 'WWW-Authenticate: Basic realm="up"']))


def s_always417(c):
    while True:
        r = c.read_head(30)
        if r is None:
            return
        line, hdrs = r
        c.send(response(417, "Expectation Failed", b"expectation not supported\n",
                        ["Content-Type: text/plain"]))
        if "expect" not in hdrs:
            c.read_body(hdrs)


def s_giveup(c):
    r = c.read_head(30)
    if r is None:
        return
    deadline = time.monotonic() + 6
    while not c.buf and time.monotonic() < deadline:
        if c.fill(deadline - time.monotonic()) == b"":
            return
    if c.buf:
        return
    c.send(response(408, "Request Timeout", b"no body came\n",
                    ["Content-Type: text/plain", "Connection: close"]))


def c_silent(args):
    c = peers.connect(args.connect)
    c.s.settimeout(5)
    while c.s.recv(65536):
        pass
    c.s.close()


def c_wait_forever(args):
    c = peers.connect(args.connect)
    c.send(peers.request_head("POST", "/upload", args.connect,
                              ["Expect: 100-continue", "Content-Length: 4096"]))
    c.s.settimeout(30)
    while c.s.recv(65536):
        pass
    c.s.close()


SERVERS = {"rst-mid": s_rst_mid, "fin-mid": s_fin_mid, "greet400": s_greet400,
           "417-401": s_417_401, "always417": s_always417, "giveup": s_giveup}
CLIENTS = {"silent": c_silent, "wait-forever": c_wait_forever}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="kind", required=True)
    ps = sub.add_parser("server")
    ps.add_argument("role", choices=sorted(SERVERS))
    ps.add_argument("--listen", required=True)
    pc = sub.add_parser("client")
    pc.add_argument("role", choices=sorted(CLIENTS))
    pc.add_argument("--connect", required=True)
    a = p.parse_args()
    if a.kind == "server":
        serve(a.listen, SERVERS[a.role])
    else:
        CLIENTS[a.role](a)


if __name__ == "__main__":
    main()
