"""Executes the Neo4j ops with the driver, or prints their Cypher as comments under ``--sql``.

All statements of a run go through one session (``GraphConnection.session``). Schema statements
each run alone in an auto-commit transaction; consecutive data writes share one explicit
transaction, which also writes the step's marker (``markers.py``; a single write takes it as the
last clauses of its own auto-commit query): a resume never runs committed writes again.
``CALL {} IN TRANSACTIONS`` runs auto-commit, and a resume refuses to run it again blindly.
After an op creates indexes, the run waits until those it named are ONLINE (``db.awaitIndex``;
every index, ``db.awaitIndexes``, when a name is unknown or absent) and fails clearly on a
FAILED one. Constraints need no wait: their backing index is populated before CREATE
CONSTRAINT returns.

Lazy imports: the driver's exceptions, when a write runs (``--sql`` renders without the driver).
"""

from __future__ import annotations

import math
import os
from typing import Any

from alembic.operations import Operations

from polyalembic.events.stream import Progress
from polyalembic.stores.current_run import Run, run_of
from polyalembic.stores.neo4j.cypher import (
    CYPHER_VERSION_PREFIX,
    created_name,
    creates_index,
    is_schema,
    needs_autocommit,
)
from polyalembic.stores.neo4j.introspect import index_states
from polyalembic.stores.neo4j.markers import MARK, checkable, mark_parameters, step_in_place, with_marker
from polyalembic.stores.neo4j.ops import CypherOp
from polyalembic.stores.neo4j.store import GraphConnection

INDEX_TIMEOUT_S = float(os.environ.get("POLYALEMBIC_NEO4J_INDEX_TIMEOUT", "300"))


def render(statement: str) -> str:
    """A Cypher statement as a comment block of the ``--sql`` output."""
    body = "\n".join(f"--   {line}" for line in statement.strip().splitlines())
    return f"-- [neo4j]\n{body};"


class IndexFailed(RuntimeError):
    """An index went FAILED while populating, or did not come ONLINE in time."""


def await_indexes(graph: GraphConnection, names: set[str] | None = None,
                  timeout: float = INDEX_TIMEOUT_S) -> None:
    """Wait until the named indexes (all, when ``names`` is None or a name is unknown) are
    ONLINE; raise IndexFailed naming a FAILED one. The server does the waiting (one call per
    name, no polling); only when it reports a problem are the indexes read to name it."""
    seconds = max(1, math.ceil(timeout))
    session = graph.session()
    try:
        for name in sorted(names) if names is not None else ():
            try:
                session.run(CYPHER_VERSION_PREFIX + "CALL db.awaitIndex($name, $seconds)",
                            name=name, seconds=seconds).consume()
            except Exception as exc:
                if not getattr(exc, "code", "").endswith("IndexNotFound"):
                    raise
                # IF NOT EXISTS found an equivalent index under another name, which may
                # still be populating: wait for every index
                names = None
                break
        if names is None:
            session.run(CYPHER_VERSION_PREFIX + "CALL db.awaitIndexes($seconds)", seconds=seconds).consume()
    except Exception as exc:
        if not getattr(exc, "code", None):  # not the server's answer (a lost connection): as it is
            raise
        _raise_index_problem(graph, names, timeout)
        raise


def _raise_index_problem(graph: GraphConnection, names: set[str] | None, timeout: float) -> None:
    """Name the FAILED (or still populating) index among ``names`` (all when None)."""
    states = index_states(graph)
    if names is not None and names <= set(states):
        states = {n: s for n, s in states.items() if n in names}
    failed = {n: s for n, s in states.items() if s[0] == "FAILED"}
    if failed:
        name, (_, message) = next(iter(sorted(failed.items())))
        raise IndexFailed(f"neo4j index {name} FAILED: {message or 'no failure message'}") from None
    pending = sorted(n for n, s in states.items() if s[0] != "ONLINE")
    if pending:
        raise IndexFailed(f"neo4j indexes still not ONLINE after {timeout:.0f}s: {', '.join(pending)}") from None


def execute_statements(graph: GraphConnection, statements: list[str], run: Run,
                       parameters: dict[str, Any] | None = None, autocommit: bool = False) -> None:
    """Run statements with the transaction rules above, counting them for the run's progress."""
    with run.progress("cypher", len(statements), "statements") as progress:
        _execute(graph, statements, run, parameters or {}, autocommit, progress)


def _execute(graph: GraphConnection, statements: list[str], run: Run, params: dict[str, Any], autocommit: bool,
             progress: Progress) -> None:
    session = graph.session()
    batch: list[str] = []
    created: list[str | None] = []

    def run_alone(statement: str) -> None:
        """A schema statement or a ``CALL {} IN TRANSACTIONS`` in its own auto-commit transaction
        (neither can carry a marker), or one data write with its marker."""
        description = f"cypher: {statement[:120]}"
        if is_schema(statement):
            run.checkpoint(description, lambda: session.run(statement, params).consume(),
                           in_place=lambda: step_in_place(graph, statement), store_records=checkable(statement))
        elif autocommit or needs_autocommit(statement):
            run.checkpoint(description, lambda: session.run(statement, params).consume(),
                           unsure="it commits in transactions of its own, which carry no marker")
        else:
            run.checkpoint(description, lambda: write_with_its_marker(statement), store_records=True)
        progress.advance()

    def write_with_its_marker(statement: str) -> None:
        """One write and its marker as one query in one auto-commit transaction; a statement that
        can't take the marker as its last clauses, or whose query with it does not parse, gets it
        as a statement of its own."""
        from neo4j.exceptions import CypherSyntaxError

        query = with_marker(statement)
        if query is not None:
            try:
                session.run(query, params | mark_parameters(run.revision, run.position)).consume()
                return
            except CypherSyntaxError:  # nothing ran: the statement alone says what is wrong, if anything
                pass
        write_marked([statement], count=False)

    def write_marked(statements: list[str], count: bool = True) -> None:
        """The writes and the step's marker in one transaction: committed together or not at all."""
        with session.begin_transaction() as tx:
            tx.run(MARK, mark_parameters(run.revision, run.position))
            for statement in statements:
                with run.step(f"cypher: {statement[:120]}"):
                    tx.run(statement, params).consume()
                if count:
                    progress.advance()
            tx.commit()

    def flush() -> None:
        if not batch:
            return
        statements = list(batch)
        batch.clear()
        if len(statements) == 1:
            run_alone(statements[0])
            return
        run.checkpoint(f"cypher: {len(statements)} write(s) in one transaction, from {statements[0][:80]}",
                       lambda: write_marked(statements), store_records=True)

    for statement in statements:
        if is_schema(statement) or autocommit or needs_autocommit(statement):
            flush()
            run_alone(statement)
            if creates_index(statement):
                created.append(created_name(statement))
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
