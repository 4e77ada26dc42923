"""The hot path: ``POST /predict/{project}`` answered in plain ASGI, in front of FastAPI.

On a one-row request the framework's routing, middleware and request objects cost more than
the model; this dispatcher answers predict requests itself and hands every other request
(docs, health, the SageMaker contract, lifespan) to the FastAPI app, which also still
declares the route, so the OpenAPI document is unchanged. Both share ``predict_and_record``
and the same error shape.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any, NamedTuple

import orjson
from fastapi import FastAPI

from conveyor.errors import ConveyorError, InvalidInput, RequestTimeout, body_of
from conveyor.serving.auth import ApiKeyGuard, send_error
from conveyor.serving.deadline import score_on_thread
from conveyor.serving.deps import (
    ServerState,
    model_for,
    new_request_id,
    predict_and_record,
    request_failed,
)
from conveyor.serving.explain import add_explanation, check_explainable, explain_flag
from conveyor.serving.instances import read_rows
from conveyor.serving.limits import (
    INLINE_BODY_BYTES,
    RequestLimits,
    check_flat_rows,
    declared_length,
)
from conveyor.serving.routes.predict import answer_body

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
        # The FastAPI routes that score rows (/invocations) read the same limits from here.
        app.state.limits = self.limits

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
        explain = False
        if scope.get("query_string"):  # ?explain=true; a plain request has no query to read
            try:
                explain = explain_flag(scope["query_string"])
            except InvalidInput as refused:
                await self._refuse(project, refused, scope, send)
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
        request_id = _request_id(scope, self.state, project)
        # An explanation takes milliseconds a row (TreeSHAP): on a thread, as a large batch,
        # so the loop keeps answering the requests that did not ask for one.
        if len(body) <= INLINE_BODY_BYTES and not explain:
            scored = self._score(project, bytes(body), request_id, self.state, scope, explain)
        else:
            scored = await self._score_on_thread(project, bytes(body), request_id, scope, explain)
        self._report(project, request_id, scored)
        headers = [_JSON, (b"x-request-id", request_id.encode("latin-1"))]
        await send({"type": "http.response.start", "status": scored.status, "headers": headers})
        await send({"type": "http.response.body", "body": scored.payload})

    async def _refuse(self, project: str, error: ConveyorError, scope: Scope, send: Send) -> None:
        """Answer a request refused before its body was scored (key, size), and count it."""
        request_id = _request_id(scope, self.state, project)
        request_failed(self.state, project, request_id, error.http_status, error.message, 0.0)
        await send_error(send, error, [(b"x-request-id", request_id.encode("latin-1"))])

    async def _score_on_thread(
        self, project: str, body: bytes, request_id: str, scope: Scope, explain: bool
    ) -> _Scored:
        """A large batch: scored on a thread, so the loop keeps serving, within the timeout.
        A batch that outlives it is answered 504 and leaves no record (deadline.py)."""
        started = time.perf_counter()
        try:
            return await score_on_thread(
                self.state,
                self.limits,
                lambda state: self._score(project, body, request_id, state, scope, explain),
                name=f"predict-batch {request_id}",
            )
        except RequestTimeout as error:
            seconds = time.perf_counter() - started
            payload = orjson.dumps(body_of(error))
            return _Scored(error.http_status, payload, None, 0, seconds, error.message)

    def _score(
        self,
        project: str,
        body: bytes,
        request_id: str,
        state: ServerState,
        scope: Scope,
        explain: bool,
    ) -> _Scored:
        """The answer to a body; its inference record goes to ``state``'s recorder. Counting
        and logging the request is left to ``_report``, on the loop, once it is answered."""
        started = time.perf_counter()
        try:
            try:
                instances, as_sent = read_rows(body)
            except InvalidInput:
                instances, as_sent = _read_again(body, scope, state, project)
            self.limits.check_rows(instances)
            check_flat_rows(instances)
            if explain:  # refused before anything is predicted or recorded
                check_explainable(model_for(state, project))
            # Another server's shape is recorded as the rows it carried, in conveyor's.
            raw = body if as_sent else None
            model, prediction, _ = predict_and_record(state, project, instances, request_id, raw)
            answer = answer_body(model.version, prediction, request_id)
            if explain:
                add_explanation(answer, model, instances)
            payload = orjson.dumps(answer)
            seconds = time.perf_counter() - started
            return _Scored(200, payload, model.version, len(instances), seconds)
        except ConveyorError as exc:
            seconds = time.perf_counter() - started
            return _Scored(
                exc.http_status, orjson.dumps(body_of(exc)), None, 0, seconds, exc.message
            )
        except Exception as exc:  # the one boundary of the hot path: a bug is a logged 500
            message = f"{type(exc).__name__}: {exc}"
            log.exception(
                "unexpected error on /predict/%s",
                project,
                extra={"request_id": request_id, "project": project, "status": 500},
            )
            payload = orjson.dumps(body_of(exc, request_id=request_id))
            seconds = time.perf_counter() - started
            return _Scored(500, payload, None, 0, seconds, message, logged=True)

    def _report(self, project: str, request_id: str, scored: _Scored) -> None:
        """Count an answered request (and log one that failed)."""
        if scored.status == 200:
            self.count(project, scored.version, 200, scored.seconds, scored.rows)
            return
        request_failed(
            self.state,
            project,
            request_id,
            scored.status,
            scored.error or "",
            scored.seconds,
            logged=scored.logged,
        )


class _Scored(NamedTuple):  # made on every request: a tuple costs a third of a frozen dataclass
    """A request's answer, and what its metrics and log line need."""

    status: int
    payload: bytes
    version: int | None
    rows: int
    seconds: float
    error: str | None = None
    logged: bool = False  # a 500 whose traceback is logged already


def _read_again(
    body: bytes, scope: Scope, state: ServerState, project: str
) -> tuple[list[dict[str, Any]], bool]:
    """A body that is not conveyor's JSON, read with what a CSV body (its content type) or
    rows as lists (the deployed model's columns) need: looked up only now, so conveyor's own
    bodies pay nothing for them. A body in no shape raises read_rows' message again."""
    content_type = None
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            content_type = value.decode("latin-1").lower()
    model = state.holder.get(project)
    columns = model.schema.feature_names if model is not None else None
    return read_rows(body, columns=columns, content_type=content_type)


def _request_id(scope: Scope, state: ServerState, project: str) -> str:
    for name, value in scope.get("headers", ()):
        if name == b"x-request-id":
            return str(value.decode("latin-1"))
    return new_request_id(state, project)
