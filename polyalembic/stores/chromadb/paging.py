"""Reading a collection page by page: the raw client's requests, memory bounded by one page.

A copy (``rebuild_collection``) or an update (``backfill_collection_metadata``) is bound by the
server's writes (HNSW insertion for a copy), and each write costs the server a fixed share on top
of its records (the log and index segments it flushes per request). So a copy pages like a raw
loop: ``get_max_batch_size()`` records (5,461) while a page holds at most ``PAGE_FLOATS``
embedding values (384 dimensions: the server's maximum; 1536: 1,365 records).
Smaller pages were tried and cost the server more CPU for the same copy (bench/README.md).

What the client holds stays one page, whatever the collection's size:

- chromadb's HTTP client (httpx 0.28) leaves every response in a reference cycle, so a page's
  JSON body (22 MB for 5,461 × 384, twice: bytes and text) and its upsert's request body were
  freed only by Python's full cyclic collections, every several pages: a raw loop's peak RSS
  grows with the collection (331 MB copying 20,000 records, 527 MB copying 60,000, in-process).
  A copy calls ``release_responses`` after each page (268 / 289 MB), and pins glibc's mmap
  threshold (``glibc.py``: 262 MB at 60,000, the first page's peak);
- a page carrying embeddings is read after the previous one is written, not during: reading
  ahead held a second page (+80 MB at 5,461 × 384) to hide reads that are 5–7 % of a copy.
  Pages without embeddings (a backfill's ids, a re-embedding copy's documents) are small and
  are read ahead, in a thread, while the caller writes the previous one.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from functools import partial
from typing import Any

# embedding values per page: the server's maximum batch (5,461) of 384 dimensions; 1,365 of 1536
PAGE_FLOATS = 2 * 1024 * 1024


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


def release_responses() -> None:
    """Free the HTTP bodies of the requests just made, now rather than whenever Python gets to it.

    httpx (0.28, under chromadb's ``HttpClient``) links each ``Response`` and its stream to each
    other (encode/httpx#3733), so a response, its body, its decoded text and its request's body
    outlive the call until the cyclic collector's next full collection; those come every several
    pages of a copy, so the bodies of several pages pile up. One full collection per page costs
    30–60 ms in a migration's process, against seconds of server time to index the page.
    """
    gc.collect()


def _fetch(collection: Any, include: Sequence[str], offset: int, limit: int) -> dict[str, Any]:
    return collection.get(include=list(include), limit=limit, offset=offset)


def pages(collection: Any, include: Sequence[str], size: int, total: int, *,
          release: bool = False) -> Iterator[dict[str, Any]]:
    """The pages of ``collection`` from offset 0 until ``total`` records were read (or a page comes
    back empty). Pages without embeddings are fetched while the caller handles the previous one;
    with ``release`` (a copy, whose writes carry embeddings), each page's requests are released
    once the caller is done with it. A failed read is raised by the ``next()`` that asks for its
    page, so the caller's step names it."""
    with ExitStack() as stack:
        reader = None
        if "embeddings" not in include:
            reader = stack.enter_context(ThreadPoolExecutor(max_workers=1,
                                                            thread_name_prefix="polyalembic-chroma-read"))

        def ask(offset: int) -> Callable[[], dict[str, Any]]:
            if reader is None:
                return partial(_fetch, collection, include, offset, size)
            return reader.submit(_fetch, collection, include, offset, size).result

        offset = 0
        pending: Callable[[], dict[str, Any]] | None = ask(offset)
        while pending is not None:
            page = pending()
            count = len(page["ids"])
            if not count:
                return
            offset += count
            pending = ask(offset) if offset < total else None
            try:
                yield page
            finally:
                del page  # the caller's reference is the only one while the next page is read
                if release:
                    release_responses()
