"""What a store is to polyalembic: its name, how its migration files look, where its code lives."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType
from typing import Literal


@dataclass(frozen=True)
class StoreSpec:
    """Static facts about one store.

    ``language`` decides how plain migration files run: ``sql`` files go through SQLAlchemy,
    ``cypher`` through the Neo4j driver, ``python`` stores have Python revisions only.
    ``pair_suffix`` is the extension of the ``NNN_name.up<suffix>`` / ``.down<suffix>`` pair.
    ``package`` holds ``ops``, ``impl``, ``connection`` and ``introspect`` modules.
    ``env_keys`` are the environment variables that configure the store (read by
    ``load_settings``, kept in ``Settings.env``); ``dsn_variable`` names a SQL store's DSN.
    """

    name: str
    language: Literal["sql", "cypher", "python"]
    pair_suffix: str | None
    package: str
    title: str
    env_keys: tuple[str, ...] = ()
    dsn_variable: str | None = None

    def module(self, name: str) -> ModuleType:
        """Import one of the store's modules (``ops``, ``connection``, ``introspect``...)."""
        return importlib.import_module(f"{self.package}.{name}")

    @property
    def is_sql(self) -> bool:
        return self.language == "sql"
