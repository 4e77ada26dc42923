"""The training entrypoint run for real, as SageMaker would run it: a process, a root laid out
per the script-mode contract, and nothing else."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from conveyor.jobs.contract import ScriptModePaths, environment
from conveyor.model.artifact import Predictor
from conveyor.tabular.schema import DatasetSchema, FeatureKind, FeatureSpec
from conveyor.types import Task

SCHEMA = DatasetSchema(
    target="y",
    task=Task.BINARY,
    classes=("no", "yes"),
    features=(
        FeatureSpec("x", FeatureKind.NUMERIC, nullable=True),
        FeatureSpec("plan", FeatureKind.CATEGORICAL),
    ),
)


def frame(n: int, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    plan = rng.choice(["basic", "pro"], size=n)
    y = np.where(x + (plan == "pro") + rng.normal(scale=0.5, size=n) > 0.5, "yes", "no")
    return pl.DataFrame({"x": x, "plan": plan, "y": y})


def run_job(
    root: Path, hyperparameters: dict[str, str], channels: dict[str, pl.DataFrame | None]
) -> subprocess.CompletedProcess[str]:
    paths = ScriptModePaths(root)
    names = ["schema", *(name for name, data in channels.items() if data is not None)]
    paths.make_dirs(names)
    paths.hyperparameters_file.write_text(json.dumps(hyperparameters))
    (paths.channel("schema") / "schema.json").write_text(json.dumps(SCHEMA.to_dict()))
    for name, data in channels.items():
        if data is not None:
            data.write_parquet(paths.channel(name) / f"{name}.parquet")
    env = {**os.environ, **environment(paths, names, hyperparameters)}
    return subprocess.run(
        [sys.executable, "-m", "conveyor.jobs.entrypoint"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.parametrize("algorithm", ["lightgbm", "sklearn", "catboost", "knn", "forest"])
def test_the_entrypoint_writes_a_model_the_predictor_serves(tmp_path: Path, algorithm: str) -> None:
    result = run_job(
        tmp_path,
        {"algorithm": algorithm, "seed": "1"},
        {"train": frame(400, 1), "validation": frame(100, 2)},
    )
    assert result.returncode == 0, result.stderr
    assert "validation:roc_auc=" in result.stdout
    model_dir = ScriptModePaths(tmp_path).model_dir
    training = json.loads((model_dir / "training.json").read_text())
    assert training["algorithm"] == algorithm
    assert training["validation_metrics"]["roc_auc"] > 0.8
    # LightGBM's validation metric per round, the rounds early stopping chose among them.
    curve = training["learning_curve"]
    if algorithm == "lightgbm":
        assert curve["best_iteration"] == training["best_iteration"] < curve["rounds"]
    else:
        assert curve is None
    predictor = Predictor.load(model_dir)
    prediction = predictor.predict_records([{"x": 2.5, "plan": "pro"}, {"x": -3, "plan": None}])
    assert prediction.predictions == ["yes", "no"]
    assert prediction.classes == ["no", "yes"]
    assert prediction.probabilities is not None
    assert all(abs(sum(p) - 1) < 1e-9 for p in prediction.probabilities)


def test_with_the_test_split_the_served_model_learns_from_every_row(tmp_path: Path) -> None:
    # A plan only the test split has: the model that serves has seen it; the one the test
    # split scores (assessment/) has not, so the test metrics stay those of unseen rows.
    test = frame(100, 3).with_columns(plan=pl.lit("enterprise"))
    result = run_job(
        tmp_path,
        {"algorithm": "lightgbm", "seed": "1"},
        {"train": frame(400, 1), "validation": frame(100, 2), "test": test},
    )
    assert result.returncode == 0, result.stderr
    model_dir = ScriptModePaths(tmp_path).model_dir
    training = json.loads((model_dir / "training.json").read_text())
    assert training["refit"]["rows"] == 600 and training["refit"]["test"] is True
    assert training["refit"]["rounds"] > training["best_iteration"]
    served, scored = Predictor.load(model_dir), Predictor.load(model_dir / "assessment")
    assert "enterprise" in served.encoder.categories_["plan"]
    assert "enterprise" not in scored.encoder.categories_["plan"]
    assert scored.training["refit"] is None
    # Small data: five folds of train + validation chose the rounds; the scored model has
    # them scaled from a fold's 400 rows to its own 500.
    assert training["cross_validation"]["folds"] == 5
    assert scored.model.booster.num_trees() == round(training["best_iteration"] * 500 / 400)
    assert "5-fold cross-validation chose" in result.stdout


def test_a_missing_channel_fails_with_a_reason_in_output_failure(tmp_path: Path) -> None:
    result = run_job(tmp_path, {"algorithm": "lightgbm"}, {"train": frame(50, 1)})
    assert result.returncode == 1
    failure = ScriptModePaths(tmp_path).failure_file.read_text()
    assert "channel 'validation' has no .parquet file" in failure
    assert "Traceback" in result.stderr and "Traceback" not in failure


def test_bad_hyperparameters_fail_the_job_with_lightgbm_s_reason(tmp_path: Path) -> None:
    result = run_job(
        tmp_path,
        {"model_hyperparameters": json.dumps({"num_leaves": -3})},
        {"train": frame(200, 1), "validation": frame(50, 2)},
    )
    assert result.returncode == 1
    assert "num_leaves" in ScriptModePaths(tmp_path).failure_file.read_text()


def test_a_weighted_model_is_calibrated_and_its_threshold_recorded_and_served(
    tmp_path: Path,
) -> None:
    # Class weights on a rare class inflate its probabilities: calibration must undo that.
    noise = np.random.default_rng(4).normal(scale=0.7, size=800)
    rare = frame(800, 3).with_columns(
        pl.Series("y", np.where(frame(800, 3)["x"].to_numpy() + noise > 1.5, "yes", "no"))
    )
    weighted = json.dumps({"class_weight": "balanced"})
    hyperparameters = {"seed": "1", "metric": "f1", "model_hyperparameters": weighted}
    result = run_job(tmp_path, hyperparameters, {"train": rare[:640], "validation": rare[640:]})
    assert result.returncode == 0, result.stderr
    model_dir = ScriptModePaths(tmp_path).model_dir
    training = json.loads((model_dir / "training.json").read_text())
    calibration = training["calibration"]
    assert calibration["method"] is not None and (model_dir / "calibration.json").exists()
    assert calibration["log_loss_after"] < calibration["log_loss_before"]
    # Its validation metrics (and its leaderboard row) are of the probabilities that serve.
    validation = training["validation_metrics"]
    assert abs(validation["log_loss"] - calibration["log_loss_after"]) < 1e-6
    assert training["search"]["leaderboard"][0]["metrics"] == validation
    assert training["imbalance"]["class_weights"] == "balanced"
    threshold = training["decision_threshold"]
    assert threshold == training["threshold"]["value"] and 0 < threshold < 1
    predictor = Predictor.load(model_dir)
    rows = [{"x": v, "plan": "pro"} for v in np.linspace(-1, 3, 41)]
    prediction = predictor.predict_records(rows)
    assert prediction.probabilities is not None
    expected = ["yes" if p[1] > threshold else "no" for p in prediction.probabilities]
    assert prediction.predictions == expected
