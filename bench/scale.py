"""Speed at scale (issue 11): long histories of PostgreSQL revisions, whole commands, medians,
each next to plain Alembic on the same chain with a vanilla env.py, alternated.

    python bench/scale.py [--reps 3] [--sizes 100 1000 5000] [--upgrade 1000] [--plot growth.png]
    python bench/scale.py --quick      (make bench-quick: 5,000 revisions read, 300 upgraded)

- ``status`` / ``up`` with nothing pending / ``validate`` on N revisions vs ``alembic current``
  (the baseline loads every revision module, as Alembic must);
- ``alembic upgrade head`` of 1,000 CREATE TABLE revisions through polyalembic's env.py (ledger,
  lock, audit) vs plain Alembic with ``transaction_per_migration=True``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.run import BINDER, VANILLA_ENV, Bench, alternated, project_for  # noqa: E402
from tests.scratch import create_database, drop_database  # noqa: E402

PLAIN = '''from alembic import op
revision = "postgres_{i:05d}"
down_revision = {down!r}
def upgrade():
    op.execute("CREATE TABLE t_{i:05d} (id int PRIMARY KEY, name text)")
def downgrade():
    op.execute("DROP TABLE t_{i:05d}")
'''
def make_projects(root: Path, n: int) -> tuple[Path, Path]:
    """(polyalembic project's alembic.ini, plain Alembic's alembic.ini) with ``n`` revisions each."""
    poly, plain = root / f"poly{n}", root / f"plain{n}"
    if poly.exists():
        return poly / "alembic.ini", plain / "alembic.ini"
    _, folder = project_for(poly, "postgres")
    (plain / "versions").mkdir(parents=True)
    (plain / "env.py").write_text(VANILLA_ENV)
    (plain / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s\n")
    down = None
    for i in range(1, n + 1):
        stem = f"{i:05d}_table_{i}"
        (folder / f"{stem}.py").write_text(BINDER.format(title=f"Table {i}", revision=f"postgres_{i:05d}", down=down,
                                                         store="postgres"))
        (folder / f"{stem}.up.sql").write_text(f"CREATE TABLE t_{i:05d} (id int PRIMARY KEY, name text);\n")
        (folder / f"{stem}.down.sql").write_text(f"DROP TABLE t_{i:05d};\n")
        (plain / "versions" / f"{stem}.py").write_text(PLAIN.format(i=i, down=down))
        down = f"postgres_{i:05d}"
    return poly / "alembic.ini", plain / "alembic.ini"


def age(root: Path, seconds: float = 60.0) -> None:
    """Date every generated file back: a file written in the last seconds is never cached (see
    polyalembic/chain/filecache.py), and a real history is older than that."""
    past = time.time() - seconds
    for path in root.rglob("*"):
        os.utime(path, (past, past))
    time.sleep(2.1)  # setting the mtime sets the ctime to now: files changed just now are not cached


BASELINE = "alembic current, nothing applied (vanilla env.py)"
AT_HEAD = "alembic current, all applied (vanilla env.py)"
READING = (("status", ("status",)), ("up, nothing pending", ("up",)), ("validate", ("validate",)))
READING_TARGET = 0.3  # issue 11: at most 0.3x `alembic current` on 5,000 revisions
UPGRADE_TARGET = 1.15  # issue 11: at most 1.15x plain Alembic, transaction_per_migration


def main(argv: list[str] | None = None) -> Bench:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="*", default=[100, 1000, 5000])
    parser.add_argument("--upgrade", type=int, default=1000, help="revisions for the upgrade pair (0: skip)")
    parser.add_argument("--quick", action="store_true", help="5,000 revisions read, 300 upgraded (make bench-quick)")
    parser.add_argument("--plot", type=Path, default=None, help="write the growth plot here (needs matplotlib)")
    args = parser.parse_args(argv)
    if args.quick:
        args.sizes, args.upgrade = [5000], 300
    bench = Bench(args.reps)
    root = Path(tempfile.mkdtemp(prefix="bench-scale-"))
    py = sys.executable

    def command(entry: str, ini: Path, *argv: str) -> Callable[[], None]:
        return lambda: bench.run([py, "-m", entry, "-c", str(ini), *argv])

    growth: dict[str, dict[int, float]] = {}
    try:
        if args.upgrade:
            poly, plain = make_projects(root, args.upgrade)
            age(root)
            medians = alternated({"poly": command("alembic", poly, "upgrade", "head"),
                                  "plain": command("alembic", plain, "upgrade", "head")}, args.reps, bench.fresh)
            bench.record(f"alembic upgrade head: {args.upgrade} SQL revisions", medians["poly"],
                         "plain Alembic, transaction_per_migration", medians["plain"], UPGRADE_TARGET)
        # Alembic's cheapest `current` (nothing applied: it loads every revision, no more); at head it
        # also walks the revision map for branch heads, which grows with the square of the chain
        empty = create_database(bench.base.database_url("postgres"), prefix="bench")
        at_base = empty.replace("postgresql://", "postgresql+psycopg://")
        try:
            for n in args.sizes:
                poly, plain = make_projects(root, n)
                age(root)
                bench.fresh()
                bench.run([py, "-m", "alembic", "-c", str(poly), "stamp", "head"])  # all applied: up has nothing to do
                bench.run([py, "-m", "polyalembic", "-c", str(poly), "validate"])  # builds the index, as a first run
                runs = {BASELINE: lambda plain=plain: bench.run([py, "-m", "alembic", "-c", str(plain), "current"],
                                                                BENCH_URL=at_base)}
                if not args.quick:  # 25 s a run on 5,000 revisions
                    runs[AT_HEAD] = command("alembic", plain, "current")
                runs |= {what: command("polyalembic", poly, *cli) for what, cli in READING}
                medians = alternated(runs, args.reps)
                for name in (BASELINE, AT_HEAD):
                    if name in medians:
                        growth.setdefault(name, {})[n] = medians[name]
                for what, _ in READING:
                    growth.setdefault(f"polyalembic {what}", {})[n] = medians[what]
                    bench.record(f"polyalembic {what}: {n} revisions (all applied)", medians[what], BASELINE,
                                 medians[BASELINE], READING_TARGET if n >= 5000 else None)
                if AT_HEAD in medians:
                    bench.record(f"polyalembic status: {n} revisions (all applied)", medians["status"], AT_HEAD,
                                 medians[AT_HEAD])
        finally:
            drop_database(bench.base.database_url("postgres"), empty)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        bench.close()
    print()
    print(bench.table())
    if growth:
        print()
        print(growth_table(growth))
    if args.plot and growth:
        plot(growth, args.plot)
    return bench


def growth_table(growth: dict[str, dict[int, float]]) -> str:
    """Median seconds per command over the chain lengths measured."""
    sizes = sorted({n for values in growth.values() for n in values})
    lines = ["| command | " + " | ".join(f"{n:,} revisions" for n in sizes) + " |",
             "|---|" + "---:|" * len(sizes)]
    for name, values in growth.items():
        lines.append(f"| {name} | " + " | ".join(f"{values[n] * 1000:.0f} ms" if n in values else "-"
                                                for n in sizes) + " |")
    return "\n".join(lines)


def plot(growth: dict[str, dict[int, float]], path: Path) -> None:
    """The growth as a PNG, when matplotlib is installed (it is not a dependency)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print(f"bench: matplotlib is not installed: no plot at {path}")
        return
    fig, ax = plt.subplots(figsize=(7, 4))
    for name, values in growth.items():
        sizes = sorted(values)
        ax.plot(sizes, [values[n] for n in sizes], marker="o", label=name)
    ax.set(xlabel="revisions in the chain", ylabel="median seconds (whole command)", xscale="log")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    print(f"bench: plot written to {path}")


if __name__ == "__main__":
    sys.exit(1 if main().missed() else 0)
