"""The projects page's one line per project: deployed version, its metric, traffic of the
last hour, worst alarm, last drift verdict."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from conveyor.errors import NotFound
from conveyor.inference.records import partition as inference_partition
from conveyor.monitoring.drift.store import latest_drift_check
from conveyor.ports import Ports
from conveyor.projects import list_projects
from conveyor.types import Project, to_iso, utcnow

# Worst first: a glance shows the alarm that fires.
_ALARM_ORDER = ("ALARM", "INSUFFICIENT_DATA", "OK")


def project_summaries(ports: Ports) -> list[dict[str, Any]]:
    since = to_iso(utcnow() - timedelta(hours=1))
    return [_summary(ports, project, since) for project in list_projects(ports.table)]


def _summary(ports: Ports, project: Project, since: str) -> dict[str, Any]:
    deployment = ports.endpoint.describe_endpoint(project.name)
    primary, value, task = project.metric, None, str(project.task)
    if deployment is not None:
        try:
            version = ports.registry.get_version(project.name, deployment.version)
        except NotFound:
            version = None
        if version is not None:
            primary, task = version.primary_metric, str(version.task)
            value = version.metrics.get("test", {}).get(primary)
    drift = latest_drift_check(ports.table, project.name)
    return {
        "name": project.name,
        "target": project.target,
        "task": task,  # as the deployed version resolved "auto"
        "deployed_version": deployment.version if deployment else None,
        "primary_metric": primary,
        "metric_value": value,
        "requests_last_hour": ports.table.count(inference_partition(project.name), sk_gte=since),
        "alarm_state": worst_alarm_state(ports, project.name),
        "drift_status": drift.get("status") if drift else None,
    }


def worst_alarm_state(ports: Ports, project: str) -> str | None:
    """The worst state among the project's enabled alarms; None when it has none."""
    states = {s.state.value for s in ports.alarms.list_alarms(project) if s.rule.enabled}
    return next((state for state in _ALARM_ORDER if state in states), None)
