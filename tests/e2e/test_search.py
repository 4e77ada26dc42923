"""``--preset balanced``: the training job searches model families within its budget, the run
shows the leaderboard (CLI and run page), and a linear winner serves what it predicts
in-process."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from conveyor.config import Settings
from conveyor.model.loading import load_verified
from conveyor.pipeline.details import details_key
from conveyor.storage import REPORTS
from conveyor.wiring import build_ports
from tests.e2e.conftest import cli_for, json_of, post
from tests.e2e.ui_helpers import conveyor_up


def linear_csv(path: Path, rows: int, seed: int) -> Path:
    """A target linear in its inputs (a category shifts it): trees fit it in steps, a ridge
    regression fits it exactly."""
    rng = np.random.default_rng(seed)
    size = rng.uniform(0, 100, rows)
    age = rng.normal(40, 10, rows)
    town = rng.choice(["north", "south", "east"], rows)
    shift = np.select([town == "north", town == "south"], [50.0, -30.0], 0.0)
    price = 3.0 * size - 2.0 * age + shift + rng.normal(0, 1.0, rows)
    pl.DataFrame({"size": size, "age": age, "town": town, "price": price}).write_csv(path)
    return path


@pytest.fixture(scope="module")
def searched(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, object]]:

    home = tmp_path_factory.mktemp("search-home")
    csv = linear_csv(home / "houses.csv", rows=600, seed=5)
    cli = cli_for(home / "home")
    run = json_of(
        cli(
            "upload",
            str(csv),
            "-p",
            "houses",
            "--target",
            "price",
            "--preset",
            "balanced",
            "--time-budget",
            # balanced stops after its 24 trials, seconds here; the budget leaves room for
            # them on a loaded machine too
            "60s",
            "--wait",
            "--json",
        )
    )
    assert run["state"] == "DEPLOYED", run
    return home / "home", run


def test_the_run_records_every_candidate_and_the_winner(
    searched: tuple[Path, dict[str, object]],
) -> None:
    _, run = searched
    search = run["report"]["search"]  # type: ignore[index]
    board = search["leaderboard"]
    assert search["preset"] == "balanced" and search["time_budget_seconds"] == 60.0
    assert search["selected_on"] == "5-fold out of fold"
    names = [row["name"] for row in board]
    assert {"lightgbm", "linear", "sklearn"} <= set(names)
    assert any(name.startswith("lightgbm-tuned-") for name in names)  # TPE's trials ran
    for row in board:
        assert row["fit_seconds"] >= 0 and isinstance(row["hyperparameters"], dict)
        if row["status"] == "ok":
            assert row["score"] is not None and row["predict_seconds_per_1000"] is not None
    winners = [row for row in board if row["winner"]]
    assert [row["name"] for row in winners] == ["linear"] == [search["winner"]]
    scored = [row["score"] for row in board if row["status"] == "ok"]
    assert winners[0]["score"] == min(scored)  # rmse: lower is better
    assert board[0] is not None and board[0]["winner"]  # best first


def test_runs_show_and_models_show_print_the_leaderboard(
    searched: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:

    home, run = searched
    shown = cli_for(home)("runs", "show", str(run["run_id"]))
    assert shown.returncode == 0, shown.stderr
    assert "Preset balanced:" in shown.stdout and "linear won on rmse" in shown.stdout
    starred = [line for line in shown.stdout.splitlines() if line.strip().startswith("*")]
    assert len(starred) == 1 and "linear" in starred[0] and "alpha=" in starred[0]
    as_json = json_of(cli_for(home)("runs", "show", str(run["run_id"]), "--json"))
    assert as_json["report"]["search"]["winner"] == "linear"
    version = str(run["model_version"])
    shown = cli_for(home)("models", "show", "houses", version)
    assert "Preset balanced:" in shown.stdout and "linear won on rmse" in shown.stdout
    as_json = json_of(cli_for(home)("models", "show", "houses", version, "--json"))
    assert as_json["search"]["winner"] == "linear"


def test_a_linear_winner_serves_what_it_predicts_in_process(
    searched: tuple[Path, dict[str, object]], tmp_path: Path
) -> None:
    home, run = searched
    ports = build_ports(Settings(home=home))
    version = ports.registry.get_version("houses", int(str(run["model_version"])))
    predictor = load_verified(
        ports.store, version.artifact, version.sha256, cache_dir=tmp_path / "cache"
    )
    assert predictor.training["algorithm"] == "linear"
    # The version names the family that serves, not the project's (LightGBM).
    assert version.algorithm == "linear"
    shown = cli_for(home)("models", "show", "houses", str(version.version))
    assert "(linear)" in shown.stdout, shown.stdout
    # Its inputs are ranked too (by the test loss when each is shuffled), size first.
    details = json.loads(ports.store.get(REPORTS, details_key("houses", version.run_id)))
    assert details["feature_importance"][0]["feature"] == "size"
    rows = [
        {"size": 10.0, "age": 30.0, "town": "north"},
        {"size": 250.0, "age": 20.0, "town": "east"},  # past the sizes it saw: extrapolates
        {"size": 50.0, "age": None, "town": "nowhere"},  # missing and unseen
    ]
    local = predictor.predict_records(rows).predictions
    assert abs(local[1] - (3.0 * 250 - 2.0 * 20)) < 15  # a tree would stop near 3 * 100
    with conveyor_up(home, command="serve") as base:
        port = int(base.rsplit(":", 1)[1])
        status, body = post(port, "/predict/houses", {"instances": rows})
        assert status == 200, body
        assert body["predictions"] == pytest.approx(local, rel=1e-12)
        with urllib.request.urlopen(f"{base}/ui/runs/{run['run_id']}", timeout=10) as page:
            html = page.read().decode()
        api = f"{base}/api/v1/projects/houses/versions/{version.version}"
        with urllib.request.urlopen(api, timeout=10) as answer:
            search = json.loads(answer.read())["search"]
    assert search["winner"] == "linear" and len(search["leaderboard"]) >= 4
    assert 'id="leaderboard"' in html and "★" in html and "lightgbm-tuned-" in html
