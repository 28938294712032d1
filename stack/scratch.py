"""Disposable state on the local stack, shared by the tests and the benchmarks: a new PostgreSQL
database per run, and emptied TimescaleDB, Neo4j and ChromaDB stores (with polyalembic's own
reset code, the one `polyalembic fresh` uses)."""

from __future__ import annotations

import secrets

import psycopg

from polyalembic.runner import Runner
from polyalembic.settings import Settings, libpq_dsn
from polyalembic.stores import get_store

SHARED_STORES = ("timescaledb", "neo4j", "chromadb")


def create_database(admin_dsn: str, prefix: str = "scratch") -> str:
    """Create ``<prefix>_<random>`` on the server of ``admin_dsn``; return its DSN."""
    name = f"{prefix}_{secrets.token_hex(4)}"
    with psycopg.connect(libpq_dsn(admin_dsn), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return admin_dsn.rsplit("/", 1)[0] + f"/{name}"


def drop_database(admin_dsn: str, dsn: str) -> None:
    """Drop the database ``dsn`` names (connections to it are closed first)."""
    name = dsn.rsplit("/", 1)[1]
    with psycopg.connect(libpq_dsn(admin_dsn), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def reset_stores(settings: Settings, stores: tuple[str, ...] = SHARED_STORES) -> None:
    """Empty ``stores`` (everything in them: point this only at disposable servers)."""
    runner = Runner(settings)
    try:
        for store in stores:
            handle = runner.connection(store)
            get_store(store).module("reset").drop_all(handle)
            if hasattr(handle, "commit"):
                handle.commit()
    finally:
        runner.close()
