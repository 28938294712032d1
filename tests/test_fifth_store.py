"""Adding a store is one folder and one registry line: an "analytics" SQL store on a second real
PostgreSQL database, migrated in the same chain and recorded in the same ledger."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command

from polyalembic.project import Project
from polyalembic.settings import Settings
from tests.fifth_store import fifth_store
from tests.support import ledger

REVISION = '''"""Page views, in the analytics database."""
from polyalembic.pairs import migration_files

revision = "analytics_001"
down_revision = "chromadb_001"
store = "analytics"

upgrade, downgrade = migration_files(__file__)
'''


@pytest.fixture
def analytics(settings: Settings, admin_dsn: str, tmp_path: Path) -> Iterator[Settings]:
    with fifth_store(admin_dsn, tmp_path) as dsn:
        yield settings.replace(ANALYTICS_DSN=dsn)


def test_a_fifth_store_joins_the_chain_and_the_ledger(project_copy: Project, analytics: Settings) -> None:
    folder = project_copy.migrations_dir / "analytics"
    folder.mkdir()
    (folder / "001_page_views.py").write_text(REVISION)
    (folder / "001_page_views.up.sql").write_text(
        "CREATE TABLE IF NOT EXISTS page_views (id BIGINT PRIMARY KEY, path TEXT NOT NULL);\n")
    (folder / "001_page_views.down.sql").write_text("DROP TABLE IF EXISTS page_views;\n")
    ini = project_copy.config_path
    ini.write_text(ini.read_text().replace("%(here)s/migrations/chromadb",
                                           "%(here)s/migrations/chromadb %(here)s/migrations/analytics"))
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
