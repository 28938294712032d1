"""The pytest plugin's parts that need no server: its entry point and its test variables."""

from __future__ import annotations

import importlib
import tomllib
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from polyalembic.settings import Settings
from polyalembic.stores.postgres.databases import with_database
from polyalembic.testing.environment import missing_stores, prefixed, settings_from_test_environment

REPO = Path(__file__).resolve().parents[2]


def test_the_entry_point_is_a_switch_that_loads_the_plugin() -> None:
    """Installed, pytest loads ``pytest11`` entry points into every run: ours only adds the switch."""
    entry_points = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["entry-points"]["pytest11"]
    switch = importlib.import_module(entry_points["polyalembic"])
    assert {"pytest_addoption", "pytest_configure"} <= set(vars(switch))
    assert not [name for name in vars(switch) if name.startswith("polyalembic_")]  # no fixture until enabled
    plugin = importlib.import_module(switch.PLUGIN)
    assert {"polyalembic_settings", "polyalembic_stores", "polyalembic_migrator"} <= set(vars(plugin))


def test_only_the_prefixed_variables_are_read() -> None:
    environ = {"TIMESCALE_DSN": "postgresql://app:pw@prod/app", "POLYALEMBIC_TEST_NEO4J_URI": "bolt://test:7687",
               "POLYALEMBIC_TEST_CHROMA_PATH": "/tmp/chroma"}
    settings = settings_from_test_environment(environ)
    assert dict(settings.env) == {"NEO4J_URI": "bolt://test:7687", "CHROMA_PATH": "/tmp/chroma"}


def test_a_store_without_a_test_server_is_named_with_its_variables() -> None:
    settings = Settings({"NEO4J_URI": "bolt://test:7687"})
    assert missing_stores(settings, {"neo4j", "timescaledb", "chromadb"}) == [
        "chromadb: set POLYALEMBIC_TEST_CHROMA_HOST and POLYALEMBIC_TEST_CHROMA_PORT, or POLYALEMBIC_TEST_CHROMA_PATH",
        "timescaledb: set POLYALEMBIC_TEST_TIMESCALE_DSN",
    ]
    assert prefixed("set POSTGRES_DSN or TIMESCALE_DSN") == \
        "set POLYALEMBIC_TEST_POSTGRES_DSN or POLYALEMBIC_TEST_TIMESCALE_DSN"


def test_a_new_database_keeps_the_dsn_form_and_options() -> None:
    assert with_database("postgresql://u:p@h:5433/app?sslmode=require", "t1") == \
        "postgresql://u:p@h:5433/t1?sslmode=require"
    assert conninfo_to_dict(with_database("host=h port=5433 dbname=app user=u", "t1")) == \
        {"host": "h", "port": "5433", "dbname": "t1", "user": "u"}
