"""Deleting a project on the AWS adapters (moto): the SageMaker endpoint, model packages and
group go, as do the project's S3 objects and DynamoDB items; another project keeps its own."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from conveyor.aws.clients import client
from conveyor.errors import Conflict
from conveyor.inference.records import InferenceRecord
from conveyor.pipeline.project_delete import delete_project
from conveyor.ports import Ports
from conveyor.projects import create_project
from conveyor.storage import BUCKETS
from conveyor.types import utcnow
from tests.integration.archives import model_tarball
from tests.integration.aws.conftest import sagemaker_ports
from tests.integration.aws.sagemaker_fakes import FakeModelPackageDeleteClient, clients_with
from tests.integration.contracts.test_registry import draft


def _aws_ports(tmp_path: Path) -> Ports:
    ports = sagemaker_ports(tmp_path)
    # moto has no DeleteModelPackage(Group): a named fake at the client boundary applies it.
    ports.registry.clients = clients_with(sagemaker=FakeModelPackageDeleteClient())  # type: ignore[attr-defined]
    return ports


def _serving_project(ports: Ports, name: str) -> None:
    create_project(ports.table, name, target="churned")
    registered = draft("r1", project=name)
    tarball = model_tarball(f"{name} version 1")
    ports.store.put(registered.artifact.bucket, registered.artifact.key, tarball)
    ports.store.put("raw", f"{name}/churn.csv", b"age,churned\n1,no\n")
    sha256 = hashlib.sha256(tarball).hexdigest()
    version = ports.registry.create_version(replace(registered, sha256=sha256))
    ports.endpoint.update_endpoint(name, version.version, version.artifact, version.sha256)
    record = InferenceRecord(name, utcnow(), "req-1", 1, 4.0, None, None, 200)
    ports.table.put_many([record.to_item()])


def _dynamodb_items_of(project: str) -> list[tuple[str, str]]:
    items = client("dynamodb").scan(TableName="acme")["Items"]
    keys = [(item["pk"]["S"], item["sk"]["S"]) for item in items]
    return [(pk, sk) for pk, sk in keys if project in pk or project in sk]


def test_delete_removes_the_project_from_sagemaker_s3_and_dynamodb(
    aws: None, tmp_path: Path
) -> None:
    ports = _aws_ports(tmp_path)
    _serving_project(ports, "churn")
    _serving_project(ports, "fraud")
    group = client("sagemaker").describe_model_package_group(ModelPackageGroupName="conveyor-churn")
    assert group["ModelPackageGroupName"] == "conveyor-churn"

    with pytest.raises(Conflict, match="serves version 1"):
        delete_project(ports, "churn")
    deleted = delete_project(ports, "churn", force=True)
    assert (deleted.served_version, deleted.versions) == (1, 1)

    sagemaker = client("sagemaker")
    with pytest.raises(ClientError):
        sagemaker.describe_endpoint(EndpointName="conveyor-churn")
    with pytest.raises(ClientError):
        sagemaker.describe_model_package_group(ModelPackageGroupName="conveyor-churn")
    assert _dynamodb_items_of("churn") == []
    for bucket in BUCKETS:
        listed = client("s3").list_objects_v2(Bucket=f"acme-{bucket}", Prefix="churn/")
        assert listed.get("KeyCount", 0) == 0, bucket
    # The other project is untouched.
    assert sagemaker.describe_endpoint(EndpointName="conveyor-fraud")["EndpointName"]
    assert [v.version for v in ports.registry.list_versions("fraud")] == [1]
    assert _dynamodb_items_of("fraud")


def test_delete_removes_the_projects_cloudwatch_alarms_and_another_keeps_its_own(
    aws: None, tmp_path: Path
) -> None:
    from conveyor.monitoring.alarms.defaults import ensure_default_alarms

    def held(project: str) -> list[str]:
        found = client("cloudwatch").describe_alarms(AlarmNamePrefix=f"conveyor/{project}/")
        return [alarm["AlarmName"] for alarm in found["MetricAlarms"]]

    ports = _aws_ports(tmp_path)
    for name in ("churn", "fraud"):
        create_project(ports.table, name, target="churned")
        ensure_default_alarms(ports, name)  # what `conveyor alarms list` does first
    assert len(held("churn")) == 4

    deleted = delete_project(ports, "churn")

    assert held("churn") == []
    assert deleted.records["cloudwatch alarms"] == 4
    assert len(held("fraud")) == 4
