"""A store (or ledger) in a schema of its own: a tenant's schema in a database of many.

The DSN names the schema (``dsn.with_schema``: ``options=-csearch_path=<schema>,public``).
Three rules keep every target in its own schema:

- a session whose schema does not exist yet reads it as empty, never as ``public`` (PostgreSQL
  would fall back to the next schema of the search_path): ``enter`` narrows its search_path to
  the missing schema alone, so ``current_schema()`` is NULL and nothing of ``public`` is found;
- what writes creates the schema first (``ensure``), as Flyway's ``createSchemas`` does, and
  then finds ``public``'s functions again (TimescaleDB's ``create_hypertable``);
- each schema has its own migration lock key (``lock.lock_key``), so two schema targets of one
  database migrate at once, and two runs of one schema never do.

Lazy imports: SQLAlchemy and psycopg's ``sql``, when a session in a schema starts.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from polyalembic.stores.postgres import dsn as dsn_forms

if TYPE_CHECKING:
    import sqlalchemy as sa


def schema_of_connection(connection: sa.Connection) -> str | None:
    """The schema the DSN of ``connection``'s engine names (None: the default one)."""
    options = connection.engine.url.query.get("options")
    if isinstance(options, tuple):
        options = " ".join(options)
    return dsn_forms.schema_in_options(options) if options else None


def enter(dbapi_connection: Any, schema: str) -> None:
    """A new psycopg session of a DSN in ``schema``: when the schema does not exist, its
    search_path becomes that schema alone, so the session reads it as empty."""
    from psycopg import sql

    with dbapi_connection.cursor() as cursor:
        cursor.execute("SELECT to_regnamespace(%s) IS NULL", [schema])
        if cursor.fetchone()[0]:
            cursor.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
    if not dbapi_connection.autocommit:
        dbapi_connection.commit()


def ensure(connection: sa.Connection, schema: str) -> None:
    """Before a write, on a connection with nothing of its own pending: create ``schema`` if it
    is missing (a concurrent creator is fine) and put ``public`` back behind it in the session's
    search_path (committed, so it outlives the transaction it was set in)."""
    import sqlalchemy as sa

    if connection.execute(sa.text("SELECT current_schema() IS NOT DISTINCT FROM :s"), {"s": schema}).scalar():
        return
    try:
        connection.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    except sa.exc.IntegrityError:  # another run created it between the check and here
        connection.rollback()
    connection.execute(sa.text(f'SET search_path TO "{schema}", public'))
    connection.commit()
