"""What every conveyor job in a SageMaker container starts with: conveyor's settings from the
job request, and the ports on the same S3 buckets and DynamoDB table as the Lambda side."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from conveyor.wiring import Ports

# Hyperparameters a job request carries for the job's own settings.
SETTINGS_HYPERPARAMETERS = {
    "object_store_uri": "CONVEYOR_OBJECT_STORE_URI",
    "table_uri": "CONVEYOR_TABLE_URI",
    "sagemaker_region": "CONVEYOR_AWS_REGION",
}


def settings_hyperparameters(object_store_uri: str, table_uri: str) -> dict[str, str]:
    return {"object_store_uri": object_store_uri, "table_uri": table_uri}


def job_ports(hyperparameters: dict[str, str], *, job_runner: str = "local") -> tuple[Ports, Path]:
    """The job's ports and its scratch folder. The store and table are the deployment's
    (from the environment, else the hyperparameters); the registry and endpoint are read
    through their Table records, which the SageMaker adapters keep (a job needs no
    SageMaker permissions for them); ``job_runner`` ``local`` runs nested jobs as
    subprocesses in the container, ``sagemaker`` starts SageMaker jobs."""
    from conveyor.config import Settings
    from conveyor.wiring import build_ports

    for name, variable in SETTINGS_HYPERPARAMETERS.items():
        if hyperparameters.get(name) and not os.environ.get(variable):
            os.environ[variable] = hyperparameters[name]
    scratch = Path(tempfile.mkdtemp(prefix="conveyor-job-"))
    settings = Settings(
        home=scratch / "home",
        events_uri=f"sqlite:///{scratch / 'events.db'}",
        job_runner=job_runner,
        registry="table",
        endpoint="local",
    )
    return build_ports(settings), scratch
