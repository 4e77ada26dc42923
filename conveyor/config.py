"""Settings: the one place configuration is read (``CONVEYOR_*`` variables, an optional .env)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import (
    AliasChoices,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from conveyor.errors import ConfigError

# The API key `conveyor init` writes in the home (mode 0600), read when CONVEYOR_API_KEY is unset.
API_KEY_FILE = "api_key"
# The most rows a run trains from (CONVEYOR_MAX_TRAINING_ROWS). Measured: preprocessing the
# 1,000,000-row, 30-column benchmark file peaks at 1.3 GB; its rows are never sampled.
MAX_TRAINING_ROWS = 1_000_000
# The region when neither CONVEYOR_AWS_REGION nor AWS_REGION (set by Lambda) names one.
DEFAULT_AWS_REGION = "us-east-1"
# What every name conveyor gives an AWS resource at run time starts with (the template's
# ProjectName): CONVEYOR_AWS_NAME_PREFIX.
DEFAULT_NAME_PREFIX = "conveyor"


class AwsSettings(BaseSettings):
    """What the AWS adapters need (``CONVEYOR_AWS_*``): read with ``Settings`` and used only
    when an AWS backend is chosen, so the local default never needs them. The SAM template
    sets each one on its functions."""

    model_config = SettingsConfigDict(
        env_prefix="CONVEYOR_AWS_", env_file=".env", extra="ignore", populate_by_name=True
    )

    # Every boto3 client's region and endpoint (moto, localstack, an S3-compatible server).
    region: str = Field(
        default=DEFAULT_AWS_REGION,
        validation_alias=AliasChoices("CONVEYOR_AWS_REGION", "AWS_REGION"),
    )
    endpoint_url: str | None = None
    # The roles SageMaker assumes (the template makes both): one for conveyor's jobs
    # (pipeline, drift, retrain), one for the inference container of every endpoint, which
    # reads its model and nothing else.
    training_role_arn: str = "arn:aws:iam::000000000000:role/conveyor-training"
    inference_role_arn: str = "arn:aws:iam::000000000000:role/conveyor-inference"
    # Training runs in script mode: by default on an AWS Deep Learning Container with Python
    # 3.11 (conveyor needs 3.11; the scikit-learn framework images ship 3.10), whose training
    # toolkit installs the sourcedir's requirements.txt (LightGBM, polars, ...) and runs
    # train.py; the stack sets conveyor's own image (containers/training) once it is built.
    training_image: str = (
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/"
        "pytorch-training:2.5.1-cpu-py311-ubuntu22.04-sagemaker"
    )
    # The inference image is conveyor's own (containers/inference/Dockerfile), built in the
    # account by the stack's CodeBuild project (or pushed by hand): ``<account>.dkr.ecr....``.
    inference_image: str = ""
    # True when the training image already holds requirements-sagemaker.txt's packages
    # (conveyor's own, containers/training, which the stack's CodeBuild project builds): the
    # sourcedir then carries no requirements.txt and a job installs nothing at start, so it
    # needs no internet. False (a framework image): the toolkit pip-installs them at each start.
    training_image_has_dependencies: bool = False
    # Network controls, empty/False when unset. A VPC (subnet and security group ids, comma
    # separated) applies to training jobs and models alike; network isolation to models only
    # (see ``model_network_options``); the KMS keys encrypt a job's output (model.tar.gz) and
    # the volumes of training and serving instances.
    vpc_subnets: str = ""
    vpc_security_groups: str = ""
    network_isolation: bool = False
    output_kms_key_id: str = ""
    volume_kms_key_id: str = ""
    # Where the packaged source (conveyor + entrypoint + requirements) is uploaded for jobs.
    source_key: str = "code/sourcedir.tar.gz"
    training_instance_type: str = "ml.m5.large"
    training_volume_gb: int = 10
    inference_instance_type: str = "ml.m5.large"
    inference_instance_count: int = 1
    # Serverless inference: no instance kept warm; pay per request (cold starts of seconds).
    serverless: bool = False
    serverless_memory_mb: int = 2048
    serverless_max_concurrency: int = 5
    # The first part of every name conveyor gives a resource at run time, so that the
    # template's IAM policies can be scoped to this stack's resources alone: training jobs,
    # model package groups, models, endpoint configs and endpoints are
    # <name_prefix>-<project>-..., CloudWatch alarms <name_prefix>/<project>/<rule>.
    name_prefix: str = DEFAULT_NAME_PREFIX
    # Application Auto Scaling of real-time endpoints: target tracking keeps each instance
    # near autoscaling_target_invocations a minute, between inference_instance_count and
    # autoscaling_max_instances instances. 0: off (the count stays fixed).
    autoscaling_max_instances: int = Field(default=0, ge=0)
    autoscaling_target_invocations: int = Field(default=100, ge=1)
    # CloudWatch metrics namespace and the EventBridge bus conveyor's own events go to.
    metrics_namespace: str = "Conveyor"
    event_bus_name: str = "default"
    # Alarm actions (an SNS topic the template makes); empty: alarms notify no one.
    alarm_topic_arn: str = ""

    @field_validator("region", mode="before")
    @classmethod
    def _default_region(cls, value: object) -> object:
        return value or DEFAULT_AWS_REGION  # an empty variable is an unset one

    @field_validator("endpoint_url", mode="before")
    @classmethod
    def _no_empty_endpoint(cls, value: object) -> object:
        return value or None

    def inference_image_uri(self) -> str:
        """The inference image, which has no default: conveyor's own image in the account.

        Raises:
            ConfigError: ``CONVEYOR_AWS_INFERENCE_IMAGE`` is not set.
        """
        if not self.inference_image:
            raise ConfigError(
                "CONVEYOR_AWS_INFERENCE_IMAGE is not set: build and push the image in "
                "containers/inference (docs/aws.md) and set it to the image's URI"
            )
        return self.inference_image

    def vpc_config(self) -> dict[str, list[str]] | None:
        """SageMaker's ``VpcConfig`` of jobs and models, or None when no VPC is set.

        Raises:
            ConfigError: only one of the subnets and the security groups is set.
        """
        subnets = _ids(self.vpc_subnets)
        groups = _ids(self.vpc_security_groups)
        if not subnets and not groups:
            return None
        if not subnets or not groups:
            raise ConfigError(
                "a VPC needs both CONVEYOR_AWS_VPC_SUBNETS and CONVEYOR_AWS_VPC_SECURITY_GROUPS "
                "(comma-separated ids); set both, or neither to run outside a VPC"
            )
        return {"Subnets": subnets, "SecurityGroupIds": groups}

    def model_network_options(self) -> dict[str, Any]:
        """What CreateModel takes of the network settings: ``VpcConfig`` and
        ``EnableNetworkIsolation``, each only when set. Training jobs take the VPC but never
        isolation: conveyor's jobs read and write S3, DynamoDB and EventBridge through their
        APIs, which an isolated container cannot reach; the inference container needs none.

        Raises:
            ConfigError: only one of the subnets and the security groups is set.
        """
        options: dict[str, Any] = {}
        vpc = self.vpc_config()
        if vpc is not None:
            options["VpcConfig"] = vpc
        if self.network_isolation:
            options["EnableNetworkIsolation"] = True
        return options


def _ids(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


class Settings(BaseSettings):
    """Where everything lives and which backend serves each port.

    Precedence: CLI flag > environment > ``.env`` > default. URIs left empty are derived
    from ``home`` so that one variable, ``CONVEYOR_HOME``, moves a whole installation.
    """

    model_config = SettingsConfigDict(env_prefix="CONVEYOR_", env_file=".env", extra="ignore")

    home: Path = Path(".conveyor")
    object_store_uri: str = ""
    table_uri: str = ""
    events_uri: str = ""
    job_runner: str = "local"
    # The registry and endpoint backends: "table"/"local" here, "sagemaker" on AWS.
    registry: str = "table"
    endpoint: str = "local"
    # Where alarm rules are evaluated: "table" (conveyor's monitor) here, "cloudwatch" on AWS.
    alarms: str = "table"
    # The AWS adapters' settings (CONVEYOR_AWS_*), read with these and passed down to them.
    aws: AwsSettings = Field(default_factory=AwsSettings)
    # A worker counts as alive while its heartbeat is younger than this.
    worker_heartbeat_seconds: float = 10.0
    seed: int = 42
    # Inference records: off only to measure what recording costs; inputs kept for this share.
    record_inferences: bool = True
    capture_rate: float = 1.0
    # Monitoring: how often alarms and guardrails are evaluated; how long a new deploy bakes
    # (its latency and error-rate alarms roll it back) and the short periods it is judged in.
    monitor_seconds: float = 30.0
    baking_seconds: float = 600.0
    guardrail_period_seconds: float = 10.0
    # The closed loop's guard: no retraining run starts sooner than this after the last one.
    retrain_cooldown_seconds: float = 3600.0
    # The monitor checks each deployed project's drift this often, over this much traffic.
    drift_check_seconds: float = 600.0
    drift_window_seconds: float = 3600.0
    # Retrain every deployed project whose newest run is this old (0: only when alarms ask).
    retrain_every_seconds: float = 0.0
    # The largest file the HTTP API takes as an upload (the CLI copies files of any size).
    max_upload_bytes: int = Field(default=2 * 1024**3, gt=0)
    # A run trains from at most this many rows: a larger file gets a seeded, uniform sample.
    max_training_rows: int = Field(default=MAX_TRAINING_ROWS, gt=0)
    # Security and request limits: docs/security-settings.md. No key (and no <home>/api_key
    # file, which `conveyor init` writes) leaves the server open, as a local tool.
    api_key: SecretStr | None = None
    max_body_bytes: int = Field(default=8 * 1024**2, gt=0)
    max_rows_per_request: int = Field(default=10_000, gt=0)
    request_timeout_seconds: float = Field(default=30.0, gt=0)

    @model_validator(mode="after")
    def _derive_uris(self) -> Settings:
        self.home = self.home.expanduser().absolute()
        if not self.object_store_uri:
            self.object_store_uri = f"file://{self.home / 'buckets'}"
        if not self.table_uri:
            self.table_uri = f"sqlite:///{self.home / 'conveyor.db'}"
        if not self.events_uri:
            self.events_uri = f"sqlite:///{self.home / 'conveyor.db'}"
        return self

    @model_validator(mode="after")
    def _read_api_key(self) -> Settings:
        key = self.api_key.get_secret_value() if self.api_key is not None else ""
        key_file = self.home / API_KEY_FILE
        if not key and key_file.is_file():
            key = key_file.read_text().strip()
        self.api_key = SecretStr(key) if key else None  # empty CONVEYOR_API_KEY: no key
        return self

    @property
    def jobs_dir(self) -> Path:
        """Where the local job runner lays out each training job's ``/opt/ml``-like root."""
        return self.home / "jobs"

    @property
    def work_dir(self) -> Path:
        """The pipeline stages' scratch folders (one per run step, removed after it)."""
        return self.home / "work"

    @property
    def serving_cache_dir(self) -> Path:
        """Verified, unpacked model artifacts, shared by the server, the CLI and the stages."""
        return self.home / "serving-cache"


def load_settings(**overrides: object) -> Settings:
    """Build and validate ``Settings``; an invalid value names its variable."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
    except ValidationError as exc:
        # AwsSettings, made inside Settings, reports its own fields (CONVEYOR_AWS_*).
        prefix = "CONVEYOR_AWS_" if exc.title == AwsSettings.__name__ else "CONVEYOR_"
        problems = "; ".join(
            f"{prefix}{str(err['loc'][0]).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from exc
