"""Executes the ChromaDB ops with the client, or prints a readable plan under ``--sql``."""

from __future__ import annotations

from contextlib import closing
from typing import Any

from alembic.operations import Operations

from polyalembic.stores.chromadb import glibc, paging
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
from polyalembic.stores.current_run import Run, run_of


def render(plan: str) -> str:
    """A plan line as a comment of the ``--sql`` output."""
    return f"-- [chromadb] {plan}"


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
    """Modify, or finish a modification whose rename already committed (rerun safety)."""
    kwargs: dict[str, Any] = {}
    name = op.name
    if op.new_name:
        names = collection_names(client)
        if op.name not in names and op.new_name in names:
            name = op.new_name  # renamed before the interruption: set what else it sets
        else:
            kwargs["name"] = op.new_name
    if op.metadata is not None:
        kwargs["metadata"] = op.metadata
    if op.hnsw:
        kwargs["configuration"] = {"hnsw": op.hnsw}
    if kwargs:
        get(client, name).modify(**kwargs)


def _upsert(target: Any, page: dict[str, Any], embeddings: Any) -> None:
    kwargs: dict[str, Any] = {"ids": page["ids"], "embeddings": embeddings}
    for key in ("documents", "metadatas"):
        values = page.get(key)
        if values is not None and any(v is not None for v in values):
            kwargs[key] = values
    target.upsert(**kwargs)


def rebuild(client: Any, op: RebuildCollectionOp, run: Run) -> None:
    """Copy into ``<name>__rebuild`` with the new settings, verify the count, then swap names.

    The copy pages like a raw client loop (``paging``: the server's maximum batch, fewer records
    for wide embeddings) and frees each page's HTTP bodies before the next (in their own mappings
    under glibc), so it asks the server the raw loop's work in memory that does not grow with the
    collection. A rerun after a failure
    between deleting the original and the rename (the staging copy was complete: its count had
    matched) finishes the swap.
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
    total = source.count()
    glibc.pin_mmap_threshold()  # the pages' bodies in their own mappings, returned when freed
    size = paging.page_size(client, op.batch_size, None if op.batch_size else paging.dimension(source))
    # re-embedding needs the documents and metadatas only: the old embeddings are not read
    include = ["documents", "metadatas"] if op.embed else ["embeddings", "documents", "metadatas"]
    offset = 0
    with closing(paging.pages(source, include, size, total, release=True)) as reader, \
            run.progress(f"rebuild {op.name}", total, "records") as progress:
        while offset < total:
            with run.step(f"rebuild {op.name}: copy records {offset}..{offset + size}"):
                page = next(reader, None)
                if page is None:
                    break
                embeddings = op.embed(page["documents"], page["metadatas"]) if op.embed else page["embeddings"]
                _upsert(target, page, embeddings)
                offset += len(page["ids"])
                progress.advance(len(page["ids"]))
                del page, embeddings  # the page is released before the next one is read
    copied = target.count()
    if copied != total:
        raise RuntimeError(f"rebuild of {op.name!r} copied {copied} of {total} records; "
                           f"the original is untouched and {op.staging_name!r} holds the partial copy")
    with run.step(f"rebuild {op.name}: swap {op.staging_name} into place"):
        client.delete_collection(op.name)
        target.modify(name=op.name)


def _new_metadata(op: BackfillMetadataOp, rid: str, meta: dict[str, Any] | None,
                  doc: str | None) -> dict[str, Any] | None:
    """The keys to set on one record (None: leave it alone)."""
    if op.remove:
        return dict.fromkeys(op.keys)
    new = dict(op.values or {})
    if op.compute:
        computed = op.compute(rid, meta, doc)
        if computed is None:
            return None
        new.update(computed)
    return new


def backfill(client: Any, op: BackfillMetadataOp, run: Run) -> None:
    """Update metadata of every record, one page at a time (``update`` merges keys); the next
    page is read while the current one is written. Only ``compute`` needs the records' metadatas
    and documents: otherwise a page is its ids (embeddings are never read)."""
    collection = get(client, op.name)
    total, size, offset = collection.count(), paging.page_size(client, op.batch_size), 0
    include = ["metadatas", "documents"] if op.compute else []
    with closing(paging.pages(collection, include, size, total)) as reader, \
            run.progress(f"backfill {op.name}", total, "records") as progress:
        while offset < total:
            with run.step(f"backfill {op.name}: records {offset}..{offset + size}"):
                page = next(reader, None)
                if page is None:
                    break
                unread = [None] * len(page["ids"])
                ids, metadatas = [], []
                for rid, meta, doc in zip(page["ids"], page["metadatas"] or unread, page["documents"] or unread,
                                          strict=True):
                    new = _new_metadata(op, rid, meta, doc)
                    if new is not None:
                        ids.append(rid)
                        metadatas.append(new)
                if ids:
                    collection.update(ids=ids, metadatas=metadatas)
                offset += len(page["ids"])
                progress.advance(len(page["ids"]))
                del page


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

    # every Chroma op commits on its own, and Chroma has no transaction to carry a marker: the
    # ops above are safe to run again (keyed by name and record id, upserts, a rebuild that
    # finishes an interrupted swap); a user's function or computed backfill may not be
    unsure = ("a run_chroma function: Chroma has no transactions" if isinstance(operation, RunChromaOp) else
              "a computed backfill may read what the interrupted one wrote"
              if isinstance(operation, BackfillMetadataOp) and operation.compute else None)
    run.checkpoint(operation.plan(), apply, unsure=unsure)
