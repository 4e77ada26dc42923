"""Operations: ``GET /health``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends

from conveyor.serving.deps import ServerState, get_state

router = APIRouter()


@router.get("/health")
def health(state: Annotated[ServerState, Depends(get_state)]) -> dict[str, Any]:
    """The server is up; which version of each project it serves."""
    return {
        "status": "ok",
        "models": state.holder.served(),
        "records_written": state.recorder.written,
    }
