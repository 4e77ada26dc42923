"""CONVEYOR_REGISTRY=sagemaker and CONVEYOR_ENDPOINT=sagemaker build the SageMaker adapters on
the S3 store and DynamoDB table, and a version goes from registration to a live endpoint."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

from conveyor.aws.clients import client
from conveyor.endpoint.sagemaker import SageMakerEndpoint
from conveyor.registry.sagemaker import SageMakerRegistry
from tests.integration.archives import model_tarball
from tests.integration.aws.conftest import sagemaker_ports
from tests.integration.contracts.test_registry import draft


def test_the_sagemaker_settings_build_the_sagemaker_adapters(aws: None, tmp_path: Path) -> None:
    ports = sagemaker_ports(tmp_path)
    assert isinstance(ports.registry, SageMakerRegistry)
    assert isinstance(ports.endpoint, SageMakerEndpoint)

    registered = draft("r1")
    tarball = model_tarball("version 1")  # the endpoint reads what it deploys
    ports.store.put(registered.artifact.bucket, registered.artifact.key, tarball)
    sha256 = hashlib.sha256(tarball).hexdigest()
    version = ports.registry.create_version(replace(registered, sha256=sha256))
    ports.endpoint.update_endpoint("churn", version.version, version.artifact, version.sha256)
    served = client("sagemaker").describe_endpoint(EndpointName="conveyor-churn")
    config = client("sagemaker").describe_endpoint_config(
        EndpointConfigName=served["EndpointConfigName"]
    )
    model_name = config["ProductionVariants"][0]["ModelName"]
    model = client("sagemaker").describe_model(ModelName=model_name)
    assert model["PrimaryContainer"]["ModelDataUrl"] == "s3://acme-models/churn/r1/model.tar.gz"
    assert ports.endpoint.describe_endpoint("churn").version == 1  # type: ignore[union-attr]
