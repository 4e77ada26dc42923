"""The retrain job: ``python -m conveyor.aws.retrain_job`` in a SageMaker container.

``request_retrain`` as the local monitor calls it (the loop guard, the feedback rows added to
the newest upload), then the run of its file, started as ``on_upload`` starts one: its
pipeline job through SageMaker. A file with feedback rows also lands in the raw bucket,
whose notification finds the same run (same bytes) and starts nothing more.
"""

from __future__ import annotations

import json
import sys

from conveyor.aws.job_env import job_ports
from conveyor.jobs.contract import run_job


def main(argv: list[str] | None = None) -> int:
    del argv
    return run_job(_retrain)


def _retrain(hyperparameters: dict[str, str]) -> None:
    from conveyor.aws.upload import JobStarter
    from conveyor.pipeline.handlers import on_object_created
    from conveyor.pipeline.retrain import request_retrain
    from conveyor.pipeline.runs import RunStore
    from conveyor.ports import PipelineContext
    from conveyor.storage import RAW

    ports, settings = job_ports(hyperparameters, job_runner="sagemaker")
    project = hyperparameters["project"]
    outcome = request_retrain(
        ports,
        project,
        json.loads(hyperparameters.get("trigger") or "{}"),
        cooldown_seconds=float(hyperparameters.get("cooldown_seconds", "3600")),
    )
    print(f"retrain {project}: {outcome.reason}", flush=True)
    if outcome.started and outcome.key and outcome.dataset_id:
        ctx = PipelineContext.from_settings(ports, settings)
        # No feedback: the newest upload again, whose bytes made a run: train anyway
        # (request_retrain's own rule). With feedback the file is new, and its S3
        # notification may make the run first: then this finds it.
        force = (
            outcome.feedback_rows == 0
            and RunStore(ports.table).find_by_dataset(project, outcome.dataset_id) is not None
        )
        detail = {
            "bucket": RAW,
            "key": outcome.key,
            "dataset_id": outcome.dataset_id,
            "source": "retrain",
            "force": force,
        }
        run = on_object_created(
            ctx,
            detail,
            start=JobStarter(
                settings.object_store_uri, settings.table_uri, settings.aws.name_prefix
            ),
        )
        if run is not None:
            print(f"run {run.run_id} is {run.state.value}", flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
