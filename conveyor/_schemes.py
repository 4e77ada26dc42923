"""URI scheme → adapter class, imported lazily so local mode never imports an AWS SDK."""

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
        "sqlite": "conveyor.events.local:SqliteEventBus",
        "eventbridge": "conveyor.events.eventbridge:EventBridgeBus",
    },
    "job_runner": {
        "local": "conveyor.jobs.local:SubprocessJobRunner",
        "sagemaker": "conveyor.jobs.sagemaker:SageMakerJobRunner",
    },
    "registry": {
        "table": "conveyor.registry.local:LocalRegistry",
        "sagemaker": "conveyor.registry.sagemaker:SageMakerRegistry",
    },
    "endpoint": {
        "local": "conveyor.endpoint.local:LocalEndpoint",
        "sagemaker": "conveyor.endpoint.sagemaker:SageMakerEndpoint",
    },
}

_SETTING_NAMES = {
    "object_store": "CONVEYOR_OBJECT_STORE_URI",
    "table": "CONVEYOR_TABLE_URI",
    "events": "CONVEYOR_EVENTS_URI",
    "job_runner": "CONVEYOR_JOB_RUNNER",
    "registry": "CONVEYOR_REGISTRY",
    "endpoint": "CONVEYOR_ENDPOINT",
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
            f"{_SETTING_NAMES[port]}={uri!r}: unknown scheme {scheme!r}; valid schemes: {valid}"
        )
    module_name, class_name = table[scheme].split(":")
    adapter: type[Any] = getattr(importlib.import_module(module_name), class_name)
    return adapter


def path_of(uri: str) -> str:
    """The path part of ``file:///x`` or ``sqlite:///x`` (``/x``)."""
    return uri.split("://", 1)[1]
