"""The ledger's own schema, defined once and upgraded in place.

A ledger created by any earlier polyalembic is brought to the current version at the start of
the next run (under the migration lock), without losing a row. ``schema_migrations_meta`` holds
the version; a ledger without it is version 1 (0.1.0). Every upgrade statement is idempotent, so
``--sql`` renders them all. The ledger lives in a SQL database of the store it is handed (a
``SqlStore``): its JSON column type and its upsert are that store's.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.schema import CreateTable

from polyalembic.ledger.names import AUDIT_TABLE, META_TABLE, SNAPSHOTS_TABLE, TABLE, TABLE_NAMES, VERSION_TABLE
from polyalembic.ledger.reads import refuse_foreign, sa_query
from polyalembic.ledger.row_status import CHECK, RowStatus
from polyalembic.sql_lookups import in_current_schema

if TYPE_CHECKING:
    from polyalembic.stores.sql.store import SqlStore

log = logging.getLogger("polyalembic")


# The one definition of the ledger's schema: created from these (CREATE TABLE IF NOT EXISTS,
# also rendered under --sql) and written through them.
_meta = sa.MetaData()
migrations_table = sa.Table(
    TABLE, _meta,
    sa.Column("revision", sa.String(128), primary_key=True),
    sa.Column("database_type", sa.String(32), nullable=False),
    sa.Column("migration_file", sa.String(255), nullable=False),
    sa.Column("checksum", sa.CHAR(64), nullable=False),
    sa.Column("status", sa.String(16), sa.CheckConstraint(CHECK),
              nullable=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("execution_ms", sa.Integer),
    sa.Column("applied_by", sa.String(255), nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("failed_step", sa.Text),
    # statements or ops committed so far by a migration that is not one transaction (NULL for one
    # that ran in the ledger's transaction): where a resume continues
    sa.Column("completed_steps", sa.Integer),
    # the checksum another tool recorded for a migration `adopt` took over from it (its algorithm
    # is not polyalembic's: kept for the record, never compared)
    sa.Column("legacy_checksum", sa.Text),
)
audit_table = sa.Table(
    AUDIT_TABLE, _meta,
    # numbered by the database: inserts (also rendered under --sql) leave it out
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("revision", sa.String(128), nullable=False),
    sa.Column("database_type", sa.String(32), nullable=False),
    sa.Column("migration_file", sa.String(255), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("checksum", sa.CHAR(64)),
    sa.Column("execution_ms", sa.Integer),
    sa.Column("error", sa.Text),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("by", sa.String(255), nullable=False),
    implicit_returning=False,
)
meta_table = sa.Table(
    META_TABLE, _meta,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)


@functools.cache
def snapshots_table(sql: SqlStore) -> sa.Table:
    """Each store's schema as the last run that touched it (or `drift --accept`) left it: the
    baseline `polyalembic drift` compares the live store with (version 3). Its documents are of
    the JSON type of the SQL store the ledger lives in."""
    json_type = sql.json_type()
    return sa.Table(
        SNAPSHOTS_TABLE, sa.MetaData(),
        sa.Column("store", sa.String(32), primary_key=True),
        sa.Column("snapshot", json_type, nullable=False),
        # every object any recorded snapshot of the store held: an object outside it was never managed
        sa.Column("managed", json_type, nullable=False),
        sa.Column("revision", sa.String(128)),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("recorded_by", sa.String(255), nullable=False),
    )


def tables(sql: SqlStore) -> tuple[sa.Table, ...]:
    """The ledger's tables in the order they are created."""
    return migrations_table, audit_table, meta_table, snapshots_table(sql)


# version -> what brings a ledger of the version before it there (idempotent statements)
UPGRADES: dict[int, tuple[str, ...]] = {
    2: (f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS completed_steps INTEGER",
        f"ALTER TABLE {AUDIT_TABLE} ALTER COLUMN action TYPE VARCHAR(32)"),
    3: (),  # schema_migrations_snapshots: created with the other tables (CREATE TABLE IF NOT EXISTS)
    4: (f"ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS legacy_checksum TEXT",),
}
VERSION = max(UPGRADES)

Execute = Callable[[Any], Any]


def _version_row(sql: SqlStore, version: int) -> Any:
    stmt = sql.upsert(meta_table).values(key="ledger_version", value=str(version))
    return stmt.on_conflict_do_update(index_elements=["key"], set_={"value": stmt.excluded.value})


def render(execute: Execute, sql: SqlStore) -> None:
    """``--sql``: every statement that brings any ledger (or none) to the current version."""
    for table in tables(sql):
        execute(CreateTable(table, if_not_exists=True))
    for statements in UPGRADES.values():
        for statement in statements:
            execute(sa.text(statement))
    execute(_version_row(sql, VERSION))


def ensure(connection: sa.Connection, sql: SqlStore, committing_as_they_go: Iterable[str]) -> int:
    """Create the ledger, or upgrade it in place to the current version; return the version it had
    (0: none). ``connection`` is autocommit: each upgrade step commits on its own;
    ``committing_as_they_go``: the stores whose failed rows an old ledger left half done."""
    sql.ensure_schema(connection)
    has_meta, has_ledger = connection.execute(sa.text(
        f"SELECT {in_current_schema(META_TABLE)}, {in_current_schema(TABLE)}")).one()
    if has_ledger and not has_meta:  # a version-1 ledger, or a table of that name that is not ours
        refuse_foreign(sa_query(connection))
    if has_meta:
        found = int(connection.execute(sa.select(meta_table.c.value).where(
            meta_table.c.key == "ledger_version")).scalar() or 1)
    else:
        found = 1 if has_ledger else 0
    if found >= VERSION:
        return found
    for table in tables(sql):
        connection.execute(CreateTable(table, if_not_exists=True))
    if found:
        for version in range(found + 1, VERSION + 1):
            for statement in UPGRADES[version]:
                connection.execute(sa.text(statement))
        if found < 2:  # rows a version-1 ledger left half done must block as version 2's would
            connection.execute(sa.text(
                f"UPDATE {TABLE} SET completed_steps = 0 WHERE completed_steps IS NULL AND "
                "(status = :running OR (status = :failed AND database_type = ANY(:partial)))"),
                {"partial": list(committing_as_they_go), "running": RowStatus.RUNNING.value,
                 "failed": RowStatus.FAILED.value})
        log.info("polyalembic: upgraded the ledger's schema from version %s to %s", found, VERSION)
    connection.execute(_version_row(sql, VERSION))
    return found


def drop(connection: sa.Connection) -> None:
    """Drop the ledger's tables and Alembic's version table (a disposable test database's reset;
    the caller commits)."""
    for name in (VERSION_TABLE, *reversed(TABLE_NAMES)):
        connection.execute(sa.text(f'DROP TABLE IF EXISTS "{name}" CASCADE'))
