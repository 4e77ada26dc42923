"""Feedback: actual outcomes sent back for recorded inferences (ground truth), as stored.

Feedback items: partition ``feedback#<project>``, sort key ``<received ISO time>#<request
id>``, so a window is one key-range query; the latest feedback for a request wins. As with
SageMaker's ground-truth merge, feedback is stored as it comes and joined to the records
when quality is computed (``conveyor.monitoring.quality``): it may arrive before its record
is written. Unlike that merge, an id no prediction was answered with is refused, not stored
to join nothing (``conveyor.monitoring.feedback_check``). Without numpy: the Lambda function
takes feedback too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from conveyor.errors import InvalidInput
from conveyor.tables import Item, Table
from conveyor.types import Task, to_iso, utcnow

MAX_REQUEST_ID = 128
# Feedback usually comes after its prediction; records this much older than the window's
# start are still joined to feedback received inside it.
RECORD_LOOKBACK = timedelta(days=7)

Scalar = str | int | float | bool


def feedback_partition(project: str) -> str:
    return f"feedback#{project}"


@dataclass(frozen=True)
class Feedback:
    request_id: str
    actual: Scalar | list[Scalar]

    def to_item(self, project: str, received_at: datetime) -> Item:
        stamp = to_iso(received_at)
        return {
            "pk": feedback_partition(project),
            "sk": f"{stamp}#{self.request_id}",
            "project": project,
            "request_id": self.request_id,
            "actual": self.actual,
            "received_at": stamp,
        }


def parse_feedback(payload: Any) -> list[Feedback]:
    """``{"request_id", "actual"}`` or a list of them; anything else names what is wrong.

    ``actual`` is the outcome of the request's row, or a list with one outcome per row
    when the request scored several.
    """
    entries = payload if isinstance(payload, list) else [payload]
    if not entries:
        raise InvalidInput("the body is an empty list; send at least one feedback", field="body")
    parsed = []
    for index, entry in enumerate(entries):
        where = f"[{index}]" if isinstance(payload, list) else "the body"
        if not isinstance(entry, dict):
            raise InvalidInput(
                f'{where} must be an object {{"request_id": ..., "actual": ...}}', field="body"
            )
        request_id = entry.get("request_id")
        if not isinstance(request_id, str) or not request_id or len(request_id) > MAX_REQUEST_ID:
            raise InvalidInput(
                f"{where}: request_id must be the request_id /predict answered with "
                f"(a non-empty string of at most {MAX_REQUEST_ID} characters)",
                field="request_id",
            )
        if "actual" not in entry:
            raise InvalidInput(f"{where}: actual (the observed outcome) is missing", field="actual")
        actual = entry["actual"]
        if not _is_outcome(actual) and not (
            isinstance(actual, list) and actual and all(_is_outcome(a) for a in actual)
        ):
            raise InvalidInput(
                f"{where}: actual must be a number, string or boolean (or a list of them, one "
                f"per row of the request), not {actual!r}",
                field="actual",
            )
        parsed.append(Feedback(request_id, actual))
    return parsed


def _is_outcome(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return isinstance(value, str | int | bool)


def check_outcomes(
    feedback: Sequence[Feedback], task: Task, classes: Sequence[Any] | None, version: str
) -> list[str]:
    """What a person should know about outcomes sent for a model (``version`` names it):
    one of a class the model does not know is stored and counts as a miss (a class that
    appeared since training is news, not an error).

    Raises:
        InvalidInput: an outcome a regression cannot take (not a number).
    """
    outcomes = [
        a
        for item in feedback
        for a in (item.actual if isinstance(item.actual, list) else [item.actual])
    ]
    if task is Task.REGRESSION:
        for value in outcomes:
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise InvalidInput(
                    f"actual {value!r} is not a number: {version} predicts a number",
                    field="actual",
                )
        return []
    known = {outcome_label(c) for c in classes or ()}
    unknown = sorted({outcome_label(a) for a in outcomes} - known) if known else []
    if not unknown:
        return []
    shown = ", ".join(repr(label) for label in unknown[:5])
    return [
        f"{shown} {'is' if len(unknown) == 1 else 'are'} not a class of {version} "
        f"({', '.join(sorted(known))}): stored, and counted as a miss in live quality"
    ]


def store_feedback(
    table: Table, project: str, feedback: Sequence[Feedback], *, now: datetime | None = None
) -> int:
    """Write feedback durably (before the caller acknowledges it); returns the count."""
    received_at = now or utcnow()
    return table.put_many(item.to_item(project, received_at) for item in feedback)


def outcome_label(value: Any) -> str:
    """An outcome or a class as text: feedback may send 1 where the class is "1" or True."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
