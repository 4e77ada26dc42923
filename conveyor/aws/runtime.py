"""What a Lambda container keeps between invocations: its settings and ports, built once.

Built on first use, not at import: a cold start that fails on a setting says so in the
invocation's log, with the variable's name. Tests call ``reset()`` between cases.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from conveyor.aws.settings import AwsSettings
from conveyor.config import Settings, load_settings
from conveyor.pipeline.handlers import PipelineContext
from conveyor.wiring import Ports, build_ports


@cache
def settings() -> Settings:
    return load_settings()


@cache
def aws_settings() -> AwsSettings:
    return AwsSettings()


@cache
def ports() -> Ports:
    return build_ports(settings())


def pipeline_context() -> PipelineContext:
    current = settings()
    return PipelineContext(ports=ports(), work_root=Path(current.home) / "work", seed=current.seed)


def reset() -> None:
    """Forget the settings and ports (a test changing the environment between cases)."""
    for cached in (settings, aws_settings, ports):
        cached.cache_clear()
