"""The reconciler on moto: a run whose pipeline job ended with no state-change event handled
is finished on the schedule exactly as the event would have finished it; a run whose job is
still running, or ended a moment ago, is left alone; the age of the oldest active run goes
out as the metric the template's stuck-run alarm watches."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from conveyor.aws.clients import client
from tests.integration.aws.lambda_world import (
    CHURN,
    lambda_env_fixture,  # noqa: F401 (the lambda_env fixture)
    load_event,
    run_pipeline_job_as_sagemaker,
    upload,
)
from tests.integration.aws.sagemaker_fakes import FakeUpdateEndpointClient, clients_with
from tests.integration.aws.test_handlers_pipeline import job_event

SCHEDULE = {"time": "2026-12-07T16:00:00Z"}


def sagemaker_says(job_name: str, status: str, *, ended_ago: timedelta | None = None) -> None:
    """SageMaker's side of a job, which moto does not play (it completes every job at once):
    the job's status as DescribeTrainingJob reports it, and when it ended."""
    from moto.sagemaker.models import sagemaker_backends

    from conveyor.types import utcnow

    job = sagemaker_backends["123456789012"]["us-east-1"].training_jobs[job_name]
    job.training_job_status = job.secondary_status = status
    if status == "Failed":
        job.failure_reason = "AlgorithmError: the instance ran out of memory"
    job.training_end_time = None if ended_ago is None else utcnow() - ended_ago


def emitted(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith('{"_aws"')]


def test_a_run_whose_job_completed_with_no_event_is_finished_by_the_reconciler(
    lambda_env: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from conveyor.aws import handlers, reconcile, runtime
    from conveyor.pipeline.runs import RunStore
    from conveyor.projects import create_project

    monkeypatch.setenv("CONVEYOR_AWS_AUTOSCALING_MAX_INSTANCES", "3")  # the template's parameter
    runtime.reset()
    ports = runtime.ports()
    ports.endpoint.clients = clients_with(sagemaker=FakeUpdateEndpointClient())  # type: ignore[attr-defined]
    create_project(ports.table, "churn", target="churned")
    runs = RunStore(ports.table)
    [started] = handlers.on_upload(upload("churn/jan.csv", CHURN.read_bytes()))["runs"]
    done = runs.get(started["run_id"])
    assert run_pipeline_job_as_sagemaker(done.job_name, lambda_env / "ml") == 0
    sagemaker_says(done.job_name, "Completed", ended_ago=timedelta(minutes=10))
    # A second upload, its job still running.
    [other] = handlers.on_upload(upload("churn/feb.csv", CHURN.read_bytes() + b"\n"))["runs"]
    running = runs.get(other["run_id"])
    sagemaker_says(running.job_name, "InProgress")
    assert runs.get(done.run_id).state.value == "EVALUATING"  # and no event comes

    capsys.readouterr()
    swept = handlers.reconcile_runs(load_event("scheduled_event", **SCHEDULE))

    [finished] = swept["finished"]
    assert finished["run_id"] == done.run_id
    assert finished["state"] == "DEPLOYED" and finished["model_version"] == 1
    sagemaker = client("sagemaker")
    packages = sagemaker.list_model_packages(ModelPackageGroupName="conveyor-churn")
    assert [p["ModelApprovalStatus"] for p in packages["ModelPackageSummaryList"]] == ["Approved"]
    assert sagemaker.describe_endpoint(EndpointName="conveyor-churn")["EndpointStatus"] == (
        "InService"
    )
    # The new endpoint scales with its traffic (applied again on each pass: a no-op).
    assert swept["autoscaled"] == ["churn"]
    [target] = client("application-autoscaling").describe_scalable_targets(
        ServiceNamespace="sagemaker"
    )["ScalableTargets"]
    assert target["ResourceId"] == "endpoint/conveyor-churn/variant/AllTraffic"
    assert target["MaxCapacity"] == 3
    # What the event's handler emits for a run it ends, and the age of what is left.
    documents = emitted(capsys.readouterr().out)
    assert {d["Stage"] for d in documents if "StageDuration" in d} == {
        "preprocess",
        "train",
        "evaluate",
    }
    [ages] = [d for d in documents if reconcile.OLDEST_ACTIVE_RUN_AGE in d]
    assert ages["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "ConveyorTest"
    assert ages["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [[]]
    assert ages[reconcile.ACTIVE_RUNS] == 1
    assert 0 < ages[reconcile.OLDEST_ACTIVE_RUN_AGE] < 60
    assert swept["oldest_active_run_seconds"] == ages[reconcile.OLDEST_ACTIVE_RUN_AGE]

    # The run in progress is left alone.
    assert swept["waiting"] == [running.run_id]
    assert runs.get(running.run_id).state.value == "PREPROCESSING"

    # Again, then the late event: nothing happens twice.
    again = handlers.reconcile_runs(load_event("scheduled_event", **SCHEDULE))
    assert again["finished"] == [] and again["waiting"] == [running.run_id]
    assert handlers.on_training_job_state_change(job_event(done, "Completed")) == finished
    packages = sagemaker.list_model_packages(ModelPackageGroupName="conveyor-churn")
    assert len(packages["ModelPackageSummaryList"]) == 1


def test_a_failed_job_with_no_event_fails_its_run_and_a_job_just_ended_waits_for_its_event(
    lambda_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from conveyor.aws import handlers, reconcile, runtime
    from conveyor.pipeline.runs import RunStore
    from conveyor.projects import create_project

    ports = runtime.ports()
    create_project(ports.table, "churn", target="churned")
    runs = RunStore(ports.table)
    [first] = handlers.on_upload(upload("churn/jan.csv", CHURN.read_bytes()))["runs"]
    [second] = handlers.on_upload(upload("churn/feb.csv", CHURN.read_bytes() + b"\n"))["runs"]
    failed, recent = runs.get(first["run_id"]), runs.get(second["run_id"])
    sagemaker_says(failed.job_name, "Failed", ended_ago=timedelta(hours=2))
    sagemaker_says(recent.job_name, "Failed", ended_ago=timedelta(seconds=30))

    capsys.readouterr()
    swept = handlers.reconcile_runs(load_event("scheduled_event", **SCHEDULE))

    assert [f["run_id"] for f in swept["finished"]] == [failed.run_id]
    assert runs.get(failed.run_id).failure_reason == (
        f"training job {failed.job_name} failed: AlgorithmError: the instance ran out of memory"
    )
    assert swept["waiting"] == [recent.run_id]
    assert runs.get(recent.run_id).state.value == "PREPROCESSING"
    [ages] = [d for d in emitted(capsys.readouterr().out) if reconcile.ACTIVE_RUNS in d]
    assert ages[reconcile.ACTIVE_RUNS] == 1


def test_the_stuck_run_alarm_watches_the_metric_the_reconciler_emits_on_its_schedule() -> None:
    from conveyor.aws import reconcile
    from tests.integration.aws.iam_policies import expanded_template

    resources = expanded_template()["Resources"]
    alarm = resources["StuckRunAlarm"]["Properties"]
    assert alarm["MetricName"] == reconcile.OLDEST_ACTIVE_RUN_AGE
    assert alarm["Namespace"] == {"Ref": "MetricsNamespace"}
    assert "Dimensions" not in alarm  # emitted with none
    assert alarm["Threshold"] == reconcile.STUCK_AFTER_SECONDS
    assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
    function = resources["ReconcileFunction"]["Properties"]
    assert function["Handler"] == "conveyor.aws.handlers.reconcile_runs"
    rules = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::Events::Rule"
        and r["Properties"].get("ScheduleExpression") == {"Ref": "ReconcileSchedule"}
    ]
    [rule] = rules
    assert rule["Targets"][0]["Arn"] == {"Fn::GetAtt": ["ReconcileFunction", "Arn"]}
