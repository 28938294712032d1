"""Recorded store snapshots (``schema_migrations_snapshots``): the baseline ``polyalembic drift``
compares each live store with. One row per store, replaced whenever a run touches the store or
``drift --accept`` adopts its live state; ``managed`` keeps every object any of its recorded
snapshots held, so an object made by hand that no migration ever created can be told apart.
When rows are written is decided in ``runtime/recording.py`` (runs) and ``commands/drift.py`` (accept).

Lazy imports: the ledger's schema (SQLAlchemy), only when a snapshot is written: reading them stays
light.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from polyalembic.ledger.names import SNAPSHOTS_TABLE as TABLE
from polyalembic.ledger.reads import Query, dicts
from polyalembic.sql_lookups import in_current_schema

if TYPE_CHECKING:
    from polyalembic.stores.contract import Store
    from polyalembic.stores.sql.store import SqlStore


@dataclass(frozen=True)
class Recorded:
    """One store's recorded snapshot, as read back."""

    store: str
    snapshot: dict[str, Any]
    managed: frozenset[str]
    revision: str | None
    recorded_at: datetime | None
    recorded_by: str


def canonical(snapshot: Mapping[str, Any]) -> dict[str, Any]:
    """``snapshot`` as it reads back from JSON (tuples become lists), so a live snapshot compares
    equal to the recorded one of the same schema."""
    return json.loads(json.dumps(snapshot, sort_keys=True, default=str))


def take(store: Store, handle: Any) -> dict[str, Any]:
    """The store's live snapshot in canonical form."""
    return canonical(store.snapshot(handle))


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else value


def read_recorded(query: Query) -> dict[str, Recorded]:
    """store -> its recorded snapshot; {} while the ledger has none (or is older than version 3)."""
    if not dicts(query, f"SELECT {in_current_schema(TABLE)} AS found")[0]["found"]:
        return {}
    rows = dicts(query, f"SELECT store, snapshot, managed, revision, recorded_at, recorded_by FROM {TABLE}")
    return {row["store"]: Recorded(row["store"], _json(row["snapshot"]), frozenset(_json(row["managed"])),
                                   row["revision"], row["recorded_at"], row["recorded_by"]) for row in rows}


def record(execute: Callable[[Any], Any], sql: SqlStore, store: Store, snapshot: dict[str, Any],
           managed: Iterable[str], revision: str | None, by: str) -> None:
    """Replace ``store``'s recorded snapshot and its managed objects (an upsert of ``sql``, the
    store the ledger lives in)."""
    from sqlalchemy import func

    from polyalembic.ledger.schema import snapshots_table

    stmt = sql.upsert(snapshots_table(sql)).values(store=store.name, snapshot=snapshot, managed=sorted(set(managed)),
                                             revision=revision, recorded_at=func.now(), recorded_by=by)
    execute(stmt.on_conflict_do_update(index_elements=["store"],
                                       set_={k: stmt.excluded[k] for k in ("snapshot", "managed", "revision",
                                                                          "recorded_at", "recorded_by")}))


def after_run(store: Store, snapshot: dict[str, Any], previous: Recorded | None) -> set[str]:
    """The managed objects once a run recorded ``snapshot``: every object it holds joins them."""
    return set(previous.managed if previous else ()) | set(store.snapshot_objects(snapshot))
