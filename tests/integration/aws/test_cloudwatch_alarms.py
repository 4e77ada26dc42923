"""conveyor's alarm rules as CloudWatch alarms, on moto.

moto keeps alarm definitions and answers DescribeAlarms and SetAlarmState, but never moves an
alarm's state from data: what is tested here is what CloudWatch holds (the definitions, the
actions, a state set by hand), not that CloudWatch would fire on the metrics.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conveyor.aws.clients import client
from conveyor.config import AwsSettings, Settings
from conveyor.errors import InvalidInput
from conveyor.metrics import cloudwatch
from conveyor.metrics.alarm_rules import AlarmMetric, AlarmRule, AlarmState, TreatMissing
from conveyor.metrics.cloudwatch_alarm_rules import (
    AlarmStateChange,
    alarm_state_change_detail,
    put_metric_alarm_request,
)
from conveyor.metrics.cloudwatch_alarms import CloudWatchAlarms
from conveyor.monitoring.alarms.defaults import default_rules
from conveyor.wiring import build_ports
from tests.integration.aws.cloudwatch_fakes import FakeAlarmHistoryClient
from tests.integration.aws.sagemaker_fakes import clients_with

pytestmark = pytest.mark.usefixtures("aws")

PROJECT = "churn"


@pytest.fixture
def settings() -> AwsSettings:
    topic = client("sns").create_topic(Name="conveyor-alarms")["TopicArn"]
    return AwsSettings(metrics_namespace="Conveyor", alarm_topic_arn=topic)


@pytest.fixture
def alarms(settings: AwsSettings) -> CloudWatchAlarms:
    """The CloudWatch alarms adapter, its rules in a DynamoDB table (moto has no
    DescribeAlarmHistory: a named fake at the client boundary answers it)."""
    from conveyor.tables.dynamodb import DynamoDbTable, create_table

    create_table("acme")
    clients = clients_with(cloudwatch=FakeAlarmHistoryClient())
    return CloudWatchAlarms(table=DynamoDbTable("acme"), settings=settings, clients=clients)


def set_state(rule: str, state: str, reason: str) -> None:
    """What CloudWatch does when the data say so (moto never does): SetAlarmState."""
    client("cloudwatch").set_alarm_state(
        AlarmName=f"conveyor/{PROJECT}/{rule}", StateValue=state, StateReason=reason
    )


def states(alarms: CloudWatchAlarms) -> dict[str, AlarmState]:
    return {status.rule.name: status.state for status in alarms.list_alarms(PROJECT)}


@pytest.fixture
def rules(tmp_path: Path) -> list[AlarmRule]:
    """The default alarms of a project that has no deployment yet (no live quality alarm)."""
    return default_rules(PROJECT, build_ports(Settings(home=tmp_path / "home")))


def described(project: str = PROJECT) -> dict[str, dict[str, Any]]:
    pages = (
        client("cloudwatch")
        .get_paginator("describe_alarms")
        .paginate(AlarmNamePrefix=f"conveyor/{project}/")
    )
    return {a["AlarmName"]: a for page in pages for a in page["MetricAlarms"]}


def test_each_stack_keeps_its_own_alarms_under_its_name_prefix(
    settings: AwsSettings, alarms: CloudWatchAlarms, rules: list[AlarmRule]
) -> None:
    from conveyor.tables.dynamodb import DynamoDbTable, create_table

    create_table("team-b")
    other = CloudWatchAlarms(
        table=DynamoDbTable("team-b"),
        settings=settings.model_copy(update={"name_prefix": "team-b"}),
    )
    alarms.put_alarms(PROJECT, rules)
    other.put_alarms(PROJECT, rules[:1])
    # Neither stack's put deletes the other's alarms of the same project.
    assert len(described()) == len(rules)
    team_b = client("cloudwatch").describe_alarms(AlarmNamePrefix="team-b/")["MetricAlarms"]
    assert [a["AlarmName"] for a in team_b] == [f"team-b/churn/{rules[0].name}"]


def test_the_default_alarms_become_cloudwatch_alarms_on_the_emitted_metrics(
    settings: AwsSettings, alarms: CloudWatchAlarms, rules: list[AlarmRule]
) -> None:
    put = alarms.put_alarms(PROJECT, rules)
    assert sorted(put) == ["drift", "error-rate", "latency-p99", "no-traffic"]
    held = described()
    assert sorted(held) == [f"conveyor/churn/{name}" for name in sorted(put)]
    topic = [settings.alarm_topic_arn]
    project = [{"Name": "Project", "Value": "churn"}]

    latency = held["conveyor/churn/latency-p99"]
    assert (latency["Namespace"], latency["MetricName"], latency["Dimensions"]) == (
        "Conveyor",
        "Latency",
        project,
    )
    assert latency["ExtendedStatistic"] == "p99" and "Statistic" not in latency
    assert (latency["Period"], latency["EvaluationPeriods"], latency["DatapointsToAlarm"]) == (
        60,
        3,
        3,
    )
    assert (latency["Threshold"], latency["ComparisonOperator"]) == (500.0, "GreaterThanThreshold")
    assert (
        latency["TreatMissingData"] == "notBreaching"
    )  # an idle minute is OK, not INSUFFICIENT_DATA
    assert (latency["AlarmActions"], latency["OKActions"], latency["ActionsEnabled"]) == (
        topic,
        topic,
        True,
    )
    assert "p99 latency of /predict above 500 ms" in latency["AlarmDescription"]

    rate = held["conveyor/churn/error-rate"]
    assert (rate["Threshold"], rate["ComparisonOperator"]) == (0.05, "GreaterThanThreshold")
    queries = {q["Id"]: q for q in rate["Metrics"]}
    assert queries["rate"]["Expression"] == "errors / requests"
    assert queries["rate"]["ReturnData"] is True
    for query_id, metric_name in (("errors", "Errors5xx"), ("requests", "Requests")):
        stat = queries[query_id]["MetricStat"]
        assert stat["Metric"] == {
            "Namespace": "Conveyor",
            "MetricName": metric_name,
            "Dimensions": project,
        }
        assert (stat["Period"], stat["Stat"], queries[query_id]["ReturnData"]) == (60, "Sum", False)
    assert (rate["EvaluationPeriods"], rate["DatapointsToAlarm"]) == (3, 3)

    drift = held["conveyor/churn/drift"]
    assert (drift["MetricName"], drift["Statistic"], drift["Period"]) == (
        "DriftStatus",
        "Maximum",
        86400,
    )
    assert (drift["EvaluationPeriods"], drift["DatapointsToAlarm"]) == (1, 1)
    assert (drift["Threshold"], drift["ComparisonOperator"]) == (
        1.0,
        "GreaterThanOrEqualToThreshold",
    )

    idle = held["conveyor/churn/no-traffic"]
    assert (idle["MetricName"], idle["Statistic"], idle["Period"]) == ("Requests", "Sum", 300)
    assert (idle["ComparisonOperator"], idle["TreatMissingData"]) == (
        "LessThanThreshold",
        "breaching",
    )
    assert idle["ActionsEnabled"] is False  # the rule is off: its alarm notifies no one


def test_every_alarm_watches_a_metric_and_dimensions_the_emf_documents_carry(
    settings: AwsSettings, rules: list[AlarmRule]
) -> None:
    documents = [
        cloudwatch.request_metrics(PROJECT, 3, 500, 12.0, 0, "Conveyor"),
        cloudwatch.drift_metrics(PROJECT, {"status": "DRIFT", "features": {}}, "Conveyor"),
    ]
    emitted = {
        (directive["Namespace"], metric["Name"], tuple(sorted(dimension_set)))
        for document in documents
        if document is not None
        for directive in document["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]
        for dimension_set in directive["Dimensions"]
    }
    for rule in rules:
        request = put_metric_alarm_request(rule, namespace="Conveyor", alarm_actions=[])
        metrics = (
            [q["MetricStat"]["Metric"] for q in request["Metrics"] if "MetricStat" in q]
            if "Metrics" in request
            else [request]
        )
        for metric in metrics:
            names = tuple(sorted(d["Name"] for d in metric["Dimensions"]))
            assert (metric["Namespace"], metric["MetricName"], names) in emitted, rule.name
            assert {d["Value"] for d in metric["Dimensions"]} == {PROJECT}


def test_a_second_sync_changes_nothing_and_keeps_the_states(
    alarms: CloudWatchAlarms, rules: list[AlarmRule]
) -> None:
    alarms.put_alarms(PROJECT, rules)
    set_state("drift", "ALARM", "a drift check")
    before = described()
    assert alarms.put_alarms(PROJECT, rules) == []
    after = described()
    assert after == before
    assert after["conveyor/churn/drift"]["StateValue"] == "ALARM"

    changed = [r.with_changes(threshold=800.0) if r.name == "latency-p99" else r for r in rules]
    assert alarms.put_alarms(PROJECT, changed) == ["latency-p99"]
    assert described()["conveyor/churn/latency-p99"]["Threshold"] == 800.0


def test_a_rule_no_longer_defined_loses_its_alarm_and_other_projects_keep_theirs(
    alarms: CloudWatchAlarms, rules: list[AlarmRule]
) -> None:
    alarms.put_alarms(PROJECT, rules)
    other = [rule.with_changes(project="churn-eu") for rule in rules]
    alarms.put_alarms("churn-eu", other)
    kept = [rule for rule in rules if rule.name != "drift"]
    assert alarms.put_alarms(PROJECT, kept) == []
    assert "conveyor/churn/drift" not in described()
    assert len(described()) == 3
    assert "conveyor/churn-eu/drift" in described("churn-eu")
    alarms.put_alarms(PROJECT, [])
    assert described() == {}
    assert len(described("churn-eu")) == 4


def test_the_listed_states_are_what_cloudwatch_holds_by_rule_name(
    alarms: CloudWatchAlarms, rules: list[AlarmRule]
) -> None:
    alarms.put_alarms(PROJECT, rules)
    # A new alarm is INSUFFICIENT_DATA on CloudWatch; moto starts it OK, so set each state.
    assert sorted(states(alarms)) == [
        "drift",
        "error-rate",
        "latency-p99",
        "no-traffic",
    ]
    for name, state in (("error-rate", "ALARM"), ("drift", "INSUFFICIENT_DATA")):
        set_state(name, state, "test")
    held = states(alarms)
    assert (held["error-rate"], held["drift"], held["latency-p99"]) == (
        AlarmState.ALARM,
        AlarmState.INSUFFICIENT_DATA,
        AlarmState.OK,
    )


def test_a_rule_of_another_project_is_refused(
    alarms: CloudWatchAlarms, rules: list[AlarmRule]
) -> None:
    with pytest.raises(InvalidInput, match="rules of other projects: \\['churn'\\]"):
        alarms.put_alarms("churn-eu", rules)
    assert described("churn-eu") == {}


def test_the_alarms_are_listed_in_the_state_cloudwatch_holds_with_its_reason(
    alarms: CloudWatchAlarms, rules: list[AlarmRule]
) -> None:
    alarms.put_alarms(PROJECT, rules)
    set_state("error-rate", "ALARM", "5xx at 9%")

    status = alarms.get_alarm(PROJECT, "error-rate")
    assert (status.state, status.reason) == (AlarmState.ALARM, "5xx at 9%")
    assert status.rule.actions == rules[1].actions  # the rule is the Table's
    assert status.state_updated_at is not None


def test_the_history_holds_cloudwatch_state_changes_newest_first(
    alarms: CloudWatchAlarms, rules: list[AlarmRule]
) -> None:
    alarms.put_alarms(PROJECT, rules)
    for state in ("ALARM", "OK"):
        set_state("drift", state, f"now {state}")

    history = alarms.alarm_history(PROJECT)
    assert [(e.alarm, e.old_state, e.new_state) for e in history] == [
        ("drift", "ALARM", "OK"),
        ("drift", "OK", "ALARM"),  # moto starts an alarm OK (CloudWatch: INSUFFICIENT_DATA)
    ]
    assert (history[0].reason, history[0].metric) == ("now OK", "drift_status")
    assert alarms.alarm_history(PROJECT, alarm="latency-p99") == []
    assert len(alarms.alarm_history(PROJECT, limit=1)) == 1


def test_deleting_an_alarm_deletes_its_cloudwatch_alarm(
    alarms: CloudWatchAlarms, rules: list[AlarmRule]
) -> None:
    alarms.put_alarms(PROJECT, rules)

    alarms.delete_alarm(PROJECT, "drift")

    assert "conveyor/churn/drift" not in described()
    assert len(described()) == 3


def test_deleting_the_projects_alarms_deletes_its_cloudwatch_alarms_only(
    alarms: CloudWatchAlarms, rules: list[AlarmRule]
) -> None:
    alarms.put_alarms(PROJECT, rules)
    alarms.put_alarms("churn-eu", [rule.with_changes(project="churn-eu") for rule in rules])

    deleted = alarms.delete_project_alarms(PROJECT)

    assert (deleted["alarms"], deleted["cloudwatch alarms"]) == (4, 4)
    assert described() == {}
    assert len(described("churn-eu")) == 4


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"period_seconds": 90.0}, "multiples of 60 seconds"),
        ({"period_seconds": 60.0, "evaluation_periods": 1441}, "1 day for periods under an hour"),
        ({"period_seconds": 86400.0, "evaluation_periods": 8}, "7 days"),
        ({"name": "x" * 250}, "at most 255"),
    ],
)
def test_rules_cloudwatch_cannot_take_are_refused_before_any_call(
    changes: dict[str, Any], message: str
) -> None:
    rule = AlarmRule("latency-p99", PROJECT, AlarmMetric.LATENCY_P99_MS, ">", 500.0)
    with pytest.raises(InvalidInput, match=message):
        put_metric_alarm_request(
            rule.with_changes(datapoints_to_alarm=1, **changes),
            namespace="Conveyor",
            alarm_actions=[],
        )


def test_live_quality_watches_its_own_quality_metric() -> None:
    rule = AlarmRule(
        "live-quality",
        PROJECT,
        AlarmMetric.LIVE_QUALITY,
        "<",
        0.72,
        period_seconds=3600.0,
        evaluation_periods=1,
        datapoints_to_alarm=1,
        quality_metric="roc_auc",
        treat_missing_data=TreatMissing.IGNORE,
    )
    request = put_metric_alarm_request(rule, namespace="Conveyor", alarm_actions=["arn:t"])
    assert request["MetricName"] == "LiveQuality"
    assert request["Dimensions"] == [
        {"Name": "Project", "Value": "churn"},
        {"Name": "QualityMetric", "Value": "roc_auc"},
    ]
    assert (request["Statistic"], request["ComparisonOperator"], request["TreatMissingData"]) == (
        "Average",
        "LessThanThreshold",
        "ignore",
    )
    document = cloudwatch.live_quality_metrics(PROJECT, 3, {"roc_auc": 0.8})[0]
    assert document["QualityMetric"] == "roc_auc" and document["LiveQuality"] == 0.8
    with pytest.raises(InvalidInput, match="needs its quality_metric"):
        put_metric_alarm_request(
            rule.with_changes(quality_metric=None), namespace="Conveyor", alarm_actions=[]
        )


def state_change_event(alarm_name: str) -> dict[str, Any]:
    """A "CloudWatch Alarm State Change" event as EventBridge delivers it, shaped as AWS's
    documented example for a metric math alarm."""
    return {
        "version": "0",
        "id": "2dde0eb1-528b-d2d5-9ca6-6d590caf2329",
        "detail-type": "CloudWatch Alarm State Change",
        "source": "aws.cloudwatch",
        "account": "123456789012",
        "time": "2026-01-02T03:04:40Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:cloudwatch:us-east-1:123456789012:alarm:{alarm_name}"],
        "detail": {
            "alarmName": alarm_name,
            "state": {
                "value": "ALARM",
                "reason": (
                    "Threshold Crossed: 3 out of the last 3 datapoints [0.12 (02/01/26 "
                    "03:03:00), 0.08 (02/01/26 03:02:00), 0.3 (02/01/26 03:01:00)] were "
                    "greater than the threshold (0.05) (minimum 3 datapoints for OK -> ALARM "
                    "transition)."
                ),
                "reasonData": '{"version":"1.0","queryDate":"2026-01-02T03:04:40.985+0000"}',
                "timestamp": "2026-01-02T03:04:40.989+0000",
            },
            "previousState": {
                "value": "OK",
                "reason": "Threshold Crossed: no datapoints were received for 3 periods",
                "timestamp": "2026-01-02T02:56:40.985+0000",
            },
            "configuration": {
                "description": "more than 5% of requests answered 5xx for 3 minutes",
                "metrics": [
                    {
                        "id": "errors",
                        "metricStat": {
                            "metric": {
                                "namespace": "Conveyor",
                                "name": "Errors5xx",
                                "dimensions": {"Project": "churn"},
                            },
                            "period": 60,
                            "stat": "Sum",
                        },
                        "returnData": False,
                    },
                    {
                        "id": "requests",
                        "metricStat": {
                            "metric": {
                                "namespace": "Conveyor",
                                "name": "Requests",
                                "dimensions": {"Project": "churn"},
                            },
                            "period": 60,
                            "stat": "Sum",
                        },
                        "returnData": False,
                    },
                    {
                        "id": "rate",
                        "expression": "errors / requests",
                        "label": "share of requests answered 5xx",
                        "returnData": True,
                    },
                ],
            },
        },
    }


def test_a_state_change_event_names_the_project_the_rule_and_the_new_state() -> None:
    change = alarm_state_change_detail(state_change_event("conveyor/churn/error-rate"))
    assert change == AlarmStateChange("churn", "error-rate", AlarmState.ALARM, change.reason)
    project, alarm, state, reason = change
    assert (project, alarm, state) == ("churn", "error-rate", AlarmState.ALARM)
    assert reason.startswith("Threshold Crossed: 3 out of the last 3 datapoints")


def test_a_rule_name_with_a_slash_parses_back_whole() -> None:
    change = alarm_state_change_detail(state_change_event("conveyor/churn/p99/eu"))
    assert (change.project, change.alarm) == ("churn", "p99/eu")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ({"source": "aws.ec2"}, "not a CloudWatch alarm state change"),
        ({"detail-type": "EC2 Instance State-change Notification"}, "not a CloudWatch alarm"),
        ({"alarmName": "ServerCpuTooHigh"}, "not one of conveyor's"),
        ({"alarmName": "conveyor/churn"}, "not one of conveyor's"),
        ({"state": {"value": "PENDING"}}, "alarm state 'PENDING'"),
    ],
)
def test_events_that_are_not_conveyor_alarm_changes_are_refused(
    edit: dict[str, Any], message: str
) -> None:
    event = state_change_event("conveyor/churn/error-rate")
    for key, value in edit.items():
        if key in event:
            event[key] = value
        else:
            event["detail"][key] = value
    with pytest.raises(InvalidInput, match=message):
        alarm_state_change_detail(event)
