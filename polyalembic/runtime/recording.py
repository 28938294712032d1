"""What the ledger says about a migration, and when. Every rule is here.

1. **In the ledger's transaction.** A migration of a transactional store (a SQL database) whose
   database is the ledger's runs in Alembic's per-migration transaction; its ``applied`` row (or,
   on downgrade, the row's deletion) is written inside that transaction by Alembic's
   ``on_version_apply`` hook; a pair file sent as one batch carries its ``applied`` row at its end
   instead (``Run.trailer``: one round trip less per migration). The schema change and the row
   commit together or not at all.
2. **Everywhere else** (Neo4j, ChromaDB, a SQL store on another database, a pair file marked
   ``-- polyalembic: no-transaction``): a ``running`` row is committed on the lock's connection
   before the migration starts, and replaced by ``applied`` when it finishes. A crash in between
   leaves ``running``. When the migration before it in the same upgrade finishes, its ``applied``
   statement writes this ``running`` row too (one round trip less per migration): a crash between
   the two leaves ``running`` with no step recorded, as a crash just after that row was written
   on its own always could.
3. **Early commits.** A migration under rule 1 whose op commits on its own (an autocommit block:
   a continuous aggregate WITH DATA, a refresh, a no-transaction file run by a Python revision; a
   user's own ``op.get_context().autocommit_block()`` or commit on the migration's connection,
   seen by env.py as a commit while the function runs) gets its ``running`` row just before that
   first commit, once: from then on rule 2 holds.
3b. **Progress.** A migration that is not one transaction records ``completed_steps``: every
   statement or op that commits on its own (``Run.checkpoint``: a Cypher schema statement, a batch
   of Cypher writes, a statement outside a transaction, a Chroma op) adds one when it is done.
   One that runs as one transaction keeps ``completed_steps`` NULL. A row that is ``running``,
   or ``failed`` with progress, may have changed part of its store: ``up`` refuses to start until
   ``polyalembic repair`` decides (resume after the last completed step, retry from the start,
   mark applied). A failure rolled back whole (NULL) does not block: ``up`` runs it again.
4. **Upgrade failures** write ``failed`` with the (masked) error and the step that raised (the
   statement, the op), on the lock's connection. Earlier migrations stay applied.
5. **Downgrade failures.** One that ran in a single transaction was rolled back whole: the row
   stays ``applied`` and the audit table gets ``downgrade_failed``. One that may have changed
   part of its store (a non-transactional store, a no-transaction down file) marks the row
   ``failed``, keeping ``applied_at`` and ``checksum``.
6. **Stamps** write ``applied`` (action ``stamp``) or delete rows (``unstamp``) for every revision
   between the source and the destination, running nothing.
7. **--sql** renders the statements that would be written; nothing is recorded.
8. **Snapshots.** After a run that applied or reverted migrations, every store it touched (and
   every store sharing a database with one) gets its live snapshot recorded in
   ``schema_migrations_snapshots``, under the lock: the baseline of ``polyalembic drift``. A run
   that failed records the stores it finished, never the one that failed (nor one sharing its
   database). A run with nothing to do records nothing (and takes no snapshot); so do stamps.

9. **Step markers.** A store that writes a marker with each step that commits on its own
   (``StepMarkers``: Neo4j's write batches; a SQL store on a database other than the ledger's,
   whose migration is one step with its marker in its transaction) is asked, when ``repair
   resume`` releases one of its migrations, which steps committed: those are never run again,
   and the ledger's ``completed_steps`` catches up as they are passed. ``repair retry`` removes the migration's
   markers first. After every run, the markers of migrations that are no longer half done go.

Every write is also an audit row (upgrade, downgrade, stamp, unstamp, failed, downgrade_failed).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from itertools import pairwise
from typing import Any

from polyalembic.chain.migration import Migration
from polyalembic.ledger import snapshots
from polyalembic.ledger.reads import Query, read_rows
from polyalembic.ledger.writes import Execute, Ledger, OnConnection
from polyalembic.settings import Settings
from polyalembic.stores import get_store
from polyalembic.stores.contract import StepMarkers
from polyalembic.stores.current_run import Run

log = logging.getLogger("polyalembic")


class Recorder:
    """Applies the rules above for one run."""

    def __init__(self, ledger: Ledger, settings: Settings, run: Run, status_execute: Execute | None,
                 resume: dict[str, int] | None = None, retry: set[str] | None = None,
                 killed: set[str] | None = None) -> None:
        self.ledger = ledger
        self.settings = settings
        self.run = run
        self.status_execute = status_execute  # the lock's autocommit connection (None under --sql)
        self.resume = resume or {}  # revision -> completed steps to skip (repair resume/retry)
        self.retry = retry or set()  # the released revisions that run again from their first step
        self.killed = killed or set()  # the released revisions whose rows said `running` (a kill)
        self._shares_ledger: dict[str, bool] = {}
        self._next: dict[str, Migration] = {}  # revision -> the migration the upgrade runs after it
        self._premarked: str | None = None  # the revision whose `running` row the last applied wrote

    def plan(self, migrations: list[Migration]) -> None:
        """The upgrade's migrations in the order it runs them (rule 2's ``running`` row of the next)."""
        self._next = {m.revision: following for m, following in pairwise(migrations)}

    def prepare(self, connection: Any, migrations: list[Migration]) -> None:
        """Rule 1's trailers as EXECUTEs of the ``applied`` statement prepared once on
        ``connection`` (the run's own migrations connection), when one of ``migrations`` may
        carry one: a pair in the ledger's database."""
        if any(m.pair and self.in_ledger_transaction(m.store) for m in migrations):
            self.ledger.prepare(connection)

    def in_ledger_transaction(self, store: str) -> bool:
        if store not in self._shares_ledger:  # asked for every migration; settings are fixed for the run
            self._shares_ledger[store] = self.settings.shares_ledger_database(store)
        return self._shares_ledger[store]

    def _status(self, ctx: Any) -> Execute:
        return self.status_execute or ctx.execute

    @staticmethod
    def _in_transaction(ctx: Any) -> Execute:
        """The migration's transaction on the ledger database (``--sql``: its rendering)."""
        return ctx.execute if ctx.as_sql else OnConnection(ctx.connection)

    def starting(self, ctx: Any, m: Migration, upgrade: bool, one_batch: bool = False) -> None:
        """Rules 2, 3 and 3b, before a migration's function runs; ``one_batch``: the function
        sends its statements as one batch (a pair file), which may carry the ledger row (rule 1)."""
        run = self.run
        run.position, run.resume_after, run.on_progress, run.before_early_commit = 0, 0, None, None
        run.completed = 0
        run.committed_early = False
        run.revision, run.marked, run.resuming, run.before_first_step = m.revision, frozenset(), False, None
        run.killed = False
        run.trailer, run.trailer_sent = None, False
        if not upgrade:
            return
        status = self._status(ctx)
        one_transaction = m.runs_as_one_transaction()
        with_ledger = one_transaction and self.in_ledger_transaction(m.store)
        if ctx.as_sql:
            if not with_ledger:
                self.ledger.running(status, m, None)
            return
        done = run.resume_after = self.resume.get(m.revision, 0)  # a resume keeps what was recorded
        if m.revision in self.resume:
            self._released(m)
        run.on_progress = lambda steps, _step: self.ledger.progress(status, m, steps)
        premarked, self._premarked = self._premarked == m.revision, None
        if with_ledger:
            run.before_early_commit = lambda: self.ledger.running(status, m, done)
            if one_batch and not done:
                run.trailer = lambda sql: self.ledger.applied_sql(m, after=sql)
            return
        if not premarked:
            self.ledger.running(status, m, self._running_steps(m))
        if one_transaction:
            run.before_early_commit = lambda: self.ledger.progress(status, m, done)

    def _released(self, m: Migration) -> None:
        """Rule 9, a migration ``repair`` released: a resume learns from the store's markers which
        steps committed after the ledger's last record; a retry starts without any."""
        run, spec = self.run, m.spec
        run.resuming = m.revision not in self.retry
        run.killed = m.revision in self.killed
        if not isinstance(spec, StepMarkers) or self.in_ledger_transaction(m.store):
            return

        def markers() -> None:  # at the first step: a migration without one never asks the store
            handle = run.connections.get(m.store)
            if run.resuming:
                run.marked = frozenset(spec.marked_steps(handle, m.revision))
            else:
                spec.drop_marks(handle, m.revision)

        run.before_first_step = markers

    def clear_marks(self, stores: Iterable[str], query: Query) -> None:
        """Rule 9: the markers of every migration that is no longer half done go, in each store the
        run touched that writes them (kept: those ``repair`` has still to decide about)."""
        marking = [name for name in dict.fromkeys(stores)
                   if isinstance(get_store(name), StepMarkers) and not self.in_ledger_transaction(name)]
        if not marking or self.status_execute is None:
            return
        try:
            keep = {row.revision for row in read_rows(query) if row.interrupted}
            for name in marking:
                spec = get_store(name)
                assert isinstance(spec, StepMarkers)
                spec.clear_marks(self.run.connections.get(name), keep)
        except Exception as exc:  # noqa: BLE001 - the migrations are recorded; a marker left is harmless until then
            log.warning("%s", self.settings.mask(f"{', '.join(marking)}: step markers were not removed ({exc}): "
                                                 "the next run that touches the store removes them"))

    def _running_steps(self, m: Migration) -> int | None:
        """``completed_steps`` of ``m``'s ``running`` row (rule 2), None for a migration that runs as
        one transaction on its own database; a resume keeps what was recorded."""
        done = self.resume.get(m.revision, 0)
        return (done or None) if m.runs_as_one_transaction() else done

    def finished_function(self) -> None:
        self.run.before_early_commit = None
        self.run.on_progress = None
        self.run.trailer = None

    def failed(self, ctx: Any, m: Migration, upgrade: bool, error: str, step: str | None, ms: int) -> None:
        """Rules 4 and 5."""
        if ctx.as_sql:
            return
        partial = not m.runs_as_one_transaction(upgrade=False)
        if upgrade or partial:
            # the steps completed before the failing one (those the store records were not counted yet)
            completed = self.run.completed if upgrade and self.run.completed else None
            self.ledger.failed(self._status(ctx), m, error, step, ms, upgrade, completed)
        else:
            self.ledger.downgrade_failed(self._status(ctx), m, error, ms)

    def finished(self, ctx: Any, m: Migration, upgrade: bool, ms: int | None) -> None:
        """Rule 1 (and the second half of rule 2): inside the ledger database's transaction."""
        following = None if ctx.as_sql or not upgrade else self._next.get(m.revision)
        if following is not None and not (following.runs_as_one_transaction() and
                                          self.in_ledger_transaction(following.store)):
            if self.run.trailer_sent:  # m's row went with its statements: only the next one's is left
                self.ledger.running(self._in_transaction(ctx), following, self._running_steps(following))
            else:
                self.ledger.applied(self._in_transaction(ctx), m, ms,
                                    then_running=(following, self._running_steps(following)))
            self._premarked = following.revision
        elif upgrade:
            if not self.run.trailer_sent:  # else it went with the migration's statements
                self.ledger.applied(self._in_transaction(ctx), m, ms)
        else:
            self.ledger.reverted(self._in_transaction(ctx), m, ms)

    def stamped(self, ctx: Any, m: Migration, upgrade: bool) -> None:
        """Rule 6."""
        if upgrade:
            self.ledger.applied(self._in_transaction(ctx), m, None, action="stamp")
        else:
            self.ledger.reverted(self._in_transaction(ctx), m, None, action="unstamp")

    def stores_to_snapshot(self, touched: Iterable[str], failed: Iterable[str], used: Iterable[str]) -> list[str]:
        """Rule 8's stores: those touched, plus those of ``used`` sharing a database with one, minus
        the failed ones and those sharing their database."""
        def sharing(names: Iterable[str]) -> set[str]:
            urls = [self.settings.database_url(n) for n in names]
            return set(names) | {s for s in used if (url := self.settings.database_url(s)) and
                                 any(other and self.settings.same_database(url, other) for other in urls)}

        failed = sharing(failed)
        return [s for s in used if s in sharing(touched) and s not in failed]

    def record_snapshots(self, stores: list[str], handle_of: Callable[[str], Any], query: Query,
                         revision: str | None, quietly: bool = False) -> None:
        """Rule 8: record each store's live snapshot. The migrations are in whatever happens here,
        so a store that can't be read is one warning naming the fix (``quietly``, after a failed
        run: the failure is the line that matters), never a failed run."""
        if not stores or self.status_execute is None:
            return
        try:
            recorded = snapshots.read_recorded(query)
        except Exception as exc:  # noqa: BLE001 - see above
            self._not_recorded(", ".join(stores), exc, quietly)
            return
        for name in stores:
            store = get_store(name)
            try:
                live = snapshots.take(store, handle_of(name))
                self.ledger.snapshot_recorded(self.status_execute, store, live,
                                              snapshots.after_run(store, live, recorded.get(name)), revision)
            except Exception as exc:  # noqa: BLE001 - see above
                self._not_recorded(name, exc, quietly)

    def _not_recorded(self, what: str, exc: Exception, quietly: bool) -> None:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        (log.debug if quietly else log.warning)(
            "%s", self.settings.mask(f"{what}: the snapshot for drift detection was not recorded ({reason}): "
                                     "run `polyalembic drift --accept` once the store answers"))
