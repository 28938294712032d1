"""Starting with polyalembic: ``init`` for a new project, ``init --into`` for a plain Alembic
project (made by stock ``alembic init``, migrated by stock ``alembic upgrade``), then ``adopt
alembic`` where its database already is. What each step did is read back from PostgreSQL."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import psycopg
import sqlalchemy as sa

from polyalembic.project import Project
from polyalembic.settings import Settings
from polyalembic.stores.postgres.dsn import libpq_dsn
from tests.alembic_history import alembic_ini, write_history
from tests.conftest import settings_env
from tests.support import ledger
from tests.test_alembic_histories import heads, tables
from tests.test_recovery import cli

MODELS = "import sqlalchemy as sa\n\nmetadata = sa.MetaData()\n"


def stock_alembic(root: Path, settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "alembic", *args], cwd=root, env=settings_env(settings),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-3000:]
    return result


def plain_alembic_project(root: Path, settings: Settings, count: int) -> list[str]:
    """What a team has before polyalembic: `alembic init`, its url, its models, a long history
    (data migrations written the Alembic way: no downgrade, an empty one, one that raises)."""
    root.mkdir(parents=True, exist_ok=True)
    stock_alembic(root, settings, "init", "migrations")
    ini = root / "alembic.ini"
    url = settings.ledger_store.sqlalchemy_url(settings.ledger_dsn)
    ini.write_text(ini.read_text().replace("driver://user:pass@localhost/dbname", url.replace("%", "%%")))
    (root / "app").mkdir()
    (root / "app" / "__init__.py").write_text("")
    (root / "app" / "models.py").write_text(MODELS)
    env = root / "migrations" / "env.py"
    env.write_text(env.read_text().replace("target_metadata = None",
                                           "from app.models import metadata\ntarget_metadata = metadata"))
    history = write_history(root / "migrations" / "versions", count, alembic_style_irreversible=True)
    stock_alembic(root, settings, "upgrade", "head")
    return history.revisions


def test_init_makes_a_project_whose_first_migration_applies(tmp_path: Path, settings: Settings) -> None:
    root = tmp_path / "app"
    made = cli(Project(tmp_path / "none.ini", settings=settings), settings, "init", str(root),
               "--stores", "postgres,neo4j")
    assert made.exit_code == 0, made.output
    assert {p.name for p in (root / "migrations").iterdir()} >= {"env.py", "script.py.mako", "migrate.sh",
                                                                   "generate.sh", "postgres", "neo4j"}
    project = Project(root / "alembic.ini", settings=settings)
    assert cli(project, settings, "generate", "postgres", "accounts").exit_code == 0
    (root / "migrations" / "postgres" / "001_accounts.up.sql").write_text("CREATE TABLE t_accounts (id int);\n")
    (root / "migrations" / "postgres" / "001_accounts.down.sql").write_text("DROP TABLE t_accounts;\n")
    applied = cli(project, settings, "up")
    assert applied.exit_code == 0, applied.output
    assert tables(settings) == {"t_accounts"}
    assert cli(project, settings, "status", "--check").exit_code == 0
    again = cli(project, settings, "init", str(root))
    assert again.exit_code == 1 and "alembic.ini exists" in again.output and "init --into" in again.output


def test_init_into_a_plain_alembic_project_then_adopt_makes_status_true_at_once(tmp_path: Path,
                                                                                 settings: Settings) -> None:
    revisions = plain_alembic_project(tmp_path, settings, 300)
    project = Project(tmp_path / "alembic.ini", settings=settings)
    assert heads(settings) == [revisions[-1]] and len(tables(settings)) > 250

    rewired = cli(project, settings, "init", "--into", str(tmp_path))
    assert rewired.exit_code == 0, rewired.output
    assert "[polyalembic.folders] versions = postgres" in rewired.output
    assert "target_metadata = app.models:metadata" in rewired.output
    assert "adopt alembic" in rewired.output and "sqlalchemy.url is not read" in rewired.output
    assert (tmp_path / "migrations" / "env.py.alembic").read_text().count("target_metadata = metadata") == 1
    project = Project(tmp_path / "alembic.ini", settings=settings)

    before = cli(project, settings, "status", "--check")
    assert before.exit_code == 1 and "300 pending" in before.output  # the ledger knows nothing yet
    stamped = cli(project, settings, "stamp", "head")
    assert stamped.exit_code == 1 and "`polyalembic adopt alembic` records the history up to there" in stamped.output
    adopted = cli(project, settings, "adopt", "alembic")
    assert adopted.exit_code == 0, adopted.output
    assert f"adopted: 300 revision(s) up to {revisions[-1]}" in adopted.output
    assert f"baseline = {revisions[-1]}" in (tmp_path / "alembic.ini").read_text()
    rows = ledger(settings)
    assert len(rows) == 300 and {r.status for r in rows} == {"applied"}
    with psycopg.connect(libpq_dsn(settings.ledger_dsn)) as conn:
        assert conn.execute("SELECT count(*) FROM schema_migrations_audit WHERE action = 'adopt'").fetchone() == (300,)

    project = Project(tmp_path / "alembic.ini", settings=settings)
    assert cli(project, settings, "status", "--check").exit_code == 0
    checked = cli(project, settings, "validate")  # the history before the baseline keeps Alembic's rules
    assert checked.exit_code == 0, checked.output
    noop = cli(project, settings, "up")
    assert noop.exit_code == 0 and "Nothing to apply" in noop.output
    assert len(ledger(settings)) == 300

    head_table = f"t_{revisions[-1]}"
    assert cli(project, settings, "down", "1").exit_code == 0
    assert head_table not in tables(settings) and heads(settings) == [revisions[-2]]
    assert cli(project, settings, "up").exit_code == 0
    assert head_table in tables(settings) and heads(settings) == [revisions[-1]]
    again = cli(project, settings, "adopt", "alembic")
    assert again.exit_code == 0 and "adopted: 0 revision(s)" in again.output

    # new revisions continue the history in its folder, numbered from 001 (a hex id of digits is no number)
    stock_alembic(tmp_path, settings, "revision", "-m", "add notes")
    versions = tmp_path / "migrations" / "versions"
    assert f"down_revision = {revisions[-1]!r}" in (versions / "001_add_notes.py").read_text()
    assert cli(project, settings, "generate", "postgres", "more_notes").exit_code == 0
    assert "down_revision = 'postgres_001'" in (versions / "002_more_notes.py").read_text()


def test_adopt_on_a_database_at_base_changes_nothing(tmp_path: Path, settings: Settings) -> None:
    write_history(tmp_path / "migrations" / "versions", 5)
    project = Project(alembic_ini(tmp_path), settings=settings)
    refused = cli(project, settings, "adopt", "alembic")
    assert refused.exit_code == 1
    assert "holds no revision (the database is at base): nothing to adopt" in refused.output
    assert "baseline" not in (tmp_path / "alembic.ini").read_text().split("[polyalembic.folders]")[0]
    engine = sa.create_engine(settings.ledger_store.sqlalchemy_url(settings.ledger_dsn))
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM schema_migrations")).scalar() == 0
        conn.execute(sa.text("CREATE TABLE alembic_version (version_num varchar(32) PRIMARY KEY)"))
        conn.execute(sa.text("INSERT INTO alembic_version VALUES ('0ddba11'), ('5ca1ab1e')"))
        conn.commit()
    several = cli(project, settings, "adopt", "alembic")
    assert several.exit_code == 1 and "holds several heads (0ddba11, 5ca1ab1e)" in several.output
    with engine.connect() as conn:
        conn.execute(sa.text("DELETE FROM alembic_version WHERE version_num = '5ca1ab1e'"))
        conn.commit()
    unknown = cli(project, settings, "adopt", "alembic")
    assert unknown.exit_code == 1
    assert "is at '0ddba11', which no revision file of alembic.ini defines: point -c at the project" in unknown.output
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM schema_migrations")).scalar() == 0
    engine.dispose()
