"""A run's recorded trigger in words, as the CLI, the API and the dashboard show it."""

from __future__ import annotations

from conveyor.pipeline.cause import run_cause

KEY = "churn/retrain-20261207-042731.csv"


def test_an_upload_names_its_file_and_who_sent_it() -> None:
    cause = run_cause({"type": "upload", "source": "cli"}, "churn/churn.csv")
    assert cause.kind == "upload" and not cause.retrain
    assert cause.short == "upload churn.csv"
    assert cause.sentence == "upload of churn.csv (by the CLI)"
    assert cause.trained_by == "an upload of churn.csv (by the CLI)"
    # Runs recorded before triggers were kept read as uploads too.
    assert run_cause(None, "churn/old.csv").sentence == "upload of old.csv"


def test_a_drift_retrain_names_the_drifted_features_and_when() -> None:
    trigger = {
        "type": "alarm",
        "alarm": "drift",
        "metric": "drift_status",
        "reason": "Threshold Crossed: 1 out of the last 1 datapoints [1.0] …",
        "time": "2026-12-07T04:27:31Z",
        "feedback_rows": 0,
        "drift": {"features": ["age", "occupation"], "checked_at": "2026-12-07T04:27:02Z"},
    }
    cause = run_cause(trigger, KEY)
    assert cause.kind == "drift" and cause.retrain
    assert cause.short == "retrain: drift on age, occupation"
    assert cause.sentence.startswith(
        "retrained because drift on age, occupation at 2026-12-07 04:27 UTC "
        "(drift check of 2026-12-07 04:27:02 UTC)"
    )
    assert cause.trained_by.startswith("a retrain because drift on age, occupation")
    assert cause.to_dict()["at"] == "2026-12-07T04:27:31Z"


def test_a_quality_retrain_says_how_far_it_fell() -> None:
    trigger = {
        "type": "alarm",
        "alarm": "live-quality",
        "metric": "live_quality",
        "comparison": "<",
        "threshold": 0.81,
        "quality_metric": "roc_auc",
        "value": 0.7234,
        "at": "2026-12-07T04:27:31Z",
        "feedback_rows": 300,
    }
    cause = run_cause(trigger, KEY)
    assert cause.kind == "quality" and cause.short == "retrain: live roc_auc below 0.81"
    assert cause.sentence == (
        "retrained because live roc_auc fell below 0.81 (it was 0.7234) at 2026-12-07 04:27 UTC "
        "(alarm live-quality); trained on the latest upload plus 300 labelled inference(s)"
    )


def test_a_person_a_schedule_and_any_other_alarm() -> None:
    manual = run_cause({"type": "manual", "reason": "quarterly refresh"}, KEY)
    assert manual.short == "retrain: by hand"
    assert manual.sentence.startswith(
        "retrained because a person asked (conveyor retrain): quarterly refresh;"
    )
    assert (
        "requested by hand"
        not in run_cause({"type": "manual", "reason": "requested by hand"}, KEY).sentence
    )
    schedule = run_cause({"type": "schedule", "reason": "no run for 3600 s"}, KEY)
    assert schedule.short == "retrain: on schedule"
    assert schedule.sentence.startswith("retrained on schedule (no run for 3600 s)")
    other = run_cause({"type": "alarm", "alarm": "latency-p99", "reason": "p99 high"}, KEY)
    assert other.kind == "alarm" and other.short == "retrain: alarm latency-p99"
    assert other.sentence.startswith("retrained because alarm latency-p99 went to ALARM: p99 high")
