"""Operations: ``GET /health`` and ``GET /metrics`` (Prometheus)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4

from conveyor.serving.deps import ServerState, get_state

router = APIRouter()


@router.get("/health")
def health(state: Annotated[ServerState, Depends(get_state)]) -> dict[str, Any]:
    """The server is up; which version of each project it serves."""
    written, failed = state.recorder.counts()
    return {
        "status": "ok",
        "models": state.holder.served(),
        "records_written": written,
        "records_failed": failed,
    }


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_PLAIN_0_0_4: {"schema": {"type": "string"}}}}},
)
def metrics(request: Request, state: Annotated[ServerState, Depends(get_state)]) -> Response:
    """Prometheus metrics: requests, latency, rows, model loads, pipeline runs, queue, drift,
    live quality. A plain ``def``: the Table is read on a worker thread, not the event loop."""
    body, content_type = state.metrics.render(request.headers.get("accept", ""))
    return Response(body, media_type=content_type)
