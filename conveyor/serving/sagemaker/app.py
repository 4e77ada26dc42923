"""The container's app: the local server's SageMaker routes, over one model held for good.

``/ping`` and ``/invocations`` are the very routes of ``conveyor serve`` (the same parsing,
validation, prediction, errors and answer), given a server state whose parts have nothing
behind them: a holder of the one model loaded at start, a recorder that records nothing
(on AWS the predict function records each inference), and request counters without the
Table's metrics. The request limits are the local server's too, read from the same variables.
"""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

import conveyor
from conveyor.metrics.prometheus import RequestMetrics
from conveyor.model.loading import LoadedModel
from conveyor.serving import errors
from conveyor.serving.deps import ServerState
from conveyor.serving.limits import BodyLimitMiddleware, RequestLimits
from conveyor.serving.models import ModelHolder
from conveyor.serving.recorder import InferenceRecorder
from conveyor.serving.routes import sagemaker
from conveyor.serving.table_metrics import ServerMetrics


class OneModel(ModelHolder):
    """Holds the model the container was started with; nothing to follow, nothing to swap
    (a new version is a new SageMaker endpoint configuration, hence a new container)."""

    def __init__(self, model: LoadedModel) -> None:  # no store, no endpoint to follow
        self.model = model

    def get(self, project: str) -> LoadedModel | None:
        return self.model if project == self.model.project else None

    def served(self) -> dict[str, int]:
        return {self.model.project: self.model.version}

    def start(self) -> None:
        return None

    def stop(self) -> None:
        return None

    def refresh(self) -> None:
        return None


class NoRecords(InferenceRecorder):
    """Records nothing: the routes see ``enabled`` False and never queue a record."""

    def __init__(self) -> None:  # no Table to write to
        self.enabled = False
        self.capture_rate = 0.0
        self.written = 0
        self.failed = 0
        self.writer = None
        self._log_append = None

    def start(self) -> None:
        return None

    def close(self) -> None:
        return None


class RequestCounters(ServerMetrics):
    """The request counters alone: there is no Table to read pipeline or drift metrics from."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        self.requests = RequestMetrics(self.registry)


def create_container_app(model: LoadedModel, limits: RequestLimits | None = None) -> FastAPI:
    """The app serving ``model`` on ``GET /ping`` and ``POST /invocations``, within ``limits``
    (body size, rows per request, time per prediction; default: ``conveyor serve``'s)."""
    limits = limits or RequestLimits()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # The model and the libraries live as long as the process: out of the collector's
        # sight, a full collection never walks them in the middle of a request.
        gc.freeze()
        yield

    app = FastAPI(
        title="conveyor inference container",
        version=conveyor.__version__,
        lifespan=lifespan,
        description=f"SageMaker's inference contract for {model.project} v{model.version}.",
    )
    app.state.conveyor = ServerState(
        holder=OneModel(model),
        recorder=NoRecords(),
        metrics=RequestCounters(),
        serve_project=model.project,
    )
    app.state.limits = limits  # /invocations reads its rows and time limits here
    errors.install(app)
    app.include_router(sagemaker.router)
    app.add_middleware(BodyLimitMiddleware, limits=limits, exempt_suffixes=())
    return app
