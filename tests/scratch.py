"""Disposable state for tests and benchmarks: new PostgreSQL databases (with the timescaledb
extension where asked) and emptied stores (with each store's own ``drop_all``, the one
`polyalembic fresh` uses)."""

from __future__ import annotations

import secrets

import psycopg

from polyalembic.connections import StoreConnections
from polyalembic.dsn import libpq_dsn
from polyalembic.settings import Settings
from polyalembic.stores import get_store

SHARED_STORES = ("neo4j", "chromadb")


def create_database(admin_dsn: str, prefix: str = "scratch", extensions: tuple[str, ...] = ()) -> str:
    """Create ``<prefix>_<random>`` on the server of ``admin_dsn`` with ``extensions``; return its DSN."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(libpq_dsn(admin_dsn), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = admin_dsn.rsplit("/", 1)[0] + f"/{name}"
    if extensions:
        with psycopg.connect(libpq_dsn(dsn), autocommit=True) as conn:
            for extension in extensions:
                conn.execute(f'CREATE EXTENSION IF NOT EXISTS "{extension}"')
    return dsn


def drop_database(admin_dsn: str, dsn: str) -> None:
    """Drop the database ``dsn`` names (connections to it are closed first)."""
    name = dsn.rsplit("/", 1)[1]
    with psycopg.connect(libpq_dsn(admin_dsn), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def reset_stores(settings: Settings, stores: tuple[str, ...] = SHARED_STORES) -> None:
    """Empty ``stores`` (everything in them: point this only at disposable servers)."""
    with StoreConnections(settings) as connections:
        for store in stores:
            get_store(store).drop_all(connections.get(store))
