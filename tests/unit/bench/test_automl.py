"""The AutoML benchmark's pure parts (bench/report_automl.py): the relative difference, the
summary the targets are read from, and its table (without running any system)."""

from __future__ import annotations

from typing import Any

from bench.report import targets
from bench.report_automl import automl_section, relative, summarize


def _row(name: str, metric: str, conveyor: float, autogluon: float, **more: Any) -> dict[str, Any]:
    return {
        "name": name,
        "rows": 1000,
        "task": "regression" if metric == "rmse" else "binary",
        "metric": metric,
        "conveyor": {
            "metric_value": conveyor,
            "train_seconds": more.get("conveyor_seconds", 10.0),
            "latency_http": {"median_ms": 0.5, "p99_ms": more.get("p99", 1.0)},
            "latency_in_process": {"median_ms": 0.1, "p99_ms": 0.3},
        },
        "autogluon": {"metric_value": autogluon, "train_seconds": 200.0, "version": "1.6.3"},
    }


def test_relative_is_positive_when_conveyor_is_better_for_a_score_and_for_a_loss() -> None:
    assert relative("roc_auc", 0.9, 0.8) == 12.5
    assert relative("roc_auc", 0.8, 0.9) == -11.11
    assert relative("rmse", 9.0, 10.0) == 10.0  # a lower RMSE is better
    assert relative("rmse", 11.0, 10.0) == -10.0
    assert relative("f1_macro", None, 0.5) is None
    assert relative("rmse", 1.0, 0.0) is None


def test_summary_reads_the_targets_figures_and_skips_what_did_not_run() -> None:
    rows = [
        _row("a", "roc_auc", 0.90, 0.90, conveyor_seconds=10.0),
        _row("b", "rmse", 10.2, 10.0, conveyor_seconds=30.0, p99=3.5),
        _row("c", "roc_auc", 0.88, 0.80, conveyor_seconds=20.0),
        {"name": "d", "metric": "rmse", "conveyor": {"error": "upload failed"}},
    ]
    summary = summarize(rows)
    assert summary["compared"] == 3
    assert summary["worst_vs_autogluon"] == -2.0
    assert summary["mean_vs_autogluon"] == round((0 - 2 + 10) / 3, 2)
    assert summary["median_train_share"] == 0.1  # 20 s of AutoGluon's 200
    assert summary["worst_p99_ms"] == 3.5
    assert summary["datasets"][3]["conveyor_error"] == "upload failed"
    verdicts = {t["name"]: t["met"] for t in targets({"automl": summary})}
    assert verdicts["the same, worst data set, relative %"] is False
    assert verdicts["conveyor balanced training seconds / AutoGluon's, median over data sets"]
    assert verdicts["conveyor balanced one-row /predict p99, worst data set, ms"] is False


def test_section_has_one_table_row_per_data_set_with_each_systems_figures() -> None:
    summary = summarize([_row("gbsg2", "roc_auc", 0.7512, 0.7433)])
    text = "\n".join(automl_section({**summary, "run": {"uptime": ["up 1", "up 2"]}}))
    row = next(line for line in text.splitlines() if line.startswith("| gbsg2 |"))
    assert "| 0.7512 | 0.7433 | - | +1.06 |" in row
    assert "10.0 / 200.0 / -" in row
    assert "`up 1`" in text and "`up 2`" in text
