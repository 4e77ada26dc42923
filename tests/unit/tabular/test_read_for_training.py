"""read_for_training: small files read whole as read_raw reads them; files over the threshold
(a tiny one here) streamed in blocks, checked as read_raw checks them, and sampled to the cap,
with columns that schema inference cannot tell from the whole-file path's."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from conveyor.errors import InvalidInput
from conveyor.tabular.read import read_for_training, read_raw
from tests.unit.tabular.test_read import BAD, write

STREAM = 0  # a threshold every non-empty file is over: the streaming path

# Numbers (ints, floats, padded), text with spaces, every "missing" spelling, dates, flags, an
# all-empty column, quoted commas and line breaks, a BOM before the header.
MIXED = (
    b"\xef\xbb\xbfage,income,plan,day,flag,none,note,y\n"
    b' 31 ,1.5, pro ,2024-01-31,true,,"a, b",yes\n'
    b'NA,2.25,,2024-02-01,false,,"line\nbreak",no\n'
    b"?,-,basic,2024-02-02,true,,n/a,yes\n"
    b"40,1e3,null,2024-02-03,false,,plain,no\n"
)


BIG_ROWS = 700_000


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A CSV of two reader blocks (8 MiB each): numbers, text and missing values."""
    path = big_csv(tmp_path_factory.mktemp("big") / "big.csv", BIG_ROWS)
    assert path.stat().st_size > 8 << 20
    return path


def big_csv(path: Path, rows: int, *, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    frame = pl.DataFrame(
        {
            "n": np.arange(rows),
            "x": rng.normal(size=rows).round(3),
            "plan": rng.choice(["basic", " pro ", "NA", "team"], rows),
            "y": rng.choice(["yes", "no"], rows),
        }
    )
    frame.write_csv(path)
    return path


def test_a_streamed_file_comes_out_as_the_whole_file_does(tmp_path: Path) -> None:
    path = write(tmp_path, MIXED)
    whole = read_raw(path)
    streamed = read_for_training(path, max_rows=100, seed=1, stream_above_bytes=STREAM)
    assert streamed.rows_read == 4 and not streamed.sampled
    assert streamed.frame.schema == whole.schema
    assert streamed.frame.equals(whole)
    assert whole.schema["age"] == pl.Int64 and whole.schema["income"] == pl.Float64


def test_a_sample_streamed_equals_the_same_sample_of_the_file_read_whole(big: Path) -> None:
    streamed = read_for_training(big, max_rows=5000, seed=9, stream_above_bytes=STREAM)
    whole = read_for_training(big, max_rows=5000, seed=9)
    assert streamed.rows_read == whole.rows_read == BIG_ROWS
    assert streamed.sampled and streamed.frame.height == 5000
    assert streamed.frame.schema == whole.frame.schema == read_raw(big).schema
    assert streamed.frame.equals(whole.frame)
    numbers = streamed.frame.get_column("n")
    assert numbers.is_sorted() and numbers[-1] > 600_000  # file order, from all over it
    assert streamed.frame.get_column("plan").null_count() > 0  # "NA" is missing, as whole


def test_a_file_under_the_cap_is_not_sampled_either_way(tmp_path: Path) -> None:
    path = big_csv(tmp_path / "big.csv", 50_000)
    streamed = read_for_training(path, max_rows=50_000, seed=2, stream_above_bytes=STREAM)
    assert not streamed.sampled and streamed.rows_read == 50_000
    assert streamed.frame.equals(read_raw(path))


def test_a_row_longer_than_a_streamed_block_is_read_as_whole(tmp_path: Path) -> None:
    long = b"x" * (10 << 20)  # past the streaming blocks (2 MiB), read again in 8 MiB ones
    path = write(tmp_path, b"n,note,y\n1,short,yes\n2," + long + b",no\n3,a,no\n")
    streamed = read_for_training(path, max_rows=100, seed=0, stream_above_bytes=STREAM)
    assert streamed.rows_read == 3
    assert streamed.frame.equals(read_raw(path))
    assert streamed.frame.get_column("note")[1] == long.decode()


@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_streamed_files_are_refused_with_the_whole_files_reason(case: str, tmp_path: Path) -> None:
    content, expected = BAD[case]
    with pytest.raises(InvalidInput) as info:
        read_for_training(write(tmp_path, content), max_rows=1, seed=0, stream_above_bytes=STREAM)
    assert expected in info.value.message


def test_a_nul_byte_blocks_into_a_streamed_file_is_found_and_its_line_named(
    big: Path, tmp_path: Path
) -> None:
    path = Path(shutil.copy(big, tmp_path / "bad.csv"))
    with path.open("ab") as out:
        out.write(b"7,0.5,p\x00ro,yes\n")
    with pytest.raises(InvalidInput) as info:
        read_for_training(path, max_rows=100, seed=0, stream_above_bytes=STREAM)
    assert "NUL byte at offset" in info.value.message
    assert "line 700002" in info.value.message  # the header, 700,000 rows, then this one


def test_a_short_row_blocks_into_a_streamed_file_is_set_aside_with_its_line(
    big: Path, tmp_path: Path
) -> None:
    path = Path(shutil.copy(big, tmp_path / "bad.csv"))
    with path.open("ab") as out:
        out.write(b"7,0.5,pro\n")
    rows = read_for_training(path, max_rows=100, seed=0, stream_above_bytes=STREAM)
    assert rows.rows_read == BIG_ROWS and rows.report.rows_rejected == 1
    assert rows.rejects[0].to_dict() == {
        "line": 700002,
        "reason": "3 fields, expected 4",
        "text": "7,0.5,pro",
    }


def test_cp1252_bytes_past_the_head_of_a_streamed_file_are_transcoded(
    big: Path, tmp_path: Path
) -> None:
    path = Path(shutil.copy(big, tmp_path / "bad.csv"))
    with path.open("ab") as out:
        out.write(b"7,0.5,caf\xe9,yes\n")
    rows = read_for_training(path, max_rows=BIG_ROWS + 1, seed=0, stream_above_bytes=STREAM)
    assert rows.report.encoding == "cp1252" and rows.rows_read == BIG_ROWS + 1
    assert rows.frame.get_column("plan")[-1] == "café"


def parquet_file(path: Path, rows: int) -> Path:
    """Numbers with gaps, text, a categorical, dates and flags, in many small row groups."""
    rng = np.random.default_rng(3)
    frame = pl.DataFrame(
        {
            "age": pl.Series(rng.integers(18, 90, rows)),
            "income": pl.Series([None if i % 7 == 0 else float(i) / 3 for i in range(rows)]),
            "plan": pl.Series(rng.choice(["basic", "pro", "team"], rows)).cast(pl.Categorical),
            "note": pl.Series([f"row {i}" for i in range(rows)]),
            "day": pl.date_range(
                pl.date(2020, 1, 1), pl.date(2020, 1, 1) + pl.duration(days=rows - 1), eager=True
            ),
            "churned": pl.Series(rng.choice(["yes", "no"], rows)),
        }
    )
    frame.write_parquet(path, row_group_size=1000)
    return path


def test_a_large_parquet_file_is_streamed_into_the_same_sample_as_read_whole(
    tmp_path: Path,
) -> None:
    path = parquet_file(tmp_path / "data.parquet", 10_000)

    streamed = read_for_training(path, max_rows=3000, seed=7, stream_above_bytes=STREAM)
    whole = read_for_training(path, max_rows=3000, seed=7)

    assert streamed.rows_read == whole.rows_read == 10_000
    assert streamed.sampled and streamed.frame.height == 3000
    assert streamed.frame.schema == whole.frame.schema
    assert streamed.frame.equals(whole.frame)
    assert streamed.frame.schema["plan"] == pl.String  # categoricals come as their text


def test_a_streamed_parquet_file_under_the_cap_is_read_entire(tmp_path: Path) -> None:
    path = parquet_file(tmp_path / "data.parquet", 4000)
    streamed = read_for_training(path, max_rows=50_000, seed=7, stream_above_bytes=STREAM)
    assert not streamed.sampled
    assert streamed.frame.equals(read_raw(path))


def test_a_damaged_or_empty_streamed_parquet_file_is_refused(tmp_path: Path) -> None:
    path = parquet_file(tmp_path / "data.parquet", 4000)
    damaged = tmp_path / "damaged.parquet"
    damaged.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(InvalidInput, match="the Parquet file cannot be read"):
        read_for_training(damaged, max_rows=1000, seed=7, stream_above_bytes=STREAM)

    empty = tmp_path / "empty.parquet"
    pl.DataFrame({"age": pl.Series([], dtype=pl.Int64)}).write_parquet(empty)
    with pytest.raises(InvalidInput, match="has columns but no rows"):
        read_for_training(empty, max_rows=1000, seed=7, stream_above_bytes=STREAM)


def test_a_streamed_file_is_decoded_and_sniffed_as_a_whole_one(tmp_path: Path) -> None:
    rows = "".join(f"{i};{i},5;caf\u00e9 {i % 3}\r\n" for i in range(3000))
    text = "Export 2024\r\n\r\nid;price;name\r\n" + rows + "4;5\r\n" + "Total;1\r\n"
    path = write(tmp_path, text.encode("cp1252"))
    whole = read_for_training(path, max_rows=100, seed=3)
    streamed = read_for_training(path, max_rows=100, seed=3, stream_above_bytes=STREAM)
    assert streamed.frame.equals(whole.frame)
    assert streamed.rows_read == whole.rows_read == 3000
    for report in (streamed.report, whole.report):
        assert (report.encoding, report.delimiter, report.decimal) == ("cp1252", ";", ",")
        assert (report.header_line, report.preamble_lines, report.footer_lines) == (3, 2, 1)
        assert [r.line for r in report.rejects] == [3004]
