"""The Alarms contract, run on every alarms adapter (see conftest.py ALARMS): the rules a
person puts are the ones listed, kept and deleted, per project, on every backend. Where the
state comes from (conveyor's monitor or CloudWatch) is each backend's own test."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import pytest

from conveyor.errors import InvalidInput, NotFound
from conveyor.metrics import Alarms, LocalAlarmStates
from conveyor.metrics.alarm_rules import AlarmMetric, AlarmRule, AlarmState
from conveyor.metrics.alarm_store import AlarmTransition, record_history
from conveyor.types import utcnow


def rule(name: str = "latency-p99", project: str = "churn", **changes: object) -> AlarmRule:
    made = AlarmRule(name, project, AlarmMetric.LATENCY_P99_MS, ">", 500.0)
    return replace(made, **changes)  # type: ignore[arg-type]


def names(alarms: Alarms, project: str = "churn") -> list[str]:
    return sorted(status.rule.name for status in alarms.list_alarms(project))


def test_implements_the_protocol(alarms: Alarms) -> None:
    assert isinstance(alarms, Alarms)


def test_a_put_alarm_is_listed_with_its_rule_and_a_state(alarms: Alarms) -> None:
    put = alarms.put_alarm(rule(threshold=750.0))

    assert put.rule == rule(threshold=750.0)
    (listed,) = alarms.list_alarms("churn")
    assert listed.rule == put.rule
    assert listed.state in set(AlarmState)
    assert alarms.get_alarm("churn", "latency-p99").rule.threshold == 750.0
    assert alarms.list_alarms("fraud") == []


def test_putting_again_changes_the_rule_and_disabling_keeps_it(
    make_alarms: Callable[[], Alarms],
) -> None:
    make_alarms().put_alarm(rule())
    make_alarms().put_alarm(rule(threshold=900.0, enabled=False))

    (listed,) = make_alarms().list_alarms("churn")  # another instance, the same alarms
    assert (listed.rule.threshold, listed.rule.enabled) == (900.0, False)


def test_put_alarms_makes_the_project_hold_exactly_the_rules(alarms: Alarms) -> None:
    alarms.put_alarm(rule("gone"))
    alarms.put_alarm(rule("kept", project="fraud"))
    wanted = [rule("latency-p99"), rule("errors", metric=AlarmMetric.ERROR_RATE, threshold=0.05)]

    assert alarms.put_alarms("churn", wanted) == ["latency-p99", "errors"]
    assert names(alarms) == ["errors", "latency-p99"]
    assert names(alarms, "fraud") == ["kept"]
    # The same rules again write nothing; a changed one is put alone.
    assert alarms.put_alarms("churn", wanted) == []
    changed = [wanted[0], replace(wanted[1], threshold=0.1)]
    assert alarms.put_alarms("churn", changed) == ["errors"]
    assert alarms.get_alarm("churn", "errors").rule.threshold == 0.1


def test_put_alarms_refuses_a_rule_of_another_project_and_writes_nothing(
    alarms: Alarms,
) -> None:
    with pytest.raises(InvalidInput, match="other projects") as raised:
        alarms.put_alarms("churn", [rule("mine"), rule("theirs", project="fraud")])

    assert raised.value.field == "project"
    assert alarms.list_alarms("churn") == []


def test_a_missing_alarm_is_not_found(alarms: Alarms) -> None:
    alarms.put_alarm(rule())
    with pytest.raises(NotFound, match="alarms list churn"):
        alarms.get_alarm("churn", "nope")
    with pytest.raises(NotFound):
        alarms.delete_alarm("churn", "nope")


def test_a_deleted_alarm_is_gone_and_the_others_stay(alarms: Alarms) -> None:
    alarms.put_alarms("churn", [rule("a"), rule("b")])

    alarms.delete_alarm("churn", "a")

    assert names(alarms) == ["b"]
    with pytest.raises(NotFound):
        alarms.get_alarm("churn", "a")


def _entry(project: str, alarm: str, minutes_ago: float) -> AlarmTransition:
    return AlarmTransition(
        project=project,
        alarm=alarm,
        metric="integrity",
        old_state="OK",
        new_state="ALARM",
        reason="the artifact's sha256 differs",
        timestamp=utcnow() - timedelta(minutes=minutes_ago),
    )


def test_the_history_is_newest_first_per_project_and_alarm(alarms: Alarms) -> None:
    # Entries the alarms do not evaluate themselves (integrity alarms, guardrail rollbacks)
    # are written to the Table each adapter keeps its rules in.
    table = alarms.table  # type: ignore[attr-defined]
    for entry in (_entry("churn", "a", 3), _entry("churn", "b", 2), _entry("fraud", "a", 1)):
        record_history(table, entry)

    assert [e.alarm for e in alarms.alarm_history("churn")] == ["b", "a"]
    assert [e.alarm for e in alarms.alarm_history("churn", alarm="a")] == ["a"]
    assert len(alarms.alarm_history("churn", limit=1)) == 1
    assert alarms.alarm_history("new") == []


def test_delete_project_alarms_removes_the_projects_alarms_and_history_only(
    alarms: Alarms,
) -> None:
    alarms.put_alarms("churn", [rule("a"), rule("b")])
    alarms.put_alarm(rule("a", project="fraud"))

    deleted = alarms.delete_project_alarms("churn")

    assert deleted["alarms"] == 2
    assert alarms.list_alarms("churn") == []
    assert alarms.alarm_history("churn") == []
    assert names(alarms, "fraud") == ["a"]
    assert alarms.delete_project_alarms("churn")["alarms"] == 0  # again: nothing left


def test_the_monitor_writes_a_state_only_over_the_revision_it_read_never_cloudwatchs(
    alarms: Alarms,
) -> None:
    read = alarms.put_alarm(rule())
    if alarms.scheme == "cloudwatch":
        # CloudWatch evaluates its alarms: the local monitor is given no way to overwrite a
        # state it decided (the evaluator writes only through LocalAlarmStates).
        assert not isinstance(alarms, LocalAlarmStates)
        return
    assert isinstance(alarms, LocalAlarmStates)
    decided = replace(
        read, state=AlarmState.ALARM, reason="p99 at 900 ms", revision=read.revision + 1
    )

    assert alarms.set_state(read, decided) is True
    assert alarms.set_state(read, replace(decided, state=AlarmState.OK)) is False  # stale
    listed = alarms.get_alarm("churn", "latency-p99")
    assert (listed.state, listed.reason) == (AlarmState.ALARM, "p99 at 900 ms")
