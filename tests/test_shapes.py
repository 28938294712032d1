"""Deployment shapes on the real PostgreSQL + TimescaleDB server (issue 7).

(a) one database for both SQL stores (only TIMESCALE_DSN; the seed's default): ledger, lock,
    relational tables and hypertables together, each TimescaleDB migration in one transaction
    with its ledger row;
(b) PostgreSQL and TimescaleDB in different databases, the ledger in the postgres one;
(c) a ledger database of its own (POLYALEMBIC_LEDGER_DSN).

Each shape runs the seed migrations base -> head -> base -> head through the stock commands
(`polyalembic up`, `alembic downgrade base`, `alembic upgrade head`) with the environment a
user would set, and reads every store back with its own client.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest

from polyalembic.settings import Settings, load_settings
from polyalembic.stores.postgres.dsn import libpq_dsn
from tests.conftest import REPO
from tests.scratch import create_database, drop_database, reset_stores
from tests.support import HYPERTABLES, POSTGRES_TABLES, is_empty, ledger, snapshot

TS = ("timescaledb",)
SHAPES = {
    "one-database": lambda db: {"TIMESCALE_DSN": db("pa_one", TS)},
    "two-databases": lambda db: {"POSTGRES_DSN": db("pa_pg"), "TIMESCALE_DSN": db("pa_ts", TS)},
    "ledger-database": lambda db: {"POSTGRES_DSN": db("pa_pg"), "TIMESCALE_DSN": db("pa_ts", TS),
                                   "POLYALEMBIC_LEDGER_DSN": db("pa_ledger")},
}
CONNECTION_PREFIXES = ("POSTGRES_", "TIMESCALE_", "NEO4J_", "CHROMA_", "POLYALEMBIC_")


@dataclass
class Shape:
    """A deployment: the variables a user sets, and the settings polyalembic derives from them."""

    name: str
    env: dict[str, str]
    settings: Settings

    def run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``python -m <args>`` with this deployment's environment, from the repository."""
        result = subprocess.run([sys.executable, "-m", *args], env=self.env, cwd=REPO, capture_output=True,
                                text=True, timeout=300)
        if check:
            assert result.returncode == 0, f"{args}: {result.stderr[-2000:]}"
        return result


def _shape(name: str, admin_dsn: str, base: Settings, created: list[str]) -> Shape:
    def db(prefix: str, extensions: tuple[str, ...] = ()) -> str:
        created.append(create_database(admin_dsn, prefix=prefix, extensions=extensions))
        return created[-1]

    variables = SHAPES[name](db)
    variables |= {k: v for k, v in base.env.items() if k.startswith(("NEO4J_", "CHROMA_"))}
    env = {k: v for k, v in os.environ.items() if not k.startswith(CONNECTION_PREFIXES)}
    env |= {k: v for k, v in variables.items() if v} | {"PYTHONPATH": str(REPO)}
    return Shape(name, env, load_settings(env=variables))


@pytest.fixture(params=list(SHAPES))
def shape(request: pytest.FixtureRequest, admin_dsn: str, base_settings: Settings) -> Iterator[Shape]:
    reset_stores(base_settings)
    created: list[str] = []
    yield _shape(request.param, admin_dsn, base_settings, created)
    for dsn in created:
        drop_database(admin_dsn, dsn)


@pytest.fixture
def one_database(admin_dsn: str, base_settings: Settings) -> Iterator[Shape]:
    reset_stores(base_settings)
    created: list[str] = []
    yield _shape("one-database", admin_dsn, base_settings, created)
    for dsn in created:
        drop_database(admin_dsn, dsn)


def tables(dsn: str) -> set[str]:
    with psycopg.connect(libpq_dsn(dsn)) as conn:
        return {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def hypertables(dsn: str) -> set[str]:
    with psycopg.connect(libpq_dsn(dsn)) as conn:
        return {r[0] for r in conn.execute("SELECT hypertable_name FROM timescaledb_information.hypertables")}


def test_seed_base_head_base_head_in_every_shape(shape: Shape) -> None:
    s = shape.settings
    databases = {s.database_url("postgres"), s.database_url("timescaledb"), s.ledger_dsn}
    assert len(databases) == {"one-database": 1, "two-databases": 2, "ledger-database": 3}[shape.name]

    shape.run("polyalembic", "up")
    head = snapshot(s)
    assert {r.revision: r.status for r in ledger(s)} == {rev: "applied" for rev, _ in head["ledger"]}
    assert len(head["ledger"]) == 12
    # every object where its store lives; the bookkeeping tables only in the ledger's database
    assert tables(s.database_url("postgres")) >= POSTGRES_TABLES
    assert hypertables(s.database_url("timescaledb")) == HYPERTABLES
    for dsn in databases:
        bookkeeping = {"schema_migrations", "schema_migrations_audit", "alembic_version"} & tables(dsn)
        assert bookkeeping == (set() if dsn != s.ledger_dsn else bookkeeping | {"schema_migrations"}), dsn
    if shape.name != "one-database":
        assert not tables(s.database_url("postgres")) & HYPERTABLES
        assert not tables(s.database_url("timescaledb")) & POSTGRES_TABLES

    shape.run("alembic", "downgrade", "base")
    assert is_empty(snapshot(s)) == []

    shape.run("alembic", "upgrade", "head")
    assert snapshot(s) == head

    status = shape.run("polyalembic", "status", "--check")  # exit 0: nothing pending or failed
    assert "postgres: 7 applied" in status.stdout and "timescaledb: 3 applied" in status.stdout


ATOMIC_REVISION = '''
"""Alters a seed hypertable, creates another, then waits on an advisory lock the test holds."""
from alembic import op

revision = "timescaledb_004"
down_revision = "chromadb_001"
store = "timescaledb"


def upgrade():
    op.execute("ALTER TABLE episodic_memories ADD COLUMN mood VARCHAR(16)")
    op.execute("CREATE TABLE readings (time TIMESTAMPTZ NOT NULL, value DOUBLE PRECISION NOT NULL)")
    op.create_hypertable("readings", "time", chunk_interval="1 day")
    op.execute("SELECT pg_advisory_xact_lock(424242)")
    op.execute("SELECT {fail}")


def downgrade():
    op.execute("DROP TABLE readings")
    op.execute("ALTER TABLE episodic_memories DROP COLUMN mood")
'''


def _wait_for_lock_waiter(dsn: str, key: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    with psycopg.connect(libpq_dsn(dsn), autocommit=True) as conn:
        while time.monotonic() < deadline:
            if conn.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted "
                            "AND objid = %s", (key,)).fetchone()[0]:
                return
            time.sleep(0.1)
    raise AssertionError("the migration never reached its advisory lock")


def _reader_view(dsn: str) -> tuple[Any, ...]:
    """What another session sees: the new table, the new column, the migration's ledger row."""
    with psycopg.connect(libpq_dsn(dsn), autocommit=True) as conn:
        return conn.execute(
            "SELECT to_regclass('public.readings') IS NOT NULL,"
            " EXISTS (SELECT 1 FROM information_schema.columns WHERE table_name = 'episodic_memories'"
            "         AND column_name = 'mood'),"
            " (SELECT status FROM schema_migrations WHERE revision = 'timescaledb_004')").fetchone()


@pytest.mark.parametrize("outcome", ["commit", "fail"])
def test_one_database_timescale_migration_is_one_transaction_with_its_ledger_row(
        one_database: Shape, tmp_path: Any, outcome: str) -> None:
    """Shape (a): readers on other connections see the old schema and no ledger row while the
    migration runs, then all of it (commit) or none of it (a failure rolls back every statement)."""
    import shutil

    shutil.copytree(REPO / "migrations", tmp_path / "migrations", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "alembic.ini", tmp_path / "alembic.ini")
    fail = "1" if outcome == "commit" else "no_such_column"
    (tmp_path / "migrations" / "timescaledb" / "004_readings.py").write_text(ATOMIC_REVISION.format(fail=fail))
    ini = str(tmp_path / "alembic.ini")
    one_database.run("polyalembic", "-c", ini, "up", "--to", "chromadb_001")
    dsn = one_database.settings.database_url("timescaledb")

    blocked_select: list[Any] = []
    with psycopg.connect(libpq_dsn(dsn), autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(424242)")
        migration = subprocess.Popen([sys.executable, "-m", "polyalembic", "-c", ini, "up"], env=one_database.env,
                                     cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        _wait_for_lock_waiter(dsn, 424242)
        assert _reader_view(dsn) == (False, False, None)  # the old schema, no ledger row

        def select_star() -> None:  # waits for the migration's lock on the table, then sees one schema
            with psycopg.connect(libpq_dsn(dsn), autocommit=True) as conn:
                cursor = conn.execute("SELECT * FROM episodic_memories LIMIT 0")
                blocked_select.append([c.name for c in cursor.description])

        reader = threading.Thread(target=select_star)
        reader.start()
        time.sleep(0.5)
        assert blocked_select == []  # not a half-changed table: it waits
        holder.execute("SELECT pg_advisory_unlock(424242)")
        _, stderr = migration.communicate(timeout=120)
        reader.join(timeout=30)

    if outcome == "commit":
        assert migration.returncode == 0, stderr
        assert _reader_view(dsn) == (True, True, "applied")
        assert "mood" in blocked_select[0]
        assert "readings" in hypertables(dsn)
    else:
        assert migration.returncode == 1
        assert "no_such_column" in stderr
        table, column, status = _reader_view(dsn)
        assert (table, column) == (False, False)  # every statement of the migration rolled back
        assert status == "failed"
        assert "mood" not in blocked_select[0]
        assert "readings" not in hypertables(dsn)
    assert sum(1 for r in ledger(one_database.settings) if r.status == "applied") == 12 + (outcome == "commit")


def _run_job(conn: psycopg.Connection, proc: str, table: str) -> None:
    """Run the policy ``proc`` on ``table`` now, as the scheduler would (see the module docstring)."""
    job = conn.execute("SELECT j.job_id FROM timescaledb_information.jobs j "
                       "LEFT JOIN timescaledb_information.continuous_aggregates ca "
                       "  ON ca.materialization_hypertable_name = j.hypertable_name "
                       "WHERE j.proc_name = %s AND coalesce(ca.view_name, j.hypertable_name) = %s",
                       (proc, table)).fetchone()
    assert job, f"no {proc} job on {table}"
    conn.execute(f"CALL run_job({int(job[0])})")


def test_the_jobs_the_seed_migrations_register_really_run(one_database: Shape) -> None:
    """Compression, retention (enabled through the per-run options) and the continuous-aggregate
    refresh, run with CALL run_job on 90 days of data: chunks get compressed or dropped, the
    aggregate holds the refreshed buckets. The jobs are unscheduled first, so the background
    scheduler does not run them on its own clock meanwhile (its runs can also fail on PostgreSQL
    15.20, see the README's stack section)."""
    env = {**one_database.env, "POLYALEMBIC_EPISODIC_RETENTION": "60 days"}
    result = subprocess.run([sys.executable, "-m", "polyalembic", "up"], env=env, cwd=REPO, capture_output=True,
                            text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    with psycopg.connect(libpq_dsn(one_database.settings.database_url("timescaledb")), autocommit=True) as conn:
        # the background scheduler would run them on its own clock: this test runs them itself
        conn.execute("SELECT alter_job(job_id, scheduled => false) FROM timescaledb_information.jobs "
                     "WHERE job_id >= 1000")
        conn.execute("INSERT INTO episodic_memories (time, memory_id, agent_id, event_type, content) "
                     "SELECT t, gen_random_uuid(), 'agent-' || a, 'observation', 'x' "
                     "FROM generate_series(now() - INTERVAL '90 days', now(), INTERVAL '1 hour') t, "
                     "     generate_series(1, 2) a")
        conn.execute("INSERT INTO emotional_memories (time, agent_id, emotion, valence, arousal) "
                     "SELECT t, 'agent-1', 'calm', 0.5, 0.2 "
                     "FROM generate_series(now() - INTERVAL '10 days', now(), INTERVAL '10 minutes') t")

        def chunks(table: str) -> tuple[int, int, Any]:
            return conn.execute("SELECT count(*), count(*) FILTER (WHERE is_compressed), min(range_start) "
                                "FROM timescaledb_information.chunks WHERE hypertable_name = %s",
                                (table,)).fetchone()

        rows_before = conn.execute("SELECT count(*) FROM episodic_memories").fetchone()[0]
        total, compressed, _ = chunks("episodic_memories")
        assert total >= 13 and compressed == 0

        _run_job(conn, "policy_compression", "episodic_memories")
        total, compressed, _ = chunks("episodic_memories")
        assert compressed >= 8  # every chunk older than 30 days
        assert conn.execute("SELECT bool_and(range_end <= now() - INTERVAL '30 days') FROM "
                            "timescaledb_information.chunks WHERE hypertable_name = 'episodic_memories' "
                            "AND is_compressed").fetchone()[0]
        assert conn.execute("SELECT count(*) FROM episodic_memories").fetchone()[0] == rows_before

        _run_job(conn, "policy_retention", "episodic_memories")
        remaining, _, oldest = chunks("episodic_memories")
        assert remaining < total
        assert conn.execute("SELECT %s >= now() - INTERVAL '67 days'", (oldest,)).fetchone()[0]
        assert conn.execute("SELECT min(time) >= now() - INTERVAL '67 days', count(*) < %s "
                            "FROM episodic_memories", (rows_before,)).fetchone() == (True, True)

        window = ("SELECT count(*) FROM emotional_state_hourly WHERE bucket >= now() - INTERVAL '3 days' "
                  "AND bucket < date_trunc('hour', now()) - INTERVAL '1 hour'")
        assert conn.execute(window).fetchone()[0] == 0  # created WITH DATA when the table was empty
        _run_job(conn, "policy_refresh_continuous_aggregate", "emotional_state_hourly")
        buckets = conn.execute(window).fetchone()[0]
        assert 68 <= buckets <= 72  # one per hour of the refresh window
        assert conn.execute("SELECT sum(samples) FROM emotional_state_hourly WHERE bucket >= now() - "
                            "INTERVAL '2 days' AND bucket < now() - INTERVAL '1 day'").fetchone()[0] == 6 * 24
        stats = conn.execute("SELECT count(*) FROM timescaledb_information.job_stats "
                             "WHERE hypertable_name = 'episodic_memories'").fetchone()[0]
        assert stats >= 1
