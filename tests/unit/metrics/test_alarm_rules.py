"""N-of-M evaluation and missing data, CloudWatch's way, on synthetic datapoints."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.config import Settings
from conveyor.errors import InvalidInput
from conveyor.metrics.alarm_rules import (
    AlarmMetric,
    AlarmRule,
    AlarmState,
    TreatMissing,
    evaluate,
)
from conveyor.monitoring.alarms.defaults import default_rules
from conveyor.wiring import build_ports

OK, ALARM, NODATA = AlarmState.OK, AlarmState.ALARM, AlarmState.INSUFFICIENT_DATA
X, G, _ = 700.0, 100.0, None  # breaching, good (not breaching), missing (threshold 500)


def rule(n: int = 3, m: int = 3, treat: TreatMissing = TreatMissing.MISSING) -> AlarmRule:
    return AlarmRule(
        "latency-p99",
        "churn",
        AlarmMetric.LATENCY_P99_MS,
        ">",
        500.0,
        evaluation_periods=m,
        datapoints_to_alarm=n,
        treat_missing_data=treat,
    )


@pytest.mark.parametrize(
    ("n", "m", "points", "current", "expected"),
    [
        (3, 3, [X, X, X], OK, ALARM),
        (3, 3, [G, X, X], ALARM, OK),
        (2, 3, [X, G, X], OK, ALARM),
        (2, 3, [G, G, X], ALARM, OK),
        (1, 1, [X], OK, ALARM),
        (3, 5, [X, G, X, G, X], OK, ALARM),
        (3, 5, [X, X, X, G, G, G, G, G], OK, OK),  # only the last M count
    ],
    ids=["3 of 3", "2 of 3 is not 3", "2 of 3", "1 of 3", "1 of 1", "3 of 5", "old breaches"],
)
def test_n_of_m_datapoints_decide_the_state(
    n: int, m: int, points: list[float], current: AlarmState, expected: AlarmState
) -> None:
    assert evaluate(rule(n, m), points, current).state is expected


@pytest.mark.parametrize(
    ("treat", "points", "current", "expected"),
    [
        (TreatMissing.MISSING, [_, _, _], OK, NODATA),
        (TreatMissing.IGNORE, [_, _, _], ALARM, ALARM),
        (TreatMissing.BREACHING, [_, _, _], OK, ALARM),
        (TreatMissing.NOT_BREACHING, [_, _, _], ALARM, OK),
        (TreatMissing.MISSING, [_, G, _], ALARM, OK),  # cannot reach 3 even if all breached
        (TreatMissing.MISSING, [_, X, X], OK, OK),  # could be 3: undecided, state kept
        (TreatMissing.MISSING, [_, X, X], NODATA, NODATA),
        (TreatMissing.BREACHING, [_, X, X], OK, ALARM),
        (TreatMissing.NOT_BREACHING, [_, X, X], ALARM, OK),
        (TreatMissing.IGNORE, [_, X, X], ALARM, ALARM),
    ],
    ids=[
        "missing: nothing is insufficient",
        "ignore: nothing keeps the state",
        "breaching: nothing alarms",
        "notBreaching: nothing is OK",
        "missing: one OK decides OK",
        "missing: undecided keeps OK",
        "missing: undecided keeps INSUFFICIENT_DATA",
        "breaching fills the gap",
        "notBreaching fills the gap",
        "ignore: undecided keeps ALARM",
    ],
)
def test_missing_datapoints_are_treated_as_the_rule_says(
    treat: TreatMissing, points: list[float | None], current: AlarmState, expected: AlarmState
) -> None:
    assert evaluate(rule(treat=treat), points, current).state is expected


def test_reason_names_the_datapoints_and_the_threshold_like_cloudwatch() -> None:
    outcome = evaluate(rule(), [612.0, 580.1, 700.2], OK)
    assert outcome.reason.startswith(
        "Threshold Crossed: 3 out of the last 3 datapoints [612, 580.1, 700.2] were greater "
        "than the threshold (500)"
    )
    assert outcome.datapoints == (612.0, 580.1, 700.2)
    assert evaluate(rule(), [_, _, _], OK).reason == "Insufficient Data: 3 datapoints were unknown"


def test_an_ok_reason_does_not_read_as_trouble() -> None:
    outcome = evaluate(rule(n=2, treat=TreatMissing.NOT_BREACHING), [_, _, G], OK)
    assert outcome.state is OK
    assert outcome.reason == (
        "Within the threshold: 0 of the last 3 datapoints [-, -, 100] were greater than 500; "
        "ALARM takes 2; '-' is a period with no data"
    )


def test_idle_traffic_keeps_the_default_latency_and_error_alarms_ok(tmp_path: Path) -> None:
    ports = build_ports(Settings(home=tmp_path / "home"))
    rules = {r.name: r for r in default_rules("churn", ports)}
    for name in ("latency-p99", "error-rate"):
        idle = evaluate(rules[name], [_, _, _], OK)
        assert idle.state is OK, (name, idle.reason)  # no flip to INSUFFICIENT_DATA


def test_fewer_datapoints_than_periods_count_as_missing_at_the_front() -> None:
    outcome = evaluate(rule(), [X], OK)
    assert outcome.datapoints == (None, None, X)
    assert outcome.state is OK  # undecided: kept


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"comparison": "=="}, "comparison"),
        ({"datapoints_to_alarm": 4}, "datapoints_to_alarm"),
        ({"evaluation_periods": 0}, "evaluation_periods"),
        ({"period_seconds": 0}, "period_seconds"),
        ({"actions": ({"type": "page"},)}, "actions"),
        ({"actions": ({"type": "webhook", "url": "ftp://x"},)}, "url"),
        ({"name": "a#b"}, "name"),
    ],
    ids=["comparison", "N > M", "M = 0", "period 0", "action type", "webhook url", "name"],
)
def test_a_bad_rule_is_refused_naming_the_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        rule().with_changes(**changes)
    assert caught.value.field == field


def test_a_rule_round_trips_through_its_stored_form() -> None:
    original = rule(2, 5, TreatMissing.BREACHING).with_changes(
        actions=({"type": "log"}, {"type": "webhook", "url": "http://127.0.0.1:9/hook"})
    )
    assert AlarmRule.from_dict(original.to_dict()) == original
