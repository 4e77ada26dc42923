"""The alarms on CloudWatch: CloudWatch evaluates each rule as the alarm
``<prefix>/<project>/<rule>`` (``cloudwatch_alarm_rules`` makes the requests) and holds its
state and state history; the rules themselves stay in the Table as ``TableAlarms`` keeps
them, because their actions (retrain, webhooks) are conveyor's, read when an alarm's state
change comes back as an event.

A rule written to the Table by a process that cannot reach CloudWatch (the drift job makes
the default rules) becomes its alarm at the next ``put_alarms`` of the project's rules, which
the drift schedule makes every period.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from conveyor.aws.errors import raise_translated, rule
from conveyor.aws.sagemaker_common import ClientFactory, settings_clients
from conveyor.errors import InvalidInput
from conveyor.metrics.alarm_rules import AlarmRule, AlarmState
from conveyor.metrics.alarm_store import AlarmStatus, AlarmTransition
from conveyor.metrics.cloudwatch_alarm_rules import (
    alarm_name,
    check_prefix,
    put_metric_alarm_request,
)
from conveyor.metrics.table_alarms import TableAlarms, check_project
from conveyor.tables import Table

if TYPE_CHECKING:
    from conveyor.config import AwsSettings, Settings
    from conveyor.ports import PortsSoFar

log = logging.getLogger("conveyor.alarms")

_DELETE_BATCH = 100  # DeleteAlarms takes at most 100 names


class CloudWatchAlarms:
    scheme = "cloudwatch"

    def __init__(
        self,
        *,
        table: Table,
        settings: AwsSettings,
        clients: ClientFactory | None = None,
        name_prefix: str | None = None,
    ) -> None:
        # The stack's alarms alone: <name_prefix>/<project>/<rule>, the settings' prefix
        # unless told otherwise (the template's policies are scoped to it).
        name_prefix = name_prefix or settings.name_prefix
        check_prefix(name_prefix)
        self.table = table
        self.rules = TableAlarms(table=table)
        self.settings = settings
        # Tests swap this for a wrapper at the client boundary; nothing else creates clients.
        self.clients: ClientFactory = clients or settings_clients(settings)
        self.name_prefix = name_prefix

    @classmethod
    def from_settings(
        cls, uri: str, settings: Settings, ports_so_far: PortsSoFar
    ) -> CloudWatchAlarms:
        """The alarms of the settings' account and region, their rules in the table built
        before them."""
        return cls(table=ports_so_far["table"], settings=settings.aws)

    def put_alarm(self, rule: AlarmRule) -> AlarmStatus:
        request = self._request(rule)  # InvalidInput before anything is written
        self.rules.put_alarm(rule)
        self._call(f"put the alarm {request['AlarmName']}", "put_metric_alarm", **request)
        return self.get_alarm(rule.project, rule.name)

    def put_alarms(self, project: str, rules: Sequence[AlarmRule]) -> list[str]:
        check_project(project, rules)
        requests = {rule.name: self._request(rule) for rule in rules}
        changed = self.rules.put_alarms(project, rules)
        existing = self._describe(project)
        for name, request in requests.items():
            held = existing.get(request["AlarmName"])
            if held is not None and _holds(held, request):
                continue  # unchanged: no call, no configuration update in the alarm's history
            self._call(f"put the alarm {request['AlarmName']}", "put_metric_alarm", **request)
            if name not in changed:
                changed.append(name)
        wanted = {request["AlarmName"] for request in requests.values()}
        self._delete(project, sorted(set(existing) - wanted))
        return [rule.name for rule in rules if rule.name in changed]

    def get_alarm(self, project: str, name: str) -> AlarmStatus:
        status = self.rules.get_alarm(project, name)  # NotFound names the list command
        found = self._call(
            f"read the alarm {name} of {project}",
            "describe_alarms",
            AlarmNames=[alarm_name(project, name, self.name_prefix)],
            AlarmTypes=["MetricAlarm"],
        ).get("MetricAlarms", [])
        return _with_state(status, found[0]) if found else status

    def list_alarms(self, project: str) -> list[AlarmStatus]:
        statuses = self.rules.list_alarms(project)
        if not statuses:
            return []
        held = self._describe(project)
        return [
            _with_state(status, held[name]) if name in held else status
            for status in statuses
            for name in [alarm_name(project, status.rule.name, self.name_prefix)]
        ]

    def delete_alarm(self, project: str, name: str) -> None:
        self.rules.delete_alarm(project, name)
        self._delete(project, [alarm_name(project, name, self.name_prefix)])

    def alarm_history(
        self, project: str, *, alarm: str | None = None, limit: int | None = None
    ) -> list[AlarmTransition]:
        # The Table's history holds what CloudWatch does not see (integrity alarms).
        entries = self.rules.alarm_history(project, alarm=alarm, limit=limit)
        request: dict[str, Any] = {
            "HistoryItemType": "StateUpdate",
            "AlarmTypes": ["MetricAlarm"],
            "ScanBy": "TimestampDescending",
        }
        if alarm is not None:
            request["AlarmName"] = alarm_name(project, alarm, self.name_prefix)
        prefix = f"{self.name_prefix}/{project}/"
        metrics = {s.rule.name: s.rule.metric.value for s in self.rules.list_alarms(project)}
        pages = self._pages(
            f"read the alarm history of {project}", "describe_alarm_history", request
        )
        for page in pages:
            for item in page.get("AlarmHistoryItems", []):
                name = item["AlarmName"].removeprefix(prefix)
                if item["AlarmName"].startswith(prefix):
                    entries.append(_transition(project, name, metrics.get(name, ""), item))
        entries.sort(key=lambda entry: entry.timestamp, reverse=True)
        return entries[:limit] if limit is not None else entries

    def delete_project_alarms(self, project: str) -> dict[str, int]:
        held = sorted(self._describe(project))
        self._delete(project, held)
        return {**self.rules.delete_project_alarms(project), "cloudwatch alarms": len(held)}

    def _request(self, rule: AlarmRule) -> dict[str, Any]:
        topic = self.settings.alarm_topic_arn
        return put_metric_alarm_request(
            rule,
            namespace=self.settings.metrics_namespace,
            alarm_actions=[topic] if topic else [],
            name_prefix=self.name_prefix,
        )

    def _describe(self, project: str) -> dict[str, dict[str, Any]]:
        """The metric alarms named ``<prefix>/<project>/…``, by name."""
        request = {
            "AlarmNamePrefix": f"{self.name_prefix}/{project}/",
            "AlarmTypes": ["MetricAlarm"],
        }
        pages = self._pages(f"list the alarms of {project}", "describe_alarms", request)
        return {alarm["AlarmName"]: alarm for page in pages for alarm in page["MetricAlarms"]}

    def _delete(self, project: str, names: list[str]) -> None:
        for start in range(0, len(names), _DELETE_BATCH):
            batch = names[start : start + _DELETE_BATCH]
            self._call(f"delete the alarms {batch}", "delete_alarms", AlarmNames=batch)
            log.info("alarms of %s deleted from CloudWatch: %s", project, ", ".join(batch))

    def _call(self, what: str, method: str, **request: Any) -> Any:
        return _translated(what, lambda: getattr(self.clients("cloudwatch"), method)(**request))

    def _pages(self, what: str, operation: str, request: dict[str, Any]) -> list[dict[str, Any]]:
        paginator = self.clients("cloudwatch").get_paginator(operation)
        return _translated(what, lambda: list(paginator.paginate(**request)))  # type: ignore[no-any-return]


def _translated(what: str, call: Callable[[], Any]) -> Any:
    try:
        return call()
    except Exception as exc:
        raise_translated(
            exc,
            _RULES,
            refused=f"CloudWatch refused to {what}",
            unreachable=f"could not reach CloudWatch to {what}",
        )


_RULES = (
    rule(
        InvalidInput,
        "InvalidParameterValue",
        "InvalidParameterCombination",
        "MissingParameter",
        "ValidationError",
        field="alarm",
    ),
)


def _holds(described: Any, wanted: Any) -> bool:
    """Whether DescribeAlarms' ``described`` already says everything ``wanted`` says (it
    carries more: state, ARN, timestamps)."""
    if isinstance(wanted, Mapping):
        return isinstance(described, Mapping) and all(
            key in described and _holds(described[key], value) for key, value in wanted.items()
        )
    if isinstance(wanted, list):
        return (
            isinstance(described, list)
            and len(described) == len(wanted)
            and all(_holds(d, w) for d, w in zip(described, wanted, strict=True))
        )
    return bool(described == wanted)


def _with_state(status: AlarmStatus, alarm: Mapping[str, Any]) -> AlarmStatus:
    """The rule as the Table keeps it, in the state CloudWatch holds."""
    return replace(
        status,
        state=AlarmState(alarm["StateValue"]),
        reason=str(alarm.get("StateReason") or ""),
        state_updated_at=alarm.get("StateUpdatedTimestamp"),
    )


def _transition(project: str, name: str, metric: str, item: Mapping[str, Any]) -> AlarmTransition:
    """A DescribeAlarmHistory ``StateUpdate`` item as an entry of conveyor's history."""
    data = json.loads(item.get("HistoryData") or "{}")
    old, new = data.get("oldState", {}), data.get("newState", {})
    evidence = new.get("stateReasonData") or {}
    return AlarmTransition(
        project=project,
        alarm=name,
        metric=metric,
        old_state=str(old.get("stateValue", "")),
        new_state=str(new.get("stateValue", "")),
        reason=str(new.get("stateReason") or item.get("HistorySummary") or ""),
        timestamp=item["Timestamp"],
        datapoints=tuple(evidence.get("recentDatapoints") or ()),
        details={"source": "cloudwatch"},
    )
