"""conveyor's alarm rules in CloudWatch's terms: the ``PutMetricAlarm`` request of a rule on
the EMF metrics :mod:`conveyor.metrics.cloudwatch` emits, the alarm's name, and a "CloudWatch
Alarm State Change" event read back in conveyor's terms. Pure: the calls are
:mod:`conveyor.metrics.cloudwatch_alarms`'.

A rule becomes an alarm named ``<prefix>/<project>/<rule>`` with the same statistic, period,
N of M, comparison and treatment of missing data. A change of state goes to the SNS topic
(people) and, as a "CloudWatch Alarm State Change" event, to EventBridge, where a handler
turns it back into conveyor's terms with :func:`alarm_state_change_detail` (a drift alarm
then retrains).

The rates (``error_rate``, ``client_error_rate``) are metric math: errors / requests, each a
Sum over the period, as the local monitor computes them from the same requests.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from pydantic import BaseModel

from conveyor.aws.events import eventbridge_detail_model
from conveyor.config import DEFAULT_NAME_PREFIX
from conveyor.errors import InvalidInput
from conveyor.metrics.alarm_rules import AlarmMetric, AlarmRule, AlarmState, parse_choice
from conveyor.metrics.cloudwatch import (
    DRIFT_STATUS,
    ERRORS_4XX,
    ERRORS_5XX,
    LATENCY,
    LIVE_QUALITY,
    PROJECT,
    QUALITY_METRIC,
    REQUESTS,
)

DEFAULT_PREFIX = DEFAULT_NAME_PREFIX
MAX_ALARM_NAME_CHARS = 255
MAX_DESCRIPTION_CHARS = 1024
# PutMetricAlarm: a period of a standard-resolution metric is a multiple of 60 s; Period x
# EvaluationPeriods is at most 7 days, and at most 1 day when the period is under an hour.
MAX_EVALUATION_SECONDS = 7 * 86400
MAX_SHORT_EVALUATION_SECONDS = 86400

COMPARISON_OPERATORS = {
    ">": "GreaterThanThreshold",
    ">=": "GreaterThanOrEqualToThreshold",
    "<": "LessThanThreshold",
    "<=": "LessThanOrEqualToThreshold",
}
# One metric each: (metric name, statistic). "p99" is an ExtendedStatistic.
_SINGLE_METRICS = {
    AlarmMetric.LATENCY_P99_MS: (LATENCY, "p99"),
    AlarmMetric.REQUEST_COUNT: (REQUESTS, "Sum"),
    AlarmMetric.DRIFT_STATUS: (DRIFT_STATUS, "Maximum"),
    AlarmMetric.LIVE_QUALITY: (LIVE_QUALITY, "Average"),
}
# Shares of requests: (errors metric, label of the expression).
_RATES = {
    AlarmMetric.ERROR_RATE: (ERRORS_5XX, "share of requests answered 5xx"),
    AlarmMetric.CLIENT_ERROR_RATE: (ERRORS_4XX, "share of requests answered 4xx"),
}
_STANDARD_STATISTICS = {"SampleCount", "Average", "Sum", "Minimum", "Maximum"}


class AlarmStateChange(NamedTuple):
    """A CloudWatch alarm of conveyor's that changed state, in conveyor's terms."""

    project: str
    alarm: str  # conveyor's rule name
    state: AlarmState
    reason: str


class _AlarmStateDetail(BaseModel):
    value: str
    reason: str | None = None


class _AlarmChangeDetail(BaseModel):
    """The fields conveyor reads of a "CloudWatch Alarm State Change" event's detail."""

    alarmName: str
    state: _AlarmStateDetail


def alarm_name(project: str, rule_name: str, name_prefix: str = DEFAULT_PREFIX) -> str:
    """``<prefix>/<project>/<rule>``: project names have no ``/``, so the name parses back."""
    check_prefix(name_prefix)
    name = f"{name_prefix}/{project}/{rule_name}"
    if len(name) > MAX_ALARM_NAME_CHARS:
        raise InvalidInput(
            f"the CloudWatch alarm name {name[:60]!r}… would have {len(name)} characters; "
            f"CloudWatch takes at most {MAX_ALARM_NAME_CHARS}: shorten the alarm's name",
            field="name",
        )
    return name


def put_metric_alarm_request(
    rule: AlarmRule,
    *,
    namespace: str,
    alarm_actions: Sequence[str],
    name_prefix: str = DEFAULT_PREFIX,
) -> dict[str, Any]:
    """The exact ``PutMetricAlarm`` parameters of ``rule``.

    ``alarm_actions`` (the SNS topic) is notified on ALARM and on the return to OK. A rule
    that is not enabled keeps its alarm with its actions off: CloudWatch still shows its state.

    Raises:
        InvalidInput: the rule cannot be a CloudWatch alarm (a period that is not a multiple
            of 60 s, too long an evaluation window, a live quality rule without its metric).
    """
    period = _period(rule)
    actions = list(alarm_actions)
    request: dict[str, Any] = {
        "AlarmName": alarm_name(rule.project, rule.name, name_prefix),
        "AlarmDescription": _description(rule),
        "ActionsEnabled": rule.enabled,
        "AlarmActions": actions,
        "OKActions": actions,
        "EvaluationPeriods": rule.evaluation_periods,
        "DatapointsToAlarm": rule.datapoints_to_alarm,
        "Threshold": float(rule.threshold),
        "ComparisonOperator": COMPARISON_OPERATORS[rule.comparison],
        "TreatMissingData": rule.treat_missing_data.value,
    }
    if rule.metric in _RATES:
        errors, label = _RATES[rule.metric]
        request["Metrics"] = [
            _metric_stat("errors", namespace, errors, _dimensions(rule), period, "Sum"),
            _metric_stat("requests", namespace, REQUESTS, _dimensions(rule), period, "Sum"),
            {"Id": "rate", "Expression": "errors / requests", "Label": label, "ReturnData": True},
        ]
        return request
    metric_name, statistic = _SINGLE_METRICS[rule.metric]
    request.update(
        Namespace=namespace, MetricName=metric_name, Dimensions=_dimensions(rule), Period=period
    )
    if statistic in _STANDARD_STATISTICS:
        request["Statistic"] = statistic
    else:
        request["ExtendedStatistic"] = statistic
    return request


def alarm_state_change_detail(
    event: Mapping[str, Any], *, name_prefix: str = DEFAULT_PREFIX
) -> AlarmStateChange:
    """The project, rule, new state and reason of a "CloudWatch Alarm State Change" event
    that EventBridge delivered.

    Raises:
        InvalidInput: not such an event, or the alarm is not one of conveyor's.
    """
    detail = eventbridge_detail_model(
        event,
        "aws.cloudwatch",
        "CloudWatch Alarm State Change",
        _AlarmChangeDetail,
        what="a CloudWatch alarm state change",
        event_name="the alarm state change event",
    )
    project, rule = parse_alarm_name(detail.alarmName, name_prefix)
    value = parse_choice(AlarmState, detail.state.value, what="alarm state", field="state")
    return AlarmStateChange(project, rule, value, detail.state.reason or "")


def parse_alarm_name(name: str, name_prefix: str) -> tuple[str, str]:
    prefix, _, rest = name.partition("/")
    project, _, rule = rest.partition("/")
    if prefix != name_prefix or not project or not rule:
        raise InvalidInput(
            f"the alarm {name!r} is not one of conveyor's (<{name_prefix}>/<project>/<alarm>)",
            field="alarmName",
        )
    return project, rule


def _period(rule: AlarmRule) -> int:
    seconds = rule.period_seconds
    if seconds % 60 != 0:
        raise InvalidInput(
            f"alarm {rule.name!r} has a period of {seconds:g} s; CloudWatch periods of "
            "these metrics are multiples of 60 seconds",
            field="period_seconds",
        )
    period = int(seconds)
    window = period * rule.evaluation_periods
    limit = MAX_SHORT_EVALUATION_SECONDS if period < 3600 else MAX_EVALUATION_SECONDS
    if window > limit:
        raise InvalidInput(
            f"alarm {rule.name!r} looks at {rule.evaluation_periods} periods of {period} s "
            f"({window} s); CloudWatch evaluates at most {limit} s "
            f"({'1 day for periods under an hour' if limit == 86400 else '7 days'})",
            field="evaluation_periods",
        )
    return period


def _dimensions(rule: AlarmRule) -> list[dict[str, str]]:
    dimensions = [{"Name": PROJECT, "Value": rule.project}]
    if rule.metric is AlarmMetric.LIVE_QUALITY:
        if not rule.quality_metric:
            raise InvalidInput(
                f"the live quality alarm {rule.name!r} needs its quality_metric (e.g. "
                "roc_auc) on CloudWatch, where each live metric is a metric of its own",
                field="quality_metric",
            )
        dimensions.append({"Name": QUALITY_METRIC, "Value": rule.quality_metric})
    return dimensions


def _metric_stat(
    query_id: str,
    namespace: str,
    metric_name: str,
    dimensions: list[dict[str, str]],
    period: int,
    stat: str,
) -> dict[str, Any]:
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {"Namespace": namespace, "MetricName": metric_name, "Dimensions": dimensions},
            "Period": period,
            "Stat": stat,
        },
        "ReturnData": False,
    }


def _description(rule: AlarmRule) -> str:
    text = f"{rule.description} ({rule.metric.value} {rule.condition})".strip()
    return text[:MAX_DESCRIPTION_CHARS]


def check_prefix(name_prefix: str) -> None:
    if not name_prefix or "/" in name_prefix:
        raise InvalidInput(
            f"the alarm name prefix {name_prefix!r} must be non-empty and without '/'",
            field="name_prefix",
        )
