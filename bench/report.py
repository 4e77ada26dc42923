"""The targets of the performance issue checked against a run's results, and BENCHMARKS.md."""

from __future__ import annotations

import statistics
from typing import Any

from bench.lambda_cold_start import section as lambda_section
from bench.mlflow_export import section as mlflow_export_section
from bench.report_automl import automl_section
from bench.report_explain import section as explain_section
from bench.report_real_files import real_files_section
from bench.serve import CONNECTIONS, ROWS_PER_REQUEST


def _target(name: str, measured: float | None, op: str, bound: float) -> dict[str, Any]:
    if measured is None:
        return {"name": name, "measured": "not run", "target": f"{op} {bound}", "met": None}
    met = measured >= bound if op == ">=" else measured <= bound
    return {"name": name, "measured": round(measured, 3), "target": f"{op} {bound}", "met": met}


def targets(results: dict[str, Any]) -> list[dict[str, Any]]:
    serving = results.get("serving", {})
    single = serving.get("single_row_at_32", {})
    recording = serving.get("recording", {})
    recording_100 = serving.get("recording_100_rows", {})
    cold = results.get("cold_start", {})
    # Whatever model the search picked: the slowest start of every variant's (cache kept).
    cold_starts = [
        v["cache_kept"]["first_200_seconds"]
        for v in (cold, *(x for x in cold.values() if isinstance(x, dict)))
        if isinstance(v.get("cache_kept"), dict)
    ]
    pipeline = results.get("pipeline", {})
    batch = results.get("batch", {})
    page = results.get("ui_load", {}).get("warm_median_ms", {})
    return [
        _target(
            "single-row req/s at 32 connections, recording on, / floor",
            single.get("conveyor_over_floor"),
            ">=",
            0.8,
        ),
        _target(
            "single-row req/s at 32 connections / BentoML",
            single.get("conveyor_over_bentoml"),
            ">=",
            1.5,
        ),
        _target(
            "single-row p99 at 32 connections / MLflow's p99",
            single.get("conveyor_p99_over_mlflow_p99"),
            "<=",
            0.1,
        ),
        _target(
            "req/s recording on / off (32 connections, median of back-to-back pairs)",
            recording.get("on_over_off_at_32"),
            ">=",
            0.9,
        ),
        _target(
            "req/s recording on / off, 100-row requests (32 connections, median of pairs)",
            recording_100.get("on_over_off_at_32"),
            ">=",
            0.9,
        ),
        _target(
            "inference records missing after a graceful stop", recording.get("missing"), "<=", 0
        ),
        _target(
            "`conveyor serve` with 3 projects, seconds to the first 200 (cache kept; the "
            "slowest of fast, balanced and the other families' models)",
            max(cold_starts) if cold_starts else None,
            "<=",
            1.0,
        ),
        _target(
            "pipeline upload -> first served prediction / bare script",
            pipeline.get("time_ratio"),
            "<=",
            1.3,
        ),
        _target("pipeline peak memory / bare script", pipeline.get("memory_ratio"), "<=", 1.5),
        _target(
            "messy file (`;`, decimal commas, money, dates) upload -> served / clean file",
            pipeline.get("messy_ratio"),
            "<=",
            1.5,
        ),
        _target("batch predict rows/s / bare booster", batch.get("throughput_ratio"), ">=", 0.8),
        _target(
            "drift over 1M records x 30 features, seconds",
            results.get("drift", {}).get("seconds"),
            "<=",
            5,
        ),
        _target(
            "dashboard project page (50 versions, 10,000 inferences), first contentful paint, "
            "warm median, ms",
            page.get("first_contentful_paint"),
            "<=",
            2000,
        ),
        _target(
            "the same page's charts drawn, warm median, ms",
            page.get("charts_drawn"),
            "<=",
            5000,
        ),
        _target(
            "MLflow export under `mlflow models serve`: rows answered otherwise than /predict",
            _mlflow_differing(results.get("mlflow_export")),
            "<=",
            0,
        ),
        _target(
            "real files end to end within 3% of a hand-cleaned baseline (RMSE 5%), share passing",
            _share(results.get("real_files")),
            ">=",
            1.0,
        ),
        *_automl_targets(results.get("automl") or {}),
    ]


def _automl_targets(automl: dict[str, Any]) -> list[dict[str, Any]]:
    """Issue 23's: conveyor balanced against AutoGluon medium_quality (bench/automl.py)."""
    return [
        _target(
            "conveyor balanced vs AutoGluon medium_quality, held-out metric, mean relative %",
            automl.get("mean_vs_autogluon"),
            ">=",
            0.0,
        ),
        _target(
            "the same, worst data set, relative %", automl.get("worst_vs_autogluon"), ">=", -1.0
        ),
        _target(
            "conveyor balanced training seconds / AutoGluon's, median over data sets",
            automl.get("median_train_share"),
            "<=",
            0.1,
        ),
        _target(
            "conveyor balanced one-row /predict p99, worst data set, ms",
            automl.get("worst_p99_ms"),
            "<=",
            2.0,
        ),
    ]


def _mlflow_differing(export: dict[str, Any] | None) -> float | None:
    """Rows whose label, fields or a probability (beyond 1e-9) differ, over both bodies."""
    if not export:
        return None
    return sum(
        b["labels_differing"]
        + b["answers_with_other_fields"]
        + (b["rows"] if (b["max_probability_difference"] or 0) > 1e-9 else 0)
        for b in export["bodies"].values()
    )


def _share(real_files: dict[str, Any] | None) -> float | None:
    if not real_files or not real_files.get("total"):
        return None
    return real_files["passed"] / real_files["total"]


def to_markdown(results: dict[str, Any]) -> str:
    m = results["machine"]
    versions = ", ".join(f"{k} {v}" for k, v in m["versions"].items())
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench` (bench/run.py); every figure is in bench/results/latest.json.",
        "Each comparison runs side by side in the same run, so the ratios hold on a shared machine",
        "even when the absolute numbers move.",
        "",
        f"- date: {m['date']}",
        f"- machine: {m['machine']}, {m['cpu']}; {m['os']}",
        f"- python {m['python']}; {versions}",
        "",
        "## Targets",
        "",
        "| what | measured | target | |",
        "|---|---|---|---|",
    ]
    for t in results.get("targets", []):
        lines.append(f"| {t['name']} | {t['measured']} | {t['target']} | {_verdict(t['met'])} |")
    if "serving" in results:
        lines += _serving(results["serving"])
    if "pipeline" in results:
        lines += _pipeline(results["pipeline"])
    if "batch" in results:
        lines += _batch(results["batch"])
    if "cold_start" in results:
        lines += _cold_start(results["cold_start"])
    if "seconds" in results.get("drift", {}):
        lines += _drift(results["drift"])
    if "ui_load" in results:
        lines += _ui_load(results["ui_load"])
    if "lambda_cold_start" in results:
        lines += lambda_section(results["lambda_cold_start"])
    if "explain" in results:
        lines += explain_section(results["explain"])
    if "real_files" in results:
        lines += real_files_section(results["real_files"])
    if "mlflow_export" in results:
        lines += mlflow_export_section(results["mlflow_export"])
    if "before_after" in results:
        lines += _before_after(results["before_after"])
    if "automl" in results:
        lines += automl_section(results["automl"])
    lines.append("")
    return "\n".join(lines)


def _verdict(met: bool | None) -> str:
    return "not run" if met is None else "met" if met else "missed"


def _serving(serving: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "## Serving",
        "",
        "breast_cancer, 30 features, LightGBM 100 trees; wrk on 127.0.0.1 for "
        f"{serving['duration_seconds']} s per cell, the load generator on the same 2 cores. "
        "MLflow (`mlflow models serve`) and BentoML (`@bentoml.service`, one worker) run as "
        "their users start them, from virtualenvs of their own; the floor is bench/floor_app.py.",
    ]
    for rows in ROWS_PER_REQUEST:
        header = "| server | " + " | ".join(
            f"{c} conn req/s | p50 ms | p99 ms" for c in CONNECTIONS
        )
        lines += ["", f"### {rows} row(s) per request", "", header + " |"]
        lines.append("|---|" + "---|---|---|" * len(CONNECTIONS))
        for name, cells in serving["results"].items():
            row = [name]
            for c in CONNECTIONS:
                r = cells[f"{rows}x{c}"]
                row += [f"{r['rps']:.0f}", f"{r['p50_ms']:.2f}", f"{r['p99_ms']:.2f}"]
            lines.append("| " + " | ".join(row) + " |")
    rec = serving["recording"]
    lines += [
        "",
        f"Recording on / off, single rows at 32 connections, {rec.get('pairs')} pairs of "
        f"{rec.get('seconds_per_run', serving['duration_seconds'])}-second runs back to back "
        f"(each pair's order the last one's reversed): on {_spread(rec.get('on_rps'))} req/s, "
        f"off {_spread(rec.get('off_rps'))} req/s; each pair's ratio {rec.get('pair_ratios')}, "
        f"their median {rec['on_over_off_at_32']:.3f}. The hypervisor took "
        f"{_percent(rec.get('steal_share'))} of the cores meanwhile (steal time).",
        "",
        _cpu_per_request(rec),
        *_recording_100(serving.get("recording_100_rows")),
        "",
        f"Records: {rec['acknowledged_2xx']} requests answered 2xx by conveyor with recording "
        f"on; {rec['records_found']} inference records found after a graceful stop; "
        f"{rec['missing']} missing.",
    ]
    return lines


def _recording_100(rec: dict[str, Any] | None) -> list[str]:
    if not rec:
        return []
    return [
        "",
        f"The same pairs with 100 rows per request ({rec['pairs']} pairs): on "
        f"{_spread(rec.get('on_rps'))} req/s, off {_spread(rec.get('off_rps'))} req/s; each "
        f"pair's ratio {rec['pair_ratios']}, their median {rec['on_over_off_at_32']:.3f}.",
        "",
        _cpu_per_request(rec),
    ]


def _before_after(figures: dict[str, Any]) -> list[str]:
    """Figures of one change measured before and after it in the same session, side by side
    (bench/results/before_after.json)."""
    lines = [
        "",
        "## Before and after (same session, same machine)",
        "",
        f"Measured {figures['measured']}. Each row: the build before a change and after it, run "
        "back to back; the load is the 1-minute load average over the runs (other sessions and "
        "a long benchmark share the 2 cores), so compare the two columns with each other, not "
        f"with the tables above. {figures.get('note', '')}",
        "",
        "| what | command | load (1 min) | before | after |",
        "|---|---|---|---|---|",
    ]
    for row in figures["rows"]:
        lines.append(
            f"| {row['what']} | `{row['command']}` | {row['load']} | {row['before']} | "
            f"{row['after']} |"
        )
    return lines


def _cpu_per_request(rec: dict[str, Any]) -> str:
    """Where recording's cost goes, from the processes' CPU time over the same pairs."""
    server = rec.get("server_cpu_us_per_request")
    if not server:
        return "CPU per request: not measured in this run."
    return (
        f"The server's CPU per request (user and system, over all the pairs): "
        f"{server['conveyor']} µs with recording on, {server['conveyor-unrecorded']} µs off; "
        f"the record writer's: {rec['writer_cpu_us_per_record']} µs per record."
    )


def _spread(values: list[float] | None) -> str:
    """Many runs' req/s as their median and range."""
    if not values:
        return "?"
    low, high = min(values), max(values)
    return f"{statistics.median(values):,.0f} (median; {low:,.0f}-{high:,.0f})"


def _percent(share: float | None) -> str:
    return "?" if share is None else f"{share:.0%}"


def _pipeline(p: dict[str, Any]) -> list[str]:
    c, b = p["conveyor"], p["bare"]
    stages = " | ".join(f"{k} {v} s" for k, v in c["stages"].items())
    bare_stages = " | ".join(f"{k} {v} s" for k, v in b["stages"].items())
    return [
        "",
        "## Pipeline",
        "",
        f"{p['rows']:,} rows x 30 columns ({p['file_mb']} MB CSV; numeric, categorical, missing "
        "values). conveyor: `conveyor up` running and idle (its warm training process "
        "ready), then `conveyor upload`, clock stopped at the first 200 from `/predict`. "
        "Bare: bench/bare_pipeline.py (polars read, LightGBM with "
        "the same parameters, 100 rounds, save). Peak memory: resident memory of every process "
        "involved, summed, sampled every 20 ms.",
        "",
        "| | seconds | peak MB | stages |",
        "|---|---|---|---|",
        f"| conveyor | {c['seconds']} | {c['peak_mb']} | {stages} |",
        f"| bare script | {b['seconds']} | {b['peak_mb']} | {bare_stages} |",
        *_messy_row(p.get("messy")),
        "",
        f"Time ratio {p['time_ratio']}, memory ratio {p['memory_ratio']} (medians of "
        f"{p.get('repeats', 1)} alternating runs; every run's seconds: {p.get('all_seconds')}).",
        *(
            [
                "",
                f"The messy file: the same rows as a European spreadsheet export "
                f"({p['messy']['file_mb']} MB: `;`, decimal commas, `1.234,50 €`, `12,5%`, "
                "`unknown` in a number column, `08/06/20 18:57`), its first prediction asked "
                f"with a row as the file has it; {p['messy_ratio']} times the clean file's time.",
            ]
            if "messy" in p
            else []
        ),
    ]


def _messy_row(m: dict[str, Any] | None) -> list[str]:
    if m is None:
        return []
    stages = " | ".join(f"{k} {v} s" for k, v in m["stages"].items())
    return [f"| conveyor, messy file | {m['seconds']} | {m['peak_mb']} | {stages} |"]


def _batch(b: dict[str, Any]) -> list[str]:
    c, bare = b["conveyor"], b["bare"]
    return [
        "",
        "## Batch predict",
        "",
        f"The pipeline's {b['rows']:,}-row file scored with its model, {b['chunk_rows']:,}-row "
        "chunks, rows written out with their probabilities. Bare: bench/bare_batch.py, the "
        f"booster on the same chunks. Same probabilities: {b['same_probabilities']}.",
        "",
        "| | seconds | rows/s | peak MB |",
        "|---|---|---|---|",
        f"| `conveyor predict` | {c['seconds']} | {c['rows_per_second']:,} | {c['peak_mb']} |",
        f"| bare booster | {bare['seconds']} | {bare['rows_per_second']:,} | {bare['peak_mb']} |",
        *(
            [
                "",
                f"Medians of {b['repeats']} alternating runs (peak: the highest); every run's "
                f"seconds: {b['all_seconds']}.",
            ]
            if "all_seconds" in b
            else []
        ),
    ]


def _drift(d: dict[str, Any]) -> list[str]:
    return [
        "",
        "## Drift",
        "",
        f"`conveyor drift` over {d['records']:,} inference records x {d['features']} features "
        f"(single-row requests of the pipeline's 30-column data, {d['table_mb']} MB of SQLite "
        "Table), as its own process: interpreter start, loading the window from the Table, "
        "every statistic and Evidently's rule beside ours. Seconds: the median of three runs "
        f"({', '.join(str(s) for s in d.get('all_seconds', [d['seconds']]))}).",
        "",
        "| records | rows compared | seconds | peak MB | status |",
        "|---|---|---|---|---|",
        f"| {d['records']:,} | {d['rows_compared']:,} | {d['seconds']} | {d['peak_mb']} | "
        f"{d['status']} |",
        "",
        f"Of which, timed inside one process: loading the window {d.get('load_seconds')} s, "
        f"the statistics {d.get('compute_seconds')} s.",
    ]


def _ui_load(u: dict[str, Any]) -> list[str]:
    rows = [("cold (first load)", u["cold_ms"])]
    rows += [(f"warm, median of {u['warm_loads']}", u["warm_median_ms"])]
    rows += [(f"warm, best of {u['warm_loads']}", u["warm_best_ms"])]
    api = "; ".join(
        f"`{a['path']}` {a['median_ms']} ms (best {a['best_ms']}, {a['bytes']:,} bytes)"
        for a in u["api"].values()
    )
    before, after = u["load_average_1min"]
    return [
        "",
        "## Dashboard page load",
        "",
        f"The project page (`/ui/projects/<p>`) of a project with {u['versions']} versions and "
        f"{u['inferences']:,} inferences recorded over the last hour, served by `conveyor serve`, "
        "loaded in Chromium (headless, through Playwright) on the same cores. Milliseconds from "
        "the navigation's start; server response is responseStart - requestStart; charts drawn "
        "is the first frame in which the requests/s chart holds data. Cold: the server's first "
        "page, in a fresh browser; warm: the loads after it.",
        "",
        "| load | server response | first contentful paint | DOMContentLoaded | charts drawn |",
        "|---|---|---|---|---|",
        *(
            f"| {label} | {t['server_response']} | {t['first_contentful_paint']} | "
            f"{t['dom_content_loaded']} | {t['charts_drawn']} |"
            for label, t in rows
        ),
        "",
        f"The page's data over plain HTTP, median of {u['api_calls']} calls (the charts fetch "
        "the first; the version table is drawn on the server from the registry read the second "
        f"answers with): {api}.",
        "",
        f"Measured {u['machine']['date']} on {u['machine']['machine']}; 1-minute load average "
        f"{before} before the loads, {after} after.",
    ]


def _cold_start(c: dict[str, Any]) -> list[str]:
    lines = [
        "",
        "## Cold start",
        "",
        f"`conveyor serve` with {len(c['projects'])} projects deployed "
        f"({', '.join(c['projects'])}); median of {c['starts']} starts. The projects trained "
        "three ways (bench/cold_start.py's VARIANTS): `fast` (one LightGBM each), `balanced` "
        "(what its search picked), and families with libraries of their own to load "
        "(CatBoost, k-nearest neighbours, the linear model).",
        "",
        "| projects' models | serving cache | first 200 (s) | all projects answering (s) |",
        "|---|---|---|---|",
    ]
    variants = {"fast": c, **{k: v for k, v in c.items() if isinstance(v, dict) and "models" in v}}
    for name, v in variants.items():
        models = ", ".join(f"{p}: {m}" for p, m in (v.get("models") or {}).items()) or name
        for label, key in (("kept (a restart)", "cache_kept"), ("emptied", "cache_emptied")):
            lines.append(
                f"| {name} ({models}) | {label} | {v[key]['first_200_seconds']} | "
                f"{v[key]['all_projects_seconds']} |"
            )
    return lines


def last_figures() -> dict[str, Any]:
    """The last run's figures (bench/results/latest.json) with the real-file and Lambda
    results of their latest runs (bench/results/<name>.json, written by every run of each)."""
    import json

    from bench.common import RESULTS

    latest = RESULTS / "latest.json"
    figures: dict[str, Any] = json.loads(latest.read_text()) if latest.exists() else {}
    figures.pop("targets", None)
    # Each also written by its own run.
    for name in (
        "real_files",
        "lambda_cold_start",
        "mlflow_export",
        "explain",
        "before_after",
        "automl",
    ):
        alone = RESULTS / f"{name}.json"
        if alone.exists():
            figures[name] = json.loads(alone.read_text())
    return figures


def render(**sections: Any) -> str:
    """BENCHMARKS.md from ``last_figures`` with ``sections`` replacing theirs: a benchmark
    run alone adds its section without running everything again."""
    figures = last_figures()
    figures.update(sections)
    figures["targets"] = targets(figures)
    return to_markdown(figures)


if __name__ == "__main__":
    # Re-render BENCHMARKS.md from the last run's figures (after a change to this file).
    from bench.common import ROOT

    (ROOT / "BENCHMARKS.md").write_text(render())
