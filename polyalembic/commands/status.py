"""The status of every migration over every store: chain (files) joined with the ledger."""

from __future__ import annotations

from collections import Counter
from typing import Any, NamedTuple

from polyalembic.chain.migration import Migration
from polyalembic.ledger.reads import LedgerRow, current_heads, read_rows, reading
from polyalembic.ledger.row_status import RowStatus
from polyalembic.stores.current_run import WHOLE_MIGRATION

# What a migration can be, as `polyalembic status` shows it: a row's status, or what the files say.
APPLIED, FAILED, RUNNING = RowStatus.APPLIED.value, RowStatus.FAILED.value, RowStatus.RUNNING.value
PENDING = "pending"
MISMATCH, MISSING = "checksum mismatch", "missing file"
STATES = (APPLIED, PENDING, FAILED, RUNNING, MISMATCH, MISSING)
PROBLEMS = (PENDING, FAILED, RUNNING, MISMATCH, MISSING)


class MigrationStatus(NamedTuple):
    """One line of the status table (a tuple: a long history has thousands)."""

    store: str
    migration_file: str
    revision: str
    state: str
    applied_at: str | None
    checksum: str | None
    execution_ms: int | None
    error: str | None
    completed_steps: int | None = None
    status_in_ledger: str | None = None
    # a half-done row: the steps its store's markers say committed (``committed_steps.py``), or
    # why they were not read
    marked_steps: tuple[int, ...] | None = None
    marked_note: str | None = None

    @property
    def short_checksum(self) -> str:
        return (self.checksum or "")[:12]


def compute(chain: list[Migration], rows: list[LedgerRow]) -> list[MigrationStatus]:
    """Chain order first, then ledger rows whose file no longer exists."""
    by_revision = {r.revision: r for r in rows}
    result = []
    for m in chain:
        row = by_revision.pop(m.revision, None)
        if row is None:
            result.append(MigrationStatus(m.store, m.migration_file, m.revision, PENDING, None,
                                          m.checksum(), None, None))
            continue
        state = row.status
        if state == APPLIED and not m.checksum_matches(row.checksum):
            state = MISMATCH
        result.append(MigrationStatus(m.store, m.migration_file, m.revision, state,
                                      row.applied_at.isoformat(timespec="seconds") if row.applied_at else None,
                                      row.checksum, row.execution_ms, row.error, row.completed_steps, row.status))
    for row in by_revision.values():
        result.append(MigrationStatus(row.database_type, row.migration_file, row.revision, MISSING,
                                      row.applied_at.isoformat(timespec="seconds") if row.applied_at else None,
                                      row.checksum, row.execution_ms, row.error, row.completed_steps, row.status))
    return result


def summary(statuses: list[MigrationStatus]) -> dict[str, dict[str, int]]:
    """store -> {state: count}, every state present (zeros included), stores in first-seen order."""
    counts: dict[str, Counter[str]] = {}
    for s in statuses:
        counts.setdefault(s.store, Counter())[s.state] += 1
    return {store: {state: c[state] for state in STATES} for store, c in counts.items()}


def has_problems(statuses: list[MigrationStatus]) -> bool:
    return any(s.state in PROBLEMS for s in statuses)


def as_json(statuses: list[MigrationStatus], current: list[str], locations: dict[str, str]) -> dict[str, Any]:
    """The stable JSON document of ``polyalembic status --format json`` (see README)."""
    return {
        "version": 1,
        "current_revisions": current,
        "stores": {store: {"location": locations.get(store), **counts}
                   for store, counts in summary(statuses).items()},
        "migrations": [s._asdict() for s in statuses],
        "ok": not has_problems(statuses),
    }


def render_table(statuses: list[MigrationStatus]) -> str:
    """The human table: one line per migration, then one summary line per store."""
    header = ("STORE", "MIGRATION", "STATE", "APPLIED AT", "CHECKSUM")
    rows = [(s.store, s.migration_file, s.state, s.applied_at or "-", s.short_checksum or "-")
            for s in statuses]
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    lines = ["  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)).rstrip()
             for r in [header, *rows]]
    lines.append("")
    for store, counts in summary(statuses).items():
        parts = [f"{n} {state}" for state, n in counts.items() if n]
        lines.append(f"{store}: {', '.join(parts)}")
    for s in statuses:
        if s.state == FAILED and s.error:
            lines.append(f"failed: {s.store} {s.migration_file}: {s.error.splitlines()[0][:200]}")
        hint = repair_hint(s)
        if hint:
            lines.append(f"  {s.revision}: {hint}")
    return "\n".join(lines)


def half_done(s: MigrationStatus) -> bool:
    """A row that may have changed part of its store: `repair` decides what happens to it."""
    return s.state == RUNNING or (s.state == FAILED and s.completed_steps is not None)


def repair_hint(s: MigrationStatus) -> str | None:
    """The `polyalembic repair` choice that fits a problem row, if any."""
    rev = s.revision
    if half_done(s):
        return (f"half done ({s.completed_steps or 0} step(s) completed{_marked(s)}): polyalembic repair resume {rev} "
                f"| retry {rev} | mark-applied {rev}")
    if s.state == MISMATCH:
        return f"edited after it was applied: write a new migration, or polyalembic repair accept-checksum {rev}"
    if s.state == MISSING and s.applied_at is not None and s.status_in_ledger != APPLIED:
        return f"its file is gone and it never applied: polyalembic repair forget {rev}"
    return None


def _marked(s: MigrationStatus) -> str:
    """What the store's markers add to the ledger's count (a step committed, the ledger not told)."""
    if s.marked_note:
        return f"; {s.marked_note}"
    if WHOLE_MIGRATION in (s.marked_steps or ()):
        return "; its database's step marker says its transaction committed: resume records it, running nothing"
    unrecorded = [step for step in s.marked_steps or () if step > (s.completed_steps or 0)]
    if not unrecorded:
        return ""
    steps = ", ".join(str(step) for step in unrecorded)
    return f"; the store's markers say step(s) {steps} committed too: resume will not run them again"


def read_status(project: Any) -> tuple[list[MigrationStatus], tuple[str, ...]]:
    """Every migration of ``project``'s history with its state, and the revisions the version
    table holds (one read of the ledger database)."""

    chain = project.chain()
    with reading(project.settings) as query:
        return compute(chain, read_rows(query)), current_heads(query)
