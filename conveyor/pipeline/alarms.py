"""Alarms: per-project rules evaluated as CloudWatch does, with a history and actions.

Every evaluation reads the last M datapoints of each enabled alarm (``windows``), decides
its state (``alarm_rules.evaluate``) and, on a change, writes the new state conditionally
(two monitors evaluating the same alarm run its actions once), appends the change to the
history and logs it. A transition into ALARM runs the alarm's actions: a log line, an HTTP
webhook (a JSON POST), ``retrain`` (the ``on_retrain`` callback). Those actions are why this
module is in pipeline/; the rules are ``conveyor.metrics.alarm_rules``, their store
``conveyor.monitoring.alarms``.
"""

from __future__ import annotations

import json
import logging
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from conveyor.errors import ConveyorError
from conveyor.metrics import LocalAlarmStates
from conveyor.metrics.alarm_rules import (
    AlarmMetric,
    AlarmRule,
    AlarmState,
    Evaluation,
    evaluate,
)
from conveyor.metrics.alarm_store import (
    AlarmStatus,
    AlarmTransition,
    record_history,
)
from conveyor.monitoring.alarms import windows
from conveyor.monitoring.alarms.defaults import ensure_default_alarms
from conveyor.monitoring.quality import live_quality
from conveyor.types import to_iso

if TYPE_CHECKING:
    from conveyor.ports import Ports

log = logging.getLogger("conveyor.alarms")

RetrainCallback = Callable[[str, dict[str, Any]], object]
WEBHOOK_TIMEOUT_SECONDS = 5.0


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

    A failing alarm (its metric could not be read) is logged and the others go on. Alarms
    whose backend evaluates them itself (CloudWatch) are left to it: none changes here.
    """
    states = ports.alarms
    if not isinstance(states, LocalAlarmStates):
        return []
    ensure_default_alarms(ports, project)
    statuses = [s for s in ports.alarms.list_alarms(project) if s.rule.enabled]
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
            transition = _apply(ports, states, status, outcome, now=now, on_retrain=on_retrain)
        except Exception:
            log.exception("evaluating alarm %s/%s failed", project, status.rule.name)
            continue
        if transition is not None:
            transitions.append(transition)
    return transitions


def _apply(
    ports: Ports,
    states: LocalAlarmStates,
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
    if not states.set_state(status, updated):
        return None  # another monitor (or an edit) got there first; its word stands
    if not changed:
        return None
    rule = status.rule
    log.log(
        logging.WARNING if outcome.state is AlarmState.ALARM else logging.INFO,
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
