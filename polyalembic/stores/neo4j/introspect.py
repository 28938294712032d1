"""Reads the live schema of the Neo4j store: constraints and indexes with their states.
neo4j-migrations' own (its chain's and lock's, ``n4m.BOOKKEEPING``) are never the store's: a
database that tool also migrates shows the same schema as one it never touched."""

from __future__ import annotations

from typing import Any

from polyalembic.stores.neo4j.cypher import CYPHER_VERSION_PREFIX
from polyalembic.stores.neo4j.n4m import is_bookkeeping


def _rows(graph: Any, query: str) -> list[dict[str, Any]]:
    records, _, _ = graph.driver.execute_query(CYPHER_VERSION_PREFIX + query, database_=graph.database)
    return [r.data() for r in records]


def constraints(graph: Any) -> dict[str, dict[str, Any]]:
    """Named constraints: name -> {type, labels, properties}."""
    rows = _rows(graph, "SHOW CONSTRAINTS YIELD name, type, labelsOrTypes, properties")
    return {r["name"]: {"type": r["type"], "labels": r["labelsOrTypes"], "properties": r["properties"]}
            for r in rows if not is_bookkeeping(r["name"], r["labelsOrTypes"])}


def indexes(graph: Any) -> dict[str, dict[str, Any]]:
    """User indexes (the built-in LOOKUP token indexes and neo4j-migrations' excluded): name -> details."""
    rows = _rows(graph, "SHOW INDEXES YIELD name, type, state, labelsOrTypes, properties, "
                        "owningConstraint, failureMessage")
    return {r["name"]: r for r in rows if r["type"] != "LOOKUP" and not is_bookkeeping(r["name"], r["labelsOrTypes"])}


def index_states(graph: Any) -> dict[str, tuple[str, str]]:
    """name -> (state, failureMessage) for every user index."""
    return {name: (r["state"], r["failureMessage"]) for name, r in indexes(graph).items()}


def snapshot(graph: Any) -> dict[str, Any]:
    """Everything schema-like this store holds, for comparisons (dry runs, tests)."""
    return {"constraints": sorted(constraints(graph)), "indexes": sorted(indexes(graph))}
