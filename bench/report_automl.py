"""BENCHMARKS.md's AutoML section: conveyor ``balanced`` against AutoGluon and FLAML per data
set (bench/automl.py)."""

from __future__ import annotations

import statistics
from collections import Counter
from typing import Any

from bench.report_real_files import _cell
from conveyor.model.metrics import greater_is_better

SYSTEMS = ("autogluon", "flaml")
SIDES = ("conveyor", *SYSTEMS)


def relative(metric: str, conveyor: float | None, other: float | None) -> float | None:
    """conveyor's held-out metric against another system's, in % of the other's: positive
    when conveyor is better (higher, or lower for a loss such as RMSE)."""
    if conveyor is None or other is None or other == 0:
        return None
    better = conveyor - other if greater_is_better(metric) else other - conveyor
    return round(100 * better / abs(other), 2)


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The per-data-set table and the targets' figures from the cached results.

    Args:
        rows: One cached result per data set (``conveyor``, ``autogluon``, ``flaml`` sides,
            each with ``metric_value``, ``train_seconds`` and latency; a side may be missing).

    Returns:
        ``datasets`` (rows with ``vs_autogluon``/``vs_flaml`` in %, and the training-time
        ratio), ``mean_vs_autogluon``, ``worst_vs_autogluon``, ``median_train_share``,
        ``worst_p99_ms`` (through /predict), ``worst_p99_in_process_ms`` and ``compared``.
    """
    table, versus, shares, p99s, in_process = [], [], [], [], []
    for row in rows:
        conveyor, autogluon, flaml = (row.get(side) or {} for side in SIDES)
        line = {
            "name": row["name"],
            "rows": row.get("rows"),
            "task": row.get("task"),
            "metric": row.get("metric"),
            **{
                f"{side}_{key}": (row.get(side) or {}).get(key)
                for side in SIDES
                for key in ("metric_value", "train_seconds", "error")
            },
            "conveyor_winner": conveyor.get("winner"),
            "time_budget": conveyor.get("time_budget"),
            "autogluon_best": autogluon.get("best"),
            "flaml_best": flaml.get("best"),
            "conveyor_p99_ms": (conveyor.get("latency_http") or {}).get("p99_ms"),
            "conveyor_median_ms": (conveyor.get("latency_http") or {}).get("median_ms"),
            "conveyor_in_process_median_ms": (conveyor.get("latency_in_process") or {}).get(
                "median_ms"
            ),
            "conveyor_in_process_p99_ms": (conveyor.get("latency_in_process") or {}).get("p99_ms"),
            "autogluon_median_ms": (autogluon.get("latency") or {}).get("median_ms"),
            "autogluon_p99_ms": (autogluon.get("latency") or {}).get("p99_ms"),
            "flaml_median_ms": (flaml.get("latency") or {}).get("median_ms"),
            "flaml_p99_ms": (flaml.get("latency") or {}).get("p99_ms"),
        }
        metric = str(row.get("metric"))
        line["vs_autogluon"] = relative(
            metric, conveyor.get("metric_value"), autogluon.get("metric_value")
        )
        line["vs_flaml"] = relative(metric, conveyor.get("metric_value"), flaml.get("metric_value"))
        line["train_share"] = _ratio(conveyor.get("train_seconds"), autogluon.get("train_seconds"))
        table.append(line)
        if line["vs_autogluon"] is not None:
            versus.append(line["vs_autogluon"])
        if line["train_share"] is not None:
            shares.append(line["train_share"])
        if line["conveyor_p99_ms"] is not None:
            p99s.append(line["conveyor_p99_ms"])
        if line["conveyor_in_process_p99_ms"] is not None:
            in_process.append(line["conveyor_in_process_p99_ms"])
    return {
        "datasets": table,
        "compared": len(versus),
        "mean_vs_autogluon": round(statistics.mean(versus), 2) if versus else None,
        "worst_vs_autogluon": min(versus) if versus else None,
        "median_train_share": round(statistics.median(shares), 4) if shares else None,
        "worst_p99_ms": max(p99s) if p99s else None,
        "worst_p99_in_process_ms": max(in_process) if in_process else None,
        # A rerun of conveyor's side after a rebase replaces the data sets one by one.
        "conveyor_commits": dict(
            Counter(str((row.get("conveyor") or {}).get("commit") or "?") for row in rows)
        ),
    }


def _ratio(ours: float | None, theirs: float | None) -> float | None:
    return None if ours is None or not theirs else round(ours / theirs, 4)


def table_lines(r: dict[str, Any]) -> list[str]:
    """The per-data-set table: metric of each, relative difference, training seconds and
    one-row latency."""
    lines = [
        "| data set | rows | task | metric | conveyor | AutoGluon | FLAML | vs AutoGluon % "
        "| vs FLAML % | train s: conveyor / AutoGluon / FLAML | conveyor / AutoGluon "
        "| one-row ms, median / p99: conveyor /predict | conveyor in process | AutoGluon "
        "| FLAML | conveyor's winner; AutoGluon's best |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for d in r["datasets"]:
        errors = "; ".join(
            f"{side}: {_cell(d[f'{side}_error'], 160)}"
            for side in ("conveyor", "autogluon", "flaml")
            if d.get(f"{side}_error")
        )
        lines.append(
            f"| {d['name']} | {_int(d['rows'])} | {d['task']} | {d['metric']} "
            f"| {_figure(d['conveyor_metric_value'])} | {_figure(d['autogluon_metric_value'])} "
            f"| {_figure(d['flaml_metric_value'])} | {_signed(d['vs_autogluon'])} "
            f"| {_signed(d['vs_flaml'])} | {_seconds(d['conveyor_train_seconds'])} / "
            f"{_seconds(d['autogluon_train_seconds'])} / {_seconds(d['flaml_train_seconds'])} "
            f"| {_figure(d['train_share'], 2)} "
            f"| {_ms(d['conveyor_median_ms'])} / {_ms(d['conveyor_p99_ms'])} "
            f"| {_ms(d.get('conveyor_in_process_median_ms'))} / "
            f"{_ms(d['conveyor_in_process_p99_ms'])} "
            f"| {_ms(d['autogluon_median_ms'])} / {_ms(d['autogluon_p99_ms'])} "
            f"| {_ms(d['flaml_median_ms'])} / {_ms(d['flaml_p99_ms'])} "
            f"| {d['conveyor_winner'] or '-'}; {d['autogluon_best'] or '-'}"
            f"{' — ' + errors if errors else ''} |"
        )
    return lines


def automl_section(r: dict[str, Any]) -> list[str]:
    """The section's lines: how it was measured, the summary figures and the table."""
    versions = r.get("versions") or {}
    run = r.get("run") or {}
    uptime = run.get("uptime") or []
    lines = [
        "",
        "## AutoML: conveyor balanced against AutoGluon and FLAML",
        "",
        "`python -m bench.automl` (in `make bench`; bench/automl.py). Real data sets of the "
        "real-files corpus, each split as bench/real_files.py splits it (a seeded fifth of the "
        f"records held out, seed {r.get('seed')}), every system scored on the same held-out "
        "rows with the metric a conveyor project uses for the task (ROC-AUC for two classes, "
        "macro F1 for more, RMSE for a number). conveyor: `conveyor upload FILE --preset "
        "balanced --wait` (its default budget) on the file's 80% as shipped, the held-out rows "
        "posted to `/predict`; its training seconds are the training job's. AutoGluon "
        f"{versions.get('autogluon') or '?'} `medium_quality` with no time limit, FLAML "
        f"{versions.get('flaml') or '?'} with conveyor's budget on that data set, each from a "
        "virtualenv of its own (bench/.venvs/), given the hand-cleaned copy of the same 80% "
        "(typed columns, ids and free text dropped: bench/corpus/clean.py) and told the metric. "
        "AutoGluon's installed extras: lightgbm, catboost, xgboost, fastai, with torch 2.13.0 "
        "(CPU). vs %: conveyor's metric relative to the other's, positive when conveyor is "
        "better. Training seconds are wall seconds. One-row latency: 200 calls after a warm-up "
        "of AutoGluon's `predict` (models persisted in memory) and FLAML's on a one-row frame; "
        "conveyor's `/predict` with one row on a kept-alive connection and "
        "`conveyor.load_model(...).predict` in process, 1,000 calls each (a p99 of 200 calls "
        "is their second slowest). Each data set's results are cached in "
        "bench/results/automl/; a run does the missing ones.",
        "",
        f"Machine load (uptime) at this run's start: `{uptime[0] if uptime else '?'}`; at its "
        f"end: `{uptime[-1] if uptime else '?'}`. The 2 cores are shared with other work: the "
        "seconds of every system are stretched by it alike (each data set's load is in its "
        "cached file).",
        *(["", r["note"]] if r.get("note") else []),
        "",
        f"- data sets compared with AutoGluon: {r.get('compared')}; conveyor's results by "
        f"commit (data sets): {_commits(r.get('conveyor_commits'))}",
        f"- conveyor against AutoGluon, mean relative difference: "
        f"{_signed(r.get('mean_vs_autogluon'))}% (target >= 0); worst data set: "
        f"{_signed(r.get('worst_vs_autogluon'))}% (target >= -1)",
        f"- conveyor's training seconds / AutoGluon's, median over data sets: "
        f"{_figure(r.get('median_train_share'), 3)} (target <= 0.1)",
        f"- conveyor's one-row p99, worst data set: {_ms(r.get('worst_p99_ms'))} ms through "
        f"`/predict`, {_ms(r.get('worst_p99_in_process_ms'))} ms in process (target <= 2)",
        "",
        *table_lines(r),
    ]
    return lines


def _figure(value: float | None, digits: int = 4) -> str:
    return "-" if value is None else f"{value:.{digits}g}"


def _signed(value: float | None) -> str:
    return "-" if value is None else f"{value:+.2f}"


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def _int(value: int | None) -> str:
    return "-" if value is None else f"{value:,}"


def _commits(commits: dict[str, int] | None) -> str:
    return ", ".join(f"{c} ({n})" for c, n in (commits or {}).items()) or "-"
