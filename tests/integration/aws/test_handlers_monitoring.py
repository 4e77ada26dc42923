"""The handlers of job endings, approvals, the drift schedule and alarms, with AWS's payloads
on moto: what ends a run, what starts a job (its request as SageMaker receives it), what is
ignored, and that a second delivery starts nothing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from conveyor.aws.clients import client
from tests.integration.aws.lambda_world import (
    CHURN,
    RecordingSageMaker,
    deploy_a_version,
    lambda_env_fixture,  # noqa: F401 (the lambda_env fixture)
    load_event,
    register_a_version,
    run_job_as_sagemaker,
    upload,
)
from tests.integration.aws.sagemaker_fakes import clients_with


class FakeFailedTrainingJobClient(RecordingSageMaker):
    """The moto SageMaker client, whose training jobs SageMaker ended ``Failed`` with
    ``reason`` (moto completes every job at once)."""

    def __init__(self, reason: str) -> None:
        super().__init__()
        self.reason = reason

    def describe_training_job(self, **request: Any) -> dict[str, Any]:
        found: dict[str, Any] = client("sagemaker").describe_training_job(**request)
        return {
            **found,
            "TrainingJobStatus": "Failed",
            "SecondaryStatus": "Failed",
            "FailureReason": self.reason,
        }


def job_event(job_name: str, status: str, **hyperparameters: str) -> dict[str, Any]:
    event = load_event(
        "sagemaker_training_job_state_change",
        job_name=job_name,
        status=status,
        failure_reason="",
        run_id=hyperparameters.get("run_id", ""),
        project=hyperparameters.get("project", ""),
    )
    del event["detail"]["FailureReason"]
    event["detail"]["HyperParameters"] = hyperparameters
    return event


def test_a_job_killed_while_preprocessing_fails_its_run_with_sagemakers_reason(
    lambda_env: Path,
) -> None:
    from conveyor.aws import handlers, runtime
    from conveyor.pipeline.runs import RunStore
    from conveyor.projects import create_project

    ports = runtime.ports()
    reason = "OutOfMemoryError: Please use an instance type with more memory"
    ports.jobs.clients = clients_with(  # type: ignore[attr-defined]
        sagemaker=FakeFailedTrainingJobClient(reason)
    )
    create_project(ports.table, "churn", target="churned")
    started = handlers.on_upload(upload("churn/big.csv", b"age,churned\n1,no\n2,yes\n"))
    run = RunStore(ports.table).get(started["runs"][0]["run_id"])
    assert run.state.value == "PREPROCESSING"

    event = job_event(run.job_name, "Failed", run_id=run.run_id, project="churn")
    ended = handlers.on_training_job_state_change(event)
    message = f"training job {run.job_name} failed: {reason}"
    assert ended["state"] == "FAILED" and ended["failure_reason"] == message
    assert RunStore(ports.table).get(run.run_id).failure_reason == message
    # EventBridge delivers at least once: the run stays as it is.
    assert handlers.on_training_job_state_change(event) == ended


def test_another_stacks_model_package_group_is_not_this_stacks_project(lambda_env: Path) -> None:
    """Groups are <ProjectName>-<project>: another stack's approval of its own churn (or a
    group named after the project alone) deploys nothing here."""
    from conveyor.aws import handlers, runtime
    from conveyor.projects import create_project

    create_project(runtime.ports().table, "churn", target="churned")
    for group in ("other-churn", "churn"):
        event = load_event(
            "sagemaker_model_package_state_change", group=group, approval_status="Approved"
        )
        answer = handlers.on_model_package_state_change(event)
        assert answer == {"ignored": f"model package group {group!r} is not a conveyor project"}


def test_events_that_are_not_conveyors_are_ignored(lambda_env: Path) -> None:
    from conveyor.aws import handlers

    in_progress = job_event("churn-20261201", "InProgress", run_id="r-1", project="churn")
    assert handlers.on_training_job_state_change(in_progress)["ignored"] == "status InProgress"
    strangers = job_event("someone-elses-job", "Completed")
    assert handlers.on_training_job_state_change(strangers)["ignored"] == "no run"
    rejected = load_event(
        "sagemaker_model_package_state_change", group="conveyor-churn", approval_status="Rejected"
    )
    assert "Rejected" in handlers.on_model_package_state_change(rejected)["ignored"]
    unknown = load_event(
        "sagemaker_model_package_state_change", group="nobody", approval_status="Approved"
    )
    assert "not a conveyor project" in handlers.on_model_package_state_change(unknown)["ignored"]
    not_ours = load_event(
        "cloudwatch_alarm_state_change",
        alarm_name="ServerCpuTooHigh",
        state="ALARM",
        project="churn",
        time="2026-12-01T16:30:00Z",
    )
    assert "not one of conveyor's" in handlers.on_alarm(not_ours)["ignored"]
    with pytest.raises(Exception, match="Scheduled Event"):
        handlers.drift_check(not_ours)


def test_the_schedule_starts_one_drift_job_per_deployed_project(lambda_env: Path) -> None:
    from conveyor.aws import handlers, runtime

    deploy_a_version("churn")
    recorder = RecordingSageMaker()
    runtime.ports().jobs.clients = clients_with(sagemaker=recorder)  # type: ignore[attr-defined]
    schedule = load_event("scheduled_event", time="2026-12-01T16:00:00Z")
    assert handlers.drift_check(schedule) == {"jobs": ["conveyor-churn-drift-20261201160000"]}
    request = recorder.created[0]
    assert request["Environment"]["CONVEYOR_ENTRYPOINT"] == "conveyor.aws.drift_job"
    hyperparameters = request["HyperParameters"]
    assert (hyperparameters["kind"], hyperparameters["project"]) == ("drift", "churn")
    assert hyperparameters["until"].startswith("2026-12-01T16:00:00")
    assert hyperparameters["since"].startswith("2026-12-01T15:00:00")  # an hour's window
    # The same schedule's event again starts nothing.
    assert handlers.drift_check(schedule) == {"jobs": []}
    assert len(recorder.created) == 1


def test_the_schedule_makes_the_projects_alarm_rules_cloudwatch_alarms(lambda_env: Path) -> None:
    from dataclasses import replace

    from conveyor.aws import handlers, runtime
    from conveyor.metrics.alarm_store import put_alarm
    from conveyor.monitoring.alarms.defaults import default_rules

    def alarms() -> dict[str, float]:
        found = client("cloudwatch").describe_alarms(AlarmNamePrefix="conveyor/churn/")
        return {a["AlarmName"]: a["Threshold"] for a in found["MetricAlarms"]}

    deploy_a_version("churn")
    ports = runtime.ports()
    ports.jobs.clients = clients_with(sagemaker=RecordingSageMaker())  # type: ignore[attr-defined]
    handlers.drift_check(load_event("scheduled_event", time="2026-12-01T16:00:00Z"))
    assert alarms() == {}  # no rules yet (the first drift job makes the defaults)

    rules = {rule.name: rule for rule in default_rules("churn", ports)}
    for rule in rules.values():
        put_alarm(ports.table, rule)
    handlers.drift_check(load_event("scheduled_event", time="2026-12-01T17:00:00Z"))
    assert sorted(alarms()) == sorted(f"conveyor/churn/{name}" for name in rules)

    put_alarm(ports.table, replace(rules["latency-p99"], threshold=750.0))  # a person's edit
    handlers.drift_check(load_event("scheduled_event", time="2026-12-01T18:00:00Z"))
    assert alarms()["conveyor/churn/latency-p99"] == 750.0


def test_the_drift_job_makes_the_default_alarm_rules(lambda_env: Path, tmp_path: Path) -> None:
    from conveyor.aws import handlers, runtime
    from conveyor.metrics.alarm_store import list_alarms
    from conveyor.monitoring.alarms.defaults import DEFAULT_NAMES

    deploy_a_version("churn")
    (job,) = handlers.drift_check(load_event("scheduled_event", time="2026-12-01T16:00:00Z"))[
        "jobs"
    ]
    run_job_as_sagemaker(job, tmp_path / "job", "conveyor.aws.drift_job")
    made = {status.rule.name for status in list_alarms(runtime.ports().table, "churn")}
    assert set(DEFAULT_NAMES) <= made


def test_a_finished_drift_job_becomes_the_metrics_the_alarm_watches(
    lambda_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from conveyor.aws import handlers, runtime
    from conveyor.monitoring.drift.check import DriftReport, save_drift_check
    from conveyor.types import from_iso

    checked = from_iso("2026-12-01T16:05:00+00:00")
    report = DriftReport(
        project="churn",
        checked_at=checked,
        window_start=from_iso("2026-12-01T15:00:00+00:00"),
        window_end=from_iso("2026-12-01T16:00:00+00:00"),
        model_version=1,
        records=500,
        rows=500,
        status="DRIFT",
        features={
            "age": {"verdict": "drift", "score": 0.4},
            "plan": {"verdict": "ok", "score": 0.01},
        },
        prediction={},
        evidently={},
        thresholds={},
    )
    save_drift_check(runtime.ports().table, report)  # what the drift job leaves
    event = job_event(
        "conveyor-churn-drift-20261201160000", "Completed", kind="drift", project="churn"
    )
    assert handlers.on_training_job_state_change(event) == {"project": "churn", "drift": "DRIFT"}
    document = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert document["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "ConveyorTest"
    assert (document["Project"], document["DriftStatus"], document["DriftedFeatures"]) == (
        "churn",
        1.0,
        1.0,
    )


def test_an_alarm_with_a_retrain_action_starts_one_retrain_job(lambda_env: Path) -> None:
    from conveyor.aws import handlers, runtime
    from conveyor.metrics.alarm_store import put_alarm
    from conveyor.monitoring.alarms.defaults import default_rules

    deploy_a_version("churn")
    ports = runtime.ports()
    for rule in default_rules("churn", ports):
        put_alarm(ports.table, rule)
    recorder = RecordingSageMaker()
    ports.jobs.clients = clients_with(sagemaker=recorder)  # type: ignore[attr-defined]

    def alarm(name: str, state: str = "ALARM") -> dict[str, Any]:
        return load_event(
            "cloudwatch_alarm_state_change",
            alarm_name=f"conveyor/churn/{name}",
            state=state,
            project="churn",
            time="2026-12-01T16:30:00Z",
        )

    started = handlers.on_alarm(alarm("drift"))
    assert started == {
        "project": "churn",
        "retrain": True,
        "job": "conveyor-churn-retrain-20261201163000",
    }
    request = recorder.created[0]
    assert request["Environment"]["CONVEYOR_ENTRYPOINT"] == "conveyor.aws.retrain_job"
    trigger = json.loads(request["HyperParameters"]["trigger"])
    assert (trigger["type"], trigger["alarm"]) == ("alarm", "drift")
    assert trigger["reason"].startswith("Threshold Crossed")
    assert request["HyperParameters"]["cooldown_seconds"] == "3600.0"

    assert handlers.on_alarm(alarm("drift"))["reason"] == "already started"
    assert handlers.on_alarm(alarm("latency-p99"))["reason"] == "the alarm has no retrain action"
    assert handlers.on_alarm(alarm("drift", "OK"))["retrain"] is False
    assert "no alarm" in handlers.on_alarm(alarm("deleted-rule"))["reason"]
    assert len(recorder.created) == 1


def test_a_version_a_person_approves_in_sagemaker_is_deployed(lambda_env: Path) -> None:
    from conveyor.aws import handlers, runtime
    from conveyor.types import ApprovalStatus

    version = register_a_version("churn")
    ports = runtime.ports()
    # The gate left it for a person: the floor was missed.
    ports.registry.update_approval_status(
        "churn",
        1,
        ApprovalStatus.PENDING,
        "roc_auc 0.8000 misses the floor 0.9000",
        gate={
            "status": "PendingManualApproval",
            "reason": "roc_auc 0.8000 misses the floor 0.9000",
        },
    )
    event = load_event(
        "sagemaker_model_package_state_change", group="conveyor-churn", approval_status="Approved"
    )
    sagemaker = client("sagemaker")
    (package,) = sagemaker.list_model_packages(ModelPackageGroupName="conveyor-churn")[
        "ModelPackageSummaryList"
    ]
    sagemaker.update_model_package(
        ModelPackageArn=package["ModelPackageArn"],
        ModelApprovalStatus="Approved",
        ApprovalDescription="reviewed by Ana: the floor is too strict for this quarter",
    )
    assert handlers.on_model_package_state_change(event) == {
        "project": "churn",
        "version": 1,
        "deployed": True,
    }
    assert ports.endpoint.describe_endpoint("churn").version == 1  # type: ignore[union-attr]
    assert sagemaker.describe_endpoint(EndpointName="conveyor-churn")["EndpointStatus"] == (
        "InService"
    )
    assert ports.registry.get_aliases("churn") == {"champion": 1}
    assert version.sha256  # the artifact's bytes were checked against it
    # Delivered again: served already.
    assert handlers.on_model_package_state_change(event)["deployed"] is False


def test_a_damaged_artifact_is_not_deployed(lambda_env: Path) -> None:
    from conveyor.aws import handlers, runtime

    version = register_a_version("churn")
    ports = runtime.ports()
    ports.store.put(version.artifact.bucket, version.artifact.key, b"other bytes")
    sagemaker = client("sagemaker")
    (package,) = sagemaker.list_model_packages(ModelPackageGroupName="conveyor-churn")[
        "ModelPackageSummaryList"
    ]
    sagemaker.update_model_package(
        ModelPackageArn=package["ModelPackageArn"], ModelApprovalStatus="Approved"
    )
    event = load_event(
        "sagemaker_model_package_state_change", group="conveyor-churn", approval_status="Approved"
    )
    refused = handlers.on_model_package_state_change(event)
    assert refused["deployed"] is False
    assert "was tampered with or damaged" in refused["reason"]
    assert ports.endpoint.describe_endpoint("churn") is None


def test_the_retrain_job_starts_a_run_of_the_newest_upload_under_the_loop_guard(
    lambda_env: Path,
) -> None:
    from conveyor.aws import handlers, runtime
    from conveyor.metrics.alarm_store import put_alarm
    from conveyor.monitoring.alarms.defaults import default_rules
    from conveyor.pipeline.runs import RunStore

    deploy_a_version("churn")
    ports = runtime.ports()
    for rule in default_rules("churn", ports):
        put_alarm(ports.table, rule)
    upload("churn/customers.csv", CHURN.read_bytes())

    def drift_alarm(at: str) -> dict[str, Any]:
        return load_event(
            "cloudwatch_alarm_state_change",
            alarm_name="conveyor/churn/drift",
            state="ALARM",
            project="churn",
            time=at,
        )

    job = handlers.on_alarm(drift_alarm("2026-12-01T16:30:00Z"))["job"]
    assert run_job_as_sagemaker(job, lambda_env / "retrain-1", "conveyor.aws.retrain_job") == 0
    (run,) = RunStore(ports.table).list_runs("churn")
    assert run.state.value == "PREPROCESSING" and run.raw.key == "churn/customers.csv"
    assert (run.report["trigger"]["type"], run.report["trigger"]["alarm"]) == ("alarm", "drift")
    pipeline_job = client("sagemaker").describe_training_job(TrainingJobName=run.job_name)
    assert pipeline_job["HyperParameters"]["run_id"] == run.run_id
    # The job knew SageMaker's role from its request alone.
    assert pipeline_job["RoleArn"] == "arn:aws:iam::123456789012:role/conveyor-training"

    # The alarm again, later: the guard holds (that run is still going), no second run.
    job = handlers.on_alarm(drift_alarm("2026-12-01T16:35:00Z"))["job"]
    assert run_job_as_sagemaker(job, lambda_env / "retrain-2", "conveyor.aws.retrain_job") == 0
    assert [r.run_id for r in RunStore(ports.table).list_runs("churn")] == [run.run_id]
