"""The careful parse: rows of the wrong width set aside with their lines, quoted values over
lines kept, stray quotes read as characters."""

from __future__ import annotations

import pytest

from conveyor.errors import InvalidInput
from conveyor.tabular.dialect import Dialect
from conveyor.tabular.rejects import Reject, careful_parse, check_share


def test_rows_of_another_width_are_set_aside_with_line_reason_and_text() -> None:
    parsed = careful_parse('1,2,x\n3,4\n5,"six\nlines",z\n\n7,8,w,9\n', Dialect(), 3, first_line=2)
    assert parsed.rows == [["1", "2", "x"], ["5", "six\nlines", "z"]]
    assert parsed.rejects == [
        Reject(3, "2 fields, expected 3", "3,4"),
        Reject(7, "4 fields, expected 3", "7,8,w,9"),
    ]


def test_a_stray_quote_is_a_character_not_a_runaway_value() -> None:
    parsed = careful_parse('1,"2,x\n3,4,y\n', Dialect(), 3, first_line=1)
    assert parsed.rows == [["1", '"2', "x"], ["3", "4", "y"]] and not parsed.rejects


def test_the_share_refusal_names_count_share_lines_and_setting() -> None:
    rejects = [Reject(4, "2 fields, expected 3", "3,4")]
    check_share(1, 9, rejects, 0.10)  # 10%: allowed
    with pytest.raises(InvalidInput) as info:
        check_share(1, 4, rejects, 0.10)
    message = info.value.message
    assert "1 of 5 rows (20.0%)" in message and "line(s) 4" in message
    assert "max_reject_share" in message


def test_a_quote_inside_a_quoted_value_closes_nothing_before_a_letter() -> None:
    parsed = careful_parse("1,'it won't fit, sadly',x\n", Dialect(",", "'"), 3, first_line=1)
    assert parsed.rows == [["1", "it won't fit, sadly", "x"]]
