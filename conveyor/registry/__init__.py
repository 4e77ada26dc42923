"""The Registry port: model groups (one per project) and their numbered versions.

Vocabulary is SageMaker Model Registry's: a version's approval status is
``PendingManualApproval``, ``Approved`` or ``Rejected``.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from conveyor.types import ApprovalStatus, ModelVersion


@runtime_checkable
class Registry(Protocol):
    scheme: str

    def create_version(self, draft: ModelVersion) -> ModelVersion:
        """Register a new version; the registry assigns ``version`` (1, 2, … per project).

        Registering is idempotent per run: a second call with the same ``run_id`` returns
        the version the first call created.

        Args:
            draft: the version to register; its ``version`` field is ignored.
        Returns:
            The stored version with its number.
        Raises:
            BackendUnavailable: the registry could not be written.
        """
        ...

    def get_version(self, project: str, version: int) -> ModelVersion:
        """Raises:
        NotFound: no such project or version.
        """
        ...

    def list_versions(self, project: str) -> list[ModelVersion]:
        """All versions of a project, newest first; empty when the project has none."""
        ...

    def update_approval_status(
        self,
        project: str,
        version: int,
        status: ApprovalStatus,
        reason: str | None = None,
        *,
        gate: dict[str, object] | None = None,
    ) -> ModelVersion:
        """Approve or reject a version (or leave it for a person), recording why.

        Args:
            project: the version's project.
            version: the version number.
            status: the new approval status.
            reason: why, for people.
            gate: the promotion gate's decision and its numbers, when the gate decided;
                None keeps what the version holds.
        Returns:
            The version as updated.
        Raises:
            NotFound: no such version.
        """
        ...

    def set_alias(self, project: str, alias: str, version: int) -> None:
        """Point a mutable alias (``champion`` = the deployed version) at a version.

        Raises:
            NotFound: no such version.
        """
        ...

    def get_aliases(self, project: str) -> dict[str, int]:
        """The project's aliases and the versions they point at."""
        ...

    def set_tags(self, project: str, version: int, tags: dict[str, str]) -> ModelVersion:
        """Merge ``tags`` into the version's tags.

        Raises:
            NotFound: no such version.
        """
        ...

    def delete_model_group(self, project: str) -> int:
        """Delete the project's model group: every version, its record and its aliases (the
        artifacts stay where training put them, for the caller to delete with the project's
        files).

        Returns:
            How many versions were deleted; 0 when the project has none.
        Raises:
            BackendUnavailable: the registry could not be written.
        """
        ...
