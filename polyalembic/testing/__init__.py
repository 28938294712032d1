"""Testing a project's own migrations on real, disposable stores (the pytest plugin's parts).

``polyalembic/pytest_plugin.py`` holds the fixtures; this package holds what they use, so that
a test suite without pytest's plugin machinery can use them too:

- ``environment``: the ``POLYALEMBIC_TEST_*`` variables, read into :class:`~polyalembic.settings.Settings`;
- ``disposable``: fresh stores for one test (a new database where the server allows it, else emptied);
- ``migrator``: :class:`Migrator`, moving the chain up and down and reading the stores between;
- ``tests``: the ready tests a suite imports in one line.

Nothing here reads the plain ``TIMESCALE_DSN``/``NEO4J_URI``…: the stores are emptied, so only
variables that name a disposable server on purpose are used.
"""

from polyalembic.testing.migrator import Migrator

__all__ = ["Migrator"]
