"""Request limits: body size, rows per request and time per prediction, each a setting
(``CONVEYOR_MAX_BODY_BYTES``, ``CONVEYOR_MAX_ROWS_PER_REQUEST``,
``CONVEYOR_REQUEST_TIMEOUT_SECONDS``) and each refused with a message naming it.

The /predict fast path applies all three itself; every other route behind FastAPI gets the
body limit from ``BodyLimitMiddleware`` (uploads keep their own, ``CONVEYOR_MAX_UPLOAD_BYTES``).
JSON nested deeper than the parser's limit is already a 400 naming ``body``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from conveyor.config import Settings
from conveyor.errors import InvalidInput, PayloadTooLarge, RequestTimeout
from conveyor.serving.auth import ASGIApp, Receive, Scope, Send, send_error

# Bodies up to this size are predicted on the event loop: a few rows take less time than
# handing them to a thread. Larger ones run on a thread, under the request timeout.
INLINE_BODY_BYTES = 16 * 1024


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

    def check_rows(self, instances: list[Any]) -> None:
        if len(instances) > self.max_rows:
            raise PayloadTooLarge(
                f"the request has {len(instances)} rows in instances; this server takes at most "
                f"{self.max_rows} per request (CONVEYOR_MAX_ROWS_PER_REQUEST): split them over "
                "several requests, or score a file with `conveyor predict`",
                field="instances",
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


def declared_length(headers: Iterable[tuple[bytes, bytes]]) -> int | None:
    for name, value in headers:
        if name == b"content-length":
            return int(value) if value.isdigit() else None
    return None


class BodyLimitMiddleware:
    """Refuse a body over the limit: from Content-Length before reading it, else while it
    streams in (the route's read of the body raises, and its handler answers 413)."""

    def __init__(
        self, app: ASGIApp, limits: RequestLimits, exempt_suffixes: tuple[str, ...]
    ) -> None:
        self.app = app
        self.limits = limits
        self.exempt_suffixes = exempt_suffixes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].endswith(self.exempt_suffixes):
            await self.app(scope, receive, send)
            return
        limit = self.limits.max_body_bytes
        declared = declared_length(scope.get("headers", ()))
        if declared is not None and declared > limit:
            await send_error(send, self.limits.body_too_large(declared, declared=True))
            return
        seen = 0

        async def bounded() -> Any:
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise self.limits.body_too_large(seen)
            return message

        await self.app(scope, bounded, send)
