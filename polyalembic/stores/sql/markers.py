"""Step markers in a SQL database that is not the ledger's: a row of ``schema_migrations_steps``
written in the migration's own transaction, so a kill between that database's commit and the
ledger's update is resumed without running the migration again. The table is bookkeeping (its
name says so: snapshots, drift, autogenerate and ``fresh`` pass it by, as the ledger's tables),
made by the first migration that marks, in that migration's transaction.
"""

from __future__ import annotations

import sqlalchemy as sa

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
    return sa.inspect(connection).has_table(TABLE)


def marked_steps(connection: sa.Connection, revision: str) -> set[int]:
    try:
        if not _has_table(connection):
            return set()
        return {int(step) for (step,) in connection.execute(sa.text(_MARKED), {"revision": revision})}
    finally:
        connection.rollback()  # a read: nothing held open on the store's connection


def _delete(connection: sa.Connection, statement: str, parameters: dict[str, object]) -> None:
    try:
        if _has_table(connection):
            query = sa.text(statement)
            if "keep" in parameters:
                query = query.bindparams(sa.bindparam("keep", expanding=True))
            connection.execute(query, parameters)
        connection.commit()
    except Exception:
        connection.rollback()
        raise


def clear_marks(connection: sa.Connection, keep: set[str]) -> None:
    if keep:
        _delete(connection, _CLEAR, {"keep": sorted(keep)})
    else:
        _delete(connection, _CLEAR_ALL, {})


def drop_marks(connection: sa.Connection, revision: str) -> None:
    _delete(connection, _DROP, {"revision": revision})
