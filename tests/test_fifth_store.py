"""A fifth store is a package of its own: the example in tests/store_package, installed in the
project environment, is found through its entry point when the chain names it (no registry line),
migrated in the same chain on a second real PostgreSQL database and recorded in the same ledger."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from polyalembic.project import Project
from polyalembic.settings import Settings
from tests.conftest import settings_env
from tests.scratch import create_database, drop_database
from tests.support import ledger

REVISION = '''"""Page views, in the analytics database."""
from polyalembic.pairs import migration_files

revision = "analytics_001"
down_revision = "chromadb_001"
store = "analytics"

upgrade, downgrade = migration_files(__file__)
'''


@pytest.fixture
def analytics(settings: Settings, admin_dsn: str) -> Iterator[Settings]:
    dsn = create_database(admin_dsn, prefix="pa_analytics")
    try:
        yield settings.replace(ANALYTICS_DSN=dsn)
    finally:
        drop_database(admin_dsn, dsn)


def with_analytics_revision(project_copy: Project, up: str, down: str) -> Path:
    """The seed's chain plus one analytics revision (a pair) after it; alembic.ini's path."""
    folder = project_copy.migrations_dir / "analytics"
    folder.mkdir()
    (folder / "001_page_views.py").write_text(REVISION)
    (folder / "001_page_views.up.sql").write_text(up)
    (folder / "001_page_views.down.sql").write_text(down)
    ini = project_copy.config_path
    ini.write_text(ini.read_text().replace("%(here)s/migrations/chromadb",
                                           "%(here)s/migrations/chromadb %(here)s/migrations/analytics"))
    return ini


def test_a_fifth_store_joins_the_chain_and_the_ledger(project_copy: Project, analytics: Settings) -> None:
    ini = with_analytics_revision(project_copy,
                                  "CREATE TABLE IF NOT EXISTS page_views (id BIGINT PRIMARY KEY, path TEXT);\n",
                                  "DROP TABLE IF EXISTS page_views;\n")
    project = Project(ini, settings=analytics)

    command.upgrade(project.config(), "head")
    rows = {r.revision: r for r in ledger(analytics)}
    assert (rows["analytics_001"].database_type, rows["analytics_001"].status) == ("analytics", "applied")
    engine = sa.create_engine(analytics.env["ANALYTICS_DSN"].replace("postgresql://", "postgresql+psycopg://"))
    with engine.connect() as conn:
        assert sa.inspect(conn).has_table("page_views")
    location = analytics.location("analytics")
    assert "/pa_analytics_" in location and ":***@" in location

    command.downgrade(project.config(), "-1")
    with engine.connect() as conn:
        assert not sa.inspect(conn).has_table("page_views")
    engine.dispose()
    assert "analytics_001" not in {r.revision for r in ledger(analytics)}


def test_a_packaged_store_s_variable_reaches_a_stock_alembic_run(project_copy: Project, analytics: Settings) -> None:
    """`alembic upgrade head` in a fresh process reads ANALYTICS_DSN from the environment, though
    the store is registered only when the chain names it (the settings are a live view); then
    `validate` takes its folder for a store's and `status --check` passes."""
    ini = with_analytics_revision(project_copy, "CREATE TABLE page_views (id BIGINT PRIMARY KEY);\n",
                                  "DROP TABLE page_views;\n")
    result = subprocess.run([sys.executable, "-m", "alembic", "-c", str(ini), "upgrade", "head"],
                            env=settings_env(analytics), capture_output=True, text=True, timeout=300, cwd=ini.parent)
    assert result.returncode == 0, result.stderr[-2000:]
    rows = {r.revision: r.status for r in ledger(analytics)}
    assert rows["analytics_001"] == "applied"
    for command_line in (["validate"], ["status", "--check"]):  # its folder is a store's, its row clean
        checked = subprocess.run([sys.executable, "-m", "polyalembic", "-c", str(ini), *command_line],
                                 env=settings_env(analytics), capture_output=True, text=True, timeout=120)
        assert checked.returncode == 0, checked.stdout[-1500:] + checked.stderr[-1500:]
