"""The Endpoint port: which registry version each project serves, swapped atomically.

Locally the deployment record lives in the Table and every model server process watches it
(so a deploy made by the CLI is picked up by a running ``conveyor serve``); on AWS it maps
to a SageMaker endpoint's configuration.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from conveyor.types import ObjectRef, from_iso, to_iso, utcnow


@dataclass(frozen=True)
class ServedVersion:
    version: int
    artifact: ObjectRef
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "artifact": self.artifact.to_dict(), "sha256": self.sha256}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ServedVersion:
        return cls(int(data["version"]), ObjectRef.from_dict(data["artifact"]), data["sha256"])


@dataclass(frozen=True)
class Deployment:
    """What a project serves now, and what it served before (newest last) for rollback."""

    project: str
    version: int
    artifact: ObjectRef
    sha256: str
    deployed_at: datetime = field(default_factory=utcnow)
    history: tuple[ServedVersion, ...] = ()
    revision: int = 0

    @property
    def served(self) -> ServedVersion:
        return ServedVersion(self.version, self.artifact, self.sha256)

    def to_dict(self) -> dict[str, Any]:
        return {
            "project": self.project,
            "version": self.version,
            "artifact": self.artifact.to_dict(),
            "sha256": self.sha256,
            "deployed_at": to_iso(self.deployed_at),
            "history": [h.to_dict() for h in self.history],
            "revision": self.revision,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Deployment:
        return cls(
            project=data["project"],
            version=int(data["version"]),
            artifact=ObjectRef.from_dict(data["artifact"]),
            sha256=data["sha256"],
            deployed_at=from_iso(data["deployed_at"]),
            history=tuple(ServedVersion.from_dict(h) for h in data.get("history", ())),
            revision=int(data.get("revision", 0)),
        )


@runtime_checkable
class Endpoint(Protocol):
    scheme: str

    def update_endpoint(
        self, project: str, version: int, artifact: ObjectRef, sha256: str
    ) -> Deployment:
        """Serve ``version`` for ``project`` from now on; the previous one goes on the history.

        Raises:
            Conflict: another deploy of the project happened at the same moment.
        """
        ...

    def rollback(self, project: str, *, expected_revision: int | None = None) -> Deployment:
        """Serve the previously deployed version again.

        Args:
            expected_revision: roll back only the deployment of this revision (the one whose
                earlier version the caller checked).
        Raises:
            NotFound: the project has nothing deployed.
            Conflict: there is no earlier deployment to return to, or the deployment is no
                longer of ``expected_revision``.
        """
        ...

    def describe_endpoint(self, project: str) -> Deployment | None:
        """The project's current deployment, or None."""
        ...

    def list_endpoints(self) -> list[Deployment]:
        """Every project's current deployment."""
        ...

    def delete_endpoint(self, project: str) -> bool:
        """Stop serving the project and forget its deployment and its history.

        Returns:
            Whether there was a deployment to delete.
        Raises:
            BackendUnavailable: the endpoint could not be deleted.
        """
        ...
