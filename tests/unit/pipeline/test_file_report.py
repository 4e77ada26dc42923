"""What a run's report says about the user's file, read for people: the new ``file`` and
``columns`` keys when the report has them, and the older features / dropped columns when not."""

from __future__ import annotations

from typing import Any

from conveyor.pipeline.file_report import column_rows, fact_lines, file_facts, report_view

NEW_REPORT: dict[str, Any] = {
    "rows_read": 4,
    "file": {
        "format": "csv",
        "compression": "gzip",
        "encoding": "cp1252",
        "bom": False,
        "delimiter": ";",
        "quote": '"',
        "escape": None,
        "decimal": ",",
        "line_ending": "\r\n",
        "header_line": 3,
        "has_header": True,
        "preamble_lines": 2,
        "footer_lines": 1,
        "rows_rejected": 1,
        "rejects": [{"line": 7, "reason": "5 fields, the header has 4", "text": "a;b;c;d;e"}],
        "columns_renamed": {"": "column_4"},
    },
    "columns": [
        {
            "name": "price",
            "kind": "numeric",
            "rule": "currency `$`, thousands `,`",
            "missing_tokens": ["N/A", "."],
            "parsed_share": 0.975,
            "reason": None,
        },
        {"name": "id", "kind": "dropped", "reason": "an id: every value distinct"},
        {"name": "zip", "kind": "categorical", "reason": "set by you"},
    ],
}
OLD_REPORT: dict[str, Any] = {
    "rows_read": 4,
    "columns": 3,  # older reports counted the columns here
    "features": [
        {"name": "signup", "kind": "datetime", "nullable": False, "date_format": "%Y-%m-%d"},
        {
            "name": "partner",
            "kind": "boolean",
            "nullable": True,
            "true_values": ["yes"],
            "false_values": ["no"],
        },
    ],
    "dropped_columns": [{"name": "customer id", "reason": "high-cardinality text"}],
}


def test_new_report_rows_carry_kind_rule_tokens_share_and_note() -> None:
    price, ident, zip_code = column_rows(NEW_REPORT)
    assert (price.name, price.kind, price.rule) == (
        "price",
        "numeric",
        "currency `$`, thousands `,`",
    )
    assert price.missing_tokens == ("N/A", ".") and price.parsed_percent == "97.5%"
    assert (ident.kind, ident.reason, ident.parsed_percent) == (
        "dropped",
        "an id: every value distinct",
        "",
    )
    assert zip_code.reason == "set by you"


def test_old_report_still_lists_its_columns_from_features_and_dropped() -> None:
    assert file_facts(OLD_REPORT) is None
    rows = {row.name: row for row in column_rows(OLD_REPORT)}
    assert rows["signup"].rule == "date %Y-%m-%d"
    assert rows["partner"].rule == "true: yes, false: no"
    assert (rows["customer id"].kind, rows["customer id"].reason) == (
        "dropped",
        "high-cardinality text",
    )


def test_fact_lines_name_the_dialect_header_and_rejects() -> None:
    lines = dict(fact_lines(NEW_REPORT["file"]))
    assert lines["format"] == "csv, gzip-compressed"
    assert lines["encoding"] == "cp1252"
    assert lines["dialect"] == "delimiter ';', quote '\"', decimal ','"
    assert lines["line ends"] == "CRLF"
    assert lines["header"] == "line 3 (2 line(s) above it skipped)"
    assert lines["rejected"] == "1 row(s) set aside"
    assert lines["renamed"] == "'' → 'column_4'"


def test_a_file_without_a_header_says_how_columns_were_named() -> None:
    lines = dict(fact_lines({"has_header": False, "header_line": None, "rows_rejected": 0}))
    assert lines["header"].startswith("none: columns named column_1")
    assert lines["rejected"] == "none"


def test_report_view_is_plain_json_in_the_report_shape() -> None:
    view = report_view(NEW_REPORT)
    assert view["file"]["delimiter"] == ";"
    assert view["columns"][0] == NEW_REPORT["columns"][0]
    assert report_view({}) == {"file": None, "columns": []}
