"""``conveyor aws teardown`` on moto: what the pipeline made at run time for the stack's
projects (endpoint, endpoint config, model, model package group and packages, alarms) is
listed, deleted after a confirmation, and found no more; another stack's endpoint, model
package group and alarms (another name prefix) and another project's alarm stay."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from conveyor.aws.clients import client
from tests.e2e.conftest import CONVEYOR
from tests.integration.aws.lambda_world import (
    aws_client,
    deploy_a_version,
    lambda_env_fixture,  # noqa: F401 (the lambda_env fixture)
    served_env_fixture,  # noqa: F401 (the served_env fixture)
)
from tests.integration.aws.sagemaker_fakes import FakeModelPackageDeleteClient, clients_with

IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/conveyor-inference:test"


def an_endpoint(name: str) -> None:
    """An endpoint with its model and config, as a deploy leaves them (or another stack)."""
    sagemaker = aws_client("sagemaker")
    sagemaker.create_model(
        ModelName=f"{name}-v1-abcdef12",
        PrimaryContainer={"Image": IMAGE},
        ExecutionRoleArn="arn:aws:iam::123456789012:role/conveyor-sagemaker",
    )
    sagemaker.create_endpoint_config(
        EndpointConfigName=f"{name}-v1-abcdef12-c123456",
        ProductionVariants=[
            {
                "VariantName": "AllTraffic",
                "ModelName": f"{name}-v1-abcdef12",
                "InstanceType": "ml.m5.large",
                "InitialInstanceCount": 1,
            }
        ],
    )
    sagemaker.create_endpoint(EndpointName=name, EndpointConfigName=f"{name}-v1-abcdef12-c123456")


def an_alarm(project: str, rule: str, prefix: str = "conveyor") -> None:
    """A project's alarm as conveyor's alarm sync puts it (under a stack's name prefix)."""
    from conveyor.metrics.alarm_rules import AlarmMetric, AlarmRule
    from conveyor.metrics.cloudwatch_alarm_rules import put_metric_alarm_request

    watched = AlarmRule(rule, project, AlarmMetric.ERROR_RATE, ">", 0.05)
    request = put_metric_alarm_request(
        watched, namespace="ConveyorTest", alarm_actions=[], name_prefix=prefix
    )
    aws_client("cloudwatch").put_metric_alarm(**request)


def a_running_job(name: str) -> None:
    """A training job SageMaker is running (moto completes every job at once)."""
    from moto.sagemaker.models import sagemaker_backends

    aws_client("sagemaker").create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": IMAGE, "TrainingInputMode": "File"},
        RoleArn="arn:aws:iam::123456789012:role/conveyor-sagemaker",
        OutputDataConfig={"S3OutputPath": "s3://conveyor-123456789012-models/x"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 10},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
    )
    job = sagemaker_backends["123456789012"]["us-east-1"].training_jobs[name]
    job.training_job_status = "InProgress"


def alarm_names() -> list[str]:
    alarms = aws_client("cloudwatch").describe_alarms()["MetricAlarms"]
    return sorted(a["AlarmName"] for a in alarms)


def endpoint_names() -> list[str]:
    return sorted(e["EndpointName"] for e in aws_client("sagemaker").list_endpoints()["Endpoints"])


def test_what_a_deploy_made_is_found_deleted_and_found_no_more(lambda_env: Path) -> None:
    from conveyor.aws import runtime
    from conveyor.aws.teardown import delete_leftovers, find_leftovers
    from conveyor.projects import create_project

    deploy_a_version("churn")
    create_project(runtime.ports().table, "fraud", target="y")  # nothing deployed
    an_alarm("churn", "error-rate")
    an_alarm("elsewhere", "error-rate")  # not a project of this stack
    an_alarm("churn", "error-rate", prefix="acme")  # another stack's
    an_endpoint("acme-churn")  # another stack's
    aws_client("sagemaker").create_model_package_group(ModelPackageGroupName="acme-churn")
    a_running_job("conveyor-churn-20261207t150000-abc")
    clients = clients_with(sagemaker=FakeModelPackageDeleteClient())  # moto lacks the deletes

    found = find_leftovers(clients, prefix="conveyor", projects=["churn", "fraud"])

    sagemaker = client("sagemaker")
    [package] = sagemaker.list_model_packages(ModelPackageGroupName="conveyor-churn")[
        "ModelPackageSummaryList"
    ]
    live = sagemaker.describe_endpoint(EndpointName="conveyor-churn")
    assert found.to_dict() == {
        "endpoints": ["conveyor-churn"],
        "endpoint_configs": [live["EndpointConfigName"]],
        "models": [sagemaker.list_models(NameContains="conveyor")["Models"][0]["ModelName"]],
        "model_packages": [package["ModelPackageArn"]],
        "model_package_groups": ["conveyor-churn"],
        "alarms": ["conveyor/churn/error-rate"],
        "running_training_jobs": ["conveyor-churn-20261207t150000-abc"],  # listed, not deleted
    }
    assert found.deletable() == 6

    deleted = delete_leftovers(clients, found)

    assert deleted.to_dict() == {**found.to_dict(), "running_training_jobs": []}
    again = find_leftovers(clients, prefix="conveyor", projects=["churn", "fraud"])
    assert again.deletable() == 0
    assert endpoint_names() == ["acme-churn"]
    assert alarm_names() == ["acme/churn/error-rate", "conveyor/elsewhere/error-rate"]
    groups = sagemaker.list_model_package_groups()["ModelPackageGroupSummaryList"]
    assert [g["ModelPackageGroupName"] for g in groups] == ["acme-churn"]


def conveyor(env: dict[str, str], *args: str, answer: str = "") -> subprocess.CompletedProcess[str]:
    command = [str(CONVEYOR), "aws", "teardown", *args]
    return subprocess.run(command, env=env, input=answer, capture_output=True, text=True)


def test_the_command_lists_with_dry_run_asks_and_deletes_with_yes(
    served_env: dict[str, Any],
) -> None:
    from conveyor.aws import runtime
    from conveyor.projects import create_project

    create_project(runtime.ports().table, "churn", target="churned")
    an_endpoint("conveyor-churn")
    an_endpoint("acme-churn")
    an_alarm("churn", "latency-p99")

    listed = conveyor(served_env, "--dry-run", "--json")
    assert listed.returncode == 0, listed.stderr
    plan = json.loads(listed.stdout)
    assert plan["deleted"] is False and plan["projects"] == ["churn"]
    assert plan["endpoints"] == ["conveyor-churn"]
    assert plan["models"] == ["conveyor-churn-v1-abcdef12"]
    assert plan["alarms"] == ["conveyor/churn/latency-p99"]

    declined = conveyor(served_env, answer="n\n")
    assert declined.returncode != 0
    assert "nothing deleted" in declined.stderr
    assert "conveyor-churn" in declined.stdout  # what it would have deleted, shown first
    assert endpoint_names() == ["acme-churn", "conveyor-churn"]

    done = conveyor(served_env, "--yes", "--json")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["deleted"] is True
    assert endpoint_names() == ["acme-churn"]
    assert alarm_names() == []
    models = aws_client("sagemaker").list_models()["Models"]
    assert [m["ModelName"] for m in models] == ["acme-churn-v1-abcdef12"]
