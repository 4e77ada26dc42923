"""The dialect comes from the content: delimiter, quote, escape, line end, decimal mark."""

from __future__ import annotations

import pytest

from conveyor.tabular.dialect import Dialect, sniff

ROWS = [["name", "price", "qty"], ["a, b", "1.5", "3"], ["c", "2.25", "4"], ["d", "3", "5"]]


def _text(delimiter: str, quote: str = '"', ending: str = "\n") -> str:
    def cell(value: str) -> str:
        return f"{quote}{value}{quote}" if "," in value or delimiter in value else value

    return "".join(delimiter.join(cell(c) for c in row) + ending for row in ROWS)


@pytest.mark.parametrize("delimiter", [",", ";", "\t", "|"])
@pytest.mark.parametrize("quote", ['"', "'"])
def test_delimiter_and_quote_are_found(delimiter: str, quote: str) -> None:
    found = sniff(_text(delimiter, quote))
    assert (found.delimiter, found.quote) == (delimiter, quote)


@pytest.mark.parametrize("ending", ["\n", "\r", "\r\n"])
def test_the_line_ending_is_found(ending: str) -> None:
    assert sniff(_text(",", ending=ending)).line_ending == ending


def test_a_backslash_escape_is_found() -> None:
    text = 'id,note\n1,"say \\"hi\\", then go"\n2,"plain"\n3,"a \\"b\\""\n'
    found = sniff(text)
    assert found == Dialect(",", '"', "\\", "\n", ".")
    assert found.parse(text)[1] == ["1", 'say "hi", then go']


def test_decimal_commas_with_semicolons_are_a_hint() -> None:
    assert sniff("a;b\n1,5;2\n3,25;4\n").decimal == ","
    assert sniff("a;b\n1.5;2\n3.25;4\n").decimal == "."


def test_a_space_after_each_delimiter_is_skipped() -> None:
    text = 'a, b, c\n1, "x, y", 2\n3, "z", 4\n5, w, 6\n'
    found = sniff(text)
    assert (found.delimiter, found.skip_space) == (",", True)
    assert found.parse(text)[1] == ["1", "x, y", "2"]
