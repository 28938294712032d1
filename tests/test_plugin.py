"""The pytest plugin, proved on a project of its own (tests/plugin_project: four stores, pair and
Python revisions, data tests), run by pytest in a subprocess the way a user's CI runs it, on this
stack's servers passed in through ``POLYALEMBIC_TEST_*``."""

from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

from polyalembic.settings import Settings
from polyalembic.stores.postgres.databases import create_database, drop_database
from polyalembic.stores.postgres.dsn import libpq_dsn, sqlalchemy_url
from polyalembic.testing.disposable import disposable_stores
from tests.conftest import REPO, plugin_test_env

PROJECT = REPO / "tests" / "plugin_project"
READY_TESTS = ("test_single_head_revision", "test_upgrade_base_to_head", "test_up_down_up_every_revision",
               "test_downgrade_to_base_leaves_stores_empty", "test_ledger_agrees_after_upgrade",
               "test_sql_render_offline")

pytestmark = pytest.mark.slow


def run_pytest(folder: Path, settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-rA", *args],
                            cwd=folder, env=plugin_test_env(settings), capture_output=True, text=True, timeout=300)
    leaked = [s for s in settings.secrets() if s in result.stdout + result.stderr]
    assert not leaked, "a test server's password appears in the plugin project's output"
    return result


def outcomes(stdout: str) -> dict[str, str]:
    """test name -> PASSED/FAILED/ERROR, from ``-rA``'s short summary."""
    found = {}
    for line in stdout.splitlines():
        word, _, rest = line.partition(" ")
        if word in ("PASSED", "FAILED", "ERROR"):
            found[rest.split("::")[-1].split(" ")[0]] = word
    return found


def _switch() -> tuple[str, ...]:
    """Installed (make install), the pytest11 entry point loads the switch itself; from a checkout
    on PYTHONPATH only, ``-p`` does what the entry point would."""
    from importlib.metadata import entry_points

    installed = any(ep.value.startswith("polyalembic") for ep in entry_points(group="pytest11"))
    return () if installed else ("-p", "polyalembic.testing.switch")


def copy_project(tmp_path: Path) -> Path:
    folder = tmp_path / "project"
    shutil.copytree(PROJECT, folder, ignore=shutil.ignore_patterns("__pycache__"))
    return folder


def test_the_plugin_project_passes(base_settings: Settings) -> None:
    result = run_pytest(PROJECT, base_settings)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    results = outcomes(result.stdout)
    assert {name: results.get(name) for name in READY_TESTS} == dict.fromkeys(READY_TESTS, "PASSED")
    assert sum(1 for name, outcome in results.items() if "backfills" in name and outcome == "PASSED") == 3
    assert results.get("test_timescaledb_readings_keep_their_chunks_and_get_a_unit") == "PASSED"
    assert "polyalembic: timescaledb test server postgresql://" in result.stdout  # the header, masked


def test_a_downgrade_that_leaves_a_constraint_fails_the_right_ready_tests(base_settings: Settings,
                                                                          tmp_path: Path) -> None:
    """Enabled by the ini switch (the entry point's way) instead of conftest.py's pytest_plugins."""
    folder = copy_project(tmp_path)
    (folder / "conftest.py").unlink()
    (folder / "pytest.ini").write_text("[pytest]\npolyalembic = true\n")
    (folder / "migrations" / "neo4j" / "001_people.down.cql").write_text(
        "DROP CONSTRAINT person_email_unique_misspelt IF EXISTS;\n")
    result = run_pytest(folder, base_settings, *_switch(), "-k", " or ".join(READY_TESTS))
    results = outcomes(result.stdout)
    assert results == {**dict.fromkeys(READY_TESTS, "PASSED"), "test_up_down_up_every_revision": "FAILED",
                       "test_downgrade_to_base_leaves_stores_empty": "FAILED"}, result.stdout[-4000:]
    assert ("downgrading 001_people.up.cql (neo4j_001) does not restore the schema from before its upgrade: "
            "+neo4j.constraints.person_email_unique") in result.stdout
    assert "downgrading to base leaves objects in neo4j: +neo4j.constraints.person_email_unique" in result.stdout


def test_a_migration_that_renders_nothing_fails_the_sql_render_test(base_settings: Settings, tmp_path: Path) -> None:
    """Alembic's `-- Running upgrade` header and the ledger's rows are there for any migration: a
    revision whose upgrade does its work out of sight of ``--sql`` (no op) must fail the review test."""
    folder = copy_project(tmp_path)
    (folder / "migrations" / "chromadb" / "003_silent.py").write_text(
        '"""Works without ops: --sql shows nothing of it."""\n'
        'revision = "chromadb_003"\ndown_revision = "chromadb_002"\nstore = "chromadb"\n\n\n'
        'def upgrade() -> None:\n    print("done by hand")\n\n\n'
        'def downgrade() -> None:\n    print("undone by hand")\n')
    result = run_pytest(folder, base_settings, "-k", "sql_render_offline")
    assert outcomes(result.stdout) == {"test_sql_render_offline": "FAILED"}, result.stdout[-4000:]
    assert "003_silent.py (chromadb_003) renders nothing of its own in the --sql upgrade" in result.stdout


def test_the_plugin_is_off_until_enabled(base_settings: Settings, tmp_path: Path) -> None:
    folder = copy_project(tmp_path)
    (folder / "conftest.py").unlink()
    result = run_pytest(folder, base_settings, *_switch(), "-k", "single_head")
    assert result.returncode != 0
    assert "fixture 'polyalembic_migrator' not found" in result.stdout, result.stdout[-3000:]


@pytest.fixture
def owned_database(admin_dsn: str) -> Iterator[str]:
    """A database with the timescaledb extension, owned by a role that may not CREATE DATABASE."""
    role = f"pa_nocreatedb_{secrets.token_hex(3)}"
    with psycopg.connect(libpq_dsn(admin_dsn), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN NOCREATEDB PASSWORD 'secret-pw'")
    dsn = create_database(admin_dsn, prefix="pa_owned", extensions=("timescaledb",))
    with psycopg.connect(libpq_dsn(admin_dsn), autocommit=True) as conn:
        conn.execute(f'ALTER DATABASE "{dsn.rsplit("/", 1)[1]}" OWNER TO {role}')
    with psycopg.connect(libpq_dsn(dsn), autocommit=True) as conn:
        conn.execute(f"ALTER SCHEMA public OWNER TO {role}")
    url = make_url(sqlalchemy_url(dsn)).set(username=role, password="secret-pw")
    yield url.render_as_string(hide_password=False).replace("postgresql+psycopg://", "postgresql://")
    drop_database(admin_dsn, dsn)
    with psycopg.connect(libpq_dsn(admin_dsn), autocommit=True) as conn:
        conn.execute(f"DROP ROLE {role}")


def test_without_createdb_the_given_database_is_emptied_instead(owned_database: str) -> None:
    with psycopg.connect(libpq_dsn(owned_database), autocommit=True) as conn:
        conn.execute("CREATE TABLE leftover (id int); CREATE TABLE schema_migrations (revision text)")
    settings = Settings({"TIMESCALE_DSN": owned_database})
    with disposable_stores(settings, {"postgres", "timescaledb"}) as fresh:
        assert fresh == settings  # no new database: the role may not create one
        with psycopg.connect(libpq_dsn(owned_database)) as conn:
            left = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'").fetchall()
    assert left == []  # the user's objects and the ledger are gone
