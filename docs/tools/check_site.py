"""Open the built documentation site in headless Chromium as a reader would, and check it.

    python docs/tools/check_site.py [SITE] [--out runs/docs-check] [--guide guides/planning/]

SITE (default ``site``, what ``make docs`` builds) is served on a free local port; every page is
loaded in one headless Chromium at a laptop width. Exit status 1 when

- a link on a page points to a local page or file that the server does not have, or to an anchor
  (``#id``) that the target page lacks;
- an image did not decode (``naturalWidth == 0``);
- a page logged a console error, threw an exception, failed to load something, got an HTTP error,
  or requested anything from another host (the site must work offline: no CDN).

Links to other sites are counted and listed, not fetched. Screenshots of the home page and of one
guide go to ``--out``. ``--swagger`` also opens the server's ``/docs`` page (Swagger UI, built by
``jepaworld.serve.docs_page``) on a bare app, and checks that it renders offline.

Chromium is driven through its DevTools protocol with the small client of
``benchmarks/report_screenshot.py`` (Debian: ``apt-get install chromium``).
"""

from __future__ import annotations

import argparse
import base64
import functools
import http.server
import importlib.util
import re
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _devtools_client() -> Any:
    """The DevTools client shared with the report check (one copy of the WebSocket code)."""
    path = ROOT / "benchmarks" / "report_screenshot.py"
    spec = importlib.util.spec_from_file_location("report_screenshot", path)
    module = importlib.util.module_from_spec(spec)  # type: ignore[arg-type]
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


rs = _devtools_client()

PAGE_JS = """
(async () => {
  const imgs = [...document.images];
  await Promise.all(imgs.map(i => i.complete ? null : new Promise(r => { i.onload = r; i.onerror = r; })));
  return {
    title: document.title,
    links: [...document.querySelectorAll('a[href]')].map(a => a.href),
    images: imgs.map(i => ({src: i.currentSrc || i.src, alt: i.alt, w: i.naturalWidth})),
    ids: [...document.querySelectorAll('[id]')].map(e => e.id),
    height: document.documentElement.scrollHeight,
  };
})()
"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


def serve(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_Quiet, directory=str(folder))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    return httpd, f"http://127.0.0.1:{httpd.server_address[1]}/"


def pages_of(site: Path) -> list[str]:
    """Every HTML page of the site as a URL path ('' for the home page), 404.html left out."""
    out = []
    for f in sorted(site.rglob("*.html")):
        rel = f.relative_to(site).as_posix()
        if rel == "404.html":
            continue
        out.append(rel[: -len("index.html")] if rel.endswith("index.html") else rel)
    return out


def network_problems(events: list[dict[str, Any]], base: str) -> list[str]:
    """HTTP errors, failed loads and requests to other hosts, from the page's network events."""
    problems = []
    for e in events:
        m, p = e["method"], e.get("params", {})
        if m == "Network.requestWillBeSent":
            url = p.get("request", {}).get("url", "")
            if not (url.startswith(base) or url.startswith(("data:", "blob:", "about:"))):
                problems.append(f"requested another host (the site must work offline): {url[:120]}")
        elif m == "Network.responseReceived":
            r = p.get("response", {})
            if r.get("status", 200) >= 400:
                problems.append(f"HTTP {r['status']} for {r.get('url', '')[:120]}")
        elif m == "Network.loadingFailed" and not p.get("canceled"):
            problems.append(f"load failed: {p.get('errorText')} ({p.get('type')})")
    return problems


class Browser:
    """One headless Chromium page, reused for every URL."""

    def __init__(self, width: int, height: int, timeout: float) -> None:
        self.width, self.height = width, height
        self.profile = tempfile.TemporaryDirectory(prefix="docs-check-", ignore_cleanup_errors=True)
        self.proc, ws_url = rs.start_chrome(rs.find_chrome(None), Path(self.profile.name), width, height)
        self.dt = rs.DevTools(ws_url, timeout)
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.dt.call(f"{domain}.enable")

    def open(self, url: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Load ``url``; its page facts (PAGE_JS) and the events it caused."""
        self.dt.events.clear()
        self.dt.call("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height,
                     deviceScaleFactor=1, mobile=False)  # fmt: skip
        self.dt.call("Page.navigate", url=url)
        self.dt.wait_event("Page.loadEventFired")
        info = self.dt.evaluate(PAGE_JS)
        self.dt.evaluate("new Promise(r => setTimeout(r, 150))")  # late console messages and requests
        return info, list(self.dt.events)

    def screenshot(self, out: Path, full_page: bool, max_height: int = 6000) -> tuple[int, int]:
        height = self.height
        if full_page:
            height = min(int(self.dt.evaluate("document.documentElement.scrollHeight")), max_height)
            self.dt.call("Emulation.setDeviceMetricsOverride", width=self.width, height=height,
                         deviceScaleFactor=1, mobile=False)  # fmt: skip
        self.dt.evaluate("new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
        shot = self.dt.call("Page.captureScreenshot", format="png", captureBeyondViewport=True,
                            clip={"x": 0, "y": 0, "width": self.width, "height": height, "scale": 1})  # fmt: skip
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_bytes(base64.b64decode(shot["data"]))
        return self.width, height

    def close(self) -> None:
        try:
            self.dt.ws.close()
        finally:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except Exception:  # noqa: BLE001 - a Chromium that will not stop is killed
                self.proc.kill()
            self.profile.cleanup()


def anchors_of(url: str, cache: dict[str, set[str] | None]) -> set[str] | None:
    """The element ids of a local page (None: not found), fetched once."""
    if url not in cache:
        try:
            with urllib.request.urlopen(url, timeout=10) as r:
                body = r.read().decode(errors="replace")
            is_html = url.endswith("/") or url.endswith(".html")
            cache[url] = set(re.findall(r'\sid="([^"]+)"', body)) if is_html else set()
        except (urllib.error.HTTPError, urllib.error.URLError):
            cache[url] = None
    return cache[url]


def check_site(site: Path, out: Path, guide: str, width: int, height: int, timeout: float) -> int:
    pages = pages_of(site)
    if not pages:
        print(f"error: no pages under {site}; build the site first with: make docs", file=sys.stderr)
        return 2
    if guide not in pages:
        print(f"error: the guide {guide!r} is not a page of the site; pages: {', '.join(pages)}", file=sys.stderr)
        return 2
    httpd, base = serve(site)
    browser = Browser(width, height, timeout)
    errors: list[str] = []
    internal, external, n_images = set(), set(), 0
    n_links = 0
    targets: dict[str, set[str] | None] = {}
    t0 = time.perf_counter()
    try:
        for page in pages:
            url = base + page
            info, events = browser.open(url)
            page_errors, _ = rs.problems_from_events([e for e in events if not e["method"].startswith("Network.")], url)
            page_errors += network_problems(events, base)
            for img in info["images"]:
                n_images += 1
                if not img["w"]:
                    page_errors.append(f"broken image: {img['alt'] or img['src']}")
            for link in info["links"]:
                n_links += 1
                target, _, frag = link.partition("#")
                if not target.startswith(base):
                    if target.startswith(("http://", "https://")):
                        external.add(target)
                    continue
                internal.add(link)
                ids = anchors_of(target, targets)
                if ids is None:
                    page_errors.append(f"broken link: {link[len(base) - 1:]}")
                elif frag and urllib.parse.unquote(frag) not in ids:
                    page_errors.append(f"broken anchor: {link[len(base) - 1:]}")
            errors += [f"/{page}: {e}" for e in page_errors]
            if page == "":
                size = browser.screenshot(out / "home.png", full_page=False)
                print(f"screenshot: {out / 'home.png'} ({size[0]} x {size[1]} px)")
            if page == guide:
                size = browser.screenshot(out / "guide.png", full_page=True)
                print(f"screenshot: {out / 'guide.png'} ({size[0]} x {size[1]} px, /{guide})")
    finally:
        browser.close()
        httpd.shutdown()
    print(f"pages: {len(pages)} opened in {time.perf_counter() - t0:.1f} s; links: {n_links} "
          f"({len(internal)} distinct local, each resolved with its anchor; "
          f"{len(external)} to other sites, not fetched); "
          f"images: {n_images}; errors: {len(errors)}")  # fmt: skip
    for link in sorted(external):
        print(f"  other site: {link}")
    for e in errors:
        print(f"ERROR: {e}")
    print("FAIL" if errors else "OK")
    return 1 if errors else 0


def check_swagger(out: Path, width: int, height: int, timeout: float) -> int:
    """Open ``/docs`` of a bare app with jepaworld's docs page: Swagger UI must render, all from local files."""
    import uvicorn
    from fastapi import FastAPI

    from jepaworld.serve.docs_page import add_docs_page

    app = FastAPI(title="jepaworld docs-page check", docs_url=None, redoc_url=None)

    @app.get("/v1/health", tags=["status"])
    async def health() -> dict[str, str]:
        """A route for the page to list."""
        return {"status": "ok"}

    add_docs_page(app)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    base = f"http://127.0.0.1:{port}/"
    browser = Browser(width, height, timeout)
    try:
        info, events = browser.open(base + "docs")
        browser.dt.evaluate("""new Promise(r => { const t0 = Date.now(); const f = () =>
            (document.querySelector('.opblock') || Date.now() - t0 > 10000) ? r() : setTimeout(f, 100); f(); })""")
        operations = browser.dt.evaluate("document.querySelectorAll('.opblock').length")
        events = list(browser.dt.events)
        size = browser.screenshot(out / "swagger.png", full_page=False)
    finally:
        browser.close()
        server.should_exit = True
        thread.join(10)
    errors, _ = rs.problems_from_events([e for e in events if not e["method"].startswith("Network.")], base)
    errors += network_problems(events, base)
    if not operations:
        errors.append("Swagger UI rendered no operation")
    print(f"swagger: /docs rendered {operations} operation(s), title {info['title']!r}; "
          f"screenshot {out / 'swagger.png'} ({size[0]} x {size[1]} px); errors: {len(errors)}")  # fmt: skip
    for e in errors:
        print(f"ERROR: /docs: {e}")
    return 1 if errors else 0


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("site", nargs="?", default="site", help="the built site (make docs)")
    ap.add_argument("--out", default="runs/docs-check", help="folder for the screenshots")
    ap.add_argument("--guide", default="guides/your-environment/", help="the guide to screenshot (URL path)")
    ap.add_argument("--width", type=int, default=1366)
    ap.add_argument("--height", type=int, default=800)
    ap.add_argument("--timeout", type=float, default=60.0, help="seconds for any one DevTools step")
    ap.add_argument("--swagger", action="store_true", help="also check the server's /docs page offline")
    args = ap.parse_args()
    out = Path(args.out)
    rc = check_site(Path(args.site), out, args.guide, args.width, args.height, args.timeout)
    if args.swagger and rc != 2:
        rc = max(rc, check_swagger(out, args.width, args.height, args.timeout))
    return rc


if __name__ == "__main__":
    sys.exit(main())
