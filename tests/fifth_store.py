"""A fifth store, as a user would add one: one folder with one Store class, one registry line."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from polyalembic.stores import STORES
from tests.scratch import create_database, drop_database

# The whole store: one module in its own package, a PostgreSQL dialect on another variable.
STORE_MODULE = '''"""analytics: a second PostgreSQL database, on ANALYTICS_DSN."""
from polyalembic.stores.postgres.store import PostgresStore


class AnalyticsStore(PostgresStore):
    name = "analytics"
    dsn_variables = ("ANALYTICS_DSN",)
    env_keys = ("ANALYTICS_DSN",)
'''


@contextmanager
def fifth_store(admin_dsn: str, package_root: Path) -> Iterator[str]:
    """Write the store's folder, add its registry line, create its database; yield the DSN."""
    package = package_root / "analytics_store"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "store.py").write_text(STORE_MODULE)
    sys.path.insert(0, str(package_root))
    try:
        from analytics_store.store import AnalyticsStore

        STORES["analytics"] = AnalyticsStore()  # the one registry line
        dsn = create_database(admin_dsn, prefix="pa_analytics")
        try:
            yield dsn
        finally:
            drop_database(admin_dsn, dsn)
    finally:
        STORES.pop("analytics", None)
        sys.path.remove(str(package_root))
        for name in [m for m in sys.modules if m.startswith("analytics_store")]:
            del sys.modules[name]
