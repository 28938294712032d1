"""The crash test's smoke run (issue 9): 5 SIGKILLs spread over a full upgrade (one in a lock wait),
each recovered as the README says and checked to have converged. The full run is `make crash`."""

from __future__ import annotations

import subprocess
import sys

from polyalembic.settings import Settings
from tests.conftest import REPO


def test_five_kills_all_converge(base_settings: Settings) -> None:
    del base_settings  # the stack is up
    result = subprocess.run([sys.executable, str(REPO / "bench" / "crash.py"), "--kills", "5", "--seed", "11"],
                            cwd=REPO, capture_output=True, text=True, timeout=900)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert result.stdout.strip().splitlines()[-1] == "5 kills, 5 converged"
