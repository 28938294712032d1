"""``polyalembic repair``: explicit, audited decisions about a ledger row after a failure.

Flyway and neo4j-migrations answer a failed migration with ``repair``; golang-migrate with an
opaque "dirty" flag and ``force``. Here each choice is one word, refused when it does not fit the
row (with the reason), and audited as ``repair:<action>`` with who and when.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import sqlalchemy as sa
from alembic import command

from polyalembic.chain.migration import Migration
from polyalembic.chain.positions import History
from polyalembic.errors import PolyalembicError
from polyalembic.ledger.row_status import RowStatus
from polyalembic.ledger.writes import Ledger, LedgerRow, connect_ledger, current_heads_of, locked, read_rows
from polyalembic.project import Project

REPAIR_ACTIONS = ("resume", "retry", "mark-applied", "forget", "accept-checksum")


def repair(project: Project, action: str, revision: str) -> str:
    """Decide about one ledger row (each decision audited as ``repair:<action>`` with who and when):

    - ``resume``: run a half-done migration again, skipping the steps it completed;
    - ``retry``: run it again from its first step;
    - ``mark-applied``: the user finished it by hand: record it applied, move the chain past it;
    - ``forget``: drop the row of a migration whose file is gone and that never applied;
    - ``accept-checksum``: an applied file was edited on purpose: record its current checksum.
    """
    if action not in REPAIR_ACTIONS:
        raise PolyalembicError(f"unknown repair action {action!r} (one of: {', '.join(REPAIR_ACTIONS)})")
    history = History(project.chain())
    chain = history.by_id
    with connect_ledger(project.settings) as conn:
        rows = {r.revision: r for r in read_rows(conn)}
        current = current_heads_of(conn)
    row = rows.get(revision)
    if row is None:
        raise PolyalembicError(f"repair {action}: the ledger has no row for {revision!r} "
                               f"(rows: {', '.join(rows) or 'none'})")
    m = chain.get(revision)
    if action == "forget":
        return _forget(project, row, m)
    if m is None:
        raise PolyalembicError(f"repair {action}: {revision}'s file is gone: restore it, or "
                               f"`polyalembic repair forget {revision}` if it never applied")
    if action == "accept-checksum":
        return _accept_checksum(project, row, m)
    if row.status == RowStatus.APPLIED:
        raise PolyalembicError(f"repair {action}: {revision} is applied: nothing to decide")
    applied = history.applied(current)
    if revision in applied:  # alembic_version counts it applied: its downgrade failed
        if action != "mark-applied":
            raise PolyalembicError(f"repair {action}: {revision}'s downgrade failed (the chain still counts it "
                                   f"applied): fix its down file and run `polyalembic down` again, or "
                                   f"`polyalembic repair mark-applied {revision}` to keep it applied")
        return _keep_applied(project, m)
    missing = [rev for rev in history.applied((revision,)) - {revision} if rev not in applied]
    if missing:
        raise PolyalembicError(f"repair {action}: {revision} stands on {', '.join(sorted(missing)[:3])}, not applied "
                               f"yet (current: {', '.join(current) or 'base'}); repair that one first")
    if action == "mark-applied":
        return _mark_applied(project, m, current)
    with _locked(project) as (conn, ledger):
        ledger.repaired(conn.execute, m, action)
    command.upgrade(project.config(project.new_request(release={revision: action})), revision)
    return (f"{action}: {m.store} {m.migration_file} ({revision}) applied"
            + (f", skipping its {row.completed_steps} completed step(s)" if action == "resume" and row.completed_steps
               else ""))


@contextmanager
def _locked(project: Project) -> Iterator[tuple[sa.Connection, Ledger]]:
    """A transaction on the ledger database and the ledger that writes in it, while the migration
    lock is held (on its own connection, the ledger brought to the current schema first): no run
    can start in between, and the decision commits whole or not at all."""
    with locked(project.settings, project.request.lock_timeout), connect_ledger(project.settings) as conn, \
            conn.begin():
        yield conn, Ledger(project.settings.ledger_store)


def _mark_applied(project: Project, m: Migration, current: tuple[str, ...]) -> str:
    with _locked(project) as (conn, ledger):
        if current_heads_of(conn) != current:  # another run moved the chain meanwhile
            raise PolyalembicError(f"repair mark-applied: the chain moved while deciding (now at "
                                   f"{', '.join(current_heads_of(conn)) or 'base'}); look at `polyalembic status` "
                                   "again")
        if not ledger.version_moved(conn.execute, current, m):
            raise PolyalembicError("repair mark-applied: alembic_version changed while deciding; nothing was recorded")
        ledger.repaired(conn.execute, m, "mark-applied", status=RowStatus.APPLIED, checksum=m.checksum(), error=None,
                          failed_step=None, completed_steps=None)
    return f"mark-applied: {m.store} {m.migration_file} ({m.revision}) is recorded as applied; nothing was run"


def _keep_applied(project: Project, m: Migration) -> str:
    """A failed downgrade the user decided to leave applied: the row says applied again."""
    with _locked(project) as (conn, ledger):
        ledger.repaired(conn.execute, m, "mark-applied", status=RowStatus.APPLIED, error=None, failed_step=None,
                          completed_steps=None)
    return (f"mark-applied: {m.store} {m.migration_file} ({m.revision}) stays applied (its failed downgrade is "
            "recorded in the audit table); nothing was run")


def _accept_checksum(project: Project, row: LedgerRow, m: Migration) -> str:
    if row.status != RowStatus.APPLIED or m.checksum_matches(row.checksum):
        raise PolyalembicError(f"repair accept-checksum: {m.revision} has no checksum mismatch "
                               f"(it is {row.status}{', unchanged' if m.checksum_matches(row.checksum) else ''})")
    with _locked(project) as (conn, ledger):
        ledger.repaired(conn.execute, m, "accept-checksum", checksum=m.checksum())
    return (f"accept-checksum: {m.migration_file} ({m.revision}) now records checksum {m.checksum()[:12]} "
            f"(was {row.checksum[:12]}); its edit was not run")


def _forget(project: Project, row: LedgerRow, m: Migration | None) -> str:
    if m is not None:
        raise PolyalembicError(f"repair forget: {row.revision}'s file exists: forget is for rows whose file is gone "
                               f"(use resume, retry or mark-applied)")
    if row.status == RowStatus.APPLIED:
        raise PolyalembicError(f"repair forget: {row.revision} is applied (its changes are in the store): "
                               "restore its file instead")
    with _locked(project) as (conn, ledger):
        ledger.forgotten(conn.execute, row)
    return f"forget: the {row.status} row of {row.revision} ({row.migration_file}) is gone from the ledger"
