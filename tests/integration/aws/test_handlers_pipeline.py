"""The Lambda handlers of the pipeline on moto, from an upload to a served version: each
called with AWS's own payload, SageMaker's part of the job played by the pipeline job's
real entrypoint (moto runs no code), the endpoint's answers given by conveyor's real model
server behind a named fake at the sagemaker-runtime boundary."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from conveyor.aws.clients import client
from tests.integration.aws.lambda_world import (
    CHURN,
    PREFIX,
    FakeConveyorRuntime,
    RecordingSageMaker,
    lambda_env_fixture,  # noqa: F401 (the lambda_env fixture)
    load_event,
    run_job_as_sagemaker,
    run_pipeline_job_as_sagemaker,
    upload,
)
from tests.integration.aws.sagemaker_fakes import FakeUpdateEndpointClient, clients_with

ROW = {
    "age": 41,
    "plan": "pro",
    "region": "east",
    "monthly charges": 70.5,
    "tenure months": 12,
    "support calls": 3,
    "has partner": "yes",
    "signup date": "2021-03-04",
}


def job_event(run: Any, status: str, reason: str | None = None) -> dict[str, Any]:
    event = load_event(
        "sagemaker_training_job_state_change",
        job_name=run.job_name,
        status=status,
        failure_reason=reason,
        run_id=run.run_id,
        project=run.project,
    )
    if reason is None:
        del event["detail"]["FailureReason"]  # SageMaker sends it only for a failed job
    return event


def api_event(
    project: str, body: object, *, request_id: str, query: dict[str, str] | None = None
) -> dict[str, Any]:
    event = load_event(
        "apigateway_rest_proxy",
        project=project,
        content_type="application/json",
        request_id=request_id,
        body=body if isinstance(body, str) else json.dumps(body),
    )
    if query:  # as API Gateway's proxy event carries ?name=value (decoded)
        event["queryStringParameters"] = query
        event["multiValueQueryStringParameters"] = {k: [v] for k, v in query.items()}
    return event


def test_an_upload_is_trained_registered_deployed_served_and_checked(
    lambda_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from conveyor.aws import handlers, runtime
    from conveyor.inference.records import list_inferences
    from conveyor.pipeline.runs import RunStore
    from conveyor.projects import create_project

    ports = runtime.ports()
    update = FakeUpdateEndpointClient()
    ports.endpoint.clients = clients_with(sagemaker=update)  # type: ignore[attr-defined]
    recorder = RecordingSageMaker()
    ports.jobs.clients = clients_with(sagemaker=recorder)  # type: ignore[attr-defined]
    create_project(ports.table, "churn", target="churned")
    runs = RunStore(ports.table)
    sagemaker = client("sagemaker")

    # The upload's notification starts the run and its pipeline job.
    event = upload("churn/customers 2026.csv", CHURN.read_bytes())
    started = handlers.on_upload(event)
    assert [r["state"] for r in started["runs"]] == ["PREPROCESSING"]
    run = runs.get(started["runs"][0]["run_id"])
    assert run.raw.key == "churn/customers 2026.csv"  # the key URL-decoded
    job = sagemaker.describe_training_job(TrainingJobName=run.job_name)
    assert recorder.created[0]["Environment"]["CONVEYOR_ENTRYPOINT"] == (
        "conveyor.aws.pipeline_job"
    )
    assert job["HyperParameters"]["run_id"] == run.run_id
    assert job["HyperParameters"]["object_store_uri"] == f"s3://{PREFIX}"
    assert job["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"] == (
        f"s3://{PREFIX}-raw/churn/customers 2026.csv"
    )

    # S3 delivers at least once: the same notification again starts nothing.
    again = handlers.on_upload(event)
    assert again["runs"] == [{"run_id": run.run_id, "state": "PREPROCESSING"}]
    assert len(sagemaker.list_training_jobs()["TrainingJobSummaries"]) == 1
    assert len(recorder.created) == 1

    # SageMaker runs the job: preprocess, train, evaluate.
    assert run_pipeline_job_as_sagemaker(run.job_name, lambda_env / "ml") == 0
    run = runs.get(run.run_id)
    assert run.state.value == "EVALUATING"
    assert set(run.stages) == {"preprocess", "train", "evaluate"}
    assert run.report["rows_read"] == 5000

    # The job's Completed event: registered, approved by the gate, deployed.
    capsys.readouterr()
    completed = handlers.on_training_job_state_change(job_event(run, "Completed"))
    assert completed["state"] == "DEPLOYED" and completed["model_version"] == 1
    emitted = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    assert {(d["Stage"], d["outcome"]) for d in emitted if "StageDuration" in d} == {
        ("preprocess", "success"),
        ("train", "success"),
        ("evaluate", "success"),
    }
    run = runs.get(run.run_id)
    assert run.report["gate"]["status"] == "Approved"
    assert run.report["metrics"]["test"]["roc_auc"] > 0.8
    packages = sagemaker.list_model_packages(ModelPackageGroupName="conveyor-churn")
    assert [p["ModelApprovalStatus"] for p in packages["ModelPackageSummaryList"]] == ["Approved"]
    assert sagemaker.describe_endpoint(EndpointName="conveyor-churn")["EndpointStatus"] == (
        "InService"
    )
    assert ports.registry.get_aliases("churn") == {"champion": 1}
    # Delivered again: nothing twice.
    assert handlers.on_training_job_state_change(job_event(run, "Completed")) == completed
    assert "StageDuration" not in capsys.readouterr().out
    assert (
        len(
            sagemaker.list_model_packages(ModelPackageGroupName="conveyor-churn")[
                "ModelPackageSummaryList"
            ]
        )
        == 1
    )
    # SageMaker's event of the gate's approval: already served, nothing to do.
    approved = load_event(
        "sagemaker_model_package_state_change", group="conveyor-churn", approval_status="Approved"
    )
    assert handlers.on_model_package_state_change(approved)["deployed"] is False

    with FakeConveyorRuntime("churn", lambda_env) as model_server:
        ports.endpoint.clients = clients_with(  # type: ignore[attr-defined]
            sagemaker=update, sagemaker_runtime=model_server
        )
        answer = handlers.predict(api_event("churn", {"instances": [ROW]}, request_id="req-1"))
        assert answer["statusCode"] == 200
        body = json.loads(answer["body"])
        # API Gateway's request id, tagged so that /feedback can verify it
        assert body["model_version"] == 1 and body["request_id"].startswith("req-1-")
        assert len(body["predictions"]) == 1 and body["classes"] == ["no", "yes"]
        assert len(model_server.requests) == 1

        # A bad row: the inference container's own answer, and the endpoint is not called.
        bad = {"instances": [{**ROW, "age": "forty"}]}
        refused = handlers.predict(api_event("churn", bad, request_id="req-2"))
        local = model_server.client.post("/invocations", json=bad)
        assert refused["statusCode"] == local.status_code == 400
        assert json.loads(refused["body"]) == local.json()
        assert json.loads(refused["body"])["field"] == "age"
        assert len(model_server.requests) == 1

        records = list_inferences(ports.table, "churn")
        assert [(r.request_id[:6], r.status) for r in records] == [("req-2-", 400), ("req-1-", 200)]
        assert records[1].inputs == [ROW]
        assert records[1].outputs == {
            "predictions": body["predictions"],
            "probabilities": body["probabilities"],
        }
        stored = client("dynamodb").get_item(
            TableName="conveyor-test",
            Key={
                "pk": {"S": "inference#churn"},
                "sk": {"S": f"{records[1].timestamp.isoformat()}#{records[1].request_id}"},
            },
        )
        assert int(stored["Item"]["expires_at"]["N"]) > 0

        # A malformed upload: its run FAILS with the reason the local pipeline gives, and
        # version 1 keeps serving.
        broken = handlers.on_upload(upload("churn/broken.csv", b"name,score\nann,1\nbob,2\n"))
        failed = runs.get(broken["runs"][0]["run_id"])
        assert run_pipeline_job_as_sagemaker(failed.job_name, lambda_env / "ml2") == 1
        reason = (
            "target column 'churned' is not in the file; its columns are: 'name', 'score'. If the "
            "project's target is wrong, change it with `conveyor project update churn --target "
            "COLUMN` (while the project has no versions) and upload again"
        )
        assert runs.get(failed.run_id).failure_reason == reason
        assert (lambda_env / "ml2" / "output" / "failure").read_text() == reason + "\n"
        ended = handlers.on_training_job_state_change(
            job_event(failed, "Failed", f"AlgorithmError: {reason}")
        )
        assert ended["state"] == "FAILED" and ended["failure_reason"] == reason
        # ?explain=true reaches the model server (SageMaker's CustomAttributes), whose
        # contributions come back in the answer, summing with the base value to the score.
        explained = {"explain": "true"}
        still = handlers.predict(
            api_event("churn", {"instances": [ROW]}, request_id="req-3", query=explained)
        )
        assert still["statusCode"] == 200 and json.loads(still["body"])["model_version"] == 1
        assert model_server.requests[-1]["CustomAttributes"] == "explain=true"
        (row,) = json.loads(still["body"])["explanation"]["rows"]
        assert set(row["contributions"]) == set(ROW)
        total = row["base_value"] + sum(row["contributions"].values())
        assert total == pytest.approx(row["score"], abs=1e-9)
        assert "CustomAttributes" not in model_server.requests[0]  # explain=false: as before
        bad = handlers.predict(
            api_event("churn", {"instances": [ROW]}, request_id="req-4", query={"explain": "y"})
        )
        assert bad["statusCode"] == 400 and json.loads(bad["body"])["field"] == "explain"

    # The drift schedule: a drift job over the traffic so far, run as SageMaker would.
    recorder.created.clear()
    soon = (datetime.now(UTC) + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    (drift_job,) = handlers.drift_check(load_event("scheduled_event", time=soon))["jobs"]
    assert run_job_as_sagemaker(drift_job, lambda_env / "ml3", "conveyor.aws.drift_job") == 0
    hyperparameters = recorder.created[0]["HyperParameters"]
    ended = handlers.on_training_job_state_change(
        {
            **job_event(run, "Completed"),
            "detail": {
                **job_event(run, "Completed")["detail"],
                "TrainingJobName": drift_job,
                "HyperParameters": hyperparameters,
            },
        }
    )
    # Two answered rows are too few to judge: the check says so, and is kept.
    assert ended == {"project": "churn", "drift": "INSUFFICIENT_DATA"}
    (check,) = ports.table.query("drift#churn")
    assert (check["records"], check["rows"]) == (3, 2)

    # A second upload: the pipeline job scores the champion (v1, loaded from S3 and checked
    # against its sha256) on the same holdout rows, and the gate decides on those numbers.
    part = b"\n".join(CHURN.read_bytes().splitlines()[:3001]) + b"\n"
    second = runs.get(handlers.on_upload(upload("churn/part.csv", part))["runs"][0]["run_id"])
    assert run_pipeline_job_as_sagemaker(second.job_name, lambda_env / "ml4") == 0
    ended = handlers.on_training_job_state_change(job_event(second, "Completed"))
    assert ended["state"] in ("DEPLOYED", "REGISTERED"), ended
    gate = runs.get(second.run_id).report["gate"]
    assert gate["split"] == "holdout" and gate["champion_version"] == 1
    assert gate["holdout_id"] == run.dataset_id and gate["rows"] == run.report["rows_test"]
    assert gate["champion"] == gate["scores"]["holdout"]["champion"]["roc_auc"]
    assert runs.get(second.run_id).report["holdout"]["rows_left_out"] > 0
