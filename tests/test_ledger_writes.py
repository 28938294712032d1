"""How the ledger is written and read (issue 11): a migration's row and its audit row are one
statement in the migration's transaction; reading commands never import Alembic. Against the real
stack."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import sqlalchemy as sa
from alembic import command
from alembic.config import Config

from polyalembic.ledger.writes import PREPARED_APPLIED
from polyalembic.project import Project
from polyalembic.request import KEY, RunRequest
from polyalembic.settings import Settings
from polyalembic.stores.postgres.dsn import libpq_dsn, sqlalchemy_url
from tests.conftest import settings_env
from tests.support import ledger

FAIL_AUDIT_OF_003 = """
CREATE FUNCTION refuse_003() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit refused for %', NEW.revision; END $$;
CREATE TRIGGER refuse_003 BEFORE INSERT ON schema_migrations_audit
FOR EACH ROW WHEN (NEW.revision = 'postgres_003') EXECUTE FUNCTION refuse_003();
"""


#: what the client sent when each audit row was written (``current_query()``: the whole batch)
SENT_WITH = """
CREATE TABLE audit_sent_with (revision text, query text);
CREATE FUNCTION audit_sent_with() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO audit_sent_with VALUES (NEW.revision, current_query()); RETURN NEW; END $$;
CREATE TRIGGER audit_sent_with AFTER INSERT ON schema_migrations_audit
FOR EACH ROW EXECUTE FUNCTION audit_sent_with();
"""


def _cli(project: Project, settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "polyalembic", "-c", str(project.config_path), *args],
                          env=settings_env(settings), capture_output=True, text=True, timeout=300)


def _sql(settings: Settings, query: str) -> list[tuple]:
    with psycopg.connect(libpq_dsn(settings.database_url("postgres")), autocommit=True) as conn:
        cursor = conn.execute(query)
        return cursor.fetchall() if cursor.description else []


def test_a_refused_ledger_write_takes_its_migration_with_it(project_copy: Project,
                                                                     settings: Settings) -> None:
    assert _cli(project_copy, settings, "up", "--to", "postgres_001").returncode == 0
    _sql(settings, FAIL_AUDIT_OF_003)
    result = _cli(project_copy, settings, "up")
    assert result.returncode == 1
    assert "audit refused for postgres_003" in result.stderr
    assert [(r.revision, r.status) for r in ledger(settings)] == [("postgres_001", "applied"),
                                                                  ("postgres_002", "applied")]
    assert _sql(settings, "SELECT version_num FROM alembic_version") == [("postgres_002",)]
    assert _sql(settings, "SELECT to_regclass('semantic_memories')") == [(None,)]  # 003's change rolled back
    _sql(settings, "DROP TRIGGER refuse_003 ON schema_migrations_audit")
    again = _cli(project_copy, settings, "up")
    assert again.returncode == 0, again.stderr
    assert len([r for r in ledger(settings) if r.status == "applied"]) == 12
    audit = _sql(settings, "SELECT revision, action FROM schema_migrations_audit ORDER BY id")
    assert [a for a in audit if a[0] == "postgres_003"] == [("postgres_003", "upgrade")]


def test_status_and_a_no_op_up_read_without_alembic(project: Project, settings: Settings) -> None:
    assert _cli(project, settings, "up", "--to", "postgres_002").returncode == 0
    code = ("import sys\nfrom polyalembic.cli import main\n"
            "for argv in (['status'], ['up', '--to', 'postgres_002']):\n"
            "    try:\n        main(['-c', sys.argv[1], *argv], standalone_mode=False)\n"
            "    except SystemExit:\n        pass\n"
            "print('alembic' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code, str(project.config_path)], env=settings_env(settings),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "002_skill_progressions.up.sql      applied" in result.stdout
    assert "Nothing to apply" in result.stdout
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_a_pair_file_carries_its_ledger_row(project_copy: Project, settings: Settings) -> None:
    """A pair file sent as one batch brings its applied row and audit row in the same round trip:
    the server measures execution_ms, a trailing comment without a newline does not swallow the
    row, and whoever ran it is written back exactly (quotes, backslashes, any letters)."""
    folder = project_copy.migrations_dir / "postgres"
    assert _cli(project_copy, settings, "generate", "postgres", "slow").returncode == 0
    (folder / "008_slow.up.sql").write_text("SELECT pg_sleep(0.3);\nCREATE TABLE slow_one (id int);\n-- done")
    assert _cli(project_copy, settings, "up", "--to", "postgres_007").returncode == 0
    _sql(settings, SENT_WITH)
    env = settings_env(settings) | {"LOGNAME": "o'brien\\ça"}
    result = subprocess.run([sys.executable, "-m", "polyalembic", "-c", str(project_copy.config_path), "up"],
                            env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    (row,) = [r for r in ledger(settings) if r.revision == "postgres_008"]
    assert row.status == "applied" and row.execution_ms is not None and 300 <= row.execution_ms < 5000
    assert row.applied_by.startswith("o'brien\\ça@")
    audit = _sql(settings, "SELECT action, execution_ms, by FROM schema_migrations_audit "
                           "WHERE revision = 'postgres_008'")
    assert audit == [("upgrade", row.execution_ms, row.applied_by)]
    assert _sql(settings, "SELECT to_regclass('slow_one') IS NOT NULL") == [(True,)]
    (sent_with,) = _sql(settings, "SELECT query FROM audit_sent_with WHERE revision = 'postgres_008'")
    assert "pg_sleep(0.3)" in sent_with[0]  # the audit row came in the migration's own round trip
    assert f"EXECUTE {PREPARED_APPLIED}(" in sent_with[0]  # prepared once per run, not parsed per migration


def test_a_pair_file_that_deallocates_prepared_statements_keeps_the_ledger_right(project_copy: Project,
                                                                                  settings: Settings) -> None:
    """A file may drop the session's prepared statements: its row and every later one are then
    written as whole statements, and nothing is lost."""
    folder = project_copy.migrations_dir / "postgres"
    for name, sql in (("drop_prepared", "DEALLOCATE ALL;\nCREATE TABLE after_deallocate (id int);\n"),
                      ("next_one", "CREATE TABLE next_one (id int);\n")):
        assert _cli(project_copy, settings, "generate", "postgres", name).returncode == 0
        (up,) = folder.glob(f"*_{name}.up.sql")
        up.write_text(sql)
    assert _cli(project_copy, settings, "up", "--to", "postgres_007").returncode == 0
    _sql(settings, SENT_WITH)
    result = _cli(project_copy, settings, "up")
    assert result.returncode == 0, result.stderr
    rows = {r.revision: r.status for r in ledger(settings)}
    assert rows["postgres_008"] == rows["postgres_009"] == "applied"
    sent = dict(_sql(settings, "SELECT revision, query FROM audit_sent_with"))
    assert "DEALLOCATE ALL" in sent["postgres_008"] and "EXECUTE" not in sent["postgres_008"]
    assert "next_one" in sent["postgres_009"] and "EXECUTE" not in sent["postgres_009"]
    assert _sql(settings, "SELECT revision, action FROM schema_migrations_audit WHERE revision IN "
                          "('postgres_008', 'postgres_009') ORDER BY id") == \
        [("postgres_008", "upgrade"), ("postgres_009", "upgrade")]


def test_a_handed_in_session_gets_no_prepared_statement(project_copy: Project, settings: Settings) -> None:
    """A caller's connection (an app's, a test suite's) is theirs: its rows are written as whole
    statements and the session has no statement of polyalembic's prepared afterwards."""
    config = Config(str(project_copy.config_path))
    config.attributes[KEY] = RunRequest(settings=settings)
    engine = sa.create_engine(sqlalchemy_url(settings.database_url("postgres")))
    try:
        with engine.connect() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "postgres_002")
            connection.commit()
            prepared = connection.exec_driver_sql("SELECT name FROM pg_prepared_statements "
                                                  f"WHERE name = '{PREPARED_APPLIED}'").all()
    finally:
        engine.dispose()
    assert prepared == []
    assert [(r.revision, r.status) for r in ledger(settings)] == [("postgres_001", "applied"),
                                                                  ("postgres_002", "applied")]


def test_a_failing_pair_file_leaves_no_applied_row(project_copy: Project, settings: Settings) -> None:
    folder = project_copy.migrations_dir / "postgres"
    assert _cli(project_copy, settings, "generate", "postgres", "broken").returncode == 0
    (folder / "008_broken.up.sql").write_text("CREATE TABLE half_done (id int);\nSELECT no_such_function();\n")
    result = _cli(project_copy, settings, "up")
    assert result.returncode == 1
    assert "008_broken.up.sql" in result.stderr and "no_such_function" in result.stderr
    (row,) = [r for r in ledger(settings) if r.revision == "postgres_008"]
    assert row.status == "failed" and row.completed_steps is None
    assert _sql(settings, "SELECT action FROM schema_migrations_audit WHERE revision = 'postgres_008'") == \
        [("failed",)]
    assert _sql(settings, "SELECT to_regclass('half_done')") == [(None,)]
