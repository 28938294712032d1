"""Autogenerate per SQL store: which store compares which MetaData, and what differs.

Each store is compared with its own database on its own connection (TimescaleDB may live in
another database, or on another server, than PostgreSQL). Stores that share one database share
its tables: a table belongs to the store whose metadata declares it, and the first store (the
``--version-path`` one, else registry order) also reports the tables no metadata declares. What
a store or its extension makes itself (``Store.autogenerate_hidden``) is never a difference
unless the metadata declares it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from alembic.autogenerate import produce_migrations
from alembic.operations import ops
from alembic.runtime.migration import MigrationContext

from polyalembic.errors import PolyalembicError
from polyalembic.settings import Settings
from polyalembic.stores import STORES, Store, get_store
from polyalembic.stores.contract import Autogenerates, DatabaseObject

TableKey = tuple[str | None, str]


@dataclass
class Comparison:
    """One store's metadata against the store's database."""

    store: Store
    metadata: sa.MetaData
    #: every SQL store in the same database: what each makes itself is hidden
    neighbours: list[Store]
    #: tables another store's metadata in the same database declares
    elsewhere: set[TableKey] = field(default_factory=set)
    #: True when the tables no metadata declares are this comparison's to report
    reports_undeclared: bool = True


def plan(settings: Settings, metadata: Mapping[str, sa.MetaData], only: str | None = None) -> list[Comparison]:
    """The comparisons to run: one per distinct MetaData per database (``only``: that store's)."""
    groups: list[list[str]] = []
    for name in metadata:
        url = settings.database_url(name)
        group = next((g for g in groups if settings.same_database(settings.database_url(g[0]), url)), None)
        if group is None:
            groups.append([name])
        else:
            group.append(name)
    comparisons = []
    for group in groups:
        comparers: dict[int, str] = {}  # a MetaData shared by stores of one database is compared once
        for name in sorted(group, key=lambda n: n != only):
            comparers.setdefault(id(metadata[name]), name)
        names = list(comparers.values())
        declared = {name: _tables(metadata[name]) for name in names}
        _refuse_a_table_declared_twice(declared)
        url = settings.database_url(group[0])
        neighbours = [s for s in STORES.values()
                      if isinstance(s, Autogenerates) and settings.same_database(settings.database_url(s.name), url)]
        for position, name in enumerate(names):
            elsewhere = set().union(*(declared[other] for other in names if other != name))
            comparisons.append(Comparison(get_store(name), metadata[name], neighbours, elsewhere, position == 0))
    return [c for c in comparisons if only is None or c.store.name == only]


def compare(comparison: Comparison, connection: sa.Connection) -> ops.MigrationScript:
    """Alembic's comparison of the store's database with its metadata (upgrade and downgrade ops)."""
    hidden = [store.autogenerate_hidden(connection) for store in comparison.neighbours]
    context = MigrationContext.configure(connection=connection, opts={
        "include_schemas": True, "include_name": _name_filter(comparison, connection, hidden)})
    try:
        return produce_migrations(context, comparison.metadata)
    finally:
        if connection.in_transaction():
            connection.rollback()


def _name_filter(comparison: Comparison, connection: sa.Connection,
                 hidden: list[Callable[[DatabaseObject], bool]]) -> Callable[[Any, str, Mapping[str, Any]], bool]:
    """Alembic's ``include_name``: the schemas the metadata uses (and the default one); the tables
    that are this comparison's; nothing a store makes itself unless the metadata declares it."""
    metadata = comparison.metadata
    default_schema = connection.dialect.default_schema_name
    schemas = {None} | {table.schema for table in metadata.tables.values() if table.schema}
    declared = {(table.schema, table.name): _names(table) for table in metadata.tables.values()}

    def include_name(name: Any, kind: str, parents: Mapping[str, Any]) -> bool:
        if kind == "schema":
            return name in schemas and not any(h(DatabaseObject(kind, name or default_schema, name or default_schema))
                                               for h in hidden)
        schema = parents.get("schema_name")
        table = name if kind == "table" else parents.get("table_name")
        key = (schema, table)
        if kind == "table":
            if key in declared:
                return True
            if key in comparison.elsewhere or not comparison.reports_undeclared:
                return False
        elif name in declared.get(key, ()):
            return True
        found = DatabaseObject(kind, schema or default_schema, name, None if kind == "table" else table)
        return not any(h(found) for h in hidden)

    return include_name


def _tables(metadata: sa.MetaData) -> set[TableKey]:
    return {(table.schema, table.name) for table in metadata.tables.values()}


def _names(table: sa.Table) -> set[str]:
    """The names a table's declaration gives its columns, indexes and constraints."""
    names = {column.name for column in table.columns} | {index.name for index in table.indexes if index.name}
    return names | {str(c.name) for c in table.constraints if c.name}


def _refuse_a_table_declared_twice(declared: Mapping[str, set[TableKey]]) -> None:
    seen: dict[TableKey, str] = {}
    for store, tables in declared.items():
        for key in sorted(tables, key=str):
            if key in seen:
                table = ".".join(part for part in key if part)
                raise PolyalembicError(f"{seen[key]} and {store} share a database and both their target_metadata "
                                       f"declare table {table}: declare it in one of them")
            seen[key] = store
