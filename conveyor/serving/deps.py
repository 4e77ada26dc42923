"""What routes get through ``Depends``: the server's state, never module globals."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import Request

from conveyor.errors import ConveyorError, InvalidInput, NotFound
from conveyor.model.artifact import Prediction
from conveyor.serving.models import LoadedModel, ModelHolder
from conveyor.serving.recorder import InferenceRecorder
from conveyor.serving.records import PendingRecord


@dataclass
class ServerState:
    holder: ModelHolder
    recorder: InferenceRecorder
    serve_project: str | None = None


def get_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.conveyor
    return state


def model_for(state: ServerState, project: str) -> LoadedModel:
    model = state.holder.get(project)
    if model is None:
        raise NotFound(
            f"project {project!r} has no deployed model; deploy one with "
            f"`conveyor models deploy {project} N`",
            field="project",
        )
    return model


def predict_and_record(
    state: ServerState,
    project: str,
    instances: list[dict[str, Any]],
    request_id: str | None,
    body: bytes | None = None,
) -> tuple[LoadedModel, Prediction, str]:
    """Validate, predict, and record the inference (the error too, if the input was bad).

    ``body``, when given, is the request's JSON ``{"instances": [...]}`` that ``instances``
    was parsed from: recorded as it came, without encoding the rows again.
    """
    started = time.perf_counter()
    request_id = request_id or os.urandom(16).hex()
    model = model_for(state, project)
    recorder = state.recorder

    def record(outputs: dict[str, Any] | None, status: int, error: str | None = None) -> None:
        if not recorder.enabled:
            return
        request = orjson.Fragment(body) if body is not None else {"instances": instances}
        latency_ms = (time.perf_counter() - started) * 1000
        recorder.record(
            PendingRecord(
                project,
                time.time(),
                request_id,
                model.version,
                latency_ms,
                request,
                outputs,
                status,
                error,
            )
        )

    try:
        if not instances:
            raise InvalidInput("instances is empty; send at least one row", field="instances")
        prediction = model.predictor.predict_records(instances)
    except ConveyorError as exc:
        record(None, exc.http_status, exc.message)
        raise
    outputs: dict[str, Any] = {"predictions": prediction.predictions}
    if prediction.probabilities is not None:
        outputs["probabilities"] = prediction.probabilities
    record(outputs, 200)
    return model, prediction, request_id
