"""polyalembic benchmarks: whole-command runs against the local stack, medians of N repetitions,
each next to a baseline run by this same script (plain Alembic, the raw drivers).

    python bench/run.py [--reps 5]        (needs the stack: make services-up)

Every repetition starts from empty stores: a new database for both SQL stores and the ledger
(the seed's default deployment), emptied Neo4j and ChromaDB. Results are printed as a table
(copy them into bench/README.md).
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
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


from polyalembic.settings import Settings, load_settings  # noqa: E402
from polyalembic.stores.connections import StoreConnections  # noqa: E402
from polyalembic.stores.current_run import OPTION, Run  # noqa: E402
from tests.scratch import create_database, drop_database, reset_stores  # noqa: E402

VANILLA_ENV = '''
from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool
import os

engine = create_engine(os.environ["BENCH_URL"], poolclass=NullPool)
with engine.connect() as connection:
    context.configure(connection=connection, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
'''

VANILLA_REVISION = '''
from pathlib import Path
from alembic import op
revision = {revision!r}
down_revision = {down!r}
def upgrade():
    op.get_bind().exec_driver_sql(Path({up!r}).read_text())
def downgrade():
    op.get_bind().exec_driver_sql(Path({down_file!r}).read_text())
'''


BINDER = '''"""{title}."""

from polyalembic.pairs import migration_files

revision = "{revision}"
down_revision = {down!r}
branch_labels = None
depends_on = None
store = "{store}"

upgrade, downgrade = migration_files(__file__)
'''


def project_for(root: Path, store: str) -> tuple[Path, Path]:
    """A polyalembic project in ``root`` whose only version folder is ``migrations/<store>``, with
    this repository's env.py: (its alembic.ini, that folder)."""
    folder = root / "migrations" / store
    folder.mkdir(parents=True)
    for name in ("env.py", "script.py.mako"):
        shutil.copy(REPO / "migrations" / name, root / "migrations" / name)
    ini = (REPO / "alembic.ini").read_text()
    start = ini.index("version_locations = ")
    ini = ini[:start] + f"version_locations = %(here)s/migrations/{store}" + ini[ini.index("\n", start):]
    (root / "alembic.ini").write_text(ini)
    return root / "alembic.ini", folder


def alternated(runs: dict[str, Callable[[], None]], reps: int,
               setup: Callable[[], None] = lambda: None) -> dict[str, float]:
    """Median seconds of each run, the runs taken in turn in every repetition (each after ``setup``)."""
    times: dict[str, list[float]] = {name: [] for name in runs}
    cpu: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(reps):
        for name, fn in runs.items():
            setup()
            before = os.times()
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
            after = os.times()  # the command's own CPU: its process (waited for) and its children
            cpu[name].append(after.children_user + after.children_system - before.children_user
                             - before.children_system)
    medians = {name: statistics.median(values) for name, values in cpu.items()}
    print("  CPU s of the commands (user+sys, medians): " +
          ", ".join(f"{name} {seconds:.2f}" for name, seconds in medians.items()) +
          (f"; ratio {_ratio(medians)}" if len(medians) == 2 else ""), flush=True)
    return {name: statistics.median(values) for name, values in times.items()}


def _ratio(medians: dict[str, float]) -> str:
    first, second = medians.values()
    return f"{first / second:.2f}" if second else "n/a"


def median_s(fn: Callable[[], None], reps: int, setup: Callable[[], None]) -> tuple[float, list[float]]:
    times = []
    for _ in range(reps):
        setup()
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times


class Bench:
    def __init__(self, reps: int) -> None:
        self.reps = reps
        self.base = load_settings(env_file=REPO / ".stack" / "stack.env")
        if not self.base.database_url("postgres"):
            sys.exit("bench: the local stack is not running (make services-up)")
        self.db_dsn = ""
        self.rows: list[tuple[str, float, str, float, float, float | None]] = []

    # -- fresh stores per repetition -------------------------------------------------------
    def fresh(self) -> None:
        if self.db_dsn:
            drop_database(self.base.database_url("postgres"), self.db_dsn)
        self.db_dsn = create_database(self.base.database_url("postgres"), prefix="bench", extensions=("timescaledb",))
        reset_stores(self.base)

    def close(self) -> None:
        """Drop the database of the last repetition."""
        if self.db_dsn:
            drop_database(self.base.database_url("postgres"), self.db_dsn)
            self.db_dsn = ""

    @property
    def settings(self) -> Settings:
        """The seed's default deployment: one database for both SQL stores and the ledger."""
        return self.base.replace(TIMESCALE_DSN=self.db_dsn, POSTGRES_DSN=None, POLYALEMBIC_LEDGER_DSN=None)

    def env(self) -> dict[str, str]:
        s = self.settings
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("POSTGRES_", "TIMESCALE_", "NEO4J_", "CHROMA_", "POLYALEMBIC_"))}
        env.update(s.env, PYTHONPATH=str(REPO))
        if s.database_url("postgres"):
            env["BENCH_URL"] = s.database_url("postgres").replace("postgresql://", "postgresql+psycopg://")
        return env

    def run(self, args: list[str], cwd: Path = REPO, **env: str) -> None:
        result = subprocess.run(args, env={**self.env(), **env}, cwd=cwd, capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(f"bench: {' '.join(args)} failed:\n{result.stderr[-2000:]}")

    def record(self, what: str, subject: float, baseline_name: str, baseline: float,
               target: float | None = None) -> None:
        """One row: medians (s) of the subject and its baseline; ``target``: the ratio it must not
        exceed (the row then says whether it holds)."""
        ratio = subject / baseline if baseline else 0.0
        self.rows.append((what, subject, baseline_name, baseline, ratio, target))
        verdict = "" if target is None else f"  (target <= {target:.2f}: {'met' if ratio <= target else 'MISSED'})"
        print(f"{what:<48} {subject * 1000:9.0f} ms | {baseline_name:<34} {baseline * 1000:9.0f} ms | "
              f"x{ratio:5.2f}{verdict}", flush=True)

    def table(self) -> str:
        """The rows as the Markdown table of bench/README.md."""
        lines = ["| subject | median | baseline | median | ratio | target |", "|---|---:|---|---:|---:|---|"]
        for what, subject, name, baseline, ratio, target in self.rows:
            goal = "" if target is None else f"<= {target:.2f} {'met' if ratio <= target else 'MISSED'}"
            lines.append(f"| {what} | {subject * 1000:.0f} ms | {name} | {baseline * 1000:.0f} ms | {ratio:.2f} | "
                         f"{goal} |")
        return "\n".join(lines)

    def missed(self) -> list[str]:
        """The rows whose ratio is over their target."""
        return [row[0] for row in self.rows if row[5] is not None and row[4] > row[5]]

    # -- the benchmarks ------------------------------------------------------------------------
    def seed_set(self) -> None:
        """The whole seed set (12 migrations, 4 stores): CLI and `alembic upgrade head`."""
        cli, _ = median_s(lambda: self.run([sys.executable, "-m", "polyalembic", "up"]), self.reps, self.fresh)
        alembic, _ = median_s(lambda: self.run([sys.executable, "-m", "alembic", "upgrade", "head"]),
                              self.reps, self.fresh)
        python, _ = median_s(lambda: self.run([sys.executable, "-c", "import alembic.config"]), self.reps,
                             lambda: None)
        self.record("polyalembic up: seed set, 12 migrations/4 stores", cli, "python -c 'import alembic'", python)
        self.record("alembic upgrade head: seed set", alembic, "python -c 'import alembic'", python)

    def postgres_only(self) -> None:
        """The 7 PostgreSQL migrations: polyalembic (ledger, lock) vs plain Alembic, same SQL."""
        tmp = Path(tempfile.mkdtemp(prefix="bench-"))
        try:
            ini, folder = project_for(tmp / "poly", "postgres")
            for path in (REPO / "migrations" / "postgres").glob("[0-9]*"):
                shutil.copy(path, folder / path.name)
            plain = tmp / "plain"
            (plain / "versions").mkdir(parents=True)
            (plain / "env.py").write_text(VANILLA_ENV)
            down = None
            for binder in sorted((REPO / "migrations" / "postgres").glob("*.py")):
                stem = binder.name.removesuffix(".py")
                rev = f"postgres_{stem[:3]}"
                (plain / "versions" / binder.name).write_text(VANILLA_REVISION.format(
                    revision=rev, down=down, up=str(binder.with_name(f"{stem}.up.sql")),
                    down_file=str(binder.with_name(f"{stem}.down.sql"))))
                down = rev
            (plain / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s\n")
            medians = alternated({
                "poly": lambda: self.run([sys.executable, "-m", "alembic", "-c", str(ini), "upgrade", "head"]),
                "plain": lambda: self.run([sys.executable, "-m", "alembic", "-c", str(plain / "alembic.ini"),
                                           "upgrade", "head"])}, self.reps, self.fresh)
            self.record("polyalembic: 7 PostgreSQL migrations (drift snapshots recorded)", medians["poly"],
                        "plain Alembic: same 7 SQL files", medians["plain"])
        finally:
            shutil.rmtree(tmp)

    def single_store(self) -> None:
        """One Neo4j and one ChromaDB migration as whole commands vs a raw-driver script doing the same."""
        raw_neo4j = (
            "import os, neo4j, pathlib\n"
            "from polyalembic.stores.neo4j.cypher import split_statements\n"
            "d = neo4j.GraphDatabase.driver(os.environ['NEO4J_URI'], auth=(os.environ['NEO4J_USER'], "
            "os.environ['NEO4J_PASSWORD']))\n"
            "for q in split_statements(pathlib.Path('migrations/neo4j/001_graph_constraints.up.cql').read_text()):\n"
            "    d.execute_query(q, database_='neo4j')\n"
            "d.execute_query('CALL db.awaitIndexes(300)', database_='neo4j')\nd.close()\n")
        raw_chroma = (
            "import os, chromadb\n"
            "c = chromadb.HttpClient(host=os.environ['CHROMA_HOST'], port=int(os.environ['CHROMA_PORT']))\n"
            "hnsw = {'space': 'cosine', 'ef_construction': 128, 'max_neighbors': 32, 'ef_search': 64}\n"
            "for n in ('episodic_memories', 'semantic_memories'):\n"
            "    c.create_collection(n, configuration={'hnsw': hnsw}, metadata={'d': n}, embedding_function=None)\n")
        for store, before, target, script in (("neo4j", "timescaledb_003", "neo4j_001", raw_neo4j),
                                               ("chromadb", "neo4j_001", "chromadb_001", raw_chroma)):
            def setup(before: str = before) -> None:
                self.fresh()
                self.run([sys.executable, "-m", "polyalembic", "up", "--to", before])

            poly, _ = median_s(lambda t=target: self.run([sys.executable, "-m", "polyalembic", "up", "--to", t]),
                               self.reps, setup)
            raw, _ = median_s(lambda sc=script: self.run([sys.executable, "-c", sc]), self.reps, self.fresh)
            self.record(f"polyalembic up: the {store} migration", poly, f"raw {store} driver script", raw)

    def cli_startup(self) -> None:
        """CLI start-up: neo4j and chromadb must not be imported by `polyalembic --help`."""
        cli, _ = median_s(lambda: self.run([sys.executable, "-m", "polyalembic", "--help"]), self.reps, lambda: None)
        alembic, _ = median_s(lambda: self.run([sys.executable, "-m", "alembic", "--help"]), self.reps,
                              lambda: None)
        self.record("polyalembic --help", cli, "alembic --help", alembic)

    def chroma_rebuild(self, records: int = 20000, dim: int = 64) -> None:
        """rebuild_collection (batched upsert copy + count check + swap) vs a raw client copy loop."""
        import numpy as np

        run = Run(StoreConnections(self.base))
        client = run.connections.get("chromadb")
        rng = np.random.default_rng(7)
        vectors = rng.random((records, dim), dtype=np.float32)
        ids = [f"r{i}" for i in range(records)]

        def load() -> None:
            for name in [c.name for c in client.list_collections()]:
                client.delete_collection(name)
            col = client.create_collection("bench_src", configuration={"hnsw": {"space": "cosine"}},
                                           embedding_function=None)
            step = client.get_max_batch_size()
            for i in range(0, records, step):
                col.add(ids=ids[i:i + step], embeddings=vectors[i:i + step],
                        metadatas=[{"i": j} for j in range(i, min(i + step, records))])

        def raw() -> None:
            src = client.get_collection("bench_src", embedding_function=None)
            dst = client.create_collection("bench_dst", configuration={"hnsw": {"space": "l2"}},
                                           embedding_function=None)
            step, offset = client.get_max_batch_size(), 0
            while offset < records:
                page = src.get(include=["embeddings", "metadatas"], limit=step, offset=offset)
                dst.upsert(ids=page["ids"], embeddings=page["embeddings"], metadatas=page["metadatas"])
                offset += len(page["ids"])

        from alembic.operations import Operations
        from alembic.runtime.migration import MigrationContext

        from polyalembic.stores import register_all_ops

        register_all_ops()

        def poly() -> None:
            with self._sa_conn() as conn:
                ctx = MigrationContext.configure(connection=conn, opts={OPTION: run})
                Operations(ctx).rebuild_collection("bench_src", configuration={"hnsw": {"space": "l2"}})

        try:
            poly_t, _ = median_s(poly, max(2, self.reps // 2), load)
            raw_t, _ = median_s(raw, max(2, self.reps // 2), load)
        finally:
            for name in [c.name for c in client.list_collections()]:
                client.delete_collection(name)
            run.connections.close()
        self.record(f"rebuild_collection {records}x{dim} ({records / poly_t:.0f} rec/s)", poly_t,
                    f"raw chromadb copy loop ({records / raw_t:.0f} rec/s)", raw_t)

    def _sa_conn(self):  # a context manager over a throwaway connection
        import sqlalchemy as sa

        return sa.create_engine(self.base.database_url("postgres").replace("postgresql://", "postgresql+psycopg://")).connect()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--only", nargs="*", default=None)
    args = parser.parse_args()
    bench = Bench(args.reps)
    print(f"{'subject':<48} {'median':>12} | {'baseline':<34} {'median':>12} | ratio")
    for name in args.only or ["cli_startup", "postgres_only", "seed_set", "single_store", "chroma_rebuild"]:
        getattr(bench, name)()
    bench.close()


if __name__ == "__main__":
    main()
