"""The store registry. Adding a store means one folder beside these and one line here."""

from __future__ import annotations

from polyalembic.stores.base import StoreSpec

STORES: dict[str, StoreSpec] = {
    spec.name: spec
    for spec in (
        StoreSpec("postgres", "sql", ".sql", "polyalembic.stores.postgres", "PostgreSQL",
                  ("POSTGRES_DSN",), "POSTGRES_DSN"),
        StoreSpec("timescaledb", "sql", ".sql", "polyalembic.stores.timescaledb", "TimescaleDB",
                  ("TIMESCALE_DSN",), "TIMESCALE_DSN"),
        StoreSpec("neo4j", "cypher", ".cql", "polyalembic.stores.neo4j", "Neo4j",
                  ("NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD", "NEO4J_DATABASE")),
        StoreSpec("chromadb", "python", None, "polyalembic.stores.chromadb", "ChromaDB",
                  ("CHROMA_HOST", "CHROMA_PORT", "CHROMA_PATH")),
    )
}


def get_store(name: str) -> StoreSpec:
    """The spec of store ``name``; a clear error naming the known stores otherwise."""
    try:
        return STORES[name]
    except KeyError:
        from polyalembic.errors import PolyalembicError

        raise PolyalembicError(f"unknown store {name!r} (known: {', '.join(STORES)})") from None


def register_all_ops() -> None:
    """Import every store's ``ops`` and ``impl`` so ``op.<name>`` works in revision files."""
    for spec in STORES.values():
        spec.module("ops")
        spec.module("impl")


__all__ = ["STORES", "StoreSpec", "get_store", "register_all_ops"]
