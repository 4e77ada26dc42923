"""The inference record log: what a server appended is read back in order across segments, a
record cut short by a crash is skipped, and only logs nobody holds count as a crash's."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conveyor.serving import record_log
from conveyor.serving.record_log import LogTail, RecordLog, orphans


def test_records_come_back_in_order_across_segments(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(record_log, "SEGMENT_BYTES", 1000)
    log = RecordLog(tmp_path)
    tail = LogTail(log.directory)
    sent = [f'["record", {i}]'.encode() for i in range(300)]
    read: list[bytes] = []
    for i, data in enumerate(sent):
        log.append(data)
        if i % 37 == 0:  # the writer reads while the server appends
            read += tail.take()
            tail.release()
    log.close()
    read += tail.take()
    tail.release()
    assert read == sent
    segments = sorted(log.directory.iterdir())
    # Several segments were written; every complete one was deleted once read.
    assert len(segments) == 1 and segments[0].name != "00000000.log"
    tail.remove()
    assert not log.directory.exists()


def test_a_record_cut_short_by_a_crash_is_skipped(tmp_path: Path) -> None:
    log = RecordLog(tmp_path)
    log.append(b'["whole"]')
    log.close()
    with (log.directory / "00000000.log").open("ab") as segment:
        segment.write(record_log.LENGTH.pack(50) + b'["cut')  # a write a kill -9 interrupted
    assert LogTail(log.directory).take() == [b'["whole"]']


def test_only_a_log_whose_server_and_writer_are_gone_is_an_orphan(tmp_path: Path) -> None:
    live = RecordLog(tmp_path)  # this process is its server: it holds the lock
    # A server that died: its log stays, its lock is released with its process.
    script = (
        "import sys; from pathlib import Path; from conveyor.serving.record_log import RecordLog;"
        "log = RecordLog(Path(sys.argv[1])); log.append(b'[1]'); print(log.directory)"
    )
    dead = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)],
        capture_output=True,
        text=True,
        check=True,
    )
    dead_directory = Path(dead.stdout.strip())
    found = list(orphans(tmp_path))
    assert [directory for directory, _ in found] == [dead_directory]
    for _, lock in found:
        os.close(lock)
    assert LogTail(dead_directory).take() == [b"[1]"]
    live.close()
