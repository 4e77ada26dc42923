"""The SageMaker job runner on moto: the CreateTrainingJob request as SageMaker receives it,
the model copied to where the pipeline reads it, logs from CloudWatch Logs, stop.

moto makes every training job Completed at once and has no StopTrainingJob, so the cases of
a running, failed or stopped job use ``FakeTrainingJobStates``, a fake at the boto3 client
boundary that wraps moto's SageMaker client.
"""

from __future__ import annotations

import io
import json
import tarfile
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conveyor.aws.clients import client
from conveyor.config import AwsSettings
from conveyor.errors import AlreadyExists, ConfigError, InvalidInput, NotFound
from conveyor.jobs import JobRunner, TrainingJobSpec
from conveyor.jobs.sagemaker import LOG_GROUP, SageMakerJobRunner
from conveyor.storage import BUCKETS, MODELS, PROCESSED
from conveyor.storage.local import LocalObjectStore
from conveyor.storage.s3 import S3ObjectStore
from conveyor.types import JobStatus, ObjectRef
from tests.integration.aws.sagemaker_fakes import clients_with

REAL = {bucket: f"conveyor-test-{bucket}" for bucket in BUCKETS}
ROLE = "arn:aws:iam::123456789012:role/conveyor-training"
IMAGE = "123456789012.dkr.ecr.us-east-1.amazonaws.com/conveyor-training:1"


@pytest.fixture
def store(aws: None) -> S3ObjectStore:
    for real in REAL.values():
        client("s3").create_bucket(Bucket=real)
        client("s3").put_bucket_versioning(
            Bucket=real, VersioningConfiguration={"Status": "Enabled"}
        )
    made = S3ObjectStore(REAL)
    for split in ("train", "validation"):
        made.put(PROCESSED, f"churn/d1/{split}.parquet", f"{split} rows".encode())
    made.put(PROCESSED, "churn/d1/schema.json", b"{}")
    return made


@pytest.fixture
def runner(store: S3ObjectStore) -> SageMakerJobRunner:
    settings = AwsSettings(
        training_role_arn=ROLE,
        training_image=IMAGE,
        training_instance_type="ml.c5.xlarge",
        training_volume_gb=20,
        source_key="code/sourcedir.tar.gz",
    )
    return SageMakerJobRunner(store=store, settings=settings)


def spec(name: str = "churn-0001", **changes: Any) -> TrainingJobSpec:
    fields: dict[str, Any] = {
        "job_name": name,
        "channels": {
            split: ObjectRef(PROCESSED, f"churn/d1/{split}.parquet")
            for split in ("train", "validation")
        }
        | {"schema": ObjectRef(PROCESSED, "churn/d1/schema.json")},
        "output": ObjectRef(MODELS, "churn/r-0001/model.tar.gz"),
        "hyperparameters": {
            "algorithm": "lightgbm",
            "seed": "7",
            "model_hyperparameters": json.dumps({"num_leaves": 8}),
        },
        "max_runtime_seconds": 3600,
    }
    return TrainingJobSpec(**(fields | changes))


def test_the_runner_is_a_job_runner(runner: SageMakerJobRunner) -> None:
    assert isinstance(runner, JobRunner)
    assert runner.scheme == "sagemaker"


def test_start_sends_a_script_mode_training_job_as_sagemaker_takes_it(
    runner: SageMakerJobRunner, store: S3ObjectStore
) -> None:
    job = runner.start_training_job(spec())
    assert job.status is JobStatus.IN_PROGRESS

    sent = client("sagemaker").describe_training_job(TrainingJobName="churn-0001")
    assert sent["AlgorithmSpecification"]["TrainingImage"] == IMAGE
    assert sent["AlgorithmSpecification"]["TrainingInputMode"] == "File"
    assert sent["RoleArn"] == ROLE
    channels = {
        channel["ChannelName"]: channel["DataSource"]["S3DataSource"]
        for channel in sent["InputDataConfig"]
    }
    assert channels["train"] == {
        "S3DataType": "S3Prefix",
        "S3Uri": "s3://conveyor-test-processed/churn/d1/train.parquet",
        "S3DataDistributionType": "FullyReplicated",
    }
    assert channels["schema"]["S3Uri"] == "s3://conveyor-test-processed/churn/d1/schema.json"
    assert {channel["InputMode"] for channel in sent["InputDataConfig"]} == {"File"}
    assert sent["ResourceConfig"] == {
        "InstanceType": "ml.c5.xlarge",
        "InstanceCount": 1,
        "VolumeSizeInGB": 20,
    }
    assert sent["StoppingCondition"]["MaxRuntimeInSeconds"] == 3600
    assert sent["OutputDataConfig"]["S3OutputPath"] == (
        "s3://conveyor-test-models/churn/r-0001/sagemaker"
    )

    hyperparameters = sent["HyperParameters"]
    # The spec's own go as they are; the toolkit's are JSON-encoded strings.
    assert hyperparameters["algorithm"] == "lightgbm"
    assert hyperparameters["seed"] == "7"
    assert json.loads(hyperparameters["model_hyperparameters"]) == {"num_leaves": 8}
    assert json.loads(hyperparameters["sagemaker_program"]) == "train.py"
    source = json.loads(hyperparameters["sagemaker_submit_directory"])
    assert source.startswith("s3://conveyor-test-models/code/sourcedir-")
    assert source.endswith(".tar.gz")

    # The submit directory is there, and holds what the toolkit runs and installs.
    key = source.removeprefix("s3://conveyor-test-models/")
    with tarfile.open(fileobj=io.BytesIO(store.get(MODELS, key))) as archive:
        names = set(archive.getnames())
    assert {"train.py", "requirements.txt", "conveyor/jobs/entrypoint.py"} <= names

    tags = client("sagemaker").list_tags(ResourceArn=sent["TrainingJobArn"])["Tags"]
    assert {"Key": "conveyor:job", "Value": "churn-0001"} in tags
    assert {"Key": "conveyor:output", "Value": "models/churn/r-0001/model.tar.gz"} in tags


def test_the_source_is_uploaded_once_for_many_jobs(
    runner: SageMakerJobRunner, store: S3ObjectStore
) -> None:
    runner.start_training_job(spec("churn-0001"))
    again = SageMakerJobRunner(store=store, settings=runner.settings)
    again.start_training_job(spec("churn-0002"))
    sources = {
        client("sagemaker").describe_training_job(TrainingJobName=name)["HyperParameters"][
            "sagemaker_submit_directory"
        ]
        for name in ("churn-0001", "churn-0002")
    }
    assert len(sources) == 1
    versions = client("s3").list_object_versions(Bucket=REAL[MODELS], Prefix="code/")
    assert len(versions["Versions"]) == 1


def test_a_taken_job_name_is_refused(runner: SageMakerJobRunner) -> None:
    runner.start_training_job(spec())
    with pytest.raises(AlreadyExists, match="churn-0001"):
        runner.start_training_job(spec())


@pytest.mark.parametrize("name", ["churn_0001", "-churn", "churn-", "c" * 64, ""])
def test_a_name_sagemaker_would_refuse_is_invalid_input(
    runner: SageMakerJobRunner, name: str
) -> None:
    with pytest.raises(InvalidInput, match="1-63 letters, digits and hyphens"):
        runner.start_training_job(spec(name))


def test_a_channel_without_objects_is_not_found_and_no_job_starts(
    runner: SageMakerJobRunner,
) -> None:
    missing = spec(channels={"train": ObjectRef(PROCESSED, "churn/d9/train.parquet")})
    with pytest.raises(NotFound, match=r"channel 'train'.*processed/churn/d9/train.parquet"):
        runner.start_training_job(missing)
    with pytest.raises(NotFound):
        runner.describe_training_job("churn-0001")


def test_an_overlong_hyperparameter_is_invalid_input(runner: SageMakerJobRunner) -> None:
    huge = spec(hyperparameters={"model_hyperparameters": "x" * 2501})
    with pytest.raises(InvalidInput, match="model_hyperparameters"):
        runner.start_training_job(huge)


def test_a_completed_job_s_model_lands_where_the_pipeline_reads_it(
    runner: SageMakerJobRunner, store: S3ObjectStore
) -> None:
    runner.start_training_job(spec())
    # What SageMaker uploads when the job ends: <S3OutputPath>/<job>/output/model.tar.gz.
    produced = "churn/r-0001/sagemaker/churn-0001/output/model.tar.gz"
    store.put(MODELS, produced, b"the packed model")

    job = runner.describe_training_job("churn-0001")
    assert job.status is JobStatus.COMPLETED
    assert job.model_artifact == ObjectRef(MODELS, "churn/r-0001/model.tar.gz")
    assert store.get(MODELS, "churn/r-0001/model.tar.gz") == b"the packed model"
    assert job.started_at is not None and job.finished_at is not None
    assert job.failure_reason is None

    # Describing again (another worker, say) copies nothing more.
    SageMakerJobRunner(store=store, settings=runner.settings).describe_training_job("churn-0001")
    versions = client("s3").list_object_versions(
        Bucket=REAL[MODELS], Prefix="churn/r-0001/model.tar.gz"
    )
    assert len(versions["Versions"]) == 1


def test_describing_an_unknown_job_is_not_found(runner: SageMakerJobRunner) -> None:
    with pytest.raises(NotFound, match="nope"):
        runner.describe_training_job("nope")


def _log(stream: str, *messages: str) -> None:
    logs = client("logs")
    now = int(time.time() * 1000)  # CloudWatch drops events older than 14 days
    logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
    logs.put_log_events(
        logGroupName=LOG_GROUP,
        logStreamName=stream,
        logEvents=[
            {"timestamp": now + i, "message": message} for i, message in enumerate(messages)
        ],
    )


def test_logs_come_from_the_job_s_cloudwatch_streams(runner: SageMakerJobRunner) -> None:
    runner.start_training_job(spec("churn-0001"))
    runner.start_training_job(spec("churn-0001-b"))
    assert runner.get_logs("churn-0001") == ""  # nothing logged yet: no log group

    client("logs").create_log_group(logGroupName=LOG_GROUP)
    _log("churn-0001/algo-1-1700000000", "training lightgbm on 400 rows", "validation:auc=0.9")
    _log("churn-0001-b/algo-1-1700000000", "another job's line")

    assert runner.get_logs("churn-0001") == ("training lightgbm on 400 rows\nvalidation:auc=0.9\n")
    with pytest.raises(NotFound):
        runner.get_logs("churn-0009")


def test_the_sagemaker_runner_needs_the_s3_store(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="CONVEYOR_OBJECT_STORE_URI"):
        SageMakerJobRunner(store=LocalObjectStore(root=tmp_path), settings=AwsSettings())


class FakeTrainingJobStates:
    """A fake at the boto3 client boundary: moto's SageMaker client, except that a training
    job reports the status the test sets (InProgress until told otherwise, where moto says
    Completed at once) and ``stop_training_job``, which moto lacks, behaves as SageMaker's:
    a running job goes Stopped, any other is refused with a ValidationException."""

    def __init__(self) -> None:
        self.states: dict[str, dict[str, Any]] = {}
        self.stop_requests: list[str] = []

    @property
    def real(self) -> Any:
        return client("sagemaker")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def describe_training_job(self, *, TrainingJobName: str) -> dict[str, Any]:
        found = dict(self.real.describe_training_job(TrainingJobName=TrainingJobName))
        state = self.states.get(TrainingJobName, {"TrainingJobStatus": "InProgress"})
        found.update(state)
        if found["TrainingJobStatus"] == "InProgress":
            found.pop("TrainingEndTime", None)
            found.pop("ModelArtifacts", None)
        return found

    def stop_training_job(self, *, TrainingJobName: str) -> dict[str, Any]:
        status = self.describe_training_job(TrainingJobName=TrainingJobName)["TrainingJobStatus"]
        if status != "InProgress":
            raise ClientError(
                {
                    "Error": {
                        "Code": "ValidationException",
                        "Message": "The request was rejected because the training job is in "
                        f"status {status}.",
                    }
                },
                "StopTrainingJob",
            )
        self.stop_requests.append(TrainingJobName)
        self.states[TrainingJobName] = {
            "TrainingJobStatus": "Stopped",
            "SecondaryStatus": "Stopped",
        }
        return {}


@pytest.fixture
def fake_states() -> FakeTrainingJobStates:
    return FakeTrainingJobStates()


@pytest.fixture
def faked(runner: SageMakerJobRunner, fake_states: FakeTrainingJobStates) -> SageMakerJobRunner:
    """The runner, its SageMaker client swapped for ``FakeTrainingJobStates``."""
    return SageMakerJobRunner(
        store=runner.store,
        settings=runner.settings,
        clients=clients_with(sagemaker=fake_states),
    )


def test_a_running_job_is_in_progress_until_stopped(
    faked: SageMakerJobRunner, fake_states: FakeTrainingJobStates
) -> None:
    runner = faked
    runner.start_training_job(spec())
    running = runner.describe_training_job("churn-0001")
    assert running.status is JobStatus.IN_PROGRESS
    assert running.model_artifact is None and running.finished_at is None

    runner.stop_training_job("churn-0001")
    stopped = runner.describe_training_job("churn-0001")
    assert stopped.status is JobStatus.STOPPED
    assert stopped.failure_reason == "stopped by request"

    runner.stop_training_job("churn-0001")  # already stopped: nothing more is asked
    assert fake_states.stop_requests == ["churn-0001"]


def test_stopping_a_finished_job_does_nothing(runner: SageMakerJobRunner) -> None:
    runner.start_training_job(spec())  # moto: Completed at once
    runner.stop_training_job("churn-0001")
    assert (
        client("sagemaker").describe_training_job(TrainingJobName="churn-0001")["TrainingJobStatus"]
        == "Completed"
    )
    with pytest.raises(NotFound):
        runner.stop_training_job("churn-0009")


@pytest.mark.parametrize(
    ("state", "status", "reason"),
    [
        (
            {"TrainingJobStatus": "Failed", "FailureReason": "AlgorithmError: channel empty"},
            JobStatus.FAILED,
            "AlgorithmError: channel empty",
        ),
        (
            {"TrainingJobStatus": "Stopped", "SecondaryStatus": "MaxRuntimeExceeded"},
            JobStatus.STOPPED,
            "MaxRuntimeExceeded",
        ),
        ({"TrainingJobStatus": "Stopping"}, JobStatus.IN_PROGRESS, None),
    ],
)
def test_sagemaker_s_end_states_map_to_conveyor_s(
    faked: SageMakerJobRunner,
    fake_states: FakeTrainingJobStates,
    state: dict[str, str],
    status: JobStatus,
    reason: str | None,
) -> None:
    faked.start_training_job(spec())
    fake_states.states["churn-0001"] = state
    job = faked.describe_training_job("churn-0001")
    assert job.status is status
    assert job.failure_reason == reason
    assert job.model_artifact is None
