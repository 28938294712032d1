"""Two targets of a fleet that reach one place: refused before anything runs, unless they are one.

A store's place (a database and schema, a Neo4j database, a Chroma database) holds what the chain
did there; the ledger beside it says so. Two targets with one place and two ledgers would each
apply the chain to it; two targets with one ledger and two places would leave the second place
unmigrated (the ledger already says "applied"). So targets that share a ledger must share every
place (they are one target named twice: the migration lock serializes them and the second finds
the chain applied), and targets with ledgers of their own must have places of their own.
"""

from __future__ import annotations

from collections.abc import Iterable

from polyalembic.errors import PolyalembicError
from polyalembic.fleet.targets import Target
from polyalembic.settings import Settings, Variables
from polyalembic.stores import get_store


def check_places(targets: Iterable[Target], stores: Iterable[str]) -> None:
    """One line naming two targets and the place they would both migrate, else nothing."""
    stores = sorted(set(stores))
    by_ledger: dict[str, tuple[str, dict[str, str | None]]] = {}
    owner: dict[tuple[str, str], tuple[str, str]] = {}  # (store, place) -> (target, its ledger)
    for target in targets:
        settings = Settings(Variables(dict(target.env)))
        ledger = _ledger_place(settings)
        places = {store: get_store(store).place(settings) for store in stores}
        if ledger in by_ledger:
            first, theirs = by_ledger[ledger]
            differ = [store for store in stores if places[store] != theirs[store]]
            if differ:
                raise PolyalembicError(
                    f"fleet file: targets {first} and {target.name} keep one ledger ({ledger}) but migrate "
                    f"{differ[0]} in two places: the second would find the chain applied and be left behind: "
                    "give each target its own ledger (its own database, or POLYALEMBIC_LEDGER_SCHEMA)")
            continue
        by_ledger[ledger] = (target.name, places)
        for store, place in places.items():
            if place is None:
                continue
            if (store, place) in owner:
                first, _ = owner[(store, place)]
                raise PolyalembicError(
                    f"fleet file: targets {first} and {target.name} both migrate {store} at {place} with ledgers "
                    f"of their own: each would apply the chain there: give each target its own place (a database, "
                    "a schema) or one ledger")
            owner[(store, place)] = (target.name, ledger)


def _ledger_place(settings: Settings) -> str:
    dsn = settings.ledger_dsn
    return settings.ledger_store.place_of(dsn) if dsn else "(no ledger database)"
