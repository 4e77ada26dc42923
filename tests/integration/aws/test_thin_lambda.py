"""The Lambda functions stay thin: importing ``conveyor.aws.handlers`` and running its
handlers loads none of the heavy stack, which a Lambda deployment cannot hold (250 MB).

Run in a fresh subprocess against moto's HTTP server, as a Lambda container would run them
against AWS: ``sys.modules`` there is the proof.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from urllib.request import Request, urlopen

from tests.integration.archives import model_tarball
from tests.integration.aws.lambda_world import (
    PREFIX,
    aws_client,
    deploy_a_version,
    load_event,
    served_env_fixture,  # noqa: F401 (the served_env fixture)
    upload,
)

HEAVY = ("polars", "numpy", "pyarrow", "scipy", "sklearn", "lightgbm", "fastapi", "uvicorn")

_LAMBDA = """
import json, sys
events = json.loads(sys.stdin.read())
from conveyor.aws import handlers
answers = {
    "on_upload": handlers.on_upload(events["upload"]),
    "predict_bad": handlers.predict(events["predict_bad"]),
    "predict": handlers.predict(events["predict"]),
    "feedback": handlers.feedback(events["feedback"]),
    "drift_check": handlers.drift_check(events["schedule"]),
    "on_model_package_state_change": handlers.on_model_package_state_change(events["package"]),
    "on_training_job_state_change": handlers.on_training_job_state_change(events["job"]),
    "on_alarm": handlers.on_alarm(events["alarm"]),
    "reconcile_runs": handlers.reconcile_runs(events["schedule"]),
}
heavy = sorted(
    {name.split(".")[0] for name in sys.modules} & set(json.loads(sys.argv[1]))
)
print(json.dumps({"answers": answers, "heavy": heavy}, default=str))
"""


def _evaluated_run(project: str) -> dict[str, object]:
    """A run whose pipeline job has evaluated its model (what the job leaves: the run
    EVALUATING, ``evaluation.json``, the model, SageMaker's own model.tar.gz); the job's
    Completed event."""
    import hashlib

    from conveyor.aws import runtime
    from conveyor.aws.pipeline_job import evaluation_key, pipeline_job_spec
    from conveyor.pipeline.registration import Evaluation
    from conveyor.pipeline.runs import RunStore
    from conveyor.pipeline.train import artifact_ref
    from conveyor.projects import create_project
    from conveyor.tabular.schema import DatasetSchema, FeatureKind, FeatureSpec
    from conveyor.types import ObjectRef, RunState, Task

    ports = runtime.ports()
    create_project(ports.table, project, target="churned")
    raw = ObjectRef("raw", f"{project}/data.csv")
    ports.store.put(raw.bucket, raw.key, b"age,churned\n1,no\n")
    runs = RunStore(ports.table)
    run, _ = runs.create(project, raw, "e" * 64)
    spec = pipeline_job_spec(
        run,
        object_store_uri=f"s3://{PREFIX}",
        table_uri="dynamodb://conveyor-test",
        name_prefix="conveyor",
        seed=42,
        max_runtime_seconds=3600,
    )
    ports.jobs.start_training_job(spec)
    for state in (RunState.PREPROCESSING, RunState.TRAINING, RunState.EVALUATING):
        run = runs.advance(run, state, job_name=spec.job_name)
    model = model_tarball("the model the job trained")
    artifact = artifact_ref(run)
    ports.store.put(artifact.bucket, artifact.key, model)
    schema = DatasetSchema(
        "churned", Task.BINARY, (FeatureSpec("age", FeatureKind.NUMERIC),), ("no", "yes")
    )
    evaluation = Evaluation(
        "roc_auc",
        {"validation": {"roc_auc": 0.8}, "test": {"roc_auc": 0.8}, "baseline": {"roc_auc": 0.5}},
        schema,
        {"hyperparameters": {"num_leaves": 31}},
        hashlib.sha256(model).hexdigest(),
    )
    document = {**evaluation.to_dict(), "greater_is_better": True}
    ports.store.put("reports", evaluation_key(project, run.run_id), json.dumps(document).encode())
    described = aws_client("sagemaker").describe_training_job(TrainingJobName=spec.job_name)
    produced = described["ModelArtifacts"]["S3ModelArtifacts"].removeprefix("s3://")
    bucket, _, key = produced.partition("/")
    aws_client("s3").put_object(Bucket=bucket, Key=key, Body=b"SageMaker's tar of /opt/ml/model")
    event = load_event(
        "sagemaker_training_job_state_change",
        job_name=spec.job_name,
        status="Completed",
        failure_reason="",
        run_id=run.run_id,
        project=project,
    )
    del event["detail"]["FailureReason"]
    return event


def _model_answers(endpoint_url: str, answer: dict[str, object]) -> None:
    """moto's InvokeEndpoint answers a configured body: make it the model server's."""
    results = {
        "results": [
            {
                "Body": json.dumps(answer),
                "ContentType": "application/json",
                "InvokedProductionVariant": "AllTraffic",
            }
        ]
    }
    request = Request(
        f"{endpoint_url}/moto-api/static/sagemaker/endpoint-results",
        data=json.dumps(results).encode(),
        method="POST",
        headers={"content-type": "application/json"},
    )
    urlopen(request, timeout=10).close()


def test_the_handlers_import_and_run_without_the_heavy_stack(
    served_env: dict[str, str], tmp_path: Path
) -> None:
    from conveyor.aws import runtime
    from conveyor.metrics.alarm_store import put_alarm
    from conveyor.monitoring.alarms.defaults import default_rules

    deploy_a_version("churn")
    job_completed = _evaluated_run("churn2")
    for rule in default_rules("churn", runtime.ports()):
        put_alarm(runtime.ports().table, rule)
    _model_answers(
        served_env["CONVEYOR_AWS_ENDPOINT_URL"],
        {
            "predictions": ["no"],
            "model_version": 1,
            "classes": ["no", "yes"],
            "probabilities": [[0.7, 0.3]],
            "request_id": "x",
        },
    )
    row = {"age": 41, "plan": "pro"}
    events = {
        "upload": upload("churn/second.csv", b"age,plan,churned\n41,pro,no\n"),
        "predict_bad": load_event(
            "apigateway_rest_proxy",
            project="churn",
            content_type="application/json",
            request_id="bad-1",
            body=json.dumps({"instances": [{**row, "age": "old"}]}),
        ),
        "predict": load_event(
            "apigateway_rest_proxy",
            project="churn",
            content_type="application/json",
            request_id="good-1",
            body=json.dumps({"instances": [row]}),
        ),
        "feedback": load_event(
            "apigateway_rest_proxy",
            project="churn",
            content_type="application/json",
            request_id="feedback-1",
            body=json.dumps({"request_id": "good-1", "actual": "no"}),
        ),
        "schedule": load_event("scheduled_event", time="2026-12-01T16:00:00Z"),
        "package": load_event(
            "sagemaker_model_package_state_change",
            group="conveyor-churn",
            approval_status="PendingManualApproval",
        ),
        "job": job_completed,
        "alarm": load_event(
            "cloudwatch_alarm_state_change",
            alarm_name="conveyor/churn/drift",
            state="ALARM",
            project="churn",
            time="2026-12-01T16:30:00Z",
        ),
    }
    done = subprocess.run(
        [sys.executable, "-c", _LAMBDA, json.dumps(HEAVY)],
        input=json.dumps(events),
        env={
            **served_env,
            "CONVEYOR_HOME": str(tmp_path / "lambda"),
            "AWS_LAMBDA_FUNCTION_NAME": "conveyor-test-handlers",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["heavy"] == []
    answers = result["answers"]
    assert answers["on_upload"]["runs"][0]["state"] == "PREPROCESSING"
    assert answers["predict_bad"]["statusCode"] == 400
    assert json.loads(answers["predict_bad"]["body"])["field"] == "age"
    assert answers["predict"]["statusCode"] == 200
    assert json.loads(answers["predict"]["body"])["predictions"] == ["no"]
    # API Gateway's own request id is not the id predict answered with.
    assert answers["feedback"]["statusCode"] == 422
    assert answers["drift_check"]["jobs"] == ["conveyor-churn-drift-20261201160000"]
    assert answers["on_model_package_state_change"]["ignored"].endswith("PendingManualApproval")
    assert answers["on_training_job_state_change"]["state"] == "DEPLOYED"
    assert answers["on_alarm"]["job"] == "conveyor-churn-retrain-20261201163000"
    # The upload's job ended a moment ago (moto ends jobs at once): left to its event.
    assert answers["reconcile_runs"]["finished"] == []
    assert answers["on_upload"]["runs"][0]["run_id"] in answers["reconcile_runs"]["waiting"]

    # conveyor's log lines: JSON on stderr, each with what ties it to its run or request.
    lines = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    # API Gateway's request id, tagged so that /feedback can verify it.
    refused = next(line for line in lines if line.get("request_id", "").startswith("bad-1-"))
    assert refused["level"] == "warning" and refused["project"] == "churn"
    assert "column 'age' expects a number" in refused["message"]
    run_id = answers["on_upload"]["runs"][0]["run_id"]
    assert any(line.get("run_id") == run_id for line in lines)
