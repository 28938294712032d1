"""The fleet crash test's smoke run (issue 24): one kill in each window (a worker at a time, the
whole fleet at a time, the workers at a store commit) of `fleet up` over a target of each kind,
each recovered with `fleet up` and `fleet repair` and checked to have converged. The full run is `make fleet-crash`."""

from __future__ import annotations

import subprocess
import sys

from polyalembic.settings import Settings
from tests.conftest import REPO


def test_three_fleet_kills_all_converge(base_settings: Settings) -> None:
    del base_settings  # the stack is up
    result = subprocess.run([sys.executable, str(REPO / "bench" / "fleet_crash.py"), "--kills", "3", "--targets", "3",
                             "--seed", "11"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "3 kills, 3 converged", result.stdout[-3000:]
    assert all(f"window {w}: 1 kills, 1 converged" in lines
               for w in ("worker at a time", "fleet at a time", "worker at a store commit")), result.stdout[-3000:]
