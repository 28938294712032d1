"""Reads the live schema of a SQL store (its current schema: ``public``, or the schema its DSN
names): tables, views, indexes, functions, types. A schema that does not exist yet reads empty."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

# Objects that belong to polyalembic, Alembic or Flyway (a history ``adopt flyway`` read), not to the migrations.
BOOKKEEPING = ("alembic_version", "schema_migrations", "schema_migrations_audit", "flyway_schema_history")

# Relations, functions and types in the current schema, minus what an extension owns.
_OBJECTS = """
SELECT c.relname AS name,
       CASE c.relkind WHEN 'r' THEN 'table' WHEN 'p' THEN 'table' WHEN 'v' THEN 'view'
            WHEN 'm' THEN 'materialized view' WHEN 'i' THEN 'index' WHEN 'S' THEN 'sequence'
            WHEN 'I' THEN 'index' ELSE c.relkind::text END AS kind
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm', 'i', 'I', 'S')
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype = 'e')
UNION ALL
SELECT p.proname, 'function' FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = current_schema()
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')
UNION ALL
SELECT t.typname, 'type' FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
WHERE n.nspname = current_schema() AND t.typtype IN ('e', 'd', 'c')
  AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid = t.typrelid AND c.relkind <> 'c')
  AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = t.oid AND d.deptype = 'e')
"""


def is_bookkeeping(name: str) -> bool:
    """True for polyalembic's and Alembic's own tables (and their indexes, sequences, keys)."""
    return any(name == b or name.startswith(b + "_") for b in BOOKKEEPING)


def objects(connection: sa.Connection, include_bookkeeping: bool = False) -> dict[str, str]:
    """name -> kind of every user object in the current schema."""
    rows = connection.execute(sa.text(_OBJECTS)).all()
    found = {name: kind for name, kind in rows}
    if not include_bookkeeping:
        found = {n: k for n, k in found.items() if not is_bookkeeping(n)}
    return found


def constraints(connection: sa.Connection) -> dict[str, list[str]]:
    """Named constraints of the current schema: name -> [table, definition]."""
    rows = connection.execute(sa.text(
        "SELECT con.conname, rel.relname, pg_get_constraintdef(con.oid) FROM pg_constraint con "
        "JOIN pg_class rel ON rel.oid = con.conrelid JOIN pg_namespace n ON n.oid = rel.relnamespace "
        "WHERE n.nspname = current_schema()")).all()
    return {name: [table, definition] for name, table, definition in rows if not is_bookkeeping(table)}


def columns(connection: sa.Connection) -> dict[str, list[list[Any]]]:
    """table or view -> its columns in order: [name, type, not null, default]."""
    rows = connection.execute(sa.text(
        "SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull, "
        "       pg_get_expr(d.adbin, d.adrelid) "
        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace "
        "LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
        "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'p', 'v', 'm') AND a.attnum > 0 "
        "  AND NOT a.attisdropped "
        "  AND NOT EXISTS (SELECT 1 FROM pg_depend e WHERE e.objid = c.oid AND e.deptype = 'e') "
        "ORDER BY c.relname, a.attnum")).all()
    found: dict[str, list[list[Any]]] = {}
    for table, name, type_, not_null, default in rows:
        if not is_bookkeeping(table):
            found.setdefault(table, []).append([name, type_, not_null, default])
    return found


def snapshot(connection: sa.Connection) -> dict[str, Any]:
    """The current schema's objects, columns and constraints (sorted), for comparisons."""
    return {"objects": dict(sorted(objects(connection).items())),
            "columns": dict(sorted(columns(connection).items())),
            "constraints": dict(sorted(constraints(connection).items()))}
