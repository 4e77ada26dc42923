"""Where drift checks are kept: the item ``drift#<project>`` / ``<checked_at>`` per check.

Light on purpose (no numpy, no polars): the Lambda handlers, the metrics and the alarms read
the latest checks through it without loading what computes them.
"""

from __future__ import annotations

from datetime import datetime

from conveyor.tables import Item, Table
from conveyor.types import to_iso


def partition(project: str) -> str:
    """The partition key of ``project``'s drift checks."""
    return f"drift#{project}"


def latest_drift_check(table: Table, project: str) -> Item | None:
    """The most recent saved check of ``project`` (its item), or None."""
    items = table.query(partition(project), descending=True, limit=1)
    return items[0] if items else None


def drift_checks_since(table: Table, project: str, since: datetime) -> list[Item]:
    """``project``'s saved checks from ``since`` on, oldest first."""
    return table.query(partition(project), sk_gte=to_iso(since))
