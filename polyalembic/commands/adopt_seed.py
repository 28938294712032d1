"""``polyalembic adopt seed``: take over the history the seed's ``migrate.sh`` recorded.

The seed kept one ``schema_migrations(database_type, migration_file, applied_at, checksum)`` in a
SQL database (its README keeps it in TimescaleDB's) and tracked each store apart. Each row names a
store and a file ``NNN_name.sql`` (or ``NNN_name.up.sql``, ``.cql``, ``.py``): it is that store's
revision of that number. Adopting records those revisions as applied (audited as ``adopt seed``,
with the seed's time and, kept apart since its algorithm is unknown, its checksum) and renames the
seed's table aside, never drops it, in one transaction with the ledger's rows; it refuses while a
store's applied set is not where polyalembic could stand (a revision of the store, or one the chain
runs before, was skipped).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from polyalembic.chain.migration import Migration
from polyalembic.chain.positions import History
from polyalembic.commands.adoption import Adopted, label, record, refuse_holes
from polyalembic.commands.adoption import recorded as adoption_recorded
from polyalembic.errors import PolyalembicError
from polyalembic.ledger.names import TABLE
from polyalembic.ledger.reads import SEED_COLUMNS, sa_query, table_columns
from polyalembic.ledger.writes import connect_ledger, locked
from polyalembic.masking import mask_dsn
from polyalembic.project import Project
from polyalembic.stores import STORES
from polyalembic.stores.sql.store import SqlStore

ACTION = "adopt seed"
COMMAND = "adopt seed"
#: what the seed's table is renamed to by default
RENAMED = f"{TABLE}_seed"
#: a file the seed recorded: its number and name (``.up`` and the extension dropped)
SEED_FILE = re.compile(r"^(\d+)_([A-Za-z0-9_-]+?)(?:\.up)?\.[A-Za-z0-9]+$")
#: a polyalembic revision file's number and name
NUMBERED = re.compile(r"^(\d+)_(\w+?)\.py$")
HOW_TO_APPLY = ("apply it with ./migrations/migrate.sh up first (or delete the seed's row of the later one if it "
                "never ran)")


@dataclass(frozen=True)
class SeedRow:
    database_type: str
    migration_file: str
    applied_at: Any
    checksum: str | None

    def __str__(self) -> str:
        return f"{self.database_type} {self.migration_file}"


@dataclass
class SeedPlan:
    """What adopting would record, and what it leaves as it is."""

    adopted: list[Adopted] = field(default_factory=list)
    heads: tuple[str, ...] = ()
    #: seed rows that name no revision, and why
    unknown: list[str] = field(default_factory=list)
    #: seed rows mapped by number to a revision whose file has another name
    renamed: list[str] = field(default_factory=list)
    #: revisions the seed never applied (pending after adoption)
    pending: list[Migration] = field(default_factory=list)


def _candidates(project: Project) -> list[tuple[SqlStore, str, bool]]:
    """The databases the seed's table may be in: the ledger's, then each SQL store's (once each)."""
    assert project.settings is not None
    settings = project.settings
    found: list[tuple[SqlStore, str, bool]] = []
    if settings.ledger_dsn:
        found.append((settings.ledger_store, settings.ledger_dsn, True))
    for store in STORES.values():
        dsn = store.database_url(settings) if isinstance(store, SqlStore) else None
        if dsn and not any(store.same_database(dsn, seen) for _, seen, _ in found):
            found.append((store, dsn, False))
    return found


def _connect(store: SqlStore, dsn: str, project: Project) -> sa.Connection:
    assert project.settings is not None
    return store.connect_to(dsn, store.name, store.source(project.settings))


def locate(project: Project, renamed: str) -> tuple[tuple[SqlStore, str, str, bool] | None, str | None]:
    """(the seed's table: its store, DSN, database name, whether the ledger's database holds it;
    None when there is none) and the database already holding ``renamed`` (an earlier adoption)."""
    seed, before = None, None
    for store, dsn, in_ledger in _candidates(project):
        with _connect(store, dsn, project) as conn:
            query = sa_query(conn)
            database = conn.execute(sa.text("SELECT current_database()")).scalar_one()
            columns = table_columns(query, TABLE)
            if seed is None and columns and all(c in columns for c in SEED_COLUMNS) and "revision" not in columns:
                seed = (store, dsn, database, in_ledger)
            if before is None and all(c in table_columns(query, renamed) for c in SEED_COLUMNS):
                before = database
    return seed, before


def read_seed_rows(conn: sa.Connection) -> list[SeedRow]:
    rows = conn.execute(sa.text(f"SELECT database_type, migration_file, applied_at, checksum FROM {TABLE} "
                                "ORDER BY applied_at, database_type, migration_file")).all()
    return [SeedRow(str(r[0]), str(r[1]), r[2], None if r[3] is None else str(r[3])) for r in rows]


def numbered_revisions(history: History) -> dict[str, dict[int, Migration]]:
    """store -> NNN -> its revision ``NNN_name.py`` (polyalembic's numbered files)."""
    numbered: dict[str, dict[int, Migration]] = {}
    for m in history.chain:
        match = NUMBERED.match(m.filename)
        if match:
            numbered.setdefault(m.store, {})[int(match[1])] = m
    return numbered


def plan(history: History, rows: list[SeedRow]) -> SeedPlan:
    """Map the seed's rows to revisions; one line when a store's applied set has a hole."""
    numbered = numbered_revisions(history)
    result = SeedPlan()
    mapped: dict[str, tuple[Migration, SeedRow]] = {}
    for row in rows:
        match = SEED_FILE.match(row.migration_file)
        revisions = numbered.get(row.database_type)
        if revisions is None:
            result.unknown.append(f"{row} (no store {row.database_type!r} in this project)")
            continue
        if not match or int(match[1]) not in revisions:
            result.unknown.append(f"{row} (no {row.database_type} revision of that number)")
            continue
        m = revisions[int(match[1])]
        if m.revision in mapped:
            result.unknown.append(f"{row} (a second row for {m.revision})")
            continue
        mapped[m.revision] = (m, row)
        if NUMBERED.match(m.filename)[2] != match[2]:  # type: ignore[index]
            result.renamed.append(f"{row} -> {m.revision} ({m.filename})")
    for revisions in numbered.values():
        applied = [n for n, m in revisions.items() if m.revision in mapped]
        gaps = [n for n in sorted(revisions) if applied and n < max(applied) and revisions[n].revision not in mapped]
        if gaps:
            later = mapped[revisions[max(applied)].revision][1]
            raise PolyalembicError(
                f"{COMMAND}: the seed applied {later} but not {label(revisions[gaps[0]])}, which comes before it (the "
                f"seed tracked each store apart; polyalembic applies a store's revisions in order): {HOW_TO_APPLY}, "
                "then adopt again; nothing was changed")
    adopted = [mapped[m.revision] for m in history.chain if m.revision in mapped]
    result.heads = refuse_holes(COMMAND, history, (m for m, _ in adopted), HOW_TO_APPLY)
    result.adopted = [Adopted(m, row.applied_at, row.checksum) for m, row in adopted]
    result.pending = [m for m in history.chain if m.revision not in mapped]
    return result


def adopt_seed(project: Project, dry_run: bool = False, renamed: str = RENAMED) -> list[str]:
    """Adopt the seed's ledger (``dry_run``: say what would be done, do nothing); the report's lines."""
    assert project.settings is not None
    settings = project.settings
    if not re.fullmatch(r"[a-z_][a-z0-9_]{0,62}", renamed) or renamed == TABLE:
        raise PolyalembicError(f"{COMMAND}: --rename-to {renamed!r} is no table name for the seed's table (lowercase "
                               f"letters, digits and _, not {TABLE})")
    seed, before = locate(project, renamed)
    if seed is None:
        if before is not None:
            return [f"nothing to adopt: the seed's ledger was adopted already (it is {renamed} in database {before})"]
        databases = ", ".join(mask_dsn(dsn) for _, dsn, _ in _candidates(project))
        raise PolyalembicError(f"{COMMAND}: no seed ledger ({TABLE} with columns {', '.join(SEED_COLUMNS)}) in "
                               f"{databases}: nothing to adopt")
    store, dsn, database, in_ledger = seed
    if before == database:
        raise PolyalembicError(f"{COMMAND}: database {database} holds {renamed} already: pass --rename-to with "
                               f"another name for the seed's {TABLE}; nothing was changed")
    history = History(project.chain())
    with _connect(store, dsn, project) as conn:
        rows = read_seed_rows(conn)
    the_plan = plan(history, rows)
    # where the seed's table has the ledger's name, polyalembic's ledger is not there yet
    recorded = set() if in_ledger else adoption_recorded(settings, history)
    wanted = {a.migration.revision for a in the_plan.adopted}
    if recorded and recorded != wanted:
        raise PolyalembicError(f"{COMMAND}: the ledger in {mask_dsn(settings.ledger_dsn)} records {len(recorded)} "
                               f"revision(s) already: the seed's history can only be adopted into an empty ledger; "
                               "nothing was changed")
    report = _report(the_plan, rows, database, renamed, dry_run, rows_recorded=not recorded)
    if dry_run:
        return report
    with locked(settings, project.request.lock_timeout, ensure=False), connect_ledger(settings) as ledger:
        if in_ledger:
            with ledger.begin():
                store.rename_table(ledger, TABLE, renamed)
                record(ledger, settings, the_plan.adopted, the_plan.heads, ACTION)
            return report
        with _connect(store, dsn, project) as seed_conn:
            renaming = seed_conn.begin()
            store.rename_table(seed_conn, TABLE, renamed)
            if not recorded:
                # the ledger's rows commit first: cut short in between, the next run finds them and
                # only renames (the other way round, the seed's history would read as adopted)
                with ledger.begin():
                    record(ledger, settings, the_plan.adopted, the_plan.heads, ACTION)
            renaming.commit()
    return report


def _report(the_plan: SeedPlan, rows: list[SeedRow], database: str, renamed: str, dry_run: bool,
            rows_recorded: bool) -> list[str]:
    would = "would " if dry_run else ""
    lines = []
    if rows_recorded:
        lines.append(f"{'would record' if dry_run else 'recorded'} {len(the_plan.adopted)} revision(s) the seed "
                     f"applied as applied (audited as {ACTION}; the seed's times kept, its checksums in "
                     "legacy_checksum)" + (f", at {', '.join(the_plan.heads)}" if the_plan.heads else ""))
        lines += [f"  {a.migration.store} {a.migration.filename} ({a.migration.revision})" for a in the_plan.adopted]
    else:
        lines.append("the ledger records the seed's revisions already (an adoption cut short): only the rename is left")
    lines.append(f"{would}rename {TABLE} in database {database} to {renamed} ({len(rows)} row(s) kept as they are)"
                 if dry_run else f"renamed {TABLE} in database {database} to {renamed} ({len(rows)} row(s) kept)")
    if the_plan.renamed:
        lines.append("mapped by number to a file of another name: " + "; ".join(the_plan.renamed))
    if the_plan.unknown:
        lines.append("seed rows with no revision (not recorded): " + "; ".join(the_plan.unknown))
    if the_plan.pending:
        lines.append("never applied by the seed (pending: `polyalembic up` applies them): "
                     + ", ".join(m.revision for m in the_plan.pending))
    return lines
