"""Column kinds a person sets on a project: stored on its row in a real SQLite table, merged,
cleared, replaced, refused when they make no sense; older rows load without any."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.errors import InvalidInput, NotFound
from conveyor.projects import create_project, get_project, set_column_kinds
from conveyor.tables.sqlite import SqliteTable
from conveyor.types import Project


@pytest.fixture
def table(tmp_path: Path) -> SqliteTable:
    table = SqliteTable(path=tmp_path / "t.db")
    create_project(table, "house", target="price")
    return table


def test_kinds_are_stored_merged_and_cleared(table: SqliteTable) -> None:
    set_column_kinds(table, "house", {"zip": "categorical", "Notes": "TEXT"})
    set_column_kinds(table, "house", {"built": "date", "zip": None})
    assert get_project(table, "house").column_kinds == {"Notes": "text", "built": "date"}
    replaced = set_column_kinds(table, "house", {"id": "ignore"}, replace_all=True)
    assert replaced.column_kinds == get_project(table, "house").column_kinds == {"id": "ignore"}


def test_bad_kinds_are_refused_with_the_valid_ones(table: SqliteTable) -> None:
    with pytest.raises(InvalidInput, match="categorical, numeric, date, text, ignore"):
        set_column_kinds(table, "house", {"zip": "integer"})
    with pytest.raises(InvalidInput, match="target"):
        set_column_kinds(table, "house", {"price": "ignore"})
    with pytest.raises(NotFound):
        set_column_kinds(table, "flat", {"zip": "text"})
    assert get_project(table, "house").column_kinds == {}


def test_a_project_row_from_before_column_kinds_loads_with_none() -> None:
    row = Project("old", target="y").to_dict()
    del row["column_kinds"]
    assert Project.from_dict(row).column_kinds == {}
