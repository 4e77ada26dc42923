"""The one place boto3 clients are made: region and ``endpoint_url`` from the settings
(``CONVEYOR_AWS_REGION``, ``CONVEYOR_AWS_ENDPOINT_URL``), so tests and S3- or
DynamoDB-compatible servers point every adapter elsewhere with one variable."""

from __future__ import annotations

import os
from functools import cache
from typing import Any

from conveyor.errors import ConfigError

DEFAULT_REGION = "us-east-1"


def client(service: str, *, region: str | None = None, endpoint_url: str | None = None) -> Any:
    """A boto3 client for ``service`` (``"s3"``, ``"dynamodb"``, …).

    Raises:
        ConfigError: boto3 is not installed (``pip install 'conveyor[aws]'``).
    """
    return _cached(
        service,
        region
        or os.environ.get("CONVEYOR_AWS_REGION")
        or os.environ.get("AWS_REGION")
        or DEFAULT_REGION,
        endpoint_url or os.environ.get("CONVEYOR_AWS_ENDPOINT_URL") or None,
    )


@cache
def _cached(service: str, region: str, endpoint_url: str | None) -> Any:
    try:
        import boto3
        from botocore.config import Config
    except ImportError as exc:  # the local default does not need boto3
        raise ConfigError(
            "the AWS backend needs boto3: install conveyor with `pip install 'conveyor[aws]'`"
        ) from exc
    config = Config(retries={"mode": "adaptive", "max_attempts": 8})
    return boto3.session.Session().client(
        service, region_name=region, endpoint_url=endpoint_url, config=config
    )


def clear_clients() -> None:
    """Forget made clients (tests that start and stop a mocked AWS between cases)."""
    _cached.cache_clear()
