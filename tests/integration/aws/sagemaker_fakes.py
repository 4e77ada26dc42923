"""Fakes at the boto3 client boundary for the SageMaker calls moto cannot answer.

moto does not implement ``UpdateEndpoint``, ``DeleteModelPackage`` or
``DeleteModelPackageGroup``, and its ``InvokeEndpoint`` always answers a fixed body, never a
model's error. Each fake wraps a real (moto-backed) boto3 client, passes every
other call through, and checks the faked request against the real API's shape with botocore.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError
from botocore.stub import Stubber
from botocore.validate import validate_parameters

from conveyor.aws.clients import client

_LOG_STREAM = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/sagemaker/Endpoints/conveyor"


class FakeUpdateEndpointClient:
    """A SageMaker client whose ``update_endpoint`` moto lacks: the request is validated,
    recorded in ``update_requests`` and applied to moto's endpoint (its config and
    variants), as SageMaker leaves it once a blue/green update has finished.

    With ``leave_updating`` the endpoint stays ``Updating`` after an update, so the next one
    is refused as SageMaker refuses an update of an endpoint being updated."""

    def __init__(self, *, leave_updating: bool = False) -> None:
        self.leave_updating = leave_updating
        self.update_requests: list[dict[str, Any]] = []

    @property
    def real(self) -> Any:
        return client("sagemaker")  # made inside the test's mocked account

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def update_endpoint(self, **request: Any) -> dict[str, Any]:
        from moto.sagemaker.models import sagemaker_backends

        operation = self.real.meta.service_model.operation_model("UpdateEndpoint")
        validate_parameters(request, operation.input_shape)
        live = self.real.describe_endpoint(EndpointName=request["EndpointName"])
        config = self.real.describe_endpoint_config(
            EndpointConfigName=request["EndpointConfigName"]
        )
        if live["EndpointStatus"] != "InService":
            raise ClientError(
                {
                    "Error": {
                        "Code": "ValidationException",
                        "Message": f'Cannot update in-progress endpoint "{live["EndpointArn"]}".',
                    },
                    "ResponseMetadata": {"HTTPStatusCode": 400},
                },
                "UpdateEndpoint",
            )
        self.update_requests.append(request)
        account = live["EndpointArn"].split(":")[4]
        backend = sagemaker_backends[account][self.real.meta.region_name]
        endpoint = backend.endpoints[request["EndpointName"]]
        endpoint.endpoint_config_name = request["EndpointConfigName"]
        endpoint.production_variants = endpoint._process_production_variants(
            config["ProductionVariants"]
        )
        if self.leave_updating:
            endpoint.endpoint_status = "Updating"
        return {"EndpointArn": live["EndpointArn"]}


class FakeModelPackageDeleteClient:
    """A SageMaker client with the two deletes moto lacks, ``delete_model_package`` and
    ``delete_model_package_group``: each request is validated and applied to moto's
    registry; as SageMaker does, a group that still holds packages is refused and a missing
    package or group is a ValidationException saying it does not exist."""

    @property
    def real(self) -> Any:
        return client("sagemaker")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def _backend(self) -> Any:
        from moto.core import DEFAULT_ACCOUNT_ID
        from moto.sagemaker.models import sagemaker_backends

        return sagemaker_backends[DEFAULT_ACCOUNT_ID][self.real.meta.region_name]

    def _validated(self, operation: str, request: dict[str, Any]) -> None:
        model = self.real.meta.service_model.operation_model(operation)
        validate_parameters(request, model.input_shape)

    def delete_model_package(self, **request: Any) -> dict[str, Any]:
        self._validated("DeleteModelPackage", request)
        backend = self._backend()
        arn = backend.model_package_name_mapping.get(request["ModelPackageName"])
        if arn is None or arn not in backend.model_packages:
            raise _validation_error("DeleteModelPackage", "Model package does not exist.")
        package = backend.model_packages.pop(arn)
        for name in (package.model_package_name, arn):
            backend.model_package_name_mapping.pop(name, None)
        return {}

    def delete_model_package_group(self, **request: Any) -> dict[str, Any]:
        self._validated("DeleteModelPackageGroup", request)
        backend = self._backend()
        name = request["ModelPackageGroupName"]
        if name not in backend.model_package_groups:
            raise _validation_error(
                "DeleteModelPackageGroup", f"Model package group {name} does not exist."
            )
        if any(p.model_package_group_name == name for p in backend.model_packages.values()):
            raise _validation_error(
                "DeleteModelPackageGroup",
                f"Model package group {name} contains model packages; delete them first.",
            )
        del backend.model_package_groups[name]
        return {}


def _validation_error(operation: str, message: str) -> ClientError:
    return ClientError(
        {
            "Error": {"Code": "ValidationException", "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": 400},
        },
        operation,
    )


class FakeModelErrorRuntimeClient:
    """A sagemaker-runtime client whose endpoint's model answers every request with
    ``status`` and ``message``: SageMaker's ``ModelError`` (HTTP 424) carrying them as
    ``OriginalStatusCode`` / ``OriginalMessage``, made by botocore's own Stubber."""

    def __init__(self, status: int, message: str) -> None:
        import boto3

        self.real = boto3.client("sagemaker-runtime", region_name="us-east-1")
        self.stubber = Stubber(self.real)
        self.status = status
        self.message = message
        self.requests: list[dict[str, Any]] = []

    def invoke_endpoint(self, **request: Any) -> dict[str, Any]:
        self.requests.append(request)
        self.stubber.add_client_error(
            "invoke_endpoint",
            service_error_code="ModelError",
            service_message=(
                f"Received client error ({self.status}) from primary with message "
                f'"{self.message}". See the endpoint\'s log group for more information.'
            ),
            http_status_code=424,
            modeled_fields={
                "OriginalStatusCode": self.status,
                "OriginalMessage": self.message,
                "LogStreamArn": _LOG_STREAM,
            },
        )
        with self.stubber:
            result: dict[str, Any] = self.real.invoke_endpoint(**request)
            return result


def clients_with(**fakes: Any) -> Callable[[str], Any]:
    """A client factory giving ``fakes[service]`` where set, else the real (moto) client
    where the settings point (this process's mock, or a moto server); ``fakes`` are keyed by
    service with ``-`` as ``_`` (``sagemaker_runtime=…``)."""
    from conveyor.aws.sagemaker_common import settings_clients
    from conveyor.config import AwsSettings

    def make(service: str) -> Any:
        return fakes.get(service.replace("-", "_")) or settings_clients(AwsSettings())(service)

    return make
