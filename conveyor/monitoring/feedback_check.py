"""Feedback as the model server and the Lambda function take it, and which request ids of
a body this deployment never issued for the project.

An id the server issued verifies on its own (``conveyor.inference.request_ids``): accepted
even when its record is not written yet (it joins when the record lands). Any other id (one
the client chose with ``x-request-id``, or one issued before ids were signed) is accepted
only when the project's records of the join window (``RECORD_LOOKBACK``) hold it: that lookup
reads those records, once per body, and stops when every such id is found. An id still missing
is looked for once more, among the last minute's records, after ``settle_seconds``: the time a
record writer may take to land a record acknowledged a moment ago.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import timedelta

import orjson

from conveyor.errors import InvalidInput
from conveyor.inference.records import partition
from conveyor.inference.request_ids import RequestIds
from conveyor.monitoring.feedback import (
    RECORD_LOOKBACK,
    Feedback,
    check_outcomes,
    parse_feedback,
    store_feedback,
)
from conveyor.tables import Table
from conveyor.tabular.schema import DatasetSchema
from conveyor.types import to_iso, utcnow

_NAMED = 10  # ids named in the message; the count says how many more
_RECENT = timedelta(minutes=1)


class UnknownRequestIds(InvalidInput):
    """Feedback for request ids that /predict never answered for the project."""

    code = "unknown_request_id"
    http_status = 422


def receive_feedback(
    table: Table,
    request_ids: RequestIds,
    project: str,
    body: bytes,
    served: tuple[DatasetSchema, str] | None,
    *,
    settle_seconds: float = 0.0,
) -> tuple[int, list[str]]:
    """Check a ``POST /feedback/{project}`` body and store it: (items stored, notes).

    Args:
        body: the request's JSON.
        served: the deployed version's input schema and name (``churn v3``), whose task and
            classes the outcomes are checked against; None when nothing serves.
        settle_seconds: as ``check_request_ids``.
    Raises:
        InvalidInput: the body is not feedback (400 naming the field), or an outcome is
            one the model cannot take.
        UnknownRequestIds: an id no prediction of the project was answered with (422).
    """
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the body is not valid JSON: {exc}", field="body") from exc
    items = parse_feedback(payload)
    notes: list[str] = []
    if served is not None:
        schema, version = served
        notes = check_outcomes(items, schema.task, schema.classes, version)
    check_request_ids(table, request_ids, project, items, settle_seconds=settle_seconds)
    return store_feedback(table, project, items), notes


def check_request_ids(
    table: Table,
    request_ids: RequestIds,
    project: str,
    feedback: Sequence[Feedback],
    *,
    settle_seconds: float = 0.0,
) -> None:
    """Refuse the whole body when any of its ids was not issued for ``project``.

    The whole body, not the good part of it: a client that checks only the status code
    (``raise_for_status()``) then cannot lose the refused items unnoticed, nothing is half
    stored, and sending the corrected body again is safe (the latest feedback for a request
    wins). SageMaker's ground-truth merge drops unmatched ids silently, which is what made
    a typo invisible here.

    Args:
        settle_seconds: how long records may take to reach the table (0 where they are
            written before the prediction is answered, as the Lambda function does).
    Raises:
        UnknownRequestIds: 422 naming the ids (and their items' places in a list body).
        BackendUnavailable: the table could not be read.
    """
    unverified = {f.request_id for f in feedback if not request_ids.verify(project, f.request_id)}
    if not unverified:
        return
    missing = unverified - _recorded(table, project, unverified, RECORD_LOOKBACK)
    if missing and settle_seconds > 0:
        time.sleep(settle_seconds)
        missing -= _recorded(table, project, missing, _RECENT)
    if not missing:
        return
    places = [i for i, f in enumerate(feedback) if f.request_id in missing]
    shown = ", ".join(repr(feedback[i].request_id) for i in places[:_NAMED])
    more = f" and {len(places) - _NAMED} more" if len(places) > _NAMED else ""
    where = f" (items {', '.join(map(str, places[:_NAMED]))}{more})" if len(feedback) > 1 else ""
    raise UnknownRequestIds(
        f"no prediction of project {project!r} was answered with request_id {shown}{more}"
        f"{where}; send the request_id /predict/{project} answered with (in its body and its "
        "x-request-id header). Nothing in this body was stored: correct or remove these "
        "and send it again.",
        field="request_id",
    )


def _recorded(table: Table, project: str, wanted: set[str], within: timedelta) -> set[str]:
    """Those of ``wanted`` that the project's records of the last ``within`` hold."""
    found: set[str] = set()
    # The id as it appears in an item's JSON text: a cheap test before decoding the item.
    needles = {orjson.dumps(request_id)[1:-1]: request_id for request_id in wanted}
    since = to_iso(utcnow() - within)
    for chunk in table.query_json(partition(project), sk_gte=since, chunk_items=4096):
        for raw in chunk:
            for needle, request_id in needles.items():
                if (
                    request_id not in found
                    and needle in raw
                    and orjson.loads(raw).get("request_id") == request_id
                ):
                    found.add(request_id)
        if found == wanted:
            break
    return found
