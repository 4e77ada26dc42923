"""The EventPublisher port on EventBridge, on moto: events published to a bus arrive, through a
rule, at an SQS target exactly as EventBridge delivers them to the Lambda handlers."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from conveyor.aws.clients import client
from conveyor.config import Settings
from conveyor.errors import BackendUnavailable, ConfigError, InvalidInput
from conveyor.events import Event, EventQueue, EventType, queue_depth, queue_of
from conveyor.events.eventbridge import MAX_ENTRY_BYTES, EventBridgeBus, to_conveyor_event
from conveyor.wiring import build_ports

pytestmark = pytest.mark.usefixtures("aws")

BUS = "conveyor-events"


def route_to_queue(pattern: dict[str, Any], queue: str = "delivered") -> str:
    """A rule on the bus sending what matches ``pattern`` to a new SQS queue; its URL."""
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=queue)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events = client("events")
    events.put_rule(Name=f"to-{queue}", EventBusName=BUS, EventPattern=json.dumps(pattern))
    events.put_targets(Rule=f"to-{queue}", EventBusName=BUS, Targets=[{"Id": "q", "Arn": arn}])
    return url


def delivered(url: str) -> list[dict[str, Any]]:
    messages = client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10)
    return [json.loads(m["Body"]) for m in messages.get("Messages", [])]


@pytest.fixture
def bus() -> EventBridgeBus:
    client("events").create_event_bus(Name=BUS)
    return EventBridgeBus.from_settings(f"eventbridge://{BUS}", Settings(), {})


def training_event() -> Event:
    return Event(
        EventType.TRAINING_JOB_STATE_CHANGE,
        {"run_id": "r-1", "job_name": "churn-r-1", "status": "Completed", "scores": [0.5, 1]},
        time=datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC),
    )


def test_a_published_event_arrives_with_conveyor_s_source_type_and_detail(
    bus: EventBridgeBus,
) -> None:
    url = route_to_queue({"source": ["conveyor"]})
    event = training_event()
    event_id = bus.publish(event)

    [arrived] = delivered(url)
    assert arrived["id"] == event_id
    assert arrived["source"] == "conveyor"
    assert arrived["detail-type"] == "TrainingJobStateChange"
    assert arrived["detail"] == {
        "run_id": "r-1",
        "job_name": "churn-r-1",
        "status": "Completed",
        "scores": [0.5, 1],
        "time": "2026-01-02T03:04:05.678901+00:00",
    }
    assert arrived["time"] == "2026-01-02T03:04:05Z"  # EventBridge keeps whole seconds
    assert to_conveyor_event(arrived) == event


def test_rules_route_by_event_type(bus: EventBridgeBus) -> None:
    training = route_to_queue(
        {"source": ["conveyor"], "detail-type": ["TrainingJobStateChange"]}, "training"
    )
    uploads = route_to_queue({"source": ["conveyor"], "detail-type": ["ObjectCreated"]}, "uploads")
    upload = Event(EventType.OBJECT_CREATED, {"bucket": "raw", "key": "churn/a.csv"})
    bus.publish(training_event())
    bus.publish(upload)
    assert [to_conveyor_event(e) for e in delivered(training)] == [training_event()]
    assert [to_conveyor_event(e) for e in delivered(uploads)] == [upload]


def test_an_entry_eventbridge_rejects_is_backend_unavailable_with_its_message() -> None:
    fake = FakeThrottledPutEvents(client("events"))
    bus = EventBridgeBus(BUS, events_client=fake)
    with pytest.raises(BackendUnavailable, match="ThrottlingException Rate exceeded"):
        bus.publish(training_event())
    [entry] = fake.entries
    assert (entry["Source"], entry["DetailType"], entry["EventBusName"]) == (
        "conveyor",
        "TrainingJobStateChange",
        BUS,
    )


class FakeThrottledPutEvents:
    """A fake at the client boundary: EventBridge answering PutEvents with a failed entry
    (HTTP 200, FailedEntryCount 1), which moto never does for a well-formed entry. Every
    other call goes to the real (moto) client."""

    def __init__(self, real: Any) -> None:
        self.real = real
        self.entries: list[dict[str, Any]] = []

    def put_events(self, *, Entries: list[dict[str, Any]]) -> dict[str, Any]:
        self.entries.extend(Entries)
        return {
            "FailedEntryCount": len(Entries),
            "Entries": [
                {"ErrorCode": "ThrottlingException", "ErrorMessage": "Rate exceeded"}
                for _ in Entries
            ],
        }

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def test_a_bus_that_does_not_exist_is_backend_unavailable_naming_it() -> None:
    with pytest.raises(BackendUnavailable, match="'missing-bus' does not exist"):
        EventBridgeBus("missing-bus").publish(training_event())


def test_an_entry_over_256_kb_is_refused_and_one_at_the_limit_is_taken(
    bus: EventBridgeBus,
) -> None:
    def sized(padding: int) -> Event:
        return Event(EventType.OBJECT_CREATED, {"pad": "x" * padding}, time=training_event().time)

    # Time 14 bytes + "conveyor" + "ObjectCreated" + the detail's JSON text.
    overhead = 14 + len("conveyor") + len("ObjectCreated")
    detail = len(
        json.dumps({"pad": "", "time": "2026-01-02T03:04:05.678901+00:00"}, separators=(",", ":"))
    )
    at_limit = MAX_ENTRY_BYTES - overhead - detail
    assert bus.publish(sized(at_limit))
    with pytest.raises(InvalidInput, match="at most 262144 bytes"):
        bus.publish(sized(at_limit + 1))


@pytest.mark.parametrize(
    ("event", "message"),
    [
        (Event(EventType.OBJECT_CREATED, {"time": "now"}), "may not carry its own 'time'"),
        (Event(EventType.OBJECT_CREATED, {"score": float("nan")}), "detail"),
        (Event("Nonsense", {}), "unknown event type 'Nonsense'"),  # type: ignore[arg-type]
    ],
)
def test_events_that_cannot_be_entries_are_refused(
    bus: EventBridgeBus, event: Event, message: str
) -> None:
    with pytest.raises(InvalidInput, match=message):
        bus.publish(event)


def test_no_worker_receives_from_eventbridge_and_the_depth_is_zero(bus: EventBridgeBus) -> None:
    assert not isinstance(bus, EventQueue)
    with pytest.raises(ConfigError, match="EventBridge invokes the Lambda handlers"):
        queue_of(bus)
    assert queue_depth(bus) == 0


def test_delivered_events_that_are_not_conveyor_s_are_refused() -> None:
    good = {
        "source": "conveyor",
        "detail-type": "ObjectCreated",
        "time": "2026-01-02T03:04:05Z",
        "detail": {"bucket": "raw", "key": "a.csv"},
    }
    # Without the exact time in the detail, the envelope's time is the event's.
    assert to_conveyor_event(good).time == datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    for change, message in (
        ({"source": "aws.s3"}, "not a conveyor event"),
        ({"detail-type": "Object Created"}, "unknown conveyor event type"),
        ({"detail": "{}"}, "no detail object"),
        ({"time": None}, "no time"),
    ):
        with pytest.raises(InvalidInput, match=message):
            to_conveyor_event({**good, **change})


def test_the_uri_names_the_bus_and_the_settings_choose_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def built(uri: str) -> EventBridgeBus:
        return EventBridgeBus.from_settings(uri, Settings(home=tmp_path / "home"), {})

    assert built("eventbridge://conveyor-prod").name == "conveyor-prod"
    arn = "arn:aws:events:us-east-1:123456789012:event-bus/conveyor-prod"
    assert built(f"eventbridge://{arn}").name == arn
    monkeypatch.setenv("CONVEYOR_AWS_EVENT_BUS_NAME", "from-settings")
    assert built("eventbridge://").name == "from-settings"
    with pytest.raises(InvalidInput, match="event bus name 'bad name!' is not valid"):
        built("eventbridge://bad name!")
    ports = build_ports(Settings(home=tmp_path / "home", events_uri=f"eventbridge://{BUS}"))
    assert isinstance(ports.events, EventBridgeBus) and ports.events.name == BUS
    copy = pickle.loads(pickle.dumps(ports.events))
    assert isinstance(copy, EventBridgeBus) and copy.name == BUS
