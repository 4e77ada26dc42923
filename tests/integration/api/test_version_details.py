"""A regression version trained with scikit-learn: its details hold the residuals'
histogram and permutation importances (scikit-learn's model reports none of its own)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
from fastapi.testclient import TestClient

from conveyor.config import Settings
from conveyor.serving.app import create_app
from conveyor.wiring import build_ports
from tests.conftest import conveyor


def _house_csv(path: Path, rows: int = 600) -> Path:
    rng = np.random.default_rng(4)
    size = rng.uniform(30, 200, rows)
    rooms = rng.integers(1, 6, rows)
    noise = rng.normal(0, 5, rows)  # no part of the price: should weigh least
    pl.DataFrame(
        {"size": size, "rooms": rooms, "noise": noise, "price": 3 * size + 10 * rooms}
    ).write_csv(path)
    return path


def test_regression_details_with_permutation_importance(tmp_path: Path) -> None:
    home = tmp_path / "home"
    csv = _house_csv(tmp_path / "house.csv")
    # 100 rounds: on a noiseless target the default 1000 all improve, and cost a minute.
    run = conveyor(
        home, "upload", str(csv), "-p", "house", "--target", "price",
        "--algorithm", "sklearn", "--params", '{"max_iter": 100}', "--wait",
    )  # fmt: skip
    assert run["state"] in ("DEPLOYED", "REGISTERED"), run
    settings = Settings(home=home)
    with TestClient(create_app(build_ports(settings), settings, record=False)) as client:
        version = client.get("/api/v1/projects/house/versions/1").json()
    details = version["details"]
    assert details["confusion_matrix"] is None
    residuals = details["residuals"]
    assert len(residuals["bins"]) == len(residuals["counts"]) + 1
    report = run["report"]
    assert isinstance(report, dict)
    assert sum(residuals["counts"]) == report["rows_test"]
    ranked = [f["feature"] for f in details["feature_importance"]]
    assert sorted(ranked) == ["noise", "rooms", "size"]
    assert ranked[0] == "size" and ranked[-1] == "noise"
    assert details["baseline"] == version["metrics"]["baseline"]
