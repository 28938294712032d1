"""The shared ledger ``schema_migrations``: how a row is written (its schema is in
``schema.py``, plain reads in ``reads.py``).

One row per migration over every store; every event is also appended to
``schema_migrations_audit``. *When* each row is written is decided in one place:
``polyalembic/runtime/recording.py``. The statements are the dialect's of the SQL store the ledger
is handed (``Ledger(sql)``, ``Settings.ledger_store``): its upsert, its compiling dialect, its lock.
"""

from __future__ import annotations

import functools
import getpass
import re
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from polyalembic.chain.migration import Migration
from polyalembic.ledger import reads as ledger_read
from polyalembic.ledger import schema as ledger_schema
from polyalembic.ledger import snapshots
from polyalembic.ledger.names import VERSION_TABLE
from polyalembic.ledger.reads import LedgerRow, ledger_target, sa_query
from polyalembic.ledger.row_status import RowStatus
from polyalembic.ledger.schema import audit_table, migrations_table
from polyalembic.settings import Settings
from polyalembic.sql_lookups import in_current_schema

if TYPE_CHECKING:
    from polyalembic.stores.sql.store import SqlStore


def audit_insert() -> sa.Insert:
    """An INSERT into the audit table that leaves ``id`` to the database (also under --sql)."""
    return sa.insert(audit_table).inline()


Execute = Callable[[Any], Any]


def applied_by() -> str:
    """``user@host`` of whoever runs the migration."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


#: the columns of a row that every upsert sets (``applied_at`` is the transaction's ``now()``)
_ROW = ("revision", "database_type", "migration_file", "checksum", "status", "applied_by", "error",
        "failed_step", "execution_ms", "completed_steps")
_AUDIT = {"revision": "revision", "database_type": "database_type", "migration_file": "migration_file",
          "action": "action", "checksum": "checksum", "execution_ms": "execution_ms", "error": "error",
          "by": "applied_by"}


def _upsert_of(sql: SqlStore, value: Callable[[str], Any], keep: tuple[str, ...] = ()) -> Any:
    """INSERT ... ON CONFLICT UPDATE of a row; columns in ``keep`` keep their old value."""
    row = {column: value(column) for column in _ROW} | {"applied_at": sa.func.now()}
    stmt = sql.upsert(migrations_table).values(**row)
    return stmt.on_conflict_do_update(
        index_elements=["revision"],
        set_={k: stmt.excluded[k] for k in row if k != "revision" and k not in keep})


def _audit_of(value: Callable[[str], Any]) -> sa.Insert:
    return audit_insert().values(**{column: value(name) for column, name in _AUDIT.items()}, at=sa.func.now())


def _with_audit(change: Any, audit: sa.Insert) -> sa.Insert:
    """A change of the ledger and its audit row as one statement (a data-modifying WITH): one
    round trip per migration instead of two, and they can't be separated."""
    return audit.add_cte(change.returning(migrations_table.c.revision).cte("ledger_change"))


#: the milliseconds since the server received the statements this one is sent with
SERVER_MS = "(extract(epoch FROM clock_timestamp() - statement_timestamp()) * 1000)::int"


def _applied_measured(sql: SqlStore, value: Callable[[str], Any]) -> sa.Insert:
    """``applied`` whose ``execution_ms`` the server measures, once: the audit row takes the
    ledger row's value (an expression written twice is evaluated twice, a millisecond apart)."""
    def measured_by_the_server(column: str) -> Any:
        return sa.literal_column(SERVER_MS) if column == "execution_ms" else value(column)

    change = _upsert_of(sql, measured_by_the_server) \
        .returning(migrations_table.c.revision, migrations_table.c.execution_ms).cte("ledger_change")
    measured = sa.select(change.c.execution_ms).scalar_subquery()
    return _audit_of(lambda name: measured if name == "execution_ms" else value(name)).add_cte(change)


#: the statements every migration writes, each built once from the table definitions above
_STATEMENTS: dict[str, Callable[[SqlStore, Callable[[str], Any]], Any]] = {
    "applied": lambda sql, v: _with_audit(_upsert_of(sql, v), _audit_of(v)),
    # sent after a pair file's statements (see Ledger.applied_sql)
    "applied_measured": _applied_measured,
    "running": lambda sql, v: _upsert_of(sql, v),
    "progress": lambda sql, v: sa.update(migrations_table).where(migrations_table.c.revision == v("revision"))
    .values(completed_steps=v("completed_steps")),
    "reverted": lambda sql, v: _with_audit(
        sa.delete(migrations_table).where(migrations_table.c.revision == v("revision")), _audit_of(v)),
    # a migration applied and the next one of the run marked `running`, in one statement (its
    # columns are bound as next_<column>): see runtime/recording.py, rule 2
    "applied_then_running": lambda sql, v: _with_audit(_upsert_of(sql, v), _audit_of(v)).add_cte(
        _upsert_of(sql, lambda column: v(f"next_{column}")).returning(migrations_table.c.revision).cte("next_running")),
}


@functools.cache
def _driver_text(sql: SqlStore, kind: str, dialect: sa.Dialect) -> tuple[str, tuple[str, ...]]:
    """The statement ``kind`` as the SQL ``dialect``'s driver takes (its placeholders), and its
    parameter names, compiled once: binding a migration's values to it costs a fraction of
    building the statement anew."""
    compiled = _STATEMENTS[kind](sql, sa.bindparam).compile(dialect=dialect)
    return str(compiled), tuple(compiled.params)


@functools.cache
def _text_of(sql: SqlStore, kind: str) -> tuple[sa.TextClause, frozenset[str]]:
    """The statement ``kind`` as text() with named parameters (and their names)."""
    text, names = _driver_text(sql, kind, sql.plain_dialect("named"))
    return sa.text(text), frozenset(names)


def _literal_text_of(sql: SqlStore, kind: str) -> str:
    """The statement ``kind`` as SQL text with ``%(name)s`` slots for literal values."""
    return _driver_text(sql, kind, sql.plain_dialect("pyformat"))[0]



#: Alembic's version table, as Alembic creates it, for a command that moves it without Alembic
_CREATE_VERSION_TABLE = (f"CREATE TABLE IF NOT EXISTS {VERSION_TABLE} (version_num VARCHAR(32) NOT NULL, "
                         f"CONSTRAINT {VERSION_TABLE}_pkc PRIMARY KEY (version_num))")
#: the session's prepared ``applied`` statement (see ``Ledger.prepare``)
PREPARED_APPLIED = "polyalembic_applied"
#: SQL that may drop a session's prepared statements (DISCARD ALL can't run in a transaction)
_DROPS_PREPARED = re.compile(r"(?i)\bdeallocate\b")


@functools.cache
def _prepared_form(sql: SqlStore) -> tuple[str, tuple[str, ...]]:
    """The ``applied`` statement with ``$n`` parameters (``execution_ms`` measured by the server),
    and the names of the values in ``$n`` order."""
    order: list[str] = []

    def parameter(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in order:
            order.append(name)
        return f"${order.index(name) + 1}"

    text = _literal_text_of(sql, "applied_measured")
    return re.sub(r"%\((\w+)\)s", parameter, text), tuple(order)




def _bound(sql: SqlStore, kind: str, **values: Any) -> sa.TextClause:
    text, names = _text_of(sql, kind)
    return text.bindparams(*(sa.bindparam(k, v, type_=_TYPES.get(k)) for k, v in values.items() if k in names))


class OnConnection:
    """The ``Execute`` of an online connection that runs the ledger's row writes as SQL compiled
    once for its driver (``exec_driver_sql``): half the client's CPU of binding and executing the
    text() form, for statements written at every migration. Anything else runs as given."""

    def __init__(self, connection: sa.Connection) -> None:
        self.connection = connection

    def __call__(self, statement: Any) -> Any:
        return self.connection.execute(statement)

    def write(self, sql: SqlStore, kind: str, values: dict[str, Any]) -> None:
        text, names = _driver_text(sql, kind, self.connection.dialect)
        self.connection.exec_driver_sql(text, {name: values[name] for name in names})


#: the parameters' SQL types, so that --sql renders a NULL or a number as such
_TYPES = {"execution_ms": sa.Integer(), "completed_steps": sa.Integer(),
          "next_execution_ms": sa.Integer(), "next_completed_steps": sa.Integer()}


class Ledger:
    """Writes ledger rows through an ``execute`` callable: a connection's or a migration context's,
    in the dialect of ``sql``, the SQL store the ledger lives in."""

    def __init__(self, sql: SqlStore) -> None:
        self.sql = sql
        self.by = applied_by()
        self.prepared = False  # whether applied_sql may EXECUTE the prepared statement

    def _write(self, execute: Execute, kind: str, values: dict[str, Any]) -> None:
        """Run the ledger statement ``kind`` with ``values`` through ``execute``."""
        if isinstance(execute, OnConnection):
            execute.write(self.sql, kind, values)
        else:
            execute(_bound(self.sql, kind, **values))

    def prepare(self, connection: sa.Connection) -> None:
        """PREPARE the ``applied`` statement on ``connection`` (a session of the run's own: the
        statement lives as long as it, whatever its transactions do), so that each pair file's
        trailer is a short EXECUTE: the server then parses and plans it once per run instead of
        once per migration."""
        connection.exec_driver_sql(f"PREPARE {PREPARED_APPLIED} AS {_prepared_form(self.sql)[0]}",
                                   execution_options={"no_parameters": True})
        self.prepared = True

    def _values(self, m: Migration, status: str, **values: Any) -> dict[str, Any]:
        return dict(revision=m.revision, database_type=m.store, migration_file=m.migration_file,
                    checksum=m.checksum(), status=str(status), applied_by=self.by, error=None, failed_step=None,
                    execution_ms=None, completed_steps=None) | values

    def _upsert(self, m: Migration, status: str, keep: tuple[str, ...] = (), **values: Any) -> Any:
        literal = self._values(m, status, **values)
        return _upsert_of(self.sql, lambda name: literal[name], keep)

    def _audit(self, m: Migration, action: str, ms: int | None = None, error: str | None = None) -> Any:
        literal = self._values(m, "", action=action, execution_ms=ms, error=error)
        return _audit_of(lambda name: literal[name])

    def running(self, execute: Execute, m: Migration, completed_steps: int | None) -> None:
        """``running``; ``completed_steps`` is None for a migration that runs as one transaction."""
        self._write(execute, "running", self._values(m, RowStatus.RUNNING, completed_steps=completed_steps))

    def progress(self, execute: Execute, m: Migration, completed_steps: int) -> None:
        """Another step of a migration that commits as it goes is done."""
        self._write(execute, "progress", {"revision": m.revision, "completed_steps": completed_steps})

    def applied(self, execute: Execute, m: Migration, ms: int | None, action: str = "upgrade",
                then_running: tuple[Migration, int | None] | None = None) -> None:
        """``m`` applied; ``then_running``: (the next migration, its completed steps) marked
        ``running`` by the same statement, as ``running`` would."""
        values = self._values(m, RowStatus.APPLIED, execution_ms=ms, action=action)
        if then_running is None:
            self._write(execute, "applied", values)
            return
        following, steps = then_running
        values |= {f"next_{k}": v for k, v in self._values(following, RowStatus.RUNNING,
                                                           completed_steps=steps).items()}
        self._write(execute, "applied_then_running", values)

    def applied_sql(self, m: Migration, after: str = "") -> str:
        """The ``applied`` row and its audit row as SQL text with the values written in, to be
        sent after the migration's own statements (``after``) in one round trip: ``execution_ms``
        is then measured by the server, from the moment it received them. An EXECUTE of the
        prepared statement once ``prepare`` ran, unless ``after`` may deallocate it (from then on
        the whole statement, for the rest of the run)."""
        if self.prepared and _DROPS_PREPARED.search(after):
            self.prepared = False
        values = {k: self.sql.literal(v) for k, v in self._values(m, RowStatus.APPLIED, action="upgrade").items()}
        if self.prepared:
            return f"EXECUTE {PREPARED_APPLIED}({', '.join(values[name] for name in _prepared_form(self.sql)[1])})"
        return _literal_text_of(self.sql, "applied_measured") % values

    def repaired(self, execute: Execute, m: Migration, action: str, **values: Any) -> None:
        """A ``repair`` decision on ``m``'s row (values set as given), audited as ``repair:<action>``."""
        if values:
            values = {k: str(v) if isinstance(v, RowStatus) else v for k, v in values.items()}
            execute(sa.update(migrations_table).where(migrations_table.c.revision == m.revision).values(**values))
        execute(self._audit(m, f"repair:{action}"))

    def failed(self, execute: Execute, m: Migration, error: str, step: str | None,
               ms: int | None, upgrade: bool = True, completed_steps: int | None = None) -> None:
        """An upgrade (or a non-transactional downgrade) failed: the row says ``failed`` with the
        error and the step; ``completed_steps``: the steps done before it, when the run knows more
        than its progress recorded."""
        # else completed_steps stays as the progress recorded it (a downgrade that may be partial:
        # 0); a downgrade also keeps when and what was applied
        if not upgrade:
            keep: tuple[str, ...] = ("applied_at", "checksum")
            progress: dict[str, Any] = {"completed_steps": 0}
        elif completed_steps is not None:
            keep, progress = (), {"completed_steps": completed_steps}
        else:
            keep, progress = ("completed_steps",), {}
        execute(_with_audit(
            self._upsert(m, RowStatus.FAILED, keep, error=error[:4000], failed_step=step, execution_ms=ms, **progress),
            self._audit(m, "failed" if upgrade else "downgrade_failed", ms, error[:4000])))

    def downgrade_failed(self, execute: Execute, m: Migration, error: str, ms: int | None) -> None:
        """A downgrade failed: the migration is still applied as far as the chain is concerned,
        so its row stays; the audit trail keeps the error."""
        execute(self._audit(m, "downgrade_failed", ms, error[:4000]))

    def reverted(self, execute: Execute, m: Migration, ms: int | None, action: str = "downgrade") -> None:
        self._write(execute, "reverted", self._values(m, "", execution_ms=ms, action=action))

    # -- decisions a command takes about the ledger as a whole (under the lock, see ``locked``) --
    def adopted(self, execute: Execute, m: Migration, action: str, applied_at: Any = None,
                legacy_checksum: str | None = None) -> None:
        """``m`` recorded as applied because another tool ran it (``adopt``): when that tool says it
        ran (``applied_at``, else now) and the checksum that tool recorded, kept beside polyalembic's."""
        values = self._values(m, RowStatus.APPLIED)
        row = {column: values[column] for column in _ROW} | {"legacy_checksum": legacy_checksum}
        if applied_at is not None:
            row["applied_at"] = applied_at
        execute(sa.insert(migrations_table).values(**row))
        execute(self._audit(m, action))

    def versions_set(self, execute: Execute, heads: tuple[str, ...]) -> None:
        """Alembic's version table holds ``heads`` and nothing else (an adopted history's heads)."""
        execute(sa.text(_CREATE_VERSION_TABLE))
        execute(sa.text(f"DELETE FROM {VERSION_TABLE}"))
        for head in heads:
            execute(sa.text(f"INSERT INTO {VERSION_TABLE} (version_num) VALUES (:v)").bindparams(v=head))

    def forgotten(self, execute: Execute, row: LedgerRow) -> None:
        """``repair forget``: the row of a migration whose file is gone leaves the ledger, audited."""
        execute(sa.delete(migrations_table).where(migrations_table.c.revision == row.revision))
        execute(audit_insert().values(revision=row.revision, database_type=row.database_type,
                                      migration_file=row.migration_file, action="repair:forget",
                                      checksum=row.checksum, at=sa.func.now(), by=self.by))

    def version_moved(self, execute: Execute, current: tuple[str, ...], m: Migration) -> bool:
        """Alembic's version rows moved from the heads ``current`` to ``m`` for a migration finished
        by hand (``repair mark-applied``): its parents among them give way to it, as an upgrade
        would do; False when another run moved them meanwhile."""
        execute(sa.text(_CREATE_VERSION_TABLE))
        found = execute(sa.text(f"SELECT version_num FROM {VERSION_TABLE} FOR UPDATE")).scalars().all()
        if tuple(sorted(found)) != tuple(sorted(current)):
            return False
        for parent in set(m.down) & set(current):
            execute(sa.text(f"DELETE FROM {VERSION_TABLE} WHERE version_num = :v").bindparams(v=parent))
        execute(sa.text(f"INSERT INTO {VERSION_TABLE} (version_num) VALUES (:v)").bindparams(v=m.revision))
        return True

    def snapshot_recorded(self, execute: Execute, store: Any, live: dict[str, Any], managed: set[str],
                          revision: str | None) -> None:
        """``live`` becomes ``store``'s recorded snapshot (after a run that touched it)."""

        snapshots.record(execute, self.sql, store, live, managed, revision, self.by)

    def drift_accepted(self, execute: Execute, store: Any, live: dict[str, Any], managed: set[str],
                       revision: str | None, action: str) -> None:
        """``drift --accept``: ``live`` becomes ``store``'s recorded snapshot, audited as ``action``."""
        self.snapshot_recorded(execute, store, live, managed, revision)
        execute(audit_insert().values(revision=revision or "base", database_type=store.name, migration_file="*",
                                      action=action, at=sa.func.now(), by=self.by))

    def cleared(self, connection: sa.Connection) -> None:
        """``fresh``: no migration is recorded any more (the version row and every ledger row go),
        audited; the audit trail itself stays."""
        def has(table: str) -> bool:
            return bool(connection.execute(sa.text(f"SELECT {in_current_schema(table)}")).scalar())

        if has(VERSION_TABLE):
            connection.execute(sa.text(f"DELETE FROM {VERSION_TABLE}"))
        if has(migrations_table.name):
            connection.execute(sa.delete(migrations_table))
            connection.execute(audit_insert().values(
                revision="*", database_type="*", migration_file="*", action="fresh", at=sa.func.now(), by=self.by))


@contextmanager
def locked(settings: Settings, timeout: float | None = None, ensure: bool = True) -> Iterator[sa.Connection]:
    """An autocommit connection to the ledger database holding the migration lock, the ledger's
    schema brought up to date first (``ensure``): what every command that decides about the
    ledger (repair, drift --accept, fresh) runs under, so no run starts in between."""

    sql = settings.ledger_store
    with connect_ledger(settings, autocommit=True) as connection, sql.migration_lock(connection, timeout=timeout):
        if ensure:
            ledger_schema.ensure(connection, sql, settings.committing_as_they_go())
        yield connection


def read_rows(connection: sa.Connection) -> list[LedgerRow]:
    """Every ledger row, oldest first; [] when the ledger does not exist yet."""
    return ledger_read.read_rows(sa_query(connection))


def current_heads_of(connection: sa.Connection) -> tuple[str, ...]:
    """The revisions Alembic's version table holds; () at base."""
    return ledger_read.current_heads(sa_query(connection))


def connect_ledger(settings: Settings, autocommit: bool = False) -> sa.Connection:
    """The ledger database (schema_migrations, the advisory lock); errors name the store whose
    database it is (or "ledger" for a database of its own) and what to set when it is unset."""
    return settings.ledger_store.connect_to(*ledger_target(settings), autocommit=autocommit)
