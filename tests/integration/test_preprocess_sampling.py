"""The preprocess stage on a real object store: a file with more rows than the cap trains on
a seeded sample of them, and its report (report.json and the run's) says so and why."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest

from conveyor.config import MAX_TRAINING_ROWS, Settings, load_settings
from conveyor.errors import ConfigError
from conveyor.pipeline.preprocess import PreprocessResult, preprocess
from conveyor.samples.generate import write_churn_csv
from conveyor.storage import PROCESSED, RAW
from conveyor.types import ObjectRef, Project
from conveyor.wiring import build_ports

ROWS = 3000


def run_preprocess(tmp_path: Path, **options: int) -> tuple[PreprocessResult, dict[str, Any]]:
    store = build_ports(Settings(home=tmp_path / "home")).store
    data = write_churn_csv(tmp_path / "churn.csv", rows=ROWS, seed=4)
    raw = ObjectRef(RAW, "churn/churn.csv")
    store.put_file(raw.bucket, raw.key, data)
    result = preprocess(
        store,
        raw,
        Project(name="churn", target="churned"),
        dataset_id="d1",
        workdir=tmp_path / "work",
        **options,
    )
    stored = json.loads(store.get(PROCESSED, "churn/d1/report.json"))
    stored["train"] = pl.read_parquet(io.BytesIO(store.get(PROCESSED, result.train.key)))
    return result, stored


def test_a_file_over_the_cap_trains_on_a_sample_and_the_report_says_why(tmp_path: Path) -> None:
    result, stored = run_preprocess(tmp_path, max_training_rows=1000, seed=5)
    report = result.report
    assert stored.pop("train").height == report["rows_train"]
    assert stored == json.loads(json.dumps(report, default=str))
    assert report["rows_read"] == ROWS
    assert report["rows_kept"] == 1000 and report["sampled"] is True
    split = report["rows_train"] + report["rows_validation"] + report["rows_test"]
    assert split == 1000 - report["rows_dropped_missing_target"]
    reason = report["sampling"]["reason"]
    assert "CONVEYOR_MAX_TRAINING_ROWS (1,000)" in reason and "3,000 data rows" in reason
    assert report["sampling"]["max_training_rows"] == 1000 and report["sampling"]["seed"] == 5
    assert reason in report["notes"]


def test_the_same_upload_and_seed_give_the_same_sample(tmp_path: Path) -> None:
    first, first_stored = run_preprocess(tmp_path / "a", max_training_rows=1000, seed=5)
    again, again_stored = run_preprocess(tmp_path / "b", max_training_rows=1000, seed=5)
    _, other_stored = run_preprocess(tmp_path / "c", max_training_rows=1000, seed=6)
    assert first.schema == again.schema
    assert first_stored["train"].equals(again_stored["train"])
    assert not first_stored["train"].equals(other_stored["train"])


def test_a_file_under_the_cap_is_used_whole(tmp_path: Path) -> None:
    result, _ = run_preprocess(tmp_path)
    report = result.report
    assert report["rows_read"] == report["rows_kept"] == ROWS
    assert report["sampled"] is False and report["sampling"] is None
    assert not any("CONVEYOR_MAX_TRAINING_ROWS" in note for note in report["notes"])


def test_the_cap_is_a_setting_that_must_be_positive(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings().max_training_rows == MAX_TRAINING_ROWS == 1_000_000
    monkeypatch.setenv("CONVEYOR_MAX_TRAINING_ROWS", "5000")
    assert load_settings().max_training_rows == 5000
    monkeypatch.setenv("CONVEYOR_MAX_TRAINING_ROWS", "0")
    with pytest.raises(ConfigError, match="CONVEYOR_MAX_TRAINING_ROWS"):
        load_settings()
