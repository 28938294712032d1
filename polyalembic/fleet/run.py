"""A fleet's run: its targets handed to worker processes, wave after wave, under a failure policy.

Workers are processes, not threads: Alembic's ``op`` and ``context`` are module-level proxies,
so one process runs one target at a time, and a worker migrates many targets one after the
other, each with its own settings, connections, lock and ledger (``run_target``). A target that
fails (its server down, a migration that raises) fails alone: its one line is kept and the others
go on; by default no new target starts after a failure (``on_failure = "continue"`` goes on).
The first wave is the canary: it runs alone, before any other target starts.

Lazy imports: the API (Alembic, the ledger), in the worker that runs a target: the parent process
only hands out targets and gathers what they did.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from polyalembic.events.stream import JsonReporter, Reporter
from polyalembic.fleet.claims import Claims
from polyalembic.fleet.targets import Fleet, Target

#: seconds between two tries at the claims other runs hold
CLAIM_RETRY = 0.2
#: what a target's run ended in
OUTCOMES = ("migrated", "at head", "pending", "failed", "not started")


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
              on_result: Callable[[TargetResult, int, int], None] | None = None) -> list[TargetResult]:
    """Run ``action`` (``up`` or ``status``) on every target of ``fleet``; the results in the
    fleet's order. ``on_result(result, done, total)`` hears each as it ends. A target is handed
    out only when a worker is free, so after a failure (policy ``stop``) none starts; with a
    claims database, only while this run holds its claim (one another run holds waits)."""
    results: dict[str, TargetResult] = {}
    total, workers = len(fleet.targets), min(fleet.workers, len(fleet.targets))
    if not total:  # a shard that holds no target
        return []
    claims = Claims(fleet.claims).open()
    context = multiprocessing.get_context("spawn")  # a clean interpreter: nothing of the parent's inherited
    try:
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            stopped = False
            for wave in waves(fleet.targets, fleet.canary, fleet.wave):
                queue: list[Target] = list(wave)
                running: dict[Future[TargetResult], Target] = {}
                while running or (queue and not stopped):
                    while not stopped and len(running) < workers and (target := _claim(queue, claims)):
                        running[pool.submit(run_target, str(config_path), action, target, json_events)] = target
                    if not running:  # every target left is another run's for now
                        time.sleep(CLAIM_RETRY)
                        continue
                    done, _ = wait(running, timeout=CLAIM_RETRY if queue else None, return_when=FIRST_COMPLETED)
                    for future in done:
                        target = running.pop(future)
                        claims.give_back(target.name)
                        result = results[target.name] = _result_of(future, target)
                        stopped = stopped or (result.outcome == "failed" and fleet.on_failure == "stop")
                        if on_result is not None:
                            on_result(result, len(results), total)
                if stopped:
                    break
    finally:
        claims.close()
    return [results.get(t.name) or TargetResult(t.name, "not started") for t in fleet.targets]


def _claim(queue: list[Target], claims: Claims) -> Target | None:
    """The first target of ``queue`` this run can claim now, taken off it; None when another run
    holds every one left."""
    for k, target in enumerate(queue):
        if claims.take(target.name):
            return queue.pop(k)
    return None


def _result_of(future: Future[TargetResult], target: Target) -> TargetResult:
    try:
        return future.result()
    except Exception as exc:  # noqa: BLE001 - a worker that died (killed, out of memory) fails its target
        return TargetResult(target.name, "failed", error=f"the worker running it died ({type(exc).__name__})")


def run_target(config_path: str, action: str, target: Target, json_events: bool = False) -> TargetResult:
    """In a worker: ``action`` on one target, with its settings only; never raises."""
    from polyalembic.settings import Settings, Variables

    started = time.monotonic()
    settings = Settings(Variables(dict(target.env)))
    try:
        result = _status(config_path, target, settings) if action == "status" else \
            _up(config_path, target, settings, json_events)
    except Exception as exc:  # noqa: BLE001 - every failure is the target's one masked line
        result = TargetResult(target.name, "failed", error=settings.mask(" ".join(str(exc).split()) or
                                                                         type(exc).__name__))
    result.seconds = time.monotonic() - started
    return result


def _up(config_path: str, target: Target, settings: object, json_events: bool) -> TargetResult:
    from polyalembic import api
    from polyalembic.project import Project
    from polyalembic.request import RunRequest

    reporter = TargetEvents(target.name) if json_events else Reporter()
    project = Project(Path(config_path), settings=settings, request=RunRequest(events=reporter),  # type: ignore[arg-type]
                      frozen_files=True)
    run = api.up(project)
    applied: dict[str, int] = {}
    for migration in run.migrations("applied"):
        applied[migration.store] = applied.get(migration.store, 0) + 1
    return TargetResult(target.name, "migrated" if applied else "at head", applied=applied)


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


class TargetEvents(JsonReporter):
    """A target's JSON events (``--log-format json``), each with the ``target`` it is about."""

    def __init__(self, target: str) -> None:
        super().__init__()
        self.target = target

    def emit(self, event: str, fields: dict[str, object]) -> None:
        super().emit(event, {"target": self.target, **fields})
