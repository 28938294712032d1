"""Crash test: SIGKILL `polyalembic up` at many points of a full upgrade, recover as the README
says, and check that every store converged to what the ledger says, with no data repeated or lost.

    python bench/crash.py [--kills 50] [--seed 7]      (make crash; needs the stack)

The chain is the seed set plus a long Neo4j data migration (statements that commit on their own)
and a ChromaDB collection filled and then rebuilt (cosine -> l2). Each trial starts from empty
stores (a new database for both SQL stores and the ledger), starts `polyalembic up`, kills its
process group at a point spread over a clean run's duration (a few kill a lock waiter instead),
then recovers: `polyalembic up`; when it refuses a half-done migration, `polyalembic repair resume
REV`; until `up` succeeds. Converged means: `status --check` passes, each store's snapshot equals
a clean run's, every migration has exactly one `upgrade` in the audit table, the graph holds each
item once and the collection each record once. Prints `N kills, N converged`; exit 1 otherwise.
"""

from __future__ import annotations

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import psycopg  # noqa: E402

from polyalembic.settings import Settings, load_settings  # noqa: E402
from polyalembic.stores import get_store  # noqa: E402
from polyalembic.stores.connections import StoreConnections  # noqa: E402
from polyalembic.stores.postgres.dsn import libpq_dsn  # noqa: E402
from polyalembic.stores.postgres.lock import LOCK_KEY  # noqa: E402
from tests.scratch import create_database, drop_database, reset_stores  # noqa: E402

ITEMS = 3000
RECORDS = 4000
NEO4J_BINDER = '''"""Items, written in batches that each commit on their own (MERGE: a repeat adds nothing)."""
from polyalembic.pairs import migration_files

revision = "neo4j_002"
down_revision = "chromadb_001"
store = "neo4j"

upgrade, downgrade = migration_files(__file__)
'''
CHROMA_FILL = f'''"""A collection of {RECORDS} records (upsert: a repeat adds nothing)."""
from alembic import op

revision = "chromadb_002"
down_revision = "neo4j_002"
store = "chromadb"


def fill(client):
    collection = client.get_or_create_collection("docs", configuration={{"hnsw": {{"space": "cosine"}}}},
                                                 embedding_function=None)
    step = 500
    for start in range(0, {RECORDS}, step):
        ids = [f"r{{i}}" for i in range(start, min(start + step, {RECORDS}))]
        collection.upsert(ids=ids, embeddings=[[float(i % 7), 1.0, float(i % 3)] for i in range(len(ids))],
                          metadatas=[{{"n": i}} for i in range(len(ids))])


def drop(client):
    if "docs" in [c.name for c in client.list_collections()]:
        client.delete_collection("docs")


def upgrade():
    op.run_chroma(fill, drop)


def downgrade():
    op.run_chroma(drop, fill)
'''
CHROMA_REBUILD = '''"""The collection rebuilt with another distance (copy in batches, swap; a rerun finishes a swap)."""
from alembic import op

revision = "chromadb_003"
down_revision = "chromadb_002"
store = "chromadb"


def upgrade():
    op.rebuild_collection("docs", configuration={"hnsw": {"space": "l2"}}, batch_size=500,
                          previous_configuration={"hnsw": {"space": "cosine"}})


def downgrade():
    op.rebuild_collection("docs", configuration={"hnsw": {"space": "cosine"}}, batch_size=500,
                          previous_configuration={"hnsw": {"space": "l2"}})
'''


def neo4j_up() -> str:
    """Ten batches of items, each its own auto-committed statement, between two schema statements."""
    batch = ITEMS // 10
    lines = ["CREATE CONSTRAINT item_id_unique IF NOT EXISTS FOR (i:Item) REQUIRE i.id IS UNIQUE;"]
    for k in range(10):
        lines.append(f"CALL {{ UNWIND range({k * batch + 1}, {(k + 1) * batch}) AS n MERGE (:Item {{id: n}}) }} "
                     "IN TRANSACTIONS OF 100 ROWS;")
    lines.append("CREATE INDEX item_kind IF NOT EXISTS FOR (i:Item) ON (i.kind);")
    return "\n".join(lines) + "\n"


def make_project(root: Path) -> Path:
    shutil.copytree(REPO / "migrations", root / "migrations", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "alembic.ini", root / "alembic.ini")
    neo4j = root / "migrations" / "neo4j"
    (neo4j / "002_items.py").write_text(NEO4J_BINDER)
    (neo4j / "002_items.up.cql").write_text(neo4j_up())
    (neo4j / "002_items.down.cql").write_text("DROP INDEX item_kind IF EXISTS;\nMATCH (i:Item) DETACH DELETE i;\n"
                                              "DROP CONSTRAINT item_id_unique IF EXISTS;\n")
    (root / "migrations" / "chromadb" / "002_docs.py").write_text(CHROMA_FILL)
    (root / "migrations" / "chromadb" / "003_docs_l2.py").write_text(CHROMA_REBUILD)
    return root / "alembic.ini"


class Trial:
    """One run from empty stores: a database of its own for the SQL stores and the ledger."""

    def __init__(self, base: Settings, ini: Path) -> None:
        self.base, self.ini = base, ini
        self.dsn = create_database(base.database_url("postgres"), prefix="crash", extensions=("timescaledb",))
        reset_stores(base)
        self.settings = base.replace(TIMESCALE_DSN=self.dsn, POSTGRES_DSN=None, POLYALEMBIC_LEDGER_DSN=None)
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("POSTGRES_", "TIMESCALE_", "NEO4J_", "CHROMA_", "POLYALEMBIC_"))}
        self.env |= {**self.settings.env, "PYTHONPATH": str(REPO)}

    def close(self) -> None:
        drop_database(self.base.database_url("postgres"), self.dsn)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "polyalembic", "-c", str(self.ini), *args], env=self.env,
                              capture_output=True, text=True, timeout=600)

    def start_up(self) -> subprocess.Popen[bytes]:
        return subprocess.Popen([sys.executable, "-m", "polyalembic", "-c", str(self.ini), "up"], env=self.env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)

    def recover(self) -> list[str]:
        """The README's procedure; returns what was run."""
        done: list[str] = []
        for _ in range(10):
            result = self.cli("up")
            done.append("up")
            if result.returncode == 0:
                return done
            marker = "`polyalembic repair resume "
            if marker not in result.stderr:
                raise RuntimeError(f"up failed without a repair choice: {result.stderr.strip()[-500:]}")
            revision = result.stderr.split(marker, 1)[1].split("`", 1)[0]
            repaired = self.cli("repair", "resume", revision)
            done.append(f"repair resume {revision}")
            if repaired.returncode != 0:
                raise RuntimeError(f"repair resume {revision} failed: {repaired.stderr.strip()[-500:]}")
        raise RuntimeError(f"no convergence after {done}")

    def state(self) -> dict[str, Any]:
        """Every store's snapshot, the upgrades per revision, and the user data counts."""
        with StoreConnections(self.settings) as connections:
            state: dict[str, Any] = {s: get_store(s).snapshot(connections.get(s))
                                     for s in ("postgres", "timescaledb", "neo4j", "chromadb")}
            graph = connections.get("neo4j")
            records, _, _ = graph.driver.execute_query(
                "MATCH (i:Item) RETURN count(i) AS n, count(DISTINCT i.id) AS ids", database_=graph.database)
            state["items"] = (records[0]["n"], records[0]["ids"])
            client = connections.get("chromadb")
            names = [c.name for c in client.list_collections()]
            state["records"] = client.get_collection("docs").count() if "docs" in names else None
        with psycopg.connect(libpq_dsn(self.dsn)) as conn:
            state["upgrades"] = dict(conn.execute(
                "SELECT revision, count(*) FROM schema_migrations_audit WHERE action = 'upgrade' "
                "GROUP BY revision").fetchall())
        return state


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=50)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    base = load_settings(env_file=REPO / ".stack" / "stack.env")
    if not base.database_url("postgres"):
        sys.exit("crash: the local stack is not running (make services-up)")
    rng = random.Random(args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="polyalembic-crash-"))
    try:
        ini = make_project(workdir)
        clean = Trial(base, ini)
        started = time.monotonic()
        result = clean.cli("up")
        duration = time.monotonic() - started
        if result.returncode != 0:
            sys.exit(f"crash: the clean run failed: {result.stderr[-1000:]}")
        reference = clean.state()
        clean.close()
        print(f"clean run: {duration:.1f}s; {len(reference['upgrades'])} migrations, items {reference['items']}, "
              f"records {reference['records']}", flush=True)
        converged = 0
        lock_waits = max(1, args.kills // 10)
        for k in range(args.kills):
            trial = Trial(base, ini)
            try:
                if k < lock_waits:  # kill a run while it waits for the lock another session holds
                    with psycopg.connect(libpq_dsn(trial.dsn), autocommit=True) as holder:
                        holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
                        proc = trial.start_up()
                        time.sleep(1.5 + rng.random())
                        os.killpg(proc.pid, signal.SIGKILL)
                        proc.wait()
                    at = "in a lock wait"
                else:
                    at_s = duration * (k - lock_waits + rng.random()) / (args.kills - lock_waits)
                    proc = trial.start_up()
                    time.sleep(at_s)
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                    at = f"at {at_s:.2f}s"
                steps = trial.recover()
                state = trial.state()
                problems = [key for key in reference if key != "upgrades" and state[key] != reference[key]]
                if set(state["upgrades"]) != set(reference["upgrades"]) or set(state["upgrades"].values()) != {1}:
                    problems.append(f"upgrades {state['upgrades']}")
                if trial.cli("status", "--check").returncode != 0:
                    problems.append("status --check")
                converged += not problems
                print(f"kill {k + 1:3d} {at:<16} recovered with {', '.join(steps):<45} "
                      f"{'converged' if not problems else 'DIFFERS: ' + ', '.join(problems)}", flush=True)
            finally:
                trial.close()
        print(f"{args.kills} kills, {converged} converged")
        return 0 if converged == args.kills else 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        reset_stores(base)


if __name__ == "__main__":
    sys.exit(main())
