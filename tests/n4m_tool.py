"""The real neo4j-migrations CLI (2.19.2) against the test Neo4j: what writes the histories that
``polyalembic adopt n4m`` reads. The jars are fetched on first use into the stack's cache
(stack/neo4j_migrations.py), so a fresh machine's ``make test`` gets them."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from polyalembic.settings import Settings
from stack import neo4j_migrations


def n4m(settings: Settings, *arguments: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    """Run the CLI with ``arguments`` on the test Neo4j of ``settings``; its output, whatever it exits with."""
    env = settings.env
    cli = neo4j_migrations.command(env["NEO4J_URI"], env.get("NEO4J_USER") or "neo4j",
                                   env.get("NEO4J_DATABASE") or "neo4j", *arguments)
    child_env = {**os.environ, "NEO4J_PASSWORD": env.get("NEO4J_PASSWORD") or ""}
    return subprocess.run(cli, env=child_env, capture_output=True, text=True, timeout=timeout)


def apply(settings: Settings, folder: Path) -> str:
    """``neo4j-migrations --location file:FOLDER apply``: every pending V file of ``folder``; its
    output, or AssertionError with it when the CLI fails."""
    result = n4m(settings, "--location", f"file:{folder}", "apply")
    assert result.returncode == 0, f"neo4j-migrations apply failed ({result.returncode}):\n{result.stderr[-3000:]}"
    return result.stdout + result.stderr
