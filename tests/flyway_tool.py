"""Real Flyway (13.12.0, ``flyway-maven-plugin`` with ``flyway-database-postgresql`` and the
PostgreSQL JDBC driver, all from Maven Central) against a test database: what writes the
histories that ``polyalembic adopt flyway`` reads. Maven fetches the plugin on first use into the
stack's cache, so a fresh machine's ``make test`` gets it. The connection goes to Maven through
Flyway's own environment variables, so the password is never on a command line."""

from __future__ import annotations

import fcntl
import os
import subprocess
from pathlib import Path

from psycopg.conninfo import conninfo_to_dict

from polyalembic.stores.postgres.dsn import libpq_dsn
from stack.base import CACHE_DIR, REPO_ROOT, require_tool
from stack.neo4j import find_java

POM = REPO_ROOT / "tests" / "maven" / "flyway-pom.xml"


def flyway(dsn: str, folder: Path, goal: str = "migrate", *properties: str,
           timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """``mvn flyway:<goal>`` on the database of ``dsn`` with the files of ``folder``; its output,
    whatever it exits with. ``properties``: more ``-Dflyway.x=y`` settings."""
    require_tool("mvn", "Maven, e.g. 'apt-get install maven'")
    info = conninfo_to_dict(libpq_dsn(dsn))
    url = f"jdbc:postgresql://{info.get('host', 'localhost')}:{info.get('port', 5432)}/{info['dbname']}"
    env = {**os.environ, "JAVA_HOME": str(Path(find_java(17)).resolve().parent.parent),
           "FLYWAY_URL": url, "FLYWAY_USER": str(info.get("user", "")),
           "FLYWAY_PASSWORD": str(info.get("password", "")), "FLYWAY_LOCATIONS": f"filesystem:{folder}"}
    command = ["mvn", "-q", "-B", "-Dstyle.color=never", f"-Dmaven.repo.local={CACHE_DIR / 'm2'}",
               "-f", str(POM), f"flyway:{goal}", *properties]
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with open(CACHE_DIR / "m2.lock", "w") as lock:  # one Maven at a time in the shared repository
        fcntl.flock(lock, fcntl.LOCK_EX)
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout, cwd=folder)


def migrate(dsn: str, folder: Path, *properties: str) -> str:
    """``mvn flyway:migrate``: every pending V file of ``folder``; its output, or AssertionError
    with it when Flyway fails."""
    result = flyway(dsn, folder, "migrate", *properties)
    assert result.returncode == 0, f"flyway:migrate failed ({result.returncode}):\n{result.stdout[-3000:]}"
    return result.stdout + result.stderr
