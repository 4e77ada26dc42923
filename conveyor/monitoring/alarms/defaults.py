"""The alarms every project starts with: created the first time its alarms are listed or
evaluated, then the user's to edit or delete (a deleted default stays deleted)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from conveyor.errors import NotFound
from conveyor.metrics.alarm_rules import AlarmMetric, AlarmRule, TreatMissing
from conveyor.metrics.alarm_store import defaults_partition

if TYPE_CHECKING:
    from conveyor.ports import Ports

DEFAULT_QUALITY_TOLERANCE = 0.10  # live quality may fall this far below the test metric
DEFAULT_NAMES = ("latency-p99", "error-rate", "drift", "no-traffic", "live-quality")


def default_rules(project: str, ports: Ports) -> list[AlarmRule]:
    """The alarms every project starts with (editable, deletable)."""
    rules = [
        AlarmRule(
            "latency-p99",
            project,
            AlarmMetric.LATENCY_P99_MS,
            ">",
            500.0,
            # A minute without requests has no latency and no errors: OK, not a flip to
            # INSUFFICIENT_DATA and back each time traffic pauses.
            treat_missing_data=TreatMissing.NOT_BREACHING,
            description="p99 latency of /predict above 500 ms for 3 minutes",
        ),
        AlarmRule(
            "error-rate",
            project,
            AlarmMetric.ERROR_RATE,
            ">",
            0.05,
            # A minute without requests has no latency and no errors: OK, not a flip to
            # INSUFFICIENT_DATA and back each time traffic pauses.
            treat_missing_data=TreatMissing.NOT_BREACHING,
            description="more than 5% of requests answered 5xx for 3 minutes",
        ),
        AlarmRule(
            "drift",
            project,
            AlarmMetric.DRIFT_STATUS,
            ">=",
            1.0,
            period_seconds=86400.0,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            actions=({"type": "log"}, {"type": "retrain"}),
            description="the latest drift check found DRIFT: retrain on fresh data",
        ),
        AlarmRule(
            "no-traffic",
            project,
            AlarmMetric.REQUEST_COUNT,
            "<",
            1.0,
            period_seconds=300.0,
            evaluation_periods=3,
            datapoints_to_alarm=3,
            treat_missing_data=TreatMissing.BREACHING,
            enabled=False,
            description="no request for 15 minutes (off until enabled)",
        ),
    ]
    quality = _default_quality_rule(project, ports)
    if quality is not None:
        rules.append(quality)
    return rules


def _default_quality_rule(project: str, ports: Ports) -> AlarmRule | None:
    """Live quality below the deployed version's test metric by 10%; needs a deployment to
    know the metric, so it is made once one exists."""
    from conveyor.model.metrics import greater_is_better

    deployment = ports.endpoint.describe_endpoint(project)
    if deployment is None:
        return None
    try:
        version = ports.registry.get_version(project, deployment.version)
    except NotFound:
        return None
    metric = version.primary_metric
    tested = version.metrics.get("test", {}).get(metric)
    if tested is None:
        return None
    higher = greater_is_better(metric)
    factor = 1 - DEFAULT_QUALITY_TOLERANCE if higher else 1 + DEFAULT_QUALITY_TOLERANCE
    return AlarmRule(
        "live-quality",
        project,
        AlarmMetric.LIVE_QUALITY,
        "<" if higher else ">",
        round(float(tested) * factor, 4),
        period_seconds=3600.0,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        quality_metric=metric,
        description=(
            f"live {metric} from feedback 10% {'below' if higher else 'above'} version "
            f"{version.version}'s test {metric} ({float(tested):.4f}); no feedback: "
            "INSUFFICIENT_DATA"
        ),
    )


def ensure_default_alarms(ports: Ports, project: str) -> list[str]:
    """Create the default alarms the project has never had; returns the names created.

    A default the user deleted stays deleted: the names once created are remembered.
    """
    table = ports.table
    made = table.get(defaults_partition(project), "created")
    created_before = set(made["names"]) if made else set()
    wanted = set(DEFAULT_NAMES)
    if wanted <= created_before:
        return []
    existing = {status.rule.name for status in ports.alarms.list_alarms(project)}
    created = []
    for rule in default_rules(project, ports):
        if rule.name in created_before:
            continue
        if rule.name not in existing:
            ports.alarms.put_alarm(rule)
            created.append(rule.name)
        created_before.add(rule.name)
    marker = {"pk": defaults_partition(project), "sk": "created", "names": sorted(created_before)}
    table.put(marker)
    return created
