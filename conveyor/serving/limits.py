"""Request limits: body size, rows per request and time per prediction, each a setting
(``CONVEYOR_MAX_BODY_BYTES``, ``CONVEYOR_MAX_ROWS_PER_REQUEST``,
``CONVEYOR_REQUEST_TIMEOUT_SECONDS``) and each refused with a message naming it.

The /predict fast path applies all three itself, and ``/invocations`` the rows and the time;
every route behind FastAPI gets the body limit from ``BodyLimitMiddleware`` (uploads keep their
own, ``CONVEYOR_MAX_UPLOAD_BYTES``). JSON nested deeper than the parser's limit is already a 400
naming ``body``. The checks and their messages live in ``conveyor.serving.request_limits``,
free of the web stack, so the AWS Lambda function refuses the same requests the same way.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from conveyor.serving.auth import ASGIApp, Receive, Scope, Send, send_error
from conveyor.serving.request_limits import RequestLimits, check_flat_rows

__all__ = [
    "INLINE_BODY_BYTES",
    "BodyLimitMiddleware",
    "RequestLimits",
    "check_flat_rows",
    "declared_length",
]

# Bodies up to this size are predicted on the event loop: a few rows take less time than
# handing them to a thread. Larger ones run on a thread, under the request timeout.
INLINE_BODY_BYTES = 16 * 1024


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
