"""Reads the live schema of the Neo4j store: constraints and indexes with their states."""

from __future__ import annotations

from typing import Any

from polyalembic.stores.neo4j.cypher import CYPHER_VERSION_PREFIX


def _rows(graph: Any, query: str) -> list[dict[str, Any]]:
    records, _, _ = graph.driver.execute_query(CYPHER_VERSION_PREFIX + query, database_=graph.database)
    return [r.data() for r in records]


def constraints(graph: Any) -> dict[str, dict[str, Any]]:
    """Named constraints: name -> {type, labels, properties}."""
    rows = _rows(graph, "SHOW CONSTRAINTS YIELD name, type, labelsOrTypes, properties")
    return {r["name"]: {"type": r["type"], "labels": r["labelsOrTypes"], "properties": r["properties"]}
            for r in rows}


def indexes(graph: Any) -> dict[str, dict[str, Any]]:
    """User indexes (the built-in LOOKUP token indexes excluded): name -> details."""
    rows = _rows(graph, "SHOW INDEXES YIELD name, type, state, labelsOrTypes, properties, "
                        "owningConstraint, failureMessage")
    return {r["name"]: r for r in rows if r["type"] != "LOOKUP"}


def index_states(graph: Any) -> dict[str, tuple[str, str]]:
    """name -> (state, failureMessage) for every user index."""
    return {name: (r["state"], r["failureMessage"]) for name, r in indexes(graph).items()}


def snapshot(graph: Any) -> dict[str, Any]:
    """Everything schema-like this store holds, for comparisons (dry runs, tests)."""
    return {"constraints": sorted(constraints(graph)), "indexes": sorted(indexes(graph))}
