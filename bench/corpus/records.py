"""A corpus file cut into its raw records, and a subset of them written back in the same form.

The benchmark splits a file's data rows before conveyor sees it, so the 80% it uploads must be
the file as shipped, less some rows: same encoding, byte-order mark, delimiter, quoting, line
ends, preamble and compression. Each record keeps the exact text it was read from; a subset is
those texts joined again, so nothing is re-quoted or re-formatted. Only the standard library
(and openpyxl for workbooks, imported when one is read): the registry test runs without the
bench extra.
"""

from __future__ import annotations

import bz2
import csv
import gzip
import io
import re
import zipfile
from dataclasses import dataclass, field
from typing import Any

# A record's physical lines with their ends, whichever of CRLF, LF or CR the file uses.
_LINES = re.compile(r"[^\r\n]*(?:\r\n|\n|\r)|[^\r\n]+\Z")
# Fixed zip entry dates, so a workbook's bytes do not depend on when it was written.
_ZIP_DATE = (2020, 1, 1, 0, 0, 0)
_MODIFIED = re.compile(rb"(<dcterms:modified[^>]*>)[^<]*<")


@dataclass(frozen=True)
class Format:
    """How a corpus file is written; what a careful person would pass to a CSV reader.

    Attributes:
        encoding: Python codec; ``utf-8-sig`` and ``utf-16`` carry a byte-order mark.
        delimiter: The field separator.
        quotechar: The quoting character.
        preamble: Lines above the header (a spreadsheet's title line).
        compression: ``gzip``, ``bz2`` or None.
        excel: An ``.xlsx`` workbook (its first sheet) rather than text.
    """

    encoding: str = "utf-8"
    delimiter: str = ","
    quotechar: str = '"'
    preamble: int = 0
    compression: str | None = None
    excel: bool = False


@dataclass
class Table:
    """A file's preamble, header and records, each record beside the raw text it came from."""

    header: list[str]
    records: list[list[Any]]
    raw_head: list[Any] = field(default_factory=list)  # preamble + header, as read
    raw_records: list[Any] = field(default_factory=list)

    def rows(self, indices: list[int]) -> list[dict[str, Any]]:
        """Records as ``{column: value}``, values as the file has them.

        A column with no name in the header (R's row names) has no key to send: left out.
        """
        named = [(j, name) for j, name in enumerate(self.header) if name != ""]
        out = []
        for i in indices:
            record = self.records[i]
            out.append({name: (record[j] if j < len(record) else None) for j, name in named})
        return out


def read_table(data: bytes, fmt: Format) -> Table:
    """Cut a file's bytes into preamble, header and records.

    Args:
        data: The file as stored.
        fmt: How it is written.

    Returns:
        The table; ``raw_records[i]`` is the exact text (or worksheet row) of ``records[i]``.
    """
    data = _decompress(data, fmt.compression)
    if fmt.excel:
        return _read_workbook(data, fmt.preamble)
    text = data.decode(fmt.encoding)
    lines = _LINES.findall(text)
    head = lines[: fmt.preamble]
    body = iter(lines[fmt.preamble :])
    reader = csv.reader(body, delimiter=fmt.delimiter, quotechar=fmt.quotechar)
    consumed = fmt.preamble
    header: list[str] | None = None
    table = Table(header=[], records=[])
    for fields in reader:
        start, consumed = consumed, fmt.preamble + reader.line_num
        chunk = "".join(lines[start:consumed])
        if header is None:
            header = fields
            table.header = fields
            table.raw_head = [*head, chunk]
        elif fields:  # a blank line is no record
            table.records.append(fields)
            table.raw_records.append(chunk)
    return table


def write_subset(table: Table, indices: list[int], fmt: Format) -> bytes:
    """The file again with only the records at ``indices``, in the same form as read."""
    if fmt.excel:
        data = _write_workbook([*table.raw_head, *(table.raw_records[i] for i in indices)])
    else:
        parts = [*table.raw_head, *(table.raw_records[i] for i in indices)]
        # The last record may have had no line end; one in the middle needs it.
        ending = _line_end(table.raw_head[-1]) if table.raw_head else "\n"
        parts = [p if p.endswith(("\n", "\r")) else p + ending for p in parts]
        data = "".join(parts).encode(fmt.encoding)
    return compress(data, fmt.compression)


def compress(data: bytes, compression: str | None) -> bytes:
    """``data`` compressed deterministically (no time stamp in a gzip header)."""
    if compression == "gzip":
        return gzip.compress(data, mtime=0)
    if compression == "bz2":
        return bz2.compress(data)
    return data


def workbook_bytes(rows: list[list[Any]]) -> bytes:
    """An ``.xlsx`` workbook of ``rows`` on its first sheet, the same bytes every time."""
    return _write_workbook(rows)


def _line_end(line: str) -> str:
    for end in ("\r\n", "\n", "\r"):
        if line.endswith(end):
            return end
    return "\n"


def _decompress(data: bytes, compression: str | None) -> bytes:
    if compression == "gzip":
        return gzip.decompress(data)
    if compression == "bz2":
        return bz2.decompress(data)
    return data


def _read_workbook(data: bytes, preamble: int) -> Table:
    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(data), read_only=True, data_only=True).worksheets[0]
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    header = ["" if v is None else str(v) for v in rows[preamble]]
    body = [r for r in rows[preamble + 1 :] if any(v is not None for v in r)]
    return Table(
        header=header,
        records=body,
        raw_head=rows[: preamble + 1],
        raw_records=body,
    )


def _write_workbook(rows: list[list[Any]]) -> bytes:
    from datetime import datetime

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(list(row))
    book.properties.created = datetime(2020, 1, 1)
    buffer = io.BytesIO()
    book.save(buffer)
    # openpyxl stamps each zip entry with the current time: rewritten with a fixed one.
    out = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(buffer.getvalue())) as source,
        zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target,
    ):
        for info in source.infolist():
            entry = zipfile.ZipInfo(info.filename, date_time=_ZIP_DATE)
            entry.compress_type = zipfile.ZIP_DEFLATED
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":  # saving stamps "modified" with now
                content = _MODIFIED.sub(rb"\g<1>2020-01-01T00:00:00Z<", content)
            target.writestr(entry, content)
    return out.getvalue()
