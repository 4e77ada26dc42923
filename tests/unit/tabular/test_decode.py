"""Archives opened by their magic bytes and text made UTF-8, whatever its encoding."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from conveyor.errors import InvalidInput
from conveyor.tabular.decode import decode, unpack

TEXT = "name,city\nJosé,Zürich\nRenée,Köln\n"


@pytest.mark.parametrize(
    ("encoding", "label", "bom"),
    [
        ("utf-8", "utf-8", False),
        ("utf-8-sig", "utf-8", True),
        ("utf-16", "utf-16", True),
        ("utf-16-be", "utf-16-be", False),
        ("utf-16-le", "utf-16-le", False),
        ("cp1252", "cp1252", False),
    ],
)
def test_text_is_made_utf8_and_its_encoding_named(
    encoding: str, label: str, bom: bool, tmp_path: Path
) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(TEXT.encode(encoding))
    decoded = decode(path)
    assert (decoded.encoding, decoded.bom) == (label, bom)
    assert decoded.path.read_text("utf-8-sig") == TEXT
    assert decoded.transcoded == (decoded.path != path)


def test_a_gzip_bomb_is_stopped_before_it_fills_the_disk(tmp_path: Path) -> None:
    path = tmp_path / "bomb.csv.gz"
    path.write_bytes(gzip.compress(b"a,b\n" + b"0" * (80 << 20)))  # 80 KiB that expands 1000x
    with pytest.raises(InvalidInput, match="gzip archive that expands more than 200 times"):
        unpack(path)
    assert list(tmp_path.iterdir()) == [path], "the partial file is removed"


def test_a_damaged_archive_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cut.csv.gz"
    path.write_bytes(gzip.compress(b"a,b\n1,2\n" * 1000)[:-20])
    with pytest.raises(InvalidInput, match="gzip archive that cannot be decompressed"):
        unpack(path)


@pytest.mark.parametrize(
    ("tail", "encoding", "transcoded"),
    [("Zoë;1,5 €\n".encode(), "utf-8", False), ("Zoë;1,5 €\n".encode("cp1252"), "cp1252", True)],
)
def test_the_whole_file_is_checked_for_utf8_past_the_head(
    tail: bytes, encoding: str, transcoded: bool, tmp_path: Path
) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(b"name;price\n" + b"Ann;2,5\n" * 20_000 + tail)  # 160 KiB of ASCII first
    decoded = decode(path)
    assert (decoded.encoding, decoded.transcoded) == (encoding, transcoded)
    assert decoded.path.read_text("utf-8").endswith("Zoë;1,5 €\n")


def test_a_nul_byte_past_the_head_is_refused_with_its_line(tmp_path: Path) -> None:
    path = tmp_path / "data.csv"
    path.write_bytes(b"name;price\n" + "Zoë;2,5\n".encode() * 20_000 + b"A\x00n;1\n")
    with pytest.raises(InvalidInput, match=r"NUL byte at offset .* \(line 20002\)"):
        decode(path)
