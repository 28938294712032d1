"""Disposable state for tests and benchmarks: new PostgreSQL databases (with the timescaledb
extension where asked; the pytest plugin's, polyalembic/testing/disposable.py) and emptied stores
(with each store's own ``drop_all``, the one `polyalembic fresh` uses, and what that keeps on
purpose: neo4j-migrations' history, which one test's CLI run would otherwise leave to the next)."""

from __future__ import annotations

from polyalembic.settings import Settings
from polyalembic.stores import get_store
from polyalembic.stores.connections import StoreConnections
from polyalembic.stores.neo4j import n4m
from polyalembic.stores.postgres.databases import create_database, drop_database

SHARED_STORES = ("neo4j", "chromadb")


def reset_stores(settings: Settings, stores: tuple[str, ...] = SHARED_STORES) -> None:
    """Empty ``stores`` (everything in them: point this only at disposable servers)."""
    with StoreConnections(settings) as connections:
        for store in stores:
            get_store(store).drop_all(connections.get(store))
            if store == "neo4j":
                n4m.drop_history(connections.get(store))


__all__ = ["create_database", "drop_database", "reset_stores"]
