"""Opening SQL connections (the ledger's, and the SQL stores') with clear, masked errors."""

from __future__ import annotations

from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from polyalembic.dsn import sqlalchemy_url
from polyalembic.errors import StoreUnavailable
from polyalembic.masking import mask_dsn, mask_text

if TYPE_CHECKING:
    from polyalembic.settings import Settings


def make_engine(dsn: str) -> sa.Engine:
    """An engine without a pool (a migration run opens few connections and must close them).
    Sessions are left as the server and the role configure them (search_path included)."""
    return sa.create_engine(sqlalchemy_url(dsn), poolclass=NullPool, connect_args={"connect_timeout": 10})


def connect(dsn: str, what: str, autocommit: bool = False) -> sa.Connection:
    """Connect, or raise StoreUnavailable naming ``what`` (a store, the ledger) and the masked DSN."""
    engine = make_engine(dsn)
    if autocommit:
        engine = engine.execution_options(isolation_level="AUTOCOMMIT")
    try:
        return engine.connect()
    except sa.exc.DBAPIError as exc:
        reason = mask_text(str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc))
        raise StoreUnavailable(f"{what}: cannot connect to {mask_dsn(dsn)}: {reason}") from None


def connect_ledger(settings: Settings, autocommit: bool = False) -> sa.Connection:
    """The ledger database (schema_migrations, the advisory lock); errors name the store whose
    database it is (or "ledger" for a database of its own) and what to set when it is unset."""
    from polyalembic.dsn import same_database
    from polyalembic.settings import LEDGER_VARIABLE
    from polyalembic.stores import ledger_home

    home = ledger_home()
    dsn = settings.ledger_dsn
    if not dsn:
        hint = f"{home.setup_hint} or {LEDGER_VARIABLE}" if home else f"set {LEDGER_VARIABLE}"
        raise StoreUnavailable(f"ledger: no database configured: {hint}")
    owner = home.name if home and same_database(home.database_url(settings), dsn) else "ledger"
    return connect(dsn, owner, autocommit=autocommit)
