"""The Neo4j store: a driver on ``NEO4J_URI`` bound to one database (neo4j is imported only when
connecting), Cypher ``.up.cql``/``.down.cql`` pairs, constraints and indexes as its snapshot."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from polyalembic.masking import mask_text
from polyalembic.stores.contract import Store

if TYPE_CHECKING:
    from polyalembic.stores.contract import Settings


class OneLineNotifications(logging.Filter):
    """The driver logs each server notification (a deprecation, say) as a ~900-character object
    dump: make it one short line naming the kind, the position and the description."""

    def filter(self, record: logging.LogRecord) -> bool:
        printer = record.args[0] if isinstance(record.args, tuple) and len(record.args) == 1 else None
        note = getattr(printer, "notification", None)
        if note is not None:
            query = getattr(printer, "query", "") or ""
            description = getattr(note, "status_description", None) or getattr(note, "description", "")
            position = getattr(note, "position", None)
            where = f" at line {position.line}, column {position.column}" if position else ""
            kind = getattr(note, "raw_classification", None) or getattr(note, "category", "") or "notice"
            record.msg = (f"neo4j {str(kind).lower()}{where}: {description} "
                          f"[in: {' '.join(str(query).split())[:100]}]")
            record.args = ()
        return True


def _shorten_notifications() -> None:
    """Install the filter once, when a run first talks to Neo4j."""
    notifications = logging.getLogger("neo4j.notifications")
    if not any(isinstance(f, OneLineNotifications) for f in notifications.filters):
        notifications.addFilter(OneLineNotifications())


@dataclass
class GraphConnection:
    """A neo4j driver bound to one database; every query names the database explicitly."""

    driver: Any
    database: str
    uri: str


@dataclass(frozen=True)
class Neo4jConfig:
    uri: str | None
    user: str
    password: str | None
    database: str


class Neo4jStore(Store):
    """Neo4j over Bolt (``bolt://`` or ``neo4j://``)."""

    name = "neo4j"
    env_keys = ("NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD", "NEO4J_DATABASE")
    pair_suffix = ".cql"
    pair_op = "run_cypher_file"
    op_modules = ("polyalembic.stores.neo4j.ops", "polyalembic.stores.neo4j.impl")
    templates_module = "polyalembic.stores.neo4j.templates"
    setup_hint = "set NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD"

    @staticmethod
    def config(settings: Settings) -> Neo4jConfig:
        env = settings.env
        return Neo4jConfig(env.get("NEO4J_URI") or None, env.get("NEO4J_USER") or "neo4j",
                           env.get("NEO4J_PASSWORD") or None, env.get("NEO4J_DATABASE") or "neo4j")

    def location(self, settings: Settings) -> str:
        config = self.config(settings)
        if not config.uri:
            return f"(not configured: {self.setup_hint})"
        return mask_text(f"{config.uri} (user {config.user}, database {config.database})", self.secrets(settings))

    def secrets(self, settings: Settings) -> tuple[str, ...]:
        config = self.config(settings)
        in_uri = urlsplit(config.uri).password if config.uri else None
        return tuple(s for s in (config.password, in_uri) if s)

    def connect(self, settings: Settings) -> GraphConnection:
        """Open and verify a driver, or raise StoreUnavailable with a masked one-line reason."""
        from polyalembic.errors import StoreUnavailable

        config = self.config(settings)
        if not config.uri:
            raise StoreUnavailable(f"neo4j: no server configured ({self.setup_hint})")
        _shorten_notifications()
        try:
            import neo4j
        except ImportError:
            raise StoreUnavailable("neo4j: the driver is not installed (pip install 'polyalembic[neo4j]')") from None
        driver = None
        try:
            driver = neo4j.GraphDatabase.driver(config.uri, auth=(config.user, config.password or ""),
                                                connection_timeout=10, max_connection_pool_size=4)
            driver.verify_connectivity()
            driver.execute_query("RETURN 1", database_=config.database)
        except Exception as exc:  # noqa: BLE001 - any failure here means "unavailable"
            if driver is not None:
                driver.close()
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise StoreUnavailable(mask_text(f"neo4j: cannot connect to {self.location(settings)}: {reason}",
                                             self.secrets(settings))) from None
        return GraphConnection(driver, config.database, config.uri)

    def close(self, handle: GraphConnection) -> None:
        handle.driver.close()

    def snapshot(self, handle: GraphConnection) -> dict[str, Any]:
        from polyalembic.stores.neo4j import introspect

        return introspect.snapshot(handle)

    def drop_all(self, handle: GraphConnection) -> list[str]:
        from polyalembic.stores.neo4j import reset

        return reset.drop_all(handle)

    def check_file(self, path: Path, text: str) -> list[str]:
        from polyalembic.stores.neo4j.cypher import split_statements

        if not " ".join(split_statements(text)).strip():
            return ["is empty: write the statements (or delete the migration)"]
        return []
