"""The ``pytest11`` entry point: only a switch, so that installing polyalembic changes no test run.

``polyalembic = true`` in the ini file (or ``--polyalembic``) loads ``polyalembic.pytest_plugin``,
the same plugin ``-p polyalembic.pytest_plugin`` loads.
"""

from __future__ import annotations

import pytest

PLUGIN = "polyalembic.pytest_plugin"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("polyalembic", "load polyalembic's migration-test fixtures (polyalembic.pytest_plugin)",
                  type="bool", default=False)
    parser.addoption("--polyalembic", action="store_true", default=False,
                     help="load polyalembic's migration-test fixtures (polyalembic.pytest_plugin)")


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("polyalembic") or config.getini("polyalembic"):
        config.pluginmanager.import_plugin(PLUGIN)
