"""CONVEYOR_MAX_TRAINING_ROWS, set in the environment, reaches a real run through the CLI: an
upload with more rows trains on a seeded sample of that many, and `runs show` says why."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import Cli, json_of


def test_an_upload_over_the_cap_trains_on_a_sample_and_says_so(
    cli: Cli, churn_csv: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CONVEYOR_MAX_TRAINING_ROWS", "600")
    quick = '{"num_boost_round": 10}'
    upload = ["upload", str(churn_csv), "-p", "churn", "--target", "churned", "--params", quick]
    run = json_of(cli(*upload, "--wait", "--json"))
    assert run["state"] in ("DEPLOYED", "REJECTED"), run.get("failure_reason")
    report = run["report"]
    assert report["rows_read"] == 1500 and report["rows_kept"] == 600
    assert report["sampled"] is True
    shown = cli("runs", "show", run["run_id"])
    assert shown.returncode == 0, shown.stderr
    assert "CONVEYOR_MAX_TRAINING_ROWS (600)" in " ".join(shown.stdout.split())
