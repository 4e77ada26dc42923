"""The registry on SageMaker Model Registry: a model package group per project, a model
package per version.

SageMaker numbers the packages of a group (``ModelPackageVersion``) and conveyor's version is
that number. A package holds what SageMaker can use: the inference container and artifact,
the model-quality metrics (a JSON in the reports bucket), lineage as customer metadata and the
approval status. The whole version document (every split's metrics, the gate's numbers,
tags, hyperparameters, input schema) stays in the Table exactly as ``TableRegistry`` keeps it.
SageMaker is the source of truth for approval: a person approving a package in SageMaker
Studio is what ``get_version`` and ``list_versions`` report.
"""

from __future__ import annotations

import hashlib
import json
from contextlib import suppress
from dataclasses import replace
from functools import cached_property
from typing import Any

from conveyor.aws.sagemaker_common import (
    SageMakerAdapter,
    call,
    s3_uri,
    sagemaker_name,
)
from conveyor.errors import AlreadyExists, Conflict, NotFound
from conveyor.registry.table import TableRegistry, version_sk
from conveyor.storage import REPORTS
from conveyor.types import ApprovalStatus, ModelVersion, Task, utcnow

MAX_DESCRIPTION = 1024  # ModelPackageDescription, ApprovalDescription
MAX_METADATA_KEY = 128
MAX_METADATA_VALUE = 256
# SageMaker's model-quality statistics group metrics under the problem type.
_QUALITY_SECTION = {
    Task.BINARY: "binary_classification_metrics",
    Task.MULTICLASS: "multiclass_classification_metrics",
    Task.REGRESSION: "regression_metrics",
}


def _packages_pk(project: str) -> str:
    return f"modelpackage#{project}"


def metrics_key(project: str, run_id: str) -> str:
    """Where a version's model-quality statistics go in the reports bucket."""
    return f"{project}/registry/{run_id}/model-quality.json"


def client_token(project: str, run_id: str) -> str:
    """CreateModelPackage's idempotency token (≤ 36 of ``[a-zA-Z0-9-]``): the same run makes
    the same package even when the Table write after it was lost."""
    return hashlib.sha256(f"{project}/{run_id}".encode()).hexdigest()[:36]


class SageMakerRegistry(SageMakerAdapter):
    """Model versions as SageMaker model packages, with their full documents in the Table
    as ``TableRegistry`` keeps them (whose aliases, tags and records of decisions it uses)."""

    @cached_property
    def records(self) -> TableRegistry:
        """The version documents, aliases and tags, in the Table as ``TableRegistry`` keeps
        them; a decision reaches SageMaker's package first."""
        return TableRegistry(
            table=self.table, store=self.store, before_decision=self._before_decision
        )

    def create_version(self, draft: ModelVersion) -> ModelVersion:
        known = self.records.version_of_run(draft.project, draft.run_id)
        if known is not None:
            return self.get_version(draft.project, known)
        self._ensure_group(draft.project)
        statistics = self.store.put(
            REPORTS, metrics_key(draft.project, draft.run_id), _quality_statistics(draft)
        )
        arn = self._sagemaker(
            "register a model package",
            "create_model_package",
            **self.package_request(draft, s3_uri(self.store, statistics.ref)),
        )["ModelPackageArn"]
        described = self._sagemaker(
            "describe a model package", "describe_model_package", ModelPackageName=arn
        )
        now = utcnow()
        version = replace(
            draft,
            version=int(described["ModelPackageVersion"]),
            approval_status=ApprovalStatus(
                described.get("ModelApprovalStatus", draft.approval_status)
            ),
            created_at=now,
            updated_at=now,
        )
        project, number = version.project, version.version
        try:
            self.records.insert(version)
        except AlreadyExists:
            stored = self.records.stored(project, number)
            if stored.run_id != draft.run_id:
                raise Conflict(
                    f"SageMaker made version {number} of {project!r} for run {draft.run_id!r}, "
                    f"but the table already holds a version {number} (run {stored.run_id!r}) "
                    "registered without SageMaker; keep one registry per table"
                ) from None
            # The same run registered at the same moment (or retried after a lost write):
            # SageMaker handed both the one package (same client token); the first stands.
            version = stored
        self.table.put({"pk": _packages_pk(project), "sk": version_sk(number), "arn": arn})
        self.records.link_run(version)
        return version

    def package_request(self, draft: ModelVersion, statistics_uri: str) -> dict[str, Any]:
        """The CreateModelPackage request of a version."""
        test_metric = draft.metrics.get("test", {}).get(draft.primary_metric)
        summary = f"{draft.project} run {draft.run_id}: {draft.algorithm} {draft.task.value}"
        if test_metric is not None:
            summary += f", test {draft.primary_metric}={test_metric:.6g}"
        return {
            "ModelPackageGroupName": self.group_name(draft.project),
            "ModelPackageDescription": summary[:MAX_DESCRIPTION],
            "InferenceSpecification": {
                "Containers": [
                    {
                        "Image": self.settings.inference_image_uri(),
                        "ModelDataUrl": s3_uri(self.store, draft.artifact),
                    }
                ],
                "SupportedContentTypes": ["application/json", "text/csv"],
                "SupportedResponseMIMETypes": ["application/json"],
                "SupportedRealtimeInferenceInstanceTypes": [self.settings.inference_instance_type],
                "SupportedTransformInstanceTypes": [self.settings.inference_instance_type],
            },
            "ModelMetrics": {
                "ModelQuality": {
                    "Statistics": {"ContentType": "application/json", "S3Uri": statistics_uri}
                }
            },
            "CustomerMetadataProperties": _lineage(draft),
            "ModelApprovalStatus": draft.approval_status.value,
            "ClientToken": client_token(draft.project, draft.run_id),
        }

    def get_version(self, project: str, version: int) -> ModelVersion:
        record = self.records.stored(project, version)
        arn = self._arn(project, version)
        if arn is None:  # registered before this registry ran on SageMaker
            return record
        described = self._sagemaker(
            f"describe version {version} of {project!r}",
            "describe_model_package",
            ModelPackageName=arn,
        )
        return _with_sagemaker_status(
            record, described.get("ModelApprovalStatus"), described.get("ApprovalDescription")
        )

    def list_versions(self, project: str) -> list[ModelVersion]:
        records = self.records.list_versions(project)
        if not records:
            return []
        statuses = self._package_statuses(project)
        return [
            _with_sagemaker_status(record, statuses[record.version], None)
            if record.version in statuses
            else record
            for record in records
        ]

    def group_name(self, project: str) -> str:
        """The project's model package group: ``<name_prefix>-<project>``, within the
        template's IAM scope and apart from another stack's group of the same project."""
        return sagemaker_name(self.settings.name_prefix, project)

    def package_arn(self, project: str, version: int) -> str:
        """The ARN of a version's model package.

        Raises:
            NotFound: the version has no model package.
        """
        arn = self._arn(project, version)
        if arn is None:
            raise NotFound(f"version {version} of {project!r} has no SageMaker model package")
        return arn

    def _before_decision(
        self, project: str, version: int, status: ApprovalStatus, reason: str | None
    ) -> None:
        """SageMaker's package first (it is the source of truth for approval), then the
        Table's document."""
        arn = self._arn(project, version)
        if arn is None:
            return
        request: dict[str, Any] = {"ModelPackageArn": arn, "ModelApprovalStatus": status.value}
        if reason:
            request["ApprovalDescription"] = reason[:MAX_DESCRIPTION]
        self._sagemaker(
            f"set the approval of version {version} of {project!r}",
            "update_model_package",
            **request,
        )

    def delete_model_group(self, project: str) -> int:
        # The packages first: SageMaker refuses to delete a group that still holds any.
        for item in self.table.query(_packages_pk(project)):
            with suppress(NotFound):
                self._sagemaker(
                    f"delete a model package of {project!r}",
                    "delete_model_package",
                    ModelPackageName=item["arn"],
                )
        with suppress(NotFound):
            self._sagemaker(
                f"delete the model package group of {project!r}",
                "delete_model_package_group",
                ModelPackageGroupName=self.group_name(project),
            )
        self.table.delete_partition(_packages_pk(project))
        return self.records.delete_model_group(project)

    def _ensure_group(self, project: str) -> None:
        name = self.group_name(project)
        try:
            self._sagemaker(
                "describe a model package group",
                "describe_model_package_group",
                ModelPackageGroupName=name,
            )
            return
        except NotFound:
            pass
        with suppress(AlreadyExists):  # another registration made it first
            self._sagemaker(
                "create a model package group",
                "create_model_package_group",
                ModelPackageGroupName=name,
                ModelPackageGroupDescription=f"conveyor project {project}",
            )

    def _package_statuses(self, project: str) -> dict[int, str]:
        statuses: dict[int, str] = {}
        request: dict[str, Any] = {
            "ModelPackageGroupName": self.group_name(project),
            "MaxResults": 100,
        }
        while True:
            try:
                page = self._sagemaker(
                    f"list the model packages of {project!r}", "list_model_packages", **request
                )
            except NotFound:
                return statuses
            for summary in page.get("ModelPackageSummaryList", []):
                if "ModelPackageVersion" in summary and "ModelApprovalStatus" in summary:
                    statuses[int(summary["ModelPackageVersion"])] = summary["ModelApprovalStatus"]
            if not page.get("NextToken"):
                return statuses
            request["NextToken"] = page["NextToken"]

    def _arn(self, project: str, version: int) -> str | None:
        item = self.table.get(_packages_pk(project), version_sk(version))
        return str(item["arn"]) if item else None

    def _sagemaker(self, what: str, method: str, **request: Any) -> Any:
        return call(self.clients, "sagemaker", what, method, **request)

    # What the Table keeps as TableRegistry does (approval decisions pass _before_decision).
    def update_approval_status(
        self,
        project: str,
        version: int,
        status: ApprovalStatus,
        reason: str | None = None,
        *,
        gate: dict[str, object] | None = None,
    ) -> ModelVersion:
        return self.records.update_approval_status(project, version, status, reason, gate=gate)

    def set_alias(self, project: str, alias: str, version: int) -> None:
        self.records.set_alias(project, alias, version)

    def get_aliases(self, project: str) -> dict[str, int]:
        return self.records.get_aliases(project)

    def set_tags(self, project: str, version: int, tags: dict[str, str]) -> ModelVersion:
        return self.records.set_tags(project, version, tags)


def _with_sagemaker_status(
    record: ModelVersion, status: str | None, description: str | None
) -> ModelVersion:
    """The Table's document with SageMaker's approval, which wins when they differ."""
    if status is None:  # a package made without one: the Table's stands
        return record
    approval = ApprovalStatus(status)
    if approval is record.approval_status:
        return record
    return replace(record, approval_status=approval, status_reason=description)


def _lineage(draft: ModelVersion) -> dict[str, str]:
    values = {
        "run_id": draft.run_id,
        "dataset_id": draft.dataset_id,
        "sha256": draft.sha256,
        "git_commit": draft.git_commit,
        "package_version": draft.package_version,
        "artifact": draft.artifact.uri,
        "raw": draft.raw.uri,
    }
    return {
        key[:MAX_METADATA_KEY]: value[:MAX_METADATA_VALUE] for key, value in values.items() if value
    }


def _quality_statistics(draft: ModelVersion) -> bytes:
    """SageMaker's model-quality statistics shape (``{"value": …}`` per metric, test split),
    plus conveyor's every split for whoever reads the file."""
    section = _QUALITY_SECTION.get(draft.task, "metrics")
    test = draft.metrics.get("test", {})
    document = {
        "version": 0.0,
        section: {
            name: {"value": value, "standard_deviation": "NaN"} for name, value in test.items()
        },
        "conveyor": {"primary_metric": draft.primary_metric, "metrics": draft.metrics},
    }
    return json.dumps(document, indent=2, sort_keys=True).encode()
