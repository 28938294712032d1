"""Executes the Neo4j ops with the driver, or prints their Cypher as comments under ``--sql``.

Schema statements each run alone (``execute_query``, a managed transaction); consecutive data
writes share one explicit transaction; ``CALL {} IN TRANSACTIONS`` runs auto-commit. After an
index or constraint is created, the run waits until the indexes it named are ONLINE (every index
when a name is unknown or absent) and fails clearly on a FAILED one.
"""

from __future__ import annotations

import os
import time
from typing import Any

from alembic.operations import Operations

from polyalembic.run import Run, run_of
from polyalembic.stores.neo4j.cypher import created_name, creates_schema, is_schema, needs_autocommit
from polyalembic.stores.neo4j.introspect import index_states
from polyalembic.stores.neo4j.ops import CypherOp
from polyalembic.stores.neo4j.store import GraphConnection

INDEX_TIMEOUT_S = float(os.environ.get("POLYALEMBIC_NEO4J_INDEX_TIMEOUT", "300"))


def render(statement: str) -> str:
    """A Cypher statement as a comment block of the ``--sql`` output."""
    body = "\n".join(f"--   {line}" for line in statement.strip().splitlines())
    return f"-- [neo4j]\n{body};"


class IndexFailed(RuntimeError):
    """An index or constraint's backing index went FAILED while populating."""


def await_indexes(graph: GraphConnection, names: set[str] | None = None,
                  timeout: float = INDEX_TIMEOUT_S) -> None:
    """Wait until the named indexes (all, when a name is unknown) are ONLINE; raise IndexFailed
    naming any FAILED one. Constraints' backing indexes carry the constraint's name."""
    deadline = time.monotonic() + timeout
    while True:
        states = index_states(graph)
        if names is not None and names <= set(states):
            # (a name that isn't there: IF NOT EXISTS found an equivalent index under another
            # name, which may still be populating, so every index is waited for)
            states = {n: s for n, s in states.items() if n in names}
        failed = {n: s for n, s in states.items() if s[0] == "FAILED"}
        if failed:
            name, (_, message) = next(iter(failed.items()))
            raise IndexFailed(f"neo4j index {name} FAILED: {message or 'no failure message'}")
        pending = [n for n, s in states.items() if s[0] != "ONLINE"]
        if not pending:
            return
        if time.monotonic() > deadline:
            raise IndexFailed(f"neo4j indexes still not ONLINE after {timeout:.0f}s: {', '.join(pending)}")
        time.sleep(0.1)


def execute_statements(graph: GraphConnection, statements: list[str], run: Run,
                       parameters: dict[str, Any] | None = None, autocommit: bool = False) -> None:
    """Run statements with the transaction rules above."""
    params = parameters or {}
    batch: list[str] = []
    created: list[str | None] = []

    def flush() -> None:
        if not batch:
            return
        statements = list(batch)
        batch.clear()

        def write() -> None:
            with graph.driver.session(database=graph.database) as session, session.begin_transaction() as tx:
                for statement in statements:
                    with run.step(f"cypher: {statement[:120]}"):
                        tx.run(statement, params).consume()
                tx.commit()

        run.checkpoint(f"cypher: {len(statements)} write(s) in one transaction, from {statements[0][:80]}", write)

    def autocommit_statement(statement: str) -> None:
        with graph.driver.session(database=graph.database) as session:
            session.run(statement, params).consume()

    for statement in statements:
        if is_schema(statement):
            flush()
            run.checkpoint(f"cypher: {statement[:120]}",
                           lambda s=statement: graph.driver.execute_query(s, params, database_=graph.database))
            if creates_schema(statement):
                created.append(created_name(statement))
        elif autocommit or needs_autocommit(statement):
            flush()
            run.checkpoint(f"cypher: {statement[:120]}", lambda s=statement: autocommit_statement(s))
        else:
            batch.append(statement)
    flush()
    if created:
        names = None if None in created else {n for n in created if n}
        with run.step("wait for neo4j indexes to come ONLINE"):
            await_indexes(graph, names)


@Operations.implementation_for(CypherOp)
def run_cypher_op(operations: Operations, operation: CypherOp) -> None:
    statements = operation.statements()
    ctx = operations.migration_context
    if ctx.as_sql:
        for statement in statements:
            ctx.impl.static_output(render(statement))
        return
    run = run_of(operations)
    execute_statements(run.connections.get("neo4j"), statements, run, operation.parameters,
                       operation.autocommit)
