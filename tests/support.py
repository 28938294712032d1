"""Reading every store's live state for assertions, with the product's introspection modules."""

from __future__ import annotations

import re
import shutil
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from polyalembic.events.stream import Reporter
from polyalembic.ledger.writes import LedgerRow, connect_ledger, read_rows
from polyalembic.project import Project
from polyalembic.settings import Settings
from polyalembic.stores import get_store
from polyalembic.stores.connections import StoreConnections
from polyalembic.stores.sql.store import SqlStore

POSTGRES_TABLES = {
    "procedural_memories", "skill_progressions", "skill_progression_events", "semantic_memories",
    "identity_memories", "portfolio_holdings", "portfolio_transactions", "portfolio_preferences",
}
HYPERTABLES = {"episodic_memories", "emotional_memories", "portfolio_snapshots"}
CONTINUOUS_AGGREGATES = ["emotional_state_hourly"]
NEO4J_CONSTRAINTS = {"memory_id_unique", "entity_id_unique", "concept_name_unique", "skill_name_unique",
                     "asset_symbol_unique"}
NEO4J_INDEXES = {"memory_agent_time", "entity_name_text", "related_to_strength", "memory_embedding"}
COLLECTIONS = {"episodic_memories", "semantic_memories"}


def snapshot(settings: Settings) -> dict[str, Any]:
    """Every store's schema (its contract snapshot) plus the ledger rows."""
    with StoreConnections(settings) as connections:
        state: dict[str, Any] = {store: get_store(store).snapshot(connections.get(store))
                                 for store in ("postgres", "timescaledb", "neo4j", "chromadb")}
    state["ledger"] = [(r.revision, r.status) for r in ledger(settings)]
    return state


def ledger(settings: Settings) -> list[LedgerRow]:
    with connect_ledger(settings) as connection:
        return read_rows(connection)


def is_empty(state: dict[str, Any]) -> list[str]:
    """What is left in the stores (empty list when nothing is)."""
    left = []
    left += [f"postgres {n}" for n in state["postgres"]["objects"]]
    left += [f"timescaledb {n}" for n in state["timescaledb"]["objects"]]
    left += [f"timescaledb job {j}" for j in state["timescaledb"]["jobs"]]
    left += [f"neo4j constraint {n}" for n in state["neo4j"]["constraints"]]
    left += [f"neo4j index {n}" for n in state["neo4j"]["indexes"]]
    left += [f"chroma collection {n}" for n in state["chromadb"]["collections"]]
    left += [f"ledger {r}" for r in state["ledger"]]
    return left


@contextmanager
def store_connection(settings: Settings, store: str) -> Iterator[Any]:
    """The product's own connection to ``store``; SQL work is committed, everything closed on exit."""
    with StoreConnections(settings) as connections:
        connection = connections.get(store)
        yield connection
        if isinstance(get_store(store), SqlStore):
            connection.commit()


def add_revision(project: Project, filename: str, source: str, store: str) -> None:
    """Write migrations/<store>/<filename> (dropping stale bytecode of an earlier version)."""
    folder = project.migrations_dir / store
    (folder / filename).write_text(textwrap.dedent(source).lstrip())
    shutil.rmtree(folder / "__pycache__", ignore_errors=True)


def relinked(source: str, revision: str, down_revision: str | None) -> str:
    """A revision source with other ids, to place it elsewhere in the chain."""
    source = re.sub(r"(?m)^(\s*)revision = .*$", rf'\1revision = "{revision}"', source)
    return re.sub(r"(?m)^(\s*)down_revision = .*$", rf"\1down_revision = {down_revision!r}", source)


class RecordedEvents(Reporter):
    """Keeps every event a run tells (progress at every count: no interval), for assertions."""

    active = True
    interval = 0.0

    def __init__(self) -> None:
        self.events: list[tuple[str, dict[str, Any]]] = []

    def emit(self, event: str, fields: dict[str, Any]) -> None:
        self.events.append((event, fields))

    def progress(self) -> list[tuple[str, int, int | None, str, bool]]:
        """(task, done, total, unit, finished) of each progress event."""
        return [(f["task"], f["done"], f["total"], f["unit"], f["finished"]) for e, f in self.events if e == "progress"]
