"""What the reader did with a file: its format, compression, encoding, dialect, where the
header was, what was skipped above and below the table, which rows were set aside and which
columns renamed. Listed in the run's report as ``report["file"]``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from conveyor.tabular.rejects import Reject

Format = Literal["csv", "xlsx", "parquet"]


@dataclass(frozen=True)
class FileReport:
    """How an upload was read.

    ``decimal`` is the file's likely decimal mark ("," when the delimiter is ";" and cells like
    ``1,5`` dominate), a hint for column parsing. ``header_line`` is the 1-based physical line
    of the header (None without one); ``rejects`` holds the first 100 rows set aside.
    """

    format: Format
    compression: str | None = None
    encoding: str | None = None
    bom: bool = False
    delimiter: str | None = None
    space_after_delimiter: bool = False
    quote: str | None = None
    escape: str | None = None
    decimal: str = "."
    line_ending: str | None = None
    header_line: int | None = None
    has_header: bool = True
    preamble_lines: int = 0
    footer_lines: int = 0
    rows_rejected: int = 0
    rejects: tuple[Reject, ...] = ()
    columns_renamed: dict[str, str] = field(default_factory=dict)
    empty_columns_dropped: tuple[str, ...] = ()
    sheet: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["rejects"] = [r.to_dict() for r in self.rejects]
        out["empty_columns_dropped"] = list(self.empty_columns_dropped)
        return out
