"""What the stores' step markers say of half-done migrations, for ``status``: the ledger's
``completed_steps`` is what it heard; a kill between a store's commit and the ledger's update
leaves a step committed that only its marker knows of. Asked only when a row is half done, of a
store that marks (``StepMarkers``) on a database other than the ledger's.

Lazy imports: the store registry and connections, only when a half-done row is found.
"""

from __future__ import annotations

from typing import Any

from polyalembic.commands.status import MigrationStatus, half_done


def with_markers(statuses: list[MigrationStatus], settings: Any) -> list[MigrationStatus]:
    """``statuses`` with ``marked_steps`` set on each half-done row whose store says which of its
    steps committed (a store that can't be read leaves it None and says why in ``marked_note``)."""
    asked = [s for s in statuses if half_done(s)]
    if not asked:
        return statuses
    from polyalembic.stores import STORES, get_store
    from polyalembic.stores.connections import StoreConnections
    from polyalembic.stores.contract import StepMarkers

    found: dict[str, MigrationStatus] = {}
    with StoreConnections(settings) as connections:
        for s in asked:
            spec = get_store(s.store) if s.store in STORES else None
            if not isinstance(spec, StepMarkers) or settings.shares_ledger_database(s.store):
                continue
            try:
                marked = spec.marked_steps(connections.get(s.store), s.revision)
            except Exception as exc:  # noqa: BLE001 - status still shows what the ledger says
                reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                note = settings.mask(f"its store's markers were not read: {reason}")
                found[s.revision] = s._replace(marked_note=note)
                continue
            found[s.revision] = s._replace(marked_steps=tuple(sorted(marked)))
    return [found.get(s.revision, s) for s in statuses]
