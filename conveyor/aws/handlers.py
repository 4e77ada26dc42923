"""conveyor's Lambda functions: each parses its event and calls the code the local worker and
server run.

Thin by design: nothing here, nor on any handler's path, imports numpy, polars, pyarrow,
scipy, scikit-learn, LightGBM, FastAPI or uvicorn (a test holds every handler to it); the
heavy stages run in SageMaker jobs (``conveyor.aws.pipeline_job``). Ports are built on the
first invocation and kept for the container's life (``conveyor.aws.runtime``). Every
handler is idempotent: S3 and EventBridge deliver at least once.

=============================================  ===========================================
handler                                        event
=============================================  ===========================================
``on_upload``                                  S3 ObjectCreated notification (raw bucket)
``on_training_job_state_change``               SageMaker Training Job State Change
``on_model_package_state_change``              SageMaker Model Package State Change
``predict``                                    API Gateway REST proxy, POST /predict/{project}
``feedback``                                   API Gateway REST proxy, POST /feedback/{project}
``drift_check``                                EventBridge Scheduled Event
``on_alarm``                                   CloudWatch Alarm State Change
``reconcile_runs``                             EventBridge Scheduled Event
=============================================  ===========================================
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from conveyor.aws import (
    events,
    feedback_proxy,
    job_runs,
    monitor_jobs,
    predict_proxy,
    reconcile,
    release,
    runtime,
)
from conveyor.aws.upload import JobStarter, start_run
from conveyor.errors import Conflict, ConveyorError, InvalidInput
from conveyor.logs import log_context
from conveyor.metrics import cloudwatch
from conveyor.metrics.cloudwatch_alarm_rules import alarm_state_change_detail
from conveyor.pipeline.handlers import on_training_job_state_change as finish_training_job
from conveyor.serving.request_limits import RequestLimits

log = logging.getLogger("conveyor.aws")
_TERMINAL = frozenset({"Completed", "Failed", "Stopped"})


Handler = Callable[[dict[str, Any], Any], dict[str, Any]]


def _request_id(context: Any) -> str | None:
    return getattr(context, "aws_request_id", None)


def _scoped(handler: Handler) -> Handler:
    """One log scope per invocation: a warm container runs many, and what one binds (a run
    id, a project) must not be stamped on the next one's lines."""

    @functools.wraps(handler)
    def invoke(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
        with log_context(request_id=_request_id(context)):
            return handler(event, context)

    return invoke


@_scoped
def on_upload(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """S3 ObjectCreated → the run (dataset id: the sha256 of the object) → its pipeline job."""
    created = events.s3_objects(event)
    ctx = runtime.pipeline_context()
    settings = runtime.settings()
    starter = JobStarter(settings.object_store_uri, settings.table_uri, settings.aws.name_prefix)
    runs = []
    for record in created:
        with log_context(request_id=_request_id(context)):
            run = start_run(ctx, record, starter)
            if run is not None:
                log.info(
                    "s3://%s/%s: run %s is %s", record.bucket, record.key, run.run_id, run.state
                )
                runs.append({"run_id": run.run_id, "state": run.state.value})
    return {"runs": runs}


@_scoped
def on_training_job_state_change(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """A job ended: a pipeline job's run is registered, gated and deployed (or FAILS with
    SageMaker's reason); a drift job's result becomes metrics."""
    return training_job_ended(events.training_job_change(event), _request_id(context))


def training_job_ended(change: events.TrainingJobChange, request_id: str | None) -> dict[str, Any]:
    """What a job's state change does, however conveyor learnt of it: its event, or the
    reconciler (``reconcile_runs``) finding the job ended with no event handled."""
    if change.status not in _TERMINAL:
        return {"job": change.job_name, "ignored": f"status {change.status}"}
    if change.hyperparameters.get("kind") == monitor_jobs.DRIFT_KIND:
        return monitor_jobs.drift_job_ended(runtime.ports(), change, runtime.settings().aws)
    ctx = runtime.pipeline_context()
    with log_context(request_id=request_id):
        run = job_runs.run_of_job(ctx, change)
        if run is None:
            log.warning("training job %s: no conveyor run started it", change.job_name)
            return {"job": change.job_name, "ignored": "no run"}
        if not run.state.is_terminal and run.job_name == change.job_name:
            run = job_runs.fail_if_never_trained(ctx, run, change) or run
        before = run.state
        detail = {"run_id": run.run_id, "job_name": change.job_name}
        ended = finish_training_job(ctx, detail, finish=release.register_and_gate)
    assert ended is not None  # a run was found
    if ended.state.is_terminal and ended.state != before:  # once, not per delivery
        for document in cloudwatch.pipeline_stage_metrics(
            ended, runtime.settings().aws.metrics_namespace
        ):
            cloudwatch.emit(document)
    return {
        "run_id": ended.run_id,
        "state": ended.state.value,
        "model_version": ended.model_version,
        "failure_reason": ended.failure_reason,
    }


@_scoped
def on_model_package_state_change(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """A version Approved by a person (SageMaker Studio, the API) is deployed; the serving
    version Rejected by a person is replaced by the previous approved one."""
    change = events.model_package_change(event)
    ignored = {"ignored": f"{change.group} version {change.version} is {change.approval_status}"}
    if change.approval_status not in {"Approved", "Rejected"}:
        return ignored
    ports = runtime.ports()
    project = release.project_of_group(ports, change.group, runtime.settings().aws.name_prefix)
    rejected = change.approval_status == "Rejected"
    if project is None:
        if rejected:
            return ignored
        return {"ignored": f"model package group {change.group!r} is not a conveyor project"}
    act = release.rejected_by_a_person if rejected else release.approved_by_a_person
    with log_context(request_id=_request_id(context), project=project.name, version=change.version):
        try:
            deployment = act(ports, project, change.version)
        except ConveyorError as exc:  # a retry would meet the same refusal: say it, once
            log.error(
                "not changing what %s serves after version %d was %s: %s",
                project.name,
                change.version,
                change.approval_status,
                exc.message,
            )
            return {
                "project": project.name,
                "version": change.version,
                "deployed": False,
                "reason": exc.message,
            }
    if rejected:
        if deployment is None:
            return ignored
        return {
            "project": project.name,
            "version": change.version,
            "rolled_back_to": deployment.version,
        }
    if deployment is None:
        return {"project": project.name, "version": change.version, "deployed": False}
    return {"project": project.name, "version": deployment.version, "deployed": True}


@_scoped
def predict(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """API Gateway ``POST /predict/{project}`` → validate → the endpoint → record → metrics."""
    return _api_route(
        event,
        lambda request: predict_proxy.handle(
            request,
            runtime.ports(),
            namespace=runtime.settings().aws.metrics_namespace,
            limits=RequestLimits.from_settings(runtime.settings()),
            request_ids=runtime.request_ids(),
        ),
    )


@_scoped
def feedback(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """API Gateway ``POST /feedback/{project}`` → check the request ids → the table."""
    return _api_route(
        event,
        lambda request: feedback_proxy.handle(request, runtime.ports(), runtime.request_ids()),
    )


def _api_route(
    event: dict[str, Any], answer: Callable[[events.ApiRequest], dict[str, Any]]
) -> dict[str, Any]:
    """``answer``'s response to an API Gateway proxy event; 400 for an event that is none."""
    try:
        request = events.api_request(event)
    except InvalidInput as exc:
        return events.proxy_response(400, predict_proxy.json_error(exc))
    with log_context():
        return answer(request)


@_scoped
def drift_check(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """The schedule: one drift job per deployed project (once per scheduled time)."""
    rule = events.scheduled_event(event)
    started = monitor_jobs.start_drift_jobs(
        runtime.ports(), runtime.settings(), scheduled_at=str(event.get("time", ""))
    )
    log.info("drift check (%s): %d job(s) started", rule, len(started))
    return {"jobs": started}


@_scoped
def on_alarm(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """A conveyor alarm with a ``retrain`` action went to ALARM: retrain, under the loop
    guard (the retrain job applies it)."""
    try:
        change = alarm_state_change_detail(event, name_prefix=runtime.settings().aws.name_prefix)
    except InvalidInput as exc:
        log.warning("ignoring alarm event: %s", exc.message)
        return {"ignored": exc.message}
    with log_context(request_id=_request_id(context), project=change.project):
        try:
            return monitor_jobs.retrain_on_alarm(
                runtime.ports(), runtime.settings(), change, changed_at=str(event.get("time", ""))
            )
        except ConveyorError as exc:
            log.warning("alarm %s of %s: %s", change.alarm, change.project, exc.message)
            return {"project": change.project, "retrain": False, "reason": exc.message}


@_scoped
def reconcile_runs(event: dict[str, Any], context: Any = None) -> dict[str, Any]:
    """The schedule: each run whose training job ended with no state change handled is
    finished as its event would have finished it; deployed endpoints get autoscaling (when
    on); the oldest active run's age becomes the metric the stuck-run alarm watches."""
    rule = events.scheduled_event(event)
    found = reconcile.sweep(runtime.pipeline_context())
    finished = []
    for change in found.ended:
        run_id = change.hyperparameters["run_id"]
        log.warning(
            "run %s: training job %s ended %s and no event finished the run; finishing it now",
            run_id,
            change.job_name,
            change.status,
        )
        try:
            finished.append(training_job_ended(change, _request_id(context)))
        except Conflict:  # the event's handler is moving it right now: its outcome stands
            log.info("run %s: moved by another invocation meanwhile", run_id)
        except ConveyorError as exc:  # the next pass tries again; the other runs go on
            log.error("run %s: not finished: %s", run_id, exc.message)
    scaled = reconcile.keep_endpoints_scaled(runtime.ports())
    namespace = runtime.settings().aws.metrics_namespace
    document = reconcile.age_metrics(runtime.pipeline_context(), namespace)
    cloudwatch.emit(document)
    log.info(
        "reconcile (%s): %d run(s) finished, %d waiting", rule, len(finished), len(found.waiting)
    )
    return {
        "finished": finished,
        "waiting": found.waiting,
        "missing": found.missing,
        "autoscaled": scaled,
        "oldest_active_run_seconds": document[reconcile.OLDEST_ACTIVE_RUN_AGE],
    }
