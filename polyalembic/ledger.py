"""The shared ledger ``schema_migrations``: its schema and how a row is written or read.

One row per migration over every store; every event is also appended to
``schema_migrations_audit``. *When* each row is written is decided in one place:
``polyalembic/runtime/recording.py``.
"""

from __future__ import annotations

import getpass
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert

from polyalembic import sql
from polyalembic.dsn import same_database
from polyalembic.errors import StoreUnavailable
from polyalembic.ledger_schema import TABLE, audit_table, migrations_table
from polyalembic.migration import Migration
from polyalembic.settings import LEDGER_VARIABLE, Settings
from polyalembic.stores import ledger_home


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


@dataclass(frozen=True)
class LedgerRow:
    """One row of schema_migrations as read back."""

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

    @property
    def interrupted(self) -> bool:
        """True when the store may hold part of the migration: it is running (or died running), or
        it failed outside a single transaction (it recorded progress)."""
        return self.status == "running" or (self.status == "failed" and self.completed_steps is not None)


class Ledger:
    """Writes ledger rows through an ``execute`` callable: a connection's or a migration context's."""

    def __init__(self) -> None:
        self.by = applied_by()

    def _upsert(self, m: Migration, status: str, keep: tuple[str, ...] = (), **values: Any) -> Any:
        """INSERT ... ON CONFLICT UPDATE of ``m``'s row; columns in ``keep`` keep their old value."""
        row = dict(revision=m.revision, database_type=m.store,
                   migration_file=m.migration_file, checksum=m.checksum(), status=status,
                   applied_at=sa.func.now(), applied_by=self.by, error=None, failed_step=None,
                   execution_ms=None)
        row.update(values)
        stmt = pg_insert(migrations_table).values(**row)
        return stmt.on_conflict_do_update(
            index_elements=["revision"],
            set_={k: stmt.excluded[k] for k in row if k != "revision" and k not in keep},
        )

    def _audit(self, m: Migration, action: str, ms: int | None = None, error: str | None = None) -> Any:
        return audit_insert().values(
            revision=m.revision, database_type=m.store, migration_file=m.migration_file,
            action=action, checksum=m.checksum(), execution_ms=ms, error=error,
            at=sa.func.now(), by=self.by)

    def running(self, execute: Execute, m: Migration, completed_steps: int | None) -> None:
        """``running``; ``completed_steps`` is None for a migration that runs as one transaction."""
        execute(self._upsert(m, "running", completed_steps=completed_steps))

    def progress(self, execute: Execute, m: Migration, completed_steps: int) -> None:
        """Another step of a migration that commits as it goes is done."""
        execute(sa.update(migrations_table).where(migrations_table.c.revision == m.revision)
                .values(completed_steps=completed_steps))

    def applied(self, execute: Execute, m: Migration, ms: int | None, action: str = "upgrade") -> None:
        execute(_with_audit(self._upsert(m, "applied", execution_ms=ms, completed_steps=None),
                            self._audit(m, action, ms)))

    def repaired(self, execute: Execute, m: Migration, action: str, **values: Any) -> None:
        """A ``repair`` decision on ``m``'s row (values set as given), audited as ``repair:<action>``."""
        if values:
            execute(sa.update(migrations_table).where(migrations_table.c.revision == m.revision).values(**values))
        execute(self._audit(m, f"repair:{action}"))

    def failed(self, execute: Execute, m: Migration, error: str, step: str | None,
               ms: int | None, upgrade: bool = True) -> None:
        """An upgrade (or a non-transactional downgrade) failed: the row says ``failed`` with the
        error and the step."""
        # completed_steps stays as the progress recorded it (a downgrade that may be partial: 0);
        # a downgrade also keeps when and what was applied
        keep = () if upgrade else ("applied_at", "checksum")
        progress = {} if upgrade else {"completed_steps": 0}
        execute(_with_audit(
            self._upsert(m, "failed", keep, error=error[:4000], failed_step=step, execution_ms=ms, **progress),
            self._audit(m, "failed" if upgrade else "downgrade_failed", ms, error[:4000])))

    def downgrade_failed(self, execute: Execute, m: Migration, error: str, ms: int | None) -> None:
        """A downgrade failed: the migration is still applied as far as the chain is concerned,
        so its row stays; the audit trail keeps the error."""
        execute(self._audit(m, "downgrade_failed", ms, error[:4000]))

    def reverted(self, execute: Execute, m: Migration, ms: int | None, action: str = "downgrade") -> None:
        execute(_with_audit(sa.delete(migrations_table).where(migrations_table.c.revision == m.revision),
                            self._audit(m, action, ms)))


def _with_audit(change: Any, audit: sa.Insert) -> sa.Insert:
    """A change of the ledger and its audit row as one statement (a data-modifying WITH): one
    round trip per migration instead of two, and they can't be separated."""
    return audit.add_cte(change.returning(migrations_table.c.revision).cte("ledger_change"))


def read_rows(connection: sa.Connection) -> list[LedgerRow]:
    """Every ledger row, oldest first; [] when the ledger does not exist yet."""
    if connection.execute(sa.text("SELECT to_regclass(:t)"), {"t": TABLE}).scalar() is None:
        return []
    # SELECT *: a ledger of an earlier version (not yet upgraded by a run) lacks newer columns
    result = connection.execute(sa.text(f"SELECT * FROM {TABLE} ORDER BY applied_at, revision"))
    fields = set(LedgerRow.__dataclass_fields__)
    return [LedgerRow(**{k: v for k, v in row._mapping.items() if k in fields}) for row in result]


def connect_ledger(settings: Settings, autocommit: bool = False) -> sa.Connection:
    """The ledger database (schema_migrations, the advisory lock); errors name the store whose
    database it is (or "ledger" for a database of its own) and what to set when it is unset."""
    home = ledger_home()
    dsn = settings.ledger_dsn
    if not dsn:
        hint = f"{home.setup_hint} or {LEDGER_VARIABLE}" if home else f"set {LEDGER_VARIABLE}"
        raise StoreUnavailable(f"ledger: no database configured: {hint}")
    owner = home.name if home and same_database(home.database_url(settings), dsn) else "ledger"
    source = LEDGER_VARIABLE if settings.env.get(LEDGER_VARIABLE) or not home else home.source(settings)
    return sql.connect(dsn, owner, source, autocommit=autocommit)
