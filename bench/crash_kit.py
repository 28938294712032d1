"""What the crash tests share (bench/crash.py: one project; bench/fleet_crash.py: a fleet): the
environment a killed run and its recovery get, the README's repair of a half-done migration, the
kill points a clean run reaches, the convergence check and the closing tally. One copy, so both
tests recover and judge by the same rules."""

from __future__ import annotations

import os
import random
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

#: the variables a run would otherwise take a store's location from: never inherited, so a
#: trial's runs reach only the databases the trial made
STORE_PREFIXES = ("POSTGRES_", "TIMESCALE_", "NEO4J_", "CHROMA_", "POLYALEMBIC_")
#: what `up` prints (its error line) when a migration is half done; the revision follows
REPAIR_CHOICE = "`polyalembic repair resume "

Cli = Callable[..., subprocess.CompletedProcess[str]]


def run_env(variables: Mapping[str, str], repo: Path) -> dict[str, str]:
    """This process's environment without any store's variables, then ``variables``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(STORE_PREFIXES)}
    return env | dict(variables) | {"PYTHONPATH": str(repo)}


def repair_choice(text: str) -> str | None:
    """The revision ``up`` says to decide about (``repair resume REV``), or None."""
    if REPAIR_CHOICE not in text:
        return None
    return text.split(REPAIR_CHOICE, 1)[1].split("`", 1)[0]


def repair(cli: Cli, revision: str) -> list[str]:
    """The README's repair of one half-done migration: ``repair resume``; where resume honestly
    refuses a step that may have partly run, ``repair retry`` (the crash tests' workloads are
    written idempotent, as the README asks). Returns what was run; raises when it fails."""
    repaired = cli("repair", "resume", revision)
    done = [f"repair resume {revision}"]
    if repaired.returncode != 0 and "may have partly run" in repaired.stderr:
        repaired = cli("repair", "retry", revision)
        done.append(f"retry {revision}")
    if repaired.returncode != 0:
        raise RuntimeError(f"repair of {revision} failed: {repaired.stderr.strip()[-500:]}")
    return done


def read_points(record: Path) -> dict[str, list[str]]:
    """What a run with ``POLYALEMBIC_CRASH_AT=count@RECORD`` reached: point -> the store of each
    time it was reached, in order (the chain's revision ids start with their store's name)."""
    points: dict[str, list[str]] = {}
    for line in record.read_text().splitlines() if record.exists() else []:
        name, revision = line.split()
        points.setdefault(name, []).append(revision.rsplit("_", 1)[0])
    return points


def nth_commit(stores: list[str], turn: int, rng: random.Random) -> int:
    """Which commit (1-based) to kill at: the stores take turns, so each store's commits get their
    share of the kills whatever their number; within a store, any of its commits."""
    order = sorted(set(stores))
    store = order[turn % len(order)]
    return 1 + rng.choice([i for i, s in enumerate(stores) if s == store])


def differences(reference: Mapping[str, Any], state: Mapping[str, Any]) -> list[str]:
    """What keeps ``state`` from having converged to ``reference``: each key that differs, and
    ``upgrades`` (revision -> its ``upgrade`` audit rows) unless every migration has exactly one."""
    problems = [key for key in reference if key != "upgrades" and state.get(key) != reference[key]]
    upgrades = state.get("upgrades", {})
    if set(upgrades) != set(reference.get("upgrades", {})) or set(upgrades.values()) - {1}:
        problems.append(f"upgrades {upgrades}")
    return problems


class Tally:
    """Kills and convergences per window; ``close`` prints them and ``N kills, N converged``."""

    def __init__(self) -> None:
        self.windows: dict[str, list[int]] = {}

    def add(self, window: str, converged: bool) -> None:
        counts = self.windows.setdefault(window, [0, 0])
        counts[0] += 1
        counts[1] += converged

    def close(self) -> bool:
        """Prints the tally; True when every kill converged."""
        for window, (kills, ok) in sorted(self.windows.items()):
            print(f"window {window}: {kills} kills, {ok} converged")
        kills = sum(k for k, _ in self.windows.values())
        converged = sum(ok for _, ok in self.windows.values())
        print(f"{kills} kills, {converged} converged", flush=True)
        return kills == converged
