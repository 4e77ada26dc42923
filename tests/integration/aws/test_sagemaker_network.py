"""The network and encryption settings as SageMaker receives them (moto): a VPC on training
jobs and models, network isolation on models, KMS keys on a job's output and on the volumes of
training and serving instances; each in the request only when set. And conveyor's own training
image: the sourcedir then carries no requirements.txt, so a job installs nothing at start.

The requests are read as sent, through a recording client at the boto3 boundary: moto keeps a
training job's VpcConfig but not a model's EnableNetworkIsolation.
"""

from __future__ import annotations

import io
import json
import tarfile
from typing import Any

import pytest

from conveyor.aws.clients import client
from conveyor.config import AwsSettings
from conveyor.endpoint.sagemaker import SageMakerEndpoint
from conveyor.errors import ConfigError
from conveyor.jobs import TrainingJobSpec
from conveyor.jobs.sagemaker import SageMakerJobRunner
from conveyor.storage import BUCKETS, MODELS, PROCESSED
from conveyor.storage.s3 import S3ObjectStore
from conveyor.tables.dynamodb import DynamoDbTable, create_table
from conveyor.types import ObjectRef
from tests.integration.aws.sagemaker_fakes import clients_with
from tests.integration.contracts.test_endpoint import deploy

SUBNETS = "subnet-0a1b2c3d, subnet-4e5f6a7b"
GROUPS = "sg-0123abcd"
KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
ALL_SET: dict[str, Any] = {
    "vpc_subnets": SUBNETS,
    "vpc_security_groups": GROUPS,
    "network_isolation": True,
    "output_kms_key_id": KEY,
    "volume_kms_key_id": KEY,
}
VPC = {"Subnets": ["subnet-0a1b2c3d", "subnet-4e5f6a7b"], "SecurityGroupIds": ["sg-0123abcd"]}


class RecordingSageMaker:
    """The moto SageMaker client, with every ``create_*`` request kept as sent."""

    def __init__(self) -> None:
        self.requests: dict[str, list[dict[str, Any]]] = {}

    def __getattr__(self, name: str) -> Any:
        real = getattr(client("sagemaker"), name)
        if not name.startswith("create_"):
            return real

        def record(**request: Any) -> Any:
            self.requests.setdefault(name, []).append(request)
            return real(**request)

        return record


@pytest.fixture
def store(aws: None) -> S3ObjectStore:
    names = {bucket: f"acme-{bucket}" for bucket in BUCKETS}
    for name in names.values():
        client("s3").create_bucket(Bucket=name)
    made = S3ObjectStore(names)
    made.put(PROCESSED, "churn/d1/train.parquet", b"rows")
    return made


def start_job(
    store: S3ObjectStore, name: str = "churn-0001", **settings: Any
) -> tuple[dict[str, Any], bytes]:
    """The CreateTrainingJob request a runner with ``settings`` sends, and its sourcedir."""
    recorder = RecordingSageMaker()
    runner = SageMakerJobRunner(
        store=store, settings=AwsSettings(**settings), clients=clients_with(sagemaker=recorder)
    )
    runner.start_training_job(
        TrainingJobSpec(
            job_name=name,
            channels={"train": ObjectRef(PROCESSED, "churn/d1/train.parquet")},
            output=ObjectRef(MODELS, f"churn/{name}/model.tar.gz"),
            hyperparameters={},
            max_runtime_seconds=600,
        )
    )
    (request,) = recorder.requests["create_training_job"]
    source = json.loads(request["HyperParameters"]["sagemaker_submit_directory"])
    return request, store.get(MODELS, source.removeprefix("s3://acme-models/"))


def deploy_once(store: S3ObjectStore, **settings: Any) -> RecordingSageMaker:
    create_table("acme")
    recorder = RecordingSageMaker()
    endpoint = SageMakerEndpoint(
        table=DynamoDbTable("acme"),
        store=store,
        settings=AwsSettings(**settings),
        clients=clients_with(sagemaker=recorder),
    )
    deploy(endpoint, 1)
    return recorder


def names_in(sourcedir: bytes) -> set[str]:
    with tarfile.open(fileobj=io.BytesIO(sourcedir)) as archive:
        return set(archive.getnames())


def test_a_training_job_carries_the_vpc_and_keys_when_set(store: S3ObjectStore) -> None:
    request, _ = start_job(store, **ALL_SET)
    assert request["VpcConfig"] == VPC
    assert request["OutputDataConfig"]["KmsKeyId"] == KEY
    assert request["ResourceConfig"]["VolumeKmsKeyId"] == KEY
    # The pipeline job calls S3, DynamoDB and EventBridge itself: never isolated.
    assert "EnableNetworkIsolation" not in request
    # SageMaker took it as sent.
    described = client("sagemaker").describe_training_job(TrainingJobName="churn-0001")
    assert described["VpcConfig"] == VPC


def test_a_training_job_carries_none_of_them_when_unset(store: S3ObjectStore) -> None:
    request, _ = start_job(store)
    assert "VpcConfig" not in request
    assert "EnableNetworkIsolation" not in request
    assert request["OutputDataConfig"] == {
        "S3OutputPath": "s3://acme-models/churn/churn-0001/sagemaker"
    }
    assert "VolumeKmsKeyId" not in request["ResourceConfig"]


def test_the_model_and_endpoint_config_carry_them_when_set(store: S3ObjectStore) -> None:
    recorder = deploy_once(store, **ALL_SET)
    (model,) = recorder.requests["create_model"]
    assert model["VpcConfig"] == VPC
    assert model["EnableNetworkIsolation"] is True
    (config,) = recorder.requests["create_endpoint_config"]
    assert config["KmsKeyId"] == KEY


def test_the_model_and_endpoint_config_carry_none_of_them_when_unset(
    store: S3ObjectStore,
) -> None:
    recorder = deploy_once(store)
    (model,) = recorder.requests["create_model"]
    assert "VpcConfig" not in model
    assert "EnableNetworkIsolation" not in model
    (config,) = recorder.requests["create_endpoint_config"]
    assert "KmsKeyId" not in config


def test_a_serverless_endpoint_config_has_no_volume_key(store: S3ObjectStore) -> None:
    recorder = deploy_once(store, serverless=True, volume_kms_key_id=KEY)
    (config,) = recorder.requests["create_endpoint_config"]
    assert "KmsKeyId" not in config


def test_half_a_vpc_is_refused_before_anything_starts(store: S3ObjectStore) -> None:
    with pytest.raises(ConfigError, match="CONVEYOR_AWS_VPC_SECURITY_GROUPS"):
        start_job(store, vpc_subnets=SUBNETS)
    assert client("sagemaker").list_training_jobs()["TrainingJobSummaries"] == []


def test_conveyor_s_own_training_image_installs_nothing_at_start(store: S3ObjectStore) -> None:
    _, framework = start_job(store)
    assert "requirements.txt" in names_in(framework)

    _, own = start_job(store, "churn-0002", training_image_has_dependencies=True)
    names = names_in(own)
    assert "requirements.txt" not in names
    assert {"train.py", "conveyor/jobs/entrypoint.py"} <= names
