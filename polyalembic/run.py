"""What one migration run shares with the op implementations.

Op implementations reach it through the migration context's options
(``run_of(operations)``): the store connections, and the step being executed, so that a failure
is recorded against the statement or op that raised.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the op implementations import this module: it stays below the registry
    from polyalembic.connections import StoreConnections

OPTION = "polyalembic_run"


@dataclass
class Run:
    """The connections and the current step of one run."""

    connections: StoreConnections
    current_step: str | None = None
    # set by the recorder while a migration runs in the ledger's transaction: called (once)
    # before an op commits early, so the ledger says `running` from then on
    before_early_commit: Callable[[], None] | None = field(default=None, repr=False)

    @contextmanager
    def step(self, description: str) -> Iterator[None]:
        """Name the step being executed, so a failure can be recorded against it."""
        outer, self.current_step = self.current_step, description
        yield  # on an exception the inner step stays, for the failure record
        self.current_step = outer

    def committing_early(self) -> None:
        """An op is about to commit outside the migration's transaction (autocommit block)."""
        hook, self.before_early_commit = self.before_early_commit, None
        if hook:
            hook()


def run_of(operations: Any) -> Run:
    """The Run bound to an ``Operations`` object's migration context."""
    run = operations.migration_context.opts.get(OPTION)
    if run is None:
        from polyalembic.errors import PolyalembicError

        raise PolyalembicError("polyalembic ops need migrations/env.py to call polyalembic.runtime.run()")
    return run
