"""Open a run's HTML report in headless Chromium as a reader would, screenshot it, and check it.

    python benchmarks/report_screenshot.py RUN_OR_HTML [--out shot.png] [--width 1366] [--expand]

RUN_OR_HTML: a run folder (its ``report.html``, from ``jepaworld report RUN``) or an HTML file.
The page is loaded at a laptop width (1366 CSS px) and saved as one full-page PNG (``--expand``:
with every collapsed ``<details>`` opened first, to see all of it). Exit status 1 when

- an ``<img>`` did not decode (``naturalWidth == 0``: a broken image, inside closed sections too);
- the page logged a console error, threw an exception, or Chromium reported a load error;
- the page requested anything but ``data:`` URIs (it is meant to be one self-contained file);

warnings (page wider than the window, console warnings) are printed without failing.

Only Python's standard library and a Chromium binary (Debian: ``apt-get install chromium``;
``--chrome PATH`` or ``$CHROME`` picks another one): Chromium is driven through its DevTools
protocol over a small WebSocket client written here.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any


# -- a minimal WebSocket client (RFC 6455: masked text frames out; text, continuation, ping, close in) --
class WebSocket:
    def __init__(self, url: str, timeout: float) -> None:
        assert url.startswith("ws://"), url
        host_port, _, path = url[len("ws://") :].partition("/")
        host, _, port = host_port.partition(":")
        self.sock = socket.create_connection((host, int(port or 80)), timeout=timeout)
        key = base64.b64encode(os.urandom(16)).decode()
        request = (f"GET /{path} HTTP/1.1\r\nHost: {host_port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n")  # fmt: skip
        self.sock.sendall(request.encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            chunk = self.sock.recv(4096)
            if not chunk:
                raise ConnectionError("DevTools closed the connection during the WebSocket handshake")
            self.buf += chunk
        head, _, self.buf = self.buf.partition(b"\r\n\r\n")
        if b" 101 " not in head.split(b"\r\n", 1)[0]:
            raise ConnectionError(f"WebSocket handshake refused: {head[:200]!r}")

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            chunk = self.sock.recv(max(65536, n - len(self.buf)))
            if not chunk:
                raise ConnectionError("DevTools closed the connection")
            self.buf += chunk
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def _send_frame(self, opcode: int, payload: bytes) -> None:
        n = len(payload)
        header = bytes([0x80 | opcode])
        if n < 126:
            header += bytes([0x80 | n])
        elif n < 1 << 16:
            header += bytes([0x80 | 126]) + struct.pack(">H", n)
        else:
            header += bytes([0x80 | 127]) + struct.pack(">Q", n)
        mask = os.urandom(4)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def send(self, text: str) -> None:
        self._send_frame(0x1, text.encode())

    def recv(self) -> str:
        message = b""
        while True:
            b0, b1 = self._exact(2)
            fin, opcode, n = b0 & 0x80, b0 & 0x0F, b1 & 0x7F
            if n == 126:
                n = struct.unpack(">H", self._exact(2))[0]
            elif n == 127:
                n = struct.unpack(">Q", self._exact(8))[0]
            mask = self._exact(4) if b1 & 0x80 else None
            payload = self._exact(n)
            if mask:
                payload = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
            if opcode == 0x8:
                raise ConnectionError("DevTools closed the WebSocket")
            if opcode == 0x9:
                self._send_frame(0xA, payload)
                continue
            if opcode in (0x0, 0x1, 0x2):
                message += payload
                if fin:
                    return message.decode()

    def close(self) -> None:
        try:
            self._send_frame(0x8, b"")
        except OSError:
            pass
        self.sock.close()


class DevTools:
    """Commands to one page over the DevTools protocol; events are collected in ``events``."""

    def __init__(self, ws_url: str, timeout: float) -> None:
        self.ws, self.next_id, self.events = WebSocket(ws_url, timeout), 0, []
        self.timeout = timeout

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        self.next_id += 1
        my_id = self.next_id
        self.ws.send(json.dumps({"id": my_id, "method": method, "params": params}))
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            if msg.get("id") == my_id:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg.get("result", {})
            if "method" in msg:
                self.events.append(msg)
        raise TimeoutError(f"{method}: no answer in {self.timeout:.0f} s")

    def wait_event(self, method: str) -> dict[str, Any]:
        for e in self.events:
            if e["method"] == method:
                return e
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            msg = json.loads(self.ws.recv())
            if "method" in msg:
                self.events.append(msg)
                if msg["method"] == method:
                    return msg
        raise TimeoutError(f"no {method} in {self.timeout:.0f} s")

    def evaluate(self, expression: str) -> Any:
        r = self.call("Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True)
        if "exceptionDetails" in r:
            raise RuntimeError(f"page script failed: {r['exceptionDetails'].get('text')}")
        return r["result"].get("value")


# -- checks run in the page ------------------------------------------------------------------------------
IMAGES_JS = """
(async () => {
  const imgs = [...document.images];
  await Promise.all(imgs.map(i => i.complete ? null : new Promise(r => { i.onload = r; i.onerror = r; })));
  return imgs.map(i => ({src: i.getAttribute('src') ? i.getAttribute('src').slice(0, 40) : '', alt: i.alt,
                         w: i.naturalWidth, h: i.naturalHeight}));
})()
"""
PAGE_JS = """
(() => {
  const local = [...document.querySelectorAll('[src],[href]')]
    .map(e => e.getAttribute('src') ?? e.getAttribute('href'))
    .filter(u => u && !u.startsWith('data:') && !u.startsWith('#'));
  return {
    title: document.title,
    sections: [...document.querySelectorAll('h2')].map(h => h.textContent),
    subsections: [...document.querySelectorAll('h3')].map(h => h.textContent),
    details: document.querySelectorAll('details').length,
    scrollWidth: document.documentElement.scrollWidth,
    clientWidth: document.documentElement.clientWidth,
    height: document.documentElement.scrollHeight,
    nonDataRefs: local.slice(0, 10),
  };
})()
"""


def find_chrome(explicit: str | None) -> str:
    for name in (explicit, os.environ.get("CHROME"), "chromium", "chromium-browser", "google-chrome", "chrome"):
        if name and (path := shutil.which(name) or (name if Path(name).is_file() else None)):
            return path
    sys.exit("no Chromium found: apt-get install chromium (or pass --chrome PATH)")


def start_chrome(chrome: str, profile: Path, width: int, height: int) -> tuple[subprocess.Popen, str]:
    """Headless Chromium with a fresh profile and nothing of its own on the network; its page's DevTools URL."""
    args = [chrome, "--headless=new", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--hide-scrollbars", "--no-first-run",
            "--no-default-browser-check", "--disable-extensions", "--remote-debugging-port=0",
            "--remote-allow-origins=*", f"--user-data-dir={profile}", f"--window-size={width},{height}",
            "about:blank"]  # fmt: skip
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.insert(1, "--no-sandbox")  # Chromium refuses to sandbox as root
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace")[-2000:] if proc.stderr else ""
            sys.exit(f"Chromium exited ({proc.returncode}) before DevTools was up:\n{err}")
        if port_file.exists() and len(port_file.read_text().split()) >= 2:
            port = int(port_file.read_text().split()[0])
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as r:
                pages = [t for t in json.load(r) if t.get("type") == "page"]
            if pages:
                return proc, pages[0]["webSocketDebuggerUrl"]
        time.sleep(0.1)
    proc.kill()
    sys.exit("Chromium's DevTools did not come up in 30 s")


def problems_from_events(events: list[dict[str, Any]], page_url: str) -> tuple[list[str], list[str]]:
    """(errors, warnings) from console, exception, log and network events."""
    errors, warnings = [], []
    for e in events:
        m, p = e["method"], e.get("params", {})
        if m == "Runtime.consoleAPICalled":
            text = " ".join(str(a.get("value", a.get("description", ""))) for a in p.get("args", []))
            if p.get("type") in ("error", "assert"):
                errors.append(f"console.{p['type']}: {text}")
            elif p.get("type") == "warning":
                warnings.append(f"console.warn: {text}")
        elif m == "Runtime.exceptionThrown":
            d = p.get("exceptionDetails", {})
            errors.append(f"exception: {d.get('exception', {}).get('description') or d.get('text')}")
        elif m == "Log.entryAdded":
            entry = p.get("entry", {})
            line = f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}".strip()
            if entry.get("level") == "error":
                errors.append(line)
            elif entry.get("level") == "warning":
                warnings.append(line)
        elif m == "Network.loadingFailed":
            errors.append(f"load failed: {p.get('errorText')} ({p.get('type')})")
        elif m == "Network.requestWillBeSent":
            url = p.get("request", {}).get("url", "")
            if not url.startswith("data:") and url != page_url:
                errors.append(f"not self-contained: the page requested {url[:120]}")
    return errors, warnings


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("target", help="run folder (uses RUN/report.html) or an HTML file")
    ap.add_argument("--out", default="report-shot.png", help="full-page screenshot (PNG)")
    ap.add_argument("--width", type=int, default=1366, help="window width in CSS px (a laptop: 1366)")
    ap.add_argument("--height", type=int, default=768, help="window height before the full-page capture")
    ap.add_argument("--expand", action="store_true", help="open every <details> before the screenshot")
    ap.add_argument("--max-height", type=int, default=30000, help="cap on the screenshot height (px)")
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds for any one DevTools step")
    ap.add_argument("--chrome", default=None, help="Chromium binary (default: $CHROME or chromium on PATH)")
    args = ap.parse_args()

    target = Path(args.target)
    page = target / "report.html" if target.is_dir() else target
    if not page.is_file():
        hint = f"; write it with: jepaworld report {target}" if target.is_dir() else ""
        print(f"error: {page} does not exist{hint}", file=sys.stderr)
        return 2
    url = page.resolve().as_uri()
    chrome = find_chrome(args.chrome)
    with tempfile.TemporaryDirectory(prefix="report-shot-") as profile:
        proc, ws_url = start_chrome(chrome, Path(profile), args.width, args.height)
        try:
            dt = DevTools(ws_url, args.timeout)
            for domain in ("Page", "Runtime", "Log", "Network"):
                dt.call(f"{domain}.enable")
            dt.call("Emulation.setDeviceMetricsOverride", width=args.width, height=args.height,
                    deviceScaleFactor=1, mobile=False)  # fmt: skip
            t0 = time.perf_counter()
            dt.call("Page.navigate", url=url)
            dt.wait_event("Page.loadEventFired")
            images = dt.evaluate(IMAGES_JS)
            info = dt.evaluate(PAGE_JS)
            load_s = time.perf_counter() - t0
            if args.expand:
                dt.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
                info["height"] = dt.evaluate("document.documentElement.scrollHeight")
            height = min(int(info["height"]), args.max_height)
            dt.call("Emulation.setDeviceMetricsOverride", width=args.width, height=height, deviceScaleFactor=1,
                    mobile=False)  # fmt: skip
            dt.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
            shot = dt.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                           clip={"x": 0, "y": 0, "width": args.width, "height": height, "scale": 1})  # fmt: skip
            dt.evaluate("0")  # collect any late events
            errors, warnings = problems_from_events(dt.events, url)
            dt.ws.close()
        finally:
            proc.terminate()
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(base64.b64decode(shot["data"]))
    broken = [i for i in images if not i["w"]]
    errors += [f"broken image: {i['alt'] or i['src']!r}" for i in broken]
    errors += [f"not self-contained: references {u!r}" for u in info["nonDataRefs"]]
    if info["scrollWidth"] > info["clientWidth"]:
        warnings.append(f"the page is {info['scrollWidth']} px wide at a {info['clientWidth']} px window "
                        "(horizontal scrolling)")  # fmt: skip
    kinds = {}
    for i in images:
        kind = i["src"][5:].split(";")[0] if i["src"].startswith("data:") else "other"
        kinds[kind] = kinds.get(kind, 0) + 1
    print(f"page: {page} ({page.stat().st_size / 1e6:.1f} MB), title {info['title']!r}, loaded in {load_s:.1f} s")
    print(f"sections: {info['sections']}")
    print(f"subsections: {info['subsections']}")
    print(f"images: {len(images)} ({', '.join(f'{n} {k}' for k, n in sorted(kinds.items()))}); "
          f"{len(broken)} broken; {info['details']} collapsible blocks")  # fmt: skip
    print(f"screenshot: {out} ({args.width} x {height} px{', every <details> open' if args.expand else ''}"
          f"{'; page cut at --max-height' if height < info['height'] else ''})")  # fmt: skip
    for w in warnings:
        print(f"warning: {w}")
    for e in errors:
        print(f"ERROR: {e}")
    print("FAIL" if errors else "OK")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
