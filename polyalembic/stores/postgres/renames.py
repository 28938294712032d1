"""Moving a table aside under a new name with the objects named after it: PostgreSQL keeps an
index's and a constraint's name when their table is renamed, so a new table of the old name would
collide with them (``schema_migrations_pkey``)."""

from __future__ import annotations

from collections.abc import Iterable

import sqlalchemy as sa


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _named_after(names: Iterable[str], old: str, new: str) -> list[str]:
    """The names that begin with ``old`` and not already with ``new`` (``schema_migrations_seed``
    begins with ``schema_migrations`` too)."""
    return [n for n in names if n.startswith(old) and not n.startswith(new)]


def rename_table(connection: sa.Connection, old: str, new: str) -> list[str]:
    """``ALTER TABLE old RENAME TO new``, then its constraints and indexes whose names begin with
    ``old`` renamed to begin with ``new``, in the connection's transaction; what was renamed."""
    connection.execute(sa.text(f"ALTER TABLE {_quoted(old)} RENAME TO {_quoted(new)}"))
    renamed = [f"table {old} -> {new}"]
    constraints = connection.execute(sa.text(
        "SELECT conname FROM pg_constraint WHERE conrelid = to_regclass(:t) ORDER BY conname"), {"t": new}).scalars()
    for name in _named_after(constraints, old, new):
        target = new + name[len(old):]
        connection.execute(sa.text(
            f"ALTER TABLE {_quoted(new)} RENAME CONSTRAINT {_quoted(name)} TO {_quoted(target)}"))
        renamed.append(f"constraint {name} -> {target}")
    indexes = connection.execute(sa.text(
        "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE i.indrelid = to_regclass(:t) ORDER BY c.relname"), {"t": new}).scalars()
    for name in _named_after(indexes, old, new):
        target = new + name[len(old):]
        connection.execute(sa.text(f"ALTER INDEX {_quoted(name)} RENAME TO {_quoted(target)}"))
        renamed.append(f"index {name} -> {target}")
    return renamed
