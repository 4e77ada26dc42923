"""The AWS deploy path on moto: a version a person approves in SageMaker whose S3 artifact is
no longer the registered file is refused before SageMaker is asked for anything, with a
message naming the version, the file, both hashes and what to do; the integrity alarm is
written to the table; the version serving keeps serving."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

from conveyor.aws.clients import client
from tests.integration.archives import model_tarball
from tests.integration.aws.lambda_world import (
    PREFIX,
    decided_in_sagemaker,
    deploy_a_version,
    lambda_env_fixture,  # noqa: F401 (the lambda_env fixture)
)
from tests.integration.aws.sagemaker_fakes import FakeUpdateEndpointClient, clients_with

REGISTERED = model_tarball("version 2 as training wrote it")
CHANGED = model_tarball("version 2 with somebody's edits")


def approved_in_sagemaker(version: int) -> dict[str, Any]:
    """A person approves ``version`` of churn in SageMaker: its package's event."""
    return decided_in_sagemaker(version, "Approved", "reviewed by Ana")


def test_a_tampered_artifact_approved_in_sagemaker_is_refused_alarmed_and_v1_keeps_serving(
    lambda_env: Path,
) -> None:
    from conveyor.aws import handlers, runtime
    from conveyor.metrics.alarm_store import alarm_history
    from conveyor.monitoring.integrity import INTEGRITY_ALARM
    from conveyor.types import ObjectRef

    deploy_a_version("churn")
    ports = runtime.ports()
    v1 = ports.registry.get_version("churn", 1)
    artifact = ObjectRef("models", "churn/r-2/model.tar.gz")
    ports.store.put(artifact.bucket, artifact.key, REGISTERED)
    expected = hashlib.sha256(REGISTERED).hexdigest()
    v2 = ports.registry.create_version(
        replace(v1, version=0, run_id="r-2", artifact=artifact, sha256=expected)
    )
    assert v2.version == 2
    ports.store.put(artifact.bucket, artifact.key, CHANGED)  # after registration
    found = hashlib.sha256(CHANGED).hexdigest()
    sagemaker = client("sagemaker")
    models_before = {m["ModelName"] for m in sagemaker.list_models()["Models"]}
    config_before = sagemaker.describe_endpoint(EndpointName="conveyor-churn")["EndpointConfigName"]

    refused = handlers.on_model_package_state_change(approved_in_sagemaker(2), None)

    assert (refused["project"], refused["version"], refused["deployed"]) == ("churn", 2, False)
    reason = refused["reason"]
    for needed in (
        "churn v2 refused",
        "models/churn/r-2/model.tar.gz",
        "tampered with or damaged",
        f"expected {expected[:12]}",
        f"found {found[:12]}",
        "v1 keeps serving",
        f"Restore the original file (sha256 {expected})",
        "conveyor retrain churn",
    ):
        assert needed in reason, (needed, reason)
    # Refused before SageMaker: no model, no endpoint config, the endpoint untouched.
    assert {m["ModelName"] for m in sagemaker.list_models()["Models"]} == models_before
    assert not any("v2" in name for name in models_before)
    live = sagemaker.describe_endpoint(EndpointName="conveyor-churn")
    assert live["EndpointConfigName"] == config_before
    deployment = ports.endpoint.describe_endpoint("churn")
    assert deployment is not None and deployment.version == 1
    assert ports.registry.get_aliases("churn").get("champion") != 2
    # The alarm item, in the DynamoDB table `conveyor alarms history` reads.
    [alarm] = alarm_history(ports.table, "churn", alarm=INTEGRITY_ALARM)
    assert alarm.kind == "IntegrityFailure" and alarm.new_state == "ALARM"
    assert alarm.reason == f"deploy refused v2: {reason}"
    assert alarm.details == {
        "version": 2,
        "refused_by": "deploy",
        "artifact": "models/churn/r-2/model.tar.gz",
        "expected_sha256": expected,
        "found_sha256": found,
    }


def test_the_registered_sha256_is_kept_with_the_version_in_both_registries(
    lambda_env: Path,
) -> None:
    """The hash a deploy checks against travels with the version: in the table's version
    document (what the registry port returns) and in the SageMaker model package."""
    from conveyor.aws import runtime

    deploy_a_version("churn")
    version = runtime.ports().registry.get_version("churn", 1)
    sagemaker = client("sagemaker")
    [package] = sagemaker.list_model_packages(ModelPackageGroupName="conveyor-churn")[
        "ModelPackageSummaryList"
    ]
    described = sagemaker.describe_model_package(ModelPackageName=package["ModelPackageArn"])
    assert described["CustomerMetadataProperties"]["sha256"] == version.sha256
    stored = client("s3").get_object(Bucket=f"{PREFIX}-models", Key=version.artifact.key)
    assert hashlib.sha256(stored["Body"].read()).hexdigest() == version.sha256


def test_an_intact_version_approved_in_sagemaker_is_deployed(lambda_env: Path) -> None:
    from conveyor.aws import handlers, runtime
    from conveyor.metrics.alarm_store import alarm_history
    from conveyor.types import ObjectRef

    deploy_a_version("churn")
    ports = runtime.ports()
    v1 = ports.registry.get_version("churn", 1)
    artifact = ObjectRef("models", "churn/r-2/model.tar.gz")
    ports.store.put(artifact.bucket, artifact.key, REGISTERED)
    ports.registry.create_version(
        replace(
            v1,
            version=0,
            run_id="r-2",
            artifact=artifact,
            sha256=hashlib.sha256(REGISTERED).hexdigest(),
        )
    )

    update = FakeUpdateEndpointClient()  # moto has no UpdateEndpoint
    ports.endpoint.clients = clients_with(sagemaker=update)  # type: ignore[attr-defined]

    served = handlers.on_model_package_state_change(approved_in_sagemaker(2), None)

    assert served == {"project": "churn", "version": 2, "deployed": True}
    assert len(update.update_requests) == 1
    assert ports.endpoint.describe_endpoint("churn").version == 2  # type: ignore[union-attr]
    assert alarm_history(ports.table, "churn") == []
