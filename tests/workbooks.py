"""Workbooks written by the tests: a CSV's rows on one sheet of an .xlsx, behind another."""

from __future__ import annotations

import csv
from pathlib import Path

NOTES_SHEET = "Notes"
DATA_SHEET = "Data"


def two_sheet_workbook(path: Path, data_csv: Path) -> Path:
    """An .xlsx whose first sheet (``Notes``) is a small table of other columns and whose
    second (``Data``) holds ``data_csv``'s rows, numbers as numbers: read from the first
    sheet, the upload has none of the data's columns."""
    import openpyxl

    book = openpyxl.Workbook()
    notes = book.active
    assert notes is not None
    notes.title = NOTES_SHEET
    for row in (["note", "owner"], ["exported from the CRM", "ops"], ["see Data", "ops"]):
        notes.append(row)
    data = book.create_sheet(DATA_SHEET)
    with data_csv.open(newline="") as handle:
        for index, row in enumerate(csv.reader(handle)):
            data.append(row if index == 0 else [_cell(value) for value in row])
    book.save(path)
    return path


def _cell(value: str) -> str | float | None:
    if value == "":
        return None
    try:
        return float(value)
    except ValueError:
        return value
