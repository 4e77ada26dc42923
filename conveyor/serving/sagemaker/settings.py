"""What the container reads from its environment: SageMaker's hosting variables, and the
model's identity, which the endpoint sets on the SageMaker Model (the folder cannot say it)."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from conveyor.serving.request_limits import RequestLimits

DEFAULT_MODEL_DIR = Path("/opt/ml/model")


def _cpu_count() -> int:
    return os.cpu_count() or 1


class ContainerSettings(BaseSettings):
    """Each field is read from the variable its alias names (SageMaker's own names, unprefixed)."""

    model_config = SettingsConfigDict(populate_by_name=True, extra="ignore")

    # SageMaker unpacks the model's model.tar.gz here before it runs ``serve``.
    model_dir: Path = Field(default=DEFAULT_MODEL_DIR, validation_alias="CONVEYOR_MODEL_DIR")
    port: int = Field(default=8080, ge=1, le=65535, validation_alias="SAGEMAKER_BIND_TO_PORT")
    # SageMaker's framework servers start one worker per CPU unless told otherwise.
    workers: int = Field(
        default_factory=_cpu_count, ge=1, validation_alias="SAGEMAKER_MODEL_SERVER_WORKERS"
    )
    # Seconds a request may still take when the container is stopped: requests in flight are
    # answered before the process exits (SageMaker bounds each invocation itself).
    timeout: int = Field(default=60, ge=1, validation_alias="SAGEMAKER_MODEL_SERVER_TIMEOUT")
    # The project and registry version the folder holds: the answers name them.
    project: str = Field(default="model", min_length=1, validation_alias="CONVEYOR_SERVE_PROJECT")
    version: int = Field(default=0, ge=0, validation_alias="CONVEYOR_MODEL_VERSION")
    # The digest of the content the deploy checked (conveyor.model.content_digest): a folder
    # holding anything else is refused. Unset (a folder served by hand): served as it is.
    content_digest: str | None = Field(
        default=None, min_length=64, max_length=64, validation_alias="CONVEYOR_MODEL_CONTENT_SHA256"
    )
    # The request limits of ``conveyor serve``, under the same names (docs/security-settings.md).
    max_body_bytes: int = Field(
        default=8 * 1024**2, gt=0, validation_alias="CONVEYOR_MAX_BODY_BYTES"
    )
    max_rows_per_request: int = Field(
        default=10_000, gt=0, validation_alias="CONVEYOR_MAX_ROWS_PER_REQUEST"
    )
    request_timeout_seconds: float = Field(
        default=30.0, gt=0, validation_alias="CONVEYOR_REQUEST_TIMEOUT_SECONDS"
    )

    def limits(self) -> RequestLimits:
        return RequestLimits(
            self.max_body_bytes, self.max_rows_per_request, self.request_timeout_seconds
        )
