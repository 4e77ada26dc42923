"""``conveyor drift`` on a version the real pipeline trained and deployed: its training
profile, the prediction profile evaluate wrote, and requests recorded with the model's own
answers (from ``conveyor predict``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import polars as pl

from conveyor.config import Settings
from conveyor.inference.records import InferenceRecord
from conveyor.samples.generate import write_churn_csv
from conveyor.wiring import build_ports
from tests.e2e.conftest import Cli, json_of

START = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
WINDOW = ["--since", "2026-03-01T09:00Z", "--until", "2026-03-01T10:00Z", "--json"]


def _record_requests(
    cli: Cli, tmp_path: Path, rows: pl.DataFrame, name: str, start: datetime = START
) -> None:
    """Score ``rows`` with the deployed model and record each as a one-row request."""
    source, scored = tmp_path / f"{name}.csv", tmp_path / f"{name}-scored.csv"
    rows.write_csv(source)
    assert cli("predict", "churn", "--input", str(source), "--output", str(scored)).returncode == 0
    answers = pl.read_csv(scored)
    table = build_ports(Settings(home=cli.home)).table  # type: ignore[attr-defined]
    items = []
    for i, (row, answer) in enumerate(
        zip(rows.iter_rows(named=True), answers.iter_rows(named=True), strict=True)
    ):
        items.append(
            InferenceRecord(
                project="churn",
                timestamp=start + timedelta(seconds=i * 3),
                request_id=f"{name}-{i}",
                model_version=1,
                latency_ms=1.0,
                inputs=[row],
                outputs={
                    "predictions": [answer["prediction"]],
                    "probabilities": [[answer["proba_no"], answer["proba_yes"]]],
                },
                status=200,
            ).to_item()
        )
    table.put_many(items)


def test_drift_of_a_deployed_version_with_real_answers(
    deployed_cli: Cli, first_run: dict[str, Any], tmp_path: Path
) -> None:
    cli, run = deployed_cli, first_run  # churn.csv uploaded to churn, v1 deployed
    assert run["state"] == "DEPLOYED", run.get("failure_reason")
    profile = cli.home / "buckets" / "reports" / "churn" / run["run_id"] / "prediction_profile.json"  # type: ignore[attr-defined]
    assert profile.is_file()

    empty = json_of(cli("drift", "churn", *WINDOW))
    fresh = write_churn_csv(tmp_path / "fresh.csv", rows=600, seed=21)
    rows = pl.read_csv(fresh, infer_schema=False).drop("churned", "customer id")
    _record_requests(cli, tmp_path, rows, "same")
    same = json_of(cli("drift", "churn", *WINDOW))

    shifted = rows.with_columns(
        (pl.col("monthly charges").cast(pl.Float64) * 3).cast(pl.String),
        plan=pl.when(pl.int_range(pl.len()) % 3 == 0)
        .then(pl.col("plan"))
        .otherwise(pl.lit("platinum")),
    )
    _record_requests(cli, tmp_path, shifted, "shifted", START + timedelta(hours=1))
    html = tmp_path / "drift.html"
    later = ["--since", "2026-03-01T10:00Z", "--until", "2026-03-01T11:00Z", "--json"]
    drifting = cli("drift", "churn", *later, "--html", str(html))
    assert drifting.returncode == 3, drifting.stderr  # drift found: a script can act on it
    drifted = json.loads(drifting.stdout)

    assert empty["status"] == "INSUFFICIENT_DATA" and empty["rows"] == 0
    assert drifted["status"] == "DRIFT"
    assert sorted(drifted["drifted"]) == ["monthly charges", "plan"]
    assert drifted["features"]["plan"]["unseen_values"] == ["platinum"]
    assert "monthly charges" in html.read_text()
    assert same["status"] == "OK", same["drifted"]
    assert same["rows"] == 600 and same["model_version"] == 1
    assert same["prediction"]["available"] and same["prediction"]["verdict"] == "ok"
    # Shown as a table, Evidently's verdict is there for reference and says what decides.
    shown = cli("drift", "churn", *later[:-1])
    assert shown.returncode == 3, shown.stderr
    assert "verdict (decides)" in shown.stdout and "Evidently (for reference)" in shown.stdout
    assert "conveyor's verdict above is what decides DRIFT" in shown.stdout
