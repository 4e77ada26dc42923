"""A pytest plugin (``-p tests.integration.aws.iam_recorder``) that records every AWS call
conveyor's code makes while the AWS flow tests run, each with the principal it runs under:
the template's function whose handler is running; the training role while a job's entrypoint
runs and while SageMaker's part of the job (its log stream, its model.tar.gz) is played; the
inference role while SageMaker's part of an endpoint (downloading the model the container
serves) is played. Calls made in worker threads (boto3's transfers) count for the principal
that started them. botocore's ``provide-client-params`` event gives each call's service,
operation and parameters; the calls the tests' fakes answer instead of moto (sagemaker_fakes,
lambda_world.FakeConveyorRuntime) are recorded from the fakes. The record is written as JSON
to ``$CONVEYOR_IAM_RECORD`` when the session ends."""

from __future__ import annotations

import contextvars
import functools
import importlib
import json
import os
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import ContextVar
from typing import Any

from tests.integration.aws.iam_policies import INFERENCE_ROLE, TRAINING_ROLE, function_handlers

JOB_MODULES = ("conveyor.aws.pipeline_job", "conveyor.aws.drift_job", "conveyor.aws.retrain_job")
# What SageMaker does with a role of the template, as lambda_world plays it.
_SAGEMAKER_PARTS = {
    "tests.integration.aws.lambda_world:upload_model_dir": TRAINING_ROLE,
    "tests.integration.aws.lambda_world:log_job_output": TRAINING_ROLE,
    "tests.integration.aws.lambda_world:FakeConveyorRuntime.fetch_model": INFERENCE_ROLE,
}
_FAKED = {
    "tests.integration.aws.sagemaker_fakes:FakeUpdateEndpointClient": ["update_endpoint"],
    "tests.integration.aws.sagemaker_fakes:FakeModelPackageDeleteClient": [
        "delete_model_package",
        "delete_model_package_group",
    ],
    "tests.integration.aws.sagemaker_fakes:FakeModelErrorRuntimeClient": ["invoke_endpoint"],
    "tests.integration.aws.lambda_world:FakeConveyorRuntime": ["invoke_endpoint"],
}
_principal: ContextVar[str | None] = ContextVar("iam_principal", default=None)
_calls: list[dict[str, Any]] = []


def pytest_configure(config: Any) -> None:
    """Hook botocore and wrap the handlers, job entrypoints and fakes before tests import
    them."""
    import botocore.handlers

    botocore.handlers.BUILTIN_HANDLERS.append(("provide-client-params", _on_call))
    # boto3's uploads and downloads (upload_fileobj, download_file, ...) call S3 from
    # s3transfer's worker threads: each task runs under the principal that submitted it.
    ThreadPoolExecutor.submit = _submit_in_context  # type: ignore[method-assign]
    handlers = importlib.import_module("conveyor.aws.handlers")
    for function, dotted in function_handlers().items():
        name = dotted.rsplit(".", 1)[1]
        setattr(handlers, name, _as(function, getattr(handlers, name)))
    for module_name in JOB_MODULES:
        module = importlib.import_module(module_name)
        module.main = _as(TRAINING_ROLE, module.main)  # type: ignore[attr-defined]
    for target, principal in _SAGEMAKER_PARTS.items():
        module_name, dotted = target.split(":")
        owner: Any = importlib.import_module(module_name)
        *path, name = dotted.split(".")
        for part in path:
            owner = getattr(owner, part)
        setattr(owner, name, _as(principal, getattr(owner, name)))
    for target, methods in _FAKED.items():
        module_name, class_name = target.split(":")
        cls = getattr(importlib.import_module(module_name), class_name)
        for method in methods:
            setattr(cls, method, _faked("sagemaker", method, getattr(cls, method)))


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    """Write the record where ``$CONVEYOR_IAM_RECORD`` says."""
    path = os.environ.get("CONVEYOR_IAM_RECORD")
    if path:
        with open(path, "w") as out:
            json.dump(_calls, out, default=str)


_submit = ThreadPoolExecutor.submit


def _submit_in_context(
    self: ThreadPoolExecutor, fn: Callable[..., Any], /, *args: Any, **kwargs: Any
) -> Future[Any]:
    return _submit(self, contextvars.copy_context().run, fn, *args, **kwargs)


def _as(principal: str, run: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(run)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        token = _principal.set(principal)
        try:
            return run(*args, **kwargs)
        finally:
            _principal.reset(token)

    return wrapped


def _faked(service: str, method: str, run: Callable[..., Any]) -> Callable[..., Any]:
    operation = "".join(part.title() for part in method.split("_"))
    faked_service = "sagemaker-runtime" if method == "invoke_endpoint" else service

    @functools.wraps(run)
    def wrapped(self: Any, **request: Any) -> Any:
        _record(faked_service, operation, request)
        # What the fake does to answer is not the principal's doing.
        token = _principal.set(None)
        try:
            return run(self, **request)
        finally:
            _principal.reset(token)

    return wrapped


def _on_call(params: dict[str, Any], model: Any, **_: Any) -> None:
    _record(model.service_model.service_name, model.name, params)


def _record(service: str, operation: str, params: dict[str, Any]) -> None:
    principal = _principal.get()
    if principal is not None:
        kept = {k: v for k, v in params.items() if k != "Body"}
        _calls.append(
            {"principal": principal, "service": service, "operation": operation, "params": kept}
        )
