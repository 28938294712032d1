"""Crash test: SIGKILL `polyalembic up` at many points of a full upgrade, recover as the README
says, and check that every store converged to what the ledger says, with no data repeated or lost.

    python bench/crash.py [--kills 100] [--seed 7]      (make crash; needs the stack)

The chain is the seed set plus a long Neo4j data migration (statements that commit on their own,
in transactions of their own: MERGE), Neo4j writes that are not idempotent (CREATE, in one
transaction with their step marker), a revision of the ledger's database with its own
``autocommit_block()``, and a ChromaDB collection filled, rebuilt (cosine -> l2: a copy) and
backfilled, and rows INSERTed in the TimescaleDB store's own database (a repeat would double
them: one transaction with its step marker). Each trial starts from empty stores (a new database
for the PostgreSQL store and the ledger, another for the TimescaleDB store), starts
`polyalembic up` and kills it in one of these windows, in turn:

- ``at a time``: at a point spread over a clean run's duration (the first few: in a lock wait);
- ``store committed``: the run kills itself (``POLYALEMBIC_CRASH_AT=store-committed@N``) right
  after a store committed its N-th step that commits on its own, before the ledger heard of it;
  the stores take turns (the clean run lists which store each commit is in), and the window is
  named by the store whose row the ledger then holds ``running``;
- ``early commit``: right after the ``running`` row of a migration of the ledger's database that
  commits early (an autocommit block, TimescaleDB's or the user's own), before that commit;
- ``stdout closed``: as ``store committed``, with ``--log-format json`` and stdout closed at once.

Then it recovers as the README says: `polyalembic up`; when it refuses a half-done migration,
`polyalembic repair resume REV`; where resume refuses a step that may have partly run (these
workloads are written idempotent, as the README asks), `polyalembic repair retry REV`; until `up`
succeeds. Converged means: `status --check` passes, each store's snapshot equals a clean run's,
every migration has exactly one `upgrade` in the audit table, and the user data is all there
once: each item and event of the graph, each record of the collection, each row of both tables.
Prints a line per kill, the kills and convergences per window, and `N kills, N converged`; exit 1
otherwise.
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

from bench.crash_kit import Tally, differences, nth_commit, read_points, repair, repair_choice, run_env  # noqa: E402
from polyalembic.settings import Settings, load_settings  # noqa: E402
from polyalembic.stores import get_store  # noqa: E402
from polyalembic.stores.connections import StoreConnections  # noqa: E402
from polyalembic.stores.postgres.dsn import libpq_dsn  # noqa: E402
from polyalembic.stores.postgres.lock import LOCK_KEY  # noqa: E402
from tests.scratch import create_database, drop_database, reset_stores  # noqa: E402

ITEMS = 3000
RECORDS = 4000
EVENTS = 2000
READINGS = 1000
METERS = 1000
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


NEO4J_EVENTS_BINDER = '''"""Events, CREATEd (a repeat would duplicate them): one transaction per run of writes."""
from polyalembic.pairs import migration_files

revision = "neo4j_003"
down_revision = "chromadb_004"
store = "neo4j"

upgrade, downgrade = migration_files(__file__)
'''
CHROMA_BACKFILL = '''"""Every record tagged (values: a repeat sets the same)."""
from alembic import op

revision = "chromadb_004"
down_revision = "chromadb_003"
store = "chromadb"


def upgrade():
    op.backfill_collection_metadata("docs", values={"tag": "l2"}, batch_size=500)


def downgrade():
    op.backfill_collection_metadata("docs", keys=["tag"], remove=True, batch_size=500)
'''
OWN_AUTOCOMMIT = f'''"""A table filled in the migration's transaction, its index built in the revision's own
autocommit block (Alembic's way), written to be run again (IF NOT EXISTS, ON CONFLICT)."""
from alembic import op

revision = "postgres_008"
down_revision = "neo4j_003"
store = "postgres"


def upgrade():
    op.execute("CREATE TABLE IF NOT EXISTS readings (id int PRIMARY KEY, v int)")
    op.execute("INSERT INTO readings SELECT g, g % 7 FROM generate_series(1, {READINGS}) g ON CONFLICT DO NOTHING")
    with op.get_context().autocommit_block():
        op.execute("CREATE INDEX CONCURRENTLY IF NOT EXISTS readings_v ON readings (v)")


def downgrade():
    op.execute("DROP TABLE readings")
'''


METERS_INSERTED = f'''"""Rows INSERTed in the TimescaleDB store's own database (a repeat would double them)."""
from alembic import op

revision = "timescaledb_004"
down_revision = "postgres_008"
store = "timescaledb"


def upgrade():
    op.execute("CREATE TABLE meters (id int NOT NULL, v int)")
    op.execute("INSERT INTO meters SELECT g, g % 5 FROM generate_series(1, {METERS}) g")


def downgrade():
    op.execute("DROP TABLE meters")
'''


def neo4j_events_up() -> str:
    """Two runs of CREATEs (each one transaction with its marker) around a schema statement."""
    half = EVENTS // 2
    return (f"UNWIND range(1, {half // 2}) AS n CREATE (:Event {{id: n}});\n"
            f"UNWIND range({half // 2 + 1}, {half}) AS n CREATE (:Event {{id: n}});\n"
            "CREATE INDEX event_id IF NOT EXISTS FOR (e:Event) ON (e.id);\n"
            f"UNWIND range({half + 1}, {EVENTS}) AS n CREATE (:Event {{id: n}});\n")


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
    (neo4j / "003_events.py").write_text(NEO4J_EVENTS_BINDER)
    (neo4j / "003_events.up.cql").write_text(neo4j_events_up())
    (neo4j / "003_events.down.cql").write_text("DROP INDEX event_id IF EXISTS;\nMATCH (e:Event) DELETE e;\n")
    (root / "migrations" / "chromadb" / "002_docs.py").write_text(CHROMA_FILL)
    (root / "migrations" / "chromadb" / "003_docs_l2.py").write_text(CHROMA_REBUILD)
    (root / "migrations" / "chromadb" / "004_docs_tagged.py").write_text(CHROMA_BACKFILL)
    (root / "migrations" / "postgres" / "008_readings.py").write_text(OWN_AUTOCOMMIT)
    (root / "migrations" / "timescaledb" / "004_meters.py").write_text(METERS_INSERTED)
    return root / "alembic.ini"


class Trial:
    """One run from empty stores: a database of its own for the PostgreSQL store and the ledger,
    another for the TimescaleDB store."""

    def __init__(self, base: Settings, ini: Path) -> None:
        self.base, self.ini = base, ini
        self.dsn = create_database(base.database_url("postgres"), prefix="crash")
        self.timescale_dsn = create_database(base.database_url("postgres"), prefix="crash_ts",
                                             extensions=("timescaledb",))
        reset_stores(base)
        self.settings = base.replace(POSTGRES_DSN=self.dsn, TIMESCALE_DSN=self.timescale_dsn,
                                     POLYALEMBIC_LEDGER_DSN=None)
        self.env = run_env(self.settings.env, REPO)

    def close(self) -> None:
        for dsn in (self.dsn, self.timescale_dsn):
            drop_database(self.base.database_url("postgres"), dsn)

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "polyalembic", "-c", str(self.ini), *args], env=self.env,
                              capture_output=True, text=True, timeout=600)

    def start_up(self, crash_at: str | None = None, stdout_closed: bool = False) -> subprocess.Popen[bytes]:
        """``polyalembic up``; ``crash_at``: the kill point it dies at; ``stdout_closed``: JSON
        events on a pipe whose reader is gone from the start."""
        env = self.env | ({"POLYALEMBIC_CRASH_AT": crash_at} if crash_at else {})
        options = ["--log-format", "json"] if stdout_closed else []
        proc = subprocess.Popen([sys.executable, "-m", "polyalembic", "-c", str(self.ini), *options, "up"], env=env,
                                stdout=subprocess.PIPE if stdout_closed else subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True)
        if proc.stdout is not None:
            proc.stdout.close()
        return proc

    def running_store(self) -> str | None:
        """The store of the migration the ledger holds ``running`` (the window a kill hit)."""
        with psycopg.connect(libpq_dsn(self.dsn)) as conn:
            try:
                row = conn.execute("SELECT database_type FROM schema_migrations WHERE status = 'running'").fetchone()
            except psycopg.errors.UndefinedTable:
                return None
        return row[0] if row else None

    def recover(self) -> list[str]:
        """The README's procedure; returns what was run."""
        done: list[str] = []
        for _ in range(10):
            result = self.cli("up")
            done.append("up")
            if result.returncode == 0:
                return done
            revision = repair_choice(result.stderr)
            if revision is None:
                raise RuntimeError(f"up failed without a repair choice: {result.stderr.strip()[-500:]}")
            done += repair(self.cli, revision)
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
            records, _, _ = graph.driver.execute_query(
                "MATCH (e:Event) RETURN count(e) AS n, count(DISTINCT e.id) AS ids", database_=graph.database)
            state["events"] = (records[0]["n"], records[0]["ids"])
            records, _, _ = graph.driver.execute_query(
                "MATCH (s:_PolyalembicStep) RETURN DISTINCT s.revision AS revision", database_=graph.database)
            marked = {record["revision"] for record in records}
            client = connections.get("chromadb")
            names = [c.name for c in client.list_collections()]
            docs = client.get_collection("docs", embedding_function=None) if "docs" in names else None
            state["records"] = docs.count() if docs else None
            state["tagged"] = len(docs.get(where={"tag": "l2"}, include=[])["ids"]) if docs else None
        with psycopg.connect(libpq_dsn(self.timescale_dsn)) as conn:
            state["meters"] = conn.execute("SELECT count(*), count(DISTINCT id) FROM meters").fetchone()
            marked |= {row[0] for row in conn.execute("SELECT DISTINCT revision FROM schema_migrations_steps")}
        with psycopg.connect(libpq_dsn(self.dsn)) as conn:
            state["readings"] = conn.execute("SELECT count(*), count(DISTINCT id) FROM readings").fetchone()
            state["upgrades"] = dict(conn.execute(
                "SELECT revision, count(*) FROM schema_migrations_audit WHERE action = 'upgrade' "
                "GROUP BY revision").fetchall())
            rows = conn.execute("SELECT revision FROM schema_migrations WHERE status = 'applied'").fetchall()
            applied = {row[0] for row in rows}
        # a marker may outlive its migration's record until the next run that touches its store
        # (a kill in between): it is inert then; one of a migration not applied would not be
        state["markers of unapplied migrations"] = sorted(marked - applied)
        return state


WINDOWS = ("at a time", "store committed", "early commit", "stdout closed")


def reached_points(trial: Trial) -> dict[str, list[str]]:
    """A clean run of ``trial`` that lists the kill points it reaches: point -> the store of each
    time it is reached, in order (the chain's revision ids start with their store's name)."""
    record = trial.ini.parent / "points.txt"
    record.unlink(missing_ok=True)
    result = subprocess.run([sys.executable, "-m", "polyalembic", "-c", str(trial.ini), "up"],
                            env=trial.env | {"POLYALEMBIC_CRASH_AT": f"count@{record}"},
                            capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        sys.exit(f"crash: the clean run failed: {result.stderr[-1000:]}")
    return read_points(record)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=100)
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
        points = reached_points(clean)
        duration = time.monotonic() - started
        reference = clean.state()
        clean.close()
        commit_stores, early = points.get("store-committed", []), len(points.get("early-commit", []))
        commits = len(commit_stores)
        per_store = ", ".join(f"{s} {commit_stores.count(s)}" for s in sorted(set(commit_stores)))
        print(f"clean run: {duration:.1f}s; {len(reference['upgrades'])} migrations, items {reference['items']}, "
              f"events {reference['events']}, records {reference['records']}, readings {reference['readings']}, "
              f"meters {reference['meters']}; "
              f"{commits} store commits ({per_store}) and {early} early commits to kill at", flush=True)
        tally = Tally()
        timed = [k for k in range(args.kills) if k % len(WINDOWS) == 0]
        lock_waits = max(1, len(timed) // 10)
        for k in range(args.kills):
            window = WINDOWS[k % len(WINDOWS)]
            trial = Trial(base, ini)
            try:
                if window == "at a time" and timed.index(k) < lock_waits:
                    # kill a run while it waits for the lock another session holds
                    with psycopg.connect(libpq_dsn(trial.dsn), autocommit=True) as holder:
                        holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
                        proc = trial.start_up()
                        time.sleep(1.5 + rng.random())
                        os.killpg(proc.pid, signal.SIGKILL)
                        proc.wait()
                    at = "in a lock wait"
                elif window == "at a time":
                    i = timed.index(k) - lock_waits
                    at_s = duration * (i + rng.random()) / max(1, len(timed) - lock_waits)
                    proc = trial.start_up()
                    time.sleep(at_s)
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()
                    at = f"at {at_s:.2f}s"
                else:
                    if window == "early commit":
                        point, nth = "early-commit", 1 + (k // len(WINDOWS) * 7 + rng.randrange(3)) % early
                    else:  # both store-committed windows: the stores in turn
                        point, nth = "store-committed", nth_commit(commit_stores, k // len(WINDOWS), rng)
                    proc = trial.start_up(f"{point}@{nth}", stdout_closed=window == "stdout closed")
                    if proc.wait(timeout=600) != -signal.SIGKILL:
                        raise RuntimeError(f"{point}@{nth}: the run was not killed there")
                    store = trial.running_store() or "no row running"
                    at = f"{point}@{nth} ({store})"
                    window = f"{window} ({store})"
                steps = trial.recover()
                state = trial.state()
                problems = differences(reference, state)
                if trial.cli("status", "--check").returncode != 0:
                    problems.append("status --check")
                tally.add(window, not problems)
                print(f"kill {k + 1:3d} {window:<27} {at:<36} recovered with {', '.join(steps):<50} "
                      f"{'converged' if not problems else 'DIFFERS: ' + ', '.join(problems)}", flush=True)
            finally:
                trial.close()
        return 0 if tally.close() else 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        reset_stores(base)


if __name__ == "__main__":
    sys.exit(main())
