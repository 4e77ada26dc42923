"""What the pipeline made at run time in an AWS account, found and deleted before ``sam delete``.

CloudFormation deletes what the template made (buckets, table, functions, roles, the
template's own alarms); it never saw what conveyor's functions create while they run: the
SageMaker endpoints (the one hourly cost), their endpoint configs and models, the model
package groups and their packages, and the CloudWatch alarms of each project's rules. Every
one of those names starts with the stack's name prefix (``ProjectName``,
``CONVEYOR_AWS_NAME_PREFIX``): ``<prefix>-<project>`` (the endpoint, the model package group),
``<prefix>-<project>-v…`` (models, endpoint configs), ``<prefix>/<project>/<rule>`` (alarms).
They are found here, for the projects the stack's table knows, by listing SageMaker and
CloudWatch themselves: what a crash left out of the table is found too.

Training jobs cannot be deleted (SageMaker keeps every job's record; an ended job costs
nothing): the running ones are listed, to be stopped by hand if they should not finish.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import suppress
from dataclasses import asdict, dataclass, field
from typing import Any

from conveyor.aws.sagemaker_common import ClientFactory, call, sagemaker_name
from conveyor.errors import NotFound
from conveyor.metrics.cloudwatch_alarm_rules import check_prefix

_DELETE_ALARMS_BATCH = 100  # DeleteAlarms takes at most 100 names


@dataclass
class Leftovers:
    """What conveyor created at run time for a stack, by kind (names; package ARNs)."""

    endpoints: list[str] = field(default_factory=list)
    endpoint_configs: list[str] = field(default_factory=list)
    models: list[str] = field(default_factory=list)
    model_packages: list[str] = field(default_factory=list)
    model_package_groups: list[str] = field(default_factory=list)
    alarms: list[str] = field(default_factory=list)
    # Listed, never deleted: SageMaker has no call that deletes a training job.
    running_training_jobs: list[str] = field(default_factory=list)

    def deletable(self) -> int:
        """How many resources ``delete_leftovers`` would delete."""
        kept = len(self.running_training_jobs)
        return sum(len(names) for names in self.to_dict().values()) - kept

    def to_dict(self) -> dict[str, list[str]]:
        return asdict(self)


# Deletion order: an endpoint before the config and model it uses; packages before their
# group (SageMaker refuses to delete a group that holds any).
_ORDER = {
    "endpoints": ("sagemaker", "delete_endpoint", "EndpointName"),
    "endpoint_configs": ("sagemaker", "delete_endpoint_config", "EndpointConfigName"),
    "models": ("sagemaker", "delete_model", "ModelName"),
    "model_packages": ("sagemaker", "delete_model_package", "ModelPackageName"),
    "model_package_groups": ("sagemaker", "delete_model_package_group", "ModelPackageGroupName"),
}


def find_leftovers(clients: ClientFactory, *, prefix: str, projects: Iterable[str]) -> Leftovers:
    """Everything conveyor made at run time for ``projects`` under the stack's ``prefix``.

    Raises:
        BackendUnavailable: SageMaker or CloudWatch refused a listing or could not be reached.
    """
    check_prefix(prefix)
    found = Leftovers()
    projects = sorted(set(projects))
    # SageMakerEndpoint.endpoint_name and SageMakerRegistry.group_name: <prefix>-<project>.
    owned = [sagemaker_name(prefix, project) for project in projects]

    def ours(name: str) -> bool:
        # <prefix>-<project> (the endpoint), <prefix>-<project>-v<n>-… (models, configs)
        return any(name == head or name.startswith(f"{head}-v") for head in owned)

    for summary in _pages(clients, "list_endpoints", "Endpoints", NameContains=prefix):
        if ours(summary["EndpointName"]):
            found.endpoints.append(summary["EndpointName"])
    for summary in _pages(clients, "list_endpoint_configs", "EndpointConfigs", NameContains=prefix):
        if ours(summary["EndpointConfigName"]):
            found.endpoint_configs.append(summary["EndpointConfigName"])
    for summary in _pages(clients, "list_models", "Models", NameContains=prefix):
        if ours(summary["ModelName"]):
            found.models.append(summary["ModelName"])
    for project, head in zip(projects, owned, strict=True):
        group = _model_package_group(clients, head)
        if group is not None:
            packages = _pages(
                clients,
                "list_model_packages",
                "ModelPackageSummaryList",
                ModelPackageGroupName=group,
            )
            found.model_packages += [p["ModelPackageArn"] for p in packages]
            found.model_package_groups.append(group)
        # cloudwatch_alarm_rules.alarm_name: <prefix>/<project>/<rule>.
        found.alarms += _alarm_names(clients, f"{prefix}/{project}/")
        # The project's jobs: <prefix>-<project>-…
        jobs = _pages(
            clients,
            "list_training_jobs",
            "TrainingJobSummaries",
            NameContains=head,
            StatusEquals="InProgress",
        )
        found.running_training_jobs += [
            job["TrainingJobName"] for job in jobs if job["TrainingJobName"].startswith(f"{head}-")
        ]
    return found


def delete_leftovers(clients: ClientFactory, found: Leftovers) -> Leftovers:
    """Delete what ``find_leftovers`` found (what is already gone is skipped); returns
    what was deleted.

    Raises:
        BackendUnavailable: a delete was refused or SageMaker/CloudWatch could not be
            reached; what was deleted before stays deleted, and running teardown again
            finishes the rest.
    """
    deleted = Leftovers()
    for kind, (service, method, parameter) in _ORDER.items():
        for name in getattr(found, kind):
            with suppress(NotFound):
                call(clients, service, f"delete {name}", method, **{parameter: name})
                getattr(deleted, kind).append(name)
    for start in range(0, len(found.alarms), _DELETE_ALARMS_BATCH):
        batch = found.alarms[start : start + _DELETE_ALARMS_BATCH]
        call(clients, "cloudwatch", f"delete the alarms {batch}", "delete_alarms", AlarmNames=batch)
        deleted.alarms += batch
    return deleted


def _model_package_group(clients: ClientFactory, group: str) -> str | None:
    """The project's model package group (``<prefix>-<project>``), if SageMaker has it."""
    try:
        call(
            clients,
            "sagemaker",
            f"describe the model package group {group}",
            "describe_model_package_group",
            ModelPackageGroupName=group,
        )
    except NotFound:
        return None
    return group


def _alarm_names(clients: ClientFactory, prefix: str) -> list[str]:
    request: dict[str, Any] = {
        "AlarmNamePrefix": prefix,
        "AlarmTypes": ["MetricAlarm", "CompositeAlarm"],
    }
    names: list[str] = []
    while True:
        page = call(
            clients, "cloudwatch", f"list the alarms {prefix}*", "describe_alarms", **request
        )
        names += [a["AlarmName"] for a in page.get("MetricAlarms", [])]
        names += [a["AlarmName"] for a in page.get("CompositeAlarms", [])]
        if not page.get("NextToken"):
            return names
        request["NextToken"] = page["NextToken"]


def _pages(clients: ClientFactory, method: str, key: str, **request: Any) -> Iterator[Any]:
    """Every item of a SageMaker listing, following ``NextToken``."""
    while True:
        page = call(clients, "sagemaker", f"list ({method})", method, **request)
        yield from page.get(key, [])
        token = page.get("NextToken")
        if not token:
            return
        request["NextToken"] = token
