"""The registry on the Table (scheme ``table``): versions of a project's model, numbered
from 1. The SageMaker registry keeps its version documents through one of these."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from conveyor.errors import AlreadyExists, NotFound
from conveyor.storage import ObjectStore
from conveyor.tables import Table
from conveyor.types import ApprovalStatus, ModelVersion, utcnow

if TYPE_CHECKING:
    from conveyor.config import Settings
    from conveyor.ports import PortsSoFar

_ALLOCATION_ATTEMPTS = 20

# Where a registry that keeps the approval elsewhere too records a decision first:
# (project, version, status, reason); raising stops the decision.
DecisionHook = Callable[[str, int, ApprovalStatus, "str | None"], None]


def _versions_pk(project: str) -> str:
    return f"model#{project}"


def version_sk(version: int) -> str:
    """The sort key of a version's items (its document, and what other registries keep)."""
    return f"v{version:08d}"


class TableRegistry:
    """Model versions as Table items; artifacts stay in the ObjectStore where training put them."""

    scheme = "table"

    def __init__(
        self, *, table: Table, store: ObjectStore, before_decision: DecisionHook | None = None
    ) -> None:
        self.table = table
        self.store = store
        self.before_decision = before_decision

    @classmethod
    def from_settings(cls, uri: str, settings: Settings, ports_so_far: PortsSoFar) -> TableRegistry:
        """The registry on the table and store built before it."""
        return cls(table=ports_so_far["table"], store=ports_so_far["store"])

    def create_version(self, draft: ModelVersion) -> ModelVersion:
        known = self.version_of_run(draft.project, draft.run_id)
        if known is not None:
            return self.get_version(draft.project, known)
        for _ in range(_ALLOCATION_ATTEMPTS):
            latest = self.table.query(_versions_pk(draft.project), descending=True, limit=1)
            number = int(latest[0]["version"]) + 1 if latest else 1
            now = utcnow()
            version = replace(draft, version=number, created_at=now, updated_at=now)
            try:
                self.insert(version)
            except AlreadyExists:
                continue  # another writer took this number; take the next one
            self.link_run(version)
            return version
        raise AlreadyExists(f"could not allocate a version number for {draft.project!r}")

    def version_of_run(self, project: str, run_id: str) -> int | None:
        """The version a run registered, if it did."""
        by_run = self.table.get(f"modelrun#{project}", run_id)
        return None if by_run is None else int(by_run["version"])

    def insert(self, version: ModelVersion) -> None:
        """Store a new version's document.

        Raises:
            AlreadyExists: the project already has a version with this number.
        """
        self.table.put(
            {"pk": _versions_pk(version.project), "sk": version_sk(version.version)}
            | version.to_dict(),
            if_not_exists=True,
        )

    def link_run(self, version: ModelVersion) -> None:
        """Remember which version ``version.run_id`` registered (a retry returns it)."""
        self.table.put(
            {"pk": f"modelrun#{version.project}", "sk": version.run_id, "version": version.version}
        )

    def get_version(self, project: str, version: int) -> ModelVersion:
        return self.stored(project, version)

    def stored(self, project: str, version: int) -> ModelVersion:
        """The version's document in the Table (what the SageMaker registry adds to).

        Raises:
            NotFound: the project has no such version.
        """
        item = self.table.get(_versions_pk(project), version_sk(version))
        if item is None:
            raise NotFound(
                f"project {project!r} has no version {version}; "
                f"`conveyor models list {project}` shows its versions",
                field="version",
            )
        return ModelVersion.from_dict(item)

    def list_versions(self, project: str) -> list[ModelVersion]:
        items = self.table.query(_versions_pk(project), descending=True)
        return [ModelVersion.from_dict(item) for item in items]

    def update_approval_status(
        self,
        project: str,
        version: int,
        status: ApprovalStatus,
        reason: str | None = None,
        *,
        gate: dict[str, object] | None = None,
    ) -> ModelVersion:
        current = self.stored(project, version)  # NotFound before anything changes
        if self.before_decision is not None:
            self.before_decision(project, version, status, reason)
        updated = replace(
            current,
            approval_status=status,
            status_reason=reason,
            gate=current.gate if gate is None else gate,
            updated_at=utcnow(),
        )
        self.write(updated)
        return updated

    def set_alias(self, project: str, alias: str, version: int) -> None:
        self.stored(project, version)
        self.table.put({"pk": f"alias#{project}", "sk": alias, "version": version})

    def get_aliases(self, project: str) -> dict[str, int]:
        return {i["sk"]: int(i["version"]) for i in self.table.query(f"alias#{project}")}

    def set_tags(self, project: str, version: int, tags: dict[str, str]) -> ModelVersion:
        current = self.stored(project, version)
        updated = replace(current, tags={**current.tags, **tags}, updated_at=utcnow())
        self.write(updated)
        return updated

    def delete_model_group(self, project: str) -> int:
        deleted = self.table.delete_partition(_versions_pk(project))
        self.table.delete_partition(f"modelrun#{project}")
        self.table.delete_partition(f"alias#{project}")
        return deleted

    def write(self, version: ModelVersion) -> None:
        """Store ``version``'s document over the one there."""
        self.table.put(
            {"pk": _versions_pk(version.project), "sk": version_sk(version.version)}
            | version.to_dict()
        )
