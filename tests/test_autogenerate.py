"""`alembic revision` and `alembic check` on the real stack (issue 13, item 3): stock `alembic`
commands as subprocesses, the files they write, `polyalembic validate` on them, `alembic upgrade
head` applying them to the real databases, and autogenerate comparing each SQL store with its
own database (TimescaleDB's chunks, compressed chunks, aggregates and default indexes never a
difference); `alembic history` and `alembic merge`, for which `revision_environment = true` runs
env.py too, read the files only."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from polyalembic.commands.generate import generate
from polyalembic.project import Project
from polyalembic.settings import Settings
from polyalembic.stores.postgres.dsn import sqlalchemy_url
from tests.conftest import settings_env
from tests.support import add_revision, ledger, snapshot

MODELS = '''
import sqlalchemy as sa

metadata = sa.MetaData()  # the postgres store's
accounts = sa.Table(
    "accounts", metadata,
    sa.Column("id", sa.BigInteger(), primary_key=True),
    sa.Column("email", sa.Text(), nullable=False, unique=True),
    {extra_column}
)

series = sa.MetaData()  # the timescaledb store's
metrics = sa.Table(
    "metrics", series,
    sa.Column("time", sa.TIMESTAMP(timezone=True), nullable=False),
    sa.Column("device", sa.Text(), nullable=False),
    sa.Column("value", sa.Float(precision=53)),
    sa.Index("ix_metrics_device", "device"),
)
readings = sa.Table(
    "readings", series,
    sa.Column("time", sa.TIMESTAMP(timezone=True), nullable=False),
    sa.Column("device", sa.Text(), nullable=False),
)

everything = sa.MetaData()  # both stores' tables in one MetaData
for table in (accounts, metrics, readings):
    table.to_metadata(everything)
'''
PER_STORE = "target_metadata = models:metadata\ntarget_metadata.timescaledb = models:series"


def alembic(project: Project, settings: Settings, *args: str, python: str = sys.executable,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([python, "-m", "alembic", "-c", str(project.config_path), *args],
                            env=env or settings_env(settings), cwd=project.root, capture_output=True, text=True,
                            timeout=300)
    print(result.stdout, result.stderr)  # for the session-wide secret scan
    return result


def validate(project: Project, settings: Settings) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "polyalembic", "-c", str(project.config_path), "validate"],
                          env=settings_env(settings), cwd=project.root, capture_output=True, text=True, timeout=120)


def failure(result: subprocess.CompletedProcess[str]) -> str:
    """The one error line the alembic CLI logs (`ERROR [alembic.util.messaging] ...`)."""
    lines = [line for line in result.stderr.splitlines() if line.startswith("ERROR [alembic.util.messaging]")]
    assert result.returncode == 255 and len(lines) == 1, result.stdout + result.stderr
    return lines[0]


def write_models(project: Project, extra_column: str = "", text: str | None = None) -> None:
    (project.root / "models.py").write_text(text or MODELS.format(extra_column=extra_column))
    shutil.rmtree(project.root / "__pycache__", ignore_errors=True)


def models_project(project: Project, metadata: str = PER_STORE) -> Project:
    """``project`` with models.py and alembic.ini's ``[polyalembic] target_metadata`` naming it."""
    write_models(project)
    ini = project.config_path
    ini.write_text(ini.read_text().replace("# target_metadata = app.models:metadata", metadata))
    return project


def tables(settings: Settings, store: str) -> set[str]:
    engine = sa.create_engine(sqlalchemy_url(settings.database_url(store)))
    try:
        with engine.connect() as connection:
            return set(sa.inspect(connection).get_table_names())
    finally:
        engine.dispose()


def revision_of(path: Path) -> tuple[str, str | None]:
    """(revision, down_revision) as the file writes them."""
    text = path.read_text()
    return tuple(ast.literal_eval(re.search(rf"(?m)^{name} = (.+)$", text)[1])  # type: ignore[return-value,index]
                 for name in ("revision", "down_revision"))


# --- plain `alembic revision` ----------------------------------------------------------------------------

def test_plain_revision_writes_what_generate_writes_and_upgrade_applies_it(project_copy: Project, settings: Settings,
                                                                          tmp_path: Path) -> None:
    twin = tmp_path / "twin"  # the same project, where `polyalembic generate` writes the same migrations
    shutil.copytree(project_copy.migrations_dir, twin / "migrations", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(project_copy.config_path, twin / "alembic.ini")
    twin_project = Project(twin / "alembic.ini", settings=settings)
    expected = [("postgres", "Add user preferences", "008_add_user_preferences", "postgres_008", "chromadb_001"),
                ("timescaledb", "add metrics", "004_add_metrics", "timescaledb_004", "postgres_008"),
                ("neo4j", "add people", "002_add_people", "neo4j_002", "timescaledb_004"),
                ("chromadb", "add docs", "002_add_docs", "chromadb_002", "neo4j_002")]
    for store, message, stem, revision, down_revision in expected:
        result = alembic(project_copy, settings, "revision", "-m", message, "--version-path", f"migrations/{store}")
        assert result.returncode == 0, result.stderr
        written = sorted(p.name for p in (project_copy.migrations_dir / store).glob(f"{stem}*"))
        generated = generate(twin_project, store, stem.split("_", 1)[1])
        assert written == sorted(p.name for p in generated)
        for path in generated:
            assert (project_copy.migrations_dir / store / path.name).read_text() == path.read_text(), path.name
        assert revision_of(project_copy.migrations_dir / store / f"{stem}.py") == (revision, down_revision)
        assert all(f"Generating {project_copy.migrations_dir / store / name}" in result.stdout for name in written)
    assert [(m.revision, m.store) for m in project_copy.chain()][-4:] == [(e[3], e[0]) for e in expected]
    assert validate(project_copy, settings).returncode == 0

    result = alembic(project_copy, settings, "upgrade", "head")
    assert result.returncode == 0, result.stderr
    state = snapshot(settings)
    assert state["postgres"]["objects"]["add_user_preferences"] == "table"
    assert "add_metrics" in state["timescaledb"]["hypertables"]
    assert "add_people_id_unique" in state["neo4j"]["constraints"]
    assert "add_docs" in state["chromadb"]["collections"]
    assert {(r.revision, r.status) for r in ledger(settings)} >= {(e[3], "applied") for e in expected}


def test_plain_revision_without_a_store_asks_for_one_and_writes_nothing(project_copy: Project,
                                                                       settings: Settings) -> None:
    before = sorted(project_copy.migrations_dir.rglob("*.py"))
    line = failure(alembic(project_copy, settings, "revision", "-m", "add x"))
    assert "say which store the revision is for: --version-path migrations/<store>" in line
    line = failure(alembic(project_copy, settings, "revision", "-m", "add x", "--version-path", "migrations/postgres",
                           "--rev-id", "abc123"))
    assert "--rev-id can't be used" in line
    assert sorted(project_copy.migrations_dir.rglob("*.py")) == before


# --- alembic history and merge: env.py runs, the database is left alone ----------------------------------

NOWHERE = "postgresql://nobody@127.0.0.1:1/nothing"  # no server listens on port 1

BRANCH = """
from alembic import op

revision = "postgres_008"
down_revision = "postgres_007"
store = "postgres"


def upgrade() -> None:
    op.execute("SELECT 1")


def downgrade() -> None:
    op.execute("SELECT 1")
"""


def test_history_and_merge_read_the_files_only(project_copy: Project, settings: Settings) -> None:
    nowhere = settings.replace(POSTGRES_DSN=NOWHERE, TIMESCALE_DSN=NOWHERE)
    result = alembic(project_copy, nowhere, "history")
    assert result.returncode == 0, result.stderr
    listed = result.stdout.splitlines()
    assert listed[0].startswith("neo4j_001 -> chromadb_001 (head), ")
    assert listed[-1].startswith("<base> -> postgres_001, ")
    assert len(listed) == len(project_copy.chain())

    assert alembic(project_copy, settings, "history", "--verbose").returncode == 0  # a reachable, empty database
    add_revision(project_copy, "008_branch.py", BRANCH, "postgres")  # a second head, as a branch brings
    result = alembic(project_copy, nowhere, "merge", "-m", "join", "heads")
    assert result.returncode == 0, result.stderr
    merged = list((project_copy.migrations_dir / "postgres").glob("*_join.py"))
    assert len(merged) == 1 and set(revision_of(merged[0])[1]) == {"chromadb_001", "postgres_008"}  # type: ignore[arg-type]
    assert alembic(project_copy, settings, "merge", "-m", "join again", "heads").returncode == 0
    assert tables(settings, "postgres") == set(), "no ledger, no alembic_version: nothing written"
    # the second one has a single parent and an empty upgrade: polyalembic refuses it in one line
    again = next(p for p in (project_copy.migrations_dir / "postgres").glob("*_join_again.py"))
    line = failure(alembic(project_copy, settings, "upgrade", "heads"))
    assert f"nothing was applied: migrations/postgres/{again.name}: upgrade() is empty: write it" in line, line
    again.unlink()
    # the merge revision itself runs like any other: the ledger shows it
    assert alembic(project_copy, settings, "upgrade", "heads").returncode == 0
    rows = {r.revision: r.status for r in ledger(settings)}
    assert rows[revision_of(merged[0])[0]] == "applied" and rows["postgres_008"] == "applied"  # type: ignore[index]


def test_history_indicate_current_reads_the_current_revision_without_the_lock(project_copy: Project,
                                                                            settings: Settings) -> None:
    result = alembic(project_copy, settings, "history", "-i")
    assert result.returncode == 0, result.stderr
    assert "(current)" not in result.stdout
    assert tables(settings, "postgres") == set(), "read, not created"

    assert alembic(project_copy, settings, "upgrade", "postgres_002").returncode == 0
    result = alembic(project_copy, settings, "history", "--indicate-current")
    assert result.returncode == 0, result.stderr
    assert [line.split(",")[0] for line in result.stdout.splitlines() if "(current)" in line] == [
        "postgres_001 -> postgres_002 (current)"]
    result = alembic(project_copy, settings, "history", "-r", "current:")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].startswith("postgres_001 -> postgres_002, ")  # the range starts there

    line = failure(alembic(project_copy, settings.replace(POSTGRES_DSN=NOWHERE, TIMESCALE_DSN=NOWHERE),
                           "history", "-i"))
    assert "postgres: cannot connect to postgresql://nobody@127.0.0.1:1/nothing" in line
    assert line.endswith("in POSTGRES_DSN")


# --- autogenerate and check ------------------------------------------------------------------------------

def test_autogenerate_writes_one_revision_per_store_that_differs_and_check_agrees(ops_project: Project,
                                                                                   settings: Settings) -> None:
    project = models_project(ops_project)
    line = failure(alembic(project, settings, "check"))
    assert "New upgrade operations detected: postgres: [('add_table', Table('accounts'" in line
    assert "; timescaledb: [('add_table', Table('metrics'" in line and "Table('readings'" in line

    result = alembic(project, settings, "revision", "--autogenerate", "-m", "Initial schema")
    assert result.returncode == 0, result.stderr
    postgres_file = project.migrations_dir / "postgres" / "001_initial_schema.py"
    timescale_file = project.migrations_dir / "timescaledb" / "001_initial_schema.py"
    assert sorted(project.migrations_dir.rglob("[0-9]*.py")) == sorted([postgres_file, timescale_file])
    assert revision_of(postgres_file) == ("postgres_001", None)
    assert revision_of(timescale_file) == ("timescaledb_001", "postgres_001")
    assert "op.create_table('accounts'" in postgres_file.read_text()
    assert "metrics" not in postgres_file.read_text() and "accounts" not in timescale_file.read_text()
    assert "op.create_table('metrics'" in timescale_file.read_text()
    assert [(m.revision, m.store) for m in project.chain()] == [("postgres_001", "postgres"),
                                                              ("timescaledb_001", "timescaledb")]
    assert validate(project, settings).returncode == 0

    assert alembic(project, settings, "upgrade", "head").returncode == 0
    assert "accounts" in tables(settings, "postgres") and "metrics" not in tables(settings, "postgres")
    assert {"metrics", "readings"} <= tables(settings, "timescaledb")
    assert "accounts" not in tables(settings, "timescaledb")
    result = alembic(project, settings, "check")
    assert result.returncode == 0 and "No new upgrade operations detected." in result.stdout, result.stderr

    write_models(project, extra_column='sa.Column("domain", sa.Text()),')
    line = failure(alembic(project, settings, "check"))
    assert "postgres: [('add_column', None, 'accounts', Column('domain', Text()" in line
    assert "timescaledb:" not in line
    result = alembic(project, settings, "revision", "--autogenerate", "-m", "add domain")
    assert result.returncode == 0, result.stderr
    new = project.migrations_dir / "postgres" / "002_add_domain.py"
    assert revision_of(new) == ("postgres_002", "timescaledb_001")
    assert "op.add_column('accounts', sa.Column('domain', sa.Text(), nullable=True))" in new.read_text()
    assert not list((project.migrations_dir / "timescaledb").glob("002_*"))
    assert alembic(project, settings, "upgrade", "head").returncode == 0
    assert alembic(project, settings, "check").returncode == 0

    result = alembic(project, settings, "revision", "--autogenerate", "-m", "nothing")
    assert result.returncode == 0 and "No differences" in result.stdout
    assert not list(project.migrations_dir.rglob("*nothing*"))


def test_autogenerate_and_check_need_the_database_at_head(ops_project: Project, settings: Settings) -> None:
    project = models_project(ops_project)
    assert alembic(project, settings, "revision", "--autogenerate", "-m", "initial").returncode == 0
    line = failure(alembic(project, settings, "check"))
    assert "Target database is not up to date." in line


HYPERTABLES = '''
import sqlalchemy as sa
from alembic import op

revision = "timescaledb_001"
down_revision = "postgres_001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("metrics", "readings"):
        op.create_table(table, sa.Column("time", sa.TIMESTAMP(timezone=True), nullable=False),
                        sa.Column("device", sa.Text(), nullable=False),
                        *([sa.Column("value", sa.Float(precision=53))] if table == "metrics" else []))
    op.create_index("ix_metrics_device", "metrics", ["device"])
    op.create_hypertable("metrics", "time", "1 day")
    op.execute("SELECT create_hypertable('readings', 'time', 'device', 2)")  # with a space dimension
    op.execute("INSERT INTO metrics SELECT t, 'd' || (i % 3), i FROM generate_series("
               "now() - interval '10 days', now(), interval '1 hour') WITH ORDINALITY AS g(t, i)")
    op.execute("INSERT INTO readings SELECT t, 'd' || (i % 3) FROM generate_series("
               "now() - interval '30 days', now(), interval '1 hour') WITH ORDINALITY AS g(t, i)")
    op.enable_compression("metrics", segmentby="device", orderby="time DESC")
    op.execute("SELECT compress_chunk(c) FROM show_chunks('metrics', older_than => interval '3 days') c")
    op.create_continuous_aggregate("metrics_hourly", "SELECT time_bucket('1 hour', time) AS bucket, device, "
                                   "avg(value) AS value FROM metrics GROUP BY 1, 2")


def downgrade() -> None:
    op.drop_continuous_aggregate("metrics_hourly")
    op.drop_table("readings")
    op.drop_table("metrics")
'''
ACCOUNTS = '''
import sqlalchemy as sa
from alembic import op

revision = "postgres_001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("accounts", sa.Column("id", sa.BigInteger(), primary_key=True),
                    sa.Column("email", sa.Text(), nullable=False, unique=True))


def downgrade() -> None:
    op.drop_table("accounts")
'''


def _hypertables_applied(project: Project, settings: Settings, metadata: str) -> Project:
    models_project(project, metadata)
    add_revision(project, "001_accounts.py", ACCOUNTS, "postgres")
    add_revision(project, "001_hypertables.py", HYPERTABLES, "timescaledb")
    result = alembic(project, settings, "upgrade", "head")
    assert result.returncode == 0, result.stderr
    return project


def _timescaledb_made_its_own_objects(settings: Settings) -> None:
    """What the check must not report is really there: chunks, compressed chunks, the aggregate's
    materialization and the indexes create_hypertable made (so the test can fail)."""
    engine = sa.create_engine(sqlalchemy_url(settings.database_url("timescaledb")))
    with engine.connect() as connection:
        chunks = dict(connection.execute(sa.text(
            "SELECT hypertable_name, count(*) FROM timescaledb_information.chunks GROUP BY 1")).all())
        compressed = connection.execute(sa.text(
            "SELECT count(*) FROM timescaledb_information.chunks WHERE is_compressed")).scalar()
        indexes = {r[0] for r in connection.execute(sa.text(
            "SELECT indexname FROM pg_indexes WHERE schemaname = 'public'"))}
        aggregates = connection.execute(sa.text(
            "SELECT count(*) FROM timescaledb_information.continuous_aggregates")).scalar()
    engine.dispose()
    assert chunks["metrics"] > 3 and chunks["readings"] > 3 and compressed > 0 and aggregates == 1
    assert {"metrics_time_idx", "readings_time_idx", "readings_device_time_idx"} <= indexes


def test_a_hypertable_with_its_chunks_is_no_difference(ops_project: Project, settings: Settings) -> None:
    project = _hypertables_applied(ops_project, settings, PER_STORE)
    _timescaledb_made_its_own_objects(settings)
    result = alembic(project, settings, "check")
    assert result.returncode == 0 and "No new upgrade operations detected." in result.stdout, result.stderr

    # a real difference on the hypertable is still one
    no_index = MODELS.format(extra_column="").replace('    sa.Index("ix_metrics_device", "device"),\n', "")
    write_models(project, text=no_index)
    line = failure(alembic(project, settings, "check"))
    assert "timescaledb: [('remove_index', Index('ix_metrics_device'" in line
    assert "metrics_time_idx" not in line and "postgres:" not in line


@pytest.mark.parametrize("metadata", [PER_STORE, "target_metadata = models:everything"],
                         ids=["one-metadata-per-store", "one-metadata-for-both"])
def test_one_database_for_both_stores_compares_each_table_once(ops_project: Project, settings: Settings,
                                                              metadata: str) -> None:
    shared = settings.replace(POSTGRES_DSN=settings.database_url("timescaledb"))
    project = _hypertables_applied(Project(ops_project.config_path, settings=shared), shared, metadata)
    assert {"accounts", "metrics", "schema_migrations"} <= tables(shared, "postgres")
    result = alembic(project, shared, "check")
    assert result.returncode == 0 and "No new upgrade operations detected." in result.stdout, result.stderr

    write_models(project, extra_column='sa.Column("domain", sa.Text()),')
    result = alembic(project, shared, "revision", "--autogenerate", "-m", "add domain")
    assert result.returncode == 0, result.stderr
    assert [p.name for p in project.migrations_dir.rglob("002_*.py")] == ["002_add_domain.py"]
    assert revision_of(project.migrations_dir / "postgres" / "002_add_domain.py") == ("postgres_002",
                                                                                     "timescaledb_001")


# --- the installed wheel ---------------------------------------------------------------------------------

@pytest.mark.slow
def test_the_installed_wheel_runs_alembic_check_on_a_sample_project(ops_project: Project, settings: Settings,
                                                                    tmp_path: Path) -> None:
    from tests.unit.test_wheel import installed_wheel

    python = installed_wheel(tmp_path / "wheel")
    project = models_project(ops_project)
    env = {k: v for k, v in settings_env(settings).items() if k != "PYTHONPATH"}  # the venv's polyalembic only
    venv = python.parent.parent
    imported = subprocess.run([python, "-c", "import polyalembic; print(polyalembic.__file__)"], env=env,
                              cwd=project.root, capture_output=True, text=True, check=True).stdout.strip()
    assert Path(imported).is_relative_to(venv), f"the venv imported {imported}, not its own copy"

    assert "Usage: polyalembic" in subprocess.run([venv / "bin" / "polyalembic", "--help"], env=env,
                                                  capture_output=True, text=True, check=True).stdout
    line = failure(alembic(project, settings, "check", python=python, env=env))
    assert "postgres: [('add_table', Table('accounts'" in line
    assert alembic(project, settings, "revision", "--autogenerate", "-m", "initial", python=python,
                   env=env).returncode == 0
    assert alembic(project, settings, "upgrade", "head", python=python, env=env).returncode == 0
    result = alembic(project, settings, "check", python=python, env=env)
    assert result.returncode == 0 and "No new upgrade operations detected." in result.stdout, result.stderr
