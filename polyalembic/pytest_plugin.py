"""polyalembic's pytest plugin: disposable stores and a migrator for a project's own migration tests.

Enable it in one of three ways (it does nothing until then, so installing polyalembic changes no
one's test run):

- ``-p polyalembic.pytest_plugin`` on the command line, or ``pytest_plugins = ["polyalembic.pytest_plugin"]``
  in the top conftest.py;
- with polyalembic installed (its ``pytest11`` entry point, ``polyalembic.testing.switch``):
  ``polyalembic = true`` in the ``[pytest]`` ini section, or ``--polyalembic``.

The test servers come from ``POLYALEMBIC_TEST_<VARIABLE>`` (``POLYALEMBIC_TEST_TIMESCALE_DSN``,
``POLYALEMBIC_TEST_NEO4J_URI``…) or from a ``polyalembic_settings`` fixture the suite overrides; every
test gets fresh stores on them (see ``polyalembic/testing/disposable.py``). The ready tests live in
``polyalembic.testing.tests``.

Lazy imports: the store registry, when a test asks for a store: pytest loads this plugin at every
start-up.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from polyalembic.project import Project, find_config
from polyalembic.settings import Settings
from polyalembic.testing.disposable import disposable_stores
from polyalembic.testing.environment import missing_stores, settings_from_test_environment
from polyalembic.testing.migrator import Migrator

CONFIG_OPTION = "polyalembic_config"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(CONFIG_OPTION, "alembic.ini of the migrations under test (relative to the rootdir; "
                                 "default: the nearest alembic.ini)", default="")


@pytest.fixture(scope="session")
def polyalembic_config(pytestconfig: pytest.Config) -> Path:
    """The project's alembic.ini: the ``polyalembic_config`` ini option, else ``$POLYALEMBIC_CONFIG``,
    else the nearest one from the working directory upwards. Override it to point elsewhere."""
    configured = pytestconfig.getini(CONFIG_OPTION)
    return find_config(pytestconfig.rootpath / configured) if configured else find_config()


@pytest.fixture(scope="session")
def polyalembic_settings() -> Settings:
    """The test servers (disposable: every test empties them or creates databases on them), from
    ``POLYALEMBIC_TEST_*``. Override it to build them another way."""
    return settings_from_test_environment()


@pytest.fixture
def polyalembic_stores(polyalembic_config: Path, polyalembic_settings: Settings) -> Iterator[Settings]:
    """Settings of fresh stores for this test: a new database per SQL store where the server
    allows it (dropped afterwards), Neo4j and ChromaDB emptied first."""
    stores = {m.store for m in Project(polyalembic_config, settings=Settings({})).chain()}
    missing = missing_stores(polyalembic_settings, stores)
    if missing:
        pytest.fail("polyalembic: no test server for the migrations' stores: " + "; ".join(missing), pytrace=False)
    with disposable_stores(polyalembic_settings, stores) as settings:
        yield settings


@pytest.fixture
def polyalembic_project(polyalembic_config: Path, polyalembic_stores: Settings) -> Project:
    """The project under test, on this test's fresh stores."""
    return Project(polyalembic_config, settings=polyalembic_stores)


@pytest.fixture
def polyalembic_migrator(polyalembic_project: Project) -> Migrator:
    """Moves the chain up and down on this test's stores (``up``, ``down``, ``connection``,
    ``snapshot``, ``status``, ``render``); starts at base."""
    return Migrator(polyalembic_project)


def pytest_report_header(config: pytest.Config) -> list[str]:
    """Which test servers the run uses (masked), so a report says where the stores lived."""
    settings = settings_from_test_environment()
    from polyalembic.stores import STORES

    return [f"polyalembic: {name} test server {settings.location(name)}" for name, store in STORES.items()
            if any(settings.env.get(key) for key in store.env_keys)]
