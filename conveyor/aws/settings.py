"""Settings of the AWS adapters (``CONVEYOR_AWS_*``): read only when an AWS backend is chosen,
so the local default never needs them. The SAM template sets each one on its functions."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict

from conveyor.errors import ConfigError


class AwsSettings(BaseSettings):
    """What the SageMaker, CloudWatch and EventBridge adapters need beyond a client."""

    model_config = SettingsConfigDict(env_prefix="CONVEYOR_AWS_", env_file=".env", extra="ignore")

    region: str | None = None
    endpoint_url: str | None = None
    # The role SageMaker assumes for training jobs and endpoints (the template makes it).
    sagemaker_role_arn: str = "arn:aws:iam::000000000000:role/conveyor-sagemaker"
    # Training runs in script mode on an AWS Deep Learning Container with Python 3.11 (conveyor
    # needs 3.11; the scikit-learn framework images ship 3.10): the SageMaker training toolkit
    # installs the sourcedir's requirements.txt (LightGBM, polars, ...) and runs train.py.
    training_image: str = (
        "763104351884.dkr.ecr.us-east-1.amazonaws.com/"
        "pytorch-training:2.5.1-cpu-py311-ubuntu22.04-sagemaker"
    )
    # The inference image is conveyor's own (containers/inference/Dockerfile), built and pushed
    # to the account's ECR by the user: ``<account>.dkr.ecr.<region>.amazonaws.com/conveyor-...``.
    inference_image: str = ""
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
    # Endpoint names: <endpoint_prefix>-<project>.
    endpoint_prefix: str = "conveyor"
    # CloudWatch metrics namespace and the EventBridge bus conveyor's own events go to.
    metrics_namespace: str = "Conveyor"
    event_bus_name: str = "default"
    # Alarm actions (an SNS topic the template makes); empty: alarms notify no one.
    alarm_topic_arn: str = ""

    def inference_image_uri(self) -> str:
        """The inference image, which has no default: conveyor's own image in the account."""
        if not self.inference_image:
            raise ConfigError(
                "CONVEYOR_AWS_INFERENCE_IMAGE is not set: build and push the image in "
                "containers/inference (docs/aws.md) and set it to the image's URI"
            )
        return self.inference_image


def aws_settings() -> AwsSettings:
    return AwsSettings()
