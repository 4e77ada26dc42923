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
from typing import Any

import orjson
from fastapi import FastAPI

from conveyor.errors import ConveyorError
from conveyor.serving.deps import (
    ServerState,
    new_request_id,
    predict_and_record,
    request_failed,
)
from conveyor.serving.routes.predict import answer_body, parse_instances

log = logging.getLogger("conveyor.serving")

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
_PREFIX = "/predict/"
_JSON = (b"content-type", b"application/json")


class PredictFastPath:
    def __init__(self, app: FastAPI) -> None:
        self.app = app
        self.state: ServerState = app.state.conveyor
        self.count = self.state.metrics.requests.observe

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
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        status, payload, request_id = self._answer(path[len(_PREFIX) :], bytes(body), scope)
        headers = [_JSON, (b"x-request-id", request_id.encode("latin-1"))]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": payload})

    def _answer(self, project: str, body: bytes, scope: Scope) -> tuple[int, bytes, str]:
        started = time.perf_counter()
        request_id = None
        for name, value in scope.get("headers", ()):
            if name == b"x-request-id":
                request_id = value.decode("latin-1")
        request_id = request_id or new_request_id()
        try:
            instances = parse_instances(body)
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
