"""The events ports: the pipeline's arrows.

Two ports. Every backend is an ``EventPublisher``. Only a backend whose events conveyor
itself receives is also an ``EventQueue`` (an optional capability, like ``jobs.Warmable``):
locally a durable queue in SQLite (fed by the CLI and by a watch on ``raw/``) that the worker
drains. On AWS, EventBridge and S3 notifications push the same event types to the Lambda
handlers, so there is no queue to read. Delivery is at-least-once, so every handler is
idempotent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from conveyor.errors import ConfigError
from conveyor.types import ObjectInfo, to_iso, utcnow


class EventType(StrEnum):
    OBJECT_CREATED = "ObjectCreated"
    TRAINING_JOB_STATE_CHANGE = "TrainingJobStateChange"
    MODEL_PACKAGE_STATE_CHANGE = "ModelPackageStateChange"
    ALARM_STATE_CHANGE = "AlarmStateChange"


@dataclass(frozen=True)
class Event:
    type: EventType
    detail: dict[str, Any]
    time: datetime = field(default_factory=utcnow)


@dataclass(frozen=True)
class Message:
    """A received event and the receipt needed to acknowledge it."""

    event: Event
    receipt: str
    attempts: int


@runtime_checkable
class EventPublisher(Protocol):
    scheme: str

    def publish(self, event: Event) -> str:
        """Send an event durably to whatever handles it; returns its id.

        Raises:
            InvalidInput: the event's detail is not a JSON object the backend can take.
            BackendUnavailable: the event could not be stored or sent.
        """
        ...


@runtime_checkable
class EventQueue(Protocol):
    """The events a publisher stored, for conveyor's own worker to receive."""

    def receive(
        self, *, max_messages: int = 10, visibility_timeout: float = 300.0
    ) -> list[Message]:
        """Lease up to ``max_messages`` due events, oldest first.

        A leased event is hidden from other receivers until ``visibility_timeout`` seconds
        pass; if it is not acknowledged by then it is delivered again (a crashed worker's
        events are not lost).
        """
        ...

    def ack(self, message: Message) -> None:
        """Remove a handled event. Acknowledging twice is not an error."""
        ...

    def release(self, message: Message, *, delay: float = 0.0) -> None:
        """Give a leased event back to the queue, due again after ``delay`` seconds."""
        ...

    def depth(self) -> int:
        """How many events are waiting or leased."""
        ...


def queue_of(events: EventPublisher) -> EventQueue:
    """``events`` as the queue a worker drains.

    Raises:
        ConfigError: the backend pushes its events to handlers itself (EventBridge).
    """
    if not isinstance(events, EventQueue):
        raise ConfigError(
            f"the {events.scheme!r} events backend delivers its events itself (on AWS, "
            "EventBridge invokes the Lambda handlers); no worker receives them (run "
            "`conveyor worker` with a local events URI such as sqlite:///…)"
        )
    return events


def queue_depth(events: EventPublisher) -> int:
    """How many events wait in ``events``' queue; 0 for a backend with none conveyor can
    count (EventBridge's are seen in CloudWatch's ``AWS/Events`` metrics)."""
    return events.depth() if isinstance(events, EventQueue) else 0


def object_created(
    info: ObjectInfo, *, dataset_id: str, source: str, force: bool = False, **extra: Any
) -> Event:
    """The ObjectCreated event of an object this process just stored (so it knows the
    object's dataset id: the handler need not read the bytes again). ``written`` (its
    last-modified time) tells this write of the object from another write of the same bytes."""
    return Event(
        EventType.OBJECT_CREATED,
        {
            "bucket": info.bucket,
            "key": info.key,
            "size": info.size,
            "etag": info.etag,
            "written": to_iso(info.last_modified),
            "dataset_id": dataset_id,
            "source": source,
            "force": force,
            **extra,
        },
    )
