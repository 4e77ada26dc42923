"""The SageMaker endpoint as SageMaker sees it (moto): the model, the endpoint config, the
blue/green update and invocations. moto lacks UpdateEndpoint and answers InvokeEndpoint
with a fixed body, so those two go through named fakes at the client boundary."""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

import pytest

from conveyor.aws.clients import client
from conveyor.aws.sagemaker_common import sagemaker_name
from conveyor.config import AwsSettings
from conveyor.endpoint.sagemaker import SageMakerEndpoint
from conveyor.errors import Conflict, IntegrityError
from conveyor.metrics.alarm_store import alarm_history
from conveyor.model.content_digest import archive_digests
from conveyor.monitoring.integrity import INTEGRITY_ALARM
from conveyor.storage import BUCKETS
from conveyor.storage.s3 import S3ObjectStore
from conveyor.tables.dynamodb import DynamoDbTable, create_table
from tests.integration.aws.iam_calls import verdict
from tests.integration.aws.iam_policies import INFERENCE_ROLE, principal_statements
from tests.integration.aws.sagemaker_fakes import (
    FakeModelErrorRuntimeClient,
    FakeUpdateEndpointClient,
    clients_with,
)
from tests.integration.contracts.test_endpoint import artifact, deploy, model_tarball, sha

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/conveyor-inference:0.1.0"
ROLE = "arn:aws:iam::123456789012:role/acme-sagemaker"


@pytest.fixture
def fake() -> FakeUpdateEndpointClient:
    return FakeUpdateEndpointClient()


@pytest.fixture
def buckets(aws: None) -> dict[str, str]:
    create_table("conveyor")
    names = {bucket: f"acme-{bucket}" for bucket in BUCKETS}
    for name in names.values():  # the endpoint reads the artifacts it deploys
        client("s3").create_bucket(Bucket=name)
    return names


def make_endpoint(buckets: dict[str, str], clients: Any, **settings: Any) -> SageMakerEndpoint:
    return SageMakerEndpoint(
        table=DynamoDbTable("conveyor"),
        store=S3ObjectStore(buckets),
        settings=AwsSettings(inference_image=IMAGE, inference_role_arn=ROLE, **settings),
        clients=clients,
    )


@pytest.fixture
def endpoint(buckets: dict[str, str], fake: FakeUpdateEndpointClient) -> SageMakerEndpoint:
    return make_endpoint(buckets, clients_with(sagemaker=fake))


def live(name: str = "conveyor-churn") -> dict[str, Any]:
    return dict(client("sagemaker").describe_endpoint(EndpointName=name))


def config_of(name: str) -> dict[str, Any]:
    return dict(client("sagemaker").describe_endpoint_config(EndpointConfigName=name))


def test_the_first_deploy_creates_model_config_and_endpoint(
    endpoint: SageMakerEndpoint, fake: FakeUpdateEndpointClient
) -> None:
    deploy(endpoint, 1)
    model_name = f"conveyor-churn-v1-{sha(1)[:8]}"
    model = client("sagemaker").describe_model(ModelName=model_name)
    assert model["PrimaryContainer"]["Image"] == IMAGE
    assert model["PrimaryContainer"]["ModelDataUrl"] == "s3://acme-models/churn/run-1/model.tar.gz"
    # What the inference container names in its answers, and the content it must find in
    # the folder SageMaker unpacks (the archive's, as the deploy read it).
    archive = model_tarball(1)
    assert model["PrimaryContainer"]["Environment"] == {
        "CONVEYOR_SERVE_PROJECT": "churn",
        "CONVEYOR_MODEL_VERSION": "1",
        "CONVEYOR_MODEL_CONTENT_SHA256": archive_digests(io.BytesIO(archive))[1],
    }
    assert model["ExecutionRoleArn"] == ROLE
    served = live()
    (variant,) = config_of(served["EndpointConfigName"])["ProductionVariants"]
    assert variant == {
        "VariantName": "AllTraffic",
        "ModelName": model_name,
        "InstanceType": "ml.m5.large",
        "InitialInstanceCount": 1,
    }
    assert endpoint.status("churn").status == "InService"
    assert endpoint.status("churn").endpoint_config == served["EndpointConfigName"]
    assert endpoint.endpoint_config_name("churn") == served["EndpointConfigName"]
    assert fake.update_requests == []


def test_an_artifact_changed_after_the_registry_hashed_it_is_not_deployed(
    endpoint: SageMakerEndpoint,
) -> None:
    ref = artifact(1)
    endpoint.store.put(ref.bucket, ref.key, model_tarball(2))  # other bytes under its key
    with pytest.raises(IntegrityError, match="was tampered with or damaged") as raised:
        endpoint.update_endpoint("churn", 1, ref, sha(1))
    assert sha(1) in raised.value.message
    assert client("sagemaker").list_models()["Models"] == []  # SageMaker was asked nothing
    assert endpoint.describe_endpoint("churn") is None
    # The same alarm as every other refusal of a changed artifact.
    [alarm] = alarm_history(endpoint.table, "churn", alarm=INTEGRITY_ALARM)
    assert alarm.new_state == "ALARM" and alarm.details["refused_by"] == "deploy"
    assert alarm.details["found_sha256"] == sha(2)


def test_an_artifact_that_is_not_an_archive_is_not_deployed(endpoint: SageMakerEndpoint) -> None:
    ref = artifact(1)
    data = b"not a model archive"
    endpoint.store.put(ref.bucket, ref.key, data)
    with pytest.raises(IntegrityError, match="is not a gzipped tar archive"):
        endpoint.update_endpoint("churn", 1, ref, hashlib.sha256(data).hexdigest())
    assert client("sagemaker").list_models()["Models"] == []


def test_a_second_deploy_is_a_blue_green_update(
    endpoint: SageMakerEndpoint, fake: FakeUpdateEndpointClient
) -> None:
    deploy(endpoint, 1)
    deploy(endpoint, 2)
    (request,) = fake.update_requests
    assert request["EndpointName"] == "conveyor-churn"
    assert request["EndpointConfigName"] == live()["EndpointConfigName"]
    assert config_of(request["EndpointConfigName"])["ProductionVariants"][0]["ModelName"] == (
        f"conveyor-churn-v2-{sha(2)[:8]}"
    )
    policy = {
        "BlueGreenUpdatePolicy": {
            # The baking period: SageMaker watches the rollback alarms 10 minutes on the new
            # fleet (0 was no bake at all), then keeps the old one 10 minutes more.
            "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 600},
            "TerminationWaitInSeconds": 600,
            "MaximumExecutionTimeoutInSeconds": 3600,
        }
    }
    assert request["DeploymentConfig"] == policy
    # AWS: the timeout must be larger than the bake and the wait together.
    update = policy["BlueGreenUpdatePolicy"]
    assert update["MaximumExecutionTimeoutInSeconds"] > (
        update["TerminationWaitInSeconds"]
        + update["TrafficRoutingConfiguration"]["WaitIntervalInSeconds"]
    )


def test_the_projects_serving_alarms_roll_a_bad_update_back(
    endpoint: SageMakerEndpoint, fake: FakeUpdateEndpointClient
) -> None:
    client("cloudwatch").put_metric_alarm(
        AlarmName="conveyor/churn/error-rate",
        Namespace="Conveyor",
        MetricName="Errors5xx",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=3,
        Threshold=1.0,
        ComparisonOperator="GreaterThanThreshold",
    )
    deploy(endpoint, 1)
    deploy(endpoint, 2)
    (request,) = fake.update_requests
    assert request["DeploymentConfig"]["AutoRollbackConfiguration"] == {
        "Alarms": [{"AlarmName": "conveyor/churn/error-rate"}]
    }
    # AWS documents that the model's execution role needs cloudwatch:DescribeAlarms on the
    # rollback alarms, or the rollback does not work: the template's inference role has it.
    role = principal_statements()[INFERENCE_ROLE]
    for alarm in request["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]:
        arn = f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{alarm['AlarmName']}"
        assert verdict(role, "cloudwatch:DescribeAlarms", arn, {}), alarm
    assert not verdict(
        role, "cloudwatch:DescribeAlarms", "arn:aws:cloudwatch:us-east-1:123456789012:alarm:x", {}
    )


def test_rollback_updates_the_endpoint_back_to_the_previous_config(
    endpoint: SageMakerEndpoint, fake: FakeUpdateEndpointClient
) -> None:
    deploy(endpoint, 1)
    first_config = live()["EndpointConfigName"]
    deploy(endpoint, 2)
    rolled = endpoint.rollback("churn")
    assert rolled.version == 1
    assert [r["EndpointConfigName"] for r in fake.update_requests][-1] == first_config
    assert live()["EndpointConfigName"] == first_config
    assert endpoint.endpoint_config_name("churn") == first_config


def test_deploying_the_served_version_again_calls_sagemaker_for_nothing(
    endpoint: SageMakerEndpoint, fake: FakeUpdateEndpointClient
) -> None:
    deploy(endpoint, 1)
    deploy(endpoint, 2)
    deploy(endpoint, 2)
    assert len(fake.update_requests) == 1


def test_serverless_endpoints_have_a_serverless_variant_and_no_deployment_policy(
    buckets: dict[str, str], fake: FakeUpdateEndpointClient
) -> None:
    endpoint = make_endpoint(
        buckets,
        clients_with(sagemaker=fake),
        serverless=True,
        serverless_memory_mb=3072,
        serverless_max_concurrency=8,
    )
    deploy(endpoint, 1)
    (variant,) = config_of(live()["EndpointConfigName"])["ProductionVariants"]
    assert variant["ServerlessConfig"] == {"MemorySizeInMB": 3072, "MaxConcurrency": 8}
    assert "InstanceType" not in variant
    deploy(endpoint, 2)
    (request,) = fake.update_requests
    assert "DeploymentConfig" not in request


def test_a_deploy_while_the_endpoint_is_updating_is_a_conflict(buckets: dict[str, str]) -> None:
    fake = FakeUpdateEndpointClient(leave_updating=True)
    endpoint = make_endpoint(buckets, clients_with(sagemaker=fake))
    deploy(endpoint, 1)
    deploy(endpoint, 2)  # SageMaker is still bringing up the new fleet
    with pytest.raises(Conflict, match="in-progress"):
        deploy(endpoint, 3)
    assert endpoint.describe_endpoint("churn").version == 2  # type: ignore[union-attr]
    assert endpoint.status("churn").status == "Updating"


def test_invoke_returns_the_endpoints_answer(endpoint: SageMakerEndpoint) -> None:
    deploy(endpoint, 1)
    status, body, _ = endpoint.invoke("churn", b'{"rows": [{"age": 3}]}', "application/json")
    assert status == 200
    assert body == b"body"  # moto's fixed answer


def test_a_models_4xx_answer_stays_a_4xx(buckets: dict[str, str]) -> None:
    message = json.dumps({"error": "invalid_input", "message": "column 'age' is missing"})
    runtime = FakeModelErrorRuntimeClient(400, message)
    endpoint = make_endpoint(buckets, clients_with(sagemaker_runtime=runtime))
    status, body, content_type = endpoint.invoke("churn", b'{"rows": [{}]}', "application/json")
    assert (status, content_type) == (400, "application/json")
    assert json.loads(body)["message"] == "column 'age' is missing"
    (request,) = runtime.requests
    assert request["EndpointName"] == "conveyor-churn"
    assert request["ContentType"] == "application/json"


def test_long_project_names_give_valid_distinct_sagemaker_names() -> None:
    project = "a" * 59  # with "-one"/"-two": the longest project names conveyor takes
    first = sagemaker_name("conveyor", f"{project}-one", "v12", "deadbeef")
    second = sagemaker_name("conveyor", f"{project}-two", "v12", "deadbeef")
    assert len(first) == len(second) == 63
    assert first != second
    assert first.startswith("conveyor-aaaa")


def test_autoscaling_tracks_invocations_per_instance_when_a_maximum_is_set(
    buckets: dict[str, str], fake: FakeUpdateEndpointClient
) -> None:
    endpoint = make_endpoint(
        buckets,
        clients_with(sagemaker=fake),
        inference_instance_count=2,
        autoscaling_max_instances=6,
        autoscaling_target_invocations=250,
    )
    deploy(endpoint, 1)
    autoscaling = client("application-autoscaling")
    [target] = autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")[
        "ScalableTargets"
    ]
    assert target["ResourceId"] == "endpoint/conveyor-churn/variant/AllTraffic"
    assert target["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    assert (target["MinCapacity"], target["MaxCapacity"]) == (2, 6)
    [policy] = autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker")[
        "ScalingPolicies"
    ]
    tracking = policy["TargetTrackingScalingPolicyConfiguration"]
    assert policy["PolicyType"] == "TargetTrackingScaling"
    assert tracking["TargetValue"] == 250.0
    assert tracking["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
    }
    # A second deploy (a new model in the same variant) keeps one target and one policy.
    deploy(endpoint, 2)
    assert (
        len(autoscaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"])
        == 1
    )
    assert (
        len(autoscaling.describe_scaling_policies(ServiceNamespace="sagemaker")["ScalingPolicies"])
        == 1
    )


@pytest.mark.parametrize("settings", [{}, {"serverless": True, "autoscaling_max_instances": 4}])
def test_no_autoscaling_without_a_maximum_or_on_serverless_endpoints(
    buckets: dict[str, str], fake: FakeUpdateEndpointClient, settings: dict[str, Any]
) -> None:
    endpoint = make_endpoint(buckets, clients_with(sagemaker=fake), **settings)
    deploy(endpoint, 1)
    assert endpoint.apply_autoscaling("churn") is False
    targets = client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="sagemaker"
    )
    assert targets["ScalableTargets"] == []


def test_the_template_grants_autoscaling_to_the_functions_that_deploy() -> None:
    from tests.integration.aws.iam_calls import requests, verdict
    from tests.integration.aws.iam_policies import principal_statements

    endpoint = make_endpoint({}, clients_with(), autoscaling_max_instances=3)
    register, policy = endpoint.autoscaling_requests("churn") or ({}, {})
    calls = [("RegisterScalableTarget", register), ("PutScalingPolicy", policy)]
    statements = principal_statements()
    for function in (
        "OnTrainingJobStateChangeFunction",
        "OnModelPackageStateChangeFunction",
        "ReconcileFunction",
    ):
        for operation, params in calls:
            for action, resource, conditions in requests(
                "application-autoscaling", operation, params
            ):
                assert verdict(statements[function], action, resource, conditions), function
    # ... and only for SageMaker variants.
    other = {**register, "ServiceNamespace": "ecs", "ScalableDimension": "ecs:service:DesiredCount"}
    [(action, resource, conditions)] = requests(
        "application-autoscaling", "RegisterScalableTarget", other
    )
    assert not verdict(statements["ReconcileFunction"], action, resource, conditions)
