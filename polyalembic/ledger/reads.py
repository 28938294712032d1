"""Reading the ledger: its rows and the chain's current revision.

The reads are plain SQL through a ``Query`` (SQL text in, column names and rows out), so ``status``, a
no-op ``up`` and ``validate`` can read through the ledger's driver alone, without importing
SQLAlchemy (``reading``); runs and repairs read through their SQLAlchemy connection
(``sa_query``). How rows are written is ``writes.py``'s business.

Lazy imports: SQLAlchemy, only for a reader handed a SQLAlchemy connection: the reading commands go
through the driver alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, NamedTuple

from polyalembic.errors import PolyalembicError, StoreUnavailable
from polyalembic.ledger.names import TABLE, VERSION_TABLE
from polyalembic.ledger.row_status import RowStatus
from polyalembic.settings import LEDGER_VARIABLE, Settings
from polyalembic.sql_lookups import in_current_schema

#: SQL text in; the column names and the rows (tuples) out
Query = Callable[[str], tuple[list[str], list[tuple[Any, ...]]]]


def dicts(query: Query, text: str) -> list[dict[str, Any]]:
    """The rows of ``text`` as dicts by column name."""
    names, rows = query(text)
    return [dict(zip(names, row, strict=True)) for row in rows]


class LedgerRow(NamedTuple):
    """One row of schema_migrations as read back (a tuple: a long history reads thousands)."""

    revision: str
    database_type: str
    migration_file: str
    checksum: str
    status: str
    applied_at: datetime | None
    execution_ms: int | None
    applied_by: str
    error: str | None
    failed_step: str | None
    completed_steps: int | None = None
    #: the checksum the tool a migration was adopted from recorded (kept, never compared)
    legacy_checksum: str | None = None

    @property
    def interrupted(self) -> bool:
        """True when the store may hold part of the migration: it is running (or died running), or
        it failed outside a single transaction (it recorded progress)."""
        return self.status == RowStatus.RUNNING or (self.status == RowStatus.FAILED
                                                    and self.completed_steps is not None)


def _exists(query: Query, table: str) -> bool:
    return query(f"SELECT {in_current_schema(table)}")[1][0][0]


#: what every polyalembic ledger has had since its first version
OWN_COLUMNS = ("revision", "status")
#: what the seed's ``migrate.sh`` writes (the system polyalembic replaces)
SEED_COLUMNS = ("database_type", "migration_file", "applied_at", "checksum")


def table_columns(query: Query, table: str) -> list[str]:
    """The columns of ``table`` in the connection's schema, in order; [] when there is none."""
    return [row[0] for row in query(f"SELECT column_name FROM information_schema.columns WHERE table_name = "
                                    f"'{table}' AND table_schema = current_schema() ORDER BY ordinal_position")[1]]


def refuse_foreign(query: Query) -> None:
    """One line when the database holds a ``schema_migrations`` that is not polyalembic's (the
    seed's migrate.sh ledger, another tool's table of that name): no command reads it as a ledger,
    adds a column to it or writes a row in it."""
    names = table_columns(query, TABLE)
    if not names or all(column in names for column in OWN_COLUMNS):
        return
    database = query("SELECT current_database()")[1][0][0]
    whose = "the seed's migrate.sh ledger" if all(c in names for c in SEED_COLUMNS) else "not polyalembic's"
    way_out = ("`polyalembic adopt seed` takes its history over (and renames it aside)"
               if whose.startswith("the seed") else f"rename it aside (ALTER TABLE {TABLE} RENAME TO {TABLE}_old)")
    raise PolyalembicError(f"{TABLE} in database {database} is {whose} (columns {', '.join(names)}): polyalembic "
                           f"changes nothing in it and applied nothing: {way_out}, or set {LEDGER_VARIABLE} to "
                           "another database")


def read_rows(query: Query) -> list[LedgerRow]:
    """Every ledger row, oldest first; [] when the ledger does not exist yet."""
    if not _exists(query, TABLE):
        return []
    # SELECT *: a ledger of an earlier version (not yet upgraded by a run) lacks newer columns
    names, rows = query(f"SELECT * FROM {TABLE} ORDER BY applied_at")
    if not all(column in names for column in OWN_COLUMNS):
        refuse_foreign(query)
    rows.sort(key=lambda row: (row[names.index("applied_at")], row[names.index("revision")]))
    if tuple(names) == LedgerRow._fields:  # the current schema: rows are LedgerRows as they come
        return list(map(LedgerRow._make, rows))
    known = [(i, name) for i, name in enumerate(names) if name in LedgerRow._fields]
    return [LedgerRow(**{name: row[i] for i, name in known}) for row in rows]


def current_heads(query: Query) -> tuple[str, ...]:
    """The revisions Alembic's version table holds (several while branches are applied one by
    one), sorted; () at base."""
    if not _exists(query, VERSION_TABLE):
        return ()
    return tuple(sorted(row[0] for row in query(f"SELECT version_num FROM {VERSION_TABLE}")[1]))


def current_revision(query: Query) -> str | None:
    """The one revision the version table holds, None at base; one line when it holds several
    (what needs one revision, such as repair, waits for them to be joined)."""
    heads = current_heads(query)
    if len(heads) > 1:
        raise PolyalembicError(f"{VERSION_TABLE} holds several heads ({', '.join(heads)}): `polyalembic up` applies "
                               "the revisions that join them")
    return heads[0] if heads else None


def ledger_target(settings: Settings) -> tuple[str, str, str]:
    """(the ledger's DSN, who owns that database for errors: a store or "ledger", the variable to
    fix); StoreUnavailable naming what to set when none is configured."""
    home = settings.ledger_store
    dsn = settings.ledger_dsn
    if not dsn:
        raise StoreUnavailable(f"ledger: no database configured: {home.setup_hint} or {LEDGER_VARIABLE}")
    owner = home.name if home.same_database(home.database_url(settings), dsn) else "ledger"
    source = LEDGER_VARIABLE if settings.env.get(LEDGER_VARIABLE) else home.source(settings)
    return dsn, owner, source


@contextmanager
def reading(settings: Settings) -> Iterator[Query]:
    """A ``Query`` on the ledger's database, through the driver alone when its store has one."""
    dsn, owner, source = ledger_target(settings)
    home = settings.ledger_store
    connection = home.driver_connection(dsn, owner, source)
    if connection is None:
        with home.connect_to(dsn, owner, source) as sa_connection:
            yield sa_query(sa_connection)
        return
    try:
        yield lambda text: _rows(connection, text)
    finally:
        connection.close()


def sa_query(connection: Any) -> Query:
    """A ``Query`` on a SQLAlchemy connection."""
    import sqlalchemy as sa

    def query(text: str) -> tuple[list[str], list[tuple[Any, ...]]]:
        result = connection.execute(sa.text(text))
        return list(result.keys()), [tuple(row) for row in result]

    return query


def _rows(connection: Any, text: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    cursor = connection.cursor()
    try:
        cursor.execute(text)
        return [column[0] for column in cursor.description], cursor.fetchall()
    finally:
        cursor.close()
