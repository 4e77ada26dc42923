"""``on_upload`` with S3's notification on moto: what makes a run, what is ignored, and a
run that cannot start failing with the reason a person needs."""

from __future__ import annotations

from pathlib import Path

import pytest

from conveyor.aws.clients import client
from conveyor.errors import InvalidInput
from tests.integration.aws.lambda_world import (
    PREFIX,
    lambda_env_fixture,  # noqa: F401 (the lambda_env fixture)
    s3_event,
    upload,
)


def test_objects_that_are_not_uploads_are_ignored(lambda_env: Path) -> None:
    from conveyor.aws import handlers, runtime
    from conveyor.pipeline.runs import RunStore

    assert handlers.on_upload(upload("loose.csv", b"a,b\n1,2\n")) == {"runs": []}
    assert handlers.on_upload(upload("churn/.hidden.csv", b"a,b\n1,2\n")) == {"runs": []}
    client("s3").create_bucket(Bucket="someone-else")
    assert handlers.on_upload(s3_event("someone-else", "churn/data.csv", "0" * 32)) == {"runs": []}
    gone = s3_event(f"{PREFIX}-raw", "churn/deleted.csv", "0" * 32)
    assert handlers.on_upload(gone) == {"runs": []}  # deleted before the event arrived
    assert RunStore(runtime.ports().table).list_runs() == []
    assert client("sagemaker").list_training_jobs()["TrainingJobSummaries"] == []


def test_an_upload_for_no_project_fails_its_run_saying_how_to_make_one(lambda_env: Path) -> None:
    from conveyor.aws import handlers, runtime
    from conveyor.pipeline.runs import RunStore

    started = handlers.on_upload(upload("fraud/2026.csv", b"amount,label\n1,0\n"))
    assert started["runs"][0]["state"] == "FAILED"

    run = RunStore(runtime.ports().table).get(started["runs"][0]["run_id"])
    assert run.failure_reason is not None
    assert "no project 'fraud': create it with `conveyor project create fraud" in (
        run.failure_reason
    )
    assert client("sagemaker").list_training_jobs()["TrainingJobSummaries"] == []


def test_a_failed_upload_delivered_twice_makes_one_run(lambda_env: Path) -> None:
    from conveyor.aws import handlers, runtime
    from conveyor.pipeline.runs import RunStore

    event = upload("fraud/2026.csv", b"amount,label\n1,0\n")
    first = handlers.on_upload(event)["runs"][0]
    again = handlers.on_upload(event)["runs"][0]  # S3 delivers at least once
    assert again == first and first["state"] == "FAILED"
    assert [r.run_id for r in RunStore(runtime.ports().table).list_runs()] == [first["run_id"]]


def test_an_event_that_is_not_s3s_is_refused_by_name(lambda_env: Path) -> None:
    from conveyor.aws import handlers

    with pytest.raises(InvalidInput, match="not an S3 event notification"):
        handlers.on_upload({"detail-type": "Scheduled Event"})
    with pytest.raises(InvalidInput, match=r"Records\[0\] is not an S3 record"):
        handlers.on_upload({"Records": [{"eventSource": "aws:sqs"}]})
