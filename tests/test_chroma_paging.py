"""Chroma copies and backfills page by page (issue 11): what the ops really ask the real server,
seen through a recording proxy (``tests/chroma_proxy.py``), and that nothing is lost on the way.

Memory stays flat because a page is bounded (``PAGE_FLOATS`` embedding values for a copy), a
page of embeddings is read only once the previous one is written, and a copy frees each page's
HTTP bodies before the next; a read that fails is recorded against the page's own step.
"""

from __future__ import annotations

import gc

import httpx
import numpy as np
import pytest
from alembic import command

from polyalembic.errors import MigrationFailed
from polyalembic.project import Project
from polyalembic.settings import Settings
from polyalembic.stores.chromadb.introspect import collection_info, collection_names
from polyalembic.stores.chromadb.paging import PAGE_FLOATS
from tests.chroma_proxy import recording_proxy
from tests.support import ledger
from tests.test_ops_chromadb import (
    COSINE,
    REBUILD_L2,
    add_revision,
    assert_same_records,
    chroma,
    create_docs,
    insert,
    records,
)

DIM = 1536
TOTAL = 3_000  # 1536 dimensions: pages of 1,365 records (384 would page by the server's maximum), the third short
PAGE = PAGE_FLOATS // DIM

BACKFILL_IDS_ONLY = '''
    """Set a constant tier on every record of docs, 400 at a time."""
    from alembic import op

    revision = "chromadb_002"
    down_revision = "chromadb_001"
    store = "chromadb"


    def upgrade() -> None:
        op.backfill_collection_metadata("docs", values={"tier": "gold"}, batch_size=400)


    def downgrade() -> None:
        op.backfill_collection_metadata("docs", values={"tier": "none"}, batch_size=400)
'''


def loaded(ops_project: Project, settings: Settings, revision: str, filename: str) -> dict[str, np.ndarray]:
    """docs (cosine, 384 dimensions) holding TOTAL records, ``revision`` pending; id -> embedding."""
    create_docs(ops_project, dim=DIM)
    add_revision(ops_project, filename, revision)
    command.upgrade(ops_project.config(), "chromadb_001")
    embeddings = np.random.default_rng(11).standard_normal((TOTAL, DIM)).astype(np.float32)
    with chroma(settings) as client:
        insert(client, "docs", embeddings)
    return {f"r{i}": embeddings[i] for i in range(TOTAL)}


def through_proxy(project: Project, settings: Settings, port: int) -> Project:
    """The same project, its Chroma requests sent through the proxy on ``port``."""
    return Project(project.config_path, settings=settings.replace(CHROMA_HOST="127.0.0.1", CHROMA_PORT=str(port)))


def test_rebuild_reads_one_bounded_page_at_a_time_and_keeps_every_record(ops_project: Project,
                                                                        settings: Settings) -> None:
    originals = loaded(ops_project, settings, REBUILD_L2, "002_rebuild_l2.py")
    with recording_proxy(settings.env["CHROMA_HOST"], int(settings.env["CHROMA_PORT"])) as (port, traffic):
        command.upgrade(through_proxy(ops_project, settings, port).config(), "head")

    pages = [body for body in traffic.of("get") if body["limit"] != 1]  # limit 1: the dimension probe
    assert [(p["offset"], p["limit"]) for p in pages] == [(0, PAGE), (PAGE, PAGE), (2 * PAGE, PAGE)]
    assert all(sorted(p["include"]) == ["documents", "embeddings", "metadatas"] for p in pages)
    assert traffic.most_in_flight["get"] == 1, "one page is read at a time"
    assert [len(u["ids"]) for u in traffic.of("upsert")] == [PAGE, PAGE, TOTAL - 2 * PAGE]
    with chroma(settings) as client:
        assert collection_names(client) == ["docs"]
        info = collection_info(client, "docs")
        assert info["count"] == TOTAL and info["hnsw"]["space"] == "l2"
        assert_same_records(records(client, "docs"), originals)


def test_a_copy_frees_each_pages_http_bodies_before_the_next(ops_project: Project, settings: Settings) -> None:
    """httpx keeps every response in a reference cycle that only a full collection frees; with
    the automatic collector off (as between its full collections, several pages apart), the
    copy still leaves no page's body behind: it releases them itself."""
    originals = loaded(ops_project, settings, REBUILD_L2, "002_rebuild_l2.py")
    gc.collect()
    gc.disable()
    try:
        command.upgrade(ops_project.config(), "head")
        held = sum(len(getattr(o, "_content", b"") or b"") for o in gc.get_objects()
                   if isinstance(o, httpx.Response | httpx.Request))
    finally:
        gc.enable()
    assert held < 1_000_000, f"{held:,} bytes of HTTP bodies outlived the copy (a page is ~25 MB)"
    with chroma(settings) as client:
        assert_same_records(records(client, "docs"), originals)


def test_a_read_that_fails_mid_copy_names_its_page_and_a_retry_copies_everything(ops_project: Project,
                                                                                settings: Settings) -> None:
    originals = loaded(ops_project, settings, REBUILD_L2, "002_rebuild_l2.py")
    with recording_proxy(settings.env["CHROMA_HOST"], int(settings.env["CHROMA_PORT"])) as (port, traffic):
        traffic.fail_get = lambda body: body.get("offset") == PAGE  # the second page's read
        with pytest.raises(MigrationFailed, match="proxy: injected failure"):
            command.upgrade(through_proxy(ops_project, settings, port).config(), "head")
    row = {r.revision: r for r in ledger(settings)}["chromadb_002"]
    assert row.status == "failed"
    assert f"rebuild docs: copy records {PAGE}..{2 * PAGE}" in row.failed_step
    with chroma(settings) as client:
        info = collection_info(client, "docs")
        assert info["count"] == TOTAL and {k: info["hnsw"][k] for k in COSINE} == COSINE, "the original is untouched"
        assert client.get_collection("docs__rebuild", embedding_function=None).count() == PAGE

    from polyalembic.commands.repair import repair

    repair(ops_project, "retry", "chromadb_002")
    with chroma(settings) as client:
        assert collection_names(client) == ["docs"]
        assert collection_info(client, "docs")["hnsw"]["space"] == "l2"
        assert_same_records(records(client, "docs"), originals)


def test_backfill_with_values_reads_ids_only_page_by_page(ops_project: Project, settings: Settings) -> None:
    loaded(ops_project, settings, BACKFILL_IDS_ONLY, "002_backfill.py")
    with recording_proxy(settings.env["CHROMA_HOST"], int(settings.env["CHROMA_PORT"])) as (port, traffic):
        command.upgrade(through_proxy(ops_project, settings, port).config(), "head")

    assert [(g["offset"], g["limit"], g["include"]) for g in traffic.of("get")] == [
        (offset, 400, []) for offset in range(0, TOTAL, 400)]
    assert traffic.most_in_flight["get"] == 1
    assert [len(u["ids"]) for u in traffic.of("update")] == [400] * (TOTAL // 400) + [TOTAL % 400]
    with chroma(settings) as client:
        got = records(client, "docs")
    assert len(got) == TOTAL
    assert all(meta == {"i": int(rid[1:]), "kind": "even" if int(rid[1:]) % 2 == 0 else "odd", "tier": "gold"}
               for rid, (_, _, meta) in got.items())


def test_the_mmap_threshold_is_pinned_under_glibc_only() -> None:
    """On this machine's real C library: set under glibc (another C library is left alone)."""
    import os
    import sys

    from polyalembic.stores.chromadb import glibc

    under_glibc = sys.platform.startswith("linux") and bool(os.confstr("CS_GNU_LIBC_VERSION"))
    assert glibc.pin_mmap_threshold() is under_glibc
    assert glibc.pin_mmap_threshold() is under_glibc, "a second call changes nothing"
