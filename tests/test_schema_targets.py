"""Schema targets and shared ledger databases (issue 24) on the real stack.

A schema target keeps its tables, hypertables, ``alembic_version`` and ledger in its own schema
of a database many targets share (``POSTGRES_SCHEMA``/``TIMESCALE_SCHEMA``), under its own lock;
``public`` holds a project of its own at head all along, so a tenant that read anything of
``public``'s (its version table, its ledger) would skip its chain. Two projects share one ledger
database, each in its own schema (``POLYALEMBIC_LEDGER_SCHEMA``). What each got is read back
with psycopg and stock Alembic."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from polyalembic.project import Project
from polyalembic.settings import Settings
from polyalembic.stores.postgres.dsn import libpq_dsn
from polyalembic.stores.postgres.lock import lock_key
from tests.conftest import REPO, settings_env
from tests.scratch import create_database, drop_database
from tests.test_fleet import password
from tests.test_recovery import cli

SCHEMA_TARGETS = 50
SQL_REVISIONS = 10  # the seed's postgres and timescaledb revisions


@pytest.fixture
def sql_chain(project_copy: Project) -> Project:
    """The seed's SQL part: its 7 postgres and 3 timescaledb revisions (the graph ones removed)."""
    for store in ("neo4j", "chromadb"):
        for path in (project_copy.migrations_dir / store).glob("[0-9]*"):
            path.unlink()
    return project_copy


def sql_only(settings: Settings) -> Settings:
    """Both SQL stores in the one database that has the timescaledb extension."""
    shared = settings.database_url("timescaledb")
    return Settings({"POSTGRES_DSN": shared, "TIMESCALE_DSN": shared})  # type: ignore[dict-item]


def in_schema(settings: Settings, schema: str) -> Settings:
    return settings.replace(POSTGRES_SCHEMA=schema, TIMESCALE_SCHEMA=schema)


def query(dsn: str, sql: str, *args: object) -> list[tuple]:
    with psycopg.connect(libpq_dsn(dsn)) as conn:
        cursor = conn.execute(sql, args)
        return [tuple(row) for row in cursor] if cursor.description else []


def schema_tables(dsn: str) -> dict[str, set[str]]:
    """schema -> its tables, for every schema but the catalogs and TimescaleDB's own."""
    found: dict[str, set[str]] = {}
    for schema, table in query(dsn, "SELECT schemaname, tablename FROM pg_tables WHERE schemaname NOT LIKE "
                                    "'\\_timescaledb%%' AND schemaname NOT IN ('pg_catalog', 'information_schema')"):
        found.setdefault(schema, set()).add(table)
    return found


def fleet_file(tmp_path: Path, dsn: str, tenants: list[str], extra: str = "", options: str = "workers = 2") -> Path:
    info = psycopg.conninfo.conninfo_to_dict(libpq_dsn(dsn))
    where = f"postgresql://{info['user']}:${{FLEET_PG_PASSWORD}}@{info['host']}:{info['port']}/{info['dbname']}"
    path = tmp_path / "fleet.toml"
    path.write_text(f"""
[fleet]
{options}
tenants = {tenants!r}

[settings]
POSTGRES_DSN = "{where}"
TIMESCALE_DSN = "{where}"
POSTGRES_SCHEMA = "tenant_{{tenant}}"
TIMESCALE_SCHEMA = "tenant_{{tenant}}"
{extra}""")
    return path


def test_fifty_schema_targets_each_keep_the_sql_chain_in_their_own_schema(
        sql_chain: Project, settings: Settings, admin_dsn: str, tmp_path: Path) -> None:
    base = sql_only(settings)
    dsn = base.database_url("timescaledb")
    assert cli(sql_chain, base, "up").exit_code == 0  # public: a project of its own, at head
    public = schema_tables(dsn)["public"]
    tenants = [f"s{k:02d}" for k in range(SCHEMA_TARGETS)]
    path = fleet_file(tmp_path, dsn, tenants)
    env = base.replace(FLEET_PG_PASSWORD=password(admin_dsn))

    result = cli(sql_chain, env, "fleet", "up", str(path))
    assert result.exit_code == 0, result.output
    assert f"{SCHEMA_TARGETS} migrated" in result.output

    found = schema_tables(dsn)
    assert found.pop("public") == public  # untouched
    assert set(found) == {f"tenant_{t}" for t in tenants}
    assert all(tables == public for tables in found.values())  # the same tables, ledger and version table
    for tenant in tenants[:3] + tenants[-2:]:
        schema = f"tenant_{tenant}"
        assert query(dsn, f"SELECT version_num FROM {schema}.alembic_version") == [("timescaledb_003",)]
        assert query(dsn, f"SELECT count(*) FROM {schema}.schema_migrations WHERE status = 'applied'") == [
            (SQL_REVISIONS,)]
    hypertables = dict(query(dsn, "SELECT hypertable_schema, count(*) FROM timescaledb_information.hypertables "
                                  "GROUP BY 1"))
    assert hypertables.pop("public") == 3 and hypertables == {f"tenant_{t}": 3 for t in tenants}

    status = cli(sql_chain, env, "fleet", "status", str(path), "--check")
    assert status.exit_code == 0 and f"{SCHEMA_TARGETS} at head" in status.output, status.output
    # drift reads each target's own schema: a change in one is that target's alone
    query(dsn, f"ALTER TABLE tenant_{tenants[7]}.episodic_memories ADD COLUMN note TEXT")
    drift = cli(sql_chain, env, "fleet", "drift", str(path))
    assert drift.exit_code == 1
    assert f"1 of {SCHEMA_TARGETS} target(s) drifted: {tenants[7]}" in drift.output
    assert cli(sql_chain, base, "drift").exit_code == 0  # public's own baseline is clean


def test_each_schema_has_its_own_lock_and_a_missing_schema_reads_empty(
        sql_chain: Project, settings: Settings) -> None:
    base = sql_only(settings)
    dsn = base.database_url("timescaledb")
    assert cli(sql_chain, base, "up").exit_code == 0
    # a schema that does not exist reads as nothing applied (not as public's ledger) and stays missing
    status = cli(sql_chain, in_schema(base, "tenant_new"), "status")
    assert status.exit_code == 0 and "postgres: 7 pending" in status.output, status.output
    assert query(dsn, "SELECT count(*) FROM pg_namespace WHERE nspname = 'tenant_new'") == [(0,)]

    with psycopg.connect(libpq_dsn(dsn), autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (lock_key("tenant_a"),))
        # tenant_a's lock is held: its run waits, then stops naming the holder, with nothing applied
        held = cli(sql_chain, in_schema(base, "tenant_a"), "--lock-timeout", "1", "up")
        assert held.exit_code == 1 and "the migration lock is still held by another run" in held.output
        assert query(dsn, "SELECT count(*) FROM pg_tables WHERE schemaname = 'tenant_a' AND tablename NOT LIKE "
                          "'schema_migrations%%'") == [(0,)]
        # tenant_b of the same database migrates meanwhile: its lock is its own
        other = cli(sql_chain, in_schema(base, "tenant_b"), "--lock-timeout", "1", "up")
        assert other.exit_code == 0, other.output
    assert cli(sql_chain, in_schema(base, "tenant_a"), "up").exit_code == 0
    for schema in ("tenant_a", "tenant_b"):
        assert query(dsn, f"SELECT version_num FROM {schema}.alembic_version") == [("timescaledb_003",)]


def test_a_bad_schema_name_is_refused_in_one_line_with_nothing_applied(
        sql_chain: Project, settings: Settings) -> None:
    base = sql_only(settings)
    result = cli(sql_chain, base.replace(POSTGRES_SCHEMA="Tenant-A"), "up")
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1].startswith(
        "polyalembic: error: postgres: POSTGRES_SCHEMA='Tenant-A': schema 'Tenant-A' is not a plain lower-case name")
    assert "public" not in schema_tables(base.database_url("timescaledb"))


@pytest.fixture
def ledger_database(admin_dsn: str) -> Iterator[str]:
    dsn = create_database(admin_dsn, prefix="pa_ledgers")
    yield dsn
    drop_database(admin_dsn, dsn)


def alembic_current(project: Project, settings: Settings) -> str:
    env = {**settings_env(settings), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    out = subprocess.run([sys.executable, "-m", "alembic", "-c", str(project.config_path), "current"],
                         capture_output=True, text=True, env=env, check=True)
    return out.stdout.strip()


def other_project(tmp_path: Path, settings: Settings) -> Project:
    """A second project (its own folder): two postgres revisions of its own."""
    shutil.copytree(REPO / "migrations", tmp_path / "crm" / "migrations", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / "alembic.ini", tmp_path / "crm" / "alembic.ini")
    project = Project(tmp_path / "crm" / "alembic.ini", settings=settings)
    for path in project.migrations_dir.glob("*/[0-9]*"):
        path.unlink()
    for name in ("accounts", "invoices"):
        assert cli(project, settings, "generate", "postgres", name).exit_code == 0
    return project


def test_two_projects_share_one_ledger_database_each_in_its_own_schema(
        sql_chain: Project, settings: Settings, ledger_database: str, tmp_path: Path) -> None:
    # two projects: the seed's SQL chain, and another with revisions of its own in a database of its own
    ops_project = other_project(tmp_path, settings)
    other_db = settings.database_url("postgres")
    one = sql_only(settings).replace(POLYALEMBIC_LEDGER_DSN=ledger_database, POLYALEMBIC_LEDGER_SCHEMA="billing")
    two = Settings({"POSTGRES_DSN": other_db, "POLYALEMBIC_LEDGER_DSN": ledger_database,  # type: ignore[dict-item]
                    "POLYALEMBIC_LEDGER_SCHEMA": "crm"})
    assert cli(sql_chain, one, "up").exit_code == 0
    assert cli(ops_project, two, "up").exit_code == 0
    for project, its in ((sql_chain, one), (ops_project, two)):
        status = cli(project, its, "status", "--check")
        assert status.exit_code == 0, status.output  # clean: no other project's row, no checksum mismatch
        assert "checksum mismatch" not in status.output and "missing" not in status.output
    tables = schema_tables(ledger_database)
    assert set(tables) == {"billing", "crm"}  # nothing in public
    assert {"alembic_version", "schema_migrations"} <= tables["billing"] & tables["crm"]
    assert query(ledger_database, "SELECT count(*) FROM billing.schema_migrations") == [(SQL_REVISIONS,)]
    assert query(ledger_database, "SELECT count(*) FROM crm.schema_migrations") == [(2,)]
    # stock Alembic reads each project's own version table
    assert alembic_current(sql_chain, one).startswith("timescaledb_003")
    assert alembic_current(ops_project, two).split()[0] == query(
        ledger_database, "SELECT version_num FROM crm.alembic_version")[0][0]
    # without the namespace the second project is told what to set, and nothing is applied
    shared = two.replace(POLYALEMBIC_LEDGER_SCHEMA=None, POLYALEMBIC_LEDGER_DSN=ledger_database)
    assert cli(sql_chain, one.replace(POLYALEMBIC_LEDGER_SCHEMA=None), "up").exit_code == 0
    refused = cli(ops_project, shared, "up")
    assert refused.exit_code == 1 and "POLYALEMBIC_LEDGER_SCHEMA" in refused.output.strip().splitlines()[-1]


def test_targets_that_would_migrate_one_place_twice_are_refused_before_anything_runs(
        sql_chain: Project, settings: Settings, admin_dsn: str, tmp_path: Path) -> None:
    base = sql_only(settings)
    dsn = base.database_url("timescaledb")
    env = base.replace(FLEET_PG_PASSWORD=password(admin_dsn))
    # "b" points its tables at a's schema but keeps a ledger of its own
    path = fleet_file(tmp_path, dsn, ["a", "b"], extra='\n[[target]]\nname = "c"\nPOSTGRES_SCHEMA = "tenant_a"\n'
                                                       'POLYALEMBIC_LEDGER_SCHEMA = "ledger_c"\n')
    result = cli(sql_chain, env, "fleet", "up", str(path))
    assert result.exit_code == 1
    assert result.output.strip().splitlines()[-1] == (
        f"polyalembic: error: fleet file: targets c and a both migrate postgres at "
        f"{dsn.split('@')[1].split('?')[0]} schema tenant_a with ledgers of their own: each would apply the chain "
        "there: give each target its own place (a database, a schema) or one ledger")
    assert set(schema_tables(dsn)) == set()  # nothing ran, no schema was made
    # one target named twice (one place, one ledger) is allowed: the lock serializes them
    twice = fleet_file(tmp_path, dsn, ["a"], extra='\n[[target]]\nname = "a-again"\nPOSTGRES_SCHEMA = "tenant_a"\n'
                                                   'TIMESCALE_SCHEMA = "tenant_a"\n', options="workers = 2\ncanary = 0")
    again = cli(sql_chain, env, "fleet", "up", str(twice))
    assert again.exit_code == 0, again.output
    assert "1 migrated" in again.output and "1 at head" in again.output
    assert query(dsn, "SELECT count(*) FROM tenant_a.schema_migrations") == [(SQL_REVISIONS,)]
