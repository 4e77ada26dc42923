"""What a Lambda container keeps between invocations: its settings and ports, built once.

Built on first use, not at import: a cold start that fails on a setting says so in the
invocation's log, with the variable's name. Tests call ``reset()`` between cases.
"""

from __future__ import annotations

import logging
import os
import sys
from functools import cache

from conveyor.config import Settings, load_settings
from conveyor.inference.request_ids import RequestIds
from conveyor.logs import JsonFormatter, _StampContext
from conveyor.ports import PipelineContext, Ports
from conveyor.wiring import build_ports


@cache
def settings() -> Settings:
    return load_settings()


@cache
def ports() -> Ports:
    if os.environ.get("AWS_LAMBDA_FUNCTION_NAME"):
        json_logs()
    return build_ports(settings())


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """stderr as it is when a line is written (not as it was when the handler was made)."""

    @property
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, value: object) -> None:
        pass


@cache
def json_logs() -> None:
    """conveyor's records as JSON lines on stderr, with their run, request, project and
    version (``conveyor.logs``' format): CloudWatch Logs Insights queries them
    by field. stdout is left to the EMF lines."""
    handler = _Stderr()
    handler.setFormatter(JsonFormatter())
    handler.addFilter(_StampContext())
    ours = logging.getLogger("conveyor")
    ours.addHandler(handler)
    ours.setLevel(logging.INFO)
    ours.propagate = False  # the runtime's own handler would print each line again


@cache
def request_ids() -> RequestIds:
    """The deployment's request ids: the key is read once per container."""
    return RequestIds(ports().table)


def pipeline_context() -> PipelineContext:
    return PipelineContext.from_settings(ports(), settings())


def reset() -> None:
    """Forget the settings and ports (a test changing the environment between cases)."""
    for cached in (settings, ports, request_ids):
        cached.cache_clear()
