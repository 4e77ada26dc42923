"""BENCHMARKS.md's real-files section: one row per corpus data set (bench/real_files.py)."""

from __future__ import annotations

from typing import Any


def real_files_section(r: dict[str, Any]) -> list[str]:
    """The section's lines: how it was measured, the pass count and the table."""
    lines = [
        "",
        "## Real files",
        "",
        f"{r['total']} data sets (bench/corpus: real files as their packages ship them, and the "
        "variants a spreadsheet export makes of a clean one), each as a new user meets conveyor: "
        "a fresh home, the file's data records split 80/20 (seed "
        f"{r['seed']}) before anything reads it, the 80% uploaded in the file's own form with "
        "`conveyor upload FILE --project P --target T --wait`, `conveyor serve`, then the held-out "
        "fifth posted to `/predict/P` exactly as the file has it (every named column, target and "
        "ids included, each cell the text the file holds; a workbook's cells as typed). "
        "Baseline: scikit-learn HistGradientBoosting on a hand-cleaned copy of the same 80%, "
        "scored on the same rows. Metric: ROC-AUC for two classes, accuracy for more, RMSE for "
        "a number. Pass: within 3% of the baseline (RMSE within 5%).",
        "",
        f"**{r['passed']} of {r['total']} pass**, in {r['seconds']} s "
        f"(1-minute load average {_load(r)}: other work on the same cores stretches each "
        "process start).",
        "",
        "| data set | traits | rows | target (task) | metric | conveyor | baseline | | reason |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for d in r["datasets"]:
        verdict = "pass" if d["passed"] else "FAIL"
        reason = _cell(d.get("reason", ""))
        lines.append(
            f"| {d['name']} | {_cell(', '.join(d['traits']))} | {d['rows']:,} | "
            f"`{_cell(d['target'])}` ({d['task']}) | {d['metric']} | {_figure(d['conveyor'])} | "
            f"{_figure(d['baseline'])} | {verdict} | {reason} |"
        )
    return lines


def _load(r: dict[str, Any]) -> str:
    before, after = r.get("load_average") or ("?", "?")
    return f"{before} before, {after} after"


def _figure(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def _cell(text: str, limit: int = 220) -> str:
    """Text that fits in a table cell: no pipes or line breaks, cut at ``limit``."""
    flat = " ".join(text.replace("|", "\\|").split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
