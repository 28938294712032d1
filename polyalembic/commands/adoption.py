"""What every ``adopt`` of another tool's history shares: the rule that what it records as applied
stands on nothing left unapplied, and the one transaction that records it.

A history another tool ran becomes polyalembic's by rows in the ledger (``applied``, audited as
the adoption, with the time and checksum that tool recorded) and Alembic's version table at the
heads of what was adopted: ``status`` is then truthful and ``up`` runs only what the tool never
ran. Nothing in the stores is touched.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from polyalembic.chain.migration import Migration
from polyalembic.chain.positions import History
from polyalembic.errors import PolyalembicError
from polyalembic.ledger import schema as ledger_schema
from polyalembic.ledger.writes import Ledger, connect_ledger, current_heads_of, read_rows
from polyalembic.settings import Settings


@dataclass(frozen=True)
class Adopted:
    """A revision another tool ran: when (None: unknown, recorded as now) and the checksum it kept."""

    migration: Migration
    applied_at: Any = None
    legacy_checksum: str | None = None


def label(m: Migration) -> str:
    """A revision as messages name it: its store, its file and its id."""
    return f"{m.store} {m.filename} ({m.revision})"


def refuse_holes(command: str, history: History, adopted: Iterable[Migration], how_to_apply: str) -> tuple[str, ...]:
    """The heads of ``adopted``, a set the databases can be at: one line naming the first revision
    it stands on that is not in it (the other tool never ran it, yet ran one after it)."""
    covered = {m.revision for m in adopted}
    for m in history.chain:
        if m.revision not in covered:
            continue
        missing = [history.by_id[r] for r in history.applied((m.revision,)) - covered]
        if missing:
            first = min(missing, key=history.chain.index)
            raise PolyalembicError(f"{command}: {label(m)} was applied, but not {label(first)}, which the chain runs "
                                   f"before it: {how_to_apply}, then adopt again; nothing was changed")
    parents = {parent for r in covered for parent in history.by_id[r].down}
    return tuple(sorted(covered - parents))


def record(connection: sa.Connection, settings: Settings, adopted: list[Adopted], heads: tuple[str, ...],
           action: str) -> None:
    """In ``connection``'s transaction (on the ledger's database, under the migration lock): the
    ledger made or brought up to date, a row and an audit row for each of ``adopted``, and
    Alembic's version table at ``heads``."""
    sql = settings.ledger_store
    ledger_schema.ensure(connection, sql, settings.committing_as_they_go())
    ledger = Ledger(sql)
    for entry in adopted:
        ledger.adopted(connection.execute, entry.migration, action, entry.applied_at, entry.legacy_checksum)
    ledger.versions_set(connection.execute, heads)


def recorded(settings: Settings, history: History) -> set[str]:
    """The revisions the ledger records, and those Alembic's version table stands on."""
    with connect_ledger(settings) as conn:
        return {row.revision for row in read_rows(conn)} | history.applied(current_heads_of(conn))
