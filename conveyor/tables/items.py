"""What every Table adapter shares about items: key checks, the JSON body, prefix bounds.

The SQLite and DynamoDB tables store the same item the same way, so they agree on what a
valid key is and on what a stored item reads back as.
"""

from __future__ import annotations

import json

import orjson

from conveyor._sqlite import dumps_json
from conveyor.errors import InvalidInput
from conveyor.tables import Item

_MAX_CODE_POINT = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)


def encode_item(item: Item, *, checked: bool = False) -> tuple[str, str, str]:
    """``(pk, sk, JSON body)`` of ``item``; ``checked``: the item came from JSON already, so
    the fast encoder is safe.

    Raises:
        InvalidInput: not a dict, a key that is not a string, or a value JSON cannot hold.
    """
    if not isinstance(item, dict):
        raise InvalidInput(f"an item must be a dict, not {type(item).__name__}", field="item")
    pk = check_key(item.get("pk"), "pk")
    sk = check_key(item.get("sk"), "sk")
    body = orjson.dumps(item).decode() if checked else dumps_json(item, field="item")
    return pk, sk, body


def decode_item(body: str) -> Item:
    """The item stored as ``body`` (what :func:`encode_item` made)."""
    item: Item = json.loads(body)
    return item


def check_partition(pk: object) -> str:
    """``pk`` when it names a partition. Raises InvalidInput: not a non-empty string."""
    if not check_key(pk, "pk"):
        raise InvalidInput("pk must name a partition, not be empty", field="pk")
    return str(pk)


def check_key(value: object, field: str) -> str:
    """``value`` when it can be a key (``field``: "pk" or "sk", named in the error).

    Raises:
        InvalidInput: not a string, or not encodable as UTF-8.
    """
    if not isinstance(value, str):
        raise InvalidInput(
            f"{field} must be a string, not {type(value).__name__}; every item needs string "
            "'pk' and 'sk' keys",
            field=field,
        )
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise InvalidInput(f"{field} {value!r} is not valid Unicode text", field=field) from exc
    return value


def prefix_end(prefix: str) -> str | None:
    """The smallest string greater than every string starting with ``prefix`` (None: no bound).

    Code point order equals UTF-8 byte order, so bumping the last code point works; the
    surrogate range has no UTF-8 form and is skipped.
    """
    stem = prefix
    while stem and ord(stem[-1]) == _MAX_CODE_POINT:
        stem = stem[:-1]
    if not stem:
        return None
    following = ord(stem[-1]) + 1
    if following in _SURROGATES:
        following = _SURROGATES.stop
    return stem[:-1] + chr(following)
