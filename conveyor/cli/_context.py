"""What every command needs: settings read once at the edge, and the ports built from them."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from conveyor.config import Settings, load_settings
from conveyor.ports import PipelineContext, Ports
from conveyor.wiring import build_ports


@dataclass
class CliState:
    home: Path | None = None
    overrides: dict[str, object] = field(default_factory=dict)

    @cached_property
    def settings(self) -> Settings:
        return load_settings(home=self.home, **self.overrides)

    @cached_property
    def ports(self) -> Ports:
        return build_ports(self.settings)

    def pipeline(self) -> PipelineContext:
        return PipelineContext.from_settings(self.ports, self.settings)
