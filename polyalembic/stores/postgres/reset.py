"""Drops every user object of a SQL store's public schema (``polyalembic fresh``; dev only).

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
    """Drop views, tables, sequences, functions and types of ``public``; return what was dropped."""
    dropped: list[str] = []
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
                    f"DROP FUNCTION IF EXISTS public.{quote(name)} CASCADE"))
            else:
                connection.execute(sa.text(f"DROP {kind.upper()} IF EXISTS public.{quote(name)} CASCADE"))
            dropped.append(f"{kind} {name}")
    return dropped
