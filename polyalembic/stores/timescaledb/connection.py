"""The TimescaleDB store's connection: a SQLAlchemy connection on TIMESCALE_DSN, checked for the
timescaledb extension (a missing extension is a clear error before anything runs)."""

from __future__ import annotations

import sqlalchemy as sa

from polyalembic.errors import StoreUnavailable
from polyalembic.settings import Settings, mask_dsn
from polyalembic.sql import connector

_connect, close, describe = connector("timescaledb")


def verify(connection: sa.Connection, settings: Settings) -> None:
    """StoreUnavailable unless the timescaledb extension is installed in this database."""
    in_transaction = connection.in_transaction()
    version = connection.execute(sa.text(
        "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")).scalar()
    if not in_transaction:
        connection.rollback()
    if version is None:
        raise StoreUnavailable(f"timescaledb: the timescaledb extension is not installed in "
                               f"{mask_dsn(settings.timescale_dsn)}: run CREATE EXTENSION timescaledb")


def connect(settings: Settings) -> sa.Connection:
    connection = _connect(settings)
    try:
        verify(connection, settings)
    except StoreUnavailable:
        connection.close()
        raise
    return connection
