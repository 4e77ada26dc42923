"""JSON log lines, their correlation fields, and the per-run files, in this process."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from conveyor.logs import (
    bind,
    close_logging,
    log_context,
    run_log_path,
    setup_logging,
)


@pytest.fixture
def home(tmp_path: Path) -> Iterator[Path]:
    root = logging.getLogger()
    level = root.level
    setup_logging(tmp_path, verbose=False)
    try:
        yield tmp_path
    finally:
        close_logging()
        root.setLevel(level)


def lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_lines_carry_the_bound_context_and_only_inside_it(home: Path) -> None:
    log = logging.getLogger("conveyor.test")
    with log_context(project="churn"):
        bind(run_id="r-1")
        log.info("inside", extra={"stage": "train"})
        try:
            raise ValueError("bad rows")
        except ValueError:
            log.exception("failed")
    log.info("outside", extra={"request_id": "abc", "status": 400})
    logging.getLogger("watchfiles.main").info("1 change detected")  # another library's INFO

    inside, failed, outside = lines(home / "logs" / "conveyor.jsonl")
    assert inside["message"] == "inside" and inside["level"] == "info"
    assert (inside["run_id"], inside["project"], inside["stage"]) == ("r-1", "churn", "train")
    assert inside["logger"] == "conveyor.test" and inside["ts"].endswith("+00:00")
    assert failed["level"] == "error" and "ValueError: bad rows" in failed["exception"]
    assert "run_id" not in outside and "project" not in outside
    assert (outside["request_id"], outside["status"]) == ("abc", 400)
    assert [line["message"] for line in lines(run_log_path(home, "r-1"))] == ["inside", "failed"]


def test_a_run_id_that_is_not_a_file_name_gets_no_file(home: Path) -> None:
    logging.getLogger("conveyor.test").warning("odd", extra={"run_id": "../../escape"})
    assert not (home / "escape.jsonl").exists()
    assert not (home / "logs" / "runs").exists()
    assert lines(home / "logs" / "conveyor.jsonl")[0]["run_id"] == "../../escape"
