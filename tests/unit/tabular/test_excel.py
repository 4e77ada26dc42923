"""An .xlsx upload is read from its first sheet, or the one named, title rows skipped."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

from conveyor.errors import InvalidInput
from conveyor.tabular.read import read_table


def _workbook(path: Path) -> Path:
    book = openpyxl.Workbook()
    first = book.active
    assert first is not None
    first.title = "Summary"
    for row in (["Sales 2024"], [], ["name", "price", "n"], ["a", 1.5, 3], ["b", 2, None]):
        first.append(row)
    other = book.create_sheet("Raw")
    for row in (["x", "y"], [1, "u"], [2, "v"]):
        other.append(row)
    book.save(path)
    return path


def test_the_first_sheet_is_read_below_its_title(tmp_path: Path) -> None:
    frame, report = read_table(_workbook(tmp_path / "book.bin"))  # found by content
    assert frame.columns == ["name", "price", "n"]
    assert frame.rows() == [("a", 1.5, 3), ("b", 2.0, None)]
    assert (report.format, report.sheet, report.preamble_lines) == ("xlsx", "Summary", 2)


def test_a_sheet_is_chosen_by_name_or_position(tmp_path: Path) -> None:
    path = _workbook(tmp_path / "book.xlsx")
    assert read_table(path, sheet="Raw")[0].columns == ["x", "y"]
    assert read_table(path, sheet=1)[0].height == 2
    assert read_table(path, sheet="1")[0].columns == ["x", "y"]  # `--sheet 1`
    with pytest.raises(InvalidInput, match="no sheet 'Nope'; its sheets are: 'Summary', 'Raw'"):
        read_table(path, sheet="Nope")


def test_a_sheet_asked_of_a_csv_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "rows.csv"
    path.write_text("x,y\n1,u\n2,v\n")
    with pytest.raises(InvalidInput, match=r"the file is a text file, not an \.xlsx workbook"):
        read_table(path, sheet="Raw")
