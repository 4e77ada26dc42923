"""The management API, ``/api/v1``: JSON over the same functions the CLI calls.

Every route lives in a router under ``API_PREFIX`` so one dependency can guard them all.
"""

from __future__ import annotations

from fastapi import FastAPI

from conveyor.api import (
    datasets,
    inferences,
    monitoring,
    projects,
    runs,
    traffic,
    uploads,
    versions,
)
from conveyor.api.deps import ApiContext
from conveyor.config import Settings
from conveyor.ports import Ports

API_PREFIX = "/api/v1"

__all__ = ["API_PREFIX", "install"]


def install(app: FastAPI, ports: Ports, settings: Settings) -> None:
    """Mount every API router on ``app``, with what its routes read through ``Depends``."""
    app.state.api = ApiContext(ports, settings)
    for module in (projects, runs, versions, datasets, uploads, traffic, monitoring, inferences):
        app.include_router(module.router, prefix=API_PREFIX)
