"""Runs each revision against its own store and records it in the ledger.

Alembic calls a revision's ``upgrade()``/``downgrade()`` on the ledger database's connection.
``StepExecutor.bind`` wraps those functions so that each runs where its store lives:

- a SQL revision whose database is the ledger's runs as Alembic runs it (one transaction with
  its ledger row, written by ``on_version_apply``);
- a SQL revision on another database runs in its own migration context on that database;
- a Neo4j or ChromaDB revision runs its ops, which reach their store through the runner.

Every migration that is not in the ledger's transaction gets a ``running`` row committed before
it starts, and ``failed`` (with the error and the step) if it raises.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from typing import Any

from alembic import op as op_proxy
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext

from polyalembic.errors import MigrationFailed
from polyalembic.ledger import Execute, Ledger
from polyalembic.migration import Migration
from polyalembic.runner import Runner
from polyalembic.settings import Settings, mask_text
from polyalembic.stores import get_store


class StepExecutor:
    """Wraps revision functions (see module doc) and writes the ledger from ``on_version_apply``."""

    def __init__(self, runner: Runner, ledger: Ledger, status_execute: Execute | None,
                 reporter: Callable[[str, Migration, int | None], None] | None = None) -> None:
        self.runner = runner
        self.reporter = reporter
        self.ledger = ledger
        self.status_execute = status_execute
        self.migrations: dict[str, Migration] = {}
        self.timings_ms: dict[str, int] = {}

    @property
    def settings(self) -> Settings:
        return self.runner.settings

    def bind(self, script_directory: Any) -> None:
        """Wrap every revision's upgrade/downgrade of ``script_directory``."""
        for script in script_directory.walk_revisions("base", "heads"):
            migration = Migration.from_script(script)
            self.migrations[script.revision] = migration
            module = script.module
            for name, upgrade in (("upgrade", True), ("downgrade", False)):
                fn = getattr(module, name, None)
                if fn is None:
                    continue
                fn = getattr(fn, "__polyalembic_original__", fn)
                setattr(module, name, self._wrap(migration, fn, upgrade))

    def _wrap(self, migration: Migration, fn: Callable[..., None], upgrade: bool) -> Callable[..., None]:
        @functools.wraps(fn)
        def step(**kw: Any) -> None:
            self.run(migration, fn, upgrade, kw)

        step.__polyalembic_original__ = fn  # type: ignore[attr-defined]
        return step

    def _status(self, ctx: MigrationContext) -> Execute:
        return self.status_execute or ctx.execute

    def in_ledger_transaction(self, store: str) -> bool:
        return get_store(store).is_sql and self.settings.shares_ledger_database(store)

    def run(self, m: Migration, fn: Callable[..., None], upgrade: bool, kw: dict[str, Any]) -> None:
        """Run one revision function where its store lives; record failures."""
        ctx = op_proxy.get_context()
        started = time.perf_counter()
        in_tx = self.in_ledger_transaction(m.store)
        if upgrade and (not in_tx or m.commits_early()):
            self.ledger.running(self._status(ctx), m)
        elif upgrade and not ctx.as_sql:
            # a Python revision may still commit early (an op's autocommit block): record
            # `running` at that moment, once
            self.runner.before_early_commit = lambda: self.ledger.running(self._status(ctx), m)
        try:
            if get_store(m.store).is_sql and not in_tx:
                self._run_on_own_database(m, fn, kw, ctx)
            else:
                fn(**kw)
        except Exception as exc:
            ms = int((time.perf_counter() - started) * 1000)
            error = mask_text(f"{type(exc).__name__}: {exc}".strip(), (self.settings.neo4j_password,))
            first_line = error.splitlines()[0]
            step = self.runner.current_step
            self.runner.current_step = None
            if not ctx.as_sql:
                # a downgrade that ran in one transaction was rolled back whole: still applied
                partial = not get_store(m.store).is_sql or m.commits_early(upgrade=False)
                if upgrade or partial:  # the store may be half changed: say so
                    self.ledger.failed(self._status(ctx), m, error, step, ms, upgrade)
                else:
                    self.ledger.downgrade_failed(self._status(ctx), m, error, ms)
                if self.reporter:
                    self.reporter("failed", m, ms)
            where = f" at step [{step}]" if step else ""
            direction = "upgrade" if upgrade else "downgrade"
            raise MigrationFailed(f"{m.store} migration {m.migration_file} ({m.revision}) {direction} "
                                  f"failed{where}: {first_line}") from exc
        finally:
            self.runner.before_early_commit = None
        self.timings_ms[m.revision] = int((time.perf_counter() - started) * 1000)

    def _run_on_own_database(self, m: Migration, fn: Callable[..., None], kw: dict[str, Any],
                             ctx: MigrationContext) -> None:
        """A SQL revision whose database is not the ledger's: its own context and transaction."""
        if ctx.as_sql:
            ctx.impl.static_output(f"-- [{m.store}] the statements of {m.migration_file} run on "
                                   f"{self.settings.describe(m.store)}")
            fn(**kw)
            return
        connection = self.runner.connection(m.store)
        sub = MigrationContext.configure(connection=connection, opts={
            "polyalembic_runner": self.runner, "transaction_per_migration": True})
        outer = op_proxy._proxy  # type: ignore[attr-defined]
        try:
            with Operations.context(sub), sub.begin_transaction(_per_migration=True):
                fn(**kw)
        finally:
            if connection.in_transaction():
                connection.rollback()
            outer._install_proxy()

    def on_version_apply(self, ctx: MigrationContext, step: Any, heads: Any, run_args: Any) -> None:
        """Alembic's hook, inside the migration's transaction: write applied / delete the row."""
        del heads, run_args
        if step.is_stamp:
            self._record_stamp(ctx, step)
            return
        m = self.migrations[step.up_revision_id]
        ms = None if ctx.as_sql else self.timings_ms.pop(m.revision, None)
        if step.is_upgrade:
            self.ledger.applied(ctx.execute, m, ms)
        else:
            self.ledger.reverted(ctx.execute, m, ms)
        if self.reporter and not ctx.as_sql:
            self.reporter("applied" if step.is_upgrade else "reverted", m, ms)

    def _record_stamp(self, ctx: MigrationContext, step: Any) -> None:
        """``stamp``: every revision between source and destination is recorded (or removed)."""
        revmap = step.revision_map
        if step.is_upgrade:
            upper, lower = step.destination_revision_ids, step.source_revision_ids or ("base",)
        else:
            upper, lower = step.source_revision_ids, step.destination_revision_ids or ("base",)
        revisions = [r.revision for r in revmap.iterate_revisions(upper, lower, implicit_base=True)]
        for rev in revisions:
            m = self.migrations[rev]
            if step.is_upgrade:
                self.ledger.applied(ctx.execute, m, None, action="stamp")
            else:
                self.ledger.reverted(ctx.execute, m, None, action="unstamp")
            if self.reporter and not ctx.as_sql:
                self.reporter("stamped" if step.is_upgrade else "unstamped", m, None)
