"""Failure recovery that never lies (issue 9): statement-level progress, `up` refusing half-done
migrations, `polyalembic repair` and its audited choices, the ledger's schema upgraded in place.

Every scenario runs the CLI (or Alembic) against the real servers and checks the stores with
their own drivers and the ledger with SQL.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from alembic import command
from click.testing import CliRunner, Result

from polyalembic.cli import main
from polyalembic.project import Project
from polyalembic.settings import Settings
from polyalembic.stores.postgres.dsn import libpq_dsn
from tests.conftest import settings_env
from tests.support import add_revision, ledger, store_connection

PAIR_BINDER = '''"""Probe nodes, statement by statement."""
from polyalembic.pairs import migration_files

revision = "neo4j_002"
down_revision = "chromadb_001"
store = "neo4j"

upgrade, downgrade = migration_files(__file__)
'''
# step 1: a batch of one write; step 2: an index (schema statements commit alone); step 3: a
# batch of two writes in one transaction, whose second statement fails the first time
BROKEN_UP = ("CREATE (:Probe {n: 1});\n"
             "CREATE INDEX probe_n IF NOT EXISTS FOR (p:Probe) ON (p.n);\n"
             "CREATE (:Probe {n: 2});\n"
             "UNWIND [0] AS z RETURN 1 / z;\n")
FIXED_UP = BROKEN_UP.replace("UNWIND [0] AS z RETURN 1 / z;", "CREATE (:Probe {n: 3});")


def cli(project: Project, settings: Settings, *args: str) -> Result:
    return CliRunner().invoke(main, ["-c", str(project.config_path), *args], env=settings_env(settings))


def probes(settings: Settings) -> list[int]:
    with store_connection(settings, "neo4j") as graph:
        records, _, _ = graph.driver.execute_query("MATCH (p:Probe) RETURN p.n AS n ORDER BY n",
                                                   database_=graph.database)
    return [r["n"] for r in records]


def audit(settings: Settings, revision: str) -> list[tuple[str, str]]:
    with psycopg.connect(libpq_dsn(settings.ledger_dsn)) as conn:
        return [(r[0], r[1]) for r in conn.execute(
            "SELECT action, by FROM schema_migrations_audit WHERE revision = %s ORDER BY id", (revision,))]


@pytest.fixture
def half_done(project_copy: Project, settings: Settings) -> Project:
    """The seed set applied, then a Cypher migration that failed after 2 of its steps committed."""
    folder = project_copy.migrations_dir / "neo4j"
    (folder / "002_probes.py").write_text(PAIR_BINDER)
    (folder / "002_probes.up.cql").write_text(BROKEN_UP)
    (folder / "002_probes.down.cql").write_text("DROP INDEX probe_n IF EXISTS;\nMATCH (p:Probe) DELETE p;\n")
    failed = cli(project_copy, settings, "up")
    assert failed.exit_code == 1 and "/ by zero" in failed.output
    row = {r.revision: r for r in ledger(settings)}["neo4j_002"]
    assert (row.status, row.completed_steps) == ("failed", 2)
    assert "UNWIND [0] AS z RETURN 1 / z" in row.failed_step
    assert probes(settings) == [1]  # step 1 committed; step 3 rolled back whole
    (folder / "002_probes.up.cql").write_text(FIXED_UP)
    return project_copy


def test_up_refuses_a_half_done_migration_naming_where_it_stopped_and_the_choices(half_done: Project,
                                                                                settings: Settings) -> None:
    before = [(r.revision, r.status, r.completed_steps) for r in ledger(settings)]
    for args in (["up"], ["up", "--to", "neo4j_002"]):
        refused = cli(half_done, settings, *args)
        assert refused.exit_code == 1
        assert refused.output.strip().splitlines() == [
            "polyalembic: error: neo4j migration 002_probes.up.cql (neo4j_002) failed part way after 2 "
            "completed step(s) at step [cypher: UNWIND [0] AS z RETURN 1 / z]: "
            "decide with `polyalembic repair resume neo4j_002` (continue after the last completed step), "
            "`polyalembic repair retry neo4j_002` (run it again from the start) or `polyalembic repair "
            "mark-applied neo4j_002` (you finished it by hand)"]
    with pytest.raises(Exception, match="failed part way"):  # the stock Alembic command too
        command.upgrade(half_done.config(), "head")
    assert [(r.revision, r.status, r.completed_steps) for r in ledger(settings)] == before
    assert probes(settings) == [1]
    status = cli(half_done, settings, "status")
    assert "neo4j_002: half done (2 step(s) completed): polyalembic repair resume neo4j_002" in status.output


def test_resume_continues_after_the_last_completed_step_and_never_repeats_it(half_done: Project,
                                                                           settings: Settings) -> None:
    resumed = cli(half_done, settings, "repair", "resume", "neo4j_002")
    assert resumed.exit_code == 0, resumed.output
    assert "skipping its 2 completed step(s)" in resumed.output
    assert probes(settings) == [1, 2, 3]  # node 1 was not written twice
    row = {r.revision: r for r in ledger(settings)}["neo4j_002"]
    assert (row.status, row.completed_steps, row.error) == ("applied", None, None)
    actions = [a for a, _ in audit(settings, "neo4j_002")]
    assert actions == ["failed", "repair:resume", "upgrade"]
    assert all("@" in by for _, by in audit(settings, "neo4j_002"))  # who: user@host
    assert cli(half_done, settings, "status", "--check").exit_code == 0


def test_retry_runs_the_migration_again_from_its_first_step(half_done: Project, settings: Settings) -> None:
    assert cli(half_done, settings, "repair", "retry", "neo4j_002").exit_code == 0
    assert probes(settings) == [1, 1, 2, 3]  # what retry means: step 1 ran again (not idempotent)
    assert [a for a, _ in audit(settings, "neo4j_002")] == ["failed", "repair:retry", "upgrade"]


def test_mark_applied_records_a_migration_finished_by_hand_and_runs_nothing(half_done: Project,
                                                                          settings: Settings) -> None:
    done = cli(half_done, settings, "repair", "mark-applied", "neo4j_002")
    assert done.exit_code == 0 and "recorded as applied; nothing was run" in done.output, done.output
    assert probes(settings) == [1]
    row = {r.revision: r for r in ledger(settings)}["neo4j_002"]
    assert row.status == "applied"
    from polyalembic.api import current_heads

    assert current_heads(half_done) == ("neo4j_002",)  # the chain moved past it
    assert cli(half_done, settings, "status", "--check").exit_code == 0
    assert "Nothing to apply" in cli(half_done, settings, "up").output
    assert [a for a, _ in audit(settings, "neo4j_002")] == ["failed", "repair:mark-applied"]


def test_repair_choices_that_do_not_fit_the_row_are_refused_with_the_reason(half_done: Project,
                                                                          settings: Settings) -> None:
    cases = {
        ("forget", "neo4j_002"): "neo4j_002's file exists: forget is for rows whose file is gone",
        ("accept-checksum", "neo4j_002"): "neo4j_002 has no checksum mismatch (it is failed)",
        ("resume", "postgres_001"): "postgres_001 is applied: nothing to decide",
        ("resume", "nope_001"): "the ledger has no row for 'nope_001'",
    }
    for (action, revision), message in cases.items():
        result = cli(half_done, settings, "repair", action, revision)
        assert result.exit_code == 1 and message in result.output, result.output
    assert cli(half_done, settings, "repair", "explode", "neo4j_002").exit_code == 2  # click: bad choice


def test_forget_clears_a_failed_row_whose_file_was_deleted(project_copy: Project, settings: Settings) -> None:
    folder = project_copy.migrations_dir / "postgres"
    add_revision(project_copy, "008_broken.py", '''
        from alembic import op
        revision = "postgres_008"
        down_revision = "chromadb_001"
        store = "postgres"
        def upgrade():
            op.execute("SELECT no_such_function()")
        def downgrade():
            op.execute("SELECT 1")
        ''', "postgres")
    assert cli(project_copy, settings, "up").exit_code == 1
    (folder / "008_broken.py").unlink()
    status = cli(project_copy, settings, "status", "--check")
    assert status.exit_code == 1
    assert "postgres_008: its file is gone and it never applied: polyalembic repair forget postgres_008" \
        in status.output
    forgotten = cli(project_copy, settings, "repair", "forget", "postgres_008")
    assert forgotten.exit_code == 0, forgotten.output
    assert "postgres_008" not in {r.revision for r in ledger(settings)}
    assert cli(project_copy, settings, "status", "--check").exit_code == 0
    assert [a for a, _ in audit(settings, "postgres_008")] == ["failed", "repair:forget"]


def test_a_failure_rolled_back_whole_does_not_block_up(project_copy: Project, settings: Settings) -> None:
    """A SQL migration in the ledger's transaction leaves nothing behind when it fails: the fixed
    file simply runs on the next up, no repair needed."""
    source = '''
        from alembic import op
        revision = "postgres_008"
        down_revision = "chromadb_001"
        store = "postgres"
        def upgrade():
            op.execute("CREATE TABLE notes (id int)")
            op.execute("{second}")
        def downgrade():
            op.execute("DROP TABLE notes")
        '''
    add_revision(project_copy, "008_notes.py", source.format(second="SELECT no_such_function()"), "postgres")
    assert cli(project_copy, settings, "up").exit_code == 1
    row = {r.revision: r for r in ledger(settings)}["postgres_008"]
    assert (row.status, row.completed_steps) == ("failed", None)
    add_revision(project_copy, "008_notes.py", source.format(second="SELECT 1"), "postgres")
    assert cli(project_copy, settings, "up").exit_code == 0
    assert {r.revision: r.status for r in ledger(settings)}["postgres_008"] == "applied"


def test_accept_checksum_records_an_intended_edit_of_an_applied_file(project_copy: Project,
                                                                   settings: Settings) -> None:
    assert cli(project_copy, settings, "up").exit_code == 0
    path = project_copy.migrations_dir / "postgres" / "003_semantic_memories.up.sql"
    path.write_text(path.read_text() + "\n-- a comment added later\n")
    status = cli(project_copy, settings, "status")
    assert "checksum mismatch" in status.output
    assert "postgres_003: edited after it was applied: write a new migration, or polyalembic repair " \
           "accept-checksum postgres_003" in status.output
    accepted = cli(project_copy, settings, "repair", "accept-checksum", "postgres_003")
    assert accepted.exit_code == 0 and "its edit was not run" in accepted.output
    assert cli(project_copy, settings, "status", "--check").exit_code == 0
    assert [a for a, _ in audit(settings, "postgres_003")] == ["upgrade", "repair:accept-checksum"]


LEDGER_V1 = """
CREATE TABLE schema_migrations (
    revision       VARCHAR(128) PRIMARY KEY,
    database_type  VARCHAR(32)  NOT NULL,
    migration_file VARCHAR(255) NOT NULL,
    checksum       CHAR(64)     NOT NULL,
    status         VARCHAR(16)  NOT NULL CHECK (status IN ('running', 'applied', 'failed')),
    applied_at     TIMESTAMPTZ  NOT NULL DEFAULT now(),
    execution_ms   INTEGER,
    applied_by     VARCHAR(255) NOT NULL,
    error          TEXT,
    failed_step    TEXT
);
CREATE TABLE schema_migrations_audit (
    id             BIGSERIAL    PRIMARY KEY,
    revision       VARCHAR(128) NOT NULL,
    database_type  VARCHAR(32)  NOT NULL,
    migration_file VARCHAR(255) NOT NULL,
    action         VARCHAR(16)  NOT NULL,
    checksum       CHAR(64),
    execution_ms   INTEGER,
    error          TEXT,
    at             TIMESTAMPTZ  NOT NULL DEFAULT now(),
    by             VARCHAR(255) NOT NULL
);
"""


def test_a_ledger_of_the_first_version_is_upgraded_in_place_without_losing_a_row(project: Project,
                                                                                settings: Settings) -> None:
    """Today's ledger (0.1.0: no version table, no completed_steps) as an older polyalembic left it,
    with its rows: the next run upgrades it and keeps every row."""
    with psycopg.connect(libpq_dsn(settings.ledger_dsn), autocommit=True) as conn:
        conn.execute(LEDGER_V1)
        conn.execute("INSERT INTO schema_migrations (revision, database_type, migration_file, checksum, status, "
                     "applied_by, error) VALUES ('gone_001', 'postgres', '001_gone.up.sql', repeat('a', 64), "
                     "'failed', 'someone@old', 'boom')")
        conn.execute("INSERT INTO schema_migrations_audit (revision, database_type, migration_file, action, by) "
                     "VALUES ('gone_001', 'postgres', '001_gone.up.sql', 'failed', 'someone@old')")
    assert [r.revision for r in ledger(settings)] == ["gone_001"]  # status reads an old ledger too
    result = cli(project, settings, "up")
    assert result.exit_code == 0, result.output
    with psycopg.connect(libpq_dsn(settings.ledger_dsn)) as conn:
        version = conn.execute("SELECT value FROM schema_migrations_meta WHERE key = 'ledger_version'").fetchone()
        columns = {r[0] for r in conn.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_name = 'schema_migrations'")}
        old: Any = conn.execute("SELECT status, applied_by, error FROM schema_migrations "
                                "WHERE revision = 'gone_001'").fetchone()
        audit_rows = conn.execute("SELECT count(*) FROM schema_migrations_audit").fetchone()[0]
        recorded_snapshots = conn.execute("SELECT store FROM schema_migrations_snapshots").fetchall()
    assert version == ("4",)
    assert {"completed_steps", "legacy_checksum"} <= columns
    assert len(recorded_snapshots) == 4  # version 3: the run recorded every store's snapshot
    assert old == ("failed", "someone@old", "boom")
    assert audit_rows == 1 + 12
    assert len([r for r in ledger(settings) if r.status == "applied"]) == 12


def test_stamp_never_moves_the_ledger_back_without_saying_so(project: Project, settings: Settings) -> None:
    assert cli(project, settings, "stamp", "timescaledb_003").exit_code == 0
    refused = cli(project, settings, "stamp", "postgres_007")
    assert refused.exit_code == 1
    assert ("stamp postgres_007 would move the ledger back and un-stamp timescaledb_003, timescaledb_002, "
            "timescaledb_001 (their changes stay in the stores): pass --backwards") in refused.output
    with pytest.raises(Exception, match="stamp would move the ledger back"):  # Alembic's own stamp too
        command.stamp(project.config(), "postgres_007")
    assert len([r for r in ledger(settings) if r.status == "applied"]) == 10
    back = cli(project, settings, "stamp", "postgres_007", "--backwards")
    assert back.exit_code == 0, back.output
    assert ("Un-stamped 3 migration(s): timescaledb_003, timescaledb_002, timescaledb_001 (recorded as not "
            "applied; nothing was run or reverted).") in back.output
    assert len([r for r in ledger(settings) if r.status == "applied"]) == 7
    assert "Nothing to stamp" in cli(project, settings, "stamp", "postgres_007").output


def test_validate_and_generate_know_a_failed_row_whose_file_is_gone(project_copy: Project,
                                                                   settings: Settings) -> None:
    folder = project_copy.migrations_dir / "postgres"
    generated = cli(project_copy, settings, "generate", "postgres", "broken")
    assert generated.exit_code == 0, generated.output
    (folder / "008_broken.up.sql").write_text("SELECT no_such_function();\n")
    assert cli(project_copy, settings, "up").exit_code == 1
    for path in folder.glob("008_broken*"):
        path.unlink()
    validate = cli(project_copy, settings, "validate")
    assert validate.exit_code == 1
    assert ("migrations/postgres/008_broken.up.sql: is failed in the ledger (never applied) and its file is gone: "
            "`polyalembic repair forget postgres_008` clears the row") in validate.output
    again = cli(project_copy, settings, "generate", "postgres", "other")
    assert again.exit_code == 1
    assert ("revision id 'postgres_008' is in the ledger already (failed 008_broken.up.sql, its file is gone): "
            "`polyalembic repair forget postgres_008` clears that row") in again.output
    assert not list(folder.glob("008_*"))  # nothing written
    assert cli(project_copy, settings, "repair", "forget", "postgres_008").exit_code == 0
    assert cli(project_copy, settings, "generate", "postgres", "other").exit_code == 0


def test_a_lock_wait_with_a_limit_fails_naming_the_holder_and_applies_nothing(project: Project,
                                                                             settings: Settings) -> None:
    import subprocess
    import sys
    import time

    from polyalembic.stores.postgres.lock import LOCK_KEY

    with psycopg.connect(libpq_dsn(settings.ledger_dsn), autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (LOCK_KEY,))
        pid = holder.execute("SELECT pg_backend_pid()").fetchone()[0]
        started = time.monotonic()
        waited = cli(project, settings, "--lock-timeout", "1", "up")
        took = time.monotonic() - started
        alembic = subprocess.run([sys.executable, "-m", "alembic", "-c", str(project.config_path), "-x",
                                  "lock_timeout=0.5", "upgrade", "head"], env=settings_env(settings),
                                 capture_output=True, text=True, timeout=60)
    assert waited.exit_code == 1
    assert 1 <= took < 10
    assert f"the migration lock is still held by another run (backend pid {pid}, connected since " in waited.output
    assert "after 1s (--lock-timeout): nothing was applied" in waited.output
    assert alembic.returncode != 0 and "the migration lock is still held" in alembic.stderr
    assert ledger(settings) == []
    bad = cli(project, settings, "--lock-timeout", "-3", "up")
    assert bad.exit_code == 2 and "--lock-timeout" in bad.output


def test_up_and_alembic_validate_the_files_first_and_apply_nothing_on_a_problem(project_copy: Project,
                                                                              settings: Settings) -> None:
    import subprocess
    import sys

    assert cli(project_copy, settings, "up", "--to", "postgres_003").exit_code == 0
    folder = project_copy.migrations_dir / "postgres"
    (folder / "005_portfolio_holdings.down.sql").unlink()
    refused = cli(project_copy, settings, "up")
    assert refused.exit_code == 1
    assert refused.output.strip() == (
        "polyalembic: error: nothing was applied: migrations/postgres/005_portfolio_holdings.py: "
        "005_portfolio_holdings.down.sql is missing: create it (every migration needs up and down) "
        "(and 1 more problem(s): polyalembic validate lists them)")
    alembic = subprocess.run([sys.executable, "-m", "alembic", "-c", str(project_copy.config_path), "upgrade",
                              "head"], env=settings_env(settings), capture_output=True, text=True, timeout=120)
    assert alembic.returncode != 0 and "005_portfolio_holdings.down.sql is missing" in alembic.stderr
    assert len(ledger(settings)) == 3  # nothing more applied
    offline = subprocess.run([sys.executable, "-m", "alembic", "-c", str(project_copy.config_path), "upgrade",
                              "head", "--sql"], env=settings_env(settings), capture_output=True, text=True,
                             timeout=120)
    assert offline.returncode == 0, offline.stderr
    assert ("-- polyalembic: PROBLEM (a real run refuses): migrations/postgres/005_portfolio_holdings.py: "
            "005_portfolio_holdings.down.sql is missing") in offline.stdout


def test_up_refuses_an_applied_file_that_was_edited(project_copy: Project, settings: Settings) -> None:
    assert cli(project_copy, settings, "up", "--to", "postgres_003").exit_code == 0
    path = project_copy.migrations_dir / "postgres" / "002_skill_progressions.up.sql"
    path.write_text(path.read_text().replace("CREATE TABLE", "CREATE TABLE  ", 1))
    refused = cli(project_copy, settings, "up")
    assert refused.exit_code == 1
    assert ("nothing was applied: migrations/postgres/002_skill_progressions.up.sql: changed after it was applied "
            "(checksum mismatch): revert the edit and write a new migration, or `polyalembic repair accept-checksum "
            "postgres_002` if the edit is intended") in refused.output
    assert len(ledger(settings)) == 3
    assert cli(project_copy, settings, "repair", "accept-checksum", "postgres_002").exit_code == 0
    assert cli(project_copy, settings, "up").exit_code == 0
    assert len(ledger(settings)) == 12


EARLY_COMMITS = '''
"""Two statements outside the migration's transaction, run by a Python revision in the ledger's database."""
from pathlib import Path

from alembic import op

revision = "postgres_008"
down_revision = "chromadb_001"
store = "postgres"
HERE = Path(__file__).parent


def upgrade():
    op.run_sql_file(str(HERE / "files" / "indexes.sql"))


def downgrade():
    op.execute("DROP INDEX IF EXISTS idx_pm_name")
    op.execute("DROP INDEX IF EXISTS idx_pm_created")
'''


def test_a_resume_that_fails_again_keeps_the_recorded_progress(project_copy: Project, settings: Settings) -> None:
    folder = project_copy.migrations_dir / "postgres"
    (folder / "files").mkdir()
    broken = ("-- polyalembic: no-transaction\n"
              "CREATE INDEX CONCURRENTLY IF NOT EXISTS idx_pm_name ON procedural_memories (name);\n"
              "CREATE INDEX CONCURRENTLY idx_pm_created ON no_such_table (created_at);\n")
    (folder / "files" / "indexes.sql").write_text(broken)
    add_revision(project_copy, "008_indexes.py", EARLY_COMMITS, "postgres")
    assert cli(project_copy, settings, "up").exit_code == 1
    assert {r.revision: r for r in ledger(settings)}["postgres_008"].completed_steps == 1
    again = cli(project_copy, settings, "repair", "resume", "postgres_008")  # still broken
    assert again.exit_code == 1 and "no_such_table" in again.output
    row = {r.revision: r for r in ledger(settings)}["postgres_008"]
    assert (row.status, row.completed_steps) == ("failed", 1)  # the skipped step still counts
    (folder / "files" / "indexes.sql").write_text(broken.replace("no_such_table", "procedural_memories"))
    assert cli(project_copy, settings, "repair", "resume", "postgres_008").exit_code == 0
    assert {r.revision: r.status for r in ledger(settings)}["postgres_008"] == "applied"


def test_a_downgrade_that_failed_part_way_blocks_up_and_names_its_own_choices(project_copy: Project,
                                                                               settings: Settings) -> None:
    down = project_copy.migrations_dir / "neo4j" / "001_graph_constraints.down.cql"
    down.write_text("DROP CONSTRAINT memory_id_unique IF EXISTS;\nDROP CONSTRAINT no_such_thing;\n")
    assert cli(project_copy, settings, "up").exit_code == 0
    assert cli(project_copy, settings, "down", "2").exit_code == 1  # chromadb_001 reverted, neo4j_001 half
    row = {r.revision: r for r in ledger(settings)}["neo4j_001"]
    assert (row.status, row.completed_steps) == ("failed", 0)
    refused = cli(project_copy, settings, "up")
    assert refused.exit_code == 1
    assert ("neo4j migration 001_graph_constraints.up.cql (neo4j_001) failed part way through its downgrade at "
            "step [cypher: DROP CONSTRAINT no_such_thing]: fix its down file and run `polyalembic down` again, or "
            "`polyalembic repair mark-applied neo4j_001` to keep it applied") in refused.output
    resume = cli(project_copy, settings, "repair", "resume", "neo4j_001")
    assert resume.exit_code == 1 and "neo4j_001's downgrade failed (the chain still counts it applied)" \
        in resume.output
    kept = cli(project_copy, settings, "repair", "mark-applied", "neo4j_001")
    assert kept.exit_code == 0 and "stays applied" in kept.output
    assert {r.revision: r.status for r in ledger(settings)}["neo4j_001"] == "applied"
    assert cli(project_copy, settings, "up").exit_code == 0  # chromadb_001 again; nothing blocks


MARKED = '''
from alembic import op
import sqlalchemy as sa
revision = "neo4j_{n:03d}"
down_revision = "{down}"
store = "neo4j"
def upgrade():
    # what the ledger says while this migration runs (the migrations' connection reads what is committed)
    rows = op.get_bind().execute(sa.text(
        "SELECT revision, status, completed_steps FROM schema_migrations "
        "WHERE revision IN ('neo4j_002', 'neo4j_003') ORDER BY revision")).all()
    seen = [f"{{r}}:{{s}}:{{c}}" for r, s, c in rows]
    op.run_cypher("CREATE (:Mark {{n: $n, seen: $seen}})", parameters={{"n": {n}, "seen": seen}})
def downgrade():
    op.run_cypher("MATCH (m:Mark {{n: {n}}}) DELETE m")
'''
REFUSE_AUDIT_OF_002 = """
CREATE FUNCTION refuse_002() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit refused for %', NEW.revision; END $$;
CREATE TRIGGER refuse_002 BEFORE INSERT ON schema_migrations_audit
FOR EACH ROW WHEN (NEW.revision = 'neo4j_002' AND NEW.action = 'upgrade') EXECUTE FUNCTION refuse_002();
"""


def marks(settings: Settings) -> list[tuple[int, list[str]]]:
    with store_connection(settings, "neo4j") as graph:
        records, _, _ = graph.driver.execute_query("MATCH (m:Mark) RETURN m.n AS n, m.seen AS seen ORDER BY n",
                                                   database_=graph.database)
    return [(r["n"], r["seen"]) for r in records]


@pytest.fixture
def two_marks(project_copy: Project, settings: Settings) -> Project:
    """The seed set applied, then two Cypher migrations that note what the ledger says as they run."""
    assert cli(project_copy, settings, "up").exit_code == 0
    add_revision(project_copy, "002_mark.py", MARKED.format(n=2, down="chromadb_001"), "neo4j")
    add_revision(project_copy, "003_mark.py", MARKED.format(n=3, down="neo4j_002"), "neo4j")
    return project_copy


def test_a_cypher_migration_runs_with_its_row_running_and_the_one_before_applied(two_marks: Project,
                                                                               settings: Settings) -> None:
    """The next migration's `running` row travels with the previous one's `applied` statement: a
    migration still starts with its own row committed as running, no step done."""
    result = cli(two_marks, settings, "up")
    assert result.exit_code == 0, result.output
    assert marks(settings) == [(2, ["neo4j_002:running:0"]), (3, ["neo4j_002:applied:None", "neo4j_003:running:0"])]
    rows = {r.revision: r for r in ledger(settings)}
    assert [(rows[r].status, rows[r].completed_steps) for r in ("neo4j_002", "neo4j_003")] == [("applied", None)] * 2
    assert [a for a, _ in audit(settings, "neo4j_003")] == ["upgrade"]


def test_a_refused_applied_write_takes_the_next_running_row_with_it(two_marks: Project, settings: Settings) -> None:
    """neo4j_002's statement committed in Neo4j, its ledger write was refused: its row stays running
    (the step recorded by its marker in Neo4j, which status reads), neo4j_003 (whose running row was
    in the refused statement) has no row, and a resume finishes both without repeating the step."""
    with psycopg.connect(libpq_dsn(settings.ledger_dsn), autocommit=True) as conn:
        conn.execute(REFUSE_AUDIT_OF_002)
    failed = cli(two_marks, settings, "up")
    assert failed.exit_code == 1 and "audit refused for neo4j_002" in failed.output, failed.output
    rows = {r.revision: r for r in ledger(settings)}
    assert (rows["neo4j_002"].status, rows["neo4j_002"].completed_steps) == ("running", 0)
    assert "neo4j_003" not in rows
    status = cli(two_marks, settings, "status")
    assert "neo4j_002: half done (0 step(s) completed; the store's markers say step(s) 1 committed too" \
        in status.output, status.output
    assert [n for n, _ in marks(settings)] == [2]
    with psycopg.connect(libpq_dsn(settings.ledger_dsn), autocommit=True) as conn:
        conn.execute("DROP TRIGGER refuse_002 ON schema_migrations_audit")
    refused = cli(two_marks, settings, "up")
    assert refused.exit_code == 1 and "neo4j_002" in refused.output and "interrupted while running" in refused.output
    resumed = cli(two_marks, settings, "repair", "resume", "neo4j_002")
    assert resumed.exit_code == 0, resumed.output
    assert "skipped (committed before the interruption, the store says): step 1" in resumed.output
    assert cli(two_marks, settings, "up").exit_code == 0
    assert [n for n, _ in marks(settings)] == [2, 3]  # Mark 2 was not written twice
    assert {r.revision: r.status for r in ledger(settings)}["neo4j_003"] == "applied"
    assert cli(two_marks, settings, "status", "--check").exit_code == 0
