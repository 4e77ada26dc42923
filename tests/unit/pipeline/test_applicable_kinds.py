"""Which column kinds set on a project a file's columns take: the ones it has, never the
target's, and a note for each it lacks (the run goes on)."""

from __future__ import annotations

from conveyor.pipeline.preprocess import applicable_kinds


def test_kinds_for_the_files_columns_are_used_and_the_others_noted() -> None:
    kinds = {"zip": "categorical", "old column": "text", "price": "numeric"}
    usable, notes = applicable_kinds(kinds, ["zip", "price", "rooms"], target="price")
    assert usable == {"zip": "categorical"}
    (note,) = notes
    assert "'old column'" in note and "no such column" in note and "--clear" in note


def test_no_kinds_means_nothing_to_pass() -> None:
    assert applicable_kinds({}, ["a"], target=None) == ({}, [])
