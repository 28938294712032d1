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
from sqlalchemy.schema import CreateTable

from polyalembic import sql
from polyalembic.dsn import same_database
from polyalembic.errors import StoreUnavailable
from polyalembic.migration import Migration
from polyalembic.settings import LEDGER_VARIABLE, Settings
from polyalembic.stores import ledger_home

TABLE = "schema_migrations"
AUDIT_TABLE = "schema_migrations_audit"

# The one definition of the ledger's schema: created from these (CREATE TABLE IF NOT EXISTS,
# also rendered under --sql) and written through them.
_meta = sa.MetaData()
migrations_table = sa.Table(
    TABLE, _meta,
    sa.Column("revision", sa.String(128), primary_key=True),
    sa.Column("database_type", sa.String(32), nullable=False),
    sa.Column("migration_file", sa.String(255), nullable=False),
    sa.Column("checksum", sa.CHAR(64), nullable=False),
    sa.Column("status", sa.String(16), sa.CheckConstraint("status IN ('running', 'applied', 'failed')"),
              nullable=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("execution_ms", sa.Integer),
    sa.Column("applied_by", sa.String(255), nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("failed_step", sa.Text),
)
audit_table = sa.Table(
    AUDIT_TABLE, _meta,
    # numbered by the database: inserts (also rendered under --sql) leave it out
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("revision", sa.String(128), nullable=False),
    sa.Column("database_type", sa.String(32), nullable=False),
    sa.Column("migration_file", sa.String(255), nullable=False),
    sa.Column("action", sa.String(16), nullable=False),
    sa.Column("checksum", sa.CHAR(64)),
    sa.Column("execution_ms", sa.Integer),
    sa.Column("error", sa.Text),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("by", sa.String(255), nullable=False),
    implicit_returning=False,
)

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


class Ledger:
    """Writes ledger rows through an ``execute`` callable: a connection's or a migration context's."""

    def __init__(self) -> None:
        self.by = applied_by()

    @staticmethod
    def ensure_tables(execute: Execute) -> None:
        """Create the ledger tables when missing (IF NOT EXISTS, so it also renders for --sql)."""
        for table in (migrations_table, audit_table):
            execute(CreateTable(table, if_not_exists=True))

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

    def running(self, execute: Execute, m: Migration) -> None:
        execute(self._upsert(m, "running"))

    def applied(self, execute: Execute, m: Migration, ms: int | None, action: str = "upgrade") -> None:
        execute(self._upsert(m, "applied", execution_ms=ms))
        execute(self._audit(m, action, ms))

    def failed(self, execute: Execute, m: Migration, error: str, step: str | None,
               ms: int | None, upgrade: bool = True) -> None:
        """An upgrade (or a non-transactional downgrade) failed: the row says ``failed`` with the
        error and the step."""
        keep = () if upgrade else ("applied_at", "checksum")  # a downgrade: when and what was applied
        execute(self._upsert(m, "failed", keep, error=error[:4000], failed_step=step, execution_ms=ms))
        execute(self._audit(m, "failed" if upgrade else "downgrade_failed", ms, error[:4000]))

    def downgrade_failed(self, execute: Execute, m: Migration, error: str, ms: int | None) -> None:
        """A downgrade failed: the migration is still applied as far as the chain is concerned,
        so its row stays; the audit trail keeps the error."""
        execute(self._audit(m, "downgrade_failed", ms, error[:4000]))

    def reverted(self, execute: Execute, m: Migration, ms: int | None, action: str = "downgrade") -> None:
        execute(sa.delete(migrations_table).where(migrations_table.c.revision == m.revision))
        execute(self._audit(m, action, ms))


def read_rows(connection: sa.Connection) -> list[LedgerRow]:
    """Every ledger row, oldest first; [] when the ledger does not exist yet."""
    if not sa.inspect(connection).has_table(TABLE):
        return []
    result = connection.execute(sa.select(migrations_table).order_by(
        migrations_table.c.applied_at, migrations_table.c.revision))
    return [LedgerRow(**row._mapping) for row in result]


def connect_ledger(settings: Settings, autocommit: bool = False) -> sa.Connection:
    """The ledger database (schema_migrations, the advisory lock); errors name the store whose
    database it is (or "ledger" for a database of its own) and what to set when it is unset."""
    home = ledger_home()
    dsn = settings.ledger_dsn
    if not dsn:
        hint = f"{home.setup_hint} or {LEDGER_VARIABLE}" if home else f"set {LEDGER_VARIABLE}"
        raise StoreUnavailable(f"ledger: no database configured: {hint}")
    owner = home.name if home and same_database(home.database_url(settings), dsn) else "ledger"
    return sql.connect(dsn, owner, autocommit=autocommit)
