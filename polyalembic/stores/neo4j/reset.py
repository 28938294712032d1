"""Drops every constraint and user index of the Neo4j store and deletes all its data (dev only),
but for neo4j-migrations' history (its nodes and their constraints): another tool's record of what
ran, which ``polyalembic fresh`` must not erase (``n4m.drop_history`` does, for tests)."""

from __future__ import annotations

from typing import Any

from polyalembic.stores.neo4j.cypher import CYPHER_VERSION_PREFIX, quote_name
from polyalembic.stores.neo4j.introspect import constraints, indexes
from polyalembic.stores.neo4j.n4m import LABELS


def drop_all(graph: Any) -> list[str]:
    dropped = []
    for name in constraints(graph):
        graph.driver.execute_query(f"DROP CONSTRAINT {quote_name(name)} IF EXISTS", database_=graph.database)
        dropped.append(f"constraint {name}")
    for name in indexes(graph):
        graph.driver.execute_query(f"DROP INDEX {quote_name(name)} IF EXISTS", database_=graph.database)
        dropped.append(f"index {name}")
    with graph.driver.session(database=graph.database) as session:
        kept = " AND ".join(f"NOT n:{label}" for label in LABELS)
        summary = session.run(CYPHER_VERSION_PREFIX + f"MATCH (n) WHERE {kept} CALL (n) {{ DETACH DELETE n }} "
                              "IN TRANSACTIONS OF 10000 ROWS").consume()
    deleted = summary.counters.nodes_deleted
    if deleted:
        dropped.append(f"{deleted} nodes")
    return dropped
