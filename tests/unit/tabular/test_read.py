from __future__ import annotations

import gzip
from pathlib import Path

import polars as pl
import pytest

from conveyor.errors import InvalidInput
from conveyor.tabular.read import read_raw


def write(tmp_path: Path, content: bytes, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


BAD = {
    "empty": (b"", "empty"),
    "whitespace only": (b"  \n\n", "empty"),
    "header only": (b"a,b,y\n", "no data rows"),
    "non-utf8": (b"a,b\n1,caf\xe9\n", "byte 0xe9 at offset 9 (line 2)"),
    "png renamed": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "PNG image"),
    "gzip renamed": (gzip.compress(b"a,b\n1,2\n"), "gzip"),
    "nul bytes": (b"a,b\n1,\x002\n", "NUL"),
    "short row": (b"a,b,c\n1,2,3\n4,5\n", "line 3 has 2 fields but the header has 3"),
    "long row": (b"a,b,c\n1,2,3\n4,5,6,7\n", "line 3 has 4 fields"),
    "duplicate names": (b"a,b,a\n1,2,3\n", "duplicate column names: 'a'"),
    "unnamed column": (b"a,,c\n1,2,3\n", "column(s) 2 of the header have no name"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_malformed_files_are_refused_with_a_reason(case: str, tmp_path: Path) -> None:
    content, expected = BAD[case]
    with pytest.raises(InvalidInput) as info:
        read_raw(write(tmp_path, content))
    assert expected in info.value.message


def test_csv_numbers_come_typed_text_stripped_and_missing_spellings_null(tmp_path: Path) -> None:
    frame = read_raw(write(tmp_path, b"\xef\xbb\xbfage,plan\n 31 ,pro\nNA,\n?,basic\n"))
    assert frame.columns == ["age", "plan"]  # the BOM is not part of the first name
    assert frame.schema["plan"] == pl.String
    assert frame.schema["age"].is_numeric()
    assert frame.get_column("age").to_list() == [31, None, None]
    assert frame.get_column("plan").to_list() == ["pro", None, "basic"]


def test_dates_and_flags_are_read_as_written(tmp_path: Path) -> None:
    frame = read_raw(
        write(tmp_path, b"day,flag,none\n2024-01-31T10:00,true,\n2024-02-01T11:30,false,\n")
    )
    assert frame.schema == {"day": pl.String, "flag": pl.String, "none": pl.String}
    assert frame.get_column("day").to_list() == ["2024-01-31T10:00", "2024-02-01T11:30"]
    assert frame.get_column("flag").to_list() == ["true", "false"]


def test_a_column_whose_type_changes_after_the_first_block_is_read_as_text(tmp_path: Path) -> None:
    # Past the reader's first block (1 MiB), where a type guessed too early would break.
    lines = [f"{i},{i % 7}" for i in range(200_000)] + ["200000,n/k"]
    frame = read_raw(write(tmp_path, ("id,code\n" + "\n".join(lines) + "\n").encode()))
    assert frame.height == 200_001
    assert frame.schema["code"] == pl.String
    assert frame.get_column("code")[-1] == "n/k"


def test_quoted_fields_may_hold_commas_and_newlines(tmp_path: Path) -> None:
    frame = read_raw(write(tmp_path, b'note,y\n"a, b",1\n"line\nbreak",0\n'))
    assert frame.get_column("note").to_list() == ["a, b", "line\nbreak"]


def test_parquet_is_detected_by_content_and_keeps_types(tmp_path: Path) -> None:
    path = tmp_path / "upload.csv"  # misnamed on purpose
    pl.DataFrame({"x": [1.5, 2.5], "flag": [True, False]}).write_parquet(path)
    frame = read_raw(path)
    assert frame.schema == {"x": pl.Float64, "flag": pl.Boolean}
