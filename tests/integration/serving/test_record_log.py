"""The inference record log: what a server appended is read back in order across segments and
after a ``kill -9``, a record a crash cut short is skipped, a segment the disk cannot hold
fails its append with an error, and only logs nobody holds count as a crash's."""

from __future__ import annotations

import mmap
import os
import signal
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


def test_a_record_larger_than_a_segment_gets_a_segment_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(record_log, "SEGMENT_BYTES", 1000)
    log = RecordLog(tmp_path)
    sent = [b'["small"]', b'["' + b"x" * 5000 + b'"]', b'["after"]']
    for data in sent:
        log.append(data)
    log.close()
    assert LogTail(log.directory).take() == sent


def _segment_map(log: RecordLog) -> mmap.mmap:
    with (log.directory / "00000000.log").open("r+b") as segment:
        return mmap.mmap(segment.fileno(), 0)


def test_a_record_is_read_only_once_whole(tmp_path: Path) -> None:
    log = RecordLog(tmp_path)
    log.append(b'["whole"]')
    tail = LogTail(log.directory)
    assert tail.take() == [b'["whole"]']
    # What another processor may show of an append under way: the length before the JSON.
    at = record_log.LENGTH.size + len(b'["whole"]')
    segment = _segment_map(log)
    record_log.LENGTH.pack_into(segment, at, 9)
    assert tail.take() == []
    segment[at + 4 : at + 13] = b'["later"]'
    assert tail.take() == [b'["later"]']
    segment.close()
    log.close()


def test_a_record_cut_short_by_a_crash_is_skipped(tmp_path: Path) -> None:
    log = RecordLog(tmp_path)
    log.append(b'["whole"]')
    log.close()
    # A kill -9 between the copies: the JSON stored, its length not.
    segment = _segment_map(log)
    at = record_log.LENGTH.size + len(b'["whole"]')
    segment[at + 4 : at + 9] = b'["cut'
    segment.close()
    assert LogTail(log.directory).take() == [b'["whole"]']


def test_an_older_versions_log_with_a_cut_record_is_read(tmp_path: Path) -> None:
    # Written with write(2): no zeros after the records, an empty last segment, and a length
    # stored before its JSON was.
    directory = tmp_path / "1-1"
    directory.mkdir()
    first = record_log.LENGTH.pack(9) + b'["first"]' + record_log.LENGTH.pack(50) + b'["cut'
    (directory / "00000000.log").write_bytes(first)
    (directory / "00000001.log").write_bytes(record_log.LENGTH.pack(3) + b"[1]")
    (directory / "00000002.log").write_bytes(b"")
    assert LogTail(directory).take() == [b'["first"]', b"[1]"]


def test_records_survive_a_kill_9_of_their_server(tmp_path: Path) -> None:
    script = (
        "import sys, time; from pathlib import Path; from conveyor.serving.record_log import "
        "RecordLog; log = RecordLog(Path(sys.argv[1]))\n"
        "for i in range(5000): log.append(b'[%d]' % i)\n"
        "print(log.directory, flush=True); time.sleep(60)"
    )
    with subprocess.Popen(
        [sys.executable, "-c", script, str(tmp_path)], stdout=subprocess.PIPE, text=True
    ) as server:
        assert server.stdout is not None
        directory = Path(server.stdout.readline().strip())
        server.send_signal(signal.SIGKILL)  # no close, no flush, no unmapping
    assert LogTail(directory).take() == [b"[%d]" % i for i in range(5000)]


def test_a_segment_the_disk_cannot_hold_fails_its_append_and_the_log_goes_on(
    tmp_path: Path,
) -> None:
    # A file size limit stands in for a full disk: making the big record's segment fails
    # with an error (EFBIG, as ENOSPC would), where a store into unreserved space would
    # have killed the server with SIGBUS.
    script = (
        "import resource, signal, sys; from pathlib import Path\n"
        "from conveyor.serving import record_log\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "record_log.SEGMENT_BYTES = 1 << 16\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (1 << 17, 1 << 17))\n"
        "log = record_log.RecordLog(Path(sys.argv[1])); log.append(b'[1]')\n"
        "try:\n"
        "    log.append(b'[\"' + b'x' * (1 << 18) + b'\"]')\n"
        "except OSError as error:\n"
        "    print('refused', error.errno)\n"
        "log.append(b'[2]'); log.close(); print(log.directory)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path)], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    refused, directory = result.stdout.splitlines()
    assert refused.startswith("refused ")
    assert LogTail(Path(directory)).take() == [b"[1]", b"[2]"]
    assert [p.name for p in sorted(Path(directory).iterdir())] == ["00000000.log"]


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
