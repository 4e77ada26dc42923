"""What the Prometheus exposition (``conveyor.metrics.prometheus``) and the CloudWatch EMF
lines (``conveyor.metrics.cloudwatch``) both label their figures with, without prometheus-client:
the Lambda functions print EMF lines and have no Prometheus."""

from __future__ import annotations

from conveyor.types import Run, RunState

# A project the server does not serve is counted under this label, so that requests to
# made-up names cannot grow the number of series without bound.
UNKNOWN_PROJECT = "_unknown"


def failed_stage(run: Run) -> str | None:
    """The stage a FAILED run failed in (its last started); None for any other run."""
    if run.state is not RunState.FAILED or not run.stages:
        return None
    return max(run.stages, key=lambda name: run.stages[name].started_at)
