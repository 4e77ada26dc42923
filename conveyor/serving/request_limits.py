"""What a prediction request may be: its body size, its rows, its time, and flat rows; each
refusal a message naming its setting or column.

Free of the web stack and of numpy (it imports the errors and the settings alone): the model
server's routes and the AWS Lambda function in front of the SageMaker endpoint refuse the
same requests with the same messages through it. The server's ASGI side of the body limit
lives in ``conveyor.serving.limits``.
"""

from __future__ import annotations

from collections.abc import Sized
from dataclasses import dataclass
from typing import Any

from conveyor.config import Settings
from conveyor.errors import InvalidInput, PayloadTooLarge, RequestTimeout


@dataclass(frozen=True)
class RequestLimits:
    max_body_bytes: int = 8 * 1024**2
    max_rows: int = 10_000
    timeout_seconds: float = 30.0

    @classmethod
    def from_settings(cls, settings: Settings) -> RequestLimits:
        return cls(
            settings.max_body_bytes,
            settings.max_rows_per_request,
            settings.request_timeout_seconds,
        )

    def body_too_large(self, size: int, *, declared: bool = False) -> PayloadTooLarge:
        said = "declares" if declared else "is at least"
        return PayloadTooLarge(
            f"the request body {said} {size} bytes; this server takes at most "
            f"{self.max_body_bytes} (CONVEYOR_MAX_BODY_BYTES); send a smaller body (rows: split "
            "them over several requests)",
            field="body",
        )

    def check_body(self, body: bytes) -> None:
        """Refuse a body, read whole, over the limit (a server streaming it checks as it reads)."""
        if len(body) > self.max_body_bytes:
            raise self.body_too_large(len(body))

    def check_rows(
        self, rows: Sized, *, field: str = "instances", where: str = "in instances"
    ) -> None:
        """Refuse more rows than the limit; ``where`` says where they came from (a CSV body
        has no ``instances``)."""
        if len(rows) > self.max_rows:
            raise PayloadTooLarge(
                f"the request has {len(rows)} rows {where}; this server takes at most "
                f"{self.max_rows} per request (CONVEYOR_MAX_ROWS_PER_REQUEST): split them over "
                "several requests, or score a file with `conveyor predict`",
                field=field,
            )

    def timed_out(self) -> RequestTimeout:
        return RequestTimeout(
            f"the prediction took longer than {self.timeout_seconds:g} s "
            "(CONVEYOR_REQUEST_TIMEOUT_SECONDS): send fewer rows per request",
            field=None,
        )


_JSON_KIND = {dict: "object", list: "array"}
_NESTED = (dict, list)  # a tuple: isinstance checks it twice as fast as ``dict | list``


def check_flat_rows(instances: list[dict[str, Any]]) -> None:
    """Each row maps a column to one value: an object or a list is a 400 naming its column."""
    for row in instances:
        for value in row.values():
            if isinstance(value, _NESTED):
                _refuse_nested(instances)


def _refuse_nested(instances: list[dict[str, Any]]) -> None:
    for index, row in enumerate(instances):
        for column, value in row.items():
            if isinstance(value, _NESTED):
                raise InvalidInput(
                    f"instances[{index}].{column} is a JSON {_JSON_KIND[type(value)]}; a column "
                    "takes one value (a string, number, boolean or null)",
                    field=column,
                )
