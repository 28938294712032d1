"""Step markers in a SQL database that is not the ledger's: a row of ``schema_migrations_steps``
written in the migration's own transaction, so a kill between that database's commit and the
ledger's update is resumed without running the migration again. The table is bookkeeping (its
name says so: snapshots, drift, autogenerate and ``fresh`` pass it by, as the ledger's tables),
made by the first migration that marks, in that migration's transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa

from polyalembic.sql_lookups import in_current_schema

TABLE = "schema_migrations_steps"
# no key: a marker left by a killed run (inert, removed by the next) never fails a later one
_CREATE = f"CREATE TABLE IF NOT EXISTS {TABLE} (revision VARCHAR(255) NOT NULL, step INTEGER NOT NULL)"
_MARK = f"INSERT INTO {TABLE} (revision, step) VALUES (:revision, :step)"
_MARKED = f"SELECT step FROM {TABLE} WHERE revision = :revision"
_CLEAR = f"DELETE FROM {TABLE} WHERE revision NOT IN :keep"
_CLEAR_ALL = f"DELETE FROM {TABLE}"
_DROP = f"DELETE FROM {TABLE} WHERE revision = :revision"


def ensure_table(connection: sa.Connection) -> None:
    """In the migration's transaction, once per run and database: the table exists from then on."""
    connection.execute(sa.text(_CREATE))


def mark(connection: sa.Connection, revision: str, step: int) -> None:
    """In the step's own transaction, after its work: committed with it or not at all."""
    connection.execute(sa.text(_MARK), {"revision": revision, "step": step})


def _has_table(connection: sa.Connection) -> bool:
    """In the connection's current schema only: a tenant's schema never reads ``public``'s markers."""
    return bool(connection.execute(sa.text(f"SELECT {in_current_schema(TABLE)}")).scalar())


@contextmanager
def _on_its_own(connection: sa.Connection, commit: bool) -> Iterator[None]:
    """Read or remove markers in a transaction of their own (committed when ``commit``), unless a
    migration's transaction is open on the connection (a resumed migration that commits as it
    goes): then what is done here commits or rolls back with it, and that transaction is left alone."""
    if connection.in_transaction():
        yield
        return
    try:
        yield
    except Exception:
        connection.rollback()
        raise
    if commit:
        connection.commit()
    else:
        connection.rollback()  # a read: nothing held open on the store's connection


def marked_steps(connection: sa.Connection, revision: str) -> set[int]:
    with _on_its_own(connection, commit=False):
        if not _has_table(connection):
            return set()
        return {int(step) for (step,) in connection.execute(sa.text(_MARKED), {"revision": revision})}


def _delete(connection: sa.Connection, query: sa.TextClause, parameters: dict[str, object]) -> None:
    with _on_its_own(connection, commit=True):
        if _has_table(connection):
            connection.execute(query, parameters)


def clear_marks(connection: sa.Connection, keep: set[str]) -> None:
    if keep:
        query = sa.text(_CLEAR).bindparams(sa.bindparam("keep", expanding=True))
        _delete(connection, query, {"keep": sorted(keep)})
    else:
        _delete(connection, sa.text(_CLEAR_ALL), {})


def drop_marks(connection: sa.Connection, revision: str) -> None:
    _delete(connection, sa.text(_DROP), {"revision": revision})
