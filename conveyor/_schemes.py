"""URI scheme → adapter class, imported lazily so local mode never imports an AWS SDK.

``ADAPTERS`` is the one registry of backends, in build order (an adapter may use the ports
built before its own). Each class it names has one builder,
``from_settings(uri, settings, ports_so_far)``; the contract suites in
``tests/integration/contracts`` follow this table.
"""

from __future__ import annotations

import importlib
from typing import Any

from conveyor.errors import ConfigError

ADAPTERS: dict[str, dict[str, str]] = {
    "object_store": {
        "file": "conveyor.storage.local:LocalObjectStore",
        "s3": "conveyor.storage.s3:S3ObjectStore",
    },
    "table": {
        "sqlite": "conveyor.tables.sqlite:SqliteTable",
        "dynamodb": "conveyor.tables.dynamodb:DynamoDbTable",
    },
    "events": {
        "sqlite": "conveyor.events.sqlite:SqliteEventBus",
        "eventbridge": "conveyor.events.eventbridge:EventBridgeBus",
    },
    "job_runner": {
        "local": "conveyor.jobs.local:SubprocessJobRunner",
        "sagemaker": "conveyor.jobs.sagemaker:SageMakerJobRunner",
    },
    "registry": {
        "table": "conveyor.registry.table:TableRegistry",
        "sagemaker": "conveyor.registry.sagemaker:SageMakerRegistry",
    },
    "endpoint": {
        "local": "conveyor.endpoint.local:LocalEndpoint",
        "sagemaker": "conveyor.endpoint.sagemaker:SageMakerEndpoint",
    },
    "alarms": {
        "table": "conveyor.metrics.table_alarms:TableAlarms",
        "cloudwatch": "conveyor.metrics.cloudwatch_alarms:CloudWatchAlarms",
    },
}

# Each port's setting (a ``Settings`` field, ``CONVEYOR_<FIELD>``) and its ``Ports`` field.
SETTINGS: dict[str, str] = {
    "object_store": "object_store_uri",
    "table": "table_uri",
    "events": "events_uri",
    "job_runner": "job_runner",
    "registry": "registry",
    "endpoint": "endpoint",
    "alarms": "alarms",
}
PORT_FIELDS: dict[str, str] = {
    "object_store": "store",
    "table": "table",
    "events": "events",
    "job_runner": "jobs",
    "registry": "registry",
    "endpoint": "endpoint",
    "alarms": "alarms",
}


def scheme_of(uri: str) -> str:
    return uri.split("://", 1)[0] if "://" in uri else uri


def resolve(port: str, uri: str) -> type[Any]:
    """The adapter class for ``uri``'s scheme; an unknown scheme names the valid ones."""
    table = ADAPTERS[port]
    scheme = scheme_of(uri)
    if scheme not in table:
        valid = ", ".join(sorted(table))
        raise ConfigError(
            f"CONVEYOR_{SETTINGS[port].upper()}={uri!r}: unknown scheme {scheme!r}; "
            f"valid schemes: {valid}"
        )
    module_name, class_name = table[scheme].split(":")
    adapter: type[Any] = getattr(importlib.import_module(module_name), class_name)
    return adapter


def path_of(uri: str) -> str:
    """The path part of ``file:///x`` or ``sqlite:///x`` (``/x``)."""
    return uri.split("://", 1)[1]
