"""The Neo4j store: a driver on ``NEO4J_URI`` bound to one database (neo4j is imported only when
connecting), Cypher ``.up.cql``/``.down.cql`` pairs, constraints and indexes as its snapshot,
and neo4j-migrations' folder and history for ``polyalembic adopt n4m`` (``n4m.py``).

Lazy imports: the neo4j driver and this store's own modules, when a revision for it runs: the
registry imports every store at start-up."""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from polyalembic.errors import StoreUnavailable, cannot_connect
from polyalembic.masking import mask_text
from polyalembic.stores.contract import ForeignHistory, StepMarkers, Store

if TYPE_CHECKING:
    from polyalembic.stores.contract import ForeignApplied, ForeignMigration, Settings


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


def _read_only(driver: Any, database: str) -> bool:
    """True when the server serves ``database`` read-only (its config says so): migrations would
    fail on their first write. A user who may not list databases is not refused here."""
    try:
        records = driver.execute_query("SHOW DATABASE $name YIELD access", name=database, database_="system").records
    except Exception:  # noqa: BLE001 - the check is a courtesy; the first write would tell anyway
        return False
    return any(record["access"] == "read-only" for record in records)


def _explain(exc: Exception) -> tuple[str, str]:
    """The driver's reason in one short line (its message without the GQL status dump) and the fix."""
    code = getattr(exc, "code", None) or ""
    message = (getattr(exc, "message", None) if code else None) or str(exc).strip() or type(exc).__name__
    reason = " ".join(str(message).split())
    refused = re.search(r"\[Errno -?\d+\] ([^)\]\"']+)", reason)  # the socket's words, not the pool's story
    if refused:
        reason = refused[1].strip()
    if "userinfo" in reason:
        return "the URI holds a user and password", "put them in NEO4J_USER and NEO4J_PASSWORD, not in NEO4J_URI"
    if code.endswith(("Unauthorized", "AuthenticationRateLimit")):
        return reason, "correct NEO4J_USER or NEO4J_PASSWORD"
    if code.endswith("DatabaseNotFound"):
        return reason, "create the database or correct NEO4J_DATABASE"
    if code.endswith(("WriteOnReadOnlyAccessDbException", "AccessMode")) or "read only" in reason.lower():
        return reason, "point NEO4J_URI at a writable server (or the cluster's leader with neo4j://)"
    if "scheme" in reason.lower():
        return reason.split(". ")[0], "use a bolt:// or neo4j:// URI in NEO4J_URI"
    return reason.rstrip(":"), "start the server or correct the host and port in NEO4J_URI"


@dataclass
class GraphConnection:
    """A neo4j driver bound to one database; every query names the database explicitly."""

    driver: Any
    database: str
    uri: str
    _session: Any = field(default=None, repr=False)

    def session(self) -> Any:
        """The one session a run's migrations share. A session per statement (or per
        ``execute_query``) costs a pool checkout and, for a managed transaction, a BEGIN and a
        COMMIT round trip on top of the statement: with hundreds of statements that is most of
        the client's time. A session survives a failed statement or transaction."""
        if self._session is None or self._session.closed():
            self._session = self.driver.session(database=self.database)
        return self._session

    def close(self) -> None:
        if self._session is not None:
            self._session.close()
            self._session = None
        self.driver.close()


@dataclass(frozen=True)
class Neo4jConfig:
    uri: str | None
    user: str
    password: str | None
    database: str


class Neo4jStore(Store, StepMarkers, ForeignHistory):
    """Neo4j over Bolt (``bolt://`` or ``neo4j://``)."""

    name = "neo4j"
    env_keys = ("NEO4J_URI", "NEO4J_USER", "NEO4J_PASSWORD", "NEO4J_DATABASE")
    pair_suffix = ".cql"
    pair_op = "run_cypher_file"
    op_modules = ("polyalembic.stores.neo4j.ops", "polyalembic.stores.neo4j.impl")
    templates_module = "polyalembic.stores.neo4j.templates"
    setup_hint = "set NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD"
    tool = "n4m"
    tool_title = "neo4j-migrations"
    adopted_suffix = ".cql"

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
            reason, fix = _explain(exc)
            raise cannot_connect("neo4j", self.location(settings), mask_text(reason, self.secrets(settings)),
                                 fix) from None
        if _read_only(driver, config.database):
            driver.close()
            raise StoreUnavailable(f"neo4j: database {config.database} on {self.location(settings)} is read-only: "
                                   "point NEO4J_URI at a writable server (or set server.databases.read_only / "
                                   "default_to_read_only off in its neo4j.conf)")
        return GraphConnection(driver, config.database, config.uri)

    def close(self, handle: GraphConnection) -> None:
        handle.close()

    def snapshot(self, handle: GraphConnection) -> dict[str, Any]:
        from polyalembic.stores.neo4j import introspect

        return introspect.snapshot(handle)

    def snapshot_objects(self, snapshot: Mapping[str, Any]) -> dict[str, Any]:
        """Constraints and indexes by name; a constraint's own index is the constraint's (dropping
        one by hand is one difference, not two)."""
        constraints = list(snapshot.get("constraints", []))
        return {**{f"constraint {name}": name for name in constraints},
                **{f"index {name}": name for name in snapshot.get("indexes", []) if name not in constraints}}

    def marked_steps(self, handle: GraphConnection, revision: str) -> set[int]:
        from polyalembic.stores.neo4j import markers

        return markers.marked_steps(handle, revision)

    def clear_marks(self, handle: GraphConnection, keep: set[str]) -> None:
        from polyalembic.stores.neo4j import markers

        markers.clear_marks(handle, keep)

    def drop_marks(self, handle: GraphConnection, revision: str) -> None:
        from polyalembic.stores.neo4j import markers

        markers.drop_marks(handle, revision)

    def step_in_place(self, handle: GraphConnection, step: str) -> bool:
        from polyalembic.stores.neo4j import markers

        return markers.step_in_place(handle, step)

    def drop_all(self, handle: GraphConnection) -> list[str]:
        from polyalembic.stores.neo4j import reset

        return reset.drop_all(handle)

    def check_file(self, path: Path, text: str) -> list[str]:
        from polyalembic.stores.neo4j.cypher import split_statements

        if not " ".join(split_statements(text)).strip():
            return ["is empty: write the statements (or delete the migration)"]
        return []

    def foreign_migrations(self, folder: Path) -> list[ForeignMigration]:
        from polyalembic.stores.neo4j import n4m

        return n4m.foreign_migrations(folder)

    def foreign_applied(self, handle: GraphConnection) -> list[ForeignApplied]:
        from polyalembic.stores.neo4j import n4m

        return n4m.foreign_applied(handle)
