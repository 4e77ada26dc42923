from __future__ import annotations

import polars as pl
import pytest

from conveyor.errors import InvalidInput
from conveyor.tabular.split import split_frame
from conveyor.types import Task


def frame(n_a: int, n_b: int) -> pl.DataFrame:
    return pl.DataFrame({"x": list(range(n_a + n_b)), "y": ["a"] * n_a + ["b"] * n_b})


def test_stratified_split_keeps_class_proportions_in_every_part() -> None:
    train, valid, test = split_frame(frame(800, 200), target="y", task=Task.BINARY, seed=1)
    assert (train.height, valid.height, test.height) == (700, 150, 150)
    for part in (train, valid, test):
        share = part.get_column("y").eq("b").mean()
        assert share == pytest.approx(0.2, abs=0.01)
    rows = pl.concat([train, valid, test]).get_column("x").sort().to_list()
    assert rows == list(range(1000))  # every row once


def test_the_same_seed_gives_the_same_split_and_another_seed_another() -> None:
    first = split_frame(frame(80, 20), target="y", task=Task.BINARY, seed=7)
    again = split_frame(frame(80, 20), target="y", task=Task.BINARY, seed=7)
    other = split_frame(frame(80, 20), target="y", task=Task.BINARY, seed=8)
    assert all(a.equals(b) for a, b in zip(first, again, strict=True))
    assert not first[2].equals(other[2])


def test_a_class_too_rare_for_three_parts_stays_in_training_with_a_note() -> None:
    # Once a failed run; issue 19 reversed it.
    notes: list[str] = []
    rare = pl.DataFrame({"x": list(range(63)), "y": ["a"] * 60 + ["b", "b", "c"]})
    train, valid, test = split_frame(rare, target="y", task=Task.MULTICLASS, seed=1, notes=notes)
    assert train.filter(pl.col("y") != "a").height == 3
    assert valid.get_column("y").unique().to_list() == test.get_column("y").unique().to_list()
    assert train.height + valid.height + test.height == 63
    assert len(notes) == 1
    assert "'b' (2 rows), 'c' (1 row)" in notes[0] and "kept in training" in notes[0]


def test_too_few_rows_is_refused() -> None:
    with pytest.raises(InvalidInput, match="only 10 rows"):
        split_frame(frame(5, 5), target="y", task=Task.BINARY, seed=1)
