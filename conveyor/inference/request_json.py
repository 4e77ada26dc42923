"""A recorded request's JSON, read without decoding its rows.

The server records a ``/predict`` body as the bytes it came in: ``{"instances": [...]}`` with
no other key. Decoding a hundred rows into Python objects, only to encode them again into the
Table item and the capture lines, cost the record writer most of its time per row; here the
rows' text is cut out of the bytes instead. The cut is taken only where it is certain: the
body has no line break (an item and a capture line are one line each), its rows' text holds
one ``}`` per row (none inside a string), and each is followed by the next row's ``{`` (the
key was not given twice), so each ``}`` closes a row. Any other body is decoded, and reads
back the same.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import orjson

_KEY = b'"instances"'
_SPACE = b" \t"
_COLON, _OPEN_LIST, _CLOSE_LIST, _CLOSE_OBJECT = b":[]}"


class Cut(NamedTuple):
    """A body's rows cut out of its bytes."""

    span: bytes  # the text of the body's ``[...]``
    rows: list[bytes]  # each row's text without its closing brace (``{...``)


def cut(body: bytes, count: int, *, rows: bool = True) -> Cut | None:
    """The body's ``count`` rows cut out of its text (flat objects, as serving takes them), or
    None when they cannot be for certain (then decode the body). ``rows``: False when only the
    span is wanted (then ``Cut.rows`` is empty)."""
    span = _span(body)
    if span is None:
        return None
    if not rows:
        return Cut(span, []) if _one_value(span) else None
    pieces = span[1:-1].split(b"}")
    # As many "}" as rows, each row a flat object: each one closes a row, none is in a string.
    # A piece not opening a row is a body this reading does not fit (the key given twice:
    # the span then holds both values), read by decoding.
    if len(pieces) != count + 1 or pieces.pop().strip(_SPACE):
        return None
    texts = [piece.lstrip(b" \t,") for piece in pieces]
    return Cut(span, texts) if all(text[:1] == b"{" for text in texts) else None


def _one_value(span: bytes) -> bool:
    """Whether ``span`` (``_span``'s) is the key's one value: no "]" before its end, where a
    value of the key given twice, or of any key after it, would have ended. (Searched for as
    one byte, at memory speed: counting braces walked the bytes one by one, ~45 us for 100
    rows.) A "]" inside a string, a column's name, is refused too: then the body is decoded."""
    return span.find(b"]", 0, len(span) - 1) < 0


def _span(body: bytes) -> bytes | None:
    """The text between ``{"instances":`` and the closing ``}``, when it starts with ``[``
    and ends with ``]`` (``cut`` checks that it is the rows)."""
    # find and "in" run at memory speed; count and strip would copy or walk each byte.
    at = body.find(_KEY)
    if at < 0 or b"\n" in body or b"\r" in body or body[:at].strip(_SPACE) != b"{":
        return None
    start = _skip(body, at + len(_KEY), 1)
    if start >= len(body) or body[start] != _COLON:
        return None
    start = _skip(body, start + 1, 1)
    end = _skip(body, len(body) - 1, -1)
    if end <= start or body[end] != _CLOSE_OBJECT:
        return None
    end = _skip(body, end - 1, -1)
    if body[start] != _OPEN_LIST or body[end] != _CLOSE_LIST:
        return None
    return body[start : end + 1]


def _skip(body: bytes, at: int, step: int) -> int:
    """The first index from ``at`` (going ``step``) that is not a space or a tab."""
    while 0 <= at < len(body) and body[at] in _SPACE:
        at += step
    return at


def decoded_rows(body: bytes) -> Any:
    """The body's rows, decoded (what ``cut`` cuts out when it can)."""
    return orjson.loads(body)["instances"]


def row_keys(rows: list[Any]) -> tuple[str, ...]:
    """Every key of the decoded ``rows`` (objects), in the order first seen."""
    keys: dict[str, None] = {}
    for row in rows:
        if isinstance(row, dict):
            keys.update(dict.fromkeys(row))
    return tuple(keys)
