"""Outcomes sent to /feedback, checked against the model they are for: a regression takes
numbers only; a class the model does not know is stored, with a note."""

from __future__ import annotations

import pytest

from conveyor.errors import InvalidInput
from conveyor.monitoring.feedback import Feedback, check_outcomes
from conveyor.types import Task


def test_a_regression_refuses_an_outcome_that_is_not_a_number() -> None:
    assert (
        check_outcomes([Feedback("r1", 12.5), Feedback("r2", [3, 4])], Task.REGRESSION, None, "v")
        == []
    )
    for bad in ("high", True, ["1.5"]):
        with pytest.raises(InvalidInput, match="is not a number: sugar v2 predicts a number"):
            check_outcomes([Feedback("r1", bad)], Task.REGRESSION, None, "sugar v2")


def test_labels_compare_as_text_and_unknown_ones_are_named() -> None:
    classes = [0, 1]
    assert (
        check_outcomes([Feedback("r1", True), Feedback("r2", 0.0)], Task.BINARY, classes, "v") == []
    )
    (note,) = check_outcomes([Feedback("r1", [1, "2", 3])], Task.BINARY, classes, "p v1")
    assert note.startswith("'2', '3' are not a class of p v1 (0, 1)")
