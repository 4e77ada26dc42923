"""Endpoint autoscaling on moto, from the handlers that deploy: with the template's
EndpointAutoscalingMaxInstances set, the endpoint a job's event deploys and the version a
person approves are registered with Application Auto Scaling in the same invocation (the
reconciler's pass, in test_handlers_reconcile.py, registers one that was not InService yet).
Both are flow tests of test_iam.py: the deploy functions' autoscaling calls are checked
against their roles."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conveyor.aws.clients import client
from tests.integration.aws.lambda_world import (
    CHURN,
    decided_in_sagemaker,
    lambda_env_fixture,  # noqa: F401 (the lambda_env fixture)
    register_a_version,
    run_pipeline_job_as_sagemaker,
    upload,
)
from tests.integration.aws.sagemaker_fakes import FakeUpdateEndpointClient, clients_with
from tests.integration.aws.test_handlers_pipeline import job_event

VARIANT = "endpoint/conveyor-churn/variant/AllTraffic"


@pytest.fixture(autouse=True)
def _autoscaling_on(lambda_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from conveyor.aws import runtime

    monkeypatch.setenv("CONVEYOR_AWS_AUTOSCALING_MAX_INSTANCES", "3")  # the template's parameter
    runtime.reset()
    runtime.ports().endpoint.clients = clients_with(  # type: ignore[attr-defined]
        sagemaker=FakeUpdateEndpointClient()
    )


def scaling() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Application Auto Scaling's scalable targets and scaling policies of SageMaker."""
    autoscaling = client("application-autoscaling")
    targets = autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")
    policies = autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker")
    return targets["ScalableTargets"], policies["ScalingPolicies"]


def test_the_endpoint_a_job_event_deploys_scales_from_its_first_version(
    lambda_env: Path,
) -> None:
    from conveyor.aws import handlers, runtime
    from conveyor.pipeline.runs import RunStore
    from conveyor.projects import create_project

    ports = runtime.ports()
    create_project(ports.table, "churn", target="churned")
    [started] = handlers.on_upload(upload("churn/jan.csv", CHURN.read_bytes()))["runs"]
    run = RunStore(ports.table).get(started["run_id"])
    assert run_pipeline_job_as_sagemaker(run.job_name, lambda_env / "ml") == 0
    assert scaling() == ([], [])

    completed = handlers.on_training_job_state_change(job_event(run, "Completed"))

    assert completed["state"] == "DEPLOYED"
    [target], [policy] = scaling()
    assert target["ResourceId"] == VARIANT
    assert (target["MinCapacity"], target["MaxCapacity"]) == (1, 3)
    assert policy["ResourceId"] == VARIANT
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert tracking["PredefinedMetricSpecification"]["PredefinedMetricType"] == (
        "SageMakerVariantInvocationsPerInstance"
    )
    assert tracking["TargetValue"] == 100


def test_a_version_a_person_approves_is_served_by_a_scaled_endpoint(lambda_env: Path) -> None:
    from conveyor.aws import handlers

    register_a_version("churn")

    answer = handlers.on_model_package_state_change(decided_in_sagemaker(1, "Approved"))

    assert answer["deployed"] is True
    [target], [policy] = scaling()
    assert target["ResourceId"] == policy["ResourceId"] == VARIANT
