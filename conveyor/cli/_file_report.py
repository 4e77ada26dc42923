"""Printing "what conveyor did with your file" for people: the file facts, the rejected lines
and a table of the columns (``runs show``, ``models show``, ``inspect``)."""

from __future__ import annotations

from rich.markup import escape
from rich.table import Table as RichTable

from conveyor.cli._output import console
from conveyor.pipeline.file_report import column_rows, fact_lines, file_facts, rejects
from conveyor.types import JsonDict

SHOWN_REJECTS = 5
_KIND_STYLE = {
    "target": "bold",
    "dropped": "yellow",
    "text": "magenta",
    "datetime": "cyan",
    "numeric": "green",
}


def print_file_report(report: JsonDict, *, shown_rejects: int = SHOWN_REJECTS) -> None:
    """The file's facts, its first rejected lines and its column table; what a report lacks
    (an older run's) is left out without a word."""
    facts = file_facts(report)
    rows = column_rows(report)
    if facts is None and not rows:
        return
    console.print("[bold]what conveyor did with your file[/]")
    if facts is not None:
        for label, text in fact_lines(facts):
            console.print(f"  {label:<10}{escape(text)}", highlight=False)
            if label == "rejected":
                _print_rejects(facts, shown_rejects)
    if rows:
        table = RichTable("column", "kind", "rule", "missing tokens", "parsed", "note")
        for row in rows:
            style = _KIND_STYLE.get(row.kind)
            table.add_row(
                escape(row.name),
                f"[{style}]{row.kind}[/]" if style else row.kind,
                escape(row.rule or ""),
                escape(", ".join(repr(t) for t in row.missing_tokens)),
                row.parsed_percent,
                escape(row.reason or ""),
            )
        console.print(table)


def _print_rejects(facts: JsonDict, shown: int) -> None:
    kept = rejects(facts)
    for item in kept[:shown]:
        console.print(
            f"    line {item.get('line') or '?'}: {escape(str(item.get('reason')))}"
            f"  [dim]{escape(_clip(str(item.get('text', ''))))}[/]",
            highlight=False,
        )
    more = int(facts.get("rows_rejected") or 0) - min(shown, len(kept))
    if more > 0:
        listed = f"; `--json` lists the first {len(kept)}" if len(kept) > shown else ""
        console.print(f"    … and {more} more{listed}", highlight=False)


def _clip(text: str, width: int = 80) -> str:
    text = text.rstrip("\r\n")
    return text if len(text) <= width else text[: width - 1] + "…"
