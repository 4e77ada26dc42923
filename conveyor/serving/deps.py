"""What routes get through ``Depends``: the server's state, never module globals."""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import Request

from conveyor.errors import ConveyorError, InvalidInput, NotDeployed
from conveyor.inference.records import PendingRecord
from conveyor.inference.request_ids import RequestIds
from conveyor.logs import REQUEST_LOGGER
from conveyor.metrics.labels import UNKNOWN_PROJECT
from conveyor.model.artifact import Prediction
from conveyor.model.loading import LoadedModel
from conveyor.serving.models import ModelHolder
from conveyor.serving.recorder import InferenceRecorder
from conveyor.serving.table_metrics import ServerMetrics

log = logging.getLogger("conveyor.serving")
# Failed requests, one line each, for the log files; the console shows only server errors.
request_log = logging.getLogger(REQUEST_LOGGER)


@dataclass
class ServerState:
    holder: ModelHolder
    recorder: InferenceRecorder
    metrics: ServerMetrics
    serve_project: str | None = None
    # None where nothing is recorded (the inference container): ids are random there.
    request_ids: RequestIds | None = None


def get_state(request: Request) -> ServerState:
    state: ServerState = request.app.state.conveyor
    return state


def model_for(state: ServerState, project: str) -> LoadedModel:
    model = state.holder.get(project)
    if model is None:
        raise NotDeployed(project, noun="model")
    return model


def new_request_id(state: ServerState, project: str) -> str:
    """The id of a request to ``project`` that came without ``x-request-id``: one that
    ``/feedback`` can verify (``conveyor.inference.request_ids``)."""
    if state.request_ids is None:
        return os.urandom(16).hex()
    return state.request_ids.issue(project)


def request_failed(
    state: ServerState,
    project: str,
    request_id: str,
    status: int,
    error: str,
    seconds: float,
    *,
    logged: bool = False,
) -> None:
    """Count a request that was not answered 2xx, and log it with what ties it to its record.

    ``logged``: the caller already logged it (with its traceback), so only count it.
    """
    model = state.holder.get(project)
    version = model.version if model is not None else None
    label = project if model is not None else UNKNOWN_PROJECT
    state.metrics.requests.observe(label, version, status, seconds, 0)
    if logged:
        return
    request_log.log(
        logging.ERROR if status >= 500 else logging.WARNING,
        "request %s to %s answered %d: %s",
        request_id,
        project,
        status,
        error,
        extra={
            "request_id": request_id,
            "project": project,
            "version": version,
            "status": status,
            "error": error,
        },
    )


def predict_and_record(
    state: ServerState,
    project: str,
    instances: list[dict[str, Any]],
    request_id: str | None,
    body: bytes | None = None,
) -> tuple[LoadedModel, Prediction, str]:
    """Validate, predict, and record the inference (the error too, if the input was bad).

    ``body``, when given, is the request's JSON ``{"instances": [...]}`` (no other key) that
    ``instances`` was parsed from: recorded as it came, without encoding the rows again.
    """
    started = time.perf_counter()
    request_id = request_id or new_request_id(state, project)
    model = model_for(state, project)
    recorder = state.recorder

    def record(
        outputs: dict[str, Any] | None,
        status: int,
        error: str | None = None,
        columns: tuple[str, ...] = (),
        matrix: bytes = b"",
    ) -> None:
        if not recorder.enabled:
            return
        # Another shape than conveyor's (MLflow's, a CSV's) is recorded as conveyor's.
        request = body if body is not None else orjson.dumps({"instances": instances})
        latency_ms = (time.perf_counter() - started) * 1000
        recorder.record(
            PendingRecord(
                project,
                time.time(),
                request_id,
                model.version,
                latency_ms,
                outputs,
                status,
                error,
                request,
                len(instances),
                columns,
                matrix,
            )
        )

    try:
        if not instances:
            raise InvalidInput("instances is empty; send at least one row", field="instances")
        keep_matrix = recorder.takes_matrix(len(instances))
        prediction = model.predictor.predict_records(instances, keep_matrix=keep_matrix)
    except ConveyorError as exc:
        record(None, exc.http_status, exc.message)
        raise
    except Exception as exc:  # a bug in the model: a 500, recorded so error-rate alarms see it
        record(None, 500, f"{type(exc).__name__}: {exc}")
        raise
    outputs: dict[str, Any] = {"predictions": prediction.predictions}
    if prediction.probabilities is not None:
        outputs["probabilities"] = prediction.probabilities
    matrix = prediction.matrix
    record(outputs, 200, None, prediction.columns, b"" if matrix is None else matrix.tobytes())
    return model, prediction, request_id
