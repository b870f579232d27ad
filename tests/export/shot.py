#!/usr/bin/env python3
"""shot.py: screenshots of an HTML report in headless Chromium, for docs/export.md.

  shot.py REPORT.html OUT.png [--element CSS] [--width PX] [--scale S]

Without --element, the top of the page down to the "servers and clients" section
(headline, verdicts over time, the two histograms); with it, the first element that
matches the CSS selector (`section.ladder` for the first ladder). It drives Chromium the
way tests/export/test_html_browser.py does (its Browser class), so what the picture
shows is what that test checked.

  expectscope export --db corpus.db --format html --since 2026-11-01 -o /tmp/r.html
  tests/export/shot.py /tmp/r.html docs/export-report.png
  tests/export/shot.py /tmp/r.html docs/export-ladder.png --element 'section.ladder'
"""
import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_html_browser import Browser, chromium_binary, evaluate  # noqa: E402
import base64  # noqa: E402


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("report")
    ap.add_argument("out")
    ap.add_argument("--element")
    ap.add_argument("--width", type=int, default=1100)
    ap.add_argument("--scale", type=float, default=0.6)
    a = ap.parse_args()
    chromium = chromium_binary()
    if not chromium:
        sys.exit("shot.py: chromium is not installed (apt-get install chromium)")
    with tempfile.TemporaryDirectory(prefix="expectscope-shot.") as tmp:
        b = Browser(chromium, os.path.join(tmp, "profile"))
        try:
            b.send("Browser.getVersion", timeout=60)
            target = b.send("Target.createTarget", {"url": "about:blank"})["targetId"]
            session = b.send("Target.attachToTarget",
                             {"targetId": target, "flatten": True})["sessionId"]
            b.send("Page.enable", {}, session)
            b.send("Emulation.setDeviceMetricsOverride",
                   {"width": a.width, "height": 1000, "deviceScaleFactor": 1,
                    "mobile": False}, session)
            b.send("Page.navigate", {"url": "file://" + os.path.abspath(a.report)}, session)
            b.wait_event("Page.loadEventFired", timeout=60)
            b.settle()
            if a.element:
                box = evaluate(b, session, "(() => { const e = document.querySelector(%r);"
                               " if (!e) return null; const r = e.getBoundingClientRect();"
                               " return [r.left + scrollX, r.top + scrollY, r.width,"
                               " r.height]; })()" % a.element)
                if not box:
                    sys.exit(f"shot.py: no element matches {a.element!r}")
            else:
                top = evaluate(b, session, "Math.round(document.getElementById('top')"
                                           ".getBoundingClientRect().top + scrollY)")
                box = [0, 0, a.width, top]
            r = b.send("Page.captureScreenshot",
                       {"format": "png", "captureBeyondViewport": True,
                        "clip": {"x": box[0], "y": box[1], "width": box[2],
                                 "height": box[3], "scale": a.scale}}, session, timeout=60)
            with open(a.out, "wb") as f:
                f.write(base64.b64decode(r["data"]))
        finally:
            b.close()
    print(f"{a.out}: {os.path.getsize(a.out)} bytes")


if __name__ == "__main__":
    main()
