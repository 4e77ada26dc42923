"""The types every layer names: the built ports (``Ports``) and a pipeline run's context.

A leaf: the port Protocols are named for type checkers only, so importing this module costs
nothing, and ``wiring.py`` (the composition root that builds ``Ports``) stays the only module
that chooses a backend.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor.config import MAX_TRAINING_ROWS

if TYPE_CHECKING:
    from conveyor.config import Settings
    from conveyor.endpoint import Endpoint
    from conveyor.events import EventPublisher
    from conveyor.jobs import JobRunner
    from conveyor.metrics import Alarms
    from conveyor.registry import Registry
    from conveyor.storage import ObjectStore
    from conveyor.tables import Table

# The ports built so far, by ``Ports`` field name, handed to each adapter's builder
# (``from_settings(uri, settings, ports_so_far)``): the registry sits on the table and store.
PortsSoFar = Mapping[str, Any]


@dataclass
class Ports:
    """One adapter per port, as ``wiring.build_ports`` chose them from the settings."""

    store: ObjectStore
    table: Table
    events: EventPublisher
    jobs: JobRunner
    registry: Registry
    endpoint: Endpoint
    alarms: Alarms


@dataclass
class PipelineContext:
    """What a pipeline stage runs with: the ports, its scratch and cache folders, and the
    settings that shape a run."""

    ports: Ports
    work_root: Path
    cache_dir: Path
    seed: int = 42
    max_training_rows: int = MAX_TRAINING_ROWS

    @classmethod
    def from_settings(cls, ports: Ports, settings: Settings) -> PipelineContext:
        """The context of ``ports`` in ``settings``' home (its work and serving-cache folders)."""
        return cls(
            ports=ports,
            work_root=settings.work_dir,
            cache_dir=settings.serving_cache_dir,
            seed=settings.seed,
            max_training_rows=settings.max_training_rows,
        )

    @contextmanager
    def workdir(self, name: str) -> Iterator[Path]:
        path = self.work_root / name
        path.mkdir(parents=True, exist_ok=True)
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)
