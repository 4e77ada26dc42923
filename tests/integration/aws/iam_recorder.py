"""A pytest plugin (``-p tests.integration.aws.iam_recorder``) that records every AWS call
conveyor's code makes while the AWS flow tests run, each with the principal it runs under:
the template's function whose handler is running, or the SageMaker execution role while a
job's entrypoint runs. botocore's ``provide-client-params`` event gives each call's service,
operation and parameters; the calls the tests' fakes answer instead of moto (sagemaker_fakes,
lambda_world.FakeConveyorRuntime) are recorded from the fakes. The record is written as JSON
to ``$CONVEYOR_IAM_RECORD`` when the session ends."""

from __future__ import annotations

import functools
import importlib
import json
import os
from collections.abc import Callable
from contextvars import ContextVar
from typing import Any

from tests.integration.aws.iam_policies import SAGEMAKER_ROLE, function_handlers

JOB_MODULES = ("conveyor.aws.pipeline_job", "conveyor.aws.drift_job", "conveyor.aws.retrain_job")
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
    handlers = importlib.import_module("conveyor.aws.handlers")
    for function, dotted in function_handlers().items():
        name = dotted.rsplit(".", 1)[1]
        setattr(handlers, name, _as(function, getattr(handlers, name)))
    for module_name in JOB_MODULES:
        module = importlib.import_module(module_name)
        module.main = _as(SAGEMAKER_ROLE, module.main)  # type: ignore[attr-defined]
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
