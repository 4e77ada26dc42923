"""The monitoring loop on AWS: the scheduled drift check and the alarm's retrain.

Both need the heavy stack (the drift statistics, the feedback rows of a retrain), so the
Lambda side starts a short SageMaker job for each through the JobRunner port
(``conveyor.aws.drift_job``, ``conveyor.aws.retrain_job``) and does the light ends itself:
which projects to check, which alarms retrain, the metrics of a finished drift check.
A job's name is made from the time of the event that asked for it, so a second delivery
of the event finds the job and starts nothing.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any

from conveyor.aws.events import TrainingJobChange
from conveyor.aws.job_env import settings_hyperparameters
from conveyor.aws.sagemaker_common import sagemaker_name
from conveyor.config import AwsSettings, Settings
from conveyor.errors import AlreadyExists, ConveyorError, InvalidInput
from conveyor.jobs import TrainingJobSpec
from conveyor.metrics import cloudwatch
from conveyor.metrics.alarm_rules import AlarmState
from conveyor.metrics.alarm_store import get_alarm
from conveyor.monitoring.drift.store import latest_drift_check
from conveyor.ports import Ports
from conveyor.storage import PROCESSED, REPORTS
from conveyor.types import ObjectRef, from_iso, to_iso, utcnow

DRIFT_KIND = "drift"
RETRAIN_KIND = "retrain"
JOB_MAX_SECONDS = 3600
log = logging.getLogger("conveyor.monitoring")


def _moment(text: str) -> datetime:
    if not text:
        return utcnow()
    try:
        return from_iso(text.replace("Z", "+00:00").replace("+0000", "+00:00"))
    except ValueError as exc:
        raise InvalidInput(f"event time {text!r} is not an ISO 8601 time", field="time") from exc


def _schema_channel(ports: Ports, project: str, version: int) -> ObjectRef:
    """A small object every deployed version has: the processed data's schema.json
    (SageMaker needs one channel; the job reads everything else through the store)."""
    dataset_id = ports.registry.get_version(project, version).dataset_id
    return ObjectRef(PROCESSED, f"{project}/{dataset_id}/schema.json")


def sync_project_alarms(ports: Ports, project: str) -> list[str]:
    """Put ``project``'s alarm rules again, so that the alarms port's evaluator holds them
    (on AWS: the rules the drift job made in the Table become CloudWatch alarms); the names
    of the rules created or changed. A project with no rules yet (its first drift job makes
    the defaults) is left alone. A failure is logged, never raised: the project's drift
    check still runs.
    """
    try:
        rules = [status.rule for status in ports.alarms.list_alarms(project)]
        if not rules:
            return []
        return ports.alarms.put_alarms(project, rules)
    except ConveyorError as exc:
        log.warning("the alarms of %s were not synced to CloudWatch: %s", project, exc.message)
        return []


def start_drift_jobs(ports: Ports, settings: Settings, *, scheduled_at: str) -> list[str]:
    """One drift job per deployed project, over the window ending at the scheduled time;
    the names of the jobs started (none for a repeated event). Each project's alarm rules
    are synced to CloudWatch first (``sync_project_alarms``), so that an edited rule
    reaches CloudWatch within one schedule period.
    """
    until = _moment(scheduled_at)
    since = until - timedelta(seconds=settings.drift_window_seconds)
    stamp = f"{until:%Y%m%d%H%M%S}"
    started = []
    for deployment in ports.endpoint.list_endpoints():
        project = deployment.project
        sync_project_alarms(ports, project)
        try:
            channel = _schema_channel(ports, project, deployment.version)
        except ConveyorError as exc:  # one project's problem does not stop the others'
            log.warning("no drift check of %s: %s", project, exc.message)
            continue
        spec = TrainingJobSpec(
            job_name=sagemaker_name(settings.aws.name_prefix, project, "drift", stamp),
            channels={"schema": channel},
            output=ObjectRef(REPORTS, f"{project}/drift-jobs/{stamp}/model.tar.gz"),
            hyperparameters={
                "kind": DRIFT_KIND,
                "project": project,
                "since": to_iso(since),
                "until": to_iso(until),
                **settings_hyperparameters(settings.object_store_uri, settings.table_uri),
            },
            entrypoint="conveyor.aws.drift_job",
            max_runtime_seconds=JOB_MAX_SECONDS,
        )
        try:
            ports.jobs.start_training_job(spec)
        except AlreadyExists:
            continue  # the same schedule's event again
        except ConveyorError as exc:
            log.warning("no drift check of %s: %s", project, exc.message)
            continue
        started.append(spec.job_name)
    return started


def drift_job_ended(ports: Ports, change: TrainingJobChange, aws: AwsSettings) -> dict[str, Any]:
    """A drift job ended: its check (the project's newest ``drift#`` item) becomes the EMF
    metrics the drift alarm watches."""
    project = change.hyperparameters.get("project", "")
    if change.status != "Completed":
        log.warning("drift job %s %s: %s", change.job_name, change.status, change.failure_reason)
        return {"project": project, "drift": None, "reason": change.failure_reason}
    newest = latest_drift_check(ports.table, project)
    document = cloudwatch.drift_metrics(project, newest, aws.metrics_namespace) if newest else None
    if document is not None:
        cloudwatch.emit(document)
    return {"project": project, "drift": newest.get("status") if newest else None}


def retrain_on_alarm(
    ports: Ports, settings: Settings, change: Any, *, changed_at: str
) -> dict[str, Any]:
    """A retrain job for an alarm of conveyor's that went to ALARM with a ``retrain``
    action (``change``: ``cloudwatch_alarms.AlarmStateChange``; ``changed_at``: the
    event's time). The job applies the loop guard (cooldown, a run still going)."""
    project = change.project
    if change.state is not AlarmState.ALARM:
        return {"project": project, "retrain": False, "reason": f"alarm is {change.state}"}
    # The rule alone, from the Table where every alarms backend keeps it: the state is the
    # event's, so this function needs no CloudWatch permission (ports.alarms would read it).
    rule = get_alarm(ports.table, project, change.alarm).rule
    if not any(action.get("type") == "retrain" for action in rule.actions):
        return {"project": project, "retrain": False, "reason": "the alarm has no retrain action"}
    deployment = ports.endpoint.describe_endpoint(project)
    if deployment is None:
        return {"project": project, "retrain": False, "reason": "nothing is deployed"}
    stamp = f"{_moment(changed_at):%Y%m%d%H%M%S}"
    trigger = {"type": "alarm", "alarm": change.alarm, "reason": change.reason}
    spec = TrainingJobSpec(
        job_name=sagemaker_name(settings.aws.name_prefix, project, "retrain", stamp),
        channels={"schema": _schema_channel(ports, project, deployment.version)},
        output=ObjectRef(REPORTS, f"{project}/retrain-jobs/{stamp}/model.tar.gz"),
        hyperparameters={
            "kind": RETRAIN_KIND,
            "project": project,
            "trigger": json.dumps(trigger),
            "cooldown_seconds": str(settings.retrain_cooldown_seconds),
            # It starts the run's pipeline job: SageMaker's role, image, instance type.
            **settings_hyperparameters(settings.object_store_uri, settings.table_uri, settings.aws),
        },
        entrypoint="conveyor.aws.retrain_job",
        max_runtime_seconds=JOB_MAX_SECONDS,
    )
    try:
        ports.jobs.start_training_job(spec)
    except AlreadyExists:
        return {
            "project": project,
            "retrain": False,
            "reason": "already started",
            "job": spec.job_name,
        }
    return {"project": project, "retrain": True, "job": spec.job_name}
