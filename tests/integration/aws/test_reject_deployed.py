"""A person rejects in SageMaker the version that serves: the previous approved version
serves again (the lifecycle's rule, on the AWS handlers' path, on moto)."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path

from tests.integration.archives import model_tarball
from tests.integration.aws.lambda_world import (
    decided_in_sagemaker,
    deploy_a_version,
    lambda_env_fixture,  # noqa: F401 (the lambda_env fixture)
)
from tests.integration.aws.sagemaker_fakes import FakeUpdateEndpointClient, clients_with

SECOND = model_tarball("version 2")


def test_rejecting_the_serving_version_in_sagemaker_serves_the_previous_approved(
    lambda_env: Path,
) -> None:
    from conveyor.aws import handlers, runtime
    from conveyor.types import ApprovalStatus, ObjectRef

    deploy_a_version("churn")
    ports = runtime.ports()
    v1 = ports.registry.update_approval_status("churn", 1, ApprovalStatus.APPROVED, "the gate")
    artifact = ObjectRef("models", "churn/r-2/model.tar.gz")
    ports.store.put(artifact.bucket, artifact.key, SECOND)
    ports.registry.create_version(
        replace(
            v1,
            version=0,
            run_id="r-2",
            artifact=artifact,
            sha256=hashlib.sha256(SECOND).hexdigest(),
        )
    )
    ports.endpoint.clients = clients_with(sagemaker=FakeUpdateEndpointClient())  # type: ignore[attr-defined]
    assert handlers.on_model_package_state_change(decided_in_sagemaker(2, "Approved"))["deployed"]
    assert ports.endpoint.describe_endpoint("churn").version == 2  # type: ignore[union-attr]

    answer = handlers.on_model_package_state_change(decided_in_sagemaker(2, "Rejected"))

    assert answer == {"project": "churn", "version": 2, "rolled_back_to": 1}
    assert ports.endpoint.describe_endpoint("churn").version == 1  # type: ignore[union-attr]
    assert ports.registry.get_aliases("churn") == {"champion": 1}
    assert ports.registry.get_version("churn", 2).approval_status is ApprovalStatus.REJECTED
    # v1 is the only approved version left: rejecting it is refused, and it keeps serving.
    refused = handlers.on_model_package_state_change(decided_in_sagemaker(1, "Rejected"))
    assert refused["deployed"] is False and "no earlier approved version" in refused["reason"]
    assert ports.endpoint.describe_endpoint("churn").version == 1  # type: ignore[union-attr]
