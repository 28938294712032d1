"""Adding a store is one folder and one registry line: an "analytics" SQL store on a second real
PostgreSQL database, migrated in the same chain and recorded in the same ledger."""

from __future__ import annotations

import sys
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from alembic import command

from polyalembic.project import Project
from polyalembic.settings import Settings, libpq_dsn
from polyalembic.stores import STORES, StoreSpec
from tests.support import ledger

# The whole store: a package whose connection module reads ANALYTICS_DSN; the rest is the
# PostgreSQL store's (a SQL store needs no ops of its own).
STORE_PACKAGE = {
    "__init__.py": '"""analytics: a second PostgreSQL database."""\n',
    "connection.py": 'from polyalembic.sql import connector\n\nconnect, close, describe = connector("analytics")\n',
    "ops.py": "from polyalembic.stores.postgres.ops import *  # noqa: F403\n",
    "impl.py": "from polyalembic.stores.postgres.impl import *  # noqa: F403\n",
    "introspect.py": "from polyalembic.stores.postgres.introspect import *  # noqa: F403\n",
    "reset.py": "from polyalembic.stores.postgres.reset import *  # noqa: F403\n",
}

REVISION = '''"""Page views, in the analytics database."""
from polyalembic.pairs import migration_files

revision = "analytics_001"
down_revision = "chromadb_001"
store = "analytics"

upgrade, downgrade = migration_files(__file__)
'''


@pytest.fixture
def analytics(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    package = tmp_path / "analytics_store"
    package.mkdir()
    for name, text in STORE_PACKAGE.items():
        (package / name).write_text(text)
    monkeypatch.syspath_prepend(str(tmp_path))
    # the one registry line
    monkeypatch.setitem(STORES, "analytics", StoreSpec("analytics", "sql", ".sql", "analytics_store",
                                                       "Analytics", ("ANALYTICS_DSN",), "ANALYTICS_DSN"))
    admin = settings.postgres_dsn
    name = settings.postgres_dsn.rsplit("/", 1)[1] + "_analytics"
    with psycopg.connect(libpq_dsn(admin), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    dsn = admin.rsplit("/", 1)[0] + f"/{name}"
    yield Settings(**{**settings.__dict__, "env": {**settings.env, "ANALYTICS_DSN": dsn}})
    with psycopg.connect(libpq_dsn(admin), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    sys.modules.pop("analytics_store", None)


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
    assert analytics.describe("analytics").endswith("_analytics") and ":***@" in analytics.describe("analytics")

    command.downgrade(project.config(), "-1")
    with engine.connect() as conn:
        assert not sa.inspect(conn).has_table("page_views")
    engine.dispose()
    assert "analytics_001" not in {r.revision for r in ledger(analytics)}
