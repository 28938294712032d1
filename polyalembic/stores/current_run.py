"""What one migration run shares with the op implementations.

Op implementations reach it through the migration context's options
(``run_of(operations)``): the store connections, and the step being executed, so that a failure
is recorded against the statement or op that raised.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from polyalembic.errors import MayHavePartlyRun, PolyalembicError
from polyalembic.events.stream import Events, Progress

if TYPE_CHECKING:  # the op implementations import this module: it stays below the registry
    from polyalembic.stores.connections import StoreConnections

OPTION = "polyalembic_run"
log = logging.getLogger("polyalembic")
#: the crash test's kill point (bench/crash.py, tests): ``POINT`` or ``POINT@N`` (the N-th time
#: the run reaches it); the run SIGKILLs itself there, nowhere else. ``count@FILE``: every point
#: reached is appended to FILE instead, with the revision it was reached in (the crash test
#: learns how many there are, and in which store)
_POINT, _, _NTH = os.environ.get("POLYALEMBIC_CRASH_AT", "").partition("@")
_reached: dict[str, int] = {}
#: the marker step of a migration's own transaction on a database other than the ledger's: it
#: committed whole (its steps that commit on their own count from 1)
WHOLE_MIGRATION = 0


def crash_point(name: str, revision: str | None) -> None:
    """Die here when the crash test names this point: the windows a kill can only hit by luck
    (``store-committed``: a store committed a step of ``revision``, the ledger not yet told) are
    reached on purpose."""
    if _POINT == "count":
        with open(_NTH, "a") as points:
            points.write(f"{name} {revision}\n")
        return
    if name != _POINT:
        return
    _reached[name] = _reached.get(name, 0) + 1
    if _reached[name] == int(_NTH or 1):
        os.kill(os.getpid(), signal.SIGKILL)


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
    # the last of them known completed (recorded, skipped, or just done): what a failure records
    completed: int = 0
    # the current migration's revision, and on a resume the steps its store's markers say
    # committed (``StepMarkers``) and what tells a schema step done (``step_in_place``)
    revision: str | None = None
    marked: frozenset[int] = frozenset()
    resuming: bool = False
    # the resumed migration was killed (its row said `running`), not stopped by an error
    killed: bool = False
    # called at the migration's first step that commits on its own, once (the markers read or
    # removed: a migration without such a step never asks its store)
    before_first_step: Callable[[], None] | None = field(default=None, repr=False)
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

    def checkpoint(self, description: str, action: Callable[[], None],
                   in_place: Callable[[], bool] | None = None, unsure: str | None = None,
                   unsure_if_killed: str | None = None, store_records: bool = False) -> None:
        """Run one step that commits on its own (a statement outside a transaction, a batch of
        Cypher writes, an op of a store without transactions). On a resume the steps completed
        before the interruption are skipped, never repeated: those the ledger recorded, those whose
        marker is in the store, and (``in_place``) those the live store shows done; a step that can
        carry no marker nor be checked and may have partly run is refused (``unsure``: why; or
        ``unsure_if_killed``: only when a kill, not an error, stopped it). Each completed step is
        recorded, but one the store itself records (``store_records``: its marker, a named schema
        object): a resume learns of it there, and the next step recorded counts it too."""
        self.position += 1
        self._reached_first_step()
        if self.position <= self.resume_after:
            self.completed = self.position
            log.warning("polyalembic: skipped (completed before the interruption): step %d, %s",
                        self.position, description[:120])
            return
        if self.resuming:
            if self.position in self.marked or (in_place is not None and in_place()):
                log.warning("polyalembic: skipped (committed before the interruption, the store says): step %d, %s",
                            self.position, description[:120])
                self.completed = self.position
                self._completed(description)
                return
            unsure = unsure or (unsure_if_killed if self.killed else None)
            if unsure is not None:  # the first step not known committed: it may have been running
                raise MayHavePartlyRun(
                    f"step {self.position} [{description[:120]}] may have partly run before the interruption "
                    f"({unsure}): resume will not run it blindly. Write it idempotent (MERGE, guards) and "
                    f"`polyalembic repair retry {self.revision}`, or finish it by hand and "
                    f"`polyalembic repair mark-applied {self.revision}`")
            self.resuming = False  # past the interruption: what follows never ran
        with self.step(description):
            action()
        crash_point("store-committed", self.revision)
        self.completed = self.position
        if not store_records:
            self._completed(description)

    def committed_whole(self) -> bool:
        """On a resume, True when the store's marker says the migration's own transaction committed
        (``WHOLE_MIGRATION``): it is recorded, never run again."""
        self._reached_first_step()
        return self.resuming and WHOLE_MIGRATION in self.marked

    def _reached_first_step(self) -> None:
        hook, self.before_first_step = self.before_first_step, None
        if hook:
            hook()

    def _completed(self, description: str) -> None:
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
            crash_point("early-commit", self.revision)  # the running row is in, the commit not yet made


def run_of(operations: Any) -> Run:
    """The Run bound to an ``Operations`` object's migration context."""
    run = operations.migration_context.opts.get(OPTION)
    if run is None:
        raise PolyalembicError("polyalembic ops need migrations/env.py to call polyalembic.runtime.run()")
    return run
