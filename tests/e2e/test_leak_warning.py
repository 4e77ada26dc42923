"""A column that gives the answer away, through the real CLI: the run that learns from it
says so beside the gate, names the column and the command that leaves it out; once the
column is left out the next run has no warning. An ordinary file draws none."""

from __future__ import annotations

import csv
import random
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Cli, json_of


def _renewals(path: Path, rows: int = 800) -> Path:
    """Renewals with one column written after the fact: ``account status`` is "closed"
    exactly when the customer did not renew."""
    chance = random.Random(7)
    with path.open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["age", "plan", "monthly spend", "account status", "renewed"])
        for _ in range(rows):
            renewed = chance.random() < 0.6
            out.writerow(
                [
                    chance.randint(18, 80),
                    chance.choice(["basic", "plus", "pro"]),
                    round(chance.uniform(5, 120), 2),
                    "active" if renewed else "closed",
                    "yes" if renewed else "no",
                ]
            )
    return path


def _warnings(run: dict[str, Any]) -> list[str]:
    return list((run["report"].get("gate") or {}).get("warnings") or [])


def test_a_leaking_column_is_named_with_the_fix_and_the_warning_goes_once_it_is_left_out(
    cli: Cli, tmp_path: Path
) -> None:
    data = _renewals(tmp_path / "renewals.csv")
    upload = ("upload", str(data), "-p", "renewals", "--wait", "--json")
    first = json_of(cli(*upload, "--target", "renewed"))
    (warning,) = _warnings(first)
    assert "'account status'" in warning
    fix = "conveyor project set-column renewals 'account status' --kind ignore"
    assert fix in warning
    shown = cli("runs", "show", first["run_id"])
    assert "warning" in shown.stdout and "account status" in shown.stdout

    json_of(
        cli("project", "set-column", "renewals", "account status", "--kind", "ignore", "--json")
    )
    # The same bytes train again: the project's settings changed since they did.
    again = cli(*upload[:-1])
    assert again.returncode == 0, again.stderr
    assert "settings changed since (column_kinds" in again.stdout, again.stdout
    second = json_of(cli("runs", "show", _latest_run(cli), "--json"))
    assert second["report"]["metrics"]["test"]["accuracy"] < 0.9
    assert _warnings(second) == []


def _latest_run(cli: Cli) -> str:
    runs = json_of(cli("runs", "list", "--project", "renewals", "--json"))
    return str(max(run["run_id"] for run in runs))


def test_an_ordinary_file_draws_no_warning(first_run: dict[str, Any]) -> None:
    assert first_run["report"]["gate"]["status"] == "Approved"
    assert _warnings(first_run) == []
