"""What autogenerate never reports in a TimescaleDB database, beyond PostgreSQL's: the
extension's schemas (chunks, compressed chunks and continuous aggregates' materializations live
there) and the index create_hypertable makes on the time column (``<table>_<time>_idx``, or
``(<space>, <time> DESC)`` per space dimension)."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from polyalembic.stores.contract import DatabaseObject
from polyalembic.stores.postgres import autogenerate as sql_autogenerate
from polyalembic.stores.timescaledb.introspect import extension_version

SCHEMA_PREFIXES = ("_timescaledb_", "timescaledb_")
_DESC = 1  # pg_index.indoption bit: the column is sorted descending

# Plain btree indexes of hypertables (no predicate, no expression, not unique), with their key
# columns in order and each column's options; the dimensions, time (open) first.
_INDEXES = """
SELECT n.nspname, t.relname, i.relname, x.indoption::text,
       array(SELECT a.attname::text FROM unnest(x.indkey::int2[]) WITH ORDINALITY k(attnum, pos)
             JOIN pg_attribute a ON a.attrelid = t.oid AND a.attnum = k.attnum ORDER BY k.pos)
FROM timescaledb_information.hypertables h
JOIN pg_namespace n ON n.nspname = h.hypertable_schema
JOIN pg_class t ON t.relnamespace = n.oid AND t.relname = h.hypertable_name
JOIN pg_index x ON x.indrelid = t.oid
JOIN pg_class i ON i.oid = x.indexrelid
WHERE NOT x.indisunique AND x.indpred IS NULL AND x.indexprs IS NULL
"""
_DIMENSIONS = """
SELECT hypertable_schema, hypertable_name, column_name, dimension_type = 'Time'
FROM timescaledb_information.dimensions ORDER BY hypertable_schema, hypertable_name, dimension_number
"""


def default_indexes(connection: sa.Connection) -> set[tuple[str, str, str]]:
    """(schema, hypertable, index) of every index create_hypertable made by default."""
    if extension_version(connection) is None:
        return set()
    time_of: dict[tuple[str, str], str] = {}
    spaces: dict[tuple[str, str], set[str]] = {}
    for schema, table, column, is_time in connection.execute(sa.text(_DIMENSIONS)):
        if is_time:
            time_of.setdefault((schema, table), column)
        else:
            spaces.setdefault((schema, table), set()).add(column)
    found = set()
    for schema, table, index, options, columns in connection.execute(sa.text(_INDEXES)):
        time = time_of.get((schema, table))
        flags = [int(flag) for flag in options.split()]
        if time is None or not (index.startswith(table) and index.endswith("_idx")):
            continue
        by_time = columns == [time] and flags[0] & _DESC
        by_space = (len(columns) == 2 and columns[1] == time and columns[0] in spaces.get((schema, table), ())
                    and flags[1] & _DESC and not flags[0] & _DESC)
        if by_time or by_space:
            found.add((schema, table, index))
    return found


def hidden(connection: sa.Connection) -> Callable[[DatabaseObject], bool]:
    """The predicate of ``Store.autogenerate_hidden`` for a TimescaleDB database."""
    sql_hides = sql_autogenerate.hidden(connection)
    defaults = default_indexes(connection)

    def hides(found: DatabaseObject) -> bool:
        if found.kind == "schema" and found.name.startswith(SCHEMA_PREFIXES):
            return True
        if found.kind == "index" and (found.schema, found.table, found.name) in defaults:
            return True
        return sql_hides(found)

    return hides
