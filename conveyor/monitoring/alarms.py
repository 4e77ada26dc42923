"""Alarms: per-project rules kept in the Table, evaluated as CloudWatch does, with a history.

Definitions and their state are items ``alarm#<project>`` / ``<alarm name>``; every state
change is appended to ``alarmhistory#<project>`` / ``<ISO time>#<alarm name>`` with the
datapoints and the reason. A transition into ALARM runs the alarm's actions (a log line, an
HTTP webhook, ``retrain``); every transition is logged. State changes are conditional
writes, so two monitors evaluating the same alarm run its actions once.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from conveyor.errors import AlreadyExists, ConveyorError, NotFound
from conveyor.monitoring import windows
from conveyor.monitoring.rules import (
    AlarmMetric,
    AlarmRule,
    AlarmState,
    Evaluation,
    TreatMissing,
    evaluate,
)
from conveyor.tables import Item, Table
from conveyor.types import JsonDict, from_iso, to_iso

if TYPE_CHECKING:
    from conveyor.wiring import Ports

log = logging.getLogger("conveyor.alarms")

RetrainCallback = Callable[[str, dict[str, Any]], object]
WEBHOOK_TIMEOUT_SECONDS = 5.0
DEFAULT_QUALITY_TOLERANCE = 0.10  # live quality may fall this far below the test metric

__all__ = [
    "AlarmMetric",
    "AlarmRule",
    "AlarmState",
    "AlarmStatus",
    "AlarmTransition",
    "TreatMissing",
    "alarm_history",
    "delete_alarm",
    "ensure_default_alarms",
    "evaluate_alarms",
    "get_alarm",
    "list_alarms",
    "put_alarm",
    "record_history",
    "rule_datapoints",
]


def alarm_partition(project: str) -> str:
    return f"alarm#{project}"


def history_partition(project: str) -> str:
    return f"alarmhistory#{project}"


def _defaults_partition(project: str) -> str:
    return f"alarmdefaults#{project}"


@dataclass(frozen=True)
class AlarmStatus:
    """A rule with its current state (what ``conveyor alarms list`` shows)."""

    rule: AlarmRule
    state: AlarmState = AlarmState.INSUFFICIENT_DATA
    reason: str = "Unchecked: the alarm has not been evaluated yet"
    state_updated_at: datetime | None = None
    evaluated_at: datetime | None = None
    datapoints: tuple[float | None, ...] = ()
    revision: int = 0

    def to_item(self) -> Item:
        return {
            "pk": alarm_partition(self.rule.project),
            "sk": self.rule.name,
            **self.to_dict(),
        }

    def to_dict(self) -> JsonDict:
        return {
            **self.rule.to_dict(),
            "state": self.state.value,
            "state_reason": self.reason,
            "state_updated_at": _iso(self.state_updated_at),
            "evaluated_at": _iso(self.evaluated_at),
            "datapoints": list(self.datapoints),
            "revision": self.revision,
        }

    @classmethod
    def from_item(cls, item: Item) -> AlarmStatus:
        return cls(
            rule=AlarmRule.from_dict(item),
            state=AlarmState(item.get("state", AlarmState.INSUFFICIENT_DATA)),
            reason=str(item.get("state_reason") or ""),
            state_updated_at=_from_iso(item.get("state_updated_at")),
            evaluated_at=_from_iso(item.get("evaluated_at")),
            datapoints=tuple(item.get("datapoints") or ()),
            revision=int(item.get("revision", 0)),
        )


@dataclass(frozen=True)
class AlarmTransition:
    """One state change of one alarm, as kept in the history."""

    project: str
    alarm: str
    metric: str
    old_state: str
    new_state: str
    reason: str
    timestamp: datetime
    datapoints: tuple[float | None, ...] = ()
    actions: tuple[dict[str, Any], ...] = ()
    kind: str = "StateUpdate"
    details: dict[str, Any] = field(default_factory=dict)

    def to_item(self) -> Item:
        return {
            "pk": history_partition(self.project),
            "sk": f"{to_iso(self.timestamp)}#{self.alarm}",
            **self.to_dict(),
        }

    def to_dict(self) -> JsonDict:
        return {
            "project": self.project,
            "alarm": self.alarm,
            "metric": self.metric,
            "kind": self.kind,
            "old_state": self.old_state,
            "new_state": self.new_state,
            "reason": self.reason,
            "timestamp": to_iso(self.timestamp),
            "datapoints": list(self.datapoints),
            "actions": [dict(a) for a in self.actions],
            "details": self.details,
        }

    @classmethod
    def from_item(cls, item: Item) -> AlarmTransition:
        return cls(
            project=item["project"],
            alarm=item["alarm"],
            metric=item.get("metric", ""),
            old_state=item.get("old_state", ""),
            new_state=item.get("new_state", ""),
            reason=item.get("reason", ""),
            timestamp=from_iso(item["timestamp"]),
            datapoints=tuple(item.get("datapoints") or ()),
            actions=tuple(item.get("actions") or ()),
            kind=item.get("kind", "StateUpdate"),
            details=dict(item.get("details") or {}),
        )


# -- storage ---------------------------------------------------------------------------------


def put_alarm(table: Table, rule: AlarmRule) -> AlarmStatus:
    """Create or replace an alarm's rule; an existing alarm keeps its state and history."""
    item = table.get(alarm_partition(rule.project), rule.name)
    if item is None:
        status = AlarmStatus(rule)
        table.put(status.to_item())
        return status
    current = AlarmStatus.from_item(item)
    status = AlarmStatus(
        rule,
        current.state,
        current.reason,
        current.state_updated_at,
        current.evaluated_at,
        current.datapoints,
        current.revision + 1,
    )
    table.put(status.to_item())
    return status


def get_alarm(table: Table, project: str, name: str) -> AlarmStatus:
    """Raises:
    NotFound: the project has no alarm of this name.
    """
    item = table.get(alarm_partition(project), name)
    if item is None:
        raise NotFound(
            f"project {project!r} has no alarm {name!r}; `conveyor alarms list {project}` "
            "shows its alarms",
            field="name",
        )
    return AlarmStatus.from_item(item)


def list_alarms(table: Table, project: str) -> list[AlarmStatus]:
    return [AlarmStatus.from_item(item) for item in table.query(alarm_partition(project))]


def delete_alarm(table: Table, project: str, name: str) -> None:
    """Raises:
    NotFound: the project has no alarm of this name.
    """
    get_alarm(table, project, name)
    table.delete(alarm_partition(project), name)


def record_history(table: Table, transition: AlarmTransition) -> None:
    table.put(transition.to_item())


def alarm_history(
    table: Table, project: str, *, alarm: str | None = None, limit: int | None = None
) -> list[AlarmTransition]:
    """A project's alarm history, newest first, optionally of one alarm."""
    items = table.query(history_partition(project), descending=True)
    found = [AlarmTransition.from_item(i) for i in items if alarm is None or i["alarm"] == alarm]
    return found[:limit] if limit is not None else found


# -- default alarms --------------------------------------------------------------------------


def default_rules(project: str, ports: Ports) -> list[AlarmRule]:
    """The alarms every project starts with (editable, deletable)."""
    rules = [
        AlarmRule(
            "latency-p99",
            project,
            AlarmMetric.LATENCY_P99_MS,
            ">",
            500.0,
            description="p99 latency of /predict above 500 ms for 3 minutes",
        ),
        AlarmRule(
            "error-rate",
            project,
            AlarmMetric.ERROR_RATE,
            ">",
            0.05,
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
    made = table.get(_defaults_partition(project), "created")
    created_before = set(made["names"]) if made else set()
    wanted = {"latency-p99", "error-rate", "drift", "no-traffic", "live-quality"}
    if wanted <= created_before:
        return []
    existing = {status.rule.name for status in list_alarms(table, project)}
    created = []
    for rule in default_rules(project, ports):
        if rule.name in created_before:
            continue
        if rule.name not in existing:
            put_alarm(table, rule)
            created.append(rule.name)
        created_before.add(rule.name)
    marker = {"pk": _defaults_partition(project), "sk": "created", "names": sorted(created_before)}
    table.put(marker)
    return created


# -- datapoints ------------------------------------------------------------------------------


def rule_datapoints(
    ports: Ports,
    rule: AlarmRule,
    *,
    now: datetime,
    requests: windows.Requests | None = None,
) -> list[float | None]:
    """The rule's last M datapoints at ``now``, oldest first (None: missing)."""
    periods = windows.periods_ending(now, rule.period_seconds, rule.evaluation_periods)
    if rule.metric in windows.REQUEST_METRICS:
        if requests is None:
            requests = windows.load_requests(ports.table, rule.project, periods[0][0], now)
        return windows.request_datapoints(requests, rule.metric, periods)
    if rule.metric is AlarmMetric.DRIFT_STATUS:
        return windows.drift_datapoints(
            ports.table,
            rule.project,
            now=now,
            lookback_seconds=rule.period_seconds * rule.evaluation_periods,
            count=rule.evaluation_periods,
        )
    return _quality_datapoints(ports, rule, periods)


def _quality_datapoints(
    ports: Ports, rule: AlarmRule, periods: Sequence[windows.Period]
) -> list[float | None]:
    from conveyor.monitoring.quality import live_quality

    deployment = ports.endpoint.describe_endpoint(rule.project)
    if deployment is None:
        return [None] * len(periods)
    values: list[float | None] = []
    for start, end in periods:
        value = None
        for quality in live_quality(
            ports.table, rule.project, since=start, until=end, registry=ports.registry
        ):
            if quality.version == deployment.version:
                # metrics is empty when too few labelled rows came back: no datapoint
                wanted = rule.quality_metric
                value = quality.metrics.get(wanted) if wanted else quality.value
        values.append(value)
    return values


# -- evaluation ------------------------------------------------------------------------------


def evaluate_alarms(
    ports: Ports, project: str, *, now: datetime, on_retrain: RetrainCallback
) -> list[AlarmTransition]:
    """Evaluate every enabled alarm of ``project`` at ``now``; returns the state changes.

    A failing alarm (its metric could not be read) is logged and the others go on.
    """
    ensure_default_alarms(ports, project)
    statuses = [s for s in list_alarms(ports.table, project) if s.rule.enabled]
    request_rules = [s.rule for s in statuses if s.rule.metric in windows.REQUEST_METRICS]
    requests = None
    if request_rules:
        lookback = max(r.period_seconds * r.evaluation_periods for r in request_rules)
        requests = windows.load_requests(
            ports.table, project, now - timedelta(seconds=lookback), now
        )
    transitions = []
    for status in statuses:
        try:
            points = rule_datapoints(ports, status.rule, now=now, requests=requests)
            outcome = evaluate(status.rule, points, status.state)
            transition = _apply(ports, status, outcome, now=now, on_retrain=on_retrain)
        except Exception:
            log.exception("evaluating alarm %s/%s failed", project, status.rule.name)
            continue
        if transition is not None:
            transitions.append(transition)
    return transitions


def _apply(
    ports: Ports,
    status: AlarmStatus,
    outcome: Evaluation,
    *,
    now: datetime,
    on_retrain: RetrainCallback,
) -> AlarmTransition | None:
    changed = outcome.state is not status.state
    first = status.evaluated_at is None  # replaces the "not evaluated yet" reason
    updated = AlarmStatus(
        status.rule,
        outcome.state,
        outcome.reason if changed or first else status.reason,
        now if changed else status.state_updated_at,
        now,
        outcome.datapoints,
        status.revision + 1,
    )
    try:
        ports.table.put(updated.to_item(), if_match={"revision": status.revision})
    except AlreadyExists:
        return None  # another monitor (or an edit) got there first; its word stands
    if not changed:
        return None
    rule = status.rule
    log.warning(
        "alarm %s/%s: %s -> %s: %s",
        rule.project,
        rule.name,
        status.state.value,
        outcome.state.value,
        outcome.reason,
    )
    transition = AlarmTransition(
        project=rule.project,
        alarm=rule.name,
        metric=rule.metric.value,
        old_state=status.state.value,
        new_state=outcome.state.value,
        reason=outcome.reason,
        timestamp=now,
        datapoints=outcome.datapoints,
        details={"threshold": rule.threshold, "comparison": rule.comparison},
    )
    if outcome.state is AlarmState.ALARM:
        results = run_actions(rule, transition, on_retrain)
        transition = replace(transition, actions=tuple(results))
    record_history(ports.table, transition)
    return transition


def run_actions(
    rule: AlarmRule, transition: AlarmTransition, on_retrain: RetrainCallback
) -> list[dict[str, Any]]:
    """Run each action; a failing one is logged and reported, never raised."""
    results = []
    for action in rule.actions:
        kind = action.get("type")
        try:
            if kind == "log":
                log.error("ALARM %s/%s: %s", rule.project, rule.name, transition.reason)
            elif kind == "webhook":
                _post_webhook(action["url"], transition.to_dict())
            elif kind == "retrain":
                on_retrain(
                    rule.project,
                    {
                        "alarm": rule.name,
                        "metric": rule.metric.value,
                        "reason": transition.reason,
                        "time": to_iso(transition.timestamp),
                    },
                )
            results.append({**action, "ok": True})
        except Exception as exc:  # an action must never stop the others or the monitor
            message = exc.message if isinstance(exc, ConveyorError) else f"{exc}"
            log.warning("alarm %s/%s: %s action failed: %s", rule.project, rule.name, kind, exc)
            results.append({**action, "ok": False, "error": message})
    return results


def _post_webhook(url: str, body: dict[str, Any]) -> None:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", "user-agent": "conveyor-alarms"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=WEBHOOK_TIMEOUT_SECONDS) as response:
        response.read()


def _iso(moment: datetime | None) -> str | None:
    return to_iso(moment) if moment is not None else None


def _from_iso(text: str | None) -> datetime | None:
    return from_iso(text) if text else None
