"""The one place boto3 clients are made. Region and ``endpoint_url`` are passed in: the
adapters take them from ``Settings.aws`` (``CONVEYOR_AWS_REGION``, else ``AWS_REGION``;
``CONVEYOR_AWS_ENDPOINT_URL``), so tests and S3- or DynamoDB-compatible servers point every
adapter elsewhere with one variable. Nothing here reads the environment."""

from __future__ import annotations

from functools import cache
from typing import Any

from conveyor.config import DEFAULT_AWS_REGION
from conveyor.errors import ConfigError


def client(service: str, *, region: str | None = None, endpoint_url: str | None = None) -> Any:
    """A boto3 client for ``service`` (``"s3"``, ``"dynamodb"``, …).

    Args:
        service: the boto3 service name.
        region: the region (``us-east-1`` when None).
        endpoint_url: another endpoint than AWS's (moto, localstack); None for AWS's own.
    Raises:
        ConfigError: boto3 is not installed (``pip install 'conveyor[aws]'``).
    """
    return _cached(service, region or DEFAULT_AWS_REGION, endpoint_url or None)


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
