"""Executes (or renders, under ``--sql``) the TimescaleDB ops on the revision's connection."""

from __future__ import annotations

from alembic.operations import Operations

from polyalembic.stores.postgres.impl import execute_sql
from polyalembic.stores.timescaledb.ops import TimescaleOp


@Operations.implementation_for(TimescaleOp)
def run_timescale_op(operations: Operations, operation: TimescaleOp) -> None:
    ctx = operations.migration_context
    if operation.autocommit and ctx.as_sql:
        with ctx.autocommit_block():
            for sql in operation.statements():
                execute_sql(operations, sql, operation.step_name())
        return
    for sql in operation.statements():
        execute_sql(operations, sql, f"{operation.step_name()}: {sql.splitlines()[0][:80]}",
                    autocommit=operation.autocommit)
