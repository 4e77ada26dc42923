"""Run each port's contract suite once per adapter.

Each registry below maps an adapter's scheme (its key in ``conveyor._schemes.ADAPTERS``) to
a context manager that prepares the backend in a test's ``tmp_path`` and yields a factory:
every call builds a new adapter instance on the same stored state (so suites can check
persistence across instances). ``CONTRACT_SUITES`` gathers them by port; a registered
adapter without an entry fails ``test_every_adapter.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

import pytest

from conveyor.endpoint import Endpoint
from conveyor.endpoint.local import LocalEndpoint
from conveyor.events import EventPublisher, EventQueue
from conveyor.events.sqlite import SqliteEventBus
from conveyor.metrics import Alarms
from conveyor.registry import Registry
from conveyor.registry.table import TableRegistry
from conveyor.storage import BUCKETS, ObjectStore
from conveyor.storage.local import LocalObjectStore
from conveyor.tables import Table
from conveyor.tables.sqlite import SqliteTable

T = TypeVar("T")
Backend = Callable[[Path], AbstractContextManager[Callable[[], T]]]


class PublishingQueue(EventPublisher, EventQueue, Protocol):
    """An events backend that is its own queue (the SQLite bus)."""


@contextmanager
def _local_object_stores(tmp_path: Path) -> Iterator[Callable[[], ObjectStore]]:
    yield lambda: LocalObjectStore(root=tmp_path / "buckets")


@contextmanager
def _s3_object_stores(tmp_path: Path) -> Iterator[Callable[[], ObjectStore]]:
    from moto import mock_aws

    from conveyor.aws.clients import clear_clients, client
    from conveyor.storage.s3 import S3ObjectStore

    buckets = {bucket: f"conveyor-test-{bucket}" for bucket in BUCKETS}
    clear_clients()
    with mock_aws():
        for real in buckets.values():  # versioned, as the SAM template makes them
            client("s3").create_bucket(Bucket=real)
            client("s3").put_bucket_versioning(
                Bucket=real, VersioningConfiguration={"Status": "Enabled"}
            )
        yield lambda: S3ObjectStore(buckets)
    clear_clients()


@contextmanager
def _sqlite_tables(tmp_path: Path) -> Iterator[Callable[[], Table]]:
    yield lambda: SqliteTable(path=tmp_path / "db" / "conveyor.db")


@contextmanager
def _dynamodb_tables(tmp_path: Path) -> Iterator[Callable[[], Table]]:
    from moto import mock_aws

    from conveyor.aws.clients import clear_clients
    from conveyor.tables.dynamodb import DynamoDbTable, create_table

    clear_clients()
    with mock_aws():
        create_table("conveyor-test")
        yield lambda: DynamoDbTable("conveyor-test")
    clear_clients()


@contextmanager
def _sqlite_event_buses(tmp_path: Path) -> Iterator[Callable[[], PublishingQueue]]:
    yield lambda: SqliteEventBus(path=tmp_path / "db" / "conveyor.db")


@contextmanager
def _eventbridge_publishers(tmp_path: Path) -> Iterator[Callable[[], EventPublisher]]:
    from moto import mock_aws

    from conveyor.aws.clients import clear_clients, client
    from conveyor.events.eventbridge import EventBridgeBus

    clear_clients()
    with mock_aws():
        client("events").create_event_bus(Name="conveyor-test")
        yield lambda: EventBridgeBus("conveyor-test")
    clear_clients()


def _aws_settings() -> Any:
    from conveyor.config import AwsSettings
    from tests.integration.aws.conftest import TEST_INFERENCE_IMAGE

    return AwsSettings(inference_image=TEST_INFERENCE_IMAGE)


OBJECT_STORES: dict[str, Backend[ObjectStore]] = {
    "file": _local_object_stores,
    "s3": _s3_object_stores,
}
TABLES: dict[str, Backend[Table]] = {"sqlite": _sqlite_tables, "dynamodb": _dynamodb_tables}
EVENT_PUBLISHERS: dict[str, Backend[EventPublisher]] = {
    "sqlite": _sqlite_event_buses,
    "eventbridge": _eventbridge_publishers,
}
# The queue is an optional capability: only the backends that have it.
EVENT_QUEUES: dict[str, Backend[PublishingQueue]] = {"sqlite": _sqlite_event_buses}


# The registry and the endpoint sit on a store and a table: the local adapters on the folder
# store and SQLite, the SageMaker ones on S3 and DynamoDB, all in one moto account.
@contextmanager
def _local_registries(tmp_path: Path) -> Iterator[Callable[[], Registry]]:
    with _local_object_stores(tmp_path) as stores, _made(_sqlite_tables, tmp_path) as tables:
        yield lambda: TableRegistry(table=tables(), store=stores())


@contextmanager
def _sagemaker_registries(tmp_path: Path) -> Iterator[Callable[[], Registry]]:
    from conveyor.registry.sagemaker import SageMakerRegistry
    from tests.integration.aws.sagemaker_fakes import FakeModelPackageDeleteClient, clients_with

    # moto has no DeleteModelPackage(Group): a named fake at the client boundary applies it.
    clients = clients_with(sagemaker=FakeModelPackageDeleteClient())
    with _s3_object_stores(tmp_path) as stores, _dynamodb_tables(tmp_path) as tables:
        yield lambda: SageMakerRegistry(
            table=tables(), store=stores(), clients=clients, settings=_aws_settings()
        )


@contextmanager
def _local_endpoints(tmp_path: Path) -> Iterator[Callable[[], Endpoint]]:
    with _made(_sqlite_tables, tmp_path) as tables:
        yield lambda: LocalEndpoint(table=tables())


@contextmanager
def _sagemaker_endpoints(tmp_path: Path) -> Iterator[Callable[[], Endpoint]]:
    from conveyor.endpoint.sagemaker import SageMakerEndpoint
    from tests.integration.aws.sagemaker_fakes import FakeUpdateEndpointClient, clients_with

    # moto has no UpdateEndpoint: a named fake at the client boundary applies it.
    clients = clients_with(sagemaker=FakeUpdateEndpointClient())
    with _s3_object_stores(tmp_path) as stores, _dynamodb_tables(tmp_path) as tables:
        yield lambda: SageMakerEndpoint(
            table=tables(), store=stores(), clients=clients, settings=_aws_settings()
        )


REGISTRIES: dict[str, Backend[Registry]] = {
    "table": _local_registries,
    "sagemaker": _sagemaker_registries,
}
ENDPOINTS: dict[str, Backend[Endpoint]] = {
    "local": _local_endpoints,
    "sagemaker": _sagemaker_endpoints,
}


def _factory(backend: Backend[T], tmp_path: Path) -> Iterator[Callable[[], T]]:
    made: list[T] = []
    with backend(tmp_path) as build:

        def make() -> T:
            adapter = build()
            made.append(adapter)
            return adapter

        yield make
        for adapter in made:
            close: Callable[[], Any] | None = getattr(adapter, "close", None)
            if close is not None:
                close()


@pytest.fixture(params=list(OBJECT_STORES), ids=list(OBJECT_STORES))
def make_object_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    yield from _factory(OBJECT_STORES[request.param], tmp_path)


@pytest.fixture
def object_store(make_object_store: Callable[[], ObjectStore]) -> ObjectStore:
    return make_object_store()


@pytest.fixture(params=list(TABLES), ids=list(TABLES))
def make_table(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    yield from _factory(TABLES[request.param], tmp_path)


@pytest.fixture
def table(make_table: Callable[[], Table]) -> Table:
    return make_table()


def _made(backend: Backend[T], tmp_path: Path) -> AbstractContextManager[Callable[[], T]]:
    """A backend whose adapters are closed at the end, for composing into another backend."""
    return contextmanager(_factory)(backend, tmp_path)


@pytest.fixture(params=list(REGISTRIES), ids=list(REGISTRIES))
def make_registry(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    yield from _factory(REGISTRIES[request.param], tmp_path)


@pytest.fixture
def registry(make_registry: Callable[[], Registry]) -> Registry:
    return make_registry()


@pytest.fixture(params=list(ENDPOINTS), ids=list(ENDPOINTS))
def make_endpoint(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    yield from _factory(ENDPOINTS[request.param], tmp_path)


@pytest.fixture
def endpoint(make_endpoint: Callable[[], Endpoint]) -> Endpoint:
    return make_endpoint()


@pytest.fixture(params=list(EVENT_PUBLISHERS), ids=list(EVENT_PUBLISHERS))
def make_event_publisher(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    yield from _factory(EVENT_PUBLISHERS[request.param], tmp_path)


@pytest.fixture
def event_publisher(make_event_publisher: Callable[[], EventPublisher]) -> EventPublisher:
    return make_event_publisher()


@pytest.fixture(params=list(EVENT_QUEUES), ids=list(EVENT_QUEUES))
def make_event_queue(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    yield from _factory(EVENT_QUEUES[request.param], tmp_path)


@pytest.fixture
def event_queue(make_event_queue: Callable[[], PublishingQueue]) -> PublishingQueue:
    return make_event_queue()


# Alarms sit on a table: the local ones on SQLite; the CloudWatch ones on DynamoDB and
# CloudWatch in one moto account, with a fake for the DescribeAlarmHistory moto lacks.
@contextmanager
def _table_alarms(tmp_path: Path) -> Iterator[Callable[[], Alarms]]:
    from conveyor.metrics.table_alarms import TableAlarms

    with _made(_sqlite_tables, tmp_path) as tables:
        yield lambda: TableAlarms(table=tables())


@contextmanager
def _cloudwatch_alarms(tmp_path: Path) -> Iterator[Callable[[], Alarms]]:
    from conveyor.metrics.cloudwatch_alarms import CloudWatchAlarms
    from tests.integration.aws.cloudwatch_fakes import FakeAlarmHistoryClient
    from tests.integration.aws.sagemaker_fakes import clients_with

    clients = clients_with(cloudwatch=FakeAlarmHistoryClient())
    with _dynamodb_tables(tmp_path) as tables:
        yield lambda: CloudWatchAlarms(table=tables(), settings=_aws_settings(), clients=clients)


ALARMS: dict[str, Backend[Alarms]] = {"table": _table_alarms, "cloudwatch": _cloudwatch_alarms}


@pytest.fixture(params=list(ALARMS), ids=list(ALARMS))
def make_alarms(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    yield from _factory(ALARMS[request.param], tmp_path)


@pytest.fixture
def alarms(make_alarms: Callable[[], Alarms]) -> Alarms:
    return make_alarms()


# Job runners: each store holds one channel object at processed/p/d/train.parquet. The local
# runner runs the toy entrypoint of tests/integration as a real process; on moto a job is
# Completed at once (moto runs no code).
JOB_CHANNEL = ("processed", "p/d/train.parquet")


@contextmanager
def _local_job_runners(tmp_path: Path) -> Iterator[Callable[[], Any]]:
    from conveyor.jobs.local import SubprocessJobRunner

    store = LocalObjectStore(root=tmp_path / "buckets")
    store.put(*JOB_CHANNEL, b"rows")
    with pytest.MonkeyPatch.context() as env:  # the job process imports tests.*
        env.setenv("PYTHONPATH", str(Path(__file__).resolve().parents[3]))
        yield lambda: SubprocessJobRunner(root=tmp_path / "jobs", store=store)


@contextmanager
def _sagemaker_job_runners(tmp_path: Path) -> Iterator[Callable[[], Any]]:
    from conveyor.jobs.sagemaker import SageMakerJobRunner

    with _s3_object_stores(tmp_path) as stores:
        stores().put(*JOB_CHANNEL, b"rows")
        yield lambda: SageMakerJobRunner(store=stores(), settings=_aws_settings())


JOB_RUNNERS: dict[str, Backend[Any]] = {
    "local": _local_job_runners,
    "sagemaker": _sagemaker_job_runners,
}


@pytest.fixture(params=list(JOB_RUNNERS), ids=list(JOB_RUNNERS))
def make_job_runner(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Any]:
    yield from _factory(JOB_RUNNERS[request.param], tmp_path)


# Every port's suite, by the port's key in ``conveyor._schemes.ADAPTERS``.
CONTRACT_SUITES: dict[str, dict[str, Backend[Any]]] = {
    "object_store": OBJECT_STORES,
    "table": TABLES,
    "events": EVENT_PUBLISHERS,
    "job_runner": JOB_RUNNERS,
    "registry": REGISTRIES,
    "endpoint": ENDPOINTS,
    "alarms": ALARMS,
}
