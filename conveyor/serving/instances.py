"""The ``instances`` of a ``/predict`` body, checked by hand.

Both the model server's route and the AWS Lambda function in front of the SageMaker endpoint
read a request body through this, so a bad body gets the same 400 and message on either; it
imports nothing heavy (the Lambda function has no FastAPI, numpy or polars).
"""

from __future__ import annotations

from typing import Any

import orjson

from conveyor.errors import InvalidInput


def parse_instances(body: bytes) -> list[dict[str, Any]]:
    """The ``instances`` of a request body; anything else is an ``InvalidInput`` naming it."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the body is not valid JSON: {exc}", field="body") from exc
    if not isinstance(payload, dict) or "instances" not in payload:
        raise InvalidInput('the body needs "instances": a list of rows', field="instances")
    instances = payload["instances"]
    if not isinstance(instances, list):
        raise InvalidInput(
            '"instances" must be a list of rows, e.g. [{"age": 42}]', field="instances"
        )
    if not instances:
        raise InvalidInput('"instances" is empty; send at least one row', field="instances")
    for index, row in enumerate(instances):
        if not isinstance(row, dict):
            raise InvalidInput(
                f"instances[{index}] must be an object of column: value", field="instances"
            )
    return instances
