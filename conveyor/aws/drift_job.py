"""The drift job: ``python -m conveyor.aws.drift_job`` in a SageMaker container.

Runs ``run_drift_check`` for the project and window of its hyperparameters and keeps the
report in the Table (``drift#<project>``), as the local monitor does; the Lambda handler of
the job's end turns it into metrics. Fails with the reason in ``output/failure``.
"""

from __future__ import annotations

import sys

from conveyor.aws.job_env import job_ports
from conveyor.jobs.contract import paths_from_environment, read_hyperparameters


def main(argv: list[str] | None = None) -> int:
    del argv
    paths = paths_from_environment()
    hyperparameters = read_hyperparameters(paths)
    try:
        from conveyor.monitoring.drift_check import run_drift_check, save_drift_check
        from conveyor.types import from_iso

        ports, _ = job_ports(hyperparameters)
        project = hyperparameters["project"]
        report = run_drift_check(
            ports,
            project,
            since=from_iso(hyperparameters["since"]),
            until=from_iso(hyperparameters["until"]),
        )
        save_drift_check(ports.table, report)
        print(f"drift check of {project}: {report.status} over {report.rows} row(s)", flush=True)
    except Exception as exc:  # the job boundary: the reason goes to SageMaker's FailureReason
        reason = f"{type(exc).__name__}: {getattr(exc, 'message', None) or exc}"
        paths.failure_file.parent.mkdir(parents=True, exist_ok=True)
        paths.failure_file.write_text(reason + "\n")
        print(reason, file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
