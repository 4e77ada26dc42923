"""`conveyor upload BOOK.xlsx --sheet NAME|INDEX`: the run reads that sheet, says so in its
file report, and a sheet the workbook lacks fails the run naming the sheets it has."""

from __future__ import annotations

from pathlib import Path

from conveyor.samples.generate import write_churn_csv
from tests.e2e.conftest import Cli, json_of
from tests.workbooks import two_sheet_workbook


def test_upload_trains_on_the_sheet_named_and_reports_it(cli: Cli, tmp_path: Path) -> None:
    rows = write_churn_csv(tmp_path / "rows.csv", rows=600, seed=14)
    book = two_sheet_workbook(tmp_path / "book.xlsx", rows)
    run = json_of(
        cli(
            "upload",
            str(book),
            "-p",
            "churn",
            "--target",
            "churned",
            "--sheet",
            "Data",
            "--wait",
            "--json",
        )
    )
    assert run["state"] == "DEPLOYED", run.get("failure_reason")
    assert run["report"]["file"]["sheet"] == "Data"
    version = json_of(cli("models", "show", "churn", "1", "--json"))
    features = {f["name"] for f in version["input_schema"]["features"]}
    assert {"monthly charges", "plan", "tenure months"} <= features


def test_an_unknown_sheet_fails_the_run_listing_the_sheets(cli: Cli, tmp_path: Path) -> None:
    book = two_sheet_workbook(
        tmp_path / "book.xlsx", write_churn_csv(tmp_path / "rows.csv", rows=60, seed=15)
    )
    result = cli(
        "upload", str(book), "-p", "churn", "--target", "churned", "--sheet", "Sales", "--wait"
    )
    assert result.returncode != 0
    assert "the workbook has no sheet 'Sales'; its sheets are: 'Notes', 'Data'" in (
        result.stdout + result.stderr
    )
    runs = json_of(cli("runs", "list", "--project", "churn", "--json"))
    assert [r["state"] for r in runs] == ["FAILED"]
