"""The store registry: the four built-in stores, and any other a package registers.

A store written elsewhere is a package of its own that names its ``Store`` class (or instance)
under the ``polyalembic.stores`` entry-point group; its entry points are read only when a
revision (or a caller) names a store the built-in registry lacks, so no command that touches
only the built-in stores pays for scanning the installed packages. ``register`` adds a store by
hand (an app's own, or a test's). ``polyalembic.testing.conformance`` is the suite every store
passes.

Order matters twice: the status table lists stores in this order, and the ledger lives in the
first transactional store's database (PostgreSQL's) unless POLYALEMBIC_LEDGER_DSN says otherwise.

Lazy imports: ``importlib.metadata``, only when a store the built-in registry lacks is named.
"""

from __future__ import annotations

from polyalembic.errors import PolyalembicError
from polyalembic.stores.chromadb.store import ChromaStore
from polyalembic.stores.contract import Store
from polyalembic.stores.neo4j.store import Neo4jStore
from polyalembic.stores.postgres.store import PostgresStore
from polyalembic.stores.sql.store import SqlStore, is_transactional
from polyalembic.stores.timescaledb.store import TimescaleStore

ENTRY_POINT_GROUP = "polyalembic.stores"

STORES: dict[str, Store] = {
    store.name: store
    for store in (
        PostgresStore(),
        TimescaleStore(),
        Neo4jStore(),
        ChromaStore(),
    )
}
_loaded = {"entry points": False, "ops": False}


def register(store: Store) -> Store:
    """Add ``store`` to the registry (after the built-in ones); a second store under a name
    already taken by another class is refused."""

    if not isinstance(store, Store):
        raise PolyalembicError(f"register: {store!r} is not a polyalembic.stores.contract.Store")
    taken = STORES.get(store.name)
    if taken is not None and type(taken) is not type(store):
        raise PolyalembicError(f"store {store.name!r} is registered twice: {type(taken).__module__}."
                               f"{type(taken).__qualname__} and {type(store).__module__}.{type(store).__qualname__}")
    STORES[store.name] = store
    if _loaded["ops"]:  # the run already registered every op: this store's come now
        store.register_ops()
    return store


def unregister(name: str) -> None:
    """Remove a store added with ``register`` (a test's); the built-in ones stay."""
    if name not in _BUILT_IN:
        STORES.pop(name, None)


def get_store(name: str) -> Store:
    """The store ``name``; the installed packages' entry points are read the first time a name
    is not registered; a clear error naming the known stores otherwise."""
    store = STORES.get(name)
    if store is None and not _loaded["entry points"]:
        load_entry_points()
        store = STORES.get(name)
    if store is None:
        raise PolyalembicError(f"unknown store {name!r} (known: {', '.join(STORES)})")
    return store


def is_store(name: str) -> bool:
    """True when ``name`` is a registered store, or one an installed package names (then loaded)."""
    if name not in STORES and not _loaded["entry points"]:
        load_entry_points()
    return name in STORES


def load_entry_points() -> None:
    """Register every store the installed packages name under ``polyalembic.stores`` (once)."""
    from importlib.metadata import entry_points

    _loaded["entry points"] = True
    for entry in entry_points(group=ENTRY_POINT_GROUP):
        if entry.name in STORES:
            continue
        try:
            found = entry.load()
        except Exception as exc:  # noqa: BLE001 - a broken plugin is named, whatever it raised
            raise PolyalembicError(f"store {entry.name!r} ({entry.value}, entry point of "
                                   f"{entry.dist.name if entry.dist else 'an installed package'}) "
                                   f"does not load: {type(exc).__name__}: {exc}") from None
        store = found() if isinstance(found, type) else found
        if getattr(store, "name", None) != entry.name:
            raise PolyalembicError(f"entry point {entry.name!r} ({entry.value}) gives a store named "
                                   f"{getattr(store, 'name', None)!r}: the two names must match")
        register(store)


def ledger_home() -> SqlStore | None:
    """The store whose database holds the ledger by default: the first transactional one (a SQL
    database the ledger's rows can commit in)."""
    return next((store for store in STORES.values() if isinstance(store, SqlStore) and is_transactional(store)), None)


def register_all_ops() -> None:
    """Import every store's ops and implementations so ``op.<name>`` works in revision files (a
    store registered later brings its own then)."""
    _loaded["ops"] = True
    for store in list(STORES.values()):
        store.register_ops()


def pair_ops() -> dict[str, str]:
    """Pair file suffix -> the op that runs such a file, over every registered store."""
    return {store.pair_suffix: store.pair_op for store in STORES.values() if store.pair_suffix and store.pair_op}


_BUILT_IN = frozenset(STORES)

__all__ = ["ENTRY_POINT_GROUP", "STORES", "Store", "get_store", "is_store", "ledger_home", "load_entry_points",
           "pair_ops", "register", "register_all_ops", "unregister"]
