"""What API routes get through ``Depends``: the ports and settings the server was built with."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from fastapi import Request

from conveyor.config import Settings
from conveyor.errors import ConfigError
from conveyor.wiring import Ports

MAX_UPLOAD_ENV = "CONVEYOR_MAX_UPLOAD_BYTES"
DEFAULT_MAX_UPLOAD_BYTES = 2 * 1024**3


@dataclass
class ApiContext:
    ports: Ports
    settings: Settings
    max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES

    @property
    def home(self) -> Path:
        return self.settings.home

    @property
    def cache_dir(self) -> Path:
        return self.settings.home / "serving-cache"

    @classmethod
    def from_environment(cls, ports: Ports, settings: Settings) -> ApiContext:
        """The upload size limit comes from CONVEYOR_MAX_UPLOAD_BYTES (default 2 GiB)."""
        text = os.environ.get(MAX_UPLOAD_ENV)
        if not text:
            return cls(ports, settings)
        try:
            limit = int(text)
        except ValueError:
            limit = 0
        if limit < 1:
            raise ConfigError(f"{MAX_UPLOAD_ENV}={text!r}: give a positive number of bytes")
        return cls(ports, settings, max_upload_bytes=limit)


def api_context(request: Request) -> ApiContext:
    context: ApiContext = request.app.state.api
    return context
