"""The test servers a suite names: ``POLYALEMBIC_TEST_<VARIABLE>`` for each store variable.

Only these prefixed variables are read, never the deployment's own ``TIMESCALE_DSN`` etc.: the
plugin empties the stores it is given, so a server must be named as a test server on purpose.

Lazy imports: the store registry, when the plugin reads the test servers: pytest loads the plugin at
every start-up.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping

from polyalembic.settings import Settings, connection_keys

PREFIX = "POLYALEMBIC_TEST_"


def settings_from_test_environment(environ: Mapping[str, str] | None = None) -> Settings:
    """Settings whose ``TIMESCALE_DSN`` is ``POLYALEMBIC_TEST_TIMESCALE_DSN`` and so on; the env
    file and the unprefixed variables are ignored."""
    environ = os.environ if environ is None else environ
    return Settings({key: environ[PREFIX + key] for key in connection_keys() if environ.get(PREFIX + key)})


def missing_stores(settings: Settings, stores: set[str]) -> list[str]:
    """One line per store of ``stores`` that ``settings`` leaves unconfigured, naming what to set."""
    from polyalembic.stores import get_store
    from polyalembic.stores.sql.store import SqlStore

    lines = []
    for name in sorted(stores):
        store = get_store(name)
        configured = (settings.database_url(name) if isinstance(store, SqlStore)
                      else any(settings.env.get(key) for key in store.env_keys))
        if not configured:
            lines.append(f"{name}: {prefixed(store.setup_hint)}")
    return lines


def prefixed(text: str) -> str:
    """``text`` with every variable name (``NEO4J_URI``) in its test form (``POLYALEMBIC_TEST_NEO4J_URI``)."""
    return re.sub(r"\b([A-Z][A-Z0-9]*_[A-Z0-9_]+)\b", PREFIX + r"\1", text)
