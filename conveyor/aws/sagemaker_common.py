"""What the SageMaker registry and endpoint adapters share: clients, names, S3 URIs, errors."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NoReturn, Self

from conveyor.aws.clients import client
from conveyor.aws.errors import raise_translated, rule
from conveyor.config import AwsSettings, Settings
from conveyor.errors import (
    AlreadyExists,
    ConfigError,
    Conflict,
    ConveyorError,
    NotFound,
)
from conveyor.storage import ObjectStore
from conveyor.tables import Table
from conveyor.types import ObjectRef

if TYPE_CHECKING:
    from conveyor.ports import PortsSoFar

# service name ("sagemaker", "sagemaker-runtime", "cloudwatch") -> boto3 client
ClientFactory = Callable[[str], Any]

# SageMaker resource names (models, endpoint configs, endpoints, model package groups).
MAX_NAME = 63
_NAME = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
_NOT_FOUND = re.compile(r"not found|could not find|does not exist", re.IGNORECASE)
_EXISTS = re.compile(r"already exist", re.IGNORECASE)
_BUSY = re.compile(r"in-progress|in progress|cannot update", re.IGNORECASE)


def settings_clients(settings: AwsSettings) -> ClientFactory:
    """Clients from ``conveyor.aws.clients`` in the settings' region and endpoint."""

    def make(service: str) -> Any:
        return client(service, region=settings.region, endpoint_url=settings.endpoint_url)

    return make


class SageMakerAdapter:
    """What the SageMaker registry and endpoint are built from: the Table and object store
    their records and artifacts live in, the AWS settings, and the clients they call."""

    scheme = "sagemaker"

    def __init__(
        self,
        *,
        table: Table,
        store: ObjectStore,
        settings: AwsSettings,
        clients: ClientFactory | None = None,
    ) -> None:
        self.table = table
        self.store = store
        self.settings = settings
        # Tests swap this for a wrapper at the client boundary; nothing else creates clients.
        self.clients: ClientFactory = clients or settings_clients(settings)

    @classmethod
    def from_settings(cls, uri: str, settings: Settings, ports_so_far: PortsSoFar) -> Self:
        """The adapter on the table and store built before it, with the AWS settings."""
        return cls(table=ports_so_far["table"], store=ports_so_far["store"], settings=settings.aws)


def sagemaker_name(*parts: object) -> str:
    """``parts`` joined by ``-`` as a valid SageMaker name: when longer than 63 characters the
    head is kept and a hash of the whole name keeps distinct names distinct."""
    name = "-".join(str(part) for part in parts)
    if len(name) > MAX_NAME:
        digest = hashlib.sha256(name.encode()).hexdigest()[:8]
        name = f"{name[: MAX_NAME - 9].rstrip('-')}-{digest}"
    if not _NAME.fullmatch(name):
        raise ConfigError(
            f"{name!r} is not a valid SageMaker name (letters, digits and '-', starting and "
            "ending with a letter or digit); check CONVEYOR_AWS_NAME_PREFIX"
        )
    return name


def s3_uri(store: ObjectStore, ref: ObjectRef) -> str:
    """The real ``s3://`` URI of a logical object, as SageMaker reads it."""
    buckets: dict[str, str] | None = getattr(store, "buckets", None)
    if store.scheme != "s3" or buckets is None:
        raise ConfigError(
            "the SageMaker registry and endpoint read artifacts from S3: set "
            f"CONVEYOR_OBJECT_STORE_URI=s3://<prefix> (the object store is {store.scheme!r})"
        )
    if ref.bucket not in buckets:
        raise ConfigError(f"the S3 object store maps no bucket {ref.bucket!r}")
    return f"s3://{buckets[ref.bucket]}/{ref.key}"


def call(clients: ClientFactory, service: str, what: str, method: str, **request: Any) -> Any:
    """One SageMaker call with its errors as conveyor's (``what`` names it in messages)."""
    try:
        return getattr(clients(service), method)(**request)
    except ConveyorError:
        raise
    except Exception as exc:
        raise_mapped(exc, what)


# SageMaker says most things as ValidationException, so its message tells a missing resource
# from an existing one or a busy endpoint.
_RULES = (
    rule(NotFound, "ResourceNotFound", "ResourceNotFoundException"),
    rule(NotFound, "ValidationException", text=_NOT_FOUND),
    rule(AlreadyExists, "ResourceInUse"),
    rule(AlreadyExists, "ValidationException", text=_EXISTS),
    rule(Conflict, "ConflictException"),
    rule(Conflict, "ValidationException", text=_BUSY),
)


def raise_mapped(exc: Exception, what: str) -> NoReturn:
    """botocore errors as conveyor errors (``what`` names the call in messages)."""
    raise_translated(
        exc,
        _RULES,
        refused=f"SageMaker could not {what}",
        unreachable=f"could not reach SageMaker to {what}",
    )
