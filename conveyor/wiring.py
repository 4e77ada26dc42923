"""Build the ports from settings: the only place a backend is chosen."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from conveyor import _schemes
from conveyor.config import Settings
from conveyor.endpoint import Endpoint
from conveyor.events import EventBus
from conveyor.jobs import JobRunner
from conveyor.registry import Registry
from conveyor.storage import ObjectStore
from conveyor.tables import Table


@dataclass
class Ports:
    store: ObjectStore
    table: Table
    events: EventBus
    jobs: JobRunner
    registry: Registry
    endpoint: Endpoint


def build_table(table_uri: str) -> Table:
    """The Table alone (for a process that needs nothing else, such as the record writer)."""
    table_cls = _schemes.resolve("table", table_uri)
    from_uri = getattr(table_cls, "from_uri", None)  # dynamodb://<name> is not a path
    table: Table = (
        from_uri(table_uri) if from_uri else table_cls(path=Path(_schemes.path_of(table_uri)))
    )
    return table


def build_object_store(object_store_uri: str) -> ObjectStore:
    """The object store alone (for the record writer's data capture)."""
    store_cls = _schemes.resolve("object_store", object_store_uri)
    # A URI that is not a path (s3://<bucket-prefix>) is parsed by the adapter itself.
    from_uri = getattr(store_cls, "from_uri", None)
    if from_uri is not None:
        built: ObjectStore = from_uri(object_store_uri)
        return built
    store: ObjectStore = store_cls(root=Path(_schemes.path_of(object_store_uri)))
    return store


def build_ports(settings: Settings) -> Ports:
    settings.home.mkdir(parents=True, exist_ok=True)
    store = build_object_store(settings.object_store_uri)
    table = build_table(settings.table_uri)

    events_cls = _schemes.resolve("events", settings.events_uri)
    from_uri = getattr(events_cls, "from_uri", None)  # eventbridge://<bus> is not a path
    events: EventBus = (
        from_uri(settings.events_uri)
        if from_uri
        else events_cls(path=Path(_schemes.path_of(settings.events_uri)))
    )

    # The local adapters work in the home folder; the SageMaker ones read CONVEYOR_AWS_*.
    jobs_cls = _schemes.resolve("job_runner", settings.job_runner)
    jobs: JobRunner = (
        jobs_cls(root=settings.jobs_dir, store=store)
        if _schemes.scheme_of(settings.job_runner) == "local"
        else jobs_cls(store=store)
    )
    registry: Registry = _schemes.resolve("registry", settings.registry)(table=table, store=store)
    endpoint_cls = _schemes.resolve("endpoint", settings.endpoint)
    endpoint: Endpoint = (
        endpoint_cls(table=table)
        if _schemes.scheme_of(settings.endpoint) == "local"
        else endpoint_cls(table=table, store=store)
    )
    return Ports(
        store=store, table=table, events=events, jobs=jobs, registry=registry, endpoint=endpoint
    )
