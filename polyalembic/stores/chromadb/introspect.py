"""Reads the live state of the ChromaDB store: collections, their configuration and counts."""

from __future__ import annotations

from typing import Any


def collection_names(client: Any) -> list[str]:
    """Names of every collection (chromadb 1.x returns Collection objects)."""
    return sorted(c.name if hasattr(c, "name") else str(c) for c in client.list_collections())


def collection_info(client: Any, name: str) -> dict[str, Any]:
    """Configuration (hnsw), metadata and record count of collection ``name``."""
    collection = client.get_collection(name, embedding_function=None)
    hnsw = (collection.configuration or {}).get("hnsw") or {}
    return {"hnsw": dict(sorted(hnsw.items())), "metadata": collection.metadata, "count": collection.count()}


def snapshot(client: Any) -> dict[str, Any]:
    """Every collection's declared shape (hnsw configuration and metadata; no record counts)."""
    collections = {}
    for name in collection_names(client):
        info = collection_info(client, name)
        del info["count"]
        collections[name] = info
    return {"collections": collections}
