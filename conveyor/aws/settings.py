"""Settings of the AWS adapters (``CONVEYOR_AWS_*``): read only when an AWS backend is chosen,
so the local default never needs them. The SAM template sets each one on its functions."""

from __future__ import annotations

from pydantic_settings import BaseSettings, SettingsConfigDict


class AwsSettings(BaseSettings):
    """What the SageMaker, CloudWatch and EventBridge adapters need beyond a client."""

    model_config = SettingsConfigDict(env_prefix="CONVEYOR_AWS_", env_file=".env", extra="ignore")

    region: str | None = None
    endpoint_url: str | None = None
    # The role SageMaker assumes for training jobs and endpoints (the template makes it).
    sagemaker_role_arn: str = "arn:aws:iam::000000000000:role/conveyor-sagemaker"
    # SageMaker's scikit-learn framework image runs the training entrypoint in script mode and
    # the inference code; the requirements file adds LightGBM, polars and conveyor itself.
    training_image: str = (
        "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py310"
    )
    inference_image: str = (
        "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py310"
    )
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


def aws_settings() -> AwsSettings:
    return AwsSettings()
