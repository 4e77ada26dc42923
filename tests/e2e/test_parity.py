"""Through the whole pipeline, a registered version is as good as a plain LightGBM script
trained on the same split (within 2% on the test metric)."""

from __future__ import annotations

from pathlib import Path

import lightgbm as lgb
import numpy as np
import polars as pl
import pytest
from sklearn import datasets
from sklearn.metrics import f1_score, mean_squared_error, roc_auc_score

from tests.e2e.conftest import Cli, json_of

CASES = {
    "breast_cancer": (datasets.load_breast_cancer, "roc_auc"),
    "wine": (datasets.load_wine, "f1_macro"),
    "diabetes": (datasets.load_diabetes, "rmse"),
}


def plain_lightgbm(processed: Path, target: str, metric: str) -> float:
    train, valid, test = (
        pl.read_parquet(processed / f"{s}.parquet") for s in ("train", "validation", "test")
    )
    features = [c for c in train.columns if c != target]
    x = {
        n: f.select(features).to_numpy()
        for n, f in (("train", train), ("valid", valid), ("test", test))
    }
    y = {n: f[target].to_numpy() for n, f in (("train", train), ("valid", valid), ("test", test))}
    objective = {"rmse": "regression", "roc_auc": "binary", "f1_macro": "multiclass"}[metric]
    params: dict[str, object] = {"objective": objective, "verbose": -1, "seed": 42}
    if metric == "f1_macro":
        params["num_class"] = len(np.unique(y["train"]))
    booster = lgb.train(
        params,
        lgb.Dataset(x["train"], y["train"]),
        num_boost_round=1000,
        valid_sets=[lgb.Dataset(x["valid"], y["valid"])],
        callbacks=[lgb.early_stopping(50, verbose=False)],
    )
    predicted = booster.predict(x["test"], num_iteration=booster.best_iteration)
    if metric == "rmse":
        return float(np.sqrt(mean_squared_error(y["test"], predicted)))
    if metric == "roc_auc":
        return float(roc_auc_score(y["test"], predicted))
    return float(f1_score(y["test"], predicted.argmax(axis=1), average="macro"))


@pytest.mark.parametrize("name", list(CASES), ids=list(CASES))
def test_registered_version_matches_a_plain_lightgbm_script(
    name: str, cli: Cli, tmp_path: Path
) -> None:
    loader, metric = CASES[name]
    bunch = loader()
    frame = pl.DataFrame(bunch.data, schema=list(bunch.feature_names), orient="row")
    csv = tmp_path / f"{name}.csv"
    frame.with_columns(target=pl.Series(bunch.target)).write_csv(csv)
    task = "regression" if metric == "rmse" else "auto"
    run = json_of(
        cli(
            "upload",
            str(csv),
            "-p",
            name.replace("_", "-"),
            "--target",
            "target",
            "--task",
            task,
            "--wait",
            "--json",
        )
    )
    assert run["state"] == "DEPLOYED", run.get("failure_reason")
    version = json_of(cli("models", "show", name.replace("_", "-"), "1", "--json"))
    ours = version["metrics"]["test"][metric]
    # How it labels a row is in its metadata, as a binary model's threshold is.
    rule = {"roc_auc": "threshold", "f1_macro": "argmax", "rmse": None}[metric]
    assert version["tags"].get("decision_rule") == rule
    if rule == "argmax":
        shown = cli("models", "show", name.replace("_", "-"), "1")
        assert "decision     The most probable class: argmax of its probabilities" in shown.stdout
    processed = cli.home / "buckets" / "processed" / name.replace("_", "-") / run["dataset_id"]  # type: ignore[attr-defined]
    plain = plain_lightgbm(processed, "target", metric)
    if metric == "rmse":
        assert ours <= plain * 1.02, (ours, plain)
    else:
        assert ours >= plain * 0.98, (ours, plain)
