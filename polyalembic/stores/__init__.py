"""The store registry. Adding a store means one folder beside these and one line here.

Order matters twice: the status table lists stores in this order, and the ledger lives in the
first transactional store's database (PostgreSQL's) unless POLYALEMBIC_LEDGER_DSN says otherwise.
"""

from __future__ import annotations

from polyalembic.stores.chromadb.store import ChromaStore
from polyalembic.stores.contract import Store
from polyalembic.stores.neo4j.store import Neo4jStore
from polyalembic.stores.postgres.store import PostgresStore
from polyalembic.stores.timescaledb.store import TimescaleStore

STORES: dict[str, Store] = {
    store.name: store
    for store in (
        PostgresStore(),
        TimescaleStore(),
        Neo4jStore(),
        ChromaStore(),
    )
}


def get_store(name: str) -> Store:
    """The store ``name``; a clear error naming the known stores otherwise."""
    try:
        return STORES[name]
    except KeyError:
        from polyalembic.errors import PolyalembicError

        raise PolyalembicError(f"unknown store {name!r} (known: {', '.join(STORES)})") from None


def ledger_home() -> Store | None:
    """The store whose database holds the ledger by default: the first transactional one (a SQL
    database the ledger's rows can commit in)."""
    return next((store for store in STORES.values() if store.transactional), None)


def register_all_ops() -> None:
    """Import every store's ops and implementations so ``op.<name>`` works in revision files."""
    for store in STORES.values():
        store.register_ops()


def pair_ops() -> dict[str, str]:
    """Pair file suffix -> the op that runs such a file, over every registered store."""
    return {store.pair_suffix: store.pair_op for store in STORES.values() if store.pair_suffix and store.pair_op}


__all__ = ["STORES", "Store", "get_store", "ledger_home", "pair_ops", "register_all_ops"]
