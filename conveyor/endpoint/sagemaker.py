"""The endpoint on SageMaker hosting: one endpoint per project (``<prefix>-<project>``).

A deploy reads the artifact once: its sha256 must still be the registry's, and a digest of
its content goes to the inference container, which checks the folder SageMaker unpacked
against it before it loads anything (``conveyor.model.content_digest``). Then it makes a
SageMaker model (named by version and artifact sha256, so a name never points at other
bytes), an endpoint config with one ``AllTraffic`` variant (instances or serverless) and then
creates the endpoint, or updates it blue/green: SageMaker brings the new fleet up, shifts all
traffic at once, and rolls back by itself when one of the project's CloudWatch alarms fires
during the bake (serverless endpoints take no deployment policy).

The deployment record (version, artifact, history, revision) is ``LocalEndpoint``'s, in the
same Table item with the same conditional write, so ``Conflict`` means the same here.
"""

from __future__ import annotations

import hashlib
import json
import logging
from contextlib import suppress
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from conveyor.aws.s3_hash import artifact_digests
from conveyor.aws.sagemaker_common import (
    SageMakerAdapter,
    call,
    raise_mapped,
    s3_uri,
    sagemaker_name,
)
from conveyor.endpoint import Deployment
from conveyor.endpoint.local import LocalEndpoint
from conveyor.endpoint.sagemaker_scaling import scaling_requests
from conveyor.errors import AlreadyExists, Conflict, ConveyorError, IntegrityError, NotFound
from conveyor.metrics.cloudwatch_alarm_rules import alarm_name
from conveyor.monitoring.integrity import refuse_artifact
from conveyor.types import ObjectRef

log = logging.getLogger("conveyor.endpoint")

VARIANT = "AllTraffic"
# The baking period: after all traffic moves to the new (green) fleet, SageMaker watches the
# rollback alarms this long. AWS's all-at-once guide leaves WaitIntervalInSeconds out, yet the
# API requires it; at 0 the bake is nothing, so it is a real window (the alarms need 3 minutes
# of datapoints to fire).
BAKE_SECONDS = 600
# How long the old (blue) fleet stays up after the bake (AWS's guide uses 600): while it is
# up, a rollback is a traffic switch, not a new fleet.
TERMINATION_WAIT_SECONDS = 600
# Provisioning the green fleet, the bake and the wait must fit (AWS: larger than the sum).
MAX_EXECUTION_SECONDS = 3600
# conveyor's serving alarms (conveyor.monitoring.alarms.defaults) as CloudWatch names them:
# while one fires during the bake, SageMaker sends traffic back to the old fleet.
ROLLBACK_ALARM_RULES = ("error-rate", "latency-p99")
_LIVE_PK = "sagemaker-endpoint"
# The container refuses a model folder whose content digest is not this (sagemaker/settings.py).
CONTENT_DIGEST_VARIABLE = "CONVEYOR_MODEL_CONTENT_SHA256"


@dataclass(frozen=True)
class EndpointState:
    """The live endpoint as SageMaker describes it."""

    name: str
    status: str  # Creating | Updating | InService | RollingBack | Failed | …
    endpoint_config: str
    failure_reason: str | None = None


class SageMakerEndpoint(SageMakerAdapter):
    @cached_property
    def records(self) -> LocalEndpoint:
        """The deployment record, in the same Table item as ``LocalEndpoint`` keeps it."""
        return LocalEndpoint(table=self.table)

    def endpoint_name(self, project: str) -> str:
        return sagemaker_name(self.settings.name_prefix, project)

    def update_endpoint(
        self, project: str, version: int, artifact: ObjectRef, sha256: str
    ) -> Deployment:
        current = self.records.describe_endpoint(project)
        if current is not None and current.version == version:
            return current
        # SageMaker first: a deploy racing this one finds the endpoint Updating (Conflict)
        # or loses the record's conditional write (Conflict) below.
        self._serve(project, version, artifact, sha256, where="deploy")
        return self.records.update_endpoint(project, version, artifact, sha256)

    def rollback(self, project: str, *, expected_revision: int | None = None) -> Deployment:
        current = self.records.rollback_source(project, expected_revision)
        previous = current.history[-1]
        self._serve(project, previous.version, previous.artifact, previous.sha256, where="rollback")
        return self.records.rollback(project, expected_revision=current.revision)

    def describe_endpoint(self, project: str) -> Deployment | None:
        return self.records.describe_endpoint(project)

    def list_endpoints(self) -> list[Deployment]:
        return self.records.list_endpoints()

    def delete_endpoint(self, project: str) -> bool:
        live = self.table.get(_LIVE_PK, project)
        with suppress(NotFound):
            self._sagemaker(
                f"delete the endpoint of {project!r}",
                "delete_endpoint",
                EndpointName=self.endpoint_name(project),
            )
        if live is not None:
            # What conveyor made last; earlier models and configs are named by their content
            # and may be shared, so they stay.
            with suppress(NotFound):
                self._sagemaker(
                    "delete an endpoint config",
                    "delete_endpoint_config",
                    EndpointConfigName=live["endpoint_config"],
                )
            with suppress(NotFound):
                self._sagemaker("delete a model", "delete_model", ModelName=live["model"])
            self.table.delete(_LIVE_PK, project)
        return self.records.delete_endpoint(project)

    def status(self, project: str) -> EndpointState:
        """The live endpoint's status (``InService``, ``Updating``, ``Failed`` with why).

        Raises:
            NotFound: SageMaker has no endpoint for the project.
        """
        described = self._sagemaker(
            f"describe the endpoint of {project!r}",
            "describe_endpoint",
            EndpointName=self.endpoint_name(project),
        )
        return EndpointState(
            name=described["EndpointName"],
            status=described["EndpointStatus"],
            endpoint_config=described["EndpointConfigName"],
            failure_reason=described.get("FailureReason"),
        )

    def invoke(
        self, project: str, body: bytes, content_type: str, *, custom_attributes: str | None = None
    ) -> tuple[int, bytes, str]:
        """Send a request to the project's endpoint; returns (status, body, content type).
        ``custom_attributes``: SageMaker's per-request options for the container
        (``"explain=true"``), sent only when given.

        The model's own error answers (SageMaker's ``ModelError``) come back with the status
        the model gave, so a bad request stays a 4xx.

        Raises:
            NotFound: no endpoint for the project.
            BackendUnavailable: SageMaker could not be reached or was throttling.
        """
        runtime = self.clients("sagemaker-runtime")
        options = {} if custom_attributes is None else {"CustomAttributes": custom_attributes}
        try:
            response = runtime.invoke_endpoint(
                EndpointName=self.endpoint_name(project),
                Body=body,
                ContentType=content_type,
                Accept="application/json",
                **options,
            )
        except Exception as exc:
            answered = _model_error(exc)
            if answered is not None:
                return answered
            raise_mapped(exc, f"invoke the endpoint of {project!r}")
        return 200, response["Body"].read(), response.get("ContentType", "application/json")

    def model_request(
        self, project: str, version: int, artifact: ObjectRef, sha256: str, content_digest: str
    ) -> dict[str, Any]:
        """The CreateModel request of a version whose archive holds ``content_digest``."""
        return {
            "ModelName": sagemaker_name(
                self.settings.name_prefix, project, f"v{version}", sha256[:8]
            ),
            "PrimaryContainer": {
                "Image": self.settings.inference_image_uri(),
                "ModelDataUrl": s3_uri(self.store, artifact),
                # The unpacked folder cannot say what it is; the answers name both.
                "Environment": {
                    "CONVEYOR_SERVE_PROJECT": project,
                    "CONVEYOR_MODEL_VERSION": str(version),
                    CONTENT_DIGEST_VARIABLE: content_digest,
                },
            },
            "ExecutionRoleArn": self.settings.inference_role_arn,
            **self.settings.model_network_options(),
        }

    def production_variant(self, model_name: str) -> dict[str, Any]:
        variant: dict[str, Any] = {"VariantName": VARIANT, "ModelName": model_name}
        if self.settings.serverless:
            variant["ServerlessConfig"] = {
                "MemorySizeInMB": self.settings.serverless_memory_mb,
                "MaxConcurrency": self.settings.serverless_max_concurrency,
            }
        else:
            variant["InstanceType"] = self.settings.inference_instance_type
            variant["InitialInstanceCount"] = self.settings.inference_instance_count
        return variant

    def deployment_config(self, project: str) -> dict[str, Any] | None:
        """UpdateEndpoint's blue/green policy; None for serverless, which takes none."""
        if self.settings.serverless:
            return None
        config: dict[str, Any] = {
            "BlueGreenUpdatePolicy": {
                "TrafficRoutingConfiguration": {
                    "Type": "ALL_AT_ONCE",
                    "WaitIntervalInSeconds": BAKE_SECONDS,
                },
                "TerminationWaitInSeconds": TERMINATION_WAIT_SECONDS,
                "MaximumExecutionTimeoutInSeconds": MAX_EXECUTION_SECONDS,
            }
        }
        alarms = self._rollback_alarms(project)
        if alarms:
            config["AutoRollbackConfiguration"] = {
                "Alarms": [{"AlarmName": name} for name in alarms]
            }
        return config

    def autoscaling_requests(self, project: str) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """Application Auto Scaling's requests for the project's variant (``scaling_requests``)."""
        return scaling_requests(self.settings, self.endpoint_name(project), VARIANT)

    def apply_autoscaling(self, project: str) -> bool:
        """Register the project's variant as a scalable target with its target-tracking
        policy (both calls replace what is there, so a second call changes nothing). Only an
        endpoint InService can be registered; the reconciler calls this again on its
        schedule, so an endpoint still Creating at deploy time gets it within one pass.

        Returns:
            Whether autoscaling is now applied (False: off, or the endpoint not InService).

        Raises:
            BackendUnavailable: Application Auto Scaling refused or could not be reached.
        """
        requests = self.autoscaling_requests(project)
        if requests is None:
            return False
        try:
            if self.status(project).status != "InService":
                return False
        except NotFound:
            return False
        register, policy = requests
        call(
            self.clients,
            "application-autoscaling",
            f"register the endpoint of {project!r} for autoscaling",
            "register_scalable_target",
            **register,
        )
        call(
            self.clients,
            "application-autoscaling",
            f"put the scaling policy of {project!r}",
            "put_scaling_policy",
            **policy,
        )
        return True

    def _serve(
        self, project: str, version: int, artifact: ObjectRef, sha256: str, *, where: str
    ) -> None:
        found, content_digest = artifact_digests(self.store, artifact)
        if found != sha256:
            # The caller's check passed moments ago: the object changed in between.
            current = self.records.describe_endpoint(project)
            raise refuse_artifact(
                self.table,
                project,
                version,
                artifact,
                expected=sha256,
                found=found,
                where=where,
                serving=current.version if current is not None else None,
            )
        if content_digest is None:
            raise IntegrityError(
                f"the artifact of {project} version {version} ({artifact.uri}) is not a "
                "gzipped tar archive, so SageMaker could not unpack it; nothing was deployed",
                field="artifact",
            )
        model = self.model_request(project, version, artifact, sha256, content_digest)
        self._create("create a model", "create_model", **model)
        variant = self.production_variant(model["ModelName"])
        config: dict[str, Any] = {"ProductionVariants": [variant]}
        # The instances' storage volume; a serverless endpoint has none to encrypt.
        if self.settings.volume_kms_key_id and not self.settings.serverless:
            config["KmsKeyId"] = self.settings.volume_kms_key_id
        # Named after what it holds: a change of instances or key is a config of its own.
        named = variant if len(config) == 1 else {**variant, "KmsKeyId": config["KmsKeyId"]}
        variant_hash = hashlib.sha256(json.dumps(named, sort_keys=True).encode()).hexdigest()
        config_name = sagemaker_name(model["ModelName"], f"c{variant_hash[:6]}")
        config["EndpointConfigName"] = config_name
        self._create("create an endpoint config", "create_endpoint_config", **config)
        name = self.endpoint_name(project)
        try:
            live = self.status(project)
        except NotFound:
            self._create(
                "create an endpoint",
                "create_endpoint",
                EndpointName=name,
                EndpointConfigName=config_name,
            )
        else:
            if live.status == "Failed":
                raise Conflict(
                    f"the SageMaker endpoint {name} failed ({live.failure_reason}); delete it "
                    f"(aws sagemaker delete-endpoint --endpoint-name {name}) and deploy again"
                )
            if live.endpoint_config != config_name:
                request: dict[str, Any] = {"EndpointName": name, "EndpointConfigName": config_name}
                policy = self.deployment_config(project)
                if policy is not None:
                    request["DeploymentConfig"] = policy
                self._sagemaker(f"update the endpoint {name}", "update_endpoint", **request)
        self.table.put(
            {
                "pk": _LIVE_PK,
                "sk": project,
                "endpoint": name,
                "endpoint_config": config_name,
                "model": model["ModelName"],
                "version": version,
            }
        )
        try:
            self.apply_autoscaling(project)
        except ConveyorError as exc:  # the version is served; the reconciler tries again
            log.warning("autoscaling of the endpoint %s not applied: %s", name, exc.message)

    def endpoint_config_name(self, project: str) -> str | None:
        """The endpoint config conveyor last applied to the project's endpoint."""
        item = self.table.get(_LIVE_PK, project)
        return str(item["endpoint_config"]) if item else None

    def _rollback_alarms(self, project: str) -> list[str]:
        """Those of the project's serving alarms that exist in CloudWatch (an update naming a
        missing alarm would be refused)."""
        names = [
            alarm_name(project, rule, self.settings.name_prefix) for rule in ROLLBACK_ALARM_RULES
        ]
        found = call(
            self.clients,
            "cloudwatch",
            "read the endpoint's alarms",
            "describe_alarms",
            AlarmNames=names,
            AlarmTypes=["MetricAlarm", "CompositeAlarm"],
        )
        existing = {alarm["AlarmName"] for alarm in found.get("MetricAlarms", [])}
        existing |= {alarm["AlarmName"] for alarm in found.get("CompositeAlarms", [])}
        return [name for name in names if name in existing]

    def _create(self, what: str, method: str, **request: Any) -> None:
        with suppress(AlreadyExists):  # names are content-addressed: it is this one
            self._sagemaker(what, method, **request)

    def _sagemaker(self, what: str, method: str, **request: Any) -> Any:
        return call(self.clients, "sagemaker", what, method, **request)


def _model_error(exc: Exception) -> tuple[int, bytes, str] | None:
    """The model's own answer inside SageMaker's ModelError, when it gave one."""
    response = getattr(exc, "response", None)
    if not isinstance(response, dict) or response.get("Error", {}).get("Code") != "ModelError":
        return None
    status = response.get("OriginalStatusCode")
    if not isinstance(status, int):
        return None
    message = response.get("OriginalMessage") or response["Error"].get("Message", "")
    data = message.encode() if isinstance(message, str) else bytes(message)
    try:
        json.loads(data)
        content_type = "application/json"
    except ValueError:
        content_type = "text/plain"
    return status, data, content_type
