"""AWS adapters on moto: one mocked account per test, clients made afresh inside it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conveyor.ports import Ports

TEST_INFERENCE_IMAGE = "000000000000.dkr.ecr.us-east-1.amazonaws.com/conveyor-inference:0.1.0"


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """A moto-mocked AWS account for the test (no network; fake credentials)."""
    from moto import mock_aws

    from conveyor.aws.clients import clear_clients

    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        # conveyor's own inference image, as a user pushes it (it has no default).
        "CONVEYOR_AWS_INFERENCE_IMAGE": TEST_INFERENCE_IMAGE,
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("CONVEYOR_AWS_ENDPOINT_URL", raising=False)
    clear_clients()
    with mock_aws():
        yield
    clear_clients()


def sagemaker_ports(home: Path, prefix: str = "acme") -> Ports:
    """The ports as ``CONVEYOR_REGISTRY=sagemaker``, ``CONVEYOR_ENDPOINT=sagemaker`` and
    ``CONVEYOR_ALARMS=cloudwatch`` build them, on S3 buckets and a DynamoDB table made here
    (inside the ``aws`` fixture's account)."""
    from conveyor.aws.clients import client
    from conveyor.config import Settings
    from conveyor.storage import BUCKETS
    from conveyor.tables.dynamodb import create_table
    from conveyor.wiring import build_ports

    for bucket in BUCKETS:
        client("s3").create_bucket(Bucket=f"{prefix}-{bucket}")
    create_table(prefix)
    return build_ports(
        Settings(
            home=home,
            object_store_uri=f"s3://{prefix}",
            table_uri=f"dynamodb://{prefix}",
            registry="sagemaker",
            endpoint="sagemaker",
            alarms="cloudwatch",
        )
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """When test_iam.py runs, the AWS flow tests run inside it, under its recorder, and a
    failure of any of them fails it with their output: running them a second time in this
    session would only cost a minute. Collected alone, they run as usual."""
    from tests.integration.aws.test_iam import FLOW_TESTS

    if not any(item.nodeid.startswith("tests/integration/aws/test_iam.py") for item in items):
        return
    flows = tuple(f"{path}::" for path in FLOW_TESTS)
    inside = [item for item in items if item.nodeid.startswith(flows)]
    if inside:
        config.hook.pytest_deselected(items=inside)
        items[:] = [item for item in items if not item.nodeid.startswith(flows)]
