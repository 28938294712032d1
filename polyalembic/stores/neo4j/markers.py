"""Step markers in Neo4j: a ``(:_PolyalembicStep {revision, step})`` node written in the same
transaction as each batch of Cypher writes, so a resume after a kill between Neo4j's commit and
the ledger's update sees the batch committed and never runs it again. A single write statement
takes its marker as a last clause of its own query (``with_marker``), one auto-commit transaction
and one round trip as without a marker; any other batch gets it as a statement of its own. Schema statements can't
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
#: a single write statement's marker, as the last clauses of its own query (one row whatever it wrote)
_MARK_CLAUSE = (f"\nWITH count(*) AS _polyalembic_rows\n"
                f"CREATE (:{LABEL} {{revision: $polyalembic_revision, step: $polyalembic_step}})")
#: what a query may hold that a clause appended after it would change or break (conservative:
#: such a statement gets its marker as a statement of its own)
_NOT_APPENDABLE = re.compile(r"^\s*(EXPLAIN|PROFILE|CYPHER)\b|\b(RETURN|UNION|CALL|USE|FINISH)\b", re.IGNORECASE)
_DROPPED_NAME = re.compile(r"^\s*DROP\s+(?:CONSTRAINT|INDEX)\s+(`(?:[^`]|``)+`|\w+)", re.IGNORECASE)


def mark_parameters(revision: str | None, step: int) -> dict[str, Any]:
    return {"polyalembic_revision": revision, "polyalembic_step": step}


def with_marker(statement: str) -> str | None:
    """``statement`` with its marker appended as the last clauses of the same query, or None when
    it ends in what a clause can't follow (a RETURN, a UNION, a procedure or subquery call)."""
    if _NOT_APPENDABLE.search(statement):
        return None
    return statement.rstrip().rstrip(";") + _MARK_CLAUSE


def checkable(statement: str) -> bool:
    """True for a schema statement the live schema can tell done (it names what it creates or drops)."""
    return created_name(statement) is not None or _DROPPED_NAME.match(statement) is not None


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
