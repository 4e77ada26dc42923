"""The alarms on the Table: rules and their state as items, evaluated by conveyor's own
monitor (``conveyor.pipeline.alarms``), which writes each change of state and its history
entry beside them (``alarm_store``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from conveyor.errors import AlreadyExists, InvalidInput
from conveyor.metrics import alarm_store
from conveyor.metrics.alarm_rules import AlarmRule
from conveyor.metrics.alarm_store import AlarmStatus, AlarmTransition
from conveyor.tables import Table

if TYPE_CHECKING:
    from conveyor.config import Settings
    from conveyor.ports import PortsSoFar


class TableAlarms:
    scheme = "table"

    def __init__(self, *, table: Table) -> None:
        self.table = table

    @classmethod
    def from_settings(cls, uri: str, settings: Settings, ports_so_far: PortsSoFar) -> TableAlarms:
        """The alarms on the table built before them."""
        return cls(table=ports_so_far["table"])

    def put_alarm(self, rule: AlarmRule) -> AlarmStatus:
        return alarm_store.put_alarm(self.table, rule)

    def put_alarms(self, project: str, rules: Sequence[AlarmRule]) -> list[str]:
        check_project(project, rules)
        existing = {status.rule.name: status.rule for status in self.list_alarms(project)}
        changed = [rule for rule in rules if existing.get(rule.name) != rule]
        for rule in changed:
            alarm_store.put_alarm(self.table, rule)
        for name in sorted(set(existing) - {rule.name for rule in rules}):
            alarm_store.delete_alarm(self.table, project, name)
        return [rule.name for rule in changed]

    def get_alarm(self, project: str, name: str) -> AlarmStatus:
        return alarm_store.get_alarm(self.table, project, name)

    def list_alarms(self, project: str) -> list[AlarmStatus]:
        return alarm_store.list_alarms(self.table, project)

    def delete_alarm(self, project: str, name: str) -> None:
        alarm_store.delete_alarm(self.table, project, name)

    def alarm_history(
        self, project: str, *, alarm: str | None = None, limit: int | None = None
    ) -> list[AlarmTransition]:
        return alarm_store.alarm_history(self.table, project, alarm=alarm, limit=limit)

    def set_state(self, current: AlarmStatus, updated: AlarmStatus) -> bool:
        try:
            self.table.put(updated.to_item(), if_match={"revision": current.revision})
        except AlreadyExists:
            return False
        return True

    def delete_project_alarms(self, project: str) -> dict[str, int]:
        partitions = {
            "alarms": alarm_store.alarm_partition(project),
            "alarm history": alarm_store.history_partition(project),
            "default alarms": alarm_store.defaults_partition(project),
        }
        return {what: self.table.delete_partition(pk) for what, pk in partitions.items()}


def check_project(project: str, rules: Sequence[AlarmRule]) -> None:
    """Raises:
    InvalidInput: a rule of another project than ``project``.
    """
    strangers = sorted({rule.project for rule in rules} - {project})
    if strangers:
        raise InvalidInput(
            f"the alarms of {project!r} were given rules of other projects: {strangers}",
            field="project",
        )
