"""The registry on the Table: versions of a project's model, numbered from 1."""

from __future__ import annotations

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


def _versions_pk(project: str) -> str:
    return f"model#{project}"


def _sk(version: int) -> str:
    return f"v{version:08d}"


class LocalRegistry:
    """Model versions as Table items; artifacts stay in the ObjectStore where training put them."""

    scheme = "local"

    def __init__(self, *, table: Table, store: ObjectStore) -> None:
        self.table = table
        self.store = store

    @classmethod
    def from_settings(cls, uri: str, settings: Settings, ports_so_far: PortsSoFar) -> LocalRegistry:
        """The registry on the table and store built before it."""
        return cls(table=ports_so_far["table"], store=ports_so_far["store"])

    def create_version(self, draft: ModelVersion) -> ModelVersion:
        by_run = self.table.get(f"modelrun#{draft.project}", draft.run_id)
        if by_run is not None:
            return self.get_version(draft.project, int(by_run["version"]))
        for _ in range(_ALLOCATION_ATTEMPTS):
            latest = self.table.query(_versions_pk(draft.project), descending=True, limit=1)
            number = int(latest[0]["version"]) + 1 if latest else 1
            now = utcnow()
            version = replace(draft, version=number, created_at=now, updated_at=now)
            try:
                self.table.put(
                    {"pk": _versions_pk(draft.project), "sk": _sk(number), **version.to_dict()},
                    if_not_exists=True,
                )
            except AlreadyExists:
                continue  # another writer took this number; take the next one
            self.table.put(
                {"pk": f"modelrun#{draft.project}", "sk": draft.run_id, "version": number}
            )
            return version
        raise AlreadyExists(f"could not allocate a version number for {draft.project!r}")

    def get_version(self, project: str, version: int) -> ModelVersion:
        return self._stored(project, version)

    def _stored(self, project: str, version: int) -> ModelVersion:
        """The version's document in the Table (what a subclass's ``get_version`` adds to)."""
        item = self.table.get(_versions_pk(project), _sk(version))
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
        self, project: str, version: int, status: ApprovalStatus, reason: str | None = None
    ) -> ModelVersion:
        return self._decide(project, version, status, reason)

    def update_gate(
        self,
        project: str,
        version: int,
        status: ApprovalStatus,
        reason: str,
        gate: dict[str, object],
    ) -> ModelVersion:
        return self._decide(project, version, status, reason, gate)

    def _decide(
        self,
        project: str,
        version: int,
        status: ApprovalStatus,
        reason: str | None,
        gate: dict[str, object] | None = None,
    ) -> ModelVersion:
        """The version's new status and why (and the gate's numbers, when it decided)."""
        current = self._stored(project, version)  # NotFound before anything changes
        self._before_decision(project, version, status, reason)
        updated = replace(
            current,
            approval_status=status,
            status_reason=reason,
            gate=current.gate if gate is None else gate,
            updated_at=utcnow(),
        )
        self._write(updated)
        return updated

    def _before_decision(
        self, project: str, version: int, status: ApprovalStatus, reason: str | None
    ) -> None:
        """Where a registry that keeps the approval elsewhere too records it first."""

    def set_alias(self, project: str, alias: str, version: int) -> None:
        self._stored(project, version)
        self.table.put({"pk": f"alias#{project}", "sk": alias, "version": version})

    def get_aliases(self, project: str) -> dict[str, int]:
        return {i["sk"]: int(i["version"]) for i in self.table.query(f"alias#{project}")}

    def set_tags(self, project: str, version: int, tags: dict[str, str]) -> ModelVersion:
        current = self._stored(project, version)
        updated = replace(current, tags={**current.tags, **tags}, updated_at=utcnow())
        self._write(updated)
        return updated

    def delete_model_group(self, project: str) -> int:
        deleted = self.table.delete_partition(_versions_pk(project))
        self.table.delete_partition(f"modelrun#{project}")
        self.table.delete_partition(f"alias#{project}")
        return deleted

    def _write(self, version: ModelVersion) -> None:
        self.table.put(
            {"pk": _versions_pk(version.project), "sk": _sk(version.version), **version.to_dict()}
        )
