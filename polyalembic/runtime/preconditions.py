"""What must hold before an upgrade or downgrade applies anything.

1. The files pass ``validate``'s checks (pairs, numbering, parsing), and no applied migration's
   file changed since (checksums; upgrades only: a fixed ``downgrade()`` must stay possible).
   This is Flyway's validate-on-migrate; ``--sql`` renders anyway and prints the problems as
   comments.
2. No migration is left half done. A ledger row that is ``running`` (its run died: this run holds
   the lock, so no other run is applying it) or ``failed`` with recorded progress may have changed
   part of its store. Running the chain on top of it could repeat what it committed, so the
   upgrade refuses and names the ``polyalembic repair`` choices instead.
"""

from __future__ import annotations

import re
from pathlib import Path

from polyalembic.chain.migration import Migration
from polyalembic.commands.validate import adopted_revisions, check_files
from polyalembic.errors import PolyalembicError
from polyalembic.ledger.reads import LedgerRow
from polyalembic.ledger.row_status import RowStatus

_BATCHED = re.compile(r"\bIN\s+(\d+\s+)?(CONCURRENT\s+)?TRANSACTIONS\b", re.IGNORECASE)


def interrupted_message(row: LedgerRow, downgrade: bool = False) -> str:
    """One line: which migration, where it stopped, and the commands that decide."""
    rev = row.revision
    name = f"{row.database_type} migration {row.migration_file} ({rev})"
    where = f" at step [{row.failed_step[:120]}]" if row.failed_step else ""
    if downgrade:
        return (f"{name} failed part way through its downgrade{where}: fix its down file and run `polyalembic down` "
                f"again, or `polyalembic repair mark-applied {rev}` to keep it applied")
    if row.status == RowStatus.RUNNING and row.completed_steps is None:
        return (f"{name} was interrupted around the commit of its transaction on its own database: "
                f"`polyalembic repair resume {rev}` records it if that database's step marker says it committed, "
                f"and runs it if not (or `polyalembic repair retry {rev}` to run it again from the start, "
                f"`polyalembic repair mark-applied {rev}` if you finished it by hand)")
    what = "was interrupted while running" if row.status == RowStatus.RUNNING else "failed part way"
    batched = ""
    if row.failed_step and _BATCHED.search(row.failed_step):
        batched = (" (that statement commits in batches, CALL { ... } IN TRANSACTIONS: a resume runs it again "
                   "from its start, so it must be idempotent: MERGE, guards)")
    return (f"{name} {what} after {row.completed_steps or 0} completed step(s){where}{batched}: "
            f"decide with `polyalembic repair resume {rev}` (continue after the last completed step), "
            f"`polyalembic repair retry {rev}` (run it again from the start) or "
            f"`polyalembic repair mark-applied {rev}` (you finished it by hand)")


def refuse_interrupted(rows: list[LedgerRow], allowed: set[str], applied: set[str]) -> None:
    """PolyalembicError naming the first half-done migration that ``repair`` has not released;
    ``applied`` are the revisions the chain counts as applied (a failure there was a downgrade's)."""
    blocking = [row for row in rows if row.interrupted and row.revision not in allowed]
    if blocking:
        more = f" ({len(blocking) - 1} more half-done migration(s) after it)" if len(blocking) > 1 else ""
        raise PolyalembicError(interrupted_message(blocking[0], blocking[0].revision in applied) + more)


def file_problems(migrations_dir: Path, migrations: list[Migration], rows: list[LedgerRow], upgrade: bool,
                  folder_stores: dict[str, str] | None = None, baseline: str | None = None) -> list[str]:
    """``validate``'s file checks, plus (for an upgrade) applied checksums against the files."""
    problems = [str(p) for p in check_files(migrations_dir, folder_stores=folder_stores,
                                            adopted=adopted_revisions(migrations, baseline))]
    return problems + changed_after_applied(migrations, rows) if upgrade else problems


def changed_after_applied(migrations: list[Migration], rows: list[LedgerRow]) -> list[str]:
    """One problem per applied migration whose files changed since (Flyway's validate-on-migrate:
    an upgrade refuses them even when nothing is pending)."""
    files = {m.revision: m for m in migrations}
    problems = []
    for row in rows:
        m = files.get(row.revision)
        if row.status == RowStatus.APPLIED and m is not None and not m.checksum_matches(row.checksum):
            problems.append(f"migrations/{m.store}/{m.migration_file}: changed after it was applied (checksum "
                            f"mismatch): revert the edit and write a new migration, or `polyalembic repair "
                            f"accept-checksum {m.revision}` if the edit is intended")
    return problems


def refuse_invalid(problems: list[str]) -> None:
    if problems:
        more = f" (and {len(problems) - 1} more problem(s): polyalembic validate lists them)" if len(problems) > 1 \
            else ""
        raise PolyalembicError(f"nothing was applied: {problems[0]}{more}")
