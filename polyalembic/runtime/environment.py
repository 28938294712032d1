"""The body of ``migrations/env.py``: connect, lock, bind revisions to their stores, migrate."""

from __future__ import annotations

import logging
from typing import Any

from polyalembic import sql
from polyalembic.ledger import Ledger
from polyalembic.lock import migration_lock
from polyalembic.runner import Runner
from polyalembic.runtime.steps import StepExecutor
from polyalembic.settings import mask_dsn, settings_for, sqlalchemy_url
from polyalembic.stores import get_store, register_all_ops

log = logging.getLogger("polyalembic")


def run(context: Any = None) -> None:
    """Run the migrations Alembic asked for, online or (``--sql``) offline."""
    if context is None:
        from alembic import context
    register_all_ops()
    settings = context.config.attributes.get("polyalembic_settings") or settings_for(context.config)
    runner = Runner(settings)
    try:
        if context.is_offline_mode():
            _run_offline(context, runner)
        else:
            _run_online(context, runner)
    finally:
        runner.close()


def _configure_kwargs(executor: StepExecutor, runner: Runner) -> dict[str, Any]:
    return dict(transaction_per_migration=True, on_version_apply=executor.on_version_apply,
                polyalembic_runner=runner, target_metadata=None)


def _run_offline(context: Any, runner: Runner) -> None:
    """``--sql``: render every store's work as text; connect to nothing."""
    ledger_dsn = runner.settings.ledger_dsn
    executor = StepExecutor(runner, Ledger(), status_execute=None)
    executor.bind(context.script)
    url = sqlalchemy_url(ledger_dsn) if ledger_dsn else "postgresql+psycopg://"
    context.configure(url=url, literal_binds=True, **_configure_kwargs(executor, runner))
    context.get_context().impl.static_output(
        f"-- polyalembic: ledger schema_migrations on {mask_dsn(ledger_dsn) or '(ledger database)'}")
    with context.begin_transaction():
        Ledger.ensure_tables(context.execute)
        context.run_migrations()


def preflight(migration_context: Any, executor: StepExecutor) -> None:
    """Connect to every store the coming steps need, before the first one runs, so an
    unreachable store, wrong credentials or a missing extension stop the run with nothing applied."""
    steps_fn = getattr(migration_context, "_migrations_fn", None)
    # Only Alembic's upgrade/downgrade commands compute steps without side effects (`current`
    # prints from its function); anything else connects lazily.
    if getattr(steps_fn, "__name__", None) not in ("upgrade", "downgrade"):
        return
    heads = migration_context.get_current_heads()
    stores: list[str] = []
    for step in steps_fn(heads, migration_context):
        script = getattr(step, "revision", None)  # RevisionStep; a StampStep runs nothing
        m = executor.migrations.get(getattr(script, "revision", ""))
        if m and m.store not in stores:
            stores.append(m.store)
    for store in stores:
        if executor.in_ledger_transaction(store):
            verify = getattr(get_store(store).module("connection"), "verify", None)
            if verify:
                verify(migration_context.connection, executor.settings)
        else:
            executor.runner.connection(store)


def _run_online(context: Any, runner: Runner) -> None:
    """Hold the advisory lock on its own connection; migrate on a second one."""
    ledger_dsn = runner.settings.ledger_dsn
    status_connection = sql.connect_ledger(ledger_dsn, autocommit=True)
    try:
        with migration_lock(status_connection, on_wait=lambda msg: log.warning("polyalembic: %s", msg)):
            Ledger.ensure_tables(status_connection.execute)
            executor = StepExecutor(runner, Ledger(), status_execute=status_connection.execute,
                                    reporter=context.config.attributes.get("polyalembic_reporter"))
            executor.bind(context.script)
            with sql.connect_ledger(ledger_dsn) as connection:
                context.configure(connection=connection, **_configure_kwargs(executor, runner))
                preflight(context.get_context(), executor)
                with context.begin_transaction():
                    context.run_migrations()
    finally:
        status_connection.close()
