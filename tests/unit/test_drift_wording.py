"""Drift's verdicts and words from snapshots alone (no server): each store words its own kinds."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from polyalembic.commands.drift import DRIFTED, MATCHES, NO_SNAPSHOT, compare
from polyalembic.ledger.snapshots import Recorded, canonical
from polyalembic.stores import get_store


def recorded(store: str, snapshot: dict[str, Any], managed: set[str] | None = None) -> Recorded:
    snapshot = canonical(snapshot)
    objects = set(get_store(store).snapshot_objects(snapshot))
    return Recorded(store, snapshot, frozenset(objects if managed is None else managed), "x_001",
                    datetime.now(UTC), "me@here")


SQL = {"objects": {"notes": "table", "notes_pkey": "index"},
       "columns": {"notes": [["id", "integer", True, None], ["body", "text", False, None]]},
       "constraints": {"notes_pkey": ["notes", "PRIMARY KEY (id)"]}}


def test_sql_columns_and_constraints_are_worded_and_hand_made_tables_are_apart() -> None:
    live = canonical({"objects": {"notes": "table", "scratch": "table"},
                      "columns": {"notes": [["id", "bigint", True, None]], "scratch": [["a", "int", False, None]]},
                      "constraints": {}})
    verdict = compare(get_store("postgres"), recorded("postgres", SQL), live)
    assert verdict.state == DRIFTED
    assert verdict.differences == ["column notes.body dropped", "column notes.id type changed integer -> bigint",
                                   "constraint notes_pkey on notes dropped"]
    assert verdict.unmanaged == ["table scratch"]
    assert compare(get_store("postgres"), recorded("postgres", SQL), canonical(SQL)).state == MATCHES


def test_timescale_policies_and_compression() -> None:
    before = {**SQL, "hypertables": {"m": {"compression_enabled": True, "dimensions": [["time", "Time", "7 days"]],
                                          "compression": [["agent", 1, None, None]]}},
              "jobs": [("policy_retention", "m"), ("policy_compression", "m")], "continuous_aggregates": []}
    after = {**SQL, "hypertables": {"m": {"compression_enabled": False, "dimensions": [["time", "Time", "7 days"]],
                                         "compression": []}},
             "jobs": [], "continuous_aggregates": []}
    verdict = compare(get_store("timescaledb"), recorded("timescaledb", before), canonical(after))
    assert verdict.differences == ["compression policy on m removed", "compression on m removed",
                                   "retention policy on m removed"]


def test_neo4j_and_chroma_words_and_unmanaged_only_count_with_all() -> None:
    graph = compare(get_store("neo4j"), recorded("neo4j", {"constraints": ["c"], "indexes": ["c", "i"]}),
                    {"constraints": [], "indexes": ["i", "mine"]})
    assert (graph.differences, graph.unmanaged) == (["constraint c dropped"], ["index mine"])
    hnsw = {"space": "cosine", "ef_search": 64}
    vectors = compare(get_store("chromadb"),
                      recorded("chromadb", {"collections": {"e": {"hnsw": hnsw, "metadata": {"a": 1}}}}),
                      {"collections": {"e": {"hnsw": {**hnsw, "space": "l2"}, "metadata": {"a": 2}},
                                       "x": {"hnsw": hnsw, "metadata": None}}})
    assert vectors.differences == ["collection e hnsw space changed cosine -> l2", "collection e metadata changed"]
    only_unmanaged = compare(get_store("chromadb"), recorded("chromadb", {"collections": {}}),
                             {"collections": {"x": {"hnsw": hnsw, "metadata": None}}})
    assert only_unmanaged.state == MATCHES and only_unmanaged.unmanaged == ["collection x"]
    assert compare(get_store("chromadb"), recorded("chromadb", {"collections": {}}),
                   {"collections": {"x": {}}}, include_unmanaged=True).state == DRIFTED
    assert compare(get_store("neo4j"), None, {"constraints": []}).state == NO_SNAPSHOT


def test_the_contract_default_words_any_store() -> None:
    store = get_store("neo4j")
    assert type(store).__mro__[1].describe_difference(store, {"constraints": ["a"]}, {"constraints": ["b"]}) == [
        "constraint a dropped", "constraint b added (not in any migration)"]
