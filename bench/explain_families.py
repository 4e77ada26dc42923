"""``?explain=true``'s cost for the families other than LightGBM that a project can serve
(bench/explain.py measures LightGBM and calls this): each trained by the real pipeline as a
user gets it, served by ``conveyor serve`` (recording off), and measured as bench/explain.py
measures LightGBM (explain=true against explain=false in back-to-back pairs, one row at 8
connections and 100 rows at 1; then in the process without HTTP).

- CatBoost, the linear model and scikit-learn's HistGradientBoosting: ``--preset fast
  --algorithm <family>`` with its default settings, on bench/serve.py's breast_cancer rows (30
  numbers, no categorical column, so HistGradientBoosting can be explained: shap's TreeSHAP).
- A regression ensemble: a ``--preset balanced`` search on rows no one candidate fits best
  (a slope, a wave and a category's shift; 600 rows, 3 columns), whose weighted blend wins, as
  tests/e2e/test_ensemble.py's does.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from sklearn.datasets import load_breast_cancer

from bench.common import CONVEYOR, post, wait_for_200
from bench.serve import PROJECT, conveyor_target, deployed_model_dir

FAMILIES = ("catboost", "linear", "sklearn", "ensemble")
# The search's budget for the ensemble's data: 10 s makes the blend win in the e2e test on a
# quiet machine; a busy one fits fewer candidates in it.
ENSEMBLE_BUDGET = os.environ.get("BENCH_ENSEMBLE_BUDGET", "30s")


def _upload(home: Path, csv: Path, target: str, *flags: str) -> dict[str, Any]:
    env = {**os.environ, "CONVEYOR_HOME": str(home)}
    command = [str(CONVEYOR), "upload", str(csv), "-p", PROJECT, "--target", target, *flags]
    run = subprocess.run(
        [*command, "--wait", "--json"], env=env, capture_output=True, text=True, check=True
    )
    answer: dict[str, Any] = json.loads(run.stdout)
    assert answer["state"] == "DEPLOYED", run.stdout
    return answer


def _cancer(home: Path, family: str) -> tuple[list[dict[str, Any]], str]:
    data = load_breast_cancer()
    frame = pl.DataFrame(data.data, schema=list(data.feature_names), orient="row")
    csv = home / "breast_cancer.csv"
    frame.with_columns(target=pl.Series(data.target)).write_csv(csv)
    _upload(home, csv, "target", "--algorithm", family)
    return frame.head(100).to_dicts(), f"breast_cancer, --algorithm {family}"


def _wavy(home: Path) -> tuple[list[dict[str, Any]], str]:
    rng = np.random.default_rng(5)
    rows = 600
    size, age = rng.uniform(0, 100, rows), rng.normal(40, 10, rows)
    town = rng.choice(["north", "south", "east"], rows)
    price = 3.0 * size + 60.0 * np.sin(age / 4) + 40.0 * (town == "south")
    frame = pl.DataFrame({"size": size, "age": age, "town": town})
    csv = home / "houses.csv"
    frame.with_columns(price=price + rng.normal(0, 10.0, rows)).write_csv(csv)
    answer = _upload(
        home, csv, "price", "--preset", "balanced", "--time-budget", ENSEMBLE_BUDGET,
        # CatBoost alone beats the blends here and serves too slowly to be a member.
        "--algorithm", "catboost", "--params", '{"iterations": 1}',
    )  # fmt: skip
    search = answer["report"]["search"]
    winner = search["leaderboard"][0]
    assert search["winner"] == "ensemble", f"the search chose {search['winner']}, not a blend"
    members = ", ".join(
        f"{name} {weight:.2f}" for name, weight in winner["hyperparameters"].items()
    )
    return frame.head(100).to_dicts(), f"600 rows x 3 columns, regression; members {members}"


def family(
    name: str,
    workdir: Path,
    pairs: Callable[..., dict[str, Any]],
    in_process: Callable[[Path, list[dict[str, Any]]], dict[str, Any]],
    pair_seconds: int,
) -> dict[str, Any]:
    """One family's figures: bench/explain.py's ``pairs`` of explain=true against false (1 row
    at its connections, 100 rows at 1) and ``in_process`` timings."""
    home = workdir / f"home-{name}"
    home.mkdir(parents=True)
    records, data = _wavy(home) if name == "ensemble" else _cancer(home, name)
    one = json.dumps({"instances": records[:1]}).encode()
    hundred = json.dumps({"instances": records}).encode()
    server = conveyor_target(name, home, False, workdir)
    url, pid = server.url, server.pid
    try:
        for target in (url, f"{url}?explain=true"):
            wait_for_200(target, one, timeout=180)
        status, answer = post(f"{url}?explain=true", one)
        assert status == 200, answer[:300]
        method = json.loads(answer)["explanation"]["method"]
        figures = {
            "data": data,
            "method": method,
            "explain_true_over_false_1_row": pairs(
                (f"{url}?explain=true", one, pid), (url, one, pid)
            ),
            "explain_true_over_false_100_rows_1_connection": pairs(
                (f"{url}?explain=true", hundred, pid),
                (url, hundred, pid),
                connections=1,
                seconds=2 * pair_seconds,
            ),
        }
    finally:
        server.stop()
    figures["in_process"] = in_process(deployed_model_dir(home), records)
    return figures


def binary_blend(lightgbm_dir: Path, linear_home: Path) -> Any:
    """A ``Predictor`` of a blend of classifiers: bench/serve.py's LightGBM model and the
    linear model ``family`` trained on the same rows (``linear_home``), weighted 0.6 and 0.4 as
    a search's ensemble serves its members (no search here makes one win reliably)."""
    from conveyor.model.artifact import Predictor
    from conveyor.model.ensemble import EnsembleModel

    trees, linear = Predictor.load(lightgbm_dir), Predictor.load(deployed_model_dir(linear_home))
    assert trees.encoder.to_dict() == linear.encoder.to_dict(), "not the same rows' encoder"
    blend = EnsembleModel([trees.model, linear.model], ["lightgbm", "linear"], [0.6, 0.4])
    return Predictor(trees.schema, trees.encoder, blend, {"algorithm": "ensemble"})
