"""`autodata report RUN --watch`: the live page over real HTTP (reports/watch.py); the browser
itself drives it in test_report_watch_browser.py."""

import json
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from evolve.cli import main
from evolve.reports import KINDS
from evolve.reports.watch import WatchServer
from evolve.store import Store
from recorded_run import copy_of_run


def _get(url: str, host: str | None = None, timeout: float = 30.0):
    req = urllib.request.Request(url, headers={"Host": host} if host else {})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return resp.status, resp.headers, resp.read().decode("utf-8")


def _files(run_dir):
    return {str(p.relative_to(run_dir)): (p.stat().st_mtime_ns, p.stat().st_size)
            for p in sorted(run_dir.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def watched(tmp_path_factory):
    """One watched copy of a run; the tests below run in order on it (module scope: a build of
    the page renders every figure, seconds on 2 cores)."""
    run = copy_of_run(tmp_path_factory, tmp_path_factory.mktemp("watch") / "rwatch")
    before = _files(run["run_dir"])
    with WatchServer(run["run_dir"], interval_s=0.1, hold_s=1.0) as server:
        yield {"server": server, "run_dir": run["run_dir"], "before": before}


def test_the_page_is_the_report_with_a_live_status_line(watched):
    status, headers, page = _get(watched["server"].url)
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert page.count("<svg") == len(KINDS) and "Accepted lineage" in page and "Cost by role" in page
    assert 'id="live-status"' in page and 'data-version="1"' in page
    assert "no-store" in headers["Cache-Control"] and "default-src 'none'" in headers["Content-Security-Policy"]


def test_version_long_poll_waits_for_a_change_then_times_out(watched):
    t0 = time.monotonic()
    _, _, body = _get(watched["server"].url + "version?since=1")
    assert json.loads(body)["version"] == 1 and time.monotonic() - t0 >= 0.9  # held for hold_s
    _, _, body = _get(watched["server"].url + "version?since=0")
    assert json.loads(body)["version"] == 1  # already newer: answered at once


def test_a_write_to_the_run_shows_on_the_page(watched):
    with Store.open(watched["run_dir"]) as store:
        store.record_candidate(7, "c-live", "seed")
    watched["before"] = _files(watched["run_dir"])  # the write above was ours, not the watcher's
    deadline = time.monotonic() + 180  # a rebuild renders every figure: seconds on a busy machine
    version = 1
    while version < 2 and time.monotonic() < deadline:
        version = json.loads(_get(watched["server"].url + "version?since=1")[2])["version"]
    assert version == 2
    _, _, page = _get(watched["server"].url)
    assert "c-live" in page and 'data-version="2"' in page


def test_the_watcher_writes_nothing_into_the_run_folder(watched):
    time.sleep(0.5)  # a few refresh ticks
    assert _files(watched["run_dir"]) == watched["before"]


@pytest.mark.parametrize("host", ["evil.example", "evil.example:80", "127.0.0.2:1"])
def test_a_foreign_host_header_is_refused(watched, host):
    with pytest.raises(urllib.error.HTTPError) as info:
        _get(watched["server"].url, host=host)
    assert info.value.code == 403


def test_only_the_page_and_version_are_served(watched):
    with pytest.raises(urllib.error.HTTPError) as info:
        _get(watched["server"].url + "../autodata.duckdb")
    assert info.value.code == 404
    req = urllib.request.Request(watched["server"].url, data=b"x", method="POST")
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(req, timeout=10)
    assert info.value.code == 501


def test_cli_watch_rejects_an_out_dir_and_report_without_either(watched, capsys, tmp_path):
    assert main(["report", str(watched["run_dir"]), "--watch", "-o", str(tmp_path)]) == 1
    assert "drop -o" in capsys.readouterr().err
    assert main(["report", str(watched["run_dir"])]) == 1
    assert "--watch" in capsys.readouterr().err


@pytest.mark.slow  # a fresh process imports matplotlib and renders every figure: ~10-40 s
def test_cli_watch_serves_until_interrupted(watched):
    proc = subprocess.Popen([sys.executable, "-m", "evolve.cli", "report", str(watched["run_dir"]),
                             "--watch", "--port", "0"], stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stderr.readline()
        assert "watching run rwatch at http://127.0.0.1:" in line and "read-only" in line
        url = line.split(" at ")[1].split()[0]
        page = _get(url)[2]
        assert "Autodata run rtest" in page and 'id="live-status"' in page
    finally:
        proc.send_signal(2)  # SIGINT = Ctrl-C
        assert proc.wait(timeout=30) == 0


CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def headless(url: str, profile, budget_ms: int) -> subprocess.Popen:
    """Debian's chromium, headless: runs the page's script for `budget_ms` of virtual time (which
    stands still while a fetch is pending), then prints the DOM; console messages go to stderr."""
    return subprocess.Popen(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-extensions",
         "--disable-background-networking", "--disable-dev-shm-usage", f"--user-data-dir={profile}",
         "--enable-logging=stderr", "--v=0", f"--virtual-time-budget={budget_ms}", "--dump-dom", url],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _until(predicate, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not predicate() and time.monotonic() < deadline:
        time.sleep(0.05)
    return predicate()


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium (Debian: apt-get install chromium)")
def test_in_a_real_browser_the_page_renders_without_console_errors_and_follows_the_run(watched, tmp_path):
    """Last in this module: it releases the page's held polls at the end."""
    server, page = watched["server"], watched["server"].page
    server._server.hold_s = 300  # the browser's poll waits for the write below, however slow
    polls, first, views_before = page.polls, page.version, page.views
    # budget: 1 s before the first poll, 1 s after each swap, then the dump; virtual time stands
    # still while a poll is held, so the budget lasts until the write below has shown
    browser = headless(server.url, tmp_path / "profile", budget_ms=4500)
    try:
        assert _until(lambda: page.polls > polls, 120), "the page's script never polled"
        assert page.client_version == first
        with Store.open(watched["run_dir"]) as store:
            store.record_candidate(8, "c-browser", "seed")
        assert _until(lambda: "c-browser" in page.html, 300), "the watcher never rebuilt the page"
        shown = page.version
        assert _until(lambda: page.client_version >= shown, 120), "the browser never swapped it in"
    finally:
        page.close()  # releases the held poll: the budget runs out and chromium prints the DOM
        dom, log = browser.communicate(timeout=120)
    assert browser.returncode == 0, log[-2000:]
    assert "c-browser" in dom and f'data-version="{shown}"' in dom  # swapped in, no reload
    assert page.views - views_before <= 1 + (shown - first)  # one load, then one fetch per version
    assert dom.count("<svg") == len(KINDS) and "<path" in dom  # the figures are in the DOM
    assert "Autodata run rtest" in dom and 'id="live-status"' in dom
    assert [line for line in log.splitlines() if ":CONSOLE" in line] == []


@pytest.mark.slow  # a real `autodata evolve` run (3 iterations) while the browser watches: ~1-2 min
@pytest.mark.skipif(CHROMIUM is None, reason="no chromium (Debian: apt-get install chromium)")
def test_in_a_real_browser_the_page_follows_a_live_evolve_run_to_its_end(tmp_path):
    run_dir = tmp_path / "live"
    evolve = subprocess.Popen(
        [sys.executable, "-m", "evolve.cli", "evolve", "--run-dir", str(run_dir), "--iterations", "3",
         "--minibatch", "1", "--final-repeats", "0", "--seed", "2", "--set", "inner_loop.max_rounds=1",
         "--set", "run.validation_limit=2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert _until(lambda: (run_dir / "autodata.duckdb").exists(), 120)
        with WatchServer(run_dir, interval_s=0.3, hold_s=600) as server:
            page = server.page
            browser = headless(server.url, tmp_path / "profile", budget_ms=600_000)
            try:
                assert _until(lambda: page.polls > 0, 120), "the page's script never polled"
                first = page.client_version
                assert "finished" not in page.html.split("Figures")[0]  # opened while running
                out, err = evolve.communicate(timeout=600)
                assert evolve.returncode == 0, err[-2000:]
                assert _until(lambda: "<td>finished</td>" in page.html, 300), "never saw the end"
                shown = page.version
                assert _until(lambda: page.client_version >= shown, 300), "the browser never caught up"
            finally:
                page.close()
                dom, log = browser.communicate(timeout=300)
    finally:
        if evolve.poll() is None:
            evolve.kill()
    assert shown > first + 1  # it followed the run through several states
    in_dom = int(dom.split('data-version="', 1)[1].split('"', 1)[0])
    assert in_dom >= shown and "<td>finished</td>" in dom  # (a last snapshot may come after the end)
    assert dom.count("<svg") == len(KINDS)
    assert [line for line in log.splitlines() if ":CONSOLE" in line] == []
