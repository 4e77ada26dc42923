"""The EventPublisher port on Amazon EventBridge (``eventbridge://<bus-name>``).

conveyor's events go to the bus with ``PutEvents``: source ``conveyor``, detail-type the
event type (``ObjectCreated``, ``TrainingJobStateChange`` …), detail the event's detail plus
its ``time`` to the microsecond (the envelope's own ``time`` keeps whole seconds only). The
template's rules match on source and detail-type and invoke the Lambda handlers, which turn
the delivered event back into conveyor's with :func:`to_conveyor_event`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from conveyor._sqlite import dumps_json
from conveyor.aws.clients import client
from conveyor.aws.errors import raise_translated, rule
from conveyor.errors import BackendUnavailable, InvalidInput
from conveyor.events import Event, EventType
from conveyor.types import from_iso, to_iso

if TYPE_CHECKING:
    from conveyor.config import Settings
    from conveyor.ports import PortsSoFar

SOURCE = "conveyor"
TIME_KEY = "time"  # the detail member carrying the event's exact time
# PutEvents: an entry (Time 14 bytes, Source, DetailType, Detail, Resources, in UTF-8) is at
# most 256 KB.
MAX_ENTRY_BYTES = 256 * 1024
_TIME_BYTES = 14
# An event bus name, or its ARN (PutEvents' EventBusName takes either).
_BUS = re.compile(
    r"^(arn:aws[\w-]*:events:[a-z]{2}(-[a-z]+)+-\d+:\d{12}:event-bus/)?[/.\-_A-Za-z0-9]{1,256}$"
)


class EventBridgeBus:
    """conveyor's events published to the EventBridge bus ``name``.

    EventBridge *pushes* each event to the targets of the rules it matches (the Lambda
    handlers); there is no queue for conveyor to read, so this is a publisher only, not an
    ``EventQueue``: ``events.queue_of`` refuses it to a worker, and ``/metrics`` counts its
    queue depth as 0 (events waiting for a Lambda are seen in CloudWatch's ``AWS/Events``
    and ``AWS/Lambda`` metrics).
    """

    scheme = "eventbridge"

    def __init__(
        self,
        name: str,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        events_client: Any | None = None,
    ) -> None:
        if not _BUS.match(name or ""):
            raise InvalidInput(
                f"event bus name {name!r} is not valid: 1-256 letters, digits and . - _ /, "
                "or the bus's ARN (eventbridge://<bus-name>)",
                field="uri",
            )
        self.name = name
        self.region = region
        self.endpoint_url = endpoint_url
        # Set only to put a stand-in at the client boundary (a test's fake PutEvents).
        self._events_client = events_client

    @classmethod
    def from_settings(
        cls, uri: str, settings: Settings, ports_so_far: PortsSoFar
    ) -> EventBridgeBus:
        """The bus of ``eventbridge://<bus-name>``; ``eventbridge://`` alone is the bus of
        ``CONVEYOR_AWS_EVENT_BUS_NAME`` (``default``). In the settings' region and endpoint."""
        name = uri.split("://", 1)[1].strip("/") if "://" in uri else ""
        return cls(
            name or settings.aws.event_bus_name,
            region=settings.aws.region,
            endpoint_url=settings.aws.endpoint_url,
        )

    def __reduce__(self) -> tuple[type[EventBridgeBus], tuple[str], dict[str, Any]]:
        # The client stays behind: a copy in another process makes its own.
        return (
            EventBridgeBus,
            (self.name,),
            {"region": self.region, "endpoint_url": self.endpoint_url},
        )

    @property
    def _client(self) -> Any:
        if self._events_client is not None:
            return self._events_client
        return client("events", region=self.region, endpoint_url=self.endpoint_url)

    def publish(self, event: Event) -> str:
        """Put ``event`` on the bus; returns EventBridge's event id.

        Raises:
            InvalidInput: an unknown type, a detail that is not JSON or carries its own
                ``time``, or an entry over 256 KB.
            BackendUnavailable: EventBridge refused the entry or could not be reached.
        """
        entry = event_entry(event, self.name)
        response = self._call("put an event", entries=[entry])
        result = (response.get("Entries") or [{}])[0]
        if response.get("FailedEntryCount", 0) or "EventId" not in result:
            raise BackendUnavailable(
                f"EventBridge did not take the {entry['DetailType']} event on bus "
                f"{self.name!r}: {result.get('ErrorCode', 'no event id')} "
                f"{result.get('ErrorMessage', '')}".rstrip()
            )
        return str(result["EventId"])

    def _call(self, what: str, *, entries: list[dict[str, Any]]) -> Any:
        try:
            return self._client.put_events(Entries=entries)
        except Exception as exc:
            rules = (
                rule(
                    BackendUnavailable,
                    "ResourceNotFoundException",
                    message=f"the EventBridge bus {self.name!r} does not exist; deploy the "
                    "stack or fix CONVEYOR_EVENTS_URI",
                ),
                rule(InvalidInput, "ValidationException", field="event"),
            )
            raise_translated(
                exc,
                rules,
                refused=f"EventBridge refused to {what}",
                unreachable=f"could not reach EventBridge to {what}",
            )


def event_entry(event: Event, bus_name: str) -> dict[str, Any]:
    """The ``PutEvents`` entry of ``event`` on ``bus_name``.

    Raises:
        InvalidInput: see :meth:`EventBridgeBus.publish`.
    """
    try:
        kind = EventType(event.type).value
    except ValueError:
        valid = ", ".join(t.value for t in EventType)
        raise InvalidInput(
            f"unknown event type {event.type!r}; valid types: {valid}", field="type"
        ) from None
    if not isinstance(event.detail, Mapping):
        raise InvalidInput("an event's detail must be a JSON object", field="detail")
    if TIME_KEY in event.detail:
        raise InvalidInput(
            f"an event's detail may not carry its own {TIME_KEY!r}: on EventBridge that member "
            "holds the event's time",
            field="detail",
        )
    detail = dumps_json({**event.detail, TIME_KEY: to_iso(event.time)}, field="detail")
    size = _TIME_BYTES + len(SOURCE.encode()) + len(kind.encode()) + len(detail.encode())
    if size > MAX_ENTRY_BYTES:
        raise InvalidInput(
            f"the {kind} event is {size} bytes; an EventBridge entry is at most "
            f"{MAX_ENTRY_BYTES} bytes (256 KB): put large data in the object store and send "
            "its key",
            field="detail",
        )
    return {
        "Time": event.time,
        "Source": SOURCE,
        "DetailType": kind,
        "Detail": detail,
        "EventBusName": bus_name,
    }


def to_conveyor_event(eventbridge_event: Mapping[str, Any]) -> Event:
    """The conveyor Event an EventBridge rule delivered (to a Lambda handler).

    Raises:
        InvalidInput: not one of conveyor's own events (source ``conveyor``), an unknown
            detail-type, or no detail object.
    """
    source = eventbridge_event.get("source")
    if source != SOURCE:
        raise InvalidInput(
            f"not a conveyor event: source {source!r} (conveyor publishes as {SOURCE!r})",
            field="source",
        )
    kind = eventbridge_event.get("detail-type")
    try:
        event_type = EventType(str(kind))
    except ValueError:
        valid = ", ".join(t.value for t in EventType)
        raise InvalidInput(
            f"unknown conveyor event type {kind!r}; valid types: {valid}", field="detail-type"
        ) from None
    detail = eventbridge_event.get("detail")
    if not isinstance(detail, Mapping):
        raise InvalidInput("the event has no detail object", field="detail")
    detail = dict(detail)
    stamp = detail.pop(TIME_KEY, None) or eventbridge_event.get("time")
    return Event(event_type, detail, _time(stamp))


def _time(stamp: object) -> datetime:
    if not isinstance(stamp, str):
        raise InvalidInput(f"the event has no time ({stamp!r})", field="time")
    try:
        return from_iso(stamp)
    except ValueError:
        raise InvalidInput(f"the event's time {stamp!r} is not an ISO time", field="time") from None
