"""ChromaDB ops: create, delete, modify and rebuild collections; backfill metadata; run Python.

Immutable settings (hnsw space, ef_construction, max_neighbors, the dimension, the embedding
model) can't be modified in place: ``rebuild_collection`` copies the records into a new
collection with the new settings, checks the count and swaps the names. Nothing here relies on
Chroma's default embedding function (it downloads a model): collections are created with
``embedding_function=None`` and records always carry their embeddings.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from alembic.operations import MigrateOperation, Operations

# hnsw settings fixed at creation time, and those ``modify`` accepts.
IMMUTABLE_HNSW = ("space", "ef_construction", "max_neighbors")
MUTABLE_HNSW = ("ef_search", "num_threads", "resize_factor", "sync_threshold", "batch_size")

Embed = Callable[[Sequence[str | None], Sequence[Any]], Sequence[Sequence[float]]]


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, default=str)


class ChromaOp(MigrateOperation):
    """Base of the ChromaDB ops; ``plan()`` is the readable line ``--sql`` prints."""

    def plan(self) -> str:
        return type(self).__name__


@Operations.register_operation("create_collection")
class CreateCollectionOp(ChromaOp):
    """Create a collection with an explicit hnsw configuration and metadata."""

    def __init__(self, name: str, configuration: dict[str, Any] | None = None,
                 metadata: dict[str, Any] | None = None) -> None:
        self.name, self.configuration, self.metadata = name, configuration or {}, metadata

    @classmethod
    def create_collection(cls, operations: Operations, name: str, configuration: dict[str, Any] | None = None,
                          metadata: dict[str, Any] | None = None) -> None:
        """Create collection ``name``; e.g. ``configuration={"hnsw": {"space": "cosine"}}``."""
        return operations.invoke(cls(name, configuration, metadata))

    def plan(self) -> str:
        return (f"create collection {self.name!r} configuration={_dump(self.configuration)} "
                f"metadata={_dump(self.metadata)}")

    def reverse(self) -> DeleteCollectionOp:
        return DeleteCollectionOp(self.name, self)


@Operations.register_operation("delete_collection")
class DeleteCollectionOp(ChromaOp):
    """Delete a collection (if it exists) and its records."""

    def __init__(self, name: str, original: CreateCollectionOp | None = None) -> None:
        self.name, self.original = name, original

    @classmethod
    def delete_collection(cls, operations: Operations, name: str, configuration: dict[str, Any] | None = None,
                          metadata: dict[str, Any] | None = None) -> None:
        """Delete ``name``; pass its configuration/metadata to make the op reversible."""
        original = CreateCollectionOp(name, configuration, metadata) if configuration is not None else None
        return operations.invoke(cls(name, original))

    def plan(self) -> str:
        return f"delete collection {self.name!r}"

    def reverse(self) -> CreateCollectionOp:
        if self.original is None:
            raise ValueError(f"deleting collection {self.name} can't be reversed without its configuration")
        return self.original


@Operations.register_operation("modify_collection")
class ModifyCollectionOp(ChromaOp):
    """Rename a collection, replace its metadata, or change its mutable hnsw settings."""

    def __init__(self, name: str, new_name: str | None = None, metadata: dict[str, Any] | None = None,
                 hnsw: dict[str, Any] | None = None, previous_metadata: dict[str, Any] | None = None,
                 previous_hnsw: dict[str, Any] | None = None) -> None:
        self.name, self.new_name, self.metadata, self.hnsw = name, new_name, metadata, hnsw or {}
        self.previous_metadata, self.previous_hnsw = previous_metadata, previous_hnsw or {}
        immutable = sorted(set(self.hnsw) - set(MUTABLE_HNSW))
        if immutable:
            raise ValueError(f"hnsw {', '.join(immutable)} can't be modified in place: "
                             f"use op.rebuild_collection({name!r}, configuration=...)")
        if metadata is not None and not metadata:
            raise ValueError("ChromaDB rejects empty metadata: pass at least one key")

    @classmethod
    def modify_collection(cls, operations: Operations, name: str, new_name: str | None = None,
                          metadata: dict[str, Any] | None = None, hnsw: dict[str, Any] | None = None,
                          previous_metadata: dict[str, Any] | None = None,
                          previous_hnsw: dict[str, Any] | None = None) -> None:
        """Modify ``name``; give ``previous_*`` values so that the op can be reversed."""
        return operations.invoke(cls(name, new_name, metadata, hnsw, previous_metadata, previous_hnsw))

    def plan(self) -> str:
        parts = [f"modify collection {self.name!r}"]
        if self.new_name:
            parts.append(f"rename to {self.new_name!r}")
        if self.metadata is not None:
            parts.append(f"metadata={_dump(self.metadata)}")
        if self.hnsw:
            parts.append(f"hnsw={_dump(self.hnsw)}")
        return " ".join(parts)

    def reverse(self) -> ModifyCollectionOp:
        if self.metadata is not None and self.previous_metadata is None:
            raise ValueError(f"modify_collection({self.name!r}) needs previous_metadata to be reversed")
        if set(self.hnsw) - set(self.previous_hnsw):
            raise ValueError(f"modify_collection({self.name!r}) needs previous_hnsw to be reversed")
        return ModifyCollectionOp(self.new_name or self.name, self.name if self.new_name else None,
                                  self.previous_metadata if self.metadata is not None else None,
                                  self.previous_hnsw, self.metadata, self.hnsw)


@Operations.register_operation("rebuild_collection")
class RebuildCollectionOp(ChromaOp):
    """Rebuild a collection with new immutable settings: batched upsert copy, count check, swap.

    ``embed(documents, metadatas) -> embeddings`` re-embeds each batch (a new embedding model or
    dimension); without it the stored embeddings are copied as they are.
    """

    def __init__(self, name: str, configuration: dict[str, Any], metadata: dict[str, Any] | None = None,
                 embed: Embed | None = None, batch_size: int | None = None,
                 previous_configuration: dict[str, Any] | None = None,
                 previous_embed: Embed | None = None, previous_metadata: dict[str, Any] | None = None) -> None:
        self.name, self.configuration, self.metadata = name, configuration, metadata
        self.embed, self.batch_size = embed, batch_size
        self.previous_configuration, self.previous_embed = previous_configuration, previous_embed
        self.previous_metadata = previous_metadata

    @classmethod
    def rebuild_collection(cls, operations: Operations, name: str, configuration: dict[str, Any],
                           metadata: dict[str, Any] | None = None, embed: Embed | None = None,
                           batch_size: int | None = None, previous_configuration: dict[str, Any] | None = None,
                           previous_embed: Embed | None = None,
                           previous_metadata: dict[str, Any] | None = None) -> None:
        """Rebuild ``name`` with ``configuration``; ``previous_configuration`` makes it reversible
        (and ``previous_metadata`` too, when ``metadata`` replaces the collection's metadata)."""
        return operations.invoke(cls(name, configuration, metadata, embed, batch_size,
                                     previous_configuration, previous_embed, previous_metadata))

    @property
    def staging_name(self) -> str:
        return f"{self.name}__rebuild"

    def plan(self) -> str:
        how = "re-embedding each batch" if self.embed else "copying embeddings"
        return (f"rebuild collection {self.name!r} with configuration={_dump(self.configuration)}: "
                f"create {self.staging_name!r}, upsert every record in batches ({how}), check counts, "
                f"delete {self.name!r}, rename {self.staging_name!r} to {self.name!r}")

    def reverse(self) -> RebuildCollectionOp:
        if self.previous_configuration is None:
            raise ValueError(f"rebuild_collection({self.name!r}) needs previous_configuration to be reversed")
        if self.metadata is not None and self.previous_metadata is None:
            raise ValueError(f"rebuild_collection({self.name!r}) needs previous_metadata to be reversed")
        return RebuildCollectionOp(self.name, self.previous_configuration, self.previous_metadata,
                                   self.previous_embed, self.batch_size, self.configuration, self.embed,
                                   self.metadata)


@Operations.register_operation("backfill_collection_metadata")
class BackfillMetadataOp(ChromaOp):
    """Set metadata keys on existing records in batches (``update`` merges keys).

    ``values`` sets the same keys everywhere; ``compute(id, metadata, document)`` returns the keys
    to set per record (or None to skip it). The reverse removes ``keys`` (default: values' keys).
    """

    def __init__(self, name: str, values: dict[str, Any] | None = None,
                 compute: Callable[[str, dict[str, Any] | None, str | None], dict[str, Any] | None] | None = None,
                 keys: Sequence[str] | None = None, batch_size: int | None = None, remove: bool = False) -> None:
        if values is None and compute is None and not remove:
            raise ValueError("backfill_collection_metadata needs values= or compute=")
        self.name, self.values, self.compute = name, values, compute
        self.keys = list(keys) if keys is not None else list(values or {})
        self.batch_size, self.remove = batch_size, remove

    @classmethod
    def backfill_collection_metadata(cls, operations: Operations, name: str, values: dict[str, Any] | None = None,
                                     compute: Callable[..., dict[str, Any] | None] | None = None,
                                     keys: Sequence[str] | None = None, batch_size: int | None = None) -> None:
        """Backfill metadata of every record of ``name``."""
        return operations.invoke(cls(name, values, compute, keys, batch_size))

    def plan(self) -> str:
        if self.remove:
            return f"remove metadata keys {self.keys} from every record of {self.name!r} in batches"
        what = _dump(self.values) if self.values is not None else "computed values"
        return f"backfill metadata of every record of {self.name!r} with {what} in batches"

    def reverse(self) -> BackfillMetadataOp:
        if self.remove:
            raise ValueError("removing metadata keys can't be reversed")
        if not self.keys:
            raise ValueError("backfill_collection_metadata needs keys= to be reversed")
        return BackfillMetadataOp(self.name, keys=self.keys, batch_size=self.batch_size, remove=True)


@Operations.register_operation("run_chroma")
class RunChromaOp(ChromaOp):
    """Call ``fn(client)`` with the ChromaDB client: the seed's ``upgrade(client)`` style."""

    def __init__(self, fn: Callable[[Any], None], reverse_fn: Callable[[Any], None] | None = None,
                 description: str | None = None) -> None:
        self.fn, self.reverse_fn = fn, reverse_fn
        self.description = description or (fn.__doc__ or fn.__name__).strip().splitlines()[0]

    @classmethod
    def run_chroma(cls, operations: Operations, fn: Callable[[Any], None],
                   reverse_fn: Callable[[Any], None] | None = None, description: str | None = None) -> None:
        """Run ``fn(client)`` against the ChromaDB store."""
        return operations.invoke(cls(fn, reverse_fn, description))

    def plan(self) -> str:
        return f"run python {self.fn.__module__}.{self.fn.__qualname__}(client): {self.description}"

    def reverse(self) -> RunChromaOp:
        if self.reverse_fn is None:
            raise ValueError("run_chroma needs reverse_fn to be reversed")
        return RunChromaOp(self.reverse_fn, self.fn)
