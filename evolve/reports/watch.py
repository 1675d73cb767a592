"""`autodata report RUN --watch [--port N]`: the run's report as a live page on loopback.

A `LivePage` rebuilds the report (report.build_report: the trajectory and the other figures, the
summary with the spend, the accepted lineage, every attempt, the accepted edits) when the run's
files change (once they hold still for a look, or every `max_wait_s` while they keep changing) — the database, its published read snapshot `autodata.read.duckdb`, `run.lock`
— reading only through the store's read path (the snapshot while a writer holds the database).
It writes nothing into the run folder: each build goes to a temporary folder of its own.

`WatchServer` serves it on 127.0.0.1 only, GET only: `/` the page, `/version?since=N` a long poll
that answers as soon as the page is newer than N (or after `hold_s`). The page's script polls it
and swaps in the new body, so an open tab follows the run without reloading. Requests whose Host
header is not this loopback address are refused (a DNS-rebinding page cannot read the report).
"""

from __future__ import annotations

import html
import json
import sys
import tempfile
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from evolve.store.db import DB_NAME, SNAPSHOT_NAME
from inner_loop.errors import UserError

WATCHED = (DB_NAME, DB_NAME + ".wal", SNAPSHOT_NAME, "run.lock", "config.json")
CSP = ("default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
       "img-src data:; connect-src 'self'")
SCRIPT = """<script>
(function () {
  var version = %(version)d;
  function show(text) { var s = document.getElementById("live-status"); if (s) s.textContent = text; }
  function poll() {
    fetch("/version?since=" + version, {cache: "no-store"})
      .then(function (r) { return r.json(); })
      .then(function (v) {
        if (v.version === version) { setTimeout(poll, %(gap_ms)d); return null; }
        return fetch("/", {cache: "no-store"}).then(function (r) { return r.text(); })
          .then(function (text) {
            var doc = new DOMParser().parseFromString(text, "text/html");
            version = parseInt(doc.documentElement.getAttribute("data-version"), 10);
            document.title = doc.title;
            document.documentElement.setAttribute("data-version", String(version));
            document.body.replaceWith(doc.body);
            setTimeout(poll, %(gap_ms)d);
          });
      })
      .catch(function () { show("live: the watch server is not answering; retrying"); setTimeout(poll, 3000); });
  }
  window.addEventListener("load", function () { setTimeout(poll, %(gap_ms)d); });
})();
</script>"""


def _fingerprint(run_dir: Path) -> tuple[tuple[str, int, int], ...]:
    out = []
    for name in WATCHED:
        try:
            st = (run_dir / name).stat()
        except FileNotFoundError:
            continue
        out.append((name, st.st_mtime_ns, st.st_size))
    return tuple(out)


class LivePage:
    """The latest page of a run and its version number; `refresh()` rebuilds it when changed."""

    def __init__(self, run_dir: Path, *, gap_ms: int = 1000, max_wait_s: float = 10.0):
        self.run_dir, self.gap_ms, self.max_wait_s = run_dir, gap_ms, max_wait_s
        self._pending: tuple[Any, ...] | None = None
        self._built_at = 0.0
        self.version, self.builds, self.polls, self.views = 0, 0, 0, 0  # counters, for tests
        self.client_version = -1  # the newest version a poll said it shows
        self.html = self._body = ""
        self.closed = False
        self._seen: tuple[Any, ...] | None = None
        self._cond = threading.Condition()

    def refresh(self, force: bool = False) -> bool:
        """Rebuild once the run's files changed and then held still for one call (a write in
        progress is not built twice), or changed for `max_wait_s` without pause (a busy run still
        updates); True when it rebuilt."""
        seen = _fingerprint(self.run_dir)
        if not force:
            if seen == self._seen:
                self._pending = None
                return False
            if seen != self._pending and time.monotonic() - self._built_at < self.max_wait_s:
                self._pending = seen  # still changing: look again next time
                return False
        self._built_at, self._pending = time.monotonic(), None
        body, note = self._build()
        with self._cond:
            self._seen = seen
            self.version += 1
            self.builds += 1
            self._body, self.html = body, self._decorate(body, note)
            self._cond.notify_all()
        return True

    def _build(self) -> tuple[str, str]:
        from evolve.reports.report import build_report  # matplotlib loads only when a page is built

        stamp = time.strftime("%H:%M:%S")
        try:
            with tempfile.TemporaryDirectory(prefix="autodata-watch-") as tmp:
                page = build_report(self.run_dir, Path(tmp)).read_text(encoding="utf-8")
            return page, f"live: rebuilt at {stamp} from the run's read snapshot"
        except UserError as exc:  # no database yet: the run has not started writing
            return _waiting(self.run_dir, str(exc)), f"live: waiting for the run ({stamp})"
        except Exception as exc:  # noqa: BLE001 (a failed build is shown, the server keeps going)
            print(f"report --watch: build failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            previous = self._body or _waiting(self.run_dir, "")
            return previous, f"live: the last rebuild at {stamp} failed ({type(exc).__name__}: {exc})"

    def _decorate(self, page: str, note: str) -> str:
        page = page.replace("<html", f'<html data-version="{self.version}"', 1)
        head = '<link rel="icon" href="data:,">' + SCRIPT % {"version": self.version, "gap_ms": self.gap_ms}
        page = page.replace("</head>", head + "</head>", 1)
        status = f'<p id="live-status" class="meta">{html.escape(note)} (page {self.version})</p>'
        start = page.find("<body>")
        if start >= 0 and 'id="live-status"' not in page:
            page = page[:start + 6] + status + page[start + 6:]
        return page

    def wait(self, since: int, timeout_s: float) -> int:
        """The version once it is above `since`, or the current one after `timeout_s`."""
        with self._cond:
            self.polls += 1
            self.client_version = max(self.client_version, since)
            self._cond.wait_for(lambda: self.version > since or self.closed, timeout=timeout_s)
            return self.version

    def close(self) -> None:
        """Releases every held long poll (the server is stopping)."""
        with self._cond:
            self.closed = True
            self._cond.notify_all()


def _waiting(run_dir: Path, why: str) -> str:
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Autodata run '
            f"{html.escape(run_dir.name)} (waiting)</title></head><body><h1>Autodata run "
            f"{html.escape(run_dir.name)}</h1><p>Waiting for the run to write its database. "
            f"{html.escape(why)}</p></body></html>")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, port: int, page: LivePage, hold_s: float):
        super().__init__(("127.0.0.1", port), _Handler)
        self.page, self.hold_s = page, hold_s
        self.stopping = threading.Event()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib signature)
        pass  # the page is polled every second: no line per request

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        for name, value in (("Content-Type", content_type), ("Content-Length", str(len(body))),
                            ("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"),
                            ("Content-Security-Policy", CSP)):
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:  # noqa: N802 (stdlib name)
        host, port = self.server.server_address[:2]
        if self.headers.get("Host") not in (f"{host}:{port}", f"localhost:{port}"):
            self._send(403, b"only this loopback address may read the page\n", "text/plain")
            return
        url = urllib.parse.urlsplit(self.path)
        page = self.server.page
        if url.path in ("/", "/index.html"):
            page.views += 1
            self._send(200, page.html.encode("utf-8"), "text/html; charset=utf-8")
        elif url.path == "/version":
            since = urllib.parse.parse_qs(url.query).get("since", ["-1"])[0]
            wait_s = 0.0 if self.server.stopping.is_set() else self.server.hold_s
            version = page.wait(int(since) if since.lstrip("-").isdigit() else -1, wait_s)
            body = json.dumps({"version": version, "builds": page.builds}).encode()
            self._send(200, body, "application/json")
        else:
            self._send(404, b"not found\n", "text/plain")


class WatchServer:
    """Serves a LivePage on 127.0.0.1 and refreshes it every `interval_s` (a context manager)."""

    def __init__(self, run_dir: Path, port: int = 0, *, interval_s: float = 2.0, hold_s: float = 25.0,
                 gap_ms: int = 1000):
        self.page = LivePage(run_dir, gap_ms=gap_ms)
        self.interval_s = interval_s
        self._server = _Server(port, self.page, hold_s)
        self._threads: list[threading.Thread] = []

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/"

    def _refresh_loop(self) -> None:
        while not self._server.stopping.wait(self.interval_s):
            self.page.refresh()

    def start(self) -> "WatchServer":
        self.page.refresh(force=True)  # the first page before the first request
        for target, name in ((self._refresh_loop, "watch-refresh"), (self._server.serve_forever, "watch-http")):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)
        return self

    def stop(self) -> None:
        self._server.stopping.set()
        self.page.close()
        self._server.shutdown()
        for thread in self._threads:
            thread.join(timeout=30)
        self._server.server_close()

    def __enter__(self) -> "WatchServer":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()
