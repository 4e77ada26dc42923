"""Deployment records in the Table; model servers watch them and swap what they serve."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from conveyor.endpoint import Deployment, changes
from conveyor.errors import AlreadyExists, Conflict, NotDeployed
from conveyor.tables import Table
from conveyor.types import ObjectRef, utcnow

if TYPE_CHECKING:
    from conveyor.config import Settings
    from conveyor.ports import PortsSoFar

_PK = "deployment"
_MAX_HISTORY = 20


class LocalEndpoint:
    scheme = "local"

    def __init__(self, *, table: Table) -> None:
        self.table = table

    @classmethod
    def from_settings(cls, uri: str, settings: Settings, ports_so_far: PortsSoFar) -> LocalEndpoint:
        """The endpoint's records in the table built before it."""
        return cls(table=ports_so_far["table"])

    def update_endpoint(
        self, project: str, version: int, artifact: ObjectRef, sha256: str
    ) -> Deployment:
        current = self.describe_endpoint(project)
        if current is None:
            new = Deployment(project, version, artifact, sha256)
            return self._write(new, expected_revision=None)
        if current.version == version:
            return current
        history = (*current.history, current.served)[-_MAX_HISTORY:]
        new = Deployment(
            project, version, artifact, sha256, history=history, revision=current.revision + 1
        )
        return self._write(new, expected_revision=current.revision)

    def rollback(self, project: str, *, expected_revision: int | None = None) -> Deployment:
        current = self.rollback_source(project, expected_revision)
        previous = current.history[-1]
        rolled = replace(
            current,
            version=previous.version,
            artifact=previous.artifact,
            sha256=previous.sha256,
            deployed_at=utcnow(),
            history=current.history[:-1],
            revision=current.revision + 1,
        )
        return self._write(rolled, expected_revision=current.revision)

    def rollback_source(self, project: str, expected_revision: int | None) -> Deployment:
        """The deployment a rollback starts from; raises as ``Endpoint.rollback`` says."""
        current = self.describe_endpoint(project)
        if current is None:
            raise NotDeployed(project)
        if not current.history:
            raise Conflict(f"project {project!r} has no earlier deployment to roll back to")
        if expected_revision is not None and current.revision != expected_revision:
            raise Conflict(
                f"another deploy of {project!r} happened during the rollback (it now serves "
                f"v{current.version}); check `conveyor models list {project}` and try again"
            )
        return current

    def describe_endpoint(self, project: str) -> Deployment | None:
        item = self.table.get(_PK, project)
        return Deployment.from_dict(item) if item else None

    def list_endpoints(self) -> list[Deployment]:
        return [Deployment.from_dict(item) for item in self.table.query(_PK)]

    def delete_endpoint(self, project: str) -> bool:
        if self.describe_endpoint(project) is None:
            return False
        self.table.delete(_PK, project)
        changes.announce()
        return True

    def _write(self, deployment: Deployment, *, expected_revision: int | None) -> Deployment:
        item = {"pk": _PK, "sk": deployment.project, **deployment.to_dict()}
        try:
            if expected_revision is None:
                self.table.put(item, if_not_exists=True)
            else:
                self.table.put(item, if_match={"revision": expected_revision})
        except AlreadyExists as exc:
            raise Conflict(
                f"another deploy of {deployment.project!r} happened at the same time; try again"
            ) from exc
        changes.announce()
        return deployment
