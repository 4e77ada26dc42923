"""Deployment guardrails: a new version bakes, and rolls itself back if it misbehaves.

As SageMaker's deployment guardrails do: for ``baking_seconds`` after a deploy, the project's
latency and error-rate alarms are evaluated over the new version's own requests since the
deploy, in short periods (``period_seconds``). If one of them goes into ALARM, the project
is rolled back to the version it served before, and the rollback and its cause are recorded:
an item ``guardrail#<project>`` / ``r<deployment revision>`` per deployment (its state:
BAKING → BAKED | ROLLED_BACK, or UNGUARDED / ROLLBACK / SUPERSEDED), an entry in the alarm
history, a tag on the registry version and a log line.

A rollback cannot loop: the guardrail only ever rolls back the deployment it is baking, once
(a conditional write claims it), never deploys, and does not bake a deployment that is
itself a rollback.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from conveyor.endpoint import Deployment
from conveyor.errors import AlreadyExists, ConveyorError
from conveyor.metrics.alarm_rules import (
    AlarmMetric,
    AlarmRule,
    AlarmState,
    Evaluation,
    TreatMissing,
    evaluate,
)
from conveyor.metrics.alarm_store import AlarmTransition, record_history
from conveyor.monitoring.alarms import windows
from conveyor.pipeline.lifecycle import rollback
from conveyor.tables import Item
from conveyor.types import from_iso, to_iso

if TYPE_CHECKING:
    from conveyor.ports import Ports

log = logging.getLogger("conveyor.guardrail")

GUARDED_METRICS = (AlarmMetric.LATENCY_P99_MS, AlarmMetric.ERROR_RATE)
BAKING = "BAKING"
BAKED = "BAKED"
ROLLING_BACK = "ROLLING_BACK"
ROLLED_BACK = "ROLLED_BACK"
UNGUARDED = "UNGUARDED"  # the first deployment: nothing to roll back to
ROLLBACK = "ROLLBACK"  # a rollback (by the guardrail or by hand) is not baked
SUPERSEDED = "SUPERSEDED"  # another deploy replaced it while it baked
STALE_CLAIM = timedelta(seconds=60)


@dataclass(frozen=True)
class GuardrailPolicy:
    baking_seconds: float = 600.0
    period_seconds: float = 10.0


def guardrail_partition(project: str) -> str:
    return f"guardrail#{project}"


def _sk(revision: int) -> str:
    return f"r{revision:08d}"


def guardrail_items(ports: Ports, project: str, *, limit: int | None = None) -> list[Item]:
    """The project's guardrail items, newest deployment first."""
    return ports.table.query(guardrail_partition(project), descending=True, limit=limit)


def guard_deployment(
    ports: Ports, project: str, *, now: datetime, policy: GuardrailPolicy
) -> Item | None:
    """Bake the project's current deployment one step; returns its guardrail item (None when
    nothing is deployed). Rolls the deployment back when a guarded alarm breaches."""
    deployment = ports.endpoint.describe_endpoint(project)
    if deployment is None:
        return None
    item = ports.table.get(guardrail_partition(project), _sk(deployment.revision))
    if item is None:
        item = _start(ports, deployment, now=now, policy=policy)
    if item["state"] == ROLLING_BACK and now - from_iso(item["updated_at"]) > STALE_CLAIM:
        # whoever claimed the rollback died before finishing it: the deploy is baked again
        item = _try_update(ports, item, state=BAKING, reason="rollback claim expired", now=now)
    if item["state"] != BAKING:
        return item
    baking_until = from_iso(item["baking_until"])
    # Judged over the baking period only, even when this step comes late.
    breach = _first_breach(ports, deployment, now=min(now, baking_until), policy=policy)
    if breach is not None:
        return _roll_back(ports, item, deployment, *breach, now=now)
    if now >= baking_until:
        served = windows.load_requests(
            ports.table, project, deployment.deployed_at, now, model_version=deployment.version
        )
        reason = f"baked: {len(served)} requests in {policy.baking_seconds:g}s, no guarded alarm"
        return _try_update(ports, item, state=BAKED, reason=reason, now=now)
    return item


def _start(ports: Ports, deployment: Deployment, *, now: datetime, policy: GuardrailPolicy) -> Item:
    project = deployment.project
    baking_until = deployment.deployed_at + timedelta(seconds=policy.baking_seconds)
    versions = [h.version for h in deployment.history]
    state, reason = BAKING, f"baking until {to_iso(baking_until)}"
    last = guardrail_items(ports, project, limit=1)
    if last and last[0].get("rolled_back_to_revision") == deployment.revision:
        state, reason = ROLLBACK, "the guardrail's own rollback; not baked"
    elif last and _is_rollback(last[0].get("served", []), [*versions, deployment.version]):
        state, reason = ROLLBACK, "a rollback; not baked"
    elif not deployment.history:
        state, reason = UNGUARDED, "the first deployment: no earlier version to roll back to"
    elif now >= baking_until:
        state, reason = BAKED, "its baking period had passed when the guardrail first saw it"
    item = {
        "pk": guardrail_partition(project),
        "sk": _sk(deployment.revision),
        "project": project,
        "revision": deployment.revision,
        "version": deployment.version,
        "sha256": deployment.sha256,
        "previous_version": versions[-1] if versions else None,
        "served": [*versions, deployment.version],
        "deployed_at": to_iso(deployment.deployed_at),
        "baking_until": to_iso(baking_until),
        "state": state,
        "reason": reason,
        "updated_at": to_iso(now),
    }
    try:
        ports.table.put(item, if_not_exists=True)
    except AlreadyExists:
        stored = ports.table.get(guardrail_partition(project), _sk(deployment.revision))
        return stored if stored is not None else item
    if last and last[0]["state"] in (BAKING, ROLLING_BACK):
        # a deploy or rollback by hand replaced the one baking: it is no longer guarded
        reason = f"replaced by revision {deployment.revision} (v{deployment.version})"
        _try_update(ports, last[0], state=SUPERSEDED, reason=reason, now=now)
    if state == BAKING:
        log.info("guardrail: %s v%d bakes until %s", project, deployment.version, baking_until)
    return item


def _is_rollback(before: list[int], after: list[int]) -> bool:
    """``after`` (versions served, oldest first, current last) took versions off ``before``
    instead of adding one: a rollback, by the guardrail or by hand."""
    return len(after) < len(before) and before[: len(after)] == after


def guard_rules(ports: Ports, project: str, policy: GuardrailPolicy) -> list[AlarmRule]:
    """The project's enabled latency and error-rate alarms, with the guardrail's short period."""
    return [
        status.rule.with_changes(
            period_seconds=policy.period_seconds, treat_missing_data=TreatMissing.MISSING
        )
        for status in ports.alarms.list_alarms(project)
        if status.rule.enabled and status.rule.metric in GUARDED_METRICS
    ]


def _first_breach(
    ports: Ports, deployment: Deployment, *, now: datetime, policy: GuardrailPolicy
) -> tuple[AlarmRule, Evaluation] | None:
    rules = guard_rules(ports, deployment.project, policy)
    if not rules:
        return None
    lookback = max(r.period_seconds * r.evaluation_periods for r in rules)
    # Only the new version's requests since this deploy: an earlier spell of the same
    # version in service does not count.
    start = max(now - timedelta(seconds=lookback), deployment.deployed_at)
    if start >= now:
        return None
    requests = windows.load_requests(
        ports.table, deployment.project, start, now, model_version=deployment.version
    )
    for rule in rules:
        periods = windows.periods_ending(now, rule.period_seconds, rule.evaluation_periods)
        points = windows.request_datapoints(requests, rule.metric, periods)
        outcome = evaluate(rule, points, AlarmState.OK)
        if outcome.state is AlarmState.ALARM:
            return rule, outcome
    return None


def _roll_back(
    ports: Ports,
    item: Item,
    deployment: Deployment,
    rule: AlarmRule,
    outcome: Evaluation,
    *,
    now: datetime,
) -> Item:
    project = deployment.project
    cause = f"{rule.name}: {outcome.reason}"
    try:
        claimed = _update(ports, item, state=ROLLING_BACK, reason=cause, now=now)
    except AlreadyExists:
        return ports.table.get(item["pk"], item["sk"]) or item  # another monitor has it
    current = ports.endpoint.describe_endpoint(project)
    if current is None or current.revision != deployment.revision:
        return _update(ports, claimed, state=SUPERSEDED, reason="replaced while baking", now=now)
    try:
        restored = rollback(ports, project)
    except ConveyorError as exc:
        log.error("guardrail: could not roll %s back: %s", project, exc.message)
        return _update(ports, claimed, state=BAKING, reason=f"rollback failed: {exc}", now=now)
    summary = (
        f"rolled back {project} v{deployment.version} -> v{restored.version} during baking: {cause}"
    )
    log.error("guardrail: %s", summary)
    rolled = _update(
        ports,
        claimed,
        state=ROLLED_BACK,
        reason=summary,
        now=now,
        cause=cause,
        alarm=rule.name,
        metric=rule.metric.value,
        datapoints=list(outcome.datapoints),
        rolled_back_at=to_iso(now),
        rolled_back_to_version=restored.version,
        rolled_back_to_revision=restored.revision,
    )
    record_history(
        ports.table,
        AlarmTransition(
            project=project,
            alarm=rule.name,
            metric=rule.metric.value,
            old_state=f"v{deployment.version} baking",
            new_state=f"rolled back to v{restored.version}",
            reason=summary,
            timestamp=now,
            datapoints=tuple(outcome.datapoints),
            kind="GuardrailRollback",
            details={
                "deployed_version": deployment.version,
                "restored_version": restored.version,
                "deployed_at": to_iso(deployment.deployed_at),
                "period_seconds": rule.period_seconds,
                "threshold": rule.threshold,
            },
        ),
    )
    try:
        ports.registry.set_tags(
            project, deployment.version, {"guardrail": f"rolled back at {to_iso(now)}: {cause}"}
        )
    except ConveyorError as exc:
        log.warning("guardrail: could not tag %s v%d: %s", project, deployment.version, exc)
    return rolled


def _update(
    ports: Ports, item: Item, *, state: str, reason: str, now: datetime, **fields: Any
) -> Item:
    """Move the item from the state it was read in; AlreadyExists when someone else did."""
    updated = {**item, **fields, "state": state, "reason": reason, "updated_at": to_iso(now)}
    ports.table.put(updated, if_match={"state": item["state"], "updated_at": item["updated_at"]})
    return updated


def _try_update(ports: Ports, item: Item, *, state: str, reason: str, now: datetime) -> Item:
    """As ``_update``, but a lost race returns what the winner wrote."""
    try:
        return _update(ports, item, state=state, reason=reason, now=now)
    except AlreadyExists:
        return ports.table.get(item["pk"], item["sk"]) or item
