"""The engine: one Alembic chain over four real stores, one ledger (issue 3)."""

from __future__ import annotations

import subprocess
import sys

import pytest
from alembic import command

from polyalembic.errors import MigrationFailed, PolyalembicError
from polyalembic.project import Project
from polyalembic.settings import Settings
from tests.conftest import REPO, settings_env
from tests.support import (
    COLLECTIONS,
    CONTINUOUS_AGGREGATES,
    HYPERTABLES,
    NEO4J_CONSTRAINTS,
    NEO4J_INDEXES,
    POSTGRES_TABLES,
    is_empty,
    ledger,
    snapshot,
)


def test_upgrade_head_creates_every_object_and_one_ledger_row_each(project: Project, settings: Settings) -> None:
    command.upgrade(project.config(), "head")
    state = snapshot(settings)

    tables = {n for n, kind in state["postgres"]["objects"].items() if kind == "table"}
    assert tables >= POSTGRES_TABLES
    assert not tables & HYPERTABLES, "TimescaleDB tables must not land in the postgres store"

    ts = state["timescaledb"]
    assert set(ts["hypertables"]) == HYPERTABLES
    assert all(h["compression_enabled"] for h in ts["hypertables"].values())
    assert ts["continuous_aggregates"] == CONTINUOUS_AGGREGATES
    assert sorted(ts["jobs"]) == sorted(
        [("policy_compression", t) for t in HYPERTABLES]
        + [("policy_refresh_continuous_aggregate", "emotional_state_hourly")])

    assert set(state["neo4j"]["constraints"]) >= NEO4J_CONSTRAINTS
    assert set(state["neo4j"]["indexes"]) >= NEO4J_INDEXES

    collections = state["chromadb"]["collections"]
    assert set(collections) == COLLECTIONS
    for info in collections.values():
        assert info["hnsw"]["space"] == "cosine"
        assert info["hnsw"]["ef_construction"] == 128

    rows = {r.revision: r for r in ledger(settings)}
    chain = project.chain()
    assert set(rows) == {m.revision for m in chain}
    for m in chain:
        row = rows[m.revision]
        assert (row.status, row.database_type, row.migration_file, row.checksum) == (
            "applied", m.store, m.migration_file, m.checksum())
        assert row.execution_ms is not None and row.applied_by


def test_downgrade_base_leaves_every_store_and_the_ledger_empty(project: Project, settings: Settings) -> None:
    command.upgrade(project.config(), "head")
    assert is_empty(snapshot(settings)) != []
    command.downgrade(project.config(), "base")
    assert is_empty(snapshot(settings)) == []


def test_every_revision_up_down_up_is_consistent(project: Project, settings: Settings) -> None:
    before = snapshot(settings)
    for m in project.chain():
        command.upgrade(project.config(), m.revision)
        after = snapshot(settings)
        assert after != before, f"{m.migration_file} changed nothing"
        assert (m.revision, "applied") in after["ledger"]
        command.downgrade(project.config(), "-1")
        assert snapshot(settings) == before, f"downgrade of {m.migration_file} did not revert it"
        command.upgrade(project.config(), "+1")
        assert snapshot(settings) == after, f"re-applying {m.migration_file} differs from the first time"
        before = after


BROKEN_REVISION = '''"""A Neo4j migration whose second statement is not Cypher."""
from polyalembic.pairs import migration_files

revision = "neo4j_002"
down_revision = "chromadb_001"
store = "neo4j"

upgrade, downgrade = migration_files(__file__)
'''


def test_failed_neo4j_migration_is_recorded_and_a_fixed_file_resumes(project_copy: Project,
                                                                     settings: Settings) -> None:
    folder = project_copy.migrations_dir / "neo4j"
    (folder / "002_agent_links.py").write_text(BROKEN_REVISION)
    (folder / "002_agent_links.up.cql").write_text(
        "CREATE CONSTRAINT agent_id_unique IF NOT EXISTS FOR (a:Agent) REQUIRE a.id IS UNIQUE;\n"
        "MATCH (a:Agent) SET a.linked = true RETRUN a;\n")
    (folder / "002_agent_links.down.cql").write_text("DROP CONSTRAINT agent_id_unique IF EXISTS;\n")

    with pytest.raises(MigrationFailed, match=r"neo4j migration 002_agent_links.up.cql .* failed at step"):
        command.upgrade(project_copy.config(), "head")
    rows = {r.revision: r for r in ledger(settings)}
    failed = rows.pop("neo4j_002")
    assert failed.status == "failed"
    assert "RETRUN" in failed.error and "RETRUN" in failed.failed_step
    assert failed.completed_steps == 1  # the constraint was created and committed
    assert {r.status for r in rows.values()} == {"applied"}
    assert len(rows) == len(project_copy.chain()) - 1

    (folder / "002_agent_links.up.cql").write_text(
        "CREATE CONSTRAINT agent_id_unique IF NOT EXISTS FOR (a:Agent) REQUIRE a.id IS UNIQUE;\n"
        "MATCH (a:Agent) SET a.linked = true RETURN a;\n")
    # the store may be half changed: a plain upgrade refuses and names the choices
    with pytest.raises(PolyalembicError, match=r"neo4j_002\) failed part way after 1 completed step\(s\) at step "
                                              r"\[cypher: MATCH .*RETRUN a\]: decide with `polyalembic repair "
                                              r"resume neo4j_002`"):
        command.upgrade(project_copy.config(), "head")
    from polyalembic.commands.repair import repair

    assert "skipping its 1 completed step(s)" in repair(project_copy, "resume", "neo4j_002")
    row = {r.revision: r for r in ledger(settings)}["neo4j_002"]
    assert (row.status, row.error, row.completed_steps) == ("applied", None, None)
    assert "agent_id_unique" in snapshot(settings)["neo4j"]["constraints"]


def _race_on_the_lock(settings: Settings, command: list[str]) -> tuple[list[tuple[str, str]], list[int]]:
    """Two ``command`` processes made to queue on the migration lock (held here until both wait),
    then let race: their (stdout, stderr) and exit codes."""
    import time

    import sqlalchemy as sa

    from polyalembic.stores.postgres.lock import LOCK_KEY

    engine = sa.create_engine(settings.ledger_dsn.replace("postgresql://", "postgresql+psycopg://"),
                              isolation_level="AUTOCOMMIT")
    env = settings_env(settings)
    with engine.connect() as holder:
        holder.execute(sa.text("SELECT pg_advisory_lock(:k)"), {"k": LOCK_KEY})
        procs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                  cwd=REPO) for _ in range(2)]
        deadline = time.monotonic() + 60
        waiting = 0
        while waiting < 2 and time.monotonic() < deadline:
            waiting = holder.execute(sa.text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted")).scalar()
            time.sleep(0.1)
        holder.execute(sa.text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
    engine.dispose()
    outputs = [p.communicate(timeout=300) for p in procs]
    assert waiting == 2, outputs
    return outputs, [p.returncode for p in procs]


def test_two_concurrent_upgrades_apply_each_migration_exactly_once(project: Project, settings: Settings) -> None:
    """Both runs are made to queue on the lock (the test holds it until both wait), then race."""
    import sqlalchemy as sa

    outputs, codes = _race_on_the_lock(settings, [sys.executable, "-m", "alembic", "-c", str(REPO / "alembic.ini"),
                                                  "upgrade", "head"])
    assert codes == [0, 0], outputs
    assert all("waiting for the migration lock" in err for _, err in outputs), outputs
    # one prefix per line (it once read "WARNING [polyalembic] polyalembic: waiting …")
    assert not any("polyalembic: waiting" in err for _, err in outputs), outputs

    engine = sa.create_engine(settings.ledger_dsn.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        counts = dict(conn.execute(sa.text(
            "SELECT revision, count(*) FROM schema_migrations_audit WHERE action = 'upgrade' GROUP BY revision")).all())
    engine.dispose()
    assert counts == {m.revision: 1 for m in project.chain()}
    assert all(r.status == "applied" for r in ledger(settings))


def test_the_library_says_what_a_run_applied_not_what_it_planned(project: Project, settings: Settings) -> None:
    """`api.up` plans before the lock; the run that waited finds everything applied by the other
    and must say it applied nothing (it once returned its plan: the whole chain, twice)."""
    script = ("import sys\nfrom polyalembic import api\nfrom polyalembic.project import Project\n"
              "run = api.up(Project(__import__('pathlib').Path(sys.argv[1])))\n"
              "print(len(run.migrations('applied')), run.ran)\n")
    outputs, codes = _race_on_the_lock(settings, [sys.executable, "-c", script, str(REPO / "alembic.ini")])
    assert codes == [0, 0], outputs
    told = sorted(out.strip().splitlines()[-1] for out, _ in outputs)
    assert told == sorted(["0 True", f"{len(project.chain())} True"]), outputs


def test_alembic_current_history_and_downgrade_minus_one_work_unchanged(project: Project,
                                                                       settings: Settings) -> None:
    env = settings_env(settings)

    def alembic(*args: str) -> str:
        result = subprocess.run([sys.executable, "-m", "alembic", "-c", str(REPO / "alembic.ini"), *args],
                                env=env, capture_output=True, text=True, timeout=120, cwd=REPO)
        assert result.returncode == 0, result.stderr
        return result.stdout

    alembic("upgrade", "neo4j_001")
    assert alembic("current").split() == ["neo4j_001"]
    alembic("downgrade", "-1")
    assert alembic("current").split() == ["timescaledb_003"]
    assert "neo4j" not in {r.database_type for r in ledger(settings)}
    history = alembic("history")
    assert history.splitlines()[0].startswith("neo4j_001 -> chromadb_001 (head)")
    assert len(history.splitlines()) == 12


def test_upgrade_sql_output_applies_to_an_empty_database(project: Project, settings: Settings) -> None:
    """The --sql script of the PostgreSQL part, fed to a database, builds the tables and the ledger."""
    import psycopg

    from polyalembic.stores.postgres.dsn import libpq_dsn

    result = subprocess.run([sys.executable, "-m", "alembic", "-c", str(REPO / "alembic.ini"),
                             "upgrade", "postgres_007", "--sql"], env=settings_env(settings),
                            capture_output=True, text=True, timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert ledger(settings) == []  # rendering touched nothing
    with psycopg.connect(libpq_dsn(settings.ledger_dsn), autocommit=True) as conn:
        conn.execute(result.stdout.encode())
    rows = ledger(settings)
    assert [(r.revision, r.status) for r in rows] == [(f"postgres_00{i}", "applied") for i in range(1, 8)]
    assert {r.checksum for r in rows} == {m.checksum() for m in project.chain()[:7]}
    tables = {n for n, k in snapshot(settings)["postgres"]["objects"].items() if k == "table"}
    assert tables >= POSTGRES_TABLES
    command.upgrade(project.config(), "head")  # the chain carries on from the rendered state
    assert len(ledger(settings)) == 12


SLOW_CHROMA_REVISION = '''"""A ChromaDB migration that can be made slow, to be killed mid-run."""
import os
import time

from alembic import op

revision = "chromadb_002"
down_revision = "chromadb_001"
store = "chromadb"


def create(client):
    client.get_or_create_collection("slow_things", embedding_function=None)  # rerunnable
    time.sleep(float(os.environ.get("SLOW_SECONDS", "0")))


def drop(client):
    client.delete_collection("slow_things")


def upgrade():
    op.run_chroma(create, drop)


def downgrade():
    op.run_chroma(drop, create)
'''


def test_killed_migration_shows_running_blocks_up_and_a_resume_finishes_it(project_copy: Project,
                                                                          settings: Settings) -> None:
    import os
    import signal
    import time

    (project_copy.migrations_dir / "chromadb" / "002_slow_things.py").write_text(SLOW_CHROMA_REVISION)
    command.upgrade(project_copy.config(), "chromadb_001")
    env = {**settings_env(settings), "SLOW_SECONDS": "60"}
    proc = subprocess.Popen([sys.executable, "-m", "polyalembic", "-c", str(project_copy.config_path), "up"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if "chromadb_002" in {r.revision for r in ledger(settings)}:
                break
            time.sleep(0.2)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    row = {r.revision: r for r in ledger(settings)}["chromadb_002"]
    assert row.status == "running"
    from polyalembic import api

    states = {s.revision: s.state for s in api.status(project_copy)[0]}
    assert states["chromadb_002"] == "running"

    refused = subprocess.run([sys.executable, "-m", "polyalembic", "-c", str(project_copy.config_path), "up"],
                             env=settings_env(settings), capture_output=True, text=True, timeout=120)
    assert refused.returncode == 1
    assert refused.stderr.startswith(
        "polyalembic: error: chromadb migration 002_slow_things.py (chromadb_002) was interrupted while running "
        "after 0 completed step(s): decide with `polyalembic repair resume chromadb_002`"), refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1
    status = subprocess.run([sys.executable, "-m", "polyalembic", "-c", str(project_copy.config_path), "status"],
                            env=settings_env(settings), capture_output=True, text=True, timeout=120)
    assert "chromadb_002: half done (0 step(s) completed): polyalembic repair resume chromadb_002" in status.stdout

    from polyalembic.commands.repair import repair

    # a run_chroma function can carry no marker: resume will not run it again blindly ...
    with pytest.raises(MigrationFailed, match=r"chromadb migration 002_slow_things\.py \(chromadb_002\): step 1 .* "
                                              r"may have partly run .*`polyalembic repair retry chromadb_002`"):
        repair(project_copy, "resume", "chromadb_002")
    assert {r.revision: r for r in ledger(settings)}["chromadb_002"].status == "running"  # as the kill left it
    # ... and this one is rerunnable (get_or_create): retry, as the refusal says
    repair(project_copy, "retry", "chromadb_002")
    row = {r.revision: r for r in ledger(settings)}["chromadb_002"]
    assert (row.status, row.error) == ("applied", None)
    assert "slow_things" in snapshot(settings)["chromadb"]["collections"]


EARLY_COMMIT_REVISION = '''"""A concurrently built index in a Python revision: it commits before the ledger row."""
from pathlib import Path

import sqlalchemy as sa
from alembic import op

revision = "postgres_008"
down_revision = "chromadb_001"
store = "postgres"
HERE = Path(__file__).parent


def upgrade():
    op.run_sql_file(str(HERE / "008_sql" / "up.sql"))
    # the ledger already says `running`, committed, before the migration's own row is written
    status = op.get_bind().execute(sa.text(
        "SELECT status FROM schema_migrations WHERE revision = 'postgres_008'")).scalar()
    assert status == "running", status


def downgrade():
    op.execute("DROP INDEX IF EXISTS idx_pm_agent_name")
'''


def test_python_revision_that_commits_early_is_marked_running_first(project_copy: Project,
                                                                     settings: Settings) -> None:
    folder = project_copy.migrations_dir / "postgres"
    (folder / "008_sql").mkdir()
    (folder / "008_sql" / "up.sql").write_text(
        "-- polyalembic: no-transaction\n"
        "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_pm_agent_name ON procedural_memories (agent_id, name);\n")
    (folder / "008_concurrent_index.py").write_text(EARLY_COMMIT_REVISION)
    command.upgrade(project_copy.config(), "head")
    assert {r.revision: r.status for r in ledger(settings)}["postgres_008"] == "applied"
    assert "idx_pm_agent_name" in snapshot(settings)["postgres"]["objects"]


def test_failed_downgrade_rolled_back_whole_stays_applied(project_copy: Project, settings: Settings) -> None:
    """A TimescaleDB downgrade runs in one transaction on its own database: rolled back, still applied."""
    path = project_copy.migrations_dir / "timescaledb" / "003_portfolio_snapshots.py"
    path.write_text(path.read_text().replace(
        '    op.execute("DROP TABLE IF EXISTS portfolio_snapshots")',
        '    op.execute("DROP TABLE IF EXISTS portfolio_snapshots")\n    op.execute("DROP TABLE no_such_table")'))
    command.upgrade(project_copy.config(), "timescaledb_003")
    with pytest.raises(MigrationFailed, match=r"timescaledb migration 003_portfolio_snapshots\.py .* downgrade failed"):
        command.downgrade(project_copy.config(), "-1")
    row = {r.revision: r for r in ledger(settings)}["timescaledb_003"]
    assert row.status == "applied"  # the DROP before the failure was rolled back with it
    assert "portfolio_snapshots" in snapshot(settings)["timescaledb"]["hypertables"]
    import sqlalchemy as sa

    engine = sa.create_engine(settings.ledger_dsn.replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        actions = [r[0] for r in conn.execute(sa.text(
            "SELECT action FROM schema_migrations_audit WHERE revision = 'timescaledb_003' ORDER BY id"))]
    engine.dispose()
    assert actions == ["upgrade", "downgrade_failed"]
