"""Deletes every collection of the ChromaDB store (dev only)."""

from __future__ import annotations

from typing import Any

from polyalembic.stores.chromadb.introspect import collection_names


def drop_all(client: Any) -> list[str]:
    dropped = []
    for name in collection_names(client):
        client.delete_collection(name)
        dropped.append(f"collection {name}")
    return dropped
