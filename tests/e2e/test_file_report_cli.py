"""What conveyor did with a user's file, through the real CLI: ``conveyor inspect`` before
anything is trained, ``runs show`` and ``models show`` after, and the column kinds a person
sets on a project (``project set-column`` / ``set-columns``)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest

from conveyor.config import Settings
from conveyor.pipeline.runs import RunStore
from conveyor.samples import generate
from conveyor.storage import PROCESSED
from conveyor.types import Algorithm, ModelVersion, ObjectRef, Task
from conveyor.wiring import build_ports
from tests.e2e.conftest import Cli, json_of
from tests.unit.pipeline.test_file_report import NEW_REPORT, OLD_REPORT

CHURN_KINDS = {
    "customer id": "dropped",
    "age": "numeric",
    "plan": "categorical",
    "region": "categorical",
    "monthly charges": "numeric",
    "tenure months": "numeric",
    "support calls": "numeric",
    "has partner": "boolean",
    "signup date": "datetime",
}


@pytest.fixture(scope="module")
def small_churn(tmp_path_factory: pytest.TempPathFactory) -> Path:
    sample = Path(generate.__file__).with_name("churn.csv")
    lines = sample.read_text().splitlines(keepends=True)[:201]
    path = tmp_path_factory.mktemp("data") / "churn-200.csv"
    path.write_text("".join(lines))
    return path


def test_inspect_shows_kinds_rules_and_first_rows_and_writes_the_parsed_table(
    cli: Cli, small_churn: Path, tmp_path: Path
) -> None:
    parsed = tmp_path / "parsed.csv"
    shown = json_of(
        cli("inspect", str(small_churn), "--target", "churned", "--json", "-o", str(parsed))
    )
    assert shown["rows_read"] == 200 and shown["task"] == "binary"
    kinds = {c["name"]: c["kind"] for c in shown["columns"]}
    assert {k: v for k, v in kinds.items() if k != "churned"} == CHURN_KINDS
    assert [c["name"] for c in shown["columns"]][:2] == ["customer id", "age"]  # file order
    signup = next(c for c in shown["columns"] if c["name"] == "signup date")
    assert "%Y-%m-%d" in signup["rule"]
    assert shown["rows"][0]["age"] == 60.0 and shown["rows"][0]["has partner"] is True
    assert shown["rows"][1]["age"] is None  # an empty cell is a missing value, not ""
    with parsed.open(newline="") as handle:
        table = list(csv.DictReader(handle))
    assert len(table) == 200 and table[0]["customer id"] == "C100000"
    assert table[0]["signup date"].startswith("2019-09-06")

    people = cli("inspect", str(small_churn), "--target", "churned", "--rows", "2")
    assert people.returncode == 0, people.stderr
    assert "what conveyor did with your file" in people.stdout
    assert "high-cardinality" in people.stdout and "C100001" in people.stdout
    assert "C100002" not in people.stdout  # two rows asked for


def test_inspect_shows_a_wide_file_one_column_a_line(cli: Cli, tmp_path: Path) -> None:
    # 30 columns do not fit across 200 characters: read across, each would be squeezed to a
    # few letters a line; one column a line, every name and value reads whole.
    wide = tmp_path / "wide.csv"
    names = [f"measurement_{i:02d}" for i in range(30)]
    rows = [",".join(names), *(",".join(str(1000 * r + i) for i in range(30)) for r in (1, 2))]
    wide.write_text("\n".join(rows) + "\n")
    shown = cli("inspect", str(wide), "--rows", "2")
    assert shown.returncode == 0, shown.stderr
    assert "one column a line" in shown.stdout
    lines = {line.split()[1]: line for line in shown.stdout.splitlines() if "measurement_" in line}
    assert "1029" in lines["measurement_29"] and "2029" in lines["measurement_29"]


def test_inspect_without_a_target_reads_every_column_as_a_feature(
    cli: Cli, small_churn: Path
) -> None:
    shown = json_of(cli("inspect", str(small_churn), "--json", "--rows", "1"))
    assert shown["target"] is None and shown["task"] is None
    assert {c["name"]: c["kind"] for c in shown["columns"]} == {
        **CHURN_KINDS,
        "churned": "boolean",
    }
    assert len(shown["rows"]) == 1 and "__conveyor_inspect_row__" not in shown["rows"][0]


def test_inspect_refuses_a_missing_target_naming_the_columns(cli: Cli, small_churn: Path) -> None:
    refused = cli("inspect", str(small_churn), "--target", "price")
    assert refused.returncode != 0
    assert "'price'" in refused.stderr and "'plan'" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_inspect_reads_a_semicolon_cp1252_export(cli: Cli, tmp_path: Path) -> None:
    names = ["Zoë", "José", "Renée", "Çelik", "Jürgen", "Ålesund"]
    cities = ["Málaga", "Köln", "Orléans"]
    lines = ["name;price;city;rooms"]
    lines += [
        f"{names[i % 6]} {i};{100 + i},{i % 10}5;{cities[i % 3]};{1 + i % 4}" for i in range(40)
    ]
    path = tmp_path / "export.csv"
    path.write_bytes("\r\n".join(lines).encode("cp1252"))
    shown = json_of(cli("inspect", str(path), "--target", "price", "--json"))
    kinds = {c["name"]: c["kind"] for c in shown["columns"]}
    assert kinds["city"] == "categorical" and kinds["rooms"] == "numeric"
    assert shown["task"] == "regression" and shown["rows"][0]["price"] == 100.05
    assert shown["rows"][0]["city"] == "Málaga"
    assert shown["file"]["delimiter"] == ";" and shown["file"]["decimal"] == ","
    assert "utf" not in shown["file"]["encoding"].lower()
    people = cli("inspect", str(path), "--target", "price")
    assert "delimiter ';'" in people.stdout and "Köln" in people.stdout


def test_set_column_round_trip(cli: Cli, tmp_path: Path) -> None:
    assert cli("project", "create", "house", "--target", "price").returncode == 0
    set_one = json_of(
        cli("project", "set-column", "house", "zip", "--kind", "categorical", "--json")
    )
    assert set_one["column_kinds"] == {"zip": "categorical"}
    kinds = tmp_path / "kinds.json"
    kinds.write_text(json.dumps({"built": "date", "listing id": "ignore", "notes": "text"}))
    assert cli("project", "set-columns", "house", "--file", str(kinds)).returncode == 0
    cleared = cli("project", "set-column", "house", "notes", "--clear")
    assert cleared.returncode == 0, cleared.stderr
    shown = cli("project", "show", "house")
    assert "zip" in shown.stdout and "categorical" in shown.stdout
    assert "listing id" in shown.stdout and "notes" not in shown.stdout
    stored = json_of(cli("project", "show", "house", "--json"))["column_kinds"]
    assert stored == {"zip": "categorical", "built": "date", "listing id": "ignore"}

    bad = cli("project", "set-column", "house", "zip", "--kind", "integer")
    assert bad.returncode == 2 and "integer" in bad.stderr
    kinds.write_text('{"zip": "integer"}')
    bad_file = cli("project", "set-columns", "house", "--file", str(kinds))
    assert (
        bad_file.returncode != 0 and "categorical, numeric, date, text, ignore" in bad_file.stderr
    )
    neither = cli("project", "set-column", "house", "zip")
    assert neither.returncode != 0 and "--clear" in neither.stderr


def test_inspect_with_a_project_uses_its_target_and_notes_kinds_it_cannot_use(
    cli: Cli, small_churn: Path
) -> None:
    assert cli("project", "create", "churn", "--target", "churned").returncode == 0
    assert cli("project", "set-column", "churn", "zip", "--kind", "categorical").returncode == 0
    shown = json_of(cli("inspect", str(small_churn), "--project", "churn", "--json"))
    assert shown["target"] == "churned" and shown["task"] == "binary"
    assert any("'zip'" in note and "no such column" in note for note in shown["notes"])


def _stored_run(home: Path, report: dict[str, Any]) -> str:
    ports = build_ports(Settings(home=home))
    runs = RunStore(ports.table)
    run, _ = runs.create("house", ObjectRef("raw", "house/h.csv"), f"d{len(report)}")
    return runs.update_report(run, **report).run_id


def test_runs_show_draws_the_file_report_of_new_and_old_runs(cli: Cli) -> None:
    home: Path = cli.home  # type: ignore[attr-defined]
    new_run = _stored_run(home, NEW_REPORT)
    old_run = _stored_run(home, OLD_REPORT)

    shown = cli("runs", "show", new_run)
    assert shown.returncode == 0, shown.stderr
    text = " ".join(shown.stdout.split())
    assert "what conveyor did with your file" in text
    assert "encoding cp1252" in text and "delimiter ';'" in text and "line 3" in text
    assert "line 7: 5 fields, the header has 4" in text and "a;b;c;d;e" in text
    assert "currency `$`, thousands `,`" in text and "97.5%" in text and "'N/A'" in text
    assert "set by you" in text
    as_json = json_of(cli("runs", "show", new_run, "--json"))
    assert as_json["report"]["file"] == NEW_REPORT["file"]
    assert as_json["report"]["columns"] == NEW_REPORT["columns"]

    old = cli("runs", "show", old_run)
    assert old.returncode == 0, old.stderr
    text = " ".join(old.stdout.split())
    assert "date %Y-%m-%d" in text and "customer id" in text and "encoding" not in text


def test_models_show_draws_its_datasets_file_report(cli: Cli) -> None:
    home: Path = cli.home  # type: ignore[attr-defined]
    ports = build_ports(Settings(home=home))
    ports.store.put(PROCESSED, "house/d1/report.json", json.dumps(NEW_REPORT).encode())
    raw = ObjectRef("raw", "house/h.csv")
    draft = ModelVersion(
        project="house",
        version=0,
        run_id="r-1",
        artifact=ObjectRef("models", "house/r-1/m"),
        sha256="0" * 64,
        dataset_id="d1",
        raw=raw,
        task=Task.REGRESSION,
        algorithm=Algorithm.LIGHTGBM,
        primary_metric="rmse",
        metrics={"test": {"rmse": 1.0}},
        hyperparameters={},
        input_schema={"features": []},
        package_version="0",
        git_commit=None,
    )
    ports.registry.create_version(draft)
    shown = cli("models", "show", "house", "1")
    assert shown.returncode == 0, shown.stderr
    assert "currency `$`, thousands `,`" in shown.stdout and "cp1252" in shown.stdout
    report = json_of(cli("models", "show", "house", "1", "--json"))["dataset_report"]
    assert report["file"]["delimiter"] == ";" and report["columns"][2]["reason"] == "set by you"
