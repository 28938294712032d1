"""The Neo4j store's connection: a driver plus the database name (neo4j is imported here only)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from polyalembic.errors import StoreUnavailable
from polyalembic.settings import Settings, mask_text


@dataclass
class GraphConnection:
    """A neo4j driver bound to one database; every query names the database explicitly."""

    driver: Any
    database: str
    uri: str


def connect(settings: Settings) -> GraphConnection:
    """Open and verify a driver, or raise StoreUnavailable with a masked one-line reason."""
    if not settings.neo4j_uri:
        raise StoreUnavailable("neo4j: no server configured (set NEO4J_URI, NEO4J_USER, NEO4J_PASSWORD)")
    try:
        import neo4j
    except ImportError:
        raise StoreUnavailable("neo4j: the driver is not installed (pip install 'polyalembic[neo4j]')") from None
    auth = (settings.neo4j_user, settings.neo4j_password or "")
    driver = neo4j.GraphDatabase.driver(settings.neo4j_uri, auth=auth, connection_timeout=10,
                                        max_connection_pool_size=4)
    try:
        driver.verify_connectivity()
        driver.execute_query("RETURN 1", database_=settings.neo4j_database)
    except Exception as exc:  # noqa: BLE001 - any failure here means "unavailable"
        driver.close()
        reason = mask_text(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__,
                           (settings.neo4j_password,))
        raise StoreUnavailable(
            f"neo4j: cannot connect to {settings.describe('neo4j')}: {reason}") from None
    return GraphConnection(driver, settings.neo4j_database, settings.neo4j_uri)


def describe(settings: Settings) -> str:
    if not settings.neo4j_uri:
        return "(not configured)"
    return f"{settings.neo4j_uri} (user {settings.neo4j_user}, database {settings.neo4j_database})"


def close(connection: GraphConnection) -> None:
    connection.driver.close()
