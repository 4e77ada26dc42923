"""Alarm rules and their evaluation, with CloudWatch's semantics, as pure functions: the
vocabulary of the alarms half of the Metrics/Alarms port (the local monitor evaluates them,
``cloudwatch_alarms`` makes them CloudWatch alarms).

An alarm looks at the last ``evaluation_periods`` (M) datapoints of one metric and goes to
ALARM when at least ``datapoints_to_alarm`` (N) of them breach the threshold. Missing
datapoints are treated as the rule says (``treat_missing_data``): ``missing`` (they do not
count; with none at all the state is INSUFFICIENT_DATA), ``ignore`` (as ``missing``, but
with none at all the current state is kept), ``breaching`` or ``notBreaching``.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import urlparse

from conveyor.errors import InvalidInput
from conveyor.types import JsonDict


class AlarmState(StrEnum):
    OK = "OK"
    ALARM = "ALARM"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


class AlarmMetric(StrEnum):
    LATENCY_P99_MS = "latency_p99_ms"
    ERROR_RATE = "error_rate"  # share of requests answered 5xx (a 4xx is the caller's error)
    CLIENT_ERROR_RATE = "client_error_rate"  # share answered 4xx, kept apart as CloudWatch does
    REQUEST_COUNT = "request_count"
    DRIFT_STATUS = "drift_status"  # 1 for a drift check that found DRIFT, 0 for OK
    LIVE_QUALITY = "live_quality"  # a live metric from ground truth (feedback)


_Choice = TypeVar("_Choice", bound=StrEnum)


class TreatMissing(StrEnum):
    MISSING = "missing"
    IGNORE = "ignore"
    BREACHING = "breaching"
    NOT_BREACHING = "notBreaching"


_COMPARISONS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    ">": (operator.gt, "greater than"),
    ">=": (operator.ge, "greater than or equal to"),
    "<": (operator.lt, "less than"),
    "<=": (operator.le, "less than or equal to"),
}
ACTION_TYPES = ("log", "webhook", "retrain")


@dataclass(frozen=True)
class AlarmRule:
    """One alarm of one project: what is watched, when it fires, and what it does.

    ``quality_metric`` (live_quality only) names the live metric (``roc_auc``, ``accuracy``,
    ``rmse`` …); None takes the headline one. ``actions`` run when the alarm goes into ALARM:
    ``{"type": "log"}``, ``{"type": "webhook", "url": ...}``, ``{"type": "retrain"}``.
    """

    name: str
    project: str
    metric: AlarmMetric
    comparison: str
    threshold: float
    period_seconds: float = 60.0
    evaluation_periods: int = 3
    datapoints_to_alarm: int = 3
    treat_missing_data: TreatMissing = TreatMissing.MISSING
    actions: tuple[dict[str, str], ...] = ({"type": "log"},)
    enabled: bool = True
    quality_metric: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        validate_rule(self)

    def to_dict(self) -> JsonDict:
        return {
            "name": self.name,
            "project": self.project,
            "metric": self.metric.value,
            "comparison": self.comparison,
            "threshold": self.threshold,
            "period_seconds": self.period_seconds,
            "evaluation_periods": self.evaluation_periods,
            "datapoints_to_alarm": self.datapoints_to_alarm,
            "treat_missing_data": self.treat_missing_data.value,
            "actions": [dict(a) for a in self.actions],
            "enabled": self.enabled,
            "quality_metric": self.quality_metric,
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, data: JsonDict) -> AlarmRule:
        return cls(
            name=data["name"],
            project=data["project"],
            metric=parse_choice(AlarmMetric, data["metric"], what="alarm metric", field="metric"),
            comparison=data["comparison"],
            threshold=float(data["threshold"]),
            period_seconds=float(data.get("period_seconds", 60.0)),
            evaluation_periods=int(data.get("evaluation_periods", 3)),
            datapoints_to_alarm=int(data.get("datapoints_to_alarm", 3)),
            treat_missing_data=parse_choice(
                TreatMissing,
                data.get("treat_missing_data", "missing"),
                what="treat_missing_data",
                field="treat_missing_data",
            ),
            actions=tuple(dict(a) for a in data.get("actions") or ()),
            enabled=bool(data.get("enabled", True)),
            quality_metric=data.get("quality_metric"),
            description=str(data.get("description") or ""),
        )

    def with_changes(self, **changes: Any) -> AlarmRule:
        return replace(self, **changes)

    @property
    def condition(self) -> str:
        """``> 500 for 3 of 3 periods of 60s``: the rule in one line for people."""
        return (
            f"{self.comparison} {self.threshold:g} for {self.datapoints_to_alarm} of "
            f"{self.evaluation_periods} periods of {self.period_seconds:g}s"
        )


def parse_choice(kind: type[_Choice], value: str, *, what: str, field: str) -> _Choice:
    """``value`` as a member of the enum ``kind`` (``AlarmMetric``, ``TreatMissing``, ...).

    Raises:
        InvalidInput: ``value`` is none of them; the message (``unknown <what> ...``) lists
            the valid values, and ``field`` names the input.
    """
    try:
        return kind(value)
    except ValueError:
        valid = ", ".join(member.value for member in kind)
        raise InvalidInput(f"unknown {what} {value!r}; valid: {valid}", field=field) from None


def validate_rule(rule: AlarmRule) -> None:
    """Raises:
    InvalidInput: a field a person can fix, named in the error.
    """
    if not rule.name or len(rule.name) > 255 or any(c in rule.name for c in "#\n\t"):
        raise InvalidInput(
            f"alarm name {rule.name!r} must be 1-255 characters without '#' or line breaks",
            field="name",
        )
    if rule.comparison not in _COMPARISONS:
        raise InvalidInput(
            f"comparison {rule.comparison!r} is not one of {', '.join(_COMPARISONS)}",
            field="comparison",
        )
    if not rule.period_seconds > 0:
        raise InvalidInput("the period must be more than 0 seconds", field="period_seconds")
    if rule.evaluation_periods < 1:
        raise InvalidInput("evaluation_periods must be 1 or more", field="evaluation_periods")
    if not 1 <= rule.datapoints_to_alarm <= rule.evaluation_periods:
        raise InvalidInput(
            f"datapoints_to_alarm must be between 1 and evaluation_periods "
            f"({rule.evaluation_periods}), not {rule.datapoints_to_alarm}",
            field="datapoints_to_alarm",
        )
    for action in rule.actions:
        kind = action.get("type")
        if kind not in ACTION_TYPES:
            raise InvalidInput(
                f"action type {kind!r} is not one of {', '.join(ACTION_TYPES)}", field="actions"
            )
        if kind == "webhook":
            url = urlparse(str(action.get("url") or ""))
            if url.scheme not in ("http", "https") or not url.netloc:
                raise InvalidInput(
                    f"a webhook needs an http(s) URL, not {action.get('url')!r}", field="url"
                )


@dataclass(frozen=True)
class Evaluation:
    """The outcome of one evaluation: the state, CloudWatch-style reason and the evidence."""

    state: AlarmState
    reason: str
    datapoints: tuple[float | None, ...]
    breaching: int


def breaches(comparison: str, value: float, threshold: float) -> bool:
    return _COMPARISONS[comparison][0](value, threshold)


def evaluate(
    rule: AlarmRule, datapoints: Sequence[float | None], current: AlarmState
) -> Evaluation:
    """The state ``rule`` is in given its last M datapoints (oldest first, None = missing).

    ALARM when at least N datapoints breach. OK when the datapoints there are rule ALARM out
    even if every missing one breached. Otherwise the data cannot decide: INSUFFICIENT_DATA
    when nothing at all was there (``missing``) or the current state is kept (a partial
    window, or ``ignore``).
    """
    points = tuple(datapoints)[-rule.evaluation_periods :]
    points = (None,) * (rule.evaluation_periods - len(points)) + points
    treat = rule.treat_missing_data
    breached = 0
    missing = 0
    for value in points:
        if value is None:
            if treat is TreatMissing.BREACHING:
                breached += 1
            elif treat is not TreatMissing.NOT_BREACHING:
                missing += 1
        elif breaches(rule.comparison, value, rule.threshold):
            breached += 1
    words = _COMPARISONS[rule.comparison][1]
    shown = _format_points(points)
    needed = rule.datapoints_to_alarm
    if breached >= needed:
        reason = (
            f"Threshold Crossed: {breached} out of the last {len(points)} datapoints {shown} "
            f"{'was' if breached == 1 else 'were'} {words} the threshold ({rule.threshold:g}) "
            f"(minimum {needed} datapoint{'s' if needed != 1 else ''} for ALARM)"
        )
        return Evaluation(AlarmState.ALARM, reason, points, breached)
    if breached + missing < needed:
        # Not CloudWatch's "Threshold Crossed", which it writes in OK too and reads as trouble.
        reason = (
            f"Within the threshold: {breached} of the last {len(points)} datapoints {shown} "
            f"{'was' if breached == 1 else 'were'} {words} {rule.threshold:g}; ALARM takes "
            f"{needed}" + ("; '-' is a period with no data" if None in points else "")
        )
        return Evaluation(AlarmState.OK, reason, points, breached)
    if missing == len(points) and treat is TreatMissing.MISSING:
        reason = (
            f"Insufficient Data: {missing} datapoint{'s' if missing != 1 else ''} "
            f"{'were' if missing != 1 else 'was'} unknown"
        )
        return Evaluation(AlarmState.INSUFFICIENT_DATA, reason, points, breached)
    reason = (
        f"Unchanged: {breached} out of the last {len(points)} datapoints {shown} breached and "
        f"{missing} {'were' if missing != 1 else 'was'} unknown, which cannot decide "
        f"(minimum {needed} for ALARM)"
    )
    return Evaluation(current, reason, points, breached)


def _format_points(points: Sequence[float | None]) -> str:
    return "[" + ", ".join("-" if p is None else f"{round(p, 4):g}" for p in points) + "]"
