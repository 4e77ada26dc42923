"""The rows of a ``/predict`` body, checked by hand: conveyor's ``{"instances": [...]}``,
MLflow's and TF-Serving's JSON shapes, and CSV with a header row.

The model server's routes and the AWS Lambda function in front of the SageMaker endpoint read
a request body through this, so a bad body gets the same 400 and message on each; it imports
nothing heavy (the Lambda function has no FastAPI, numpy or polars).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

import orjson

from conveyor.errors import InvalidInput


def read_rows(
    body: bytes, *, columns: Sequence[str] | None = None, content_type: str | None = None
) -> tuple[list[dict[str, Any]], bool]:
    """The rows of a request body, and whether the body is conveyor's own shape
    (``{"instances": [...]}`` of objects and no other key, recorded as it came) rather than
    one read from another server's: MLflow's ``dataframe_records``, ``dataframe_split``
    (``columns`` and ``data``) and ``inputs`` (rows, or columns of values); TF-Serving's
    ``instances`` as lists of values in ``columns``' order; and, when ``content_type`` is
    ``text/csv``, CSV with a header row of column names (an empty cell is a missing value).

    Raises:
        InvalidInput: not JSON (nor CSV), or no rows in any of those shapes; the message
            names it.
    """
    if content_type is not None and content_type.startswith("text/csv"):
        return _csv_rows(body), False
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidInput(f"the body is not valid JSON: {exc}", field="body") from exc
    if isinstance(payload, dict) and "instances" in payload:
        instances = payload["instances"]
        if isinstance(instances, list) and instances and isinstance(instances[0], list):
            return _rows(_positional(instances, columns), "instances"), False
        return _rows(instances, "instances"), len(payload) == 1
    if isinstance(payload, dict) and "dataframe_records" in payload:
        return _rows(payload["dataframe_records"], "dataframe_records"), False
    if isinstance(payload, dict) and "dataframe_split" in payload:
        return _rows(_split(payload["dataframe_split"]), "dataframe_split"), False
    if isinstance(payload, dict) and "inputs" in payload:
        inputs = payload["inputs"]
        rows = columns_to_rows(inputs) if isinstance(inputs, dict) else inputs
        return _rows(rows, "inputs"), False
    raise InvalidInput(
        'the body needs "instances": a list of rows (MLflow\'s "dataframe_split", '
        '"dataframe_records" and "inputs" are read too)',
        field="instances",
    )


def _rows(rows: Any, field: str) -> list[dict[str, Any]]:
    if not isinstance(rows, list):
        raise InvalidInput(f'"{field}" must be a list of rows, e.g. [{{"age": 42}}]', field=field)
    if not rows:
        raise InvalidInput(f'"{field}" is empty; send at least one row', field=field)
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            raise InvalidInput(f"{field}[{index}] must be an object of column: value", field=field)
    return rows


def _positional(rows: list[Any], columns: Sequence[str] | None) -> list[dict[str, Any]]:
    """TF-Serving's rows as lists of values, in the model's column order, as objects."""
    if columns is None:
        raise InvalidInput(
            "rows as lists are read in the deployed model's column order, and this project "
            'has none deployed here: send rows as objects, [{"age": 42, ...}]',
            field="instances",
        )
    for index, row in enumerate(rows):
        if not isinstance(row, list) or len(row) != len(columns):
            raise InvalidInput(
                f"instances[{index}] must be a list of {len(columns)} values, in the model's "
                f"column order: {', '.join(columns)}",
                field="instances",
            )
    return [dict(zip(columns, row, strict=True)) for row in rows]


def _csv_rows(body: bytes) -> list[dict[str, Any]]:
    """A CSV body: a header row of column names, then one line per row."""
    try:
        lines = list(csv.reader(io.StringIO(body.decode("utf-8-sig"), newline="")))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise InvalidInput(f"the CSV body cannot be read: {exc}", field="body") from exc
    lines = [line for line in lines if line]  # blank lines, as a trailing one
    if len(lines) < 2:
        raise InvalidInput(
            "the CSV body needs a header row of column names, then at least one row",
            field="body",
        )
    header = lines[0]
    if len(set(header)) != len(header):
        raise InvalidInput("the CSV body's header names a column twice", field="body")
    for number, line in enumerate(lines[1:], start=2):
        if len(line) != len(header):
            raise InvalidInput(
                f"line {number} of the CSV body has {len(line)} values for {len(header)} columns",
                field="body",
            )
    return [
        {name: value or None for name, value in zip(header, line, strict=True)}
        for line in lines[1:]
    ]


def _split(split: Any) -> list[dict[str, Any]]:
    """``{"columns": [...], "data": [[...], ...]}`` (pandas' split orient) as rows."""
    field = "dataframe_split"
    if not isinstance(split, dict) or not isinstance(split.get("columns"), list):
        raise InvalidInput(f'"{field}" needs "columns" (names) and "data" (rows)', field=field)
    columns, data = split["columns"], split.get("data")
    if not isinstance(data, list) or not all(isinstance(row, list) for row in data):
        raise InvalidInput(f'"{field}.data" must be a list of rows, each a list', field=field)
    for index, row in enumerate(data):
        if len(row) != len(columns):
            raise InvalidInput(
                f'"{field}.data[{index}]" has {len(row)} values for {len(columns)} columns',
                field=field,
            )
    return [dict(zip(columns, row, strict=True)) for row in data]


def columns_to_rows(inputs: dict[str, Any]) -> list[dict[str, Any]]:
    """``{"column": [values...], ...}`` (one list per column, all as long) as rows."""
    lengths = {len(v) if isinstance(v, list) else -1 for v in inputs.values()}
    if not inputs or -1 in lengths or len(lengths) != 1:
        raise InvalidInput(
            '"inputs" as columns must map each column to a list of values, all as long',
            field="inputs",
        )
    names = list(inputs)
    return [dict(zip(names, values, strict=True)) for values in zip(*inputs.values(), strict=True)]
