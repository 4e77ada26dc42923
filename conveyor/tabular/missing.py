"""Spellings of "no value": the ones every file uses (``NULL_TOKENS``), and a column's own
sentinels (``unknown``, ``not available``, ``other`` in a column of numbers), found from how
few distinct texts sit among its numbers or dates. Plain Python: serving uses it too.
"""

from __future__ import annotations

from collections.abc import Sequence

# Spellings of "no value" in CSV files; they become nulls before any type inference.
NULL_TOKENS = (
    "",
    "NA",
    "N/A",
    "n/a",
    "na",
    "N.A.",
    "#N/A",
    "#NA",
    "NaN",
    "nan",
    "NAN",
    "null",
    "NULL",
    "Null",
    "None",
    "none",
    "NONE",
    "?",
    "-",
    "--",
    ".",
)
# A column of numbers (or dates) takes its other texts as missing when the numbers are most
# (MOSTLY) of its cells and the texts are at most SOME distinct ones; or, however many they
# are, when they are on at most STRAY_SHARE of the cells (then the SOME most frequent are
# listed, and preprocessing reads the rest as missing too). Past that the texts carry
# meaning: the column is a category (or text).
SOME = 20
STRAY_SHARE = 0.05
MOSTLY = 0.5


def sentinels(
    unread: Sequence[tuple[str, int]],
    read_cells: int,
    read_distinct: int,
    unread_cells: int | None = None,
) -> tuple[str, ...] | None:
    """The column's own missing tokens (lower-cased, sorted), or None when its unread texts
    are too many for a column of numbers or dates.

    Args:
        unread: the distinct texts that the column's rule does not read, with their counts,
            most frequent first (the first SOME + 1 are enough).
        read_cells: how many cells the rule reads.
        read_distinct: how many distinct values the rule reads.
        unread_cells: how many cells it does not read (default: the sum over ``unread``).
    """
    if not unread:
        return ()
    if unread_cells is None:
        unread_cells = sum(n for _, n in unread)
    total = unread_cells + read_cells
    if read_cells < MOSTLY * total or read_distinct < 2:
        return None
    if len(unread) <= SOME or unread_cells <= STRAY_SHARE * total:
        return tuple(sorted({text.lower() for text, _ in unread[:SOME]}))
    return None
