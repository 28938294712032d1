"""Runs each revision against its own store; the ledger rows come from ``recording.py``.

Alembic calls a revision's ``upgrade()``/``downgrade()`` on the ledger database's connection.
``StepExecutor.bind`` wraps those functions so that each runs where its store lives:

- a revision of a transactional store whose database is the ledger's runs as Alembic runs it;
- a revision of a transactional store on another database runs in its own migration context
  and transaction on that database, which also writes its step marker (``SqlStore.mark_step``):
  a kill after that commit and before the ledger's update is resumed without running it again;
- any other revision runs its ops, which reach their store through the run's connections.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic.runtime.migration import MigrationContext

from polyalembic.chain.loader import from_scripts
from polyalembic.chain.migration import Migration
from polyalembic.chain.positions import refuse_irreversible
from polyalembic.errors import MayHavePartlyRun, MigrationFailed, PolyalembicError
from polyalembic.options import x_argument
from polyalembic.pairs import ONE_BATCH
from polyalembic.project import load_error
from polyalembic.request import RunRequest
from polyalembic.runtime.alembic_internals import current_context, operations_on
from polyalembic.runtime.recording import Recorder
from polyalembic.settings import Settings
from polyalembic.stores import get_store
from polyalembic.stores.current_run import OPTION, WHOLE_MIGRATION, Run, crash_point
from polyalembic.stores.sql.store import SqlStore, is_transactional

log = logging.getLogger("polyalembic")


class StepExecutor:
    """Wraps revision functions (see module doc) and tells the run's request each migration's
    outcome (none is told while rendering ``--sql``)."""

    def __init__(self, run: Run, recorder: Recorder, request: RunRequest | None = None) -> None:
        self.run = run
        self.recorder = recorder
        self.request = request or RunRequest()
        self.migrations: dict[str, Migration] = {}
        self.timings_ms: dict[str, int] = {}
        # stores whose migrations this run applied or reverted, and those whose migration failed
        # (recording.py's rule 8 decides which get their snapshot recorded)
        self.touched: dict[str, None] = {}
        self.failed_stores: set[str] = set()
        self._marking: set[str] = set()  # the other databases this run has written a step marker in

    @property
    def settings(self) -> Settings:
        return self.run.connections.settings

    def bind(self, script_directory: Any, indexed: dict[Path, Any] | None = None,
             folder_stores: dict[str, str] | None = None) -> None:
        """Wrap every revision's upgrade/downgrade of ``script_directory`` (loading it: a revision
        that fails to load is named, before anything runs); ``indexed``: the index's entries by
        path (checksums and pair files the run need not read again); ``folder_stores``: the
        stores alembic.ini declares for version folders."""
        try:
            scripts = list(script_directory.walk_revisions("base", "heads"))
        except PolyalembicError:
            raise
        except Exception as exc:  # noqa: BLE001 - a revision that does not load is a user error
            raise load_error(exc) from None
        by_id = {script.revision: script for script in scripts}
        for migration in from_scripts(scripts, indexed, folder_stores):  # the history's order
            self.migrations[migration.revision] = migration
            module = by_id[migration.revision].module
            for name, upgrade in (("upgrade", True), ("downgrade", False)):
                fn = getattr(module, name, None)
                if fn is None and not upgrade:  # an irreversible revision: Alembic's planning still asks for it
                    setattr(module, name, lambda m=migration, **_: refuse_irreversible([m]))
                if fn is None:
                    continue
                fn = getattr(fn, "__polyalembic_original__", fn)
                setattr(module, name, self._wrap(migration, fn, upgrade))

    def _wrap(self, migration: Migration, fn: Callable[..., None], upgrade: bool) -> Callable[..., None]:
        @functools.wraps(fn)
        def step(**kw: Any) -> None:
            self.execute(migration, fn, upgrade, kw)

        step.__polyalembic_original__ = fn  # type: ignore[attr-defined]
        return step

    def execute(self, m: Migration, fn: Callable[..., None], upgrade: bool, kw: dict[str, Any]) -> None:
        """Run one revision function where its store lives; a failure is recorded and re-raised
        as one masked line naming the migration and the step."""
        ctx = current_context()
        started = time.perf_counter()
        self.run.events.migration_started(m.revision, m.store, m.migration_file)
        self.recorder.starting(ctx, m, upgrade, one_batch=getattr(fn, ONE_BATCH, False))
        try:
            if is_transactional(get_store(m.store)) and not self.recorder.in_ledger_transaction(m.store):
                self._run_on_own_database(m, fn, kw, ctx, upgrade)
            else:
                fn(**kw)
        except MayHavePartlyRun as refusal:  # nothing ran: the row stays as the interruption left it
            failure = MigrationFailed(f"{m.store} migration {m.migration_file} ({m.revision}): {refusal}")
            self.run.events.migration_failed(str(failure), self.run.current_step, 0)
            raise failure from None
        except Exception as exc:
            ms = int((time.perf_counter() - started) * 1000)
            error = self.settings.mask(f"{type(exc).__name__}: {exc}".strip())
            step, self.run.current_step = self.run.current_step, None
            step = self.settings.mask(step) if step else step  # a statement may hold a password
            unrecorded = self._record_failure(ctx, m, upgrade, error, step, ms)
            if not ctx.as_sql:
                self.failed_stores.add(m.store)
            if not ctx.as_sql:
                self.request.record("failed", m, ms)
            where = f" at step [{step}]" if step else ""
            direction = "upgrade" if upgrade else "downgrade"
            next_move = _next_move(m, upgrade, self.run.committed_early)
            failure = MigrationFailed(f"{m.store} migration {m.migration_file} ({m.revision}) {direction} "
                                      f"failed{where}: {error.splitlines()[0]}: {next_move}{unrecorded}")
            self.run.events.migration_failed(str(failure), step, ms)
            raise failure from exc
        finally:
            self.recorder.finished_function()
        self.timings_ms[m.revision] = int((time.perf_counter() - started) * 1000)

    def _record_failure(self, ctx: MigrationContext, m: Migration, upgrade: bool, error: str, step: str | None,
                        ms: int) -> str:
        """The failure in the ledger; when the ledger's session is gone too (the server restarted,
        the backend was terminated: what failed the migration), what the user is told instead of
        a second error hiding the first."""
        try:
            self.recorder.failed(ctx, m, upgrade, error, step, ms)
        except sa.exc.DBAPIError as lost:
            if not lost.connection_invalidated:
                raise
            reason = self.settings.mask(str(lost.orig or lost).strip().splitlines()[0])
            return f" (the ledger could not record it: its connection was lost too: {reason})"
        return ""

    def _run_on_own_database(self, m: Migration, fn: Callable[..., None], kw: dict[str, Any],
                             ctx: MigrationContext, upgrade: bool) -> None:
        """A revision of a SQL store whose database is not the ledger's: its own context and
        transaction. An upgrade that is one transaction writes its marker in it (``WHOLE_MIGRATION``)."""
        if ctx.as_sql:
            ctx.impl.static_output(f"-- [{m.store}] the statements of {m.migration_file} run on "
                                   f"{self.settings.location(m.store)}")
            fn(**kw)
            return
        spec = get_store(m.store)
        assert isinstance(spec, SqlStore)
        connection = self.run.connections.get(m.store)
        sub = MigrationContext.configure(connection=connection, opts={
            OPTION: self.run, "transaction_per_migration": True})
        marked = upgrade and m.runs_as_one_transaction()
        if marked and self.run.committed_whole():
            log.warning("polyalembic: skipped (committed before the interruption, the store says): %s, its "
                        "transaction on %s", m.migration_file, m.store)
            return
        try:
            with operations_on(sub), sub.begin_transaction(_per_migration=True):
                fn(**kw)
                if marked:
                    spec.mark_step(connection, m.revision, WHOLE_MIGRATION, first=m.store not in self._marking)
        finally:
            if connection.in_transaction():
                connection.rollback()
        if marked:
            self._marking.add(m.store)
            crash_point("store-committed", m.revision)

    def on_version_apply(self, ctx: MigrationContext, step: Any, heads: Any, run_args: Any) -> None:
        """Alembic's hook, inside the migration's transaction on the ledger database."""
        del heads, run_args
        if step.is_stamp:
            self._record_stamp(ctx, step)
            return
        m = self.migrations[step.up_revision_id]
        ms = None if ctx.as_sql else self.timings_ms.pop(m.revision, None)
        self.recorder.finished(ctx, m, step.is_upgrade, ms)
        if not ctx.as_sql:
            self.touched[m.store] = None
        if not ctx.as_sql:
            self.request.record("applied" if step.is_upgrade else "reverted", m, ms)
        self.run.events.migration_finished("applied" if step.is_upgrade else "reverted", ms)

    def allow_backwards(self) -> bool:
        """``polyalembic stamp --backwards``, or ``-x stamp_backwards=yes`` for Alembic's own stamp."""
        return self.request.allow_backwards or x_argument("stamp_backwards") == "yes"

    def _record_stamp(self, ctx: MigrationContext, step: Any) -> None:
        """``stamp``: every revision between source and destination is recorded (or removed)."""
        revmap = step.revision_map
        if not step.is_upgrade and not ctx.as_sql and not self.allow_backwards():
            raise PolyalembicError("stamp would move the ledger back (un-stamp applied migrations whose changes "
                                   "stay in the stores): use `polyalembic stamp REV --backwards`, or "
                                   "`-x stamp_backwards=yes` with alembic stamp")
        if step.is_upgrade:
            upper, lower = step.destination_revision_ids, step.source_revision_ids or ("base",)
        else:
            upper, lower = step.source_revision_ids, step.destination_revision_ids or ("base",)
        for script in revmap.iterate_revisions(upper, lower, implicit_base=True):
            m = self.migrations[script.revision]
            self.recorder.stamped(ctx, m, step.is_upgrade)
            if not ctx.as_sql:
                self.request.record("stamped" if step.is_upgrade else "unstamped", m, None)


def _next_move(m: Migration, upgrade: bool, committed_early: bool) -> str:
    """What the user does after a failed migration: a rolled-back one is simply run again; one that
    may have left work behind (it commits as it goes, or it committed early) waits for ``repair``'s
    decision."""
    if m.runs_as_one_transaction(upgrade=upgrade) and not committed_early:
        return "its transaction was rolled back; fix the cause and run it again"
    if not upgrade:
        return "fix the cause, then run down again (`polyalembic status` shows where it stopped)"
    return f"fix the cause, then `polyalembic repair resume {m.revision}` (or retry)"
