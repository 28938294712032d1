"""The ChromaDB ops against the real Chroma server: each op, its reverse(), and its --sql plan.

Every test writes its own revision files into a copy of the project whose seed revisions are
removed (``ops_project``), so the chain holds only the ops under test, then runs Alembic's
``upgrade``/``downgrade`` and reads the live collections back.
"""

from __future__ import annotations

import io
import math
from contextlib import AbstractContextManager
from typing import Any

import numpy as np
import pytest
from alembic import command

from polyalembic.errors import MigrationFailed
from polyalembic.project import Project
from polyalembic.settings import Settings
from polyalembic.stores.chromadb.introspect import collection_info, collection_names
from tests.support import add_revision as _add_revision
from tests.support import ledger, relinked, store_connection


def add_revision(project: Project, filename: str, source: str) -> None:
    _add_revision(project, filename, source, "chromadb")


def chroma(settings: Settings) -> AbstractContextManager[Any]:
    return store_connection(settings, "chromadb")

COSINE = {"space": "cosine", "ef_construction": 128, "max_neighbors": 32, "ef_search": 64}
DIM = 16


def records(client: Any, name: str) -> dict[str, tuple[np.ndarray, str | None, dict[str, Any] | None]]:
    """id -> (embedding, document, metadata) of every record of ``name``."""
    got = client.get_collection(name, embedding_function=None).get(
        include=["embeddings", "documents", "metadatas"])
    return {rid: (np.asarray(emb), doc, meta) for rid, emb, doc, meta
            in zip(got["ids"], got["embeddings"], got["documents"], got["metadatas"], strict=True)}


def insert(client: Any, name: str, embeddings: np.ndarray, start: int = 0) -> None:
    """Add ``embeddings`` as records r<i> with a document and metadata, in server-sized batches."""
    collection = client.get_collection(name, embedding_function=None)
    size = client.get_max_batch_size()
    for lo in range(0, len(embeddings), size):
        idx = range(start + lo, start + min(lo + size, len(embeddings)))
        collection.add(ids=[f"r{i}" for i in idx], embeddings=embeddings[lo:lo + size],
                       documents=[f"memory number {i}" for i in idx],
                       metadatas=[{"i": i, "kind": "even" if i % 2 == 0 else "odd"} for i in idx])


CREATE_DOCS = '''
    """Create the docs collection."""
    from alembic import op

    from polyalembic.stores.chromadb.ops import CreateCollectionOp

    revision = "chromadb_001"
    down_revision = None
    store = "chromadb"

    CREATE = CreateCollectionOp("docs", configuration={"hnsw": %r},
                                metadata={"description": "test memories", "embedding_dim": %d})


    def upgrade() -> None:
        op.invoke(CREATE)


    def downgrade() -> None:
        op.invoke(CREATE.reverse())
'''


def create_docs(project: Project, hnsw: dict[str, Any] = COSINE, dim: int = DIM) -> None:
    add_revision(project, "001_docs.py", CREATE_DOCS % (hnsw, dim))


# --- create_collection / delete_collection ----------------------------------------------------


def test_create_collection_with_explicit_hnsw_and_metadata_and_its_reverse(ops_project: Project,
                                                                          settings: Settings) -> None:
    hnsw = {"space": "ip", "ef_construction": 100, "max_neighbors": 24, "ef_search": 50}
    create_docs(ops_project, hnsw)
    command.upgrade(ops_project.config(), "head")
    with chroma(settings) as client:
        info = collection_info(client, "docs")
        assert {k: info["hnsw"][k] for k in hnsw} == hnsw
        assert info["metadata"] == {"description": "test memories", "embedding_dim": DIM}
        assert info["count"] == 0
    assert [(r.revision, r.status) for r in ledger(settings)] == [("chromadb_001", "applied")]

    command.downgrade(ops_project.config(), "-1")  # CreateCollectionOp.reverse(): delete_collection
    with chroma(settings) as client:
        assert collection_names(client) == []
    assert ledger(settings) == []


def test_create_collection_accepts_an_existing_collection_with_the_same_settings(ops_project: Project,
                                                                               settings: Settings) -> None:
    """A rerun (the collection is already there, e.g. after a later failure) keeps it and its data."""
    create_docs(ops_project)
    with chroma(settings) as client:
        client.create_collection("docs", configuration={"hnsw": COSINE}, embedding_function=None)
        insert(client, "docs", np.ones((3, DIM), dtype=np.float32))
    command.upgrade(ops_project.config(), "head")
    with chroma(settings) as client:
        assert collection_info(client, "docs")["count"] == 3
        assert collection_info(client, "docs")["hnsw"]["space"] == "cosine"


def test_create_collection_refuses_an_existing_collection_with_another_immutable_setting(
        ops_project: Project, settings: Settings) -> None:
    create_docs(ops_project)
    with chroma(settings) as client:
        client.create_collection("docs", configuration={"hnsw": {**COSINE, "space": "l2"}},
                                 embedding_function=None)
    with pytest.raises(MigrationFailed, match="rebuild_collection") as failure:
        command.upgrade(ops_project.config(), "head")
    assert "space is 'l2', wanted 'cosine'" in str(failure.value.__cause__)
    [row] = ledger(settings)
    assert (row.revision, row.status) == ("chromadb_001", "failed")
    assert "rebuild_collection" in row.error
    with chroma(settings) as client:
        assert collection_info(client, "docs")["hnsw"]["space"] == "l2", "the existing collection is untouched"


def test_delete_collection_and_its_reverse_recreates_it(ops_project: Project, settings: Settings) -> None:
    create_docs(ops_project)
    add_revision(ops_project, "002_drop_docs.py", '''
        """Delete docs; the downgrade recreates it from the configuration given to the op."""
        from alembic import op

        from polyalembic.stores.chromadb.ops import DeleteCollectionOp, CreateCollectionOp

        revision = "chromadb_002"
        down_revision = "chromadb_001"
        store = "chromadb"

        HNSW = {"space": "cosine", "ef_construction": 128, "max_neighbors": 32, "ef_search": 64}
        DELETE = DeleteCollectionOp("docs", CreateCollectionOp("docs", {"hnsw": HNSW}, {"restored": True}))


        def upgrade() -> None:
            op.delete_collection("docs")
            op.delete_collection("docs")  # already gone: a no-op, so a rerun works


        def downgrade() -> None:
            op.invoke(DELETE.reverse())
    ''')
    command.upgrade(ops_project.config(), "chromadb_001")
    with chroma(settings) as client:
        insert(client, "docs", np.ones((2, DIM), dtype=np.float32))
    command.upgrade(ops_project.config(), "head")
    with chroma(settings) as client:
        assert collection_names(client) == []

    command.downgrade(ops_project.config(), "-1")
    with chroma(settings) as client:
        info = collection_info(client, "docs")
        assert info["metadata"] == {"restored": True}
        assert {k: info["hnsw"][k] for k in COSINE} == COSINE
        assert info["count"] == 0, "the records are gone: a reverse recreates the schema only"


# --- modify_collection ------------------------------------------------------------------------


def test_modify_collection_renames_replaces_metadata_and_sets_ef_search_and_reverses(
        ops_project: Project, settings: Settings) -> None:
    create_docs(ops_project)
    add_revision(ops_project, "002_modify_docs.py", '''
        """Rename docs to memories, replace its metadata and raise ef_search."""
        from alembic import op

        from polyalembic.stores.chromadb.ops import ModifyCollectionOp

        revision = "chromadb_002"
        down_revision = "chromadb_001"
        store = "chromadb"

        MODIFY = ModifyCollectionOp(
            "docs", new_name="memories", metadata={"description": "renamed"}, hnsw={"ef_search": 200},
            previous_metadata={"description": "test memories", "embedding_dim": 16},
            previous_hnsw={"ef_search": 64})


        def upgrade() -> None:
            op.invoke(MODIFY)


        def downgrade() -> None:
            op.invoke(MODIFY.reverse())
    ''')
    command.upgrade(ops_project.config(), "chromadb_001")
    with chroma(settings) as client:
        insert(client, "docs", np.ones((5, DIM), dtype=np.float32))
    command.upgrade(ops_project.config(), "head")
    with chroma(settings) as client:
        assert collection_names(client) == ["memories"]
        info = collection_info(client, "memories")
        assert info["metadata"] == {"description": "renamed"}, "metadata is replaced, not merged"
        assert info["hnsw"]["ef_search"] == 200
        assert info["hnsw"]["space"] == "cosine" and info["count"] == 5

    command.downgrade(ops_project.config(), "-1")
    with chroma(settings) as client:
        assert collection_names(client) == ["docs"]
        info = collection_info(client, "docs")
        assert info["metadata"] == {"description": "test memories", "embedding_dim": DIM}
        assert info["hnsw"]["ef_search"] == 64 and info["count"] == 5


def test_modify_collection_with_the_op_proxy_metadata_only(ops_project: Project, settings: Settings) -> None:
    create_docs(ops_project)
    add_revision(ops_project, "002_modify_metadata.py", '''
        """Replace the metadata of docs."""
        from alembic import op

        revision = "chromadb_002"
        down_revision = "chromadb_001"
        store = "chromadb"


        def upgrade() -> None:
            op.modify_collection("docs", metadata={"owner": "tests"})


        def downgrade() -> None:
            op.modify_collection("docs", metadata={"description": "test memories", "embedding_dim": 16})
    ''')
    command.upgrade(ops_project.config(), "head")
    with chroma(settings) as client:
        assert collection_info(client, "docs")["metadata"] == {"owner": "tests"}
    command.downgrade(ops_project.config(), "-1")
    with chroma(settings) as client:
        assert collection_info(client, "docs")["metadata"] == {"description": "test memories", "embedding_dim": DIM}


def test_modify_collection_of_an_immutable_setting_fails_the_revision_and_changes_nothing(
        ops_project: Project, settings: Settings) -> None:
    create_docs(ops_project)
    add_revision(ops_project, "002_bad_modify.py", '''
        """Tries to switch the space in place."""
        from alembic import op

        revision = "chromadb_002"
        down_revision = "chromadb_001"
        store = "chromadb"


        def upgrade() -> None:
            op.modify_collection("docs", hnsw={"space": "l2", "ef_search": 100})


        def downgrade() -> None:
            op.modify_collection("docs", hnsw={"ef_search": 64})
    ''')
    with pytest.raises(MigrationFailed, match=r"hnsw space can't be modified in place: use op.rebuild_collection"):
        command.upgrade(ops_project.config(), "head")
    with chroma(settings) as client:
        assert collection_info(client, "docs")["hnsw"]["ef_search"] == 64
    assert {r.revision: r.status for r in ledger(settings)} == {"chromadb_001": "applied", "chromadb_002": "failed"}


# --- rebuild_collection -----------------------------------------------------------------------


REBUILD_L2 = '''
    """Switch docs from cosine to l2: copy every record into a new collection and swap."""
    from alembic import op

    from polyalembic.stores.chromadb.ops import RebuildCollectionOp

    revision = "chromadb_002"
    down_revision = "chromadb_001"
    store = "chromadb"

    COSINE = {"space": "cosine", "ef_construction": 128, "max_neighbors": 32, "ef_search": 64}
    L2 = {"space": "l2", "ef_construction": 200, "max_neighbors": 16, "ef_search": 80}
    REBUILD = RebuildCollectionOp("docs", configuration={"hnsw": L2}, previous_configuration={"hnsw": COSINE})


    def upgrade() -> None:
        op.invoke(REBUILD)


    def downgrade() -> None:
        op.invoke(REBUILD.reverse())
'''


def assert_same_records(got: dict[str, Any], expected_embeddings: dict[str, np.ndarray]) -> None:
    assert got.keys() == expected_embeddings.keys()
    ids = sorted(got)
    assert np.allclose(np.stack([got[i][0] for i in ids]), np.stack([expected_embeddings[i] for i in ids]),
                       rtol=1e-6, atol=1e-7)
    for rid in ids:
        n = int(rid[1:])
        assert got[rid][1] == f"memory number {n}"
        assert got[rid][2] == {"i": n, "kind": "even" if n % 2 == 0 else "odd"}


def test_rebuild_collection_from_cosine_to_l2_keeps_every_record_and_reverses(ops_project: Project,
                                                                             settings: Settings) -> None:
    total = 6_000  # over get_max_batch_size() (5461): the copy runs in batches, the second one short
    create_docs(ops_project)
    add_revision(ops_project, "002_rebuild_l2.py", REBUILD_L2)
    command.upgrade(ops_project.config(), "chromadb_001")
    embeddings = np.random.default_rng(7).standard_normal((total, DIM)).astype(np.float32)
    originals = {f"r{i}": embeddings[i] for i in range(total)}
    with chroma(settings) as client:
        assert client.get_max_batch_size() < total
        insert(client, "docs", embeddings)

    command.upgrade(ops_project.config(), "head")
    with chroma(settings) as client:
        assert collection_names(client) == ["docs"], "the staging collection was swapped into place"
        info = collection_info(client, "docs")
        assert info["count"] == total
        assert {k: info["hnsw"][k] for k in ("space", "ef_construction", "max_neighbors", "ef_search")} == {
            "space": "l2", "ef_construction": 200, "max_neighbors": 16, "ef_search": 80}
        assert info["metadata"] == {"description": "test memories", "embedding_dim": DIM}
        assert_same_records(records(client, "docs"), originals)
        # the new index really uses l2: the distance to a record's own vector plus 1 on one axis is 1
        probe = embeddings[5].copy()
        probe[0] += 1.0
        hit = client.get_collection("docs", embedding_function=None).query(query_embeddings=[probe], n_results=1)
        assert hit["ids"][0][0] == "r5" and hit["distances"][0][0] == pytest.approx(1.0, rel=1e-4)

    command.downgrade(ops_project.config(), "-1")  # the reverse rebuild: back to cosine
    with chroma(settings) as client:
        assert collection_names(client) == ["docs"]
        info = collection_info(client, "docs")
        assert info["count"] == total
        assert {k: info["hnsw"][k] for k in COSINE} == COSINE
        assert_same_records(records(client, "docs"), originals)


EMBED_REVISION = '''
    """Re-embed docs with an 8-dimensional model (the reverse restores the 16-dimensional one)."""
    import math

    from alembic import op

    from polyalembic.stores.chromadb.ops import RebuildCollectionOp

    revision = "chromadb_002"
    down_revision = "chromadb_001"
    store = "chromadb"


    def vector(i, dim):
        return [math.sin((i + 1) * (k + 1) * 0.01) for k in range(dim)]


    def embed8(documents, metadatas):
        assert len(documents) == len(metadatas) <= 40
        return [vector(m["i"], 8) for m in metadatas]


    def embed16(documents, metadatas):
        return [vector(m["i"], 16) for m in metadatas]


    HNSW = {"space": "cosine", "ef_construction": 128, "max_neighbors": 32, "ef_search": 64}
    REBUILD = RebuildCollectionOp("docs", configuration={"hnsw": HNSW},
                                  metadata={"description": "test memories", "embedding_dim": 8},
                                  embed=embed8, batch_size=40, previous_configuration={"hnsw": HNSW},
                                  previous_embed=embed16,
                                  previous_metadata={"description": "test memories", "embedding_dim": 16})


    def upgrade() -> None:
        op.invoke(REBUILD)


    def downgrade() -> None:
        op.invoke(REBUILD.reverse())
'''


def vector(i: int, dim: int) -> list[float]:
    return [math.sin((i + 1) * (k + 1) * 0.01) for k in range(dim)]


def test_rebuild_collection_with_embed_changes_the_dimension_and_reverses(ops_project: Project,
                                                                          settings: Settings) -> None:
    total = 150  # batch_size=40: four batches, the last one short
    create_docs(ops_project)
    add_revision(ops_project, "002_reembed.py", EMBED_REVISION)
    command.upgrade(ops_project.config(), "chromadb_001")
    with chroma(settings) as client:
        insert(client, "docs", np.array([vector(i, 16) for i in range(total)], dtype=np.float32))

    command.upgrade(ops_project.config(), "head")
    with chroma(settings) as client:
        info = collection_info(client, "docs")
        assert info["count"] == total and info["metadata"]["embedding_dim"] == 8
        assert_same_records(records(client, "docs"),
                            {f"r{i}": np.array(vector(i, 8), dtype=np.float32) for i in range(total)})
        docs = client.get_collection("docs", embedding_function=None)
        assert docs.query(query_embeddings=[vector(42, 8)], n_results=1)["ids"] == [["r42"]]
        with pytest.raises(Exception, match=r"(?i)dimension"):
            docs.query(query_embeddings=[vector(42, 16)], n_results=1)

    command.downgrade(ops_project.config(), "-1")
    with chroma(settings) as client:
        info = collection_info(client, "docs")
        assert info["count"] == total
        assert info["metadata"] == {"description": "test memories", "embedding_dim": 16}, "metadata restored too"
        assert_same_records(records(client, "docs"),
                            {f"r{i}": np.array(vector(i, 16), dtype=np.float32) for i in range(total)})


# --- backfill_collection_metadata -------------------------------------------------------------


BACKFILL = '''
    """Backfill metadata of docs: a constant tier, and a computed bucket for even records."""
    from alembic import op

    from polyalembic.stores.chromadb.ops import BackfillMetadataOp

    revision = "chromadb_002"
    down_revision = "chromadb_001"
    store = "chromadb"


    def bucket(record_id, metadata, document):
        if metadata["i"] % 2:
            return None  # odd records are skipped
        return {"bucket": metadata["i"] // 100, "words": len(document.split())}


    TIER = BackfillMetadataOp("docs", values={"tier": "gold", "version": 2}, batch_size=120)
    BUCKET = BackfillMetadataOp("docs", compute=bucket, keys=["bucket", "words"], batch_size=120)


    def upgrade() -> None:
        op.invoke(TIER)
        op.invoke(BUCKET)


    def downgrade() -> None:
        op.invoke(BUCKET.reverse())
        op.invoke(TIER.reverse())
'''


def test_backfill_collection_metadata_with_values_and_compute_and_reverse(ops_project: Project,
                                                                          settings: Settings) -> None:
    total = 500  # batch_size=120: five batches
    create_docs(ops_project)
    add_revision(ops_project, "002_backfill.py", BACKFILL)
    command.upgrade(ops_project.config(), "chromadb_001")
    embeddings = np.random.default_rng(1).random((total, DIM), dtype=np.float32)
    with chroma(settings) as client:
        insert(client, "docs", embeddings)

    command.upgrade(ops_project.config(), "head")
    with chroma(settings) as client:
        got = records(client, "docs")
    assert len(got) == total
    for rid, (emb, doc, meta) in got.items():
        n = int(rid[1:])
        expected = {"i": n, "kind": "even" if n % 2 == 0 else "odd", "tier": "gold", "version": 2}
        if n % 2 == 0:
            expected.update(bucket=n // 100, words=3)
        assert meta == expected, rid
        assert doc == f"memory number {n}" and np.allclose(emb, embeddings[n])

    command.downgrade(ops_project.config(), "-1")  # the reverses remove exactly the backfilled keys
    with chroma(settings) as client:
        got = records(client, "docs")
    assert {rid: meta for rid, (_, _, meta) in got.items()} == {
        f"r{n}": {"i": n, "kind": "even" if n % 2 == 0 else "odd"} for n in range(total)}


def test_backfill_collection_metadata_with_the_op_proxy(ops_project: Project, settings: Settings) -> None:
    create_docs(ops_project)
    add_revision(ops_project, "002_backfill_proxy.py", '''
        """Backfill with op.backfill_collection_metadata."""
        from alembic import op

        revision = "chromadb_002"
        down_revision = "chromadb_001"
        store = "chromadb"


        def upgrade() -> None:
            op.backfill_collection_metadata("docs", compute=lambda rid, meta, doc: {"length": len(doc)})


        def downgrade() -> None:
            op.backfill_collection_metadata("docs", compute=lambda rid, meta, doc: None)
    ''')
    command.upgrade(ops_project.config(), "chromadb_001")
    with chroma(settings) as client:
        insert(client, "docs", np.ones((4, DIM), dtype=np.float32))
    command.upgrade(ops_project.config(), "head")
    with chroma(settings) as client:
        got = records(client, "docs")
    assert {rid: meta["length"] for rid, (_, _, meta) in got.items()} == {f"r{i}": 15 for i in range(4)}


# --- run_chroma -------------------------------------------------------------------------------


def test_run_chroma_calls_fn_and_its_reverse_calls_reverse_fn(ops_project: Project, settings: Settings) -> None:
    add_revision(ops_project, "001_run_chroma.py", '''
        """Seed a lookup collection with plain client calls."""
        from alembic import op

        from polyalembic.stores.chromadb.ops import RunChromaOp

        revision = "chromadb_001"
        down_revision = None
        store = "chromadb"


        def seed(client):
            """Create and fill the lookup collection."""
            lookup = client.create_collection("lookup", configuration={"hnsw": {"space": "l2"}},
                                              embedding_function=None)
            lookup.add(ids=["a", "b"], embeddings=[[0.0, 1.0], [1.0, 0.0]], documents=["A", "B"])


        def unseed(client):
            """Delete the lookup collection."""
            client.delete_collection("lookup")


        RUN = RunChromaOp(seed, reverse_fn=unseed)


        def upgrade() -> None:
            op.run_chroma(seed, reverse_fn=unseed)


        def downgrade() -> None:
            op.invoke(RUN.reverse())
    ''')
    command.upgrade(ops_project.config(), "head")
    with chroma(settings) as client:
        assert collection_names(client) == ["lookup"]
        assert collection_info(client, "lookup")["hnsw"]["space"] == "l2"
        assert records(client, "lookup")["b"][1] == "B"
    command.downgrade(ops_project.config(), "base")
    with chroma(settings) as client:
        assert collection_names(client) == []


# --- --sql ------------------------------------------------------------------------------------


def test_sql_mode_prints_the_plan_of_each_op_and_touches_nothing(ops_project: Project,
                                                                  settings: Settings) -> None:
    create_docs(ops_project)
    add_revision(ops_project, "002_rebuild_l2.py", REBUILD_L2)
    add_revision(ops_project, "003_backfill.py", relinked(BACKFILL, "chromadb_003", "chromadb_002"))
    config = ops_project.config()
    config.output_buffer = io.StringIO()
    command.upgrade(config, "head", sql=True)
    out = config.output_buffer.getvalue()
    assert ("-- [chromadb] create collection 'docs' configuration={\"hnsw\": {\"ef_construction\": 128, "
            "\"ef_search\": 64, \"max_neighbors\": 32, \"space\": \"cosine\"}} "
            "metadata={\"description\": \"test memories\", \"embedding_dim\": 16}") in out
    assert ("-- [chromadb] rebuild collection 'docs' with configuration={\"hnsw\": {\"ef_construction\": 200, "
            "\"ef_search\": 80, \"max_neighbors\": 16, \"space\": \"l2\"}}: create 'docs__rebuild', upsert every "
            "record in batches (copying embeddings), check counts, delete 'docs', rename 'docs__rebuild' "
            "to 'docs'") in out
    assert ("-- [chromadb] backfill metadata of every record of 'docs' with "
            "{\"tier\": \"gold\", \"version\": 2} in batches") in out
    assert "-- [chromadb] backfill metadata of every record of 'docs' with computed values in batches" in out
    assert out.count("'chromadb', '00") == 9, "each revision: a running row, an applied row, an audit row"
    assert out.count("'applied', now()") == 3

    config.output_buffer = io.StringIO()
    command.downgrade(config, "chromadb_003:chromadb_001", sql=True)
    out = config.output_buffer.getvalue()
    assert "-- [chromadb] remove metadata keys ['bucket', 'words'] from every record of 'docs' in batches" in out
    assert "-- [chromadb] remove metadata keys ['tier', 'version'] from every record of 'docs' in batches" in out
    assert "rebuild collection 'docs' with configuration={\"hnsw\": {\"ef_construction\": 128" in out
    with chroma(settings) as client:
        assert collection_names(client) == []
    assert ledger(settings) == []
