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
# A column of numbers (or dates) takes its other texts as missing when they are at most
# FEW distinct texts, or at most SOME texts on at most RARE_SHARE of its cells, and the
# numbers are most of the cells. Past that the texts carry meaning: the column is text.
FEW = 3
SOME = 20
RARE_SHARE = 0.1
MOSTLY = 0.5


def sentinels(
    unread: Sequence[tuple[str, int]], read_cells: int, read_distinct: int
) -> tuple[str, ...] | None:
    """The column's own missing tokens (lower-cased, sorted), or None when its unread texts
    are too many for a column of numbers or dates.

    Args:
        unread: each distinct text that the column's rule does not read, with its count.
        read_cells: how many cells the rule reads.
        read_distinct: how many distinct values the rule reads.
    """
    if not unread:
        return ()
    unread_cells = sum(n for _, n in unread)
    total = unread_cells + read_cells
    if read_cells < MOSTLY * total or read_distinct < 2:
        return None
    if len(unread) <= FEW or (len(unread) <= SOME and unread_cells <= RARE_SHARE * total):
        return tuple(sorted({text.lower() for text, _ in unread}))
    return None
