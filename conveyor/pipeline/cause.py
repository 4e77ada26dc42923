"""Why a run exists, in words: the one place a run's recorded trigger becomes a sentence.

A run records what started it in ``report["trigger"]`` (an upload, or a retrain asked by an
alarm, a person or a schedule; a retrain by a drift alarm also keeps the drifted features).
The CLI, the HTTP API and the dashboard all show :func:`run_cause`, so they say the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from conveyor.types import Run, from_iso

# Who announced an upload (the event's ``source``), as a person would say it.
_SOURCES = {
    "cli": "the CLI",
    "api": "the HTTP API",
    "watch": "the raw/ folder watch",
    "s3": "an S3 notification",
}
_WHEN = {"<": "fell below", "<=": "fell to", ">": "rose above", ">=": "reached"}
_SIDE = {"<": "below", "<=": "at or below", ">": "above", ">=": "at or above"}
DEFAULT_MANUAL_REASON = "requested by hand"  # `conveyor retrain` without --reason


@dataclass(frozen=True)
class RunCause:
    """What started a run.

    ``kind`` is one of upload, drift, quality, alarm, manual, schedule; ``short`` fits a table
    cell ("retrain: drift on age, occupation"); ``sentence`` says it in full ("retrained
    because drift on age, occupation at 04:27 UTC (drift check …)").
    """

    kind: str
    short: str
    sentence: str
    at: str | None = None

    @property
    def retrain(self) -> bool:
        return self.kind != "upload"

    @property
    def trained_by(self) -> str:
        """For a version: "a retrain because drift on …" or "an upload of churn.csv …"."""
        if self.retrain:
            return "a retrain" + self.sentence.removeprefix("retrained")
        return f"an {self.sentence}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "retrain": self.retrain,
            "short": self.short,
            "sentence": self.sentence,
            "at": self.at,
        }


def cause_of(run: Run) -> RunCause:
    """The cause of ``run``, from its recorded trigger and its raw file."""
    return run_cause(run.report.get("trigger"), run.raw.key)


def run_cause(trigger: Mapping[str, Any] | None, raw_key: str) -> RunCause:
    """Turn a run's recorded trigger into words.

    Args:
        trigger: ``report["trigger"]`` of the run (None or empty for runs made before
            triggers were kept: an upload).
        raw_key: the run's key in raw/ (``project/file.csv``).

    Returns:
        The cause; an unknown trigger type still reads as a retrain with its reason.
    """
    trigger = trigger or {}
    kind = trigger.get("type") or "upload"
    file = raw_key.split("/", 1)[-1]
    if kind == "upload":
        source = _SOURCES.get(str(trigger.get("source")))
        by = f" (by {source})" if source else ""
        return RunCause("upload", f"upload {file}", f"upload of {file}{by}")
    at = trigger.get("time") or trigger.get("at")
    feedback = int(trigger.get("feedback_rows") or 0)
    data = f"; trained on the latest upload plus {feedback} labelled inference(s)"
    data = data if feedback else "; trained on the latest upload again"
    reason = str(trigger.get("reason") or "")
    if kind == "manual":
        said = f": {reason}" if reason and reason != DEFAULT_MANUAL_REASON else ""
        sentence = f"retrained because a person asked (conveyor retrain){said}"
        return RunCause("manual", "retrain: by hand", sentence + data, at)
    if kind == "schedule":
        said = f" ({reason})" if reason else ""
        return RunCause(
            "schedule", "retrain: on schedule", f"retrained on schedule{said}{data}", at
        )
    if kind == "alarm":
        return _alarm_cause(trigger, at, reason, data)
    return RunCause(kind, f"retrain: {kind}", f"retrained because {reason or kind}{data}", at)


def _alarm_cause(trigger: Mapping[str, Any], at: str | None, reason: str, data: str) -> RunCause:
    alarm = trigger.get("alarm") or "?"
    when = f" at {_clock(at)}" if at else ""
    drift = trigger.get("drift") or {}
    features = list(drift.get("features") or [])
    if features:
        names = ", ".join(features)
        checked = drift.get("checked_at")
        check = f" (drift check of {_clock(checked, seconds=True)})" if checked else ""
        sentence = f"retrained because drift on {names}{when}{check}"
        return RunCause("drift", f"retrain: drift on {names}", sentence + data, at)
    metric = trigger.get("metric")
    threshold = trigger.get("threshold")
    comparison = str(trigger.get("comparison"))
    if metric != "drift_status" and isinstance(threshold, int | float) and comparison in _WHEN:
        quality = metric == "live_quality"
        what = f"live {trigger.get('quality_metric') or 'quality'}" if quality else str(metric)
        value = trigger.get("value")
        seen = f" (it was {value:.4g})" if isinstance(value, int | float) else ""
        sentence = (
            f"retrained because {what} {_WHEN[comparison]} {threshold:g}{seen}{when} "
            f"(alarm {alarm})"
        )
        short = f"retrain: {what} {_SIDE[comparison]} {threshold:g}"
        return RunCause("quality" if quality else "alarm", short, sentence + data, at)
    # An alarm recorded without its evidence (a run from before it was kept).
    kind = "drift" if metric == "drift_status" else "alarm"
    short = "retrain: drift" if kind == "drift" else f"retrain: alarm {alarm}"
    said = f": {reason}" if reason else ""
    sentence = f"retrained because alarm {alarm} went to ALARM{when}{said}"
    return RunCause(kind, short, sentence + data, at)


def _clock(at: str, *, seconds: bool = False) -> str:
    try:
        moment = from_iso(at)
    except ValueError:
        return at
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC" if seconds else f"{moment:%Y-%m-%d %H:%M} UTC"
