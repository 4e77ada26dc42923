"""Settings: the one place configuration is read (``CONVEYOR_*`` variables, an optional .env)."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from conveyor.errors import ConfigError

# The API key `conveyor init` writes in the home (mode 0600), read when CONVEYOR_API_KEY is unset.
API_KEY_FILE = "api_key"
# The most rows a run trains from (CONVEYOR_MAX_TRAINING_ROWS). Measured: preprocessing the
# 1,000,000-row, 30-column benchmark file peaks at 1.3 GB; its rows are never sampled.
MAX_TRAINING_ROWS = 1_000_000


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
    # The registry and endpoint backends: "table"/"local" here, "sagemaker" on AWS (the
    # SageMaker adapters read their own settings, CONVEYOR_AWS_*: conveyor/aws/settings.py).
    registry: str = "table"
    endpoint: str = "local"
    aws_region: str | None = None
    aws_endpoint_url: str | None = None
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
        return self.home / "jobs"


def load_settings(**overrides: object) -> Settings:
    """Build and validate ``Settings``; an invalid value names its variable."""
    try:
        return Settings(**{k: v for k, v in overrides.items() if v is not None})  # type: ignore[arg-type]
    except ValidationError as exc:
        problems = "; ".join(
            f"CONVEYOR_{str(err['loc'][0]).upper()}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigError(f"invalid settings: {problems}") from exc
