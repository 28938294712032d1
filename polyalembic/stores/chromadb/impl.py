"""Executes the ChromaDB ops with the client, or prints a readable plan under ``--sql``."""

from __future__ import annotations

from typing import Any

from alembic.operations import Operations

from polyalembic.run import Run, run_of
from polyalembic.stores.chromadb.introspect import collection_names
from polyalembic.stores.chromadb.ops import (
    IMMUTABLE_HNSW,
    BackfillMetadataOp,
    ChromaOp,
    CreateCollectionOp,
    DeleteCollectionOp,
    ModifyCollectionOp,
    RebuildCollectionOp,
    RunChromaOp,
)


def render(plan: str) -> str:
    """A plan line as a comment of the ``--sql`` output."""
    return f"-- [chromadb] {plan}"


def batch_size(client: Any, requested: int | None) -> int:
    """The batch size to use: the requested one, capped at the server's maximum."""
    limit = int(client.get_max_batch_size())
    return max(1, min(requested or limit, limit))


def get(client: Any, name: str) -> Any:
    return client.get_collection(name, embedding_function=None)


def create(client: Any, op: CreateCollectionOp) -> None:
    """Create, or accept an existing collection whose immutable settings match (rerun safety)."""
    if op.name in collection_names(client):
        existing = (get(client, op.name).configuration or {}).get("hnsw") or {}
        wanted = op.configuration.get("hnsw") or {}
        clash = {k: (existing.get(k), v) for k, v in wanted.items()
                 if k in IMMUTABLE_HNSW and existing.get(k) != v}
        if clash:
            detail = ", ".join(f"{k} is {old!r}, wanted {new!r}" for k, (old, new) in clash.items())
            raise ValueError(f"collection {op.name!r} exists with other settings ({detail}): "
                             "use op.rebuild_collection")
        return
    client.create_collection(op.name, configuration=op.configuration or None, metadata=op.metadata,
                             embedding_function=None)


def modify(client: Any, op: ModifyCollectionOp) -> None:
    kwargs: dict[str, Any] = {}
    if op.new_name:
        kwargs["name"] = op.new_name
    if op.metadata is not None:
        kwargs["metadata"] = op.metadata
    if op.hnsw:
        kwargs["configuration"] = {"hnsw": op.hnsw}
    get(client, op.name).modify(**kwargs)


def _page(collection: Any, offset: int, limit: int) -> dict[str, Any]:
    return collection.get(include=["embeddings", "documents", "metadatas"], limit=limit, offset=offset)


def _upsert(target: Any, page: dict[str, Any], embeddings: Any) -> None:
    kwargs: dict[str, Any] = {"ids": page["ids"], "embeddings": embeddings}
    for key in ("documents", "metadatas"):
        values = page.get(key)
        if values is not None and any(v is not None for v in values):
            kwargs[key] = values
    target.upsert(**kwargs)


def rebuild(client: Any, op: RebuildCollectionOp, run: Run) -> None:
    """Copy into ``<name>__rebuild`` with the new settings, verify the count, then swap names.

    A rerun after a failure between deleting the original and the rename (the staging copy was
    complete: its count had matched) finishes the swap.
    """
    names = collection_names(client)
    if op.name not in names and op.staging_name in names:
        with run.step(f"rebuild {op.name}: finish the interrupted swap of {op.staging_name}"):
            get(client, op.staging_name).modify(name=op.name)
        return
    source = get(client, op.name)
    if op.staging_name in names:
        client.delete_collection(op.staging_name)  # leftover of an interrupted rebuild
    target = client.create_collection(op.staging_name, configuration=op.configuration,
                                      metadata=op.metadata or source.metadata, embedding_function=None)
    total, size, offset = source.count(), batch_size(client, op.batch_size), 0
    while offset < total:
        with run.step(f"rebuild {op.name}: copy records {offset}..{offset + size}"):
            page = _page(source, offset, size)
            if not page["ids"]:
                break
            embeddings = op.embed(page["documents"], page["metadatas"]) if op.embed else page["embeddings"]
            _upsert(target, page, embeddings)
            offset += len(page["ids"])
    copied = target.count()
    if copied != total:
        raise RuntimeError(f"rebuild of {op.name!r} copied {copied} of {total} records; "
                           f"the original is untouched and {op.staging_name!r} holds the partial copy")
    with run.step(f"rebuild {op.name}: swap {op.staging_name} into place"):
        client.delete_collection(op.name)
        target.modify(name=op.name)


def backfill(client: Any, op: BackfillMetadataOp, run: Run) -> None:
    """Update metadata of every record, one batch at a time (``update`` merges keys)."""
    collection = get(client, op.name)
    total, size, offset = collection.count(), batch_size(client, op.batch_size), 0
    while offset < total:
        with run.step(f"backfill {op.name}: records {offset}..{offset + size}"):
            page = collection.get(include=["metadatas", "documents"], limit=size, offset=offset)
            ids, metadatas = [], []
            for rid, meta, doc in zip(page["ids"], page["metadatas"], page["documents"], strict=True):
                if op.remove:
                    new = dict.fromkeys(op.keys)
                else:
                    new = dict(op.values or {})
                    if op.compute:
                        computed = op.compute(rid, meta, doc)
                        if computed is None:
                            continue
                        new.update(computed)
                ids.append(rid)
                metadatas.append(new)
            if ids:
                collection.update(ids=ids, metadatas=metadatas)
            if not page["ids"]:
                break
            offset += len(page["ids"])


@Operations.implementation_for(ChromaOp)
def run_chroma_op(operations: Operations, operation: ChromaOp) -> None:
    ctx = operations.migration_context
    if ctx.as_sql:
        ctx.impl.static_output(render(operation.plan()))
        return
    run = run_of(operations)
    client = run.connections.get("chromadb")

    def apply() -> None:
        if isinstance(operation, CreateCollectionOp):
            create(client, operation)
        elif isinstance(operation, DeleteCollectionOp):
            if operation.name in collection_names(client):
                client.delete_collection(operation.name)
        elif isinstance(operation, ModifyCollectionOp):
            modify(client, operation)
        elif isinstance(operation, RebuildCollectionOp):
            rebuild(client, operation, run)
        elif isinstance(operation, BackfillMetadataOp):
            backfill(client, operation, run)
        elif isinstance(operation, RunChromaOp):
            operation.fn(client)
        else:
            raise TypeError(f"no implementation for {type(operation).__name__}")

    run.checkpoint(operation.plan(), apply)  # every Chroma op commits on its own
