#!/usr/bin/env python3
"""loadgen.py: steady HTTP traffic for the live soak test (standard library only).

  loadgen.py --server IP --nginx-port P --no100-port Q --rate R --duration SEC

Cycles through three exchanges, each on a new connection closed after it, R exchanges
per second for SEC seconds:
  PUT /upload/soak-N to nginx with Expect: 100-continue, body after the 100  (continue_ok)
  GET /index.html from nginx                                                (plain)
  POST /upload to peers.py no100 with Expect, body after a 0.2 s wait       (timeout_fallback)
At the end one JSON line on stdout: exchanges done by kind, and failures.
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "capture"))
import peers  # noqa: E402

BODY = peers.make_body(2048)


def one(kind, a, n):
    if kind == "continue_ok":
        c = peers.connect(f"{a.server}:{a.nginx_port}")
        c.send(peers.request_head("PUT", f"/upload/soak-{n % 16}", a.server,
                                  ["Expect: 100-continue", f"Content-Length: {len(BODY)}"]))
        st = peers.wait_for_100(c, 2.0)
        if st != 100:
            raise RuntimeError(f"PUT: first answer {st}")
        c.send(BODY)
    elif kind == "plain":
        c = peers.connect(f"{a.server}:{a.nginx_port}")
        c.send(peers.request_head("GET", "/index.html", a.server))
    else:
        c = peers.connect(f"{a.server}:{a.no100_port}")
        c.send(peers.request_head("POST", "/upload", a.server,
                                  ["Expect: 100-continue", f"Content-Length: {len(BODY)}"]))
        st = peers.wait_for_100(c, 0.2)
        if st is not None:
            raise RuntimeError(f"POST to no100: an answer {st}")
        c.send(BODY)
    interims, final = c.read_final()
    c.s.close()
    if final is None or final[0] >= 300:
        raise RuntimeError(f"{kind}: final {final and final[0]}")


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--server", required=True)
    p.add_argument("--nginx-port", type=int, default=80)
    p.add_argument("--no100-port", type=int, default=8081)
    p.add_argument("--rate", type=float, default=6)
    p.add_argument("--duration", type=float, default=60)
    a = p.parse_args()
    kinds = ["continue_ok", "plain", "timeout_fallback"]
    done = {k: 0 for k in kinds}
    failures = []
    t0 = time.monotonic()
    n = 0
    while time.monotonic() - t0 < a.duration:
        kind = kinds[n % 3]
        try:
            one(kind, a, n)
            done[kind] += 1
        except (OSError, EOFError, RuntimeError) as e:
            failures.append(f"{kind}: {e}")
        n += 1
        pause = t0 + n / a.rate - time.monotonic()
        if pause > 0:
            time.sleep(pause)
    print(json.dumps({"done": done, "failures": failures[:20], "failed": len(failures)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
