"""Reading a collection page by page: memory bounded by the page, reads hidden behind writes.

A copy (``rebuild_collection``) or an update (``backfill_collection_metadata``) is bound by the
server's writes (HNSW insertion for a copy). Two things keep it at the raw client's speed with
flat memory, whatever the collection's size:

- the next page is fetched in a thread while the caller writes the current one, so the reads
  (a tenth of a rebuild's time) cost nothing; at most two pages are held at once;
- a page carrying embeddings holds about ``PAGE_FLOATS`` values, not the server's maximum batch:
  in the client a value exists several times over (JSON text, Python floats, numpy), so a copy
  loop paging 5,461 records × 384 dimensions peaks at ~345 MB, one paging 500 at ~140 MB, and
  both copy as fast (the server's insertion dominates, not the number of requests).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

# embedding values per page (682 records of 384 dimensions, 170 of 1536, 4096 of 64)
PAGE_FLOATS = 256 * 1024


def page_size(client: Any, requested: int | None, dimension: int | None = None) -> int:
    """Records per page: the requested size, else ``PAGE_FLOATS`` values of ``dimension``
    (pages without embeddings: the server's maximum), never above the server's maximum."""
    limit = int(client.get_max_batch_size())
    if requested:
        return max(1, min(requested, limit))
    if dimension:
        return max(1, min(limit, PAGE_FLOATS // dimension))
    return limit


def dimension(collection: Any) -> int | None:
    """The dimension of the collection's embeddings, read from one record (None when empty)."""
    probe = collection.get(limit=1, include=["embeddings"])["embeddings"]
    return len(probe[0]) if probe is not None and len(probe) else None


def _fetch(collection: Any, include: Sequence[str], offset: int, limit: int) -> dict[str, Any]:
    return collection.get(include=list(include), limit=limit, offset=offset)


def pages(collection: Any, include: Sequence[str], size: int, total: int) -> Iterator[dict[str, Any]]:
    """The pages of ``collection`` from offset 0 until ``total`` records were read (or a page comes
    back empty), each fetched while the caller handles the previous one. A failed read is raised
    by the ``next()`` that asks for its page, so the caller's step names it."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="polyalembic-chroma-read") as reader:
        offset = 0
        pending: Future[dict[str, Any]] | None = reader.submit(_fetch, collection, include, offset, size)
        while pending is not None:
            page = pending.result()
            count = len(page["ids"])
            if not count:
                return
            offset += count
            pending = reader.submit(_fetch, collection, include, offset, size) if offset < total else None
            yield page
            del page  # the caller's reference is the only one while the next page is read
