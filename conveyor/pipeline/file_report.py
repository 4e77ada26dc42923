"""What conveyor did with a user's file, read from a run's preprocess report for people: the
file's facts (encoding, dialect, header, rejects) and one row per column (kind, rule, missing
tokens, share parsed, why dropped).

The CLI (``runs show``, ``models show``, ``inspect``), the API and the dashboard all draw from
these functions, so they say the same thing. Reports written before the reader and inference
recorded ``file`` and ``columns`` still give a column table, from their features and dropped
columns; their file facts are simply absent.
"""

from __future__ import annotations

import json
from typing import Any

from conveyor.errors import NotFound
from conveyor.pipeline.runs import RunStore
from conveyor.storage import PROCESSED, ObjectStore
from conveyor.tables import Table
from conveyor.tabular.schema import ColumnReport
from conveyor.types import JsonDict, ModelVersion

KEPT_REJECTS = 100


def file_facts(report: JsonDict) -> JsonDict | None:
    """The reader's facts about the file (``report["file"]``), or None for an older report."""
    facts = report.get("file")
    return facts if isinstance(facts, dict) else None


def column_rows(report: JsonDict) -> list[ColumnReport]:
    """One row per raw column of the report, in the file's order where the report has it.

    ``report["columns"]`` (a list of dicts) when present; otherwise the features and dropped
    columns every report has had, so an older run still shows what became of its columns.
    """
    columns = report.get("columns")
    if isinstance(columns, list):
        return [_row(item) for item in columns if isinstance(item, dict) and "name" in item]
    rows = [_feature_row(item) for item in report.get("features") or [] if isinstance(item, dict)]
    rows += [
        ColumnReport(str(item["name"]), "dropped", "", reason=item.get("reason"))
        for item in report.get("dropped_columns") or []
        if isinstance(item, dict) and "name" in item
    ]
    return rows


def fact_lines(facts: JsonDict) -> list[tuple[str, str]]:
    """The file facts worth a line each, as (label, text), in reading order; unknown or empty
    facts are left out."""
    lines: list[tuple[str, str]] = []
    fmt = facts.get("format")
    if fmt:
        compression = facts.get("compression")
        lines.append(("format", f"{fmt}" + (f", {compression}-compressed" if compression else "")))
    if facts.get("sheet"):
        lines.append(("sheet", str(facts["sheet"])))
    if fmt == "parquet":  # typed columns: no text, dialect or header to speak of
        return lines
    encoding = facts.get("encoding")
    if encoding:
        lines.append(
            ("encoding", f"{encoding}" + (" with a byte-order mark" if facts.get("bom") else ""))
        )
    dialect = [
        f"{label} {_shown(facts[key])}"
        for key, label in (
            ("delimiter", "delimiter"),
            ("quote", "quote"),
            ("escape", "escape"),
            ("decimal", "decimal"),
        )
        if facts.get(key) is not None
    ]
    if dialect:
        lines.append(("dialect", ", ".join(dialect)))
    if facts.get("line_ending"):
        ending = facts["line_ending"]
        lines.append(("line ends", _NAMED.get(ending, str(ending))))
    lines.append(("header", _header_text(facts)))
    if facts.get("footer_lines"):
        lines.append(("footer", f"{facts['footer_lines']} line(s) after the table left out"))
    rejected = facts.get("rows_rejected")
    if rejected is not None:
        lines.append(("rejected", f"{rejected} row(s) set aside" if rejected else "none"))
    empty = facts.get("empty_columns_dropped") or []
    if empty:
        lines.append(("empty", "unnamed empty column(s) left out: " + ", ".join(map(repr, empty))))
    renamed = facts.get("columns_renamed") or {}
    if renamed:
        lines.append(("renamed", ", ".join(f"{raw!r} → {new!r}" for raw, new in renamed.items())))
    return lines


def rejects(facts: JsonDict, limit: int = KEPT_REJECTS) -> list[JsonDict]:
    """The first ``limit`` rejected lines, each ``{line, reason, text}``."""
    items = facts.get("rejects") or []
    return [item for item in items if isinstance(item, dict)][:limit]


def report_view(report: JsonDict) -> JsonDict:
    """The file facts and column rows as plain JSON (what the API answers with)."""
    return {
        "file": file_facts(report),
        "columns": [row.to_dict() for row in column_rows(report)],
    }


def dataset_report(store: ObjectStore, table: Table, version: ModelVersion) -> JsonDict:
    """The preprocess report of the dataset ``version`` was trained on: the ``report.json``
    beside its processed data, else its run's report, else empty (nothing is left to say)."""
    key = f"{version.project}/{version.dataset_id}/report.json"
    try:
        stored = json.loads(store.get(PROCESSED, key))
    except (NotFound, ValueError):
        stored = None
    if isinstance(stored, dict):
        return stored
    try:
        return RunStore(table).get(version.run_id).report
    except NotFound:
        return {}


def _row(item: JsonDict) -> ColumnReport:
    share = item.get("parsed_share")
    return ColumnReport(
        name=str(item["name"]),
        kind=str(item.get("kind") or "?"),
        rule=str(item.get("rule") or ""),
        missing_tokens=tuple(str(t) for t in item.get("missing_tokens") or ()),
        parsed_share=float(share) if isinstance(share, int | float) else None,
        reason=item.get("reason") or None,
    )


def _feature_row(item: JsonDict) -> ColumnReport:
    rule = ""
    if item.get("date_format"):
        rule = f"date {item['date_format']}"
    elif item.get("true_values") or item.get("false_values"):
        rule = (
            f"true: {'/'.join(item.get('true_values') or ())}, "
            f"false: {'/'.join(item.get('false_values') or ())}"
        )
    return ColumnReport(str(item.get("name")), str(item.get("kind") or "?"), rule)


def _header_text(facts: JsonDict) -> str:
    if facts.get("has_header") is False:
        return "none: columns named column_1, column_2, …"
    line = facts.get("header_line")
    text = f"line {line}" if line else "found"
    skipped = facts.get("preamble_lines")
    if skipped:
        text += f" ({skipped} line(s) above it skipped)"
    return text


_NAMED = {
    ",": "','",
    ";": "';'",
    "\t": "tab",
    "|": "'|'",
    " ": "space",
    "\r\n": "CRLF",
    "\n": "LF",
    "\r": "CR",
    "": "none",
}


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return _NAMED.get(value, repr(value))
    return str(value)
