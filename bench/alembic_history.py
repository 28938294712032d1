"""Existing Alembic histories (issue 22): hex ids, two branch-and-merge points, ``depends_on``, a
branch label and irreversible data migrations (``tests/alembic_history.py``), at 300 and 3,000
revisions. Whole ``polyalembic validate`` runs, cold (no cache: a fresh CI checkout) and warm,
several repetitions, medians: wall time, CPU and the process's peak RSS, next to ``alembic heads``
(plain Alembic loading the same history) in the same run. No server is needed.

    python bench/alembic_history.py [--reps 5] [--sizes 300 3000]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from tests.alembic_history import alembic_ini, write_history  # noqa: E402

BIN = Path(sys.executable).parent


def measured(argv: list[str], cwd: Path) -> tuple[float, float, int]:
    """(wall seconds, CPU seconds, peak RSS in KiB) of one run of ``argv``; it must exit 0."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("POSTGRES_", "TIMESCALE_", "POLYALEMBIC_"))}
    started = time.perf_counter()
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.exit(f"bench: {' '.join(argv)} exited {process.returncode}: {process.stderr.read().decode()[-500:]}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss


def project(root: Path, size: int) -> Path:
    (root / "migrations").mkdir(parents=True)
    for name in ("env.py", "script.py.mako"):
        shutil.copy(REPO / "migrations" / name, root / "migrations" / name)
    write_history(root / "migrations" / "versions", size)
    alembic_ini(root)
    time.sleep(2.1)  # past the window in which a new file is not cached
    return root


def caches(root: Path) -> None:
    shutil.rmtree(root / "migrations" / "versions" / "__pycache__", ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--sizes", type=int, nargs="+", default=[300, 3000])
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="pa_bench_history_") as tmp:
        for size in args.sizes:
            root = project(Path(tmp) / str(size), size)
            runs = {"validate cold": ([str(BIN / "polyalembic"), "validate"], True),
                    "validate warm": ([str(BIN / "polyalembic"), "validate"], False),
                    "alembic heads": ([str(BIN / "alembic"), "heads"], False)}
            results: dict[str, list[tuple[float, float, int]]] = {name: [] for name in runs}
            measured(runs["validate warm"][0], root)  # the first warm run builds the caches
            for _ in range(args.reps):
                for name, (argv, cold) in runs.items():
                    if cold:
                        caches(root)
                    results[name].append(measured(argv, root))
            for name, samples in results.items():
                rows.append((size, name, statistics.median(s[0] for s in samples) * 1000,
                             statistics.median(s[1] for s in samples) * 1000, max(s[2] for s in samples) / 1024))
    print(f"{'revisions':>9}  {'run':<14} {'wall ms':>8} {'cpu ms':>8} {'peak MB':>8}")
    for size, name, wall, cpu, rss in rows:
        print(f"{size:>9}  {name:<14} {wall:>8.0f} {cpu:>8.0f} {rss:>8.1f}")
    peaks = {(size, name): rss for size, name, _, _, rss in rows}
    sizes = sorted(args.sizes)
    if len(sizes) > 1:
        for name in ("validate cold", "validate warm"):
            growth = peaks[sizes[-1], name] / peaks[sizes[0], name] - 1
            ok = growth < 0.20 and peaks[sizes[-1], name] < 200
            verdict = "met" if ok else "MISSED"
            print(f"{name}: peak RSS {peaks[sizes[0], name]:.1f} -> {peaks[sizes[-1], name]:.1f} MB "
                  f"({growth:+.0%} from {sizes[0]} to {sizes[-1]}; target < +20 %, < 200 MB: {verdict})")


if __name__ == "__main__":
    main()
