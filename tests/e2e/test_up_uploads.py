"""Uploads under `conveyor up`, where the CLI's event and the raw/ watch's both announce each
file: a failed upload makes one FAILED run (not one per event), its file stays in raw/, an
explicit upload of the same bytes again retries once, and a workbook's --sheet reaches the
run whichever event the worker takes (and a retrain of that upload)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.config import Settings
from conveyor.events import queue_depth
from conveyor.pipeline.runs import RunStore
from conveyor.samples.generate import write_churn_csv
from conveyor.wiring import build_ports
from tests.e2e.conftest import CONVEYOR, Cli, free_port, json_of
from tests.workbooks import two_sheet_workbook


@pytest.fixture
def up(cli: Cli) -> Iterator[Path]:
    home: Path = cli.home  # type: ignore[attr-defined]
    json_of(cli("project", "create", "churn", "--target", "churned", "--json"))
    process = subprocess.Popen(
        [str(CONVEYOR), "up", "--port", str(free_port())],
        env={**os.environ, "CONVEYOR_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        yield home
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=60)
    assert process.returncode == 0, output


def _watched(home: Path, key: str) -> int:
    """How many times the raw/ watch has recorded ``key`` (one row per content it saw)."""
    path = home / "watch.db"
    if not path.exists():
        return 0
    with sqlite3.connect(path) as conn:
        try:
            return int(
                conn.execute("SELECT COUNT(*) FROM published WHERE key = ?", (key,)).fetchone()[0]
            )
        except sqlite3.OperationalError:  # the watch has not made its table yet
            return 0


def _quiet(home: Path, key: str, *, sightings: int = 1, timeout: float = 120.0) -> list[str]:
    """Wait until the watch has seen ``key`` and every event is handled and every run ended;
    returns the project's run states, newest first."""
    ports = build_ports(Settings(home=home))
    runs = RunStore(ports.table)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (
            _watched(home, key) >= sightings
            and queue_depth(ports.events) == 0
            and not runs.active()
            and runs.list_runs("churn")
        ):
            return [r.state.value for r in runs.list_runs("churn")]
        time.sleep(0.2)
    raise AssertionError(f"not quiet in {timeout}s: {[r.state for r in runs.list_runs()]}")


def test_a_failed_upload_makes_one_run_under_up(up: Path, cli: Cli, tmp_path: Path) -> None:
    bad = tmp_path / "no-target.csv"
    bad.write_text("age,plan\n" + "31,pro\n42,basic\n" * 30)
    result = cli("upload", str(bad), "-p", "churn")
    assert result.returncode == 0, result.stderr
    assert _quiet(up, "churn/no-target.csv") == ["FAILED"]
    time.sleep(3)  # a rescan or two of raw/: nothing more starts
    assert _quiet(up, "churn/no-target.csv") == ["FAILED"]
    assert (up / "buckets" / "raw" / "churn" / "no-target.csv").read_bytes() == bad.read_bytes()

    # Uploading the same bytes again is a person asking to retry: one more run, not two.
    again = cli("upload", str(bad), "-p", "churn")
    assert again.returncode == 0, again.stderr
    time.sleep(1.5)  # the watch sees the rewritten file settle
    assert _quiet(up, "churn/no-target.csv") == ["FAILED", "FAILED"]


def test_a_workbook_sheet_reaches_the_run_under_up(up: Path, cli: Cli, tmp_path: Path) -> None:
    book = two_sheet_workbook(
        tmp_path / "book.xlsx", write_churn_csv(tmp_path / "rows.csv", rows=500, seed=16)
    )
    result = cli("upload", str(book), "-p", "churn", "--sheet", "Data")
    assert result.returncode == 0, result.stderr
    assert _quiet(up, "churn/book.xlsx") == ["DEPLOYED"]
    run = json_of(cli("runs", "list", "--json"))[0]
    assert run["report"]["file"]["sheet"] == "Data"

    # A retrain starts from the latest upload: the same sheet of it.
    started = json_of(cli("retrain", "churn", "--ignore-cooldown", "--json"))
    assert started["key"] == "churn/book.xlsx"
    states = _quiet(up, "churn/book.xlsx")
    retrained = json_of(cli("runs", "list", "--json"))[0]
    assert len(states) == 2 and retrained["state"] != "FAILED", retrained["failure_reason"]
    assert retrained["report"]["file"]["sheet"] == "Data"
    assert retrained["report"]["trigger"]["type"] == "manual"
