"""Training jobs on SageMaker: ``CreateTrainingJob`` in script mode with conveyor's entrypoint.

A job runs the framework image (``CONVEYOR_AWS_TRAINING_IMAGE``) on the packaged
``sourcedir.tar.gz`` (see ``conveyor.jobs.sourcedir``): the hyperparameters
``sagemaker_program`` and ``sagemaker_submit_directory`` tell the image's training toolkit
what to run, JSON-encoded as the toolkit reads them; the spec's own hyperparameters go as
they are. Each channel is an ``S3Prefix`` of the channel's object(s), copied to
``/opt/ml/input/data/<channel>/`` in File mode, as the local runner lays them out.

SageMaker writes ``model.tar.gz`` to ``<S3OutputPath>/<job>/output/model.tar.gz``; the output
path sits beside ``spec.output`` (``<its folder>/sagemaker``). The pipeline reads the model
at ``spec.output``, so ``describe_training_job`` of a Completed job copies SageMaker's object
there (once: a copy with the same etag is left alone) and returns ``spec.output`` as
``model_artifact``. The job's tags carry ``spec.output``, so any worker can describe it.

The store must be the S3 store (``CONVEYOR_OBJECT_STORE_URI=s3://…``): SageMaker reads and
writes S3 only.
"""

from __future__ import annotations

import json
import re
import tempfile
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn
from urllib.parse import urlsplit

from conveyor.aws.errors import aws_error, raise_translated, rule
from conveyor.aws.sagemaker_common import ClientFactory, settings_clients
from conveyor.config import AwsSettings, Settings
from conveyor.errors import AlreadyExists, BackendUnavailable, ConfigError, InvalidInput, NotFound
from conveyor.jobs import TrainingJob, TrainingJobSpec
from conveyor.jobs.sourcedir import ENTRYPOINT_VARIABLE, TRAIN_PROGRAM, upload_sourcedir
from conveyor.storage import ObjectStore
from conveyor.storage.s3 import S3ObjectStore
from conveyor.types import JobStatus, ObjectRef

if TYPE_CHECKING:
    from conveyor.ports import PortsSoFar

LOG_GROUP = "/aws/sagemaker/TrainingJobs"
OUTPUT_TAG = "conveyor:output"
JOB_TAG = "conveyor:job"
# CreateTrainingJob's limits.
_JOB_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
_TAG_VALUE = re.compile(r"[\w\s.:/=+\-@]{0,256}")
_HYPERPARAMETER_KEY_MAX = 256
_HYPERPARAMETER_VALUE_MAX = 2500
_HYPERPARAMETERS_MAX = 100
_STATUSES = {
    "InProgress": JobStatus.IN_PROGRESS,
    "Stopping": JobStatus.IN_PROGRESS,  # not over until SageMaker says Stopped
    "Completed": JobStatus.COMPLETED,
    "Failed": JobStatus.FAILED,
    "Stopped": JobStatus.STOPPED,
}


class SageMakerJobRunner:
    scheme = "sagemaker"

    def __init__(
        self,
        *,
        store: ObjectStore,
        settings: AwsSettings,
        clients: ClientFactory | None = None,
    ) -> None:
        if not isinstance(store, S3ObjectStore):
            raise ConfigError(
                "CONVEYOR_JOB_RUNNER=sagemaker needs the S3 object store: SageMaker reads "
                "channels from and writes models to S3. Set CONVEYOR_OBJECT_STORE_URI="
                f"s3://<bucket-prefix> (it is now a {store.scheme!r} store)"
            )
        self.store: S3ObjectStore = store
        self.settings = settings
        # Tests swap this for a wrapper at the client boundary; nothing else creates clients.
        self.clients: ClientFactory = clients or settings_clients(settings)
        self._source_uri: str | None = None

    @classmethod
    def from_settings(
        cls, uri: str, settings: Settings, ports_so_far: PortsSoFar
    ) -> SageMakerJobRunner:
        """Jobs on the store built before it (S3), with the AWS settings."""
        return cls(store=ports_so_far["store"], settings=settings.aws)

    def start_training_job(self, spec: TrainingJobSpec) -> TrainingJob:
        _validate(spec)
        if self._exists(spec.job_name):
            raise AlreadyExists(f"training job {spec.job_name!r} already exists")
        channels = []
        for name, prefix in spec.channels.items():
            if not self.store.list(prefix.bucket, prefix.key):
                raise NotFound(f"channel {name!r}: no object under {prefix.uri}")
            channels.append(
                {
                    "ChannelName": name,
                    "DataSource": {
                        "S3DataSource": {
                            "S3DataType": "S3Prefix",
                            "S3Uri": self._s3_uri(prefix),
                            "S3DataDistributionType": "FullyReplicated",
                        }
                    },
                    "InputMode": "File",
                }
            )
        settings = self.settings
        output_folder = spec.output.key.rpartition("/")[0]
        output_path = self._s3_uri(
            ObjectRef(
                spec.output.bucket, f"{output_folder}/sagemaker" if output_folder else "sagemaker"
            )
        )
        request: dict[str, Any] = {
            "TrainingJobName": spec.job_name,
            "AlgorithmSpecification": {
                "TrainingImage": settings.training_image,
                "TrainingInputMode": "File",
            },
            "RoleArn": settings.training_role_arn,
            "HyperParameters": {
                **spec.hyperparameters,
                "sagemaker_program": json.dumps(TRAIN_PROGRAM),
                "sagemaker_submit_directory": json.dumps(self._source()),
                "sagemaker_region": json.dumps(self._sagemaker().meta.region_name),
            },
            "InputDataConfig": channels,
            "OutputDataConfig": {"S3OutputPath": output_path},
            "ResourceConfig": {
                "InstanceType": settings.training_instance_type,
                "InstanceCount": 1,
                "VolumeSizeInGB": settings.training_volume_gb,
            },
            "StoppingCondition": {"MaxRuntimeInSeconds": spec.max_runtime_seconds},
            "Environment": {ENTRYPOINT_VARIABLE: spec.entrypoint},
            "Tags": [
                {"Key": JOB_TAG, "Value": spec.job_name},
                {"Key": OUTPUT_TAG, "Value": spec.output.uri},
            ],
        }
        _add_network_and_keys(request, settings)
        try:
            self._sagemaker().create_training_job(**request)
        except Exception as exc:
            _raise_mapped(exc, spec.job_name)
        return TrainingJob(spec.job_name, JobStatus.IN_PROGRESS)

    def describe_training_job(self, job_name: str) -> TrainingJob:
        """The job as SageMaker reports it; a Completed job's model is first copied to the
        spec's ``output`` (see the module docstring)."""
        found = self._describe(job_name)
        raw_status = found.get("TrainingJobStatus", "InProgress")
        status = _STATUSES.get(raw_status)
        if status is None:
            raise BackendUnavailable(
                f"SageMaker reports training job {job_name!r} as {raw_status!r}, "
                "a status conveyor does not know"
            )
        reason = None
        artifact = None
        if status is JobStatus.FAILED:
            reason = found.get("FailureReason") or "SageMaker gave no reason"
        elif status is JobStatus.STOPPED:
            reason = found.get("FailureReason") or (
                "MaxRuntimeExceeded"
                if found.get("SecondaryStatus") == "MaxRuntimeExceeded"
                else "stopped by request"
            )
        elif status is JobStatus.COMPLETED:
            artifact = self._place_model(job_name, found)
        return TrainingJob(
            job_name,
            status,
            failure_reason=reason,
            model_artifact=artifact,
            started_at=_utc(found.get("TrainingStartTime")),
            finished_at=_utc(found.get("TrainingEndTime")) if status.is_terminal else None,
        )

    def get_logs(self, job_name: str) -> str:
        """Every CloudWatch Logs stream of the job (``<job>/algo-…``), oldest event first."""
        self._describe(job_name)
        logs = self.clients("logs")
        lines: list[str] = []
        try:
            streams: list[str] = []
            pages = logs.get_paginator("describe_log_streams").paginate(
                logGroupName=LOG_GROUP, logStreamNamePrefix=f"{job_name}/"
            )
            for page in pages:
                streams.extend(stream["logStreamName"] for stream in page.get("logStreams", []))
            for stream in sorted(streams):
                token: str | None = None
                while True:
                    kwargs: dict[str, Any] = {
                        "logGroupName": LOG_GROUP,
                        "logStreamName": stream,
                        "startFromHead": True,
                    }
                    if token:
                        kwargs["nextToken"] = token
                    page = logs.get_log_events(**kwargs)
                    lines.extend(event["message"].rstrip("\n") for event in page["events"])
                    # The last page repeats its token.
                    if not page["events"] or page.get("nextForwardToken") == token:
                        break
                    token = page.get("nextForwardToken")
        except Exception as exc:
            if aws_error(exc)[0] == "ResourceNotFoundException":
                return ""  # the job has not logged yet: SageMaker makes the group on first use
            _raise_mapped(exc, job_name)
        return "".join(f"{line}\n" for line in lines)

    def stop_training_job(self, job_name: str) -> None:
        found = self._describe(job_name)
        if found.get("TrainingJobStatus") in {"Completed", "Failed", "Stopped", "Stopping"}:
            return
        try:
            self._sagemaker().stop_training_job(TrainingJobName=job_name)
        except Exception as exc:
            # It ended between the describe and the stop: nothing to stop.
            code, message = aws_error(exc)
            if code == "ValidationException" and "status" in message:
                return
            _raise_mapped(exc, job_name)

    def _sagemaker(self) -> Any:
        return self.clients("sagemaker")

    def _describe(self, job_name: str) -> dict[str, Any]:
        try:
            found: dict[str, Any] = self._sagemaker().describe_training_job(
                TrainingJobName=job_name
            )
        except Exception as exc:
            _raise_mapped(exc, job_name)
        return found

    def _exists(self, job_name: str) -> bool:
        try:
            self._describe(job_name)
        except NotFound:
            return False
        return True

    def _source(self) -> str:
        """The S3 URI of sourcedir.tar.gz, uploaded once per runner (and per content)."""
        if self._source_uri is None:
            uploaded = upload_sourcedir(
                self.store,
                self.settings.source_key,
                requirements=not self.settings.training_image_has_dependencies,
            )
            self._source_uri = self._s3_uri(uploaded)
        return self._source_uri

    def _s3_uri(self, ref: ObjectRef) -> str:
        return f"s3://{self._real_bucket(ref.bucket)}/{ref.key}"

    def _real_bucket(self, bucket: str) -> str:
        real = self.store.buckets.get(bucket)
        if real is None:
            raise InvalidInput(
                f"invalid bucket name {bucket!r}: use one of "
                f"{', '.join(sorted(self.store.buckets))}",
                field="bucket",
            )
        return real

    def _place_model(self, job_name: str, found: dict[str, Any]) -> ObjectRef:
        """Copy SageMaker's model.tar.gz to the spec's output, unless it is there already."""
        produced = found.get("ModelArtifacts", {}).get("S3ModelArtifacts", "")
        source = self._logical(produced)
        target = self._output_of(found)
        if source is None:
            raise BackendUnavailable(
                f"training job {job_name!r} wrote its model to {produced!r}, outside "
                "conveyor's buckets"
            )
        if source == target:
            return target
        try:
            made = self.store.head(source.bucket, source.key)
        except NotFound as exc:
            raise BackendUnavailable(
                f"training job {job_name!r} is Completed but its model {produced!r} is not "
                "in S3 (yet); describe the job again"
            ) from exc
        with suppress(NotFound):
            if self.store.head(target.bucket, target.key).etag == made.etag:
                return target
        with tempfile.TemporaryDirectory(prefix="conveyor-model-") as folder:
            local = Path(folder) / "model.tar.gz"
            self.store.download(source.bucket, source.key, local)
            self.store.put_file(target.bucket, target.key, local)
        return target

    def _output_of(self, found: dict[str, Any]) -> ObjectRef:
        try:
            tags = self._sagemaker().list_tags(ResourceArn=found["TrainingJobArn"])["Tags"]
        except Exception as exc:
            _raise_mapped(exc, found.get("TrainingJobName", ""))
        value = next((tag["Value"] for tag in tags if tag["Key"] == OUTPUT_TAG), None)
        if not value or "/" not in value:
            raise BackendUnavailable(
                f"training job {found.get('TrainingJobName')!r} has no {OUTPUT_TAG!r} tag: "
                "it was not started by conveyor"
            )
        bucket, _, key = value.partition("/")
        return ObjectRef(bucket, key)

    def _logical(self, uri: str) -> ObjectRef | None:
        parts = urlsplit(uri)
        for logical, real in self.store.buckets.items():
            if parts.scheme == "s3" and parts.netloc == real:
                return ObjectRef(logical, parts.path.lstrip("/"))
        return None


def _validate(spec: TrainingJobSpec) -> None:
    if not _JOB_NAME.fullmatch(spec.job_name):
        raise InvalidInput(
            f"invalid training job name {spec.job_name!r}: SageMaker takes 1-63 letters, "
            "digits and hyphens, starting and ending with a letter or digit",
            field="job_name",
        )
    if not spec.channels:
        raise InvalidInput("a training job needs at least one channel", field="channels")
    if len(spec.hyperparameters) > _HYPERPARAMETERS_MAX - 3:
        raise InvalidInput(
            f"{len(spec.hyperparameters)} hyperparameters: SageMaker takes at most "
            f"{_HYPERPARAMETERS_MAX - 3} beside conveyor's own",
            field="hyperparameters",
        )
    for key, value in spec.hyperparameters.items():
        if len(key) > _HYPERPARAMETER_KEY_MAX or len(value) > _HYPERPARAMETER_VALUE_MAX:
            raise InvalidInput(
                f"hyperparameter {key[:64]!r} is too long for SageMaker (name at most "
                f"{_HYPERPARAMETER_KEY_MAX} characters, value at most "
                f"{_HYPERPARAMETER_VALUE_MAX}; this value has {len(value)})",
                field="hyperparameters",
            )
    if not _TAG_VALUE.fullmatch(spec.output.uri):
        raise InvalidInput(
            f"output {spec.output.uri!r} cannot be a SageMaker tag value (at most 256 "
            "letters, digits, spaces and _.:/=+-@)",
            field="output",
        )


_JOB_NOT_FOUND = re.compile(r"could not find|not found", re.IGNORECASE)
_JOB_EXISTS = re.compile(r"already exists", re.IGNORECASE)


def _raise_mapped(exc: Exception, job_name: str) -> NoReturn:
    """botocore's errors as conveyor's; anything else as it is."""
    missing, taken = f"no training job {job_name!r}", f"training job {job_name!r} already exists"
    rules = (
        rule(NotFound, "ResourceNotFound", "ResourceNotFoundException", message=missing),
        rule(NotFound, "ValidationException", text=_JOB_NOT_FOUND, message=missing),
        rule(AlreadyExists, "ResourceInUse", message=taken),
        rule(AlreadyExists, "ValidationException", text=_JOB_EXISTS, message=taken),
        rule(InvalidInput, "ValidationException"),
    )
    raise_translated(
        exc,
        rules,
        refused=f"SageMaker refused training job {job_name!r}",
        unreachable=f"could not reach SageMaker for job {job_name!r}",
    )


def _utc(moment: datetime | None) -> datetime | None:
    return moment.astimezone(UTC) if moment is not None else None


def _add_network_and_keys(request: dict[str, Any], settings: AwsSettings) -> None:
    """The VPC and KMS keys of the settings, each only when set (SageMaker refuses empty
    ones). No network isolation: the job calls S3, DynamoDB and EventBridge itself."""
    vpc = settings.vpc_config()
    if vpc is not None:
        request["VpcConfig"] = vpc
    if settings.output_kms_key_id:
        request["OutputDataConfig"]["KmsKeyId"] = settings.output_kms_key_id
    if settings.volume_kms_key_id:
        request["ResourceConfig"]["VolumeKmsKeyId"] = settings.volume_kms_key_id
