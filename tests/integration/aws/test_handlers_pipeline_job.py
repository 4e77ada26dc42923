"""The pipeline job for real: ``python -m conveyor.aws.pipeline_job`` as a process under an
/opt/ml-like root, as SageMaker runs it, its store and table on moto's HTTP server (the S3
and DynamoDB wire protocols). It knows the deployment only from its request's
hyperparameters, as a SageMaker job does."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import pytest

from tests.integration.aws.lambda_world import (
    CHURN,
    PREFIX,
    aws_client,
    served_env_fixture,  # noqa: F401 (the served_env fixture)
    upload,
)


def _start(key: str, body: bytes) -> Any:
    """A user's upload and its notification: the run, and the job request it made."""
    from conveyor.aws import handlers, runtime
    from conveyor.pipeline.runs import RunStore
    from conveyor.projects import create_project, find_project

    ports = runtime.ports()
    if find_project(ports.table, "churn") is None:
        create_project(ports.table, "churn", target="churned")
    started = handlers.on_upload(upload(key, body))
    return RunStore(ports.table).get(started["runs"][0]["run_id"])


def _run_job(run: Any, root: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """SageMaker's side: the request's hyperparameters in input/config, then the program."""
    request = aws_client("sagemaker").describe_training_job(TrainingJobName=run.job_name)
    (root / "input" / "config").mkdir(parents=True)
    (root / "input" / "config" / "hyperparameters.json").write_text(
        json.dumps(request["HyperParameters"])
    )
    (root / "model").mkdir()
    job_env = {
        name: value
        for name, value in env.items()
        # The job's own environment has none of conveyor's settings: SageMaker sets only
        # the request's Environment (the entrypoint) and its SM_* variables.
        if not name.startswith("CONVEYOR_") or name == "CONVEYOR_AWS_ENDPOINT_URL"
    }
    job_env.update(
        SM_MODEL_DIR=str(root / "model"), CONVEYOR_ENTRYPOINT="conveyor.aws.pipeline_job"
    )
    return subprocess.run(
        [sys.executable, "-m", "conveyor.aws.pipeline_job"],
        cwd=root,
        env=job_env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_job_preprocesses_trains_and_evaluates_a_run(
    served_env: dict[str, str], tmp_path: Path
) -> None:
    from conveyor.aws import runtime
    from conveyor.pipeline.runs import RunStore

    run = _start("churn/customers.csv", CHURN.read_bytes())
    done = _run_job(run, tmp_path / "ml", served_env)
    assert done.returncode == 0, done.stderr[-3000:]

    run = RunStore(runtime.ports().table).get(run.run_id)
    assert run.state.value == "EVALUATING"
    assert list(run.stages) == ["preprocess", "train", "evaluate"]
    assert run.stages["train"].finished_at is not None
    assert run.report["rows_read"] == 5000 and run.report["task"] == "binary"

    s3 = aws_client("s3")
    evaluation = json.loads(
        s3.get_object(Bucket=f"{PREFIX}-reports", Key=f"churn/{run.run_id}/evaluation.json")[
            "Body"
        ].read()
    )
    assert evaluation["run_id"] == run.run_id and evaluation["primary_metric"] == "roc_auc"
    assert evaluation["greater_is_better"] is True
    # The first run's test split is the project's holdout, kept on S3 for every later run.
    assert set(evaluation["metrics"]) == {"validation", "test", "baseline", "holdout"}
    comparison = evaluation["comparison"]
    assert comparison["decide_on"] == "holdout" and comparison["champion_version"] is None
    assert comparison["holdout_id"] == run.dataset_id == run.report["holdout"]["id"]
    assert comparison["scores"]["holdout"]["rows"] == run.report["rows_test"]
    s3_holdout = s3.get_object(Bucket=f"{PREFIX}-processed", Key="churn/holdout/holdout.json")
    assert json.loads(s3_holdout["Body"].read())["id"] == run.dataset_id
    assert evaluation["metrics"]["test"]["roc_auc"] > evaluation["metrics"]["baseline"]["roc_auc"]
    assert evaluation["schema"]["target"] == "churned"
    assert evaluation["artifact"] == {
        "bucket": "models",
        "key": f"churn/{run.run_id}/model.tar.gz",
    }
    model = tmp_path / "model.tar.gz"
    s3.download_file(f"{PREFIX}-models", f"churn/{run.run_id}/model.tar.gz", str(model))
    assert hashlib.sha256(model.read_bytes()).hexdigest() == evaluation["sha256"]
    with tarfile.open(model) as tar:
        assert {"schema.json", "encoder.json", "training.json"} <= set(tar.getnames())
    log = s3.get_object(Bucket=f"{PREFIX}-reports", Key=f"churn/{run.run_id}/training.log")
    assert b"validation:roc_auc=" in log["Body"].read()
    # SageMaker packs /opt/ml/model after the job: the evaluation goes with it.
    assert json.loads((tmp_path / "ml" / "model" / "evaluation.json").read_text()) == evaluation
    assert not (tmp_path / "ml" / "output" / "failure").exists()
    assert "roc_auc=" in done.stdout


def test_a_malformed_upload_fails_the_run_with_the_local_pipelines_reason(
    served_env: dict[str, str], tmp_path: Path
) -> None:
    from conveyor.aws import runtime
    from conveyor.pipeline.runs import RunStore

    run = _start("churn/broken.csv", b"name,score\nann,1\nbob,2\n")
    done = _run_job(run, tmp_path / "ml", served_env)
    assert done.returncode == 1

    reason = (
        "target column 'churned' is not in the file; its columns are: 'name', 'score'. If the "
        "project's target is wrong, change it with `conveyor project update churn --target "
        "COLUMN` (while the project has no versions) and upload again"
    )
    run = RunStore(runtime.ports().table).get(run.run_id)
    assert run.state.value == "FAILED" and run.failure_reason == reason
    assert (tmp_path / "ml" / "output" / "failure").read_text() == reason + "\n"
    processed = aws_client("s3").list_objects_v2(Bucket=f"{PREFIX}-processed")
    assert processed.get("KeyCount", 0) == 0  # a bad upload stores nothing
    assert os.environ["CONVEYOR_AWS_ENDPOINT_URL"] == served_env["CONVEYOR_AWS_ENDPOINT_URL"]


def test_the_training_rows_cap_set_for_the_lambda_reaches_the_job(
    served_env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from conveyor.aws import runtime

    monkeypatch.setenv("CONVEYOR_MAX_TRAINING_ROWS", "2000")
    runtime.reset()
    run = _start("churn/capped.csv", CHURN.read_bytes())

    request = aws_client("sagemaker").describe_training_job(TrainingJobName=run.job_name)
    assert request["HyperParameters"]["max_training_rows"] == "2000"
