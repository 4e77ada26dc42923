"""What ``?explain=true`` costs, and that a request without it costs what it did on main.

The model of bench/serve.py (breast_cancer, 30 features, 100 LightGBM trees), served by
``conveyor serve`` (recording off: the request path alone) from this checkout, and by a second
server running main's code (``git archive main``, imported ahead of the editable install).
wrk at 8 connections (1 for 100 rows), in back-to-back pairs of short runs whose order
alternates (this shared machine's speed moves within seconds, so each pair's own ratio is kept
and their median reported, as bench/serve.py's recording pairs do):

- explain=false, one row: this checkout against main, SAME_PAIRS pairs;
- explain=true against explain=false, one row and 100 rows, on this checkout, PAIRS pairs each.

Without sockets, the hot path alone: the server's ASGI app of each code called in a process
of its own on a one-row body, CPU per request over alternating blocks (bench/hot_path_child.py).
In-process, without HTTP: ``Predictor.explain_records`` against ``predict_records``, median
microseconds over repeated calls on the same rows.

Then the same explain=true/false pairs and in-process timings for CatBoost, the linear model,
HistGradientBoosting and a regression ensemble (bench/explain_families.py), and in the
process a blend of classifiers (LightGBM's and the linear model's, explained in probability).

    .venv/bin/python -m bench.explain      (about 20 minutes; BENCH_SAME_PAIRS, BENCH_PAIRS,
    BENCH_PAIR_SECONDS)
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import ROOT, post, wait_for_200
from bench.explain_families import FAMILIES, binary_blend, family
from bench.serve import PROJECT, conveyor_target, cpu_seconds, ensure_wrk, run_wrk, trained_model

# explain=false against main: a difference of a few percent at most, so many pairs; explain's
# own cost is many times the request's, so a few pairs show it.
SAME_PAIRS = int(os.environ.get("BENCH_SAME_PAIRS", "24"))
PAIRS = int(os.environ.get("BENCH_PAIRS", "8"))
WARM_SECONDS = 3
HOT_BLOCKS = int(os.environ.get("BENCH_HOT_BLOCKS", "40"))
HOT_CALLS = 2000
PAIR_SECONDS = int(os.environ.get("BENCH_PAIR_SECONDS", "2"))
CONNECTIONS = 8
# Imports main's conveyor rather than this checkout's (the editable install's finder is
# dropped, main's source put first on the path), then runs the CLI as `conveyor` does.
_MAIN_CLI = (
    "import sys; sys.meta_path[:] = [f for f in sys.meta_path if 'editable' not in repr(f)]; "
    "sys.path.insert(0, {source!r}); from conveyor.cli.main import main; sys.exit(main())"
)


def _main_source(workdir: Path) -> Path:
    """main's tree, as committed, unpacked in ``workdir``."""
    source = workdir / "main-src"
    source.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "main"], capture_output=True, check=True
    )
    subprocess.run(["tar", "-x", "-C", str(source)], input=archive.stdout, check=True)
    return source


Side = tuple[str, bytes, int | None]  # the URL, the body, the server's process


def _pairs(
    wrk: str,
    first: Side,
    second: Side,
    workdir: Path,
    *,
    connections: int = CONNECTIONS,
    seconds: int = PAIR_SECONDS,
    pairs: int = PAIRS,
) -> Any:
    """``pairs`` back-to-back runs of each, order alternating; the runs and each pair's
    ratio, of req/s and of the server's CPU time per request (less moved by the machine's
    other work than req/s). Each side is warmed by a run first (a server's first seconds are
    slower)."""
    runs: dict[str, list[dict[str, Any]]] = {"first": [], "second": []}
    for url, body, _ in (first, second):
        run_wrk(wrk, url, body, connections, workdir, WARM_SECONDS)
    for index in range(pairs):
        order = [("first", first), ("second", second)]
        for side, (url, body, pid) in order if index % 2 == 0 else reversed(order):
            before = cpu_seconds(pid)[0]
            result = run_wrk(wrk, url, body, connections, workdir, seconds)
            result["cpu_us"] = (cpu_seconds(pid)[0] - before) / max(result["requests"], 1) * 1e6
            runs[side].append(result)
    # A run that got no answer in its seconds (scikit-learn's one-row predict on a busy
    # machine) has no rate nor CPU per request: its pair is left out, and counted.
    pairs_of = [
        (a, b)
        for a, b in zip(runs["first"], runs["second"], strict=True)
        if a["requests"] and b["requests"]
    ]
    ratios = [a["rps"] / b["rps"] for a, b in pairs_of]
    cpu_ratios = [a["cpu_us"] / b["cpu_us"] for a, b in pairs_of if b["cpu_us"]]
    return {
        "pairs_without_answers": pairs - len(pairs_of),
        "first_over_second_rps": _median(ratios, 3),
        "pair_ratios": [round(r, 3) for r in ratios],
        "first_over_second_cpu_per_request": _median(cpu_ratios, 3),
        "cpu_pair_ratios": [round(r, 3) for r in cpu_ratios],
        "first_cpu_us": _median([a["cpu_us"] for a, _ in pairs_of], 1),
        "second_cpu_us": _median([b["cpu_us"] for _, b in pairs_of], 1),
        "first_rps": [r["rps"] for r in runs["first"]],
        "second_rps": [r["rps"] for r in runs["second"]],
        "first_p50_ms": _median([a["p50_ms"] for a, _ in pairs_of], 3),
        "second_p50_ms": _median([b["p50_ms"] for _, b in pairs_of], 3),
        "non_2xx": sum(r["non_2xx"] for side in runs.values() for r in side),
    }


def _median(values: list[float], digits: int) -> float | None:
    return round(statistics.median(values), digits) if values else None


def _hot_path(home: Path, source: Path, body: bytes, workdir: Path) -> dict[str, Any]:
    """The fast path's CPU per one-row request, this checkout's against main's, each called
    in its own process without sockets (bench/hot_path_child.py) in HOT_BLOCKS blocks of
    HOT_CALLS requests, the two sides' blocks alternating (order reversed every other)."""
    body_file = workdir / "one-row.json"
    body_file.write_bytes(body)
    children = {
        side: subprocess.Popen(
            [
                sys.executable,
                str(ROOT / "bench" / "hot_path_child.py"),
                where,
                str(home),
                PROJECT,
                str(body_file),
                str(HOT_CALLS),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        for side, where in (("branch", "-"), ("main", str(source)))
    }
    try:
        for child in children.values():
            assert child.stdout is not None and child.stdout.readline().strip() == "ready"
        micros: dict[str, list[float]] = {"branch": [], "main": []}
        for index in range(HOT_BLOCKS):
            order = ["branch", "main"] if index % 2 == 0 else ["main", "branch"]
            for side in order:
                child = children[side]
                assert child.stdin is not None and child.stdout is not None
                child.stdin.write("go\n")
                child.stdin.flush()
                micros[side].append(float(child.stdout.readline()))
    finally:
        for child in children.values():
            if child.stdin is not None:
                child.stdin.close()
            child.wait(timeout=60)
    ratios = [a / b for a, b in zip(micros["branch"], micros["main"], strict=True)]
    return {
        "blocks": HOT_BLOCKS,
        "calls_per_block": HOT_CALLS,
        "branch_over_main_cpu": round(statistics.median(ratios), 3),
        "block_ratios": [round(r, 3) for r in ratios],
        "branch_us": round(statistics.median(micros["branch"]), 1),
        "main_us": round(statistics.median(micros["main"]), 1),
    }


def _in_process(model_dir: Path, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Median microseconds of predict_records and explain_records on 1 and 100 rows."""
    from conveyor.model.artifact import Predictor

    return timed(Predictor.load(model_dir), records)


def timed(predictor: Any, records: list[dict[str, Any]]) -> dict[str, Any]:
    """``_in_process``'s figures of a loaded ``Predictor``."""
    out: dict[str, Any] = {}
    for count in (1, 100):
        rows = records[:count]
        for name, call in (
            ("predict", predictor.predict_records),
            ("explain", predictor.explain_records),
        ):
            call(rows)  # warm: the explainer is built on the first call
            times = []
            for _ in range(200 if count == 1 else 10):
                started = time.perf_counter()
                call(rows)
                times.append(time.perf_counter() - started)
            out[f"{name}_{count}_us"] = round(statistics.median(times) * 1e6, 1)
        out[f"explain_over_predict_{count}"] = round(
            out[f"explain_{count}_us"] / out[f"predict_{count}_us"], 2
        )
    return out


def _body(records: list[dict[str, Any]]) -> bytes:
    return json.dumps({"instances": records}).encode()


def run(workdir: Path) -> dict[str, Any]:
    wrk = ensure_wrk()
    home = workdir / "home"
    home.mkdir(parents=True)
    model_dir, frame = trained_model(home)
    records = frame.head(100).to_dicts()
    one, hundred = _body(records[:1]), _body(records)
    main_source = _main_source(workdir)
    source = str(main_source)
    branch = conveyor_target("branch", home, False, workdir)
    main = conveyor_target(
        "main", home, False, workdir, [sys.executable, "-c", _MAIN_CLI.format(source=source)]
    )
    url, main_url, pid = branch.url, main.url, branch.pid
    try:
        for target in (url, main_url, f"{url}?explain=true"):
            wait_for_200(target, one, timeout=120)
        status, answer = post(f"{url}?explain=true", one)
        assert status == 200 and b'"explanation"' in answer, answer[:300]
        results = {
            "pairs": PAIRS,
            "seconds_per_run": PAIR_SECONDS,
            "connections": CONNECTIONS,
            "same_pairs": SAME_PAIRS,
            "explain_false_1_row_branch_over_main": _pairs(
                wrk, (url, one, pid), (main_url, one, main.pid), workdir, pairs=SAME_PAIRS
            ),
            "explain_true_over_false_1_row": _pairs(
                wrk, (f"{url}?explain=true", one, pid), (url, one, pid), workdir
            ),
            # One connection, longer runs: an explained 100-row request takes a good part of
            # a second here, so 8 connections' queue would leave a short run few answers.
            "explain_true_over_false_100_rows_1_connection": _pairs(
                wrk,
                (f"{url}?explain=true", hundred, pid),
                (url, hundred, pid),
                workdir,
                connections=1,
                seconds=2 * PAIR_SECONDS,
            ),
        }
    finally:
        branch.stop()
        main.stop()
    results["hot_path"] = _hot_path(home, main_source, one, workdir)
    results["in_process"] = _in_process(model_dir, records)
    results["families"] = {}
    for name in FAMILIES:
        try:
            results["families"][name] = family(
                name,
                workdir,
                lambda first, second, **kw: _pairs(wrk, first, second, workdir, **kw),
                _in_process,
                PAIR_SECONDS,
            )
        except Exception as exc:  # one family's failure keeps the others' figures
            results["families"][name] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
    results["binary_blend_in_process"] = timed(
        binary_blend(model_dir, workdir / "home-linear"), records
    )
    return results


if __name__ == "__main__":
    from bench.common import machine, write_json
    from bench.report import render

    before, described = os.getloadavg()[0], machine()  # first: a failure here loses no run
    figures = run(Path(tempfile.mkdtemp(prefix="explain-")))
    figures["machine"] = described
    figures["load_average_1min"] = [round(before, 2), round(os.getloadavg()[0], 2)]
    write_json("explain.json", figures)
    (ROOT / "BENCHMARKS.md").write_text(render(explain=figures))
    print(json.dumps(figures, indent=2))
