"""PostgreSQL's facts the ledger is written with: its upsert, its JSON column type (JSONB), and a
dialect to compile statements once (as text, for the driver). The ledger asks its SQL store for
them (``SqlStore.upsert`` and the rest); it imports no dialect.

Lazy imports: the psycopg2 dialect, once, when the ledger compiles its statements."""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql import insert as upsert_insert

#: the column type of a JSON document (a store's snapshot)
JSON = JSONB


def insert(table: sa.Table) -> Any:
    """An INSERT that can become an upsert (``.on_conflict_do_update(...)``)."""
    return upsert_insert(table)


@functools.cache
def plain_dialect(paramstyle: str) -> sa.Dialect:
    """A dialect that renders no parameter casts (``:name::VARCHAR`` is neither what text() reads
    as a parameter nor what ``--sql`` should print)."""
    from sqlalchemy.dialects.postgresql import psycopg2

    return psycopg2.dialect(paramstyle=paramstyle)
