"""Step markers in Neo4j: a ``(:_PolyalembicStep {revision, step})`` node written in the same
transaction as each batch of Cypher writes, so a resume after a kill between Neo4j's commit and
the ledger's update sees the batch committed and never runs it again. Schema statements can't
share a transaction with data: the live schema says whether one is done. The nodes go once the
migration is recorded; the store's snapshot (constraints and indexes) never holds them.
"""

from __future__ import annotations

import re
from typing import Any

from polyalembic.stores.neo4j.cypher import CYPHER_VERSION_PREFIX, created_name
from polyalembic.stores.neo4j.introspect import constraints, indexes

LABEL = "_PolyalembicStep"
#: run in the step's own transaction, after its writes
MARK = CYPHER_VERSION_PREFIX + f"CREATE (:{LABEL} {{revision: $polyalembic_revision, step: $polyalembic_step}})"
_MARKED = CYPHER_VERSION_PREFIX + f"MATCH (s:{LABEL} {{revision: $revision}}) RETURN s.step AS step"
_CLEAR = CYPHER_VERSION_PREFIX + f"MATCH (s:{LABEL}) WHERE NOT s.revision IN $keep DELETE s"
_DROP = CYPHER_VERSION_PREFIX + f"MATCH (s:{LABEL} {{revision: $revision}}) DELETE s"
_DROPPED_NAME = re.compile(r"^\s*DROP\s+(?:CONSTRAINT|INDEX)\s+(`(?:[^`]|``)+`|\w+)", re.IGNORECASE)


def mark_parameters(revision: str | None, step: int) -> dict[str, Any]:
    return {"polyalembic_revision": revision, "polyalembic_step": step}


def marked_steps(graph: Any, revision: str) -> set[int]:
    records, _, _ = graph.driver.execute_query(_MARKED, revision=revision, database_=graph.database)
    return {int(record["step"]) for record in records}


def clear_marks(graph: Any, keep: set[str]) -> None:
    graph.driver.execute_query(_CLEAR, keep=sorted(keep), database_=graph.database)


def drop_marks(graph: Any, revision: str) -> None:
    graph.driver.execute_query(_DROP, revision=revision, database_=graph.database)


def step_in_place(graph: Any, statement: str) -> bool:
    """True when the live schema shows a schema statement done: the constraint or index it
    creates by name exists, the one it drops by name is gone. Unnamed: unknown (False)."""
    created = created_name(statement)
    dropped = _DROPPED_NAME.match(statement)
    if created is None and dropped is None:
        return False
    names = set(constraints(graph)) | set(indexes(graph))
    if created is not None:
        return created in names
    name = dropped[1]
    name = name[1:-1].replace("``", "`") if name.startswith("`") else name
    return name not in names
