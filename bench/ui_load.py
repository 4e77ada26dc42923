"""Dashboard page-load benchmark: the project page of a project with 50 versions and 10,000
recorded inferences, served by ``conveyor serve``, loaded in Debian's Chromium through
Playwright.

Per load, from the navigation's start (ms): the server's response (responseStart -
requestStart), first contentful paint, DOMContentLoaded, and the charts drawn (the first frame
in which the requests/s chart holds data). Cold is the first load after the server started, in a
fresh browser; warm is the median and the best of the loads after it. The API calls behind the
page are timed with plain HTTP, median of 20.

Standalone: ``python -m bench.ui_load [--record]``; ``--record`` puts the figures into
bench/results/latest.json and re-renders BENCHMARKS.md.
"""

from __future__ import annotations

import json
import os
import signal
import statistics
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.browser import CHROMIUM_ARGS, chromium_path
from bench.common import CONVEYOR, free_port, machine, run_standalone
from bench.project_history import fill_history
from conveyor.samples.generate import write_churn_csv

PROJECT = "churn"
VERSIONS = 50
INFERENCES = 10_000
WARM_LOADS = 7
API_CALLS = 20
# The calls the page's data comes from: the traffic charts fetch the first; the version table
# is drawn on the server from the same registry read as the second.
API_PATHS = {
    "traffic": f"/api/v1/projects/{PROJECT}/traffic?window=3600&step=60",
    "versions": f"/api/v1/projects/{PROJECT}/versions",
}
METRICS = ("server_response", "first_contentful_paint", "dom_content_loaded", "charts_drawn")

# Watches from the document's start, one check per frame, for the first frame in which the
# requests/s chart holds data (the signal the browser test waits on); keeps its time.
CHARTS_DRAWN_WATCH = """(() => {
    const drawn = () => {
        const chart = window.conveyor && window.conveyor.charts
            && window.conveyor.charts['chart-rps'];
        if (!chart || chart.data[0].length === 0) return false;
        return chart.data.slice(1).every(s => s.some(v => v !== null && v > 0));
    };
    const tick = () => {
        if (drawn()) window.__chartsDrawnAt = performance.now();
        else requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
})();"""
# Navigation timing and paint entries, in ms from the start of the navigation.
PAGE_TIMES = """() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const paint = performance.getEntriesByName('first-contentful-paint')[0];
    return {server_response: nav.responseStart - nav.requestStart,
            dom_content_loaded: nav.domContentLoadedEventEnd,
            first_contentful_paint: paint.startTime,
            charts_drawn: window.__chartsDrawnAt};
}"""
LOADED = """() => window.__chartsDrawnAt !== undefined
    && performance.getEntriesByName('first-contentful-paint').length > 0"""


def train_project(home: Path) -> None:
    """``churn`` trained by the real pipeline and deployed as v1 (as the browser test's home)."""
    csv = write_churn_csv(home / "churn.csv", rows=800, seed=11)
    subprocess.run(
        [str(CONVEYOR), "upload", str(csv), "-p", PROJECT, "--target", "churned", "--wait"],
        env={**os.environ, "CONVEYOR_HOME": str(home)},
        check=True,
        capture_output=True,
    )


@contextmanager
def serving(home: Path, log: Path) -> Iterator[str]:
    """``conveyor serve`` on a free port; its base URL once it answers. Waits on the API, not
    on /ui, so the first page load is the server's first."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(CONVEYOR), "serve", "--port", str(port)],
            env={**os.environ, "CONVEYOR_HOME": str(home)},
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            _wait_for_get(f"{base}/api/v1/projects", server, log)
            yield base
        finally:
            server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=60)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def _wait_for_get(url: str, server: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"conveyor serve exited with {server.returncode}: {log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not answer within 60 s")


def page_loads(base: str, loads: int) -> list[dict[str, float]]:
    """``loads`` loads of the project page in one fresh browser: the first cold, then warm."""
    from playwright.sync_api import sync_playwright

    executable = chromium_path()
    if executable is None:
        raise RuntimeError("Chromium is not installed (/usr/bin/chromium)")
    url = f"{base}/ui/projects/{PROJECT}"
    timings = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.add_init_script(CHARTS_DRAWN_WATCH)
            for _ in range(loads):
                page.goto(url)
                # The paint entry can be filed a moment after the paint itself.
                page.wait_for_function(LOADED, timeout=30_000)
                timings.append(page.evaluate(PAGE_TIMES))
            rows = page.locator("#versions tr[data-version]").count()
        finally:
            browser.close()
    if rows != VERSIONS:
        raise RuntimeError(f"the page showed {rows} versions, not {VERSIONS}")
    return timings


def api_times(base: str, calls: int) -> dict[str, dict[str, Any]]:
    """Each API path fetched ``calls`` times in turn: median and best ms, and its size."""
    result = {}
    for name, path in API_PATHS.items():
        seconds = []
        for _ in range(calls):
            started = time.perf_counter()
            with urllib.request.urlopen(base + path, timeout=30) as response:
                body = response.read()
            seconds.append(time.perf_counter() - started)
        result[name] = {
            "path": path,
            "median_ms": round(1000 * statistics.median(seconds), 1),
            "best_ms": round(1000 * min(seconds), 1),
            "bytes": len(body),
        }
    return result


def run(workdir: Path) -> dict[str, Any]:
    home = workdir / "home"
    home.mkdir(parents=True, exist_ok=True)
    train_project(home)
    fill_history(home, PROJECT, versions=VERSIONS, inferences=INFERENCES)
    load_before = os.getloadavg()
    with serving(home, workdir / "serve.log") as base:
        timings = page_loads(base, 1 + WARM_LOADS)
        api = api_times(base, API_CALLS)
    warm = timings[1:]
    return {
        "versions": VERSIONS,
        "inferences": INFERENCES,
        "warm_loads": WARM_LOADS,
        "api_calls": API_CALLS,
        "cold_ms": {key: round(timings[0][key], 1) for key in METRICS},
        "warm_median_ms": {
            key: round(statistics.median(t[key] for t in warm), 1) for key in METRICS
        },
        "warm_best_ms": {key: round(min(t[key] for t in warm), 1) for key in METRICS},
        "api": api,
        # The machine is shared: how busy it was around the run, next to the figures.
        "load_average_1min": [round(load_before[0], 2), round(os.getloadavg()[0], 2)],
        "machine": machine(),
    }


def record(figures: dict[str, Any]) -> None:
    """The figures into bench/results/latest.json beside the other benchmarks', and
    BENCHMARKS.md re-rendered from it."""
    from bench.common import RESULTS, ROOT, write_json
    from bench.report import targets, to_markdown

    latest = RESULTS / "latest.json"
    results = json.loads(latest.read_text()) if latest.exists() else {"machine": machine()}
    results["ui_load"] = figures
    results["targets"] = targets(results)
    write_json("latest.json", results)
    (ROOT / "BENCHMARKS.md").write_text(to_markdown(results))


if __name__ == "__main__":
    run_standalone(run, record, description=__doc__.splitlines()[0], prefix="conveyor-ui-load-")
