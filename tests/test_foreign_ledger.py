"""A ``schema_migrations`` that is not polyalembic's (the seed's migrate.sh ledger, issue 23's first
part): every command that reads or writes the ledger stops in one line naming the table, its
database and its columns, applies nothing, and leaves the table, its columns and its rows exactly
as they were; no table of polyalembic's is created beside it."""

from __future__ import annotations

import subprocess
import sys

import psycopg
import pytest

from polyalembic.project import Project
from polyalembic.settings import Settings
from polyalembic.stores import get_store
from polyalembic.stores.connections import StoreConnections
from polyalembic.stores.postgres.dsn import libpq_dsn
from tests.conftest import settings_env

SEED_LEDGER = """
CREATE TABLE schema_migrations (
    database_type VARCHAR(20) NOT NULL,
    migration_file VARCHAR(255) NOT NULL,
    applied_at TIMESCALE DEFAULT now(),
    checksum VARCHAR(64),
    PRIMARY KEY (database_type, migration_file)
);
""".replace("TIMESCALE", "TIMESTAMP")
SEED_ROWS = [("postgres", "001_procedural_memories.sql", "2025-10-12 18:29:50", "abc123"),
             ("postgres", "002_skill_progressions.sql", "2025-10-12 18:30:00", "def456"),
             ("timescaledb", "001_episodic_memories.sql", "2025-10-12 18:29:55", "0f0f0f")]

COMMANDS = [
    ("polyalembic", "status"), ("polyalembic", "validate"),
    ("polyalembic", "generate", "postgres", "next_thing"), ("polyalembic", "up"), ("polyalembic", "stamp", "head"),
    ("polyalembic", "fresh", "--confirm", "DELETE ALL DATA"), ("polyalembic", "repair", "forget", "postgres_001"),
    ("polyalembic", "drift", "--accept"), ("polyalembic", "adopt", "alembic"), ("alembic", "upgrade", "head"),
]


def stores(settings: Settings) -> dict[str, object]:
    """Every store's schema (the seed's table is read on its own: it is no ledger to read rows from)."""
    with StoreConnections(settings) as connections:
        return {store: get_store(store).snapshot(connections.get(store))
                for store in ("postgres", "timescaledb", "neo4j", "chromadb")}


def table_state(dsn: str) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]], list[str]]:
    with psycopg.connect(libpq_dsn(dsn)) as conn:
        columns = conn.execute("SELECT column_name, data_type, is_nullable, column_default FROM "
                               "information_schema.columns WHERE table_name = 'schema_migrations' "
                               "ORDER BY ordinal_position").fetchall()
        rows = conn.execute("SELECT * FROM schema_migrations ORDER BY applied_at").fetchall()
        tables = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                                             "ORDER BY tablename").fetchall()]
    return columns, rows, tables


@pytest.mark.parametrize("argv", COMMANDS, ids=[" ".join(c[1:]) for c in COMMANDS])
def test_the_seed_s_ledger_is_never_changed_and_every_command_says_what_it_found(
        argv: tuple[str, ...], project_copy: Project, settings: Settings) -> None:
    dsn = settings.ledger_dsn
    with psycopg.connect(libpq_dsn(dsn), autocommit=True) as conn:
        conn.execute(SEED_LEDGER)
        for row in SEED_ROWS:
            conn.execute("INSERT INTO schema_migrations VALUES (%s, %s, %s, %s)", row)
    before, schemas = table_state(dsn), stores(settings)
    entry = {"polyalembic": [sys.executable, "-m", "polyalembic"], "alembic": [sys.executable, "-m", "alembic"]}
    result = subprocess.run([*entry[argv[0]], "-c", str(project_copy.config_path), *argv[1:]],
                            env=settings_env(settings), cwd=project_copy.root, capture_output=True, text=True,
                            timeout=300)
    print(result.stdout, result.stderr)
    assert result.returncode != 0, result.stdout[-2000:]
    lines = [line for line in result.stderr.splitlines()
             if line.startswith(("polyalembic: error:", "FAILED:", "ERROR [alembic.util.messaging]"))]
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert "schema_migrations in database pa_test_" in lines[0], lines[0]
    assert "is the seed's migrate.sh ledger (columns database_type, migration_file, applied_at, checksum)" in lines[0]
    assert "`polyalembic adopt seed` takes its history over (and renames it aside)" in lines[0]
    assert table_state(dsn) == before  # its columns, its rows, and no table of ours beside it
    assert stores(settings) == schemas  # nothing applied or dropped in any store
