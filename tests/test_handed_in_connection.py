"""A connection handed to Alembic in ``config.attributes["connection"]`` (how test suites and apps
run migrations on their own engine) serves the ledger, the lock and the SQL migrations; the
environment's databases are not touched (issue 9).

pytest-alembic, unmodified, runs its default tests (one head, upgrade, up/down consistency) on a
scratch database through its ``alembic_engine`` fixture, in a pytest of its own, while the
environment points POSTGRES_DSN at another database that must stay empty.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from polyalembic.settings import Settings
from polyalembic.stores.postgres.dsn import libpq_dsn, sqlalchemy_url
from tests.conftest import REPO, settings_env
from tests.scratch import create_database, drop_database, reset_stores

CONFTEST = '''
import os

import pytest
import sqlalchemy as sa


@pytest.fixture
def alembic_config():
    return {"file": os.environ["ALEMBIC_INI"]}


@pytest.fixture
def alembic_engine():
    engine = sa.create_engine(os.environ["SCRATCH_URL"])
    yield engine
    engine.dispose()
'''
PYTEST_INI = """[pytest]
pytest_alembic_include = single_head_revision, upgrade, up_down_consistency
pytest_alembic_tests_path = conftest.py
"""


def tables(dsn: str) -> set[str]:
    with psycopg.connect(libpq_dsn(dsn)) as conn:
        return {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


@pytest.fixture
def two_databases(admin_dsn: str, base_settings: Settings) -> Iterator[tuple[str, str]]:
    """(the environment's database, the scratch database handed to Alembic)."""
    reset_stores(base_settings)
    environment = create_database(admin_dsn, prefix="pa_env", extensions=("timescaledb",))
    scratch = create_database(admin_dsn, prefix="pa_scratch", extensions=("timescaledb",))
    yield environment, scratch
    for dsn in (environment, scratch):
        drop_database(admin_dsn, dsn)
    reset_stores(base_settings)


def test_pytest_alembic_migrates_only_the_database_it_hands_in(two_databases: tuple[str, str],
                                                               base_settings: Settings, tmp_path: Path) -> None:
    environment, scratch = two_databases
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "conftest.py").write_text(CONFTEST)
    (suite / "pytest.ini").write_text(PYTEST_INI)
    env = settings_env(base_settings.replace(TIMESCALE_DSN=environment, POSTGRES_DSN=environment))
    env |= {"ALEMBIC_INI": str(REPO / "alembic.ini"), "SCRATCH_URL": sqlalchemy_url(scratch)}
    result = subprocess.run([sys.executable, "-m", "pytest", "--test-alembic", "-p", "no:cacheprovider", "-q"],
                            cwd=suite, env=env, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "3 passed" in result.stdout, result.stdout[-2000:]

    assert tables(environment) == set()  # no ledger, no lock table, no migration ran there
    assert {"schema_migrations", "schema_migrations_audit", "alembic_version"} <= tables(scratch)
    with psycopg.connect(libpq_dsn(scratch)) as conn:
        upgrades = conn.execute("SELECT count(*) FROM schema_migrations_audit WHERE action = 'upgrade'").fetchone()[0]
        hypertable_runs = conn.execute("SELECT count(*) FROM schema_migrations_audit WHERE action = 'upgrade' "
                                       "AND database_type = 'timescaledb'").fetchone()[0]
    assert upgrades >= 12 and hypertable_runs >= 3  # both SQL stores ran on the handed-in database
