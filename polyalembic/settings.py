"""Connection settings: every store's variables from the environment (or an env file).

``Settings`` holds the variables as read; each store reads its own through the store contract,
so this module names no store. Read from the environment, they are a live view: a store
registered later (an entry point's, loaded when a revision names it) finds its variables there.
The ledger lives in ``POLYALEMBIC_LEDGER_DSN``, else where the registry says (the first SQL
store's database, in that store's schema), in the schema ``POLYALEMBIC_LEDGER_SCHEMA`` names if
set: a project's namespace in a ledger database several projects share.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polyalembic.errors import StoreUnavailable
from polyalembic.masking import mask_text
from polyalembic.stores import STORES, get_store, ledger_home
from polyalembic.stores.sql.store import SqlStore, database_url, is_transactional

LEDGER_VARIABLE = "POLYALEMBIC_LEDGER_DSN"
LEDGER_SCHEMA_VARIABLE = "POLYALEMBIC_LEDGER_SCHEMA"


def connection_keys() -> tuple[str, ...]:
    """polyalembic's own variables, then each registered store's (declared in the registry)."""
    return (LEDGER_VARIABLE, LEDGER_SCHEMA_VARIABLE, *(key for store in STORES.values() for key in store.env_keys))


class Variables(Mapping[str, str]):
    """The connection variables of ``source`` (the environment, an env file): those of the
    stores registered when they are looked at, so a store registered later sees its own."""

    def __init__(self, source: Mapping[str, str]) -> None:
        self._source = {k: v for k, v in source.items() if v}

    def _keys(self) -> list[str]:
        return [k for k in dict.fromkeys(connection_keys()) if k in self._source]

    def __getitem__(self, key: str) -> str:
        if key in self._source and key in connection_keys():
            return self._source[key]
        raise KeyError(key)

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys())

    def __len__(self) -> int:
        return len(self._keys())


@dataclass(frozen=True)
class Settings:
    """The connection variables of one run (every registered store's, as read)."""

    env: Mapping[str, str] = field(default_factory=dict, repr=False)

    def replace(self, **variables: str | None) -> Settings:
        """These settings with ``variables`` set (None unsets one)."""
        env = {**self.env, **variables}
        return Settings({k: v for k, v in env.items() if v})

    @property
    def ledger_store(self) -> SqlStore:
        """The SQL store whose dialect the ledger is written in (and whose database holds it
        unless POLYALEMBIC_LEDGER_DSN names another): what the ledger is handed."""
        home = ledger_home()
        if home is None:
            raise StoreUnavailable(f"ledger: no registered store is a SQL database to hold it ({', '.join(STORES)})")
        return home

    @property
    def ledger_dsn(self) -> str | None:
        """Where ``schema_migrations``, Alembic's version table and the lock live."""
        home = ledger_home()
        dsn = self.env.get(LEDGER_VARIABLE) or (home.database_url(self) if home else None)
        schema = self.env.get(LEDGER_SCHEMA_VARIABLE)
        if dsn and schema and home:
            return home.schema_dsn(dsn, schema, LEDGER_SCHEMA_VARIABLE)
        return dsn

    def database_url(self, store: str) -> str | None:
        """The SQL database ``store`` lives in (None for a store that is not a SQL database)."""
        return database_url(get_store(store), self)

    def same_database(self, a: str | None, b: str | None) -> bool:
        """True when two SQL DSNs name the same database (in the ledger's dialect)."""
        home = ledger_home()
        return bool(home and home.same_database(a, b))

    def shares_ledger_database(self, store: str) -> bool:
        """True when ``store`` can commit in one transaction with the ledger: a transactional
        store whose database is the ledger's."""
        spec = get_store(store)
        return is_transactional(spec) and self.same_database(database_url(spec, self), self.ledger_dsn)

    def committing_as_they_go(self) -> list[str]:
        """The stores whose migrations commit step by step (not in one transaction with the ledger)."""
        return [store.name for store in STORES.values() if not is_transactional(store)]

    def secrets(self) -> tuple[str, ...]:
        """Every secret value of every store's configuration (for masking)."""
        home = ledger_home()
        found = [home.password_of(self.ledger_dsn) if home else None]
        for store in STORES.values():
            found += store.secrets(self)
        return tuple(s for s in found if s)

    def mask(self, text: str) -> str:
        """``text`` with every secret of these settings masked."""
        return mask_text(text, self.secrets())

    def location(self, store: str) -> str:
        """A masked, printable location of ``store``."""
        return self.mask(get_store(store).location(self))


def read_env_file(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of an env file (comments and blanks skipped); {} when it does not exist."""
    values: dict[str, str] = {}
    try:
        text = path.read_text()
    except OSError:
        return values
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip().removeprefix("export ").strip()] = value.strip().strip("'\"")
    return values


def load_settings(env: Mapping[str, str] | None = None, env_file: Path | str | None = None) -> Settings:
    """Settings from ``env`` (default os.environ); with no connection variable set, from the env
    file: ``$POLYALEMBIC_ENV_FILE``, else ``env_file`` (alembic.ini's ``[polyalembic] env_file``).
    The file is consulted only when none of the connection variables is set, so a real
    deployment's environment is never mixed with a file's settings."""
    env = dict(os.environ if env is None else env)
    keys = connection_keys()
    if not any(env.get(k) for k in keys):
        path = env.get("POLYALEMBIC_ENV_FILE") or env_file
        if path:
            env = {**read_env_file(Path(path)), **env}
    return Settings(Variables(env))


def settings_for(config: Any) -> Settings:
    """Settings for an Alembic ``Config``: the environment, then the env file its
    ``[polyalembic] env_file`` names (relative to alembic.ini), if any."""
    here = Path(config.config_file_name).resolve().parent if config.config_file_name else Path.cwd()
    return settings_from(here, config.get_section_option("polyalembic", "env_file"))


def settings_from(here: Path, env_file: str | None) -> Settings:
    """The environment, then ``env_file`` (relative to ``here``, alembic.ini's folder) if given."""
    return load_settings(env_file=here / env_file if env_file else None)
