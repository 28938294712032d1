"""What one migration run shares with the op implementations.

Op implementations reach it through the migration context's options
(``run_of(operations)``): the store connections, and the step being executed, so that a failure
is recorded against the statement or op that raised.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from polyalembic.errors import PolyalembicError
from polyalembic.events.stream import Events, Progress

if TYPE_CHECKING:  # the op implementations import this module: it stays below the registry
    from polyalembic.stores.connections import StoreConnections

OPTION = "polyalembic_run"
log = logging.getLogger("polyalembic")


@dataclass
class Run:
    """The connections and the current step of one run."""

    connections: StoreConnections
    current_step: str | None = None
    # set by the recorder for each migration: called (once) before an op commits outside the
    # migration's transaction, so the ledger says `running` (with its progress) from then on
    before_early_commit: Callable[[], None] | None = field(default=None, repr=False)
    # True once the current migration committed part of its work early (its failure is then no
    # rollback: the ledger says `running` or `failed` with its progress)
    committed_early: bool = False
    # the steps of the current migration that commit on their own (see ``checkpoint``)
    position: int = 0
    resume_after: int = 0
    on_progress: Callable[[int, str], None] | None = field(default=None, repr=False)
    # set by the recorder when the migration is one batch of statements in the ledger's
    # transaction: the SQL recording it (given the statements it follows), which the op may send
    # with that batch (one round trip less per migration); the op then sets ``trailer_sent``,
    # else the recorder writes it after
    trailer: Callable[[str], str] | None = field(default=None, repr=False)
    trailer_sent: bool = False
    # what the run tells while it runs (no-op unless --log-format json or a terminal)
    events: Events = field(default_factory=Events, repr=False)

    @contextmanager
    def step(self, description: str) -> Iterator[None]:
        """Name the step being executed, so a failure can be recorded against it (and, for a step
        that is not part of another, tell the events)."""
        outer, self.current_step = self.current_step, description
        if outer is None:
            self.events.step(description)
        yield  # on an exception the inner step stays, for the failure record
        self.current_step = outer

    def checkpoint(self, description: str, action: Callable[[], None]) -> None:
        """Run one step that commits on its own (a statement outside a transaction, a batch of
        Cypher writes, an op of a store without transactions). On a resume the steps completed
        before the interruption are skipped, never repeated; each completed step is recorded."""
        self.position += 1
        if self.position <= self.resume_after:
            log.warning("polyalembic: skipped (completed before the interruption): step %d, %s",
                        self.position, description[:120])
            return
        with self.step(description):
            action()
        if self.on_progress:
            self.on_progress(self.position, description)

    def take_trailer(self, sql: str) -> str | None:
        """The trailer to send after the migration's statements ``sql`` (once), if the recorder
        left one."""
        trailer, self.trailer = self.trailer, None
        return None if trailer is None else trailer(sql)

    def progress(self, task: str, total: int | None, unit: str) -> Progress:
        """The counter of a long step (``with run.progress("rebuild docs", n, "records") as p:
        ... p.advance(len(page))``): a terminal shows it, ``--log-format json`` reports it."""
        return self.events.progress_of(task, total, unit)

    def committing_early(self) -> None:
        """An op is about to commit outside the migration's transaction (autocommit block)."""
        hook, self.before_early_commit = self.before_early_commit, None
        if hook:
            hook()
            self.committed_early = True


def run_of(operations: Any) -> Run:
    """The Run bound to an ``Operations`` object's migration context."""
    run = operations.migration_context.opts.get(OPTION)
    if run is None:
        raise PolyalembicError("polyalembic ops need migrations/env.py to call polyalembic.runtime.run()")
    return run
