"""A fleet's run: its targets handed to worker processes, wave after wave, under a failure policy.

Workers are processes, not threads: Alembic's ``op`` and ``context`` are module-level proxies,
so one process runs one target at a time, and a worker migrates many targets one after the
other, each with its own settings, connections, lock and ledger (``run_target``). A target that
fails (its server down, a migration that raises) fails alone: its one line is kept and the others
go on; by default no new target starts after a failure (``on_failure = "continue"`` goes on).
The first wave is the canary: it runs alone, before any other target starts. ``repair`` writes
as ``up`` does, under the same policy, but only on the targets whose ledger holds a failed or
half-done row: the others cost one read and are left as they are (``not failed``).

Lazy imports: the API (Alembic, the ledger), the settings and masking, in the worker that runs a
target: the parent process only hands out targets and gathers what they did.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from polyalembic.events.stream import JsonReporter, Reporter
from polyalembic.fleet.claims import Claims
from polyalembic.fleet.targets import Fleet, Target
from polyalembic.fleet.workers import WorkerPool

if TYPE_CHECKING:
    from polyalembic.chain.migration import Migration
    from polyalembic.project import Project
    from polyalembic.request import Outcome

#: seconds between two tries at the claims other runs hold
CLAIM_RETRY = 0.2
#: what a target's run ended in
OUTCOMES = ("migrated", "repaired", "at head", "not failed", "pending", "valid", "clean", "drifted", "failed",
            "not started")
#: the ``repair`` decisions a fleet can take on every failed target (the others need a look at each one)
REPAIRS = ("resume", "retry")


@dataclass
class TargetResult:
    """One target's end: ``outcome`` is one of ``OUTCOMES``; ``applied``/``pending``: store -> how many."""

    name: str
    outcome: str
    applied: dict[str, int] = field(default_factory=dict)
    pending: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    seconds: float = 0.0


def waves(targets: list[Target], canary: int, size: int) -> Iterator[list[Target]]:
    """The canary wave (``canary`` targets), then waves of ``size``."""
    start = 0
    if canary:
        yield targets[:canary]
        start = canary
    for k in range(start, len(targets), size):
        yield targets[k:k + size]


def run_fleet(config_path: Path, fleet: Fleet, action: str, json_events: bool = False,
              on_result: Callable[[TargetResult, int, int], None] | None = None,
              lock_timeout: float | None = None, decision: str = "resume") -> list[TargetResult]:
    """Run ``action`` (``up``, ``repair`` with ``decision``; ``status``, ``drift``, ``validate``
    only read) on every target of ``fleet``; the results in the fleet's order. ``on_result(result,
    done, total)`` hears each as it ends. A target is handed out only when a worker is free, so
    after a failure none starts (policy ``stop``; a failed canary stops any run; a reading action
    reads them all); with a claims database, only while this run holds its claim (one another run
    holds waits)."""
    results: dict[str, TargetResult] = {}
    total = len(fleet.targets)
    if not total:  # a shard that holds no target
        return []
    claims = Claims(fleet.claims).open()
    pool = WorkerPool(min(fleet.workers, total))
    handed_out: dict[str, float] = {}  # target -> when a worker got it
    stopped = False
    try:
        for number, wave in enumerate(waves(fleet.targets, fleet.canary, fleet.wave)):
            canary = number == 0 and fleet.canary > 0
            queue: list[Target] = list(wave)
            while pool.busy() or (queue and not stopped):
                while not stopped and pool.free() and (target := _claim(queue, claims)):
                    pool.submit(target, run_target, str(config_path), action, target, json_events, lock_timeout,
                                decision)
                    handed_out[target.name] = time.monotonic()
                if not pool.busy():  # every target left is another run's for now
                    time.sleep(CLAIM_RETRY)
                    continue
                for target, result, died in pool.finished(timeout=CLAIM_RETRY if queue else None):
                    claims.give_back(target.name)
                    if result is None:
                        result = TargetResult(target.name, "failed", error=f"the worker running it died (exit code "
                                                                          f"{died}): run it again (`fleet {action}`)",
                                              seconds=time.monotonic() - handed_out[target.name])
                    results[target.name] = result
                    stops = action not in _READERS and (fleet.on_failure == "stop" or canary)
                    stopped = stopped or (result.outcome == "failed" and stops)
                    if on_result is not None:
                        on_result(result, len(results), total)
            if stopped:
                break
    finally:
        pool.close()
        claims.close()
    return [results.get(t.name) or TargetResult(t.name, "not started") for t in fleet.targets]


def _claim(queue: list[Target], claims: Claims) -> Target | None:
    """The first target of ``queue`` this run can claim now, taken off it; None when another run
    holds every one left."""
    for k, target in enumerate(queue):
        if claims.take(target.name):
            return queue.pop(k)
    return None


def run_target(config_path: str, action: str, target: Target, json_events: bool = False,
               lock_timeout: float | None = None, decision: str = "resume") -> TargetResult:
    """In a worker: ``action`` on one target, with its settings only; never raises. Its error
    line is masked with the target's secrets: its stores' and every ``${VAR}`` value it holds."""
    from polyalembic.masking import mask_text
    from polyalembic.settings import Settings, Variables

    started = time.monotonic()
    settings = Settings(Variables(dict(target.env)))
    try:
        if action == "up":
            result = _up(config_path, target, settings, json_events, lock_timeout)
        elif action == "repair":
            result = _repair(config_path, target, settings, json_events, lock_timeout, decision)
        else:
            result = _READERS[action](config_path, target, settings)
    except Exception as exc:  # noqa: BLE001 - every failure is the target's one masked line
        line = " ".join(str(exc).split()) or type(exc).__name__
        result = TargetResult(target.name, "failed", error=mask_text(settings.mask(line), target.secrets))
    result.seconds = time.monotonic() - started
    return result


def _writing_project(config_path: str, target: Target, settings: object, json_events: bool,
                     lock_timeout: float | None, heard: list[Outcome] | None = None) -> Project:
    """The project a writing action runs on one target: its settings, its JSON events (each
    naming it), ``--lock-timeout`` for its lock; ``heard`` gets every migration's outcome, of each
    run the action makes (a repair's, then its ``up``'s)."""
    from polyalembic.project import Project
    from polyalembic.request import RunRequest

    reporter = TargetEvents(target.name, target.secrets) if json_events else Reporter()
    request = RunRequest(events=reporter, lock_timeout=lock_timeout,
                         on_outcome=None if heard is None else heard.append)
    return Project(Path(config_path), settings=settings, request=request, frozen_files=True)  # type: ignore[arg-type]


def _per_store(migrations: list[Migration]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for migration in migrations:
        counts[migration.store] = counts.get(migration.store, 0) + 1
    return counts


def _up(config_path: str, target: Target, settings: object, json_events: bool,
        lock_timeout: float | None) -> TargetResult:
    from polyalembic import api

    run = api.up(_writing_project(config_path, target, settings, json_events, lock_timeout))
    applied = _per_store(run.migrations("applied"))
    return TargetResult(target.name, "migrated" if applied else "at head", applied=applied)


def _repair(config_path: str, target: Target, settings: object, json_events: bool,
            lock_timeout: float | None, decision: str) -> TargetResult:
    """``repair <decision> REV`` for each failed or half-done row of the target's ledger, in chain
    order (the audited path of ``polyalembic repair``), then ``up`` for the rest of its chain. The
    rows are read first, without the lock: a target that holds none is not touched (``not
    failed``), so a fleet repair costs the healthy targets one read of their ledger."""
    from polyalembic import api
    from polyalembic.commands.repair import repair
    from polyalembic.commands.status import read_status
    from polyalembic.ledger.row_status import RowStatus

    heard: list[Outcome] = []
    project = _writing_project(config_path, target, settings, json_events, lock_timeout, heard)
    statuses, _ = read_status(project)
    failed = [s.revision for s in statuses if s.status_in_ledger in (RowStatus.FAILED, RowStatus.RUNNING)]
    if not failed:
        return TargetResult(target.name, "not failed")
    for revision in failed:
        repair(project, decision, revision)
    api.up(project)
    return TargetResult(target.name, "repaired", applied=_per_store([o.migration for o in heard
                                                                      if o.event == "applied"]))


def _status(config_path: str, target: Target, settings: object) -> TargetResult:
    from polyalembic import api
    from polyalembic.project import Project

    statuses, _ = api.status(Project(Path(config_path), settings=settings, frozen_files=True))  # type: ignore[arg-type]
    pending: dict[str, int] = {}
    troubled = [s for s in statuses if s.state not in ("applied", "pending")]
    for status in statuses:
        if status.state == "pending":
            pending[status.store] = pending.get(status.store, 0) + 1
    if troubled:
        first = troubled[0]
        return TargetResult(target.name, "failed", pending=pending,
                            error=f"{first.revision} ({first.store}) is {first.state}")
    return TargetResult(target.name, "pending" if pending else "at head", pending=pending)


def _drift(config_path: str, target: Target, settings: object) -> TargetResult:
    from polyalembic.commands import drift
    from polyalembic.project import Project

    reports = drift.check(Project(Path(config_path), settings=settings, frozen_files=True))  # type: ignore[arg-type]
    drifted = [f"{r.store} ({len(r.differences)} difference(s))" for r in reports if r.state == drift.DRIFTED]
    if drifted:
        return TargetResult(target.name, "drifted", error="drifted: " + ", ".join(drifted) +
                            " (`polyalembic drift` with its settings shows them)")
    return TargetResult(target.name, "clean")


def _validate(config_path: str, target: Target, settings: object) -> TargetResult:
    from polyalembic.commands import validate
    from polyalembic.project import Project

    problems = validate.check_ledger(Project(Path(config_path), settings=settings, frozen_files=True))  # type: ignore[arg-type]
    if problems:
        return TargetResult(target.name, "failed", error=f"{len(problems)} problem(s), the first: {problems[0]}")
    return TargetResult(target.name, "valid")


#: the actions that only read a target (every target is read, whatever the failure policy)
_READERS: dict[str, Callable[[str, Target, object], TargetResult]] = {
    "status": _status, "drift": _drift, "validate": _validate}


class TargetEvents(JsonReporter):
    """A target's JSON events (``--log-format json``), each with the ``target`` it is about (and
    its ``${VAR}`` values masked, as the store's secrets are)."""

    def __init__(self, target: str, secrets: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.target, self.secrets = target, secrets

    def emit(self, event: str, fields: dict[str, object]) -> None:
        from polyalembic.masking import mask_text

        fields = {k: mask_text(v, self.secrets) if isinstance(v, str) else v for k, v in fields.items()}
        super().emit(event, {"target": self.target, **fields})
