from __future__ import annotations

import bz2
import gzip
import io
import lzma
import zipfile
from pathlib import Path

import polars as pl
import pytest

from conveyor.errors import InvalidInput
from conveyor.tabular.read import read_for_training, read_raw, read_table


def write(tmp_path: Path, content: bytes, name: str = "data.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


def _zip(members: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return out.getvalue()


# Twenty good rows: one bad row among them is under the default share of 10%.
GOOD = b"a,b,c\n" + b"".join(b"%d,%d,x\n" % (i, i * 2) for i in range(20))

BAD = {
    "empty": (b"", "empty"),
    "whitespace only": (b"  \n\n", "empty"),
    "header only": (b"a,b,y\n", "no data rows"),
    "png renamed": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 20, "PNG image"),
    "pdf renamed": (b"%PDF-1.7\n" + bytes(range(256)), "PDF document"),
    "sqlite renamed": (b"SQLite format 3\x00" + b"\x00" * 100, "SQLite database"),
    "random bytes": (bytes((i * 7919) % 256 for i in range(4096)), "binary file"),
    "nul bytes": (b"a,b\n1,\x002\n", "NUL"),
    "one column of prose": (b"Dear team\nplease find attached\n", "single column"),
    "rows of the wrong width past the share": (
        b"a,b,c\n1,2,3\n4,5\n",
        "1 of 2 rows (50.0%) do not have the table's number of fields (first on line(s) 3: "
        "2 fields, expected 3)",
    ),
    "zip of two tables": (_zip({"a.csv": b"a,b\n1,2\n", "b.csv": b"a,b\n1,2\n"}), "2 tables"),
}


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_files_that_are_no_table_are_refused_with_a_reason(case: str, tmp_path: Path) -> None:
    content, expected = BAD[case]
    with pytest.raises(InvalidInput) as info:
        read_raw(write(tmp_path, content))
    assert expected in info.value.message


def test_the_reject_share_is_the_callers_setting(tmp_path: Path) -> None:
    path = write(tmp_path, b"a,b,c\n1,2,3\n4,5\n")
    with pytest.raises(InvalidInput, match="max_reject_share"):
        read_for_training(path, max_rows=10, seed=0)
    rows = read_for_training(path, max_rows=10, seed=0, max_reject_share=0.5)
    assert rows.frame.rows() == [(1, 2, 3)] and rows.report.rows_rejected == 1


@pytest.mark.parametrize(
    ("bad_row", "reason"),
    [(b"4,5\n", "2 fields, expected 3"), (b"4,5,x,9\n", "4 fields, expected 3")],
    ids=["short", "long"],
)
def test_a_row_of_the_wrong_width_is_set_aside_with_its_line(
    bad_row: bytes, reason: str, tmp_path: Path
) -> None:
    lines = GOOD.splitlines(keepends=True)
    path = write(tmp_path, b"".join([*lines[:6], bad_row, *lines[6:]]))
    frame, report = read_table(path)
    assert frame.height == 20
    assert report.rows_rejected == 1
    assert [r.to_dict() for r in report.rejects] == [
        {"line": 7, "reason": reason, "text": bad_row.decode().strip()}
    ]


@pytest.mark.parametrize(
    ("compress", "kind"),
    [(gzip.compress, "gzip"), (bz2.compress, "bz2"), (lzma.compress, "xz")],
    ids=["gzip", "bz2", "xz"],
)
def test_compressed_files_are_read_by_their_magic_bytes(
    compress: object, kind: str, tmp_path: Path
) -> None:
    path = write(tmp_path, compress(GOOD), "upload.csv")  # type: ignore[operator]
    frame, report = read_table(path)
    assert frame.height == 20 and report.compression == kind
    assert not list(tmp_path.glob(".*")), "the temporary text is removed"


def test_a_zip_of_one_table_is_read(tmp_path: Path) -> None:
    path = write(tmp_path, _zip({"__MACOSX/._x.csv": b"junk", "export/x.tsv": GOOD}), "x.zip")
    frame, report = read_table(path)
    assert frame.columns == ["a", "b", "c"] and report.compression == "zip"


def test_text_in_cp1252_and_utf16_is_read_and_its_encoding_recorded(tmp_path: Path) -> None:
    text = "name;city\nJosé;Zürich\nRenée;Köln\nAndré;Genève\n"
    for encoding, expected, bom in (
        ("cp1252", "cp1252", False),
        ("utf-16", "utf-16", True),
        ("utf-8-sig", "utf-8", True),
    ):
        frame, report = read_table(write(tmp_path, text.encode(encoding)))
        assert frame.get_column("city").to_list() == ["Zürich", "Köln", "Genève"], encoding
        assert (report.encoding, report.bom, report.delimiter) == (expected, bom, ";")


def test_names_are_cleaned_not_refused(tmp_path: Path) -> None:
    frame, report = read_table(write(tmp_path, b' "a" ,,a, b \n1,2,3,4\n5,6,7,8\n'))
    assert frame.columns == ["a", "column_2", "a_2", "b"]
    assert report.columns_renamed == {
        ' "a" ': "a",
        "<column 2>": "column_2",
        "a": "a_2",
        " b ": "b",
    }


def test_the_report_says_how_the_file_was_read(tmp_path: Path) -> None:
    content = (
        b"Sales export\r\nSource: shop\r\n\r\nid;price\r\n1;1,5\r\n2;2,25\r\n\r\nTotal;3,75\r\n"
    )
    frame, report = read_table(write(tmp_path, content))
    assert frame.rows() == [(1, "1,5"), (2, "2,25")]  # decimal commas are the column's job
    assert report.to_dict() == {
        "format": "csv",
        "compression": None,
        "encoding": "utf-8",
        "bom": False,
        "delimiter": ";",
        "space_after_delimiter": False,
        "quote": '"',
        "escape": None,
        "decimal": ",",
        "line_ending": "\r\n",
        "header_line": 4,
        "has_header": True,
        "preamble_lines": 3,
        "footer_lines": 1,
        "rows_rejected": 0,
        "rejects": [],
        "columns_renamed": {},
        "empty_columns_dropped": [],
        "sheet": None,
    }


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
    frame, report = read_table(path)
    assert frame.schema == {"x": pl.Float64, "flag": pl.Boolean}
    assert report.format == "parquet"
