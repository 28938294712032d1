"""``polyalembic drift``: each store's live schema against the snapshot the last run that touched
it recorded (or the last ``drift --accept``), in plain words.

The words come from the stores (``Store.describe_object``); the core decides only what is drift
and what was never managed: an object no recorded snapshot of its store ever held (a table or a
collection made by hand) is listed apart, and counts as drift only when asked (``--all``).

Lazy imports: the ledger's writes and the store connections (SQLAlchemy, drivers), only for
`--accept` and the live snapshots; reading the recorded ones stays light.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from polyalembic.ledger.snapshots import Recorded, read_recorded, take
from polyalembic.stores import STORES, get_store

if TYPE_CHECKING:
    from polyalembic.project import Project
    from polyalembic.stores.contract import Store

MATCHES, DRIFTED, NO_SNAPSHOT = "matches", "drifted", "no snapshot"
#: the version of ``drift --format json`` (and of ``status --drift``'s "drift" entry)
VERSION = 1
ACCEPT_ACTION = "drift:accept"


@dataclass(frozen=True)
class StoreDrift:
    """One store's verdict."""

    store: str
    state: str
    differences: list[str]
    unmanaged: list[str]
    recorded: Recorded | None

    def as_json(self) -> dict[str, Any]:
        rec = self.recorded
        return {"state": self.state, "differences": self.differences, "unmanaged": self.unmanaged,
                "recorded_at": rec.recorded_at.isoformat(timespec="seconds") if rec and rec.recorded_at else None,
                "revision": rec.revision if rec else None, "recorded_by": rec.recorded_by if rec else None}


def compare(store: Store, recorded: Recorded | None, live: dict[str, Any] | None,
            include_unmanaged: bool = False) -> StoreDrift:
    """``live`` against ``recorded``: differences of managed objects, and unmanaged objects apart."""
    if recorded is None or live is None:
        return StoreDrift(store.name, NO_SNAPSHOT, [], [], recorded)
    before, after = store.snapshot_objects(recorded.snapshot), store.snapshot_objects(live)
    differences: list[str] = []
    unmanaged: list[str] = []
    for key in sorted(before.keys() | after.keys()):
        old, new = before.get(key), after.get(key)
        if key not in recorded.managed:
            if new is not None:
                unmanaged.append(key)
        elif old != new:
            differences += store.describe_object(key, old, new)
    drifted = differences or (include_unmanaged and unmanaged)
    return StoreDrift(store.name, DRIFTED if drifted else MATCHES, differences, unmanaged, recorded)


def selected_stores(project: Project, stores: tuple[str, ...] | list[str] = ()) -> list[str]:
    """The stores asked for, else every store the chain migrates (registry order)."""
    used = {m.store for m in project.chain()}
    for name in stores:
        get_store(name)
    return [name for name in STORES if name in stores] if stores else [name for name in STORES if name in used]


def check(project: Project, stores: tuple[str, ...] | list[str] = (),
          include_unmanaged: bool = False) -> list[StoreDrift]:
    """Every selected store's verdict (a store with no recorded snapshot is not connected to)."""
    from polyalembic.ledger.reads import reading
    from polyalembic.stores.connections import StoreConnections

    settings = project.settings
    assert settings is not None
    names = selected_stores(project, stores)
    with reading(settings) as query:
        recorded = read_recorded(query)
    reports = []
    with StoreConnections(settings) as connections:
        for name in names:
            store = get_store(name)
            live = take(store, connections.get(name)) if name in recorded else None
            reports.append(compare(store, recorded.get(name), live, include_unmanaged))
    return reports


def accept(project: Project, stores: tuple[str, ...] | list[str] = (), include_unmanaged: bool = False,
           lock_timeout: float | None = None) -> list[StoreDrift]:
    """Record every selected store's live state as its baseline, under the migration lock, each
    audited as ``drift:accept``; return what each store differed by before. Objects no migration
    ever managed stay unmanaged unless ``include_unmanaged`` (or the store had no snapshot yet:
    then all it holds is adopted)."""
    from polyalembic.ledger.reads import sa_query
    from polyalembic.ledger.writes import Ledger, current_heads_of, locked
    from polyalembic.stores.connections import StoreConnections

    settings = project.settings
    assert settings is not None
    names = selected_stores(project, stores)
    ledger = Ledger(settings.ledger_store)
    with locked(settings, lock_timeout) as conn, StoreConnections(settings) as connections:
        recorded = read_recorded(sa_query(conn))
        revision = ", ".join(current_heads_of(conn)) or None
        live = {name: take(get_store(name), connections.get(name)) for name in names}  # all before any write
        reports = []
        for name in names:
            store, previous = get_store(name), recorded.get(name)
            reports.append(compare(store, previous, live[name], include_unmanaged))
            objects = set(store.snapshot_objects(live[name]))
            if previous is None or include_unmanaged:
                managed = set(previous.managed if previous else ()) | objects
            else:
                managed = set(previous.managed)
            ledger.drift_accepted(conn.execute, store, live[name], managed, revision, ACCEPT_ACTION)
    return reports


def drifted(reports: list[StoreDrift]) -> bool:
    return any(r.state == DRIFTED for r in reports)


def as_json(reports: list[StoreDrift], include_unmanaged: bool = False) -> dict[str, Any]:
    """The stable document of ``polyalembic drift --format json`` (see README)."""
    return {"version": VERSION, "ok": not drifted(reports), "unmanaged_count_as_drift": include_unmanaged,
            "stores": {r.store: r.as_json() for r in reports}}


def render(reports: list[StoreDrift], include_unmanaged: bool = False) -> str:
    """Plain words: one line per difference (``store: what``), a line per store that matches or has
    no snapshot yet, then the unmanaged objects apart."""
    lines = []
    for r in reports:
        if r.state == NO_SNAPSHOT:
            lines.append(f"{r.store}: no recorded snapshot yet (not drift): `polyalembic drift --accept` "
                         "records the live state as its baseline")
        elif r.differences:
            lines += [f"{r.store}: {difference}" for difference in r.differences]
        else:
            rec = r.recorded
            when = rec.recorded_at.isoformat(timespec="seconds") if rec and rec.recorded_at else "?"
            lines.append(f"{r.store}: matches the snapshot recorded at {when} "
                         f"(revision {rec.revision if rec else None}, by {rec.recorded_by if rec else None})")
    unmanaged = [f"  {r.store}: {key}" for r in reports for key in r.unmanaged]
    if unmanaged:
        counted = "counted as drift (--all)" if include_unmanaged else "not drift; --all counts them"
        lines += ["", f"Not managed by migrations (no recorded snapshot ever held them; {counted}):", *unmanaged]
    bad = [r.store for r in reports if r.state == DRIFTED]
    if bad:
        lines += ["", f"Drift in {', '.join(bad)}: undo the change, write a migration for it, or "
                      "`polyalembic drift --accept` to record the live state as the baseline."]
    return "\n".join(lines)
