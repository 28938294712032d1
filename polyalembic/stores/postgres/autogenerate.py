"""What autogenerate never reports in a PostgreSQL database: polyalembic's and Alembic's own
tables, and what an extension owns (its schemas and tables, e.g. PostGIS's spatial_ref_sys)."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from polyalembic.stores.contract import DatabaseObject
from polyalembic.stores.postgres.introspect import is_bookkeeping

_EXTENSION_OWNED = """
SELECT 'schema', n.nspname, n.nspname FROM pg_namespace n
WHERE EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = n.oid AND d.classid = 'pg_namespace'::regclass
              AND d.deptype = 'e')
UNION ALL
SELECT 'table', n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p')
  AND EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.classid = 'pg_class'::regclass
              AND d.deptype = 'e')
"""


def hidden(connection: sa.Connection) -> Callable[[DatabaseObject], bool]:
    """The predicate of ``Store.autogenerate_hidden`` for a PostgreSQL database."""
    owned = {(kind, schema, name) for kind, schema, name in connection.execute(sa.text(_EXTENSION_OWNED))}

    def hides(found: DatabaseObject) -> bool:
        if found.kind == "table" and is_bookkeeping(found.name):
            return True
        return (found.kind, found.schema, found.name) in owned

    return hides
