"""The SageMaker registry as SageMaker sees it (moto): the package group, the packages and
their metrics, and approvals made in SageMaker itself."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conveyor.aws.clients import client
from conveyor.config import AwsSettings
from conveyor.errors import ConfigError, Conflict
from conveyor.registry.sagemaker import SageMakerRegistry
from conveyor.registry.table import TableRegistry
from conveyor.storage import BUCKETS
from conveyor.storage.local import LocalObjectStore
from conveyor.storage.s3 import S3ObjectStore
from conveyor.tables.dynamodb import DynamoDbTable, create_table
from conveyor.types import ApprovalStatus
from tests.integration.contracts.test_registry import draft

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/conveyor-inference:0.1.0"


@pytest.fixture
def registry(aws: None) -> SageMakerRegistry:
    buckets = {bucket: f"acme-{bucket}" for bucket in BUCKETS}
    for real in buckets.values():
        client("s3").create_bucket(Bucket=real)
    create_table("conveyor")
    return SageMakerRegistry(
        table=DynamoDbTable("conveyor"),
        store=S3ObjectStore(buckets),
        settings=AwsSettings(inference_image=IMAGE),
    )


def packages(group: str) -> list[dict[str, Any]]:
    listed = client("sagemaker").list_model_packages(ModelPackageGroupName=group)
    return list(listed["ModelPackageSummaryList"])


def package(version: int, group: str = "conveyor-churn") -> dict[str, Any]:
    (summary,) = [p for p in packages(group) if p["ModelPackageVersion"] == version]
    return dict(
        client("sagemaker").describe_model_package(ModelPackageName=summary["ModelPackageArn"])
    )


def test_a_version_is_a_model_package_in_the_projects_group(registry: SageMakerRegistry) -> None:
    version = registry.create_version(draft("r1"))
    group = client("sagemaker").describe_model_package_group(ModelPackageGroupName="conveyor-churn")
    assert group["ModelPackageGroupName"] == "conveyor-churn"
    held = package(1)
    assert held["ModelPackageVersion"] == version.version == 1
    assert held["ModelApprovalStatus"] == "PendingManualApproval"
    (container,) = held["InferenceSpecification"]["Containers"]
    assert container == {"Image": IMAGE, "ModelDataUrl": "s3://acme-models/churn/r1/model.tar.gz"}
    assert held["InferenceSpecification"]["SupportedContentTypes"] == [
        "application/json",
        "text/csv",
    ]
    assert held["CustomerMetadataProperties"] == {
        "run_id": "r1",
        "dataset_id": "d" * 64,
        "sha256": "a" * 64,
        "git_commit": "0123456789abcdef0123456789abcdef01234567",
        "package_version": "0.1.0",
        "artifact": "models/churn/r1/model.tar.gz",
        "raw": "raw/churn/r1.csv",
    }
    assert registry.package_arn("churn", 1) == held["ModelPackageArn"]


def test_the_packages_metrics_are_a_statistics_file_in_the_reports_bucket(
    registry: SageMakerRegistry,
) -> None:
    registry.create_version(draft("r1"))
    statistics = package(1)["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics["ContentType"] == "application/json"
    assert statistics["S3Uri"] == "s3://acme-reports/churn/registry/r1/model-quality.json"
    body = client("s3").get_object(
        Bucket="acme-reports", Key="churn/registry/r1/model-quality.json"
    )
    document = json.loads(body["Body"].read())
    assert document["binary_classification_metrics"]["roc_auc"]["value"] == 0.91
    assert document["conveyor"]["metrics"]["baseline"] == {"roc_auc": 0.5}


def test_conveyors_version_is_sagemakers_package_version(registry: SageMakerRegistry) -> None:
    # Someone registered a package by hand first: SageMaker's numbering wins.
    client("sagemaker").create_model_package_group(ModelPackageGroupName="conveyor-churn")
    client("sagemaker").create_model_package(
        ModelPackageGroupName="conveyor-churn",
        InferenceSpecification={
            "Containers": [{"Image": IMAGE, "ModelDataUrl": "s3://acme-models/by-hand.tar.gz"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )
    version = registry.create_version(draft("r1"))
    assert version.version == 2
    assert registry.get_version("churn", 2).run_id == "r1"
    assert [v.version for v in registry.list_versions("churn")] == [2]


def test_a_redelivered_registration_makes_no_second_package(registry: SageMakerRegistry) -> None:
    first = registry.create_version(draft("r1"))
    again = SageMakerRegistry(
        table=registry.table, store=registry.store, settings=registry.settings
    ).create_version(draft("r1"))
    assert again.version == first.version == 1
    assert len(packages("conveyor-churn")) == 1


def test_an_approval_made_in_sagemaker_is_what_conveyor_reports(
    registry: SageMakerRegistry,
) -> None:
    registry.create_version(draft("r1"))
    registry.create_version(draft("r2"))
    client("sagemaker").update_model_package(
        ModelPackageArn=registry.package_arn("churn", 1),
        ModelApprovalStatus="Approved",
        ApprovalDescription="looked at the confusion matrix: fine",
    )
    approved = registry.get_version("churn", 1)
    assert approved.approval_status is ApprovalStatus.APPROVED
    assert approved.status_reason == "looked at the confusion matrix: fine"
    listed = {v.version: v.approval_status for v in registry.list_versions("churn")}
    assert listed == {1: ApprovalStatus.APPROVED, 2: ApprovalStatus.PENDING}


def test_approving_and_gating_update_the_package(registry: SageMakerRegistry) -> None:
    registry.create_version(draft("r1"))
    registry.update_approval_status("churn", 1, ApprovalStatus.APPROVED, "x" * 2000)
    held = package(1)
    assert held["ModelApprovalStatus"] == "Approved"
    assert held["ApprovalDescription"] == "x" * 1024  # SageMaker's limit
    assert registry.get_version("churn", 1).status_reason == "x" * 2000  # the Table keeps all

    registry.update_approval_status(
        "churn", 1, ApprovalStatus.REJECTED, "worse than the champion", gate={}
    )
    held = package(1)
    assert held["ModelApprovalStatus"] == "Rejected"
    assert held["ApprovalDescription"] == "worse than the champion"


def test_lineage_values_are_cut_to_sagemakers_limit(registry: SageMakerRegistry) -> None:
    long = draft("r1")
    long.package_version = "1.0.0+" + "local" * 100
    registry.create_version(long)
    metadata = package(1)["CustomerMetadataProperties"]
    assert metadata["package_version"] == long.package_version[:256]


def test_artifacts_outside_s3_are_a_configuration_error(aws: None, tmp_path: Any) -> None:
    create_table("conveyor")
    registry = SageMakerRegistry(
        table=DynamoDbTable("conveyor"),
        store=LocalObjectStore(root=tmp_path / "buckets"),
        settings=AwsSettings(),
    )
    with pytest.raises(ConfigError, match="CONVEYOR_OBJECT_STORE_URI=s3://"):
        registry.create_version(draft("r1"))
    assert registry.list_versions("churn") == []


def test_a_table_already_holding_other_versions_is_a_conflict_not_a_mixup(
    registry: SageMakerRegistry,
) -> None:
    # The table was the local registry's before: its version 1 is another run's.
    TableRegistry(table=registry.table, store=registry.store).create_version(draft("old"))
    with pytest.raises(Conflict, match="registered without SageMaker"):
        registry.create_version(draft("r1"))
    assert registry.get_version("churn", 1).run_id == "old"
