"""Opening SQL connections (PostgreSQL, TimescaleDB) with clear, masked errors."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from polyalembic.errors import StoreUnavailable
from polyalembic.settings import mask_dsn, mask_text, sqlalchemy_url


def make_engine(dsn: str) -> sa.Engine:
    """An engine without a pool (a migration run opens few connections and must close them).
    Sessions are left as the server and the role configure them (search_path included)."""
    return sa.create_engine(sqlalchemy_url(dsn), poolclass=NullPool, connect_args={"connect_timeout": 10})


def connect(dsn: str | None, store: str, autocommit: bool = False) -> sa.Connection:
    """Connect to a SQL store, or raise StoreUnavailable naming the store and the masked DSN."""
    if not dsn:
        raise StoreUnavailable(f"{store}: no DSN configured (set {dsn_variable(store)})")
    engine = make_engine(dsn)
    if autocommit:
        engine = engine.execution_options(isolation_level="AUTOCOMMIT")
    try:
        return engine.connect()
    except sa.exc.DBAPIError as exc:
        reason = mask_text(str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc))
        raise StoreUnavailable(f"{store}: cannot connect to {mask_dsn(dsn)}: {reason}") from None


def connect_ledger(dsn: str | None, autocommit: bool = False) -> sa.Connection:
    """The ledger database (schema_migrations, the advisory lock); clear error when unset."""
    if not dsn:
        raise StoreUnavailable("ledger: no database configured: set POSTGRES_DSN or TIMESCALE_DSN "
                               "(or start the local stack: make services-up)")
    return connect(dsn, "postgres", autocommit=autocommit)


def dsn_variable(store: str) -> str:
    """The variable to set for ``store``'s DSN (postgres falls back to TIMESCALE_DSN)."""
    from polyalembic.stores import STORES

    spec = STORES.get(store)
    if store == "postgres":
        return "POSTGRES_DSN or TIMESCALE_DSN"
    return spec.dsn_variable if spec and spec.dsn_variable else "POLYALEMBIC_LEDGER_DSN"


def connector(store: str) -> tuple[object, object, object]:
    """``connect(settings)``, ``close(connection)`` and ``describe(settings)`` of a SQL store's
    connection module."""

    def connect_store(settings: object) -> sa.Connection:
        return connect(settings.dsn_for(store), store)  # type: ignore[attr-defined]

    def close_store(connection: sa.Connection) -> None:
        connection.close()

    def describe_store(settings: object) -> str:
        return mask_dsn(settings.dsn_for(store)) or "(not configured)"  # type: ignore[attr-defined]

    return connect_store, close_store, describe_store
