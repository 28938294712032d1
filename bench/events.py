"""What the run's events cost (issue 13): an upgrade of N SQL revisions under cProfile, with the
default no-op reporter and with JSON lines, and the share of its time spent in polyalembic/events/stream.py
(load-independent: the profile counts the calls, whatever else the machine runs).

    python bench/events.py [--revisions 300]
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from alembic import command  # noqa: E402

from bench.run import Bench  # noqa: E402
from bench.scale import make_projects  # noqa: E402
from polyalembic.events.stream import JsonReporter, Reporter  # noqa: E402
from polyalembic.project import Project  # noqa: E402


def profiled(bench: Bench, ini: Path, reporter: Reporter) -> tuple[float, float, int]:
    """(seconds of the upgrade, seconds inside polyalembic/events/stream.py, calls into it)."""
    bench.fresh()
    project = Project(ini, settings=bench.settings)
    config = project.config(project.new_request(events=reporter))
    profile = cProfile.Profile()
    profile.runcall(command.upgrade, config, "head")
    stats = pstats.Stats(profile)
    total = stats.total_tt  # type: ignore[attr-defined]
    inside = [(v[2], v[1]) for k, v in stats.stats.items() if k[0].endswith("polyalembic/events/stream.py")]  # type: ignore[attr-defined]
    return total, sum(t for t, _ in inside), sum(n for _, n in inside)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--revisions", type=int, default=300)
    args = parser.parse_args()
    bench = Bench(reps=1)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            ini, _ = make_projects(Path(tmp), args.revisions)
            for name, reporter in (("no-op (default)", Reporter()), ("JSON lines", JsonReporter(io.StringIO()))):
                total, inside, calls = profiled(bench, ini, reporter)
                print(f"{name:<16} upgrade of {args.revisions} revisions: {total:6.2f} s profiled, "
                      f"{inside * 1000:7.1f} ms in events/stream.py ({calls} calls, {inside / total:.2%})")
    finally:
        bench.close()


if __name__ == "__main__":
    main()
