"""``create_app``: the model server, built from the ports (tests build it the same way)."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from fastapi.responses import RedirectResponse
from fastapi_offline import FastAPIOffline

import conveyor
from conveyor import api
from conveyor.config import Settings
from conveyor.inference.request_ids import RequestIds
from conveyor.ports import Ports
from conveyor.serving import errors
from conveyor.serving.auth import DOCS_STATIC, ApiKeyGuard, ApiKeyMiddleware, build_login_router
from conveyor.serving.deps import ServerState
from conveyor.serving.fastpath import PredictFastPath
from conveyor.serving.limits import BodyLimitMiddleware, RequestLimits
from conveyor.serving.models import ModelHolder
from conveyor.serving.record_writer import RecordWriterProcess
from conveyor.serving.recorder import InferenceRecorder
from conveyor.serving.routes import feedback, ops, predict, sagemaker
from conveyor.serving.table_metrics import ServerMetrics
from conveyor.ui.router import build_templates, build_ui_router


def create_app(
    ports: Ports,
    settings: Settings,
    *,
    poll_seconds: float = 0.5,
    capture_rate: float = 1.0,
    record: bool = True,
    serve_project: str | None = None,
) -> PredictFastPath:
    """The server: FastAPI for every route, with /predict's hot path answered in front."""
    metrics = ServerMetrics(ports.table, ports.events, registry=ports.registry)
    holder = ModelHolder(
        store=ports.store,
        endpoint=ports.endpoint,
        cache_dir=settings.serving_cache_dir,
        poll_seconds=poll_seconds,
        on_load=metrics.requests.model_loaded,
        table=ports.table,
    )
    recorder = InferenceRecorder(
        ports.table,
        capture_rate=capture_rate,
        enabled=record,
        writer=RecordWriterProcess(
            settings.table_uri, settings.object_store_uri, log_root=settings.home / "record-log"
        ),
    )

    request_ids = RequestIds(ports.table)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        request_ids.load()
        recorder.start()
        holder.start()
        # Everything loaded so far lives as long as the server: out of the collector's sight,
        # a full collection no longer walks every library's objects in the middle of requests.
        gc.freeze()
        gc.enable()  # off while `conveyor serve` started (cli/serve.py)
        try:
            yield
        finally:
            holder.stop()
            recorder.close()  # a graceful stop writes every acknowledged record

    # /docs with Swagger UI's scripts served by the app itself: a machine without internet
    # drew a blank page from FastAPI's CDN links. No /redoc: ReDoc 2 stops at the "$defs"
    # references of the API's request schemas and drew a blank page too ("Invalid reference
    # token: $defs" in Chromium's console).
    app = FastAPIOffline(
        redoc_url=None,
        static_url=DOCS_STATIC,
        title="conveyor",
        version=conveyor.__version__,
        lifespan=lifespan,
        description="Predictions from each project's deployed model version.",
    )
    app.state.conveyor = ServerState(
        holder=holder,
        recorder=recorder,
        metrics=metrics,
        serve_project=serve_project,
        request_ids=request_ids,
    )
    errors.install(app)
    app.state.table = ports.table
    for module in (predict, feedback, sagemaker, ops):
        app.include_router(module.router)
    api.install(app, ports, settings)  # the management API, all under /api/v1
    # The dashboard, all under /ui; its drift panel says how often the monitor checks.
    app.include_router(build_ui_router(ports, drift_check_seconds=settings.drift_check_seconds))
    # The server's root is where a person's browser lands first: the dashboard.
    app.add_api_route("/", _to_dashboard, include_in_schema=False)
    limits = RequestLimits.from_settings(settings)
    app.add_middleware(BodyLimitMiddleware, limits=limits, exempt_suffixes=("/uploads",))
    guard = ApiKeyGuard(settings.api_key.get_secret_value()) if settings.api_key else None
    if guard is not None:  # added last: the outermost, so nothing is read before the key
        app.include_router(build_login_router(guard, build_templates()))
        app.add_middleware(ApiKeyMiddleware, guard=guard)
    return PredictFastPath(app, guard=guard, limits=limits)


def _to_dashboard() -> RedirectResponse:
    return RedirectResponse("/ui")
