"""``polyalembic fleet up|repair|status|drift|validate FILE``: read the fleet file, run it, say
what happened, and fail (exit 1) naming the targets that failed (or drifted)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from polyalembic.commands.validate import check_project
from polyalembic.errors import PolyalembicError
from polyalembic.events.stream import JsonReporter
from polyalembic.fleet.places import check_places
from polyalembic.fleet.report import progress_line, summary
from polyalembic.fleet.run import OUTCOMES, REPAIRS, TargetResult, run_fleet
from polyalembic.fleet.targets import Fleet, parse_shard, read_fleet, shard
from polyalembic.project import Project
from polyalembic.settings import Settings, Variables, connection_keys
from polyalembic.stores import ledger_home

#: the actions that change targets (their places are checked first)
WRITERS = ("up", "repair")


def control_names(dsn: str, query: str) -> list[str]:
    """The first column of ``query`` on the control database ``dsn`` (``[fleet.tenants_from]``),
    through the ledger's SQL store's driver."""
    store = ledger_home()
    if store is None:
        raise PolyalembicError("fleet file: [fleet.tenants_from] needs a SQL store to read the control database")
    connection = store.driver_connection(dsn, "fleet control database", "[fleet.tenants_from] dsn")
    try:
        cursor = connection.cursor()
        cursor.execute(query)
        return [str(row[0]) for row in cursor.fetchall()]
    except Exception as exc:  # noqa: BLE001 - the driver's error, in one line naming the query
        raise PolyalembicError(f"fleet file: [fleet.tenants_from] query failed: {' '.join(str(exc).split())}") from None
    finally:
        connection.close()


def load(fleet_file: Path, workers: int | None = None, go_on: bool = False, part: str | None = None) -> Fleet:
    """The fleet of ``fleet_file``, with the command line's ``--workers``, ``--continue`` and
    ``--shard K/N`` (only the targets of that shard)."""
    fleet = read_fleet(fleet_file, connection_keys(), query=control_names)
    if part is not None:
        fleet = shard(fleet, *parse_shard(part))
    if workers is not None:
        fleet = replace(fleet, workers=workers)
    return replace(fleet, on_failure="continue") if go_on else fleet


def fleet_run(config_path: Path, fleet: Fleet, action: str, json_events: bool = False,
              say: Callable[[str], None] | None = None, check: bool = False,
              lock_timeout: float | None = None, decision: str = "resume") -> list[TargetResult]:
    """Run ``action`` over ``fleet`` (``repair``: ``decision`` on each failed target); ``say``
    hears the progress and summary lines (with ``json_events``, each target's end is a
    ``target_finished`` event and the run's a ``fleet_finished`` one). Raises one line naming the
    failed targets (and, with ``check``, those not at head)."""
    if action in WRITERS:  # no two targets may migrate one place (whatever shard runs them)
        check_places(fleet.everyone, {m.store for m in Project(config_path, settings=Settings(Variables({}))).chain()})
    if action == "validate":  # the files are every target's: checked once, before any target is read
        problems = check_project(Project(config_path, settings=Settings(Variables({}))))
        if problems:
            raise PolyalembicError(f"fleet validate: {len(problems)} problem(s) in the migration files, every "
                                   f"target's: the first: {problems[0]} (`polyalembic validate` lists them)")
    events = JsonReporter() if json_events else None

    def heard(result: TargetResult, done: int, total: int) -> None:
        if say is not None:
            say(progress_line(result, done, total))
        if events is not None:
            events.emit("target_finished", {"target": result.name, "outcome": result.outcome,
                                            "applied": result.applied, "pending": result.pending,
                                            "error": result.error, "ms": round(result.seconds * 1000),
                                            "done": done, "of": total})

    if action == "repair" and decision not in REPAIRS:
        raise PolyalembicError(f"fleet repair: {decision!r} is no decision a fleet takes on every failed target "
                               f"(one of: {', '.join(REPAIRS)}; the others are `polyalembic repair`'s, one target at "
                               "a time)")
    results = run_fleet(config_path, fleet, action, json_events, on_result=heard, lock_timeout=lock_timeout,
                        decision=decision)
    if say is not None:
        for line in summary(action, results):
            say(line)
    if events is not None:
        events.emit("fleet_finished", {"command": action, "targets": len(results),
                                       **{outcome: sum(r.outcome == outcome for r in results)
                                          for outcome in OUTCOMES}})
    for outcome in ("failed", "drifted"):
        names = [r.name for r in results if r.outcome == outcome]
        if names:
            raise PolyalembicError(f"fleet {action}: {len(names)} of {len(results)} target(s) {outcome}: "
                                   f"{', '.join(names)}")
    behind = [r.name for r in results if r.outcome in ("pending", "not started")]
    if check and behind:
        raise PolyalembicError(f"fleet {action}: {len(behind)} of {len(results)} target(s) not at head: "
                               f"{', '.join(behind)}: `polyalembic fleet up` migrates them")
    return results
