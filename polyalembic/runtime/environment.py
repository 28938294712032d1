"""The body of ``migrations/env.py``: connect, lock, bind revisions to their stores, migrate."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from polyalembic import ledger_schema
from polyalembic.connections import StoreConnections
from polyalembic.dsn import sqlalchemy_url
from polyalembic.ledger import Ledger, connect_ledger, read_rows
from polyalembic.lock import migration_lock
from polyalembic.masking import mask_dsn
from polyalembic.run import OPTION, Run
from polyalembic.runtime.alembic_internals import planned_command, planned_revisions
from polyalembic.runtime.preconditions import file_problems, refuse_interrupted, refuse_invalid
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
    output = context.get_context().impl.static_output
    output(f"-- polyalembic: ledger schema_migrations on {mask_dsn(ledger_dsn) or '(ledger database)'}")
    for problem in file_problems(Path(context.script.dir), list(executor.migrations.values()), [], upgrade=False):
        output(f"-- polyalembic: PROBLEM (a real run refuses): {problem}")
    with context.begin_transaction():
        ledger_schema.render(context.execute)
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


def lock_timeout(config: Any) -> float | None:
    """Seconds to wait for the migration lock: ``--lock-timeout``, ``-x lock_timeout=``,
    ``POLYALEMBIC_LOCK_TIMEOUT``; None (the default) waits as long as it takes."""
    from polyalembic.errors import PolyalembicError
    from polyalembic.options import option

    value = config.attributes.get("polyalembic_lock_timeout") or option("lock_timeout")
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if seconds < 0:
        raise PolyalembicError(f"lock timeout must be a number of seconds >= 0, got {value!r}")
    return seconds


def _run_online(context: Any, state: Run) -> None:
    """Hold the advisory lock on its own connection; migrate on a second one."""
    settings = state.connections.settings
    status_connection = connect_ledger(settings, autocommit=True)
    try:
        with migration_lock(status_connection, on_wait=lambda msg: log.warning("polyalembic: %s", msg),
                            timeout=lock_timeout(context.config)):
            ledger_schema.ensure(status_connection)
            rows = read_rows(status_connection)
            # `polyalembic repair resume|retry REV` releases one half-done migration for this run
            release = context.config.attributes.get("polyalembic_release") or {}
            resume = {rev: (next((r.completed_steps or 0 for r in rows if r.revision == rev), 0)
                            if how == "resume" else 0) for rev, how in release.items()}
            recorder = Recorder(Ledger(), settings, state, status_execute=status_connection.execute, resume=resume)
            executor = StepExecutor(state, recorder, reporter=context.config.attributes.get("polyalembic_reporter"))
            executor.bind(context.script)
            with connect_ledger(settings) as connection:
                context.configure(connection=connection, **_configure_kwargs(executor, state))
                planned = planned_command(context.get_context())
                if planned:
                    refuse_invalid(file_problems(Path(context.script.dir), list(executor.migrations.values()), rows,
                                                 upgrade=planned == "upgrade"))
                if planned == "upgrade":
                    refuse_interrupted(rows, set(release))
                preflight(context.get_context(), executor)
                with context.begin_transaction():
                    context.run_migrations()
    finally:
        status_connection.close()
