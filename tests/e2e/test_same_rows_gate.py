"""The gate compares a new version with the champion on the same rows: the project's holdout
(its first run's test split, never trained on), scored for both where the new version is
evaluated. A retrain whose own test split flatters it does not replace a better champion; one
that is better on the same rows serves; repeated rows change nothing."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from fastapi.testclient import TestClient
from sklearn import datasets

from conveyor.config import Settings
from conveyor.pipeline.holdout import load_holdout, typed_holdout, without_rows
from conveyor.pipeline.runs import RunStore
from conveyor.serving.app import create_app
from conveyor.tabular.schema import DatasetSchema
from conveyor.wiring import build_ports
from tests.e2e.conftest import Cli, json_of
from tests.e2e.test_worker import start_worker, stop


def _table(loader: Any, target: str) -> pl.DataFrame:
    bunch = loader()
    frame = pl.DataFrame(bunch.data, schema=list(bunch.feature_names), orient="row")
    return frame.with_columns(pl.Series(target, bunch.target))


def _upload(cli: Cli, frame: pl.DataFrame, path: Path, project: str, *flags: str) -> Any:
    frame.write_csv(path)
    return json_of(cli("upload", str(path), "-p", project, *flags, "--wait", "--json"))


def _send_with_feedback(home: Path, project: str, rows: pl.DataFrame, target: str) -> None:
    """Post ``rows`` to /predict and their ``target`` as the actual outcomes to /feedback."""
    settings = Settings(home=home)
    with TestClient(create_app(build_ports(settings), settings)) as client:
        for start in range(0, rows.height, 50):
            batch = rows.slice(start, 50)
            answer = client.post(
                f"/predict/{project}", json={"instances": batch.drop(target).to_dicts()}
            ).json()
            feedback = {"request_id": answer["request_id"], "actual": batch[target].to_list()}
            assert client.post(f"/feedback/{project}", json=feedback).status_code == 200


def _retrain(cli: Cli, *projects: str) -> dict[str, dict[str, Any]]:
    """Retrain each project (one worker runs them); each one's retraining run."""
    runs = RunStore(build_ports(Settings(home=cli.home)).table)  # type: ignore[attr-defined]
    before = {r.run_id for r in runs.list_runs()}
    for project in projects:
        started = json_of(cli("retrain", project, "--ignore-cooldown", "--json"))
        assert started["started"], started
    worker = start_worker(cli.home)  # type: ignore[attr-defined]
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            done = {
                r.project: r.to_dict()
                for r in runs.list_runs()
                if r.run_id not in before and r.state.is_terminal
            }
            if set(done) == set(projects):
                break
            time.sleep(0.5)
    finally:
        stop(worker)
    assert set(done) == set(projects), done
    for run in done.values():
        assert run["state"] != "FAILED", run.get("failure_reason")
    return done


def test_a_retrain_flattered_by_its_own_split_stays_pending_and_a_better_one_serves(
    cli: Cli, tmp_path: Path
) -> None:
    home: Path = cli.home  # type: ignore[attr-defined]
    data = _table(datasets.load_diabetes, "progression")
    order = np.random.default_rng(0).permutation(data.height)
    first = data[order[:200]]

    v1 = _upload(cli, first, tmp_path / "first.csv", "sugar", "--target", "progression")
    assert v1["state"] == "DEPLOYED"

    # Feedback that flatters a retrain's own split: the upload's rows again, each with the
    # mean as its outcome. Its test split is then partly rows whose outcome is the mean,
    # easy to get close to; the model it trains is pulled towards the mean everywhere.
    flat = first.with_columns(pl.lit(float(first["progression"].mean())).alias("progression"))
    _send_with_feedback(home, "sugar", flat, "progression")
    run = _retrain(cli, "sugar")["sugar"]
    v2 = json_of(cli("models", "show", "sugar", "2", "--json"))
    champion = json_of(cli("models", "show", "sugar", "1", "--json"))
    # Its own test split says it is better than the champion was on its own...
    assert v2["metrics"]["test"]["rmse"] < champion["metrics"]["test"]["rmse"]
    # ...but on the same rows it is worse: it waits for a person, both numbers on record.
    assert run["state"] == "REGISTERED" and v2["approval_status"] == "PendingManualApproval"
    holdout_rows = v1["report"]["holdout"]["rows"]
    assert v1["report"]["holdout"]["created"] and holdout_rows == v1["report"]["rows_test"]
    gate = v2["gate"]
    assert gate["split"] == "holdout" and gate["rows"] == holdout_rows
    assert gate["holdout_id"] == gate["dataset_id"] == v1["dataset_id"]
    assert gate["candidate"] > gate["champion"], gate  # rmse: lower is better
    assert gate["champion_version"] == 1 and "on the same rows" in gate["reason"]
    same = gate["scores"]["holdout"]
    assert same["challenger"]["rmse"] == gate["candidate"]
    assert same["champion"]["rmse"] == gate["champion"]
    shown = cli("models", "show", "sugar", "2").stdout
    assert f"{gate['candidate']:.4f}" in shown and f"{gate['champion']:.4f}" in shown
    assert "holdout (the gate's)" in shown
    listed = json_of(cli("models", "list", "sugar", "--json"))
    assert [v["aliases"] for v in listed] == [[], ["champion"]]

    # More real rows (the whole set, the holdout's rows among them): better on the holdout.
    v3 = _upload(cli, data, tmp_path / "all.csv", "sugar")
    gate = v3["report"]["gate"]
    assert v3["state"] == "DEPLOYED", gate["reason"]
    assert gate["split"] == "holdout" and gate["champion_version"] == 1
    assert gate["candidate"] < gate["champion"]
    assert v3["report"]["holdout"]["rows_left_out"] == holdout_rows
    served = json_of(cli("models", "list", "sugar", "--json"))
    assert [v["aliases"] for v in served] == [["champion"], [], []]


def test_repeated_rows_in_a_retrain_change_nothing_and_no_holdout_row_is_trained_on(
    cli: Cli, tmp_path: Path
) -> None:
    home: Path = cli.home  # type: ignore[attr-defined]
    data = _table(datasets.load_breast_cancer, "malignant")
    data = data[np.random.default_rng(1).permutation(data.height)[:300]]
    upload, fresh = data.head(200), data.tail(100)
    for project in ("plain", "repeated"):
        first = _upload(cli, upload, tmp_path / f"{project}.csv", project, "--target", "malignant")
        assert first["state"] == "DEPLOYED"
    # Both get 100 new labelled rows back; one also gets every uploaded row again (the
    # holdout's among them), as a client replaying its training file through /predict would.
    _send_with_feedback(home, "plain", fresh, "malignant")
    _send_with_feedback(home, "repeated", pl.concat([fresh, upload]), "malignant")
    retrained = _retrain(cli, "plain", "repeated")
    plain, repeated = (
        json_of(cli("models", "show", p, "2", "--json")) for p in ("plain", "repeated")
    )
    assert retrained["repeated"]["report"]["trigger"]["feedback_rows"] == 300
    # The repeated rows count once: the same splits, the same model, the same scores.
    assert repeated["metrics"]["test"] == plain["metrics"]["test"]
    assert repeated["metrics"]["holdout"] == plain["metrics"]["holdout"]
    for split in ("test", "holdout"):
        ours, theirs = (v["gate"]["scores"][split] for v in (repeated, plain))
        assert {**ours, "dataset_id": None} == {**theirs, "dataset_id": None}, split
    report = retrained["repeated"]["report"]
    assert report["rows_repeated"] == 200

    # The retrain file holds the holdout's rows (the upload's, and again as feedback): none
    # is in a split of the retrain.
    ports = build_ports(Settings(home=home))
    holdout = load_holdout(ports.store, "repeated", tmp_path)
    assert holdout is not None and holdout.rows == first["report"]["rows_test"]
    assert report["holdout"]["rows_left_out"] == holdout.rows
    rows = typed_holdout(holdout, DatasetSchema.from_dict(repeated["input_schema"]))
    assert isinstance(rows, pl.DataFrame)
    processed = home / "buckets" / "processed" / "repeated" / repeated["dataset_id"]
    for split in ("train", "validation", "test"):
        part = pl.read_parquet(processed / f"{split}.parquet")
        assert without_rows(part, rows).height == part.height, split
