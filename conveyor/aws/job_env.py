"""What every conveyor job in a SageMaker container starts with: conveyor's settings from the
job request, and the ports on the same S3 buckets and DynamoDB table as the Lambda side."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from conveyor.config import AwsSettings, Settings
from conveyor.ports import Ports

# Hyperparameters a job request carries for the job's own settings.
SETTINGS_HYPERPARAMETERS = {
    "object_store_uri": "CONVEYOR_OBJECT_STORE_URI",
    "table_uri": "CONVEYOR_TABLE_URI",
    "sagemaker_region": "CONVEYOR_AWS_REGION",
}


# A job that starts SageMaker jobs of its own (the retrain job) needs the AWS settings the
# Lambda side has; region and endpoint come from the container itself.
_AWS_PASSED_ON = frozenset(AwsSettings.model_fields) - {"region", "endpoint_url"}


def settings_hyperparameters(
    object_store_uri: str, table_uri: str, aws: AwsSettings | None = None
) -> dict[str, str]:
    """The hyperparameters that carry conveyor's settings to a job (strings, as SageMaker
    takes them); with ``aws``, the AWS adapters' settings too, as one JSON value."""
    values = {"object_store_uri": object_store_uri, "table_uri": table_uri}
    if aws is not None:
        values["aws_settings"] = json.dumps(aws.model_dump(include=set(_AWS_PASSED_ON)))
    return values


def job_ports(
    hyperparameters: dict[str, str], *, job_runner: str = "local"
) -> tuple[Ports, Settings]:
    """The job's ports and settings, whose home is a scratch folder. The store and table
    are the deployment's (from the environment, else the hyperparameters); the registry and
    endpoint are read through their Table records, which the SageMaker adapters keep (a job
    needs no SageMaker permissions for them); ``job_runner`` ``local`` runs nested jobs as
    subprocesses in the container, ``sagemaker`` starts SageMaker jobs."""
    from conveyor.wiring import build_ports

    for name, variable in SETTINGS_HYPERPARAMETERS.items():
        if hyperparameters.get(name) and not os.environ.get(variable):
            os.environ[variable] = hyperparameters[name]
    for name, value in json.loads(hyperparameters.get("aws_settings") or "{}").items():
        variable = f"CONVEYOR_AWS_{name.upper()}"
        if name in _AWS_PASSED_ON and not os.environ.get(variable):
            os.environ[variable] = value if isinstance(value, str) else json.dumps(value)
    scratch = Path(tempfile.mkdtemp(prefix="conveyor-job-"))
    settings = Settings(
        home=scratch / "home",
        events_uri=f"sqlite:///{scratch / 'events.db'}",
        job_runner=job_runner,
        registry="table",
        endpoint="local",
    )
    return build_ports(settings), settings
