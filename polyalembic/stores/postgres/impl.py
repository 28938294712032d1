"""Executes (or renders, under ``--sql``) the SQL-store ops.

Lazy imports: pglast, only for a statement that must be split."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.operations import Operations

from polyalembic.stores.current_run import run_of
from polyalembic.stores.postgres.ops import RunSqlFileOp
from polyalembic.stores.postgres.store import runs_outside_transaction


def execute_sql(operations: Operations, sql: str, description: str, autocommit: bool = False,
                with_trailer: bool = False) -> None:
    """Run raw SQL on the revision's connection, or write it to the ``--sql`` output;
    ``with_trailer``: the recorder's trailer (``Run.trailer``) goes in the same round trip."""
    ctx = operations.migration_context
    if ctx.as_sql:
        ctx.impl.static_output(sql.rstrip() + ("" if sql.rstrip().endswith(";") else ";"))
        return
    # no_parameters: the DBAPI gets the text as it is (psycopg would read "%" as a placeholder)
    options = {"no_parameters": True}
    run = run_of(operations)
    if not autocommit:
        trailer = run.take_trailer(sql) if with_trailer else None
        with run.step(description):
            # a newline ends a trailing -- comment; the statements run as one implicit batch
            _execute(ctx.connection, sql if trailer is None else f"{sql}\n;\n{trailer}", options, run, description)
        run.trailer_sent = trailer is not None
        return

    def commit_on_its_own() -> None:
        with ctx.autocommit_block():
            _execute(ctx.connection, sql, options, run, description)

    run.committing_early()
    run.checkpoint(description, commit_on_its_own,
                   unsure_if_killed="a statement outside a transaction: stopped in its middle it may leave work "
                                    "behind, e.g. an INVALID index of CREATE INDEX CONCURRENTLY")


def _execute(connection: Any, sql: str, options: dict[str, Any], run: Any, description: str) -> None:
    """Execute; when PostgreSQL says where the error is, the step names that line and statement."""
    try:
        connection.exec_driver_sql(sql, execution_options=options)
    except sa.exc.DBAPIError as exc:
        position = getattr(getattr(exc.orig, "diag", None), "statement_position", None)
        if position:
            offset = int(position) - 1
            run.current_step = f"{description}, line {sql.count(chr(10), 0, offset) + 1}: {_statement_at(sql, offset)}"
        raise


def _statement_at(sql: str, offset: int) -> str:
    """The statement around character ``offset`` (between the semicolons that enclose it), shortened."""
    start = sql.rfind(";", 0, offset) + 1
    end = sql.find(";", offset)
    lines = [line.split("--", 1)[0] for line in sql[start:end if end != -1 else len(sql)].splitlines()]
    return " ".join(" ".join(lines).split())[:120]


@Operations.implementation_for(RunSqlFileOp)
def run_sql_file(operations: Operations, operation: RunSqlFileOp) -> None:
    sql = operation.read()  # once: a file per migration of a long history
    name = Path(operation.path).name
    if not sql.strip():
        return
    no_transaction = runs_outside_transaction(sql)
    if no_transaction and operations.migration_context.as_sql:
        with operations.migration_context.autocommit_block():
            execute_sql(operations, sql, f"run {name}")
        return
    if no_transaction:
        # PostgreSQL runs a multi-statement string as one implicit transaction: split it
        import pglast

        for statement in pglast.split(sql):
            execute_sql(operations, statement, f"run {name}: {statement.strip().splitlines()[0][:80]}",
                        autocommit=True)
        return
    execute_sql(operations, sql, f"run {name}", with_trailer=True)
