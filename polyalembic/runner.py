"""The runner: lazily opened store connections, the step being executed, per-revision timings.

One Runner lives for one command. Op implementations reach it through the migration context's
options (``operations.migration_context.opts["polyalembic_runner"]``) and ask it for the
connection of their store; neo4j and chromadb are imported only at that moment.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from polyalembic.settings import Settings
from polyalembic.stores import get_store

log = logging.getLogger("polyalembic")


class Runner:
    """Holds the connections of one polyalembic run and closes them at the end."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._handles: dict[str, Any] = {}
        self.current_step: str | None = None
        self.timings_ms: dict[str, int] = {}
        # Set by the step executor while a migration runs in the ledger's transaction: called
        # (once) before an op commits early, so the ledger says `running` from then on.
        self.before_early_commit: Callable[[], None] | None = None

    def committing_early(self) -> None:
        """An op is about to commit outside the migration's transaction (autocommit block)."""
        hook, self.before_early_commit = self.before_early_commit, None
        if hook:
            hook()

    def connection(self, store: str) -> Any:
        """The open connection of ``store`` (opened on first use)."""
        if store not in self._handles:
            module = get_store(store).module("connection")
            log.info("connecting to %s at %s", store, self.settings.describe(store))
            self._handles[store] = module.connect(self.settings)
        return self._handles[store]

    def is_open(self, store: str) -> bool:
        return store in self._handles

    @contextmanager
    def step(self, description: str) -> Iterator[None]:
        """Name the step being executed, so a failure can be recorded against it."""
        outer, self.current_step = self.current_step, description
        yield  # on an exception the inner step stays, for the failure record
        self.current_step = outer

    def close(self) -> None:
        """Close every connection this run opened (errors while closing are logged, not raised)."""
        for store, handle in reversed(list(self._handles.items())):
            try:
                get_store(store).module("connection").close(handle)
            except Exception as exc:  # noqa: BLE001 - closing must not hide the real outcome
                log.debug("closing %s failed: %s", store, exc)
        self._handles.clear()


def runner_of(operations: Any) -> Runner:
    """The Runner bound to an ``Operations`` object's migration context."""
    runner = operations.migration_context.opts.get("polyalembic_runner")
    if runner is None:
        from polyalembic.errors import PolyalembicError

        raise PolyalembicError("polyalembic ops need migrations/env.py to call polyalembic.runtime.run()")
    return runner
