"""ChromaDB ops: argument and reverse() rules, no server."""

from __future__ import annotations

from typing import Any

import pytest

from polyalembic.stores.chromadb.ops import ModifyCollectionOp


def test_delete_collection_without_its_configuration_cannot_be_reversed() -> None:
    from polyalembic.stores.chromadb.ops import DeleteCollectionOp

    with pytest.raises(ValueError, match="can't be reversed without its configuration"):
        DeleteCollectionOp("docs").reverse()


@pytest.mark.parametrize("key", ["space", "ef_construction", "max_neighbors"])
def test_modify_collection_refuses_an_immutable_setting_at_construction(key: str) -> None:
    with pytest.raises(ValueError, match=rf"hnsw {key} can't be modified in place: use op.rebuild_collection"):
        ModifyCollectionOp("docs", hnsw={key: 8})


def test_modify_collection_rejects_empty_metadata_and_an_unreversible_reverse() -> None:
    with pytest.raises(ValueError, match="rejects empty metadata"):
        ModifyCollectionOp("docs", metadata={})
    with pytest.raises(ValueError, match="needs previous_metadata"):
        ModifyCollectionOp("docs", metadata={"a": 1}).reverse()
    with pytest.raises(ValueError, match="needs previous_hnsw"):
        ModifyCollectionOp("docs", hnsw={"ef_search": 10}).reverse()
    rename_back = ModifyCollectionOp("docs", new_name="memories").reverse()
    assert (rename_back.name, rename_back.new_name, rename_back.metadata, rename_back.hnsw) == (
        "memories", "docs", None, {})


def test_rebuild_collection_needs_previous_configuration_to_be_reversed() -> None:
    from polyalembic.stores.chromadb.ops import RebuildCollectionOp

    with pytest.raises(ValueError, match="needs previous_configuration"):
        RebuildCollectionOp("docs", {"hnsw": {"space": "l2"}}).reverse()
    with pytest.raises(ValueError, match="needs previous_metadata"):
        RebuildCollectionOp("docs", {"hnsw": {"space": "l2"}}, metadata={"model": "new"},
                            previous_configuration={"hnsw": {"space": "cosine"}}).reverse()
    reverse = RebuildCollectionOp("docs", {"hnsw": {"space": "l2"}}, metadata={"model": "new"},
                                  previous_configuration={"hnsw": {"space": "cosine"}},
                                  previous_metadata={"model": "old"}).reverse()
    assert (reverse.configuration, reverse.metadata, reverse.previous_metadata) == (
        {"hnsw": {"space": "cosine"}}, {"model": "old"}, {"model": "new"})


def test_backfill_collection_metadata_arguments_and_reverse_rules() -> None:
    from polyalembic.stores.chromadb.ops import BackfillMetadataOp

    with pytest.raises(ValueError, match="needs values= or compute="):
        BackfillMetadataOp("docs")
    with pytest.raises(ValueError, match="needs keys= to be reversed"):
        BackfillMetadataOp("docs", compute=lambda *a: {"x": 1}).reverse()
    reverse = BackfillMetadataOp("docs", values={"a": 1, "b": 2}).reverse()
    assert (reverse.remove, reverse.keys) == (True, ["a", "b"])
    with pytest.raises(ValueError, match="can't be reversed"):
        reverse.reverse()


def test_run_chroma_without_reverse_fn_cannot_be_reversed() -> None:
    from polyalembic.stores.chromadb.ops import RunChromaOp

    def fn(client: Any) -> None:
        """Does nothing."""

    op = RunChromaOp(fn)
    assert op.description == "Does nothing."
    with pytest.raises(ValueError, match="needs reverse_fn"):
        op.reverse()
    assert RunChromaOp(fn, reverse_fn=fn).reverse().reverse_fn is fn
