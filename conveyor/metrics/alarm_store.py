"""Alarm definitions with their state, and their history, as Table items: the shapes the
Alarms port speaks (``AlarmStatus``, ``AlarmTransition``) and the Table layout both alarm
adapters keep the rules in.

Definitions: ``alarm#<project>`` / ``<alarm name>`` (the rule, its state, since when, why,
and a revision that makes state changes conditional writes). History:
``alarmhistory#<project>`` / ``<ISO time>#<alarm name>``, one item per state change or
guardrail rollback. ``alarmdefaults#<project>`` remembers the default alarms once made.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from conveyor.errors import NotFound
from conveyor.metrics.alarm_rules import AlarmRule, AlarmState
from conveyor.tables import Item, Table
from conveyor.types import JsonDict, from_iso, to_iso


def alarm_partition(project: str) -> str:
    return f"alarm#{project}"


def history_partition(project: str) -> str:
    return f"alarmhistory#{project}"


def defaults_partition(project: str) -> str:
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


def _iso(moment: datetime | None) -> str | None:
    return to_iso(moment) if moment is not None else None


def _from_iso(text: str | None) -> datetime | None:
    return from_iso(text) if text else None
