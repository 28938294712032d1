"""Executes (or renders, under ``--sql``) the TimescaleDB ops on the revision's connection."""

from __future__ import annotations

from alembic.operations import Operations

from polyalembic.stores.current_run import run_of
from polyalembic.stores.postgres.impl import execute_sql
from polyalembic.stores.timescaledb.ops import ChunkWalk, TimescaleOp, literal


@Operations.implementation_for(TimescaleOp)
def run_timescale_op(operations: Operations, operation: TimescaleOp) -> None:
    ctx = operations.migration_context
    if operation.autocommit and ctx.as_sql:
        with ctx.autocommit_block():
            for sql in operation.statements():
                execute_sql(operations, sql, operation.step_name())
        return
    walk = None if ctx.as_sql else operation.chunk_walk()
    for position, sql in enumerate(operation.statements()):
        description = f"{operation.step_name()}: {sql.splitlines()[0][:80]}"
        if walk is not None and position == walk.position:
            walk_chunks(operations, walk, operation.step_name())
        else:
            execute_sql(operations, sql, description, autocommit=operation.autocommit)


def walk_chunks(operations: Operations, walk: ChunkWalk, step_name: str) -> None:
    """``walk.statement`` for each chunk of ``walk.table``, oldest first, counted for the run's progress."""
    run = run_of(operations)
    listing = f"SELECT c::text FROM show_chunks({literal(walk.table)}) c"
    with run.step(f"{step_name}: {listing}"):
        chunks = operations.migration_context.connection.exec_driver_sql(listing).scalars().all()
    with run.progress(walk.task, len(chunks), "chunks") as progress:
        for chunk in chunks:
            execute_sql(operations, walk.statement(chunk), f"{step_name}: {walk.task}, chunk {chunk}")
            progress.advance()
