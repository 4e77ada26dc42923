"""What API routes get through ``Depends``: the ports and settings the server was built with."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fastapi import Request

from conveyor.config import Settings
from conveyor.ports import Ports


@dataclass
class ApiContext:
    ports: Ports
    settings: Settings

    @property
    def home(self) -> Path:
        return self.settings.home

    @property
    def cache_dir(self) -> Path:
        return self.settings.serving_cache_dir

    @property
    def max_upload_bytes(self) -> int:
        return self.settings.max_upload_bytes


def api_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.api
    return context
