"""The bytes of an upload made into UTF-8 text that the CSV reader can take: archives opened by
their magic bytes (gzip, bz2, xz, a zip of one table), the encoding found (a byte-order mark,
else UTF-8 when the bytes are valid UTF-8, else charset-normalizer's guess), and the text
transcoded to a UTF-8 file beside the upload when it was anything else. Binary files that are
not tables are refused with what they look like.
"""

from __future__ import annotations

import bz2
import codecs
import gzip
import lzma
import mmap
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pyarrow as pa

from conveyor.errors import InvalidInput

_HEAD_BYTES = 64 << 10
_CHUNK = 4 << 20
# A compressed table expands 3 to 30 times; a file that expands far more is a bomb, or not a
# table: decompression stops there rather than fill the disk.
MAX_EXPANSION = 200
_MIN_EXPANDED_CAP = 64 << 20
# Magic numbers of files people upload by mistake, and what to call them in the message.
_BINARY_MAGIC = {
    b"\x89PNG": "a PNG image",
    b"%PDF": "a PDF document",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"\xd0\xcf\x11\xe0": "an old Excel/Office file (.xls: save it as .xlsx or CSV)",
    b"SQLite format 3": "an SQLite database",
    b"\x7fELF": "a program",
    b"Rar!": "a RAR archive (unpack it and upload the table)",
    b"7z\xbc\xaf": "a 7-Zip archive (unpack it and upload the table)",
}
_ARCHIVES = {
    b"\x1f\x8b": "gzip",
    b"BZh": "bz2",
    b"\xfd7zXZ\x00": "xz",
    b"PK\x03\x04": "zip",
}
_TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".tab", ".dat", ".psv")
# Byte-order marks, longest first: UTF-32's LE mark starts with UTF-16's.
_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
# Single-byte encodings people's spreadsheets write; charset-normalizer's guess among near
# ties is moved to the first of these it names, since cp1250 and cp1252 read most Western
# text alike and cp1252 is the one Excel writes.
_PREFERRED = ("cp1252", "latin_1", "iso8859_15", "utf_16", "utf_16_le", "utf_16_be")


@dataclass(frozen=True)
class Unpacked:
    """An upload's bytes with any archive taken off: ``path`` is the file to read (the
    upload itself or a temporary file beside it), ``compression`` the archive it came in."""

    path: Path
    compression: str | None
    is_xlsx: bool
    temporary: bool


@dataclass(frozen=True)
class Decoded:
    """UTF-8 text at ``path`` (the input itself when it already was UTF-8, else a temporary
    transcoded copy), and what the bytes were."""

    path: Path
    encoding: str
    bom: bool
    transcoded: bool


def unpack(path: Path) -> Unpacked:
    """Take ``path`` out of its archive, streaming, into a temporary file beside it.

    Raises:
        InvalidInput: a binary file that is no table, an archive that expands past
            ``MAX_EXPANSION`` times its size, or a zip without exactly one table in it.
    """
    head = _head(path)
    kind = next((k for magic, k in _ARCHIVES.items() if head.startswith(magic)), None)
    if kind is None:
        return Unpacked(path, None, False, False)
    if kind == "zip":
        return _unzip(path)
    try:
        with _open_archive(path, kind) as source:
            out = _expand(source, path, kind)
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise InvalidInput(
            f"the file is a {kind} archive that cannot be decompressed ({exc}); upload it "
            "again, or decompress it and upload the table",
            field="file",
        ) from exc
    return Unpacked(out, kind, False, True)


def _open_archive(path: Path, kind: str) -> IO[bytes]:
    if kind == "gzip":
        return gzip.open(path, "rb")  # type: ignore[return-value]  # a GzipFile reads bytes
    if kind == "bz2":
        return bz2.open(path, "rb")
    return lzma.open(path, "rb")


def _unzip(path: Path) -> Unpacked:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if "xl/workbook.xml" in names:
                return Unpacked(path, None, True, False)
            tables = [
                info
                for info in archive.infolist()
                if not info.is_dir()
                and not info.filename.startswith("__MACOSX/")
                and info.filename.lower().endswith(_TABLE_SUFFIXES)
            ]
            if len(tables) != 1:
                shown = ", ".join(names[:10]) or "nothing"
                raise InvalidInput(
                    f"the file is a ZIP archive with {len(tables)} tables in it (it holds "
                    f"{shown}); upload a zip of exactly one .csv, .tsv or .txt file",
                    field="file",
                )
            with archive.open(tables[0]) as source:
                out = _expand(source, path, "zip")
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise InvalidInput(
            f"the file is a ZIP archive that cannot be opened ({exc}); upload the table "
            "itself, or zip it again",
            field="file",
        ) from exc
    return Unpacked(out, "zip", False, True)


def _expand(source: IO[bytes], path: Path, kind: str) -> Path:
    cap = max(path.stat().st_size * MAX_EXPANSION, _MIN_EXPANDED_CAP)
    written = 0
    with tempfile.NamedTemporaryFile(
        dir=path.parent, prefix=".unpacked-", suffix=".csv", delete=False
    ) as out:
        try:
            for chunk in iter(lambda: source.read(_CHUNK), b""):
                written += len(chunk)
                if written > cap:
                    raise InvalidInput(
                        f"the file is a {kind} archive that expands more than {MAX_EXPANSION} "
                        f"times its size (past {cap >> 20} MiB): that is no table; decompress "
                        "it yourself and upload the table",
                        field="file",
                    )
                out.write(chunk)
        except BaseException:
            out.close()
            Path(out.name).unlink(missing_ok=True)
            raise
    return Path(out.name)


def decode(path: Path, *, check_whole: bool = True) -> Decoded:
    """Find the text encoding of ``path`` and make it UTF-8 text.

    Args:
        path: an unpacked upload.
        check_whole: check every byte is valid UTF-8 (a file streamed in batches leaves the
            bytes past the head to the reader, to spare a pass over gigabytes).

    Returns:
        The UTF-8 text file: ``path`` itself when it is UTF-8 without a mark that the reader
        would not skip, else a transcoded temporary file beside it.

    Raises:
        InvalidInput: empty, binary, or text in no encoding that reads it.
    """
    head = _head(path)
    if not head:
        raise InvalidInput(
            "the file is empty (0 bytes); upload a CSV with a header row and data rows",
            field="file",
        )
    _refuse_binary(head)
    bom = next((name for mark, name in _BOMS if head.startswith(mark)), None)
    if bom == "utf-8-sig":
        _check_utf8(path, check_whole)
        # pyarrow skips a UTF-8 mark itself: no copy needed.
        return Decoded(path, "utf-8", True, False)
    if bom is not None:
        return _transcode(path, bom, bom=True)
    wide = _utf16_without_bom(head)
    if wide is not None:
        return _transcode(path, wide, bom=False)
    if b"\x00" in head:
        raise InvalidInput(
            "this looks like a binary file (it contains NUL bytes), not CSV "
            "text; if it is UTF-16 text, re-save it as UTF-8",
            field="file",
        )
    if not head.strip():
        raise InvalidInput("the file is empty (only white space)", field="file")
    invalid = _invalid_utf8_at(path, check_whole)
    if invalid is None:
        return Decoded(path, "utf-8", False, False)
    return _transcode(path, _guess_encoding(path, invalid), bom=False)


def _head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(_HEAD_BYTES)


def _refuse_binary(head: bytes) -> None:
    for magic, kind in _BINARY_MAGIC.items():
        if head.startswith(magic):
            raise InvalidInput(
                f"this looks like a binary file ({kind}), not CSV text", field="file"
            )


def _utf16_without_bom(head: bytes) -> str | None:
    """UTF-16 text of Latin letters has a NUL in every other byte; binary data does not."""
    sample = head[: len(head) // 2 * 2]
    if len(sample) < 8:
        return None
    even, odd = sample[0::2], sample[1::2]
    for zeros, name in ((odd, "utf-16-le"), (even, "utf-16-be")):
        other = even if zeros is odd else odd
        if zeros.count(0) > 0.9 * len(zeros) and other.count(0) == 0:
            return name
    return None


def _check_utf8(path: Path, check_whole: bool) -> None:
    if not _is_utf8(path, check_whole):
        raise InvalidInput(
            "the file starts with a UTF-8 byte-order mark but is not valid UTF-8; re-save "
            "it with UTF-8 encoding",
            field="file",
        )


def _is_utf8(path: Path, check_whole: bool) -> bool:
    return _invalid_utf8_at(path, check_whole) is None


def _invalid_utf8_at(path: Path, check_whole: bool) -> int | None:
    """One pass: no NUL byte, which CSV text never has, anywhere; and the offset of the first
    byte that is not UTF-8 (None when there is none) in the whole file, or with
    ``check_whole`` off in the head only (the reader checks the rest)."""
    if check_whole and _utf8_without_nul(path):
        return None
    decoder = codecs.getincrementaldecoder("utf-8")()
    offset = 0
    invalid: int | None = None
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(_CHUNK), b""):
            nul = chunk.find(b"\x00")
            if nul >= 0:
                raise nul_found(path, offset + nul)
            if invalid is None and (check_whole or offset == 0):
                try:
                    decoder.decode(chunk if check_whole else chunk[:_HEAD_BYTES])
                except UnicodeDecodeError as exc:
                    invalid = offset + exc.start
            offset += len(chunk)
    if invalid is None and check_whole:
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return max(offset - 4, 0)
    return invalid


def _utf8_without_nul(path: Path) -> bool:
    """Whether the whole file is UTF-8 with no NUL byte: Arrow's validator and a byte search
    over the mapped file, ten times faster than Python's decoder on text that is not ASCII.
    Where it is not, the decoder's pass finds the offset to name."""
    if path.stat().st_size == 0:
        return True
    with path.open("rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mem:
        if mem.find(b"\x00") >= 0:
            return False
    data = pa.memory_map(str(path)).read_buffer()
    offsets = pa.array([0, data.size], pa.int64()).buffers()[1]
    whole = pa.Array.from_buffers(pa.large_binary(), 1, [None, offsets, data])
    try:
        whole.cast(pa.large_string())  # the cast checks every byte, and copies none
    except pa.ArrowInvalid:
        return False
    return True


def nul_found(path: Path, offset: int) -> InvalidInput:
    """The refusal of a NUL byte inside text, naming where it is."""
    return InvalidInput(
        f"the file contains a NUL byte at offset {offset} (line {line_of(path, offset)}); "
        "CSV text has none: remove it or re-export the file as UTF-8 CSV",
        field="file",
    )


def line_of(path: Path, offset: int) -> int:
    """The 1-based line that byte ``offset`` of ``path`` is on."""
    lines = 1
    with path.open("rb") as handle:  # block by block: the offset may be gigabytes in
        while offset > 0:
            block = handle.read(min(offset, _CHUNK))
            if not block:
                break
            lines += block.count(b"\n")
            offset -= len(block)
    return lines


def _guess_encoding(path: Path, invalid: int) -> str:
    """charset-normalizer's reading of the head and of the bytes around the first one that is
    not UTF-8 (which may be far in), moved to cp1252 among near ties."""
    from charset_normalizer import from_bytes

    with path.open("rb") as handle:
        sample = handle.read(256 << 10)
        if invalid > len(sample):
            handle.seek(max(invalid - (16 << 10), 0))
            window = handle.read(256 << 10)
            # From a line start: a cut multi-byte character would read as noise.
            sample += window[window.find(b"\n") + 1 :]
    matches = list(from_bytes(sample, cp_exclusion=["utf_8"]))
    if not matches:
        return "cp1252"
    best = matches[0]
    for match in matches:
        if match.chaos > best.chaos + 0.05:
            continue
        alike = set(match.could_be_from_charset) | {match.encoding}
        preferred = next((name for name in _PREFERRED if name in alike), None)
        if preferred is not None:
            return preferred
    return str(best.encoding)


def _transcode(path: Path, encoding: str, *, bom: bool) -> Decoded:
    """``path`` as UTF-8 in a temporary file beside it, streamed; an encoding that fails on a
    byte past the sample falls back to cp1252, then Latin-1 (which reads any byte)."""
    for name in dict.fromkeys((encoding, "cp1252", "latin_1")):
        try:
            out = _write_utf8(path, name)
        except UnicodeDecodeError:
            if bom:
                raise InvalidInput(
                    f"the file starts with a {encoding.upper()} byte-order mark but is not "
                    f"valid {encoding.upper()}; re-save it as UTF-8",
                    field="file",
                ) from None
            continue
        return Decoded(out, _label(name), bom, True)
    raise AssertionError("Latin-1 reads every byte")  # pragma: no cover


def _label(encoding: str) -> str:
    return codecs.lookup(encoding).name


def _write_utf8(path: Path, encoding: str) -> Path:
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    with tempfile.NamedTemporaryFile(
        dir=path.parent, prefix=".decoded-", suffix=".csv", delete=False
    ) as out:
        try:
            with path.open("rb") as source:
                for chunk in iter(lambda: source.read(_CHUNK), b""):
                    out.write(_no_nul(decoder.decode(chunk), path).encode("utf-8"))
            out.write(_no_nul(decoder.decode(b"", final=True), path).encode("utf-8"))
        except BaseException:
            out.close()
            Path(out.name).unlink(missing_ok=True)
            raise
    return Path(out.name)


def _no_nul(text: str, path: Path) -> str:
    if "\x00" in text:
        raise InvalidInput(
            "the file contains a NUL character even read as UTF-16: this is no CSV text; "
            "re-export it as UTF-8 CSV",
            field="file",
        )
    return text


def remove(path: Path) -> None:
    """Delete a temporary file this module made (never the upload)."""
    path.unlink(missing_ok=True)


def copy(path: Path, to: Path) -> None:
    """Keep a copy of the decoded text (``preprocess`` stores it beside the raw bytes)."""
    to.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(path, to)
