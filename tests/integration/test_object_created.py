"""A second ObjectCreated event for one upload (the folder watch's after the CLI's, or a
redelivery) finds the upload's run by its etag, without reading the file again."""

from __future__ import annotations

from pathlib import Path

from conveyor.config import Settings
from conveyor.hashing import sha256_file
from conveyor.logs import log_context
from conveyor.pipeline.handlers import on_object_created
from conveyor.ports import PipelineContext
from conveyor.storage import RAW
from conveyor.wiring import build_ports


def test_the_watch_s_event_for_a_cli_upload_is_known_by_its_etag(tmp_path: Path) -> None:
    with log_context():  # as the worker calls handlers: the run ids they bind end here
        _second_event_is_known(tmp_path)


def _second_event_is_known(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path / "home")
    ports = build_ports(settings)
    ctx = PipelineContext.from_settings(ports, settings)
    source = tmp_path / "data.csv"
    source.write_bytes(b"x,y\n1,2\n")
    info = ports.store.put_file(RAW, "ghost/data.csv", source)
    dataset_id = sha256_file(source)
    cli_event = {
        "bucket": RAW,
        "key": "ghost/data.csv",
        "etag": info.etag,
        "dataset_id": dataset_id,
    }
    first = on_object_created(ctx, cli_event)
    assert (
        first is not None and first.failure_reason and "no project 'ghost'" in first.failure_reason
    )

    # The bytes are gone: a handler that needed to read them would ignore the event.
    ports.store.delete(RAW, "ghost/data.csv")
    watch_event = {"bucket": RAW, "key": "ghost/data.csv", "etag": info.etag, "source": "watch"}
    again = on_object_created(ctx, watch_event)
    assert again is not None and again.dataset_id == dataset_id
    # An etag never seen before still needs the bytes.
    assert on_object_created(ctx, {**watch_event, "etag": "0" * 32}) is None
