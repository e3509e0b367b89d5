"""Screenshots of the dashboard for the docs (docs/images/serve-*.png).

Usage, from the repository root, with a release build:

    gradscope --db /tmp/demo/d.db demo          # the demo's three 20-layer runs
    gradscope --db /tmp/demo/d.db sweep examples/sweep-depth-activation.toml
    gradscope --db /tmp/demo/d.db serve --port 8123 &
    python scripts/serve_screenshots.py http://127.0.0.1:8123 docs/images

Drives headless Chromium over the DevTools protocol (needs Debian's
`chromium` and the `websocket-client` package): opens each view, waits
until its charts are drawn, and saves a full-page PNG. `chromium
--screenshot` cannot: the page's event stream never lets the network go
idle.
"""

import base64
import json
import subprocess
import sys
import tempfile
import time
import urllib.request

import websocket

VIEWS = [
    # (file, hash route, height, what must be drawn first)
    ("serve-runs.png", "#/runs", 800, "document.querySelectorAll('tbody tr').length >= 3"),
    ("serve-run.png", "#/run/1?step=1999", 1500, "document.querySelectorAll('canvas').length >= 2"),
    ("serve-compare.png", "#/compare?runs=1,2,3", 800, "document.querySelectorAll('canvas').length >= 2"),
    ("serve-sweep.png", "#/sweep/1", 800, "document.querySelectorAll('td.cell').length >= 4"),
]


def main(base, out):
    profile = tempfile.mkdtemp()
    browser = subprocess.Popen(
        ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--remote-debugging-port=9333", f"--user-data-dir={profile}", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                pages = json.load(urllib.request.urlopen("http://127.0.0.1:9333/json"))
                page = next(p for p in pages if p["type"] == "page")
                break
            except Exception:
                time.sleep(0.1)
        ws = websocket.create_connection(page["webSocketDebuggerUrl"])
        ids = iter(range(1, 1_000_000))

        def call(method, **params):
            i = next(ids)
            ws.send(json.dumps({"id": i, "method": method, "params": params}))
            while True:
                msg = json.loads(ws.recv())
                if msg.get("id") == i:
                    return msg.get("result", {})

        for name, route, height, ready in VIEWS:
            call("Emulation.setDeviceMetricsOverride", width=1280, height=height,
                 deviceScaleFactor=1, mobile=False)
            call("Page.navigate", url=f"{base}/{route}")
            for _ in range(100):
                r = call("Runtime.evaluate", expression=f"!!({ready})", returnByValue=True)
                if r.get("result", {}).get("value"):
                    break
                time.sleep(0.1)
            time.sleep(1.0)  # the last fetches and a frame
            shot = call("Page.captureScreenshot", format="png")
            with open(f"{out}/{name}", "wb") as f:
                f.write(base64.b64decode(shot["data"]))
            print(f"{out}/{name}")
    finally:
        browser.kill()


if __name__ == "__main__":
    main(sys.argv[1].rstrip("/"), sys.argv[2])
