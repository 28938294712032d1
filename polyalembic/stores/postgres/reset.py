"""Drops every user object of a SQL store's schema (``polyalembic fresh``; dev only): ``public``,
or the schema its DSN names.

Objects an extension owns (TimescaleDB's catalog, for one) and polyalembic's own bookkeeping
tables are left alone; the ledger is cleared separately.
"""

from __future__ import annotations

import sqlalchemy as sa

from polyalembic.stores.postgres.introspect import is_bookkeeping, objects

_DROP_ORDER = ("materialized view", "view", "table", "sequence", "function", "type")


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def drop_all(connection: sa.Connection) -> list[str]:
    """Drop views, tables, sequences, functions and types of the current schema; return what was
    dropped."""
    dropped: list[str] = []
    schema = connection.execute(sa.text("SELECT current_schema()")).scalar()
    if schema is None:  # a schema that does not exist yet holds nothing
        return dropped
    found = objects(connection)
    for kind in _DROP_ORDER:
        for name, k in sorted(found.items()):
            if k != kind or is_bookkeeping(name):
                continue
            still = objects(connection)
            if name not in still:  # went away with an earlier CASCADE
                continue
            if kind == "function":
                connection.execute(sa.text(
                    f"DROP FUNCTION IF EXISTS {quote(schema)}.{quote(name)} CASCADE"))
            else:
                connection.execute(sa.text(f"DROP {kind.upper()} IF EXISTS {quote(schema)}.{quote(name)} CASCADE"))
            dropped.append(f"{kind} {name}")
    return dropped
