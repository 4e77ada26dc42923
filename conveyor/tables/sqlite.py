"""The Table port on one SQLite file (WAL), safe across threads and processes."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from conveyor._schemes import path_of
from conveyor._sqlite import SqliteDatabase
from conveyor.errors import AlreadyExists, InvalidInput
from conveyor.tables import Item
from conveyor.tables.items import check_key, check_partition, decode_item, encode_item, prefix_end

if TYPE_CHECKING:
    from conveyor.config import Settings
    from conveyor.ports import PortsSoFar

_SCHEMA = """
CREATE TABLE IF NOT EXISTS items (
    pk TEXT NOT NULL,
    sk TEXT NOT NULL,
    body TEXT NOT NULL,
    PRIMARY KEY (pk, sk)
) WITHOUT ROWID;
"""

# An item is stored inside the primary key's B-tree (WITHOUT ROWID), where SQLite keeps at
# most about a quarter of a page of a row and spills the rest to an overflow page of its own:
# at the default 4 KB pages an inference record (~1.1 KB) took a whole 4 KB page more. At
# 16 KB, records up to ~4 KB stay whole: a quarter of the file, and a third of the CPU to
# write them.
_PAGE_SIZE = 16384
_UPSERT = (
    "INSERT INTO items (pk, sk, body) VALUES (?, ?, ?) "
    "ON CONFLICT (pk, sk) DO UPDATE SET body = excluded.body"
)


class SqliteTable:
    """A DynamoDB-shaped table in the SQL table ``items`` of ``path``.

    Conditional writes run in ``BEGIN IMMEDIATE`` transactions, so they are atomic across
    processes sharing the file.
    """

    scheme = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = path
        self._db = SqliteDatabase(path, _SCHEMA, page_size=_PAGE_SIZE)

    @classmethod
    def from_settings(cls, uri: str, settings: Settings, ports_so_far: PortsSoFar) -> SqliteTable:
        """The database file of ``sqlite:///<path>``."""
        return cls(path=Path(path_of(uri)))

    def __reduce__(self) -> tuple[type[SqliteTable], tuple[Path]]:
        # Connections stay behind: a copy in another process opens its own.
        return (SqliteTable, (self.path,))

    def put(
        self, item: Item, *, if_not_exists: bool = False, if_match: dict[str, Any] | None = None
    ) -> None:
        if if_not_exists and if_match is not None:
            raise InvalidInput(
                "put with both if_not_exists and if_match can never succeed; pass one",
                field="if_match",
            )
        pk, sk, body = encode_item(item)
        if if_match is not None:
            self._put_if_match(pk, sk, body, if_match)
            return
        with self._db.connection("write an item") as conn:
            if if_not_exists:
                cursor = conn.execute(
                    "INSERT INTO items (pk, sk, body) VALUES (?, ?, ?) "
                    "ON CONFLICT (pk, sk) DO NOTHING",
                    (pk, sk, body),
                )
                if cursor.rowcount == 0:
                    raise AlreadyExists(f"an item with pk={pk!r} sk={sk!r} already exists")
                return
            conn.execute(_UPSERT, (pk, sk, body))

    def get(self, pk: str, sk: str) -> Item | None:
        check_key(pk, "pk")
        check_key(sk, "sk")
        with self._db.connection("read an item") as conn:
            row = conn.execute(
                "SELECT body FROM items WHERE pk = ? AND sk = ?", (pk, sk)
            ).fetchone()
        return None if row is None else decode_item(row[0])

    def query(
        self,
        pk: str,
        *,
        sk_prefix: str = "",
        sk_gte: str | None = None,
        sk_lt: str | None = None,
        descending: bool = False,
        limit: int | None = None,
    ) -> list[Item]:
        check_key(pk, "pk")
        if limit is not None and limit < 0:
            raise InvalidInput(f"limit must be 0 or more, not {limit}", field="limit")
        # Sort keys compare as UTF-8 bytes (SQLite's BINARY collation), as on DynamoDB.
        # A prefix becomes a key range rather than LIKE, so '%' and '_' are plain characters
        # and the primary key index serves the query.
        where = ["pk = ?"]
        params: list[Any] = [pk]
        bounds: list[tuple[str, str | None]] = [(">=", sk_prefix or None), (">=", sk_gte)]
        bounds += [("<", prefix_end(sk_prefix) if sk_prefix else None), ("<", sk_lt)]
        for operator, value in bounds:
            if value is not None:
                check_key(value, "sk")
                where.append(f"sk {operator} ?")
                params.append(value)
        sql = f"SELECT body FROM items WHERE {' AND '.join(where)} ORDER BY sk"
        sql += " DESC" if descending else " ASC"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self._db.connection("query items") as conn:
            rows = conn.execute(sql, params).fetchall()
        return [decode_item(row[0]) for row in rows]

    def query_json(
        self,
        pk: str,
        *,
        sk_gte: str | None = None,
        sk_lt: str | None = None,
        chunk_items: int = 65536,
    ) -> Iterator[list[bytes]]:
        check_key(pk, "pk")
        if chunk_items < 1:
            raise InvalidInput(
                f"chunk_items must be 1 or more, not {chunk_items}", field="chunk_items"
            )
        where, params = _key_range(pk, sk_gte, sk_lt)
        # As a BLOB the body arrives as bytes: no UTF-8 decoding into str objects that the
        # JSON reader would only encode again.
        sql = f"SELECT CAST(body AS BLOB) FROM items WHERE {' AND '.join(where)} ORDER BY sk"
        with self._db.connection("query items") as conn:
            cursor = conn.execute(sql, params)
            while rows := cursor.fetchmany(chunk_items):
                yield [row[0] for row in rows]

    def count(self, pk: str, *, sk_gte: str | None = None, sk_lt: str | None = None) -> int:
        check_key(pk, "pk")
        where, params = _key_range(pk, sk_gte, sk_lt)
        with self._db.connection("count items") as conn:
            row = conn.execute(
                f"SELECT count(*) FROM items WHERE {' AND '.join(where)}", params
            ).fetchone()
        return int(row[0])

    def delete(self, pk: str, sk: str) -> None:
        check_key(pk, "pk")
        check_key(sk, "sk")
        with self._db.connection("delete an item") as conn:
            conn.execute("DELETE FROM items WHERE pk = ? AND sk = ?", (pk, sk))

    def delete_partition(self, pk: str) -> int:
        check_partition(pk)
        with self._db.transaction("delete a partition") as conn:
            return int(conn.execute("DELETE FROM items WHERE pk = ?", (pk,)).rowcount)

    def put_many(self, items: Iterable[Item], *, from_json: bool = False) -> int:
        rows = [encode_item(item, checked=from_json) for item in items]
        if not rows:
            return 0
        with self._db.transaction("write items") as conn:
            # Inference records arrive here in the record writer's own process, so the GIL
            # this releases per row is nobody else's; it is a third faster than json_each.
            conn.executemany(_UPSERT, rows)
        return len(rows)

    def close(self) -> None:
        """Close this table's connections (later use reopens them)."""
        self._db.close()

    def _put_if_match(self, pk: str, sk: str, body: str, expected: dict[str, Any]) -> None:
        with self._db.transaction("write an item") as conn:
            row = conn.execute(
                "SELECT body FROM items WHERE pk = ? AND sk = ?", (pk, sk)
            ).fetchone()
            if row is None:
                raise AlreadyExists(
                    f"conditional put failed: no item with pk={pk!r} sk={sk!r} to match"
                )
            stored = decode_item(row[0])
            missing = object()
            changed = sorted(k for k, v in expected.items() if stored.get(k, missing) != v)
            if changed:
                raise AlreadyExists(
                    f"conditional put failed: item pk={pk!r} sk={sk!r} was changed by someone "
                    f"else ({', '.join(changed)} differ); read it again and retry"
                )
            conn.execute("UPDATE items SET body = ? WHERE pk = ? AND sk = ?", (body, pk, sk))


def _key_range(pk: str, sk_gte: str | None, sk_lt: str | None) -> tuple[list[str], list[Any]]:
    """The WHERE terms and parameters of one partition's ``[sk_gte, sk_lt)``."""
    where = ["pk = ?"]
    params: list[Any] = [pk]
    for operator, value in ((">=", sk_gte), ("<", sk_lt)):
        if value is not None:
            check_key(value, "sk")
            where.append(f"sk {operator} ?")
            params.append(value)
    return where, params
