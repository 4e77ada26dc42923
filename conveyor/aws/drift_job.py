"""The drift job: ``python -m conveyor.aws.drift_job`` in a SageMaker container.

Runs ``run_drift_check`` for the project and window of its hyperparameters and keeps the
report in the Table (``drift#<project>``), as the local monitor does; the Lambda handler of
the job's end turns it into metrics. As the local monitor, it also makes the project's
default alarm rules the first time (the live-quality one needs the model's metric
direction, hence the job rather than the light scheduler, which syncs the rules to
CloudWatch). Fails with the reason in ``output/failure``.
"""

from __future__ import annotations

import sys

from conveyor.aws.job_env import job_ports
from conveyor.jobs.contract import run_job


def main(argv: list[str] | None = None) -> int:
    del argv
    return run_job(_drift_check)


def _drift_check(hyperparameters: dict[str, str]) -> None:
    from conveyor.monitoring.alarms.defaults import ensure_default_alarms
    from conveyor.monitoring.drift.check import run_drift_check, save_drift_check
    from conveyor.types import from_iso

    ports, _ = job_ports(hyperparameters)
    project = hyperparameters["project"]
    # First, so that a window too thin to check still leaves the project its alarms.
    ensure_default_alarms(ports, project)
    report = run_drift_check(
        ports,
        project,
        since=from_iso(hyperparameters["since"]),
        until=from_iso(hyperparameters["until"]),
    )
    save_drift_check(ports.table, report)
    print(f"drift check of {project}: {report.status} over {report.rows} row(s)", flush=True)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
