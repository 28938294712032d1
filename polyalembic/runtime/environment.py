"""The body of ``migrations/env.py``: connect, lock, bind revisions to their stores, migrate."""

from __future__ import annotations

import logging
from typing import Any

from polyalembic.connections import StoreConnections
from polyalembic.dsn import sqlalchemy_url
from polyalembic.ledger import Ledger, connect_ledger
from polyalembic.lock import migration_lock
from polyalembic.masking import mask_dsn
from polyalembic.run import OPTION, Run
from polyalembic.runtime.alembic_internals import planned_revisions
from polyalembic.runtime.recording import Recorder
from polyalembic.runtime.steps import StepExecutor
from polyalembic.settings import settings_for
from polyalembic.stores import get_store, register_all_ops

log = logging.getLogger("polyalembic")


def run(context: Any = None) -> None:
    """Run the migrations Alembic asked for, online or (``--sql``) offline."""
    if context is None:
        from alembic import context
    register_all_ops()
    settings = context.config.attributes.get("polyalembic_settings") or settings_for(context.config)
    state = Run(StoreConnections(settings))
    try:
        if context.is_offline_mode():
            _run_offline(context, state)
        else:
            _run_online(context, state)
    finally:
        state.connections.close()


def _configure_kwargs(executor: StepExecutor, state: Run) -> dict[str, Any]:
    return {"transaction_per_migration": True, "on_version_apply": executor.on_version_apply,
            OPTION: state, "target_metadata": None}


def _run_offline(context: Any, state: Run) -> None:
    """``--sql``: render every store's work as text; connect to nothing."""
    settings = state.connections.settings
    ledger_dsn = settings.ledger_dsn
    executor = StepExecutor(state, Recorder(Ledger(), settings, state, status_execute=None))
    executor.bind(context.script)
    url = sqlalchemy_url(ledger_dsn) if ledger_dsn else "postgresql+psycopg://"
    context.configure(url=url, literal_binds=True, **_configure_kwargs(executor, state))
    context.get_context().impl.static_output(
        f"-- polyalembic: ledger schema_migrations on {mask_dsn(ledger_dsn) or '(ledger database)'}")
    with context.begin_transaction():
        Ledger.ensure_tables(context.execute)
        context.run_migrations()


def preflight(migration_context: Any, executor: StepExecutor) -> None:
    """Connect to every store the coming steps need, before the first one runs, so an
    unreachable store, wrong credentials or a missing extension stop the run with nothing applied."""
    revisions = planned_revisions(migration_context)
    if revisions is None:  # not an upgrade or downgrade: connect lazily
        return
    stores = list(dict.fromkeys(executor.migrations[r].store for r in revisions if r in executor.migrations))
    for store in stores:
        if executor.recorder.in_ledger_transaction(store):
            get_store(store).verify(migration_context.connection, executor.settings)
        else:
            executor.run.connections.get(store)


def _run_online(context: Any, state: Run) -> None:
    """Hold the advisory lock on its own connection; migrate on a second one."""
    settings = state.connections.settings
    status_connection = connect_ledger(settings, autocommit=True)
    try:
        with migration_lock(status_connection, on_wait=lambda msg: log.warning("polyalembic: %s", msg)):
            Ledger.ensure_tables(status_connection.execute)
            recorder = Recorder(Ledger(), settings, state, status_execute=status_connection.execute)
            executor = StepExecutor(state, recorder, reporter=context.config.attributes.get("polyalembic_reporter"))
            executor.bind(context.script)
            with connect_ledger(settings) as connection:
                context.configure(connection=connection, **_configure_kwargs(executor, state))
                preflight(context.get_context(), executor)
                with context.begin_transaction():
                    context.run_migrations()
    finally:
        status_connection.close()
