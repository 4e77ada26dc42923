"""The hot path: ``POST /predict/{project}`` answered in plain ASGI, in front of FastAPI.

On a one-row request the framework's routing, middleware and request objects cost more than
the model; this dispatcher answers predict requests itself and hands every other request
(docs, health, the SageMaker contract, lifespan) to the FastAPI app, which also still
declares the route, so the OpenAPI document is unchanged. Both share ``predict_and_record``
and the same error shape.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson
from fastapi import FastAPI

from conveyor.errors import ConveyorError
from conveyor.serving.auth import ApiKeyGuard, send_error
from conveyor.serving.deps import (
    ServerState,
    new_request_id,
    predict_and_record,
    request_failed,
)
from conveyor.serving.limits import (
    INLINE_BODY_BYTES,
    RequestLimits,
    check_flat_rows,
    declared_length,
)
from conveyor.serving.routes.predict import answer_body, parse_instances

log = logging.getLogger("conveyor.serving")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
_PREFIX = "/predict/"
_JSON = (b"content-type", b"application/json")


class PredictFastPath:
    def __init__(
        self,
        app: FastAPI,
        *,
        guard: ApiKeyGuard | None = None,
        limits: RequestLimits | None = None,
    ) -> None:
        self.app = app
        self.state: ServerState = app.state.conveyor
        self.count = self.state.metrics.requests.observe
        self.guard = guard  # None: no API key configured, nothing to check
        self.limits = limits or RequestLimits()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "")
        if (
            scope["type"] != "http"
            or scope["method"] != "POST"
            or not path.startswith(_PREFIX)
            or "/" in path[len(_PREFIX) :]
        ):
            await self.app(scope, receive, send)
            return
        project = path[len(_PREFIX) :]
        if self.guard is not None and (denied := self.guard.denial(scope)) is not None:
            await self._refuse(project, denied, scope, send)
            return
        limit = self.limits.max_body_bytes
        declared = declared_length(scope.get("headers", ()))
        if declared is not None and declared > limit:
            await self._refuse(
                project, self.limits.body_too_large(declared, declared=True), scope, send
            )
            return
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if len(body) > limit:
                await self._refuse(project, self.limits.body_too_large(len(body)), scope, send)
                return
            if not message.get("more_body"):
                break
        if len(body) <= INLINE_BODY_BYTES:
            status, payload, request_id = self._answer(project, bytes(body), scope)
        else:
            status, payload, request_id = await self._answer_on_thread(project, bytes(body), scope)
        headers = [_JSON, (b"x-request-id", request_id.encode("latin-1"))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    async def _refuse(self, project: str, error: ConveyorError, scope: Scope, send: Send) -> None:
        """Answer a request refused before its body was scored (key, size), and count it."""
        request_id = _request_id(scope)
        request_failed(self.state, project, request_id, error.http_status, error.message, 0.0)
        await send_error(send, error, [(b"x-request-id", request_id.encode("latin-1"))])

    async def _answer_on_thread(
        self, project: str, body: bytes, scope: Scope
    ) -> tuple[int, bytes, str]:
        """A large batch: scored on a thread, so the loop keeps serving, within the timeout.
        A batch that outlives it is answered 504; its thread finishes and records it."""
        scope = {**scope, "headers": [*scope.get("headers", ())]}
        request_id = _request_id(scope)
        scope["headers"].append((b"x-request-id", request_id.encode("latin-1")))
        started = time.perf_counter()
        work = asyncio.to_thread(self._answer, project, body, scope)
        try:
            return await asyncio.wait_for(work, self.limits.timeout_seconds)
        except TimeoutError:
            error = self.limits.timed_out()
            seconds = time.perf_counter() - started
            request_failed(
                self.state, project, request_id, error.http_status, error.message, seconds
            )
            return error.http_status, orjson.dumps(error.to_dict()), request_id

    def _answer(self, project: str, body: bytes, scope: Scope) -> tuple[int, bytes, str]:
        started = time.perf_counter()
        request_id = _request_id(scope)
        try:
            instances = parse_instances(body)
            self.limits.check_rows(instances)
            check_flat_rows(instances)
            model, prediction, _ = predict_and_record(
                self.state, project, instances, request_id, body
            )
            payload = orjson.dumps(answer_body(model.version, prediction, request_id))
            self.count(project, model.version, 200, time.perf_counter() - started, len(instances))
            return 200, payload, request_id
        except ConveyorError as exc:
            seconds = time.perf_counter() - started
            request_failed(self.state, project, request_id, exc.http_status, exc.message, seconds)
            return exc.http_status, orjson.dumps(exc.to_dict()), request_id
        except Exception as exc:  # the one boundary of the hot path: a bug is a logged 500
            message = f"{type(exc).__name__}: {exc}"
            log.exception(
                "unexpected error on /predict/%s",
                project,
                extra={"request_id": request_id, "project": project, "status": 500},
            )
            seconds = time.perf_counter() - started
            request_failed(self.state, project, request_id, 500, message, seconds, logged=True)
            error = {"error": "internal_error", "message": message, "field": None}
            return 500, orjson.dumps(error), request_id


def _request_id(scope: Scope) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            return str(value.decode("latin-1"))
    return new_request_id()
