"""``polyalembic fleet up|status|repair`` (issue 24) on the real stack: database targets, each
with its own PostgreSQL database (its tables, alembic_version and ledger) and its own Chroma
database, migrated by worker processes that each run several targets; a target whose server is
down fails alone, and the failure policy decides whether new targets start; ``fleet repair``
retries the failed targets only. What each target got is read back from its own database and
Chroma database."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import chromadb
import psycopg
import pytest

from polyalembic.fleet.targets import shard_of
from polyalembic.project import Project
from polyalembic.settings import Settings
from polyalembic.stores.postgres.dsn import libpq_dsn
from tests.conftest import settings_env
from tests.test_recovery import cli

TARGETS = 50


def _admin(settings: Settings) -> chromadb.AdminAPI:
    return chromadb.AdminClient(chromadb.Settings(chroma_api_impl="chromadb.api.fastapi.FastAPI",
                                                  chroma_server_host=settings.env["CHROMA_HOST"],
                                                  chroma_server_http_port=int(settings.env["CHROMA_PORT"])))


@pytest.fixture
def tenants(settings: Settings, admin_dsn: str) -> Iterator[list[str]]:
    """TARGETS tenants, each with a PostgreSQL database ``fleet_<tenant>`` and a Chroma database ``<tenant>``."""
    token = secrets.token_hex(3)
    names = [f"t{token}_{k:02d}" for k in range(TARGETS)]
    admin = _admin(settings)
    with psycopg.connect(libpq_dsn(admin_dsn), autocommit=True) as conn:
        for name in names:
            conn.execute(f'CREATE DATABASE "fleet_{name}"')
            admin.create_database(name)
    yield names
    with psycopg.connect(libpq_dsn(admin_dsn), autocommit=True) as conn:
        for name in names:
            conn.execute(f'DROP DATABASE IF EXISTS "fleet_{name}" WITH (FORCE)')
            admin.delete_database(name)


@pytest.fixture
def chain(ops_project: Project, settings: Settings) -> Project:
    """Two PostgreSQL revisions and a Chroma one."""
    for store, name in (("postgres", "accounts"), ("chromadb", "documents"), ("postgres", "invoices")):
        assert cli(ops_project, settings, "generate", store, name).exit_code == 0
    return ops_project


def fleet_file(tmp_path: Path, settings: Settings, admin_dsn: str, tenants: list[str], extra: str = "",
               options: str = "") -> Path:
    """A fleet file: the tenants by list, their DSN a template with the password from ${FLEET_PG_PASSWORD}."""
    info = psycopg.conninfo.conninfo_to_dict(libpq_dsn(admin_dsn))
    path = tmp_path / "fleet.toml"
    path.write_text(f"""
[fleet]
{options or "workers = 2"}
tenants = {tenants!r}

[settings]
POSTGRES_DSN = "postgresql://{info['user']}:${{FLEET_PG_PASSWORD}}@{info['host']}:{info['port']}/fleet_{{tenant}}"
CHROMA_HOST = "{settings.env['CHROMA_HOST']}"
CHROMA_PORT = "{settings.env['CHROMA_PORT']}"
CHROMA_DATABASE = "{{tenant}}"
{extra}""")
    return path


def password(admin_dsn: str) -> str:
    return str(psycopg.conninfo.conninfo_to_dict(libpq_dsn(admin_dsn))["password"])


def fleet(project: Project, settings: Settings, admin_dsn: str, *args: str):  # type: ignore[no-untyped-def]
    return cli(project, settings.replace(FLEET_PG_PASSWORD=password(admin_dsn)), "fleet", *args)


def tables(admin_dsn: str, tenant: str) -> tuple[set[str], list[str]]:
    """The tenant database's tables and its ledger's applied revisions."""
    dsn = admin_dsn.rsplit("/", 1)[0] + f"/fleet_{tenant}"
    with psycopg.connect(libpq_dsn(dsn)) as conn:
        names = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        applied = [r[0] for r in conn.execute("SELECT revision FROM schema_migrations WHERE status = 'applied' "
                                              "ORDER BY revision")] if "schema_migrations" in names else []
    return names, applied


def hold(admin_dsn: str, tenant: str, statement: str) -> None:
    """Run ``statement`` in the tenant's database."""
    with psycopg.connect(libpq_dsn(admin_dsn.rsplit("/", 1)[0] + f"/fleet_{tenant}"), autocommit=True) as conn:
        conn.execute(statement)


def collections(settings: Settings, tenant: str) -> list[str]:
    client = chromadb.HttpClient(host=settings.env["CHROMA_HOST"], port=int(settings.env["CHROMA_PORT"]),
                                 database=tenant)
    return sorted(c.name for c in client.list_collections())


def test_a_fleet_of_database_targets_is_migrated_each_in_its_own_databases(
        chain: Project, settings: Settings, admin_dsn: str, tenants: list[str], tmp_path: Path) -> None:
    path = fleet_file(tmp_path, settings, admin_dsn, tenants)
    # one shard of two first (a CI matrix's job), by the stock CLI with JSON events: each names its target
    first = [t for t in tenants if shard_of(t, 2) == 1]
    env = {**settings_env(settings), "FLEET_PG_PASSWORD": password(admin_dsn)}
    shard_run = subprocess.run([sys.executable, "-m", "polyalembic", "-c", str(chain.config_path), "--log-format",
                                "json", "fleet", "up", str(path), "--shard", "1/2"],
                               env=env, capture_output=True, text=True, timeout=300)
    assert shard_run.returncode == 0, shard_run.stderr[-3000:]
    events = [json.loads(line) for line in shard_run.stdout.splitlines()]
    applied = [e for e in events if e["event"] == "applied"]
    assert len(applied) == 3 * len(first) and {e["target"] for e in applied} == set(first), shard_run.stdout[-2000:]
    assert all(tables(admin_dsn, t)[1] == [] for t in tenants if t not in first)

    up = fleet(chain, settings, admin_dsn, "up", str(path))
    assert up.exit_code == 0, up.output
    rest = TARGETS - len(first)
    assert f"fleet up: {TARGETS} target(s): {rest} migrated, {len(first)} at head" in up.output
    assert f"applied per store: chromadb {rest}, postgres {2 * rest}" in up.output
    assert f"[{TARGETS}/{TARGETS}]" in up.output
    # two workers ran twelve targets: each target's objects and rows are in its own databases only
    for tenant in tenants:
        names, applied = tables(admin_dsn, tenant)
        assert {"accounts", "invoices", "schema_migrations", "alembic_version"} <= names
        assert applied == ["chromadb_001", "postgres_001", "postgres_002"], tenant
        assert collections(settings, tenant) == ["documents"]

    again = fleet(chain, settings, admin_dsn, "up", str(path))
    assert again.exit_code == 0 and f"{TARGETS} at head" in again.output, again.output
    status = fleet(chain, settings, admin_dsn, "status", str(path), "--check")
    assert status.exit_code == 0 and f"fleet status: {TARGETS} target(s): {TARGETS} at head" in status.output
    valid = fleet(chain, settings, admin_dsn, "validate", str(path))
    assert valid.exit_code == 0 and f"fleet validate: {TARGETS} target(s): {TARGETS} valid" in valid.output

    # one tenant's table dropped by hand: fleet drift names that target alone
    dsn = admin_dsn.rsplit("/", 1)[0] + f"/fleet_{tenants[7]}"
    with psycopg.connect(libpq_dsn(dsn), autocommit=True) as conn:
        conn.execute("DROP TABLE invoices")
    drift = fleet(chain, settings, admin_dsn, "drift", str(path))
    assert drift.exit_code == 1, drift.output
    assert f"fleet drift: {TARGETS} target(s): {TARGETS - 1} clean, 1 drifted" in drift.output
    assert f"polyalembic: error: fleet drift: 1 of {TARGETS} target(s) drifted: {tenants[7]}" in drift.output


def test_a_target_that_fails_stops_new_ones_unless_told_to_continue(
        chain: Project, settings: Settings, admin_dsn: str, tenants: list[str], tmp_path: Path) -> None:
    """One worker, no canary: the third target's database does not exist; the two before it are
    migrated, none after it starts, and ``--continue`` goes on with them."""
    before, after = tenants[:2], tenants[2:4]
    path = fleet_file(tmp_path, settings, admin_dsn, [*before, "nodb", *after], options="workers = 1\ncanary = 0")
    stopped = fleet(chain, settings, admin_dsn, "up", str(path))
    assert stopped.exit_code == 1
    assert "polyalembic: error: fleet up: 1 of 5 target(s) failed: nodb" in stopped.output, stopped.output
    assert re.search(r"^\[3/5\] nodb +failed in [0-9.]+ s: \S+: cannot connect to postgresql://\S+:\*\*\*@",
                     stopped.output, re.MULTILINE), stopped.output
    assert "fleet up: 5 target(s): 2 migrated, 1 failed, 2 not started" in stopped.output
    assert "not started  " + ", ".join(after) in stopped.output
    assert password(admin_dsn) not in stopped.output
    assert [tables(admin_dsn, t)[1] != [] for t in before + after] == [True, True, False, False]

    going_on = fleet(chain, settings, admin_dsn, "up", str(path), "--continue")
    assert going_on.exit_code == 1
    assert "fleet up: 5 target(s): 2 migrated, 2 at head, 1 failed" in going_on.output, going_on.output
    assert all(tables(admin_dsn, t)[1] == ["chromadb_001", "postgres_001", "postgres_002"] for t in before + after)


def test_a_failed_canary_stops_the_run_even_when_told_to_continue(
        chain: Project, settings: Settings, admin_dsn: str, tenants: list[str], tmp_path: Path) -> None:
    """The canary is a target of its own, spelled out (named targets come first), on a server that
    is down: it fails, and no other target starts, --continue or not."""
    down = '\n[[target]]\nname = "down"\nPOSTGRES_DSN = "postgresql://app:${FLEET_PG_PASSWORD}@127.0.0.1:9/x"\n'
    path = fleet_file(tmp_path, settings, admin_dsn, tenants[:4], extra=down, options="workers = 2\ncanary = 1")
    stopped = fleet(chain, settings, admin_dsn, "up", str(path), "--continue")
    assert stopped.exit_code == 1
    assert "fleet up: 5 target(s): 1 failed, 4 not started" in stopped.output, stopped.output
    assert "failed       down: postgres: cannot connect to postgresql://app:***@127.0.0.1:9/x" in stopped.output
    assert password(admin_dsn) not in stopped.output
    assert all(tables(admin_dsn, t) == (set(), []) for t in tenants[:4])


def test_two_fleet_runs_started_together_drain_one_fleet_through_the_claims_database(
        chain: Project, settings: Settings, admin_dsn: str, tenants: list[str], tmp_path: Path) -> None:
    """Two machines (here two processes) run one fleet: each claims targets through session locks
    in the claims database; every target is migrated by exactly one of them."""
    path = fleet_file(tmp_path, settings, admin_dsn, tenants,
                      options=f'workers = 1\ncanary = 0\nclaims = "{admin_dsn}"')
    env = {**settings_env(settings), "FLEET_PG_PASSWORD": password(admin_dsn)}
    command = [sys.executable, "-m", "polyalembic", "-c", str(chain.config_path), "fleet", "up", str(path)]
    runs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    outputs = [run.communicate(timeout=600) for run in runs]
    assert [run.returncode for run in runs] == [0, 0], [err[-2000:] for _, err in outputs]
    migrated = [set(re.findall(r"^\[ *\d+/\d+\] (\S+) +migrated in ", out, re.MULTILINE)) for out, _ in outputs]
    assert migrated[0] and migrated[1], outputs  # each claimed at least one
    assert not migrated[0] & migrated[1] and migrated[0] | migrated[1] == set(tenants)
    for tenant in tenants:  # and none was migrated twice: one applied row and one audit entry per revision
        assert tables(admin_dsn, tenant)[1] == ["chromadb_001", "postgres_001", "postgres_002"]


#: the chain's last revision commits statement by statement; its second statement fails on a
#: tenant that already holds a table named invoices (one made by hand: a cause of that tenant's own)
INVOICES_UP = ("-- polyalembic: no-transaction\n"
               "CREATE TABLE IF NOT EXISTS invoice_lines (id BIGINT PRIMARY KEY);\n"
               "CREATE TABLE invoices (id BIGINT PRIMARY KEY, total NUMERIC NOT NULL);\n")


def tenant_sql(admin_dsn: str, tenant: str, text: str) -> list[tuple[object, ...]]:
    """The rows of ``text`` in the tenant's database (none for a statement that returns none)."""
    dsn = admin_dsn.rsplit("/", 1)[0] + f"/fleet_{tenant}"
    with psycopg.connect(libpq_dsn(dsn), autocommit=True) as conn:
        cursor = conn.execute(text)
        return cursor.fetchall() if cursor.description else []


def audit_rows(admin_dsn: str, tenant: str) -> list[tuple[object, ...]]:
    """The tenant's audit table, oldest first: (revision, action)."""
    return tenant_sql(admin_dsn, tenant, "SELECT revision, action FROM schema_migrations_audit ORDER BY id")


def invoices_row(admin_dsn: str, tenant: str) -> tuple[object, ...]:
    """(status, completed_steps) of the tenant's ledger row of postgres_002."""
    (row,) = tenant_sql(admin_dsn, tenant, "SELECT status, completed_steps FROM schema_migrations "
                                           "WHERE revision = 'postgres_002'")
    return row


def test_fleet_repair_retries_only_the_targets_whose_migration_failed(
        chain: Project, settings: Settings, admin_dsn: str, tenants: list[str], tmp_path: Path) -> None:
    """Three tenants of six hold a table the last revision makes: it fails half way on those
    alone. Once the cause is gone from two of them, ``fleet repair`` resumes exactly those two
    (audited ``repair:resume``, then ``up``), only reads the three healthy ones, and exits 1 naming
    the one that fails again; ``fleet repair retry`` then takes that one from its first step."""
    (invoices,) = (chain.migrations_dir / "postgres").glob("*_invoices.up.sql")
    invoices.write_text(INVOICES_UP)
    six = tenants[:6]
    blocked = [six[1], six[3], six[4]]
    healthy = [t for t in six if t not in blocked]
    for tenant in blocked:
        tenant_sql(admin_dsn, tenant, "CREATE TABLE invoices (legacy TEXT)")
    path = fleet_file(tmp_path, settings, admin_dsn, six, options="workers = 2\ncanary = 0")
    up = fleet(chain, settings, admin_dsn, "up", str(path), "--continue")
    assert up.exit_code == 1, up.output
    assert "fleet up: 6 target(s): 3 migrated, 3 failed" in up.output, up.output
    assert all(invoices_row(admin_dsn, t) == ("failed", 1) for t in blocked)  # half done: step 1 committed
    before = {t: audit_rows(admin_dsn, t) for t in six}

    for tenant in blocked[:2]:  # the cause removed on two of the three
        tenant_sql(admin_dsn, tenant, "DROP TABLE invoices")
    repaired = fleet(chain, settings, admin_dsn, "repair", str(path), "--continue")
    assert repaired.exit_code == 1, repaired.output
    assert "fleet repair: 6 target(s): 2 repaired, 3 not failed, 1 failed" in repaired.output, repaired.output
    assert "applied per store: postgres 2" in repaired.output
    assert f"polyalembic: error: fleet repair: 1 of 6 target(s) failed: {blocked[2]}" in repaired.output
    assert re.search(rf"^\[ ?\d/6\] {blocked[2]} +failed in [0-9.]+ s: .*already exists", repaired.output,
                     re.MULTILINE), repaired.output
    assert all(re.search(rf"^\[ ?\d/6\] {t} +not failed in ", repaired.output, re.MULTILINE) for t in healthy)
    for tenant in blocked[:2]:
        names, applied = tables(admin_dsn, tenant)
        assert {"invoices", "invoice_lines"} <= names and applied == ["chromadb_001", "postgres_001", "postgres_002"]
        assert tenant_sql(admin_dsn, tenant, "SELECT column_name FROM information_schema.columns "
                                             "WHERE table_name = 'invoices' ORDER BY ordinal_position") == \
            [("id",), ("total",)]
        assert audit_rows(admin_dsn, tenant)[len(before[tenant]):] == [("postgres_002", "repair:resume"),
                                                                       ("postgres_002", "upgrade")]
    for tenant in healthy:  # only read: not one audit row more
        assert audit_rows(admin_dsn, tenant) == before[tenant]
    assert invoices_row(admin_dsn, blocked[2]) == ("failed", 1)  # resumed, and failed again at step 2
    assert audit_rows(admin_dsn, blocked[2])[len(before[blocked[2]]):] == [("postgres_002", "repair:resume"),
                                                                           ("postgres_002", "failed")]

    # the last one's cause removed: retry (its first statement may run again), with JSON events
    tenant_sql(admin_dsn, blocked[2], "DROP TABLE invoices")
    settled = {t: audit_rows(admin_dsn, t) for t in six}
    env = {**settings_env(settings), "FLEET_PG_PASSWORD": password(admin_dsn)}
    retry = subprocess.run([sys.executable, "-m", "polyalembic", "-c", str(chain.config_path), "--log-format",
                            "json", "fleet", "repair", str(path), "retry"],
                           env=env, capture_output=True, text=True, timeout=300)
    assert retry.returncode == 0, retry.stderr[-3000:]
    events = [json.loads(line) for line in retry.stdout.splitlines()]
    finished = {e["target"]: e["outcome"] for e in events if e["event"] == "target_finished"}
    assert finished == {t: "repaired" if t == blocked[2] else "not failed" for t in six}, retry.stdout[-3000:]
    applied = [(e["target"], e["revision"]) for e in events if e["event"] == "applied"]
    assert applied == [(blocked[2], "postgres_002")], retry.stdout[-3000:]
    (last,) = [e for e in events if e["event"] == "fleet_finished"]
    assert (last["command"], last["repaired"], last["not failed"], last["failed"]) == ("repair", 1, 5, 0)
    assert audit_rows(admin_dsn, blocked[2])[len(settled[blocked[2]]):] == [("postgres_002", "repair:retry"),
                                                                           ("postgres_002", "upgrade")]
    assert all(audit_rows(admin_dsn, t) == settled[t] for t in six if t != blocked[2])
    status = fleet(chain, settings, admin_dsn, "status", str(path), "--check")
    assert status.exit_code == 0 and "fleet status: 6 target(s): 6 at head" in status.output, status.output


def test_fleet_repair_of_a_target_it_cannot_reach_fails_naming_it(
        chain: Project, settings: Settings, admin_dsn: str, tenants: list[str], tmp_path: Path) -> None:
    """A target whose ledger can't be read is no target repair can leave alone: it fails, named
    (the policy stops the run there), and its password appears nowhere."""
    path = fleet_file(tmp_path, settings, admin_dsn, [tenants[0], "nodb", tenants[1]],
                      options="workers = 1\ncanary = 0")
    assert fleet(chain, settings, admin_dsn, "up", str(path), "--continue").exit_code == 1
    repaired = fleet(chain, settings, admin_dsn, "repair", str(path))
    assert repaired.exit_code == 1
    assert "fleet repair: 3 target(s): 1 not failed, 1 failed, 1 not started" in repaired.output, repaired.output
    assert "polyalembic: error: fleet repair: 1 of 3 target(s) failed: nodb" in repaired.output
    assert re.search(r"^\[2/3\] nodb +failed in [0-9.]+ s: \S+: cannot connect to postgresql://\S+:\*\*\*@",
                     repaired.output, re.MULTILINE), repaired.output
    assert password(admin_dsn) not in repaired.output


def test_a_target_whose_server_goes_away_mid_run_fails_alone_while_the_others_finish(
        chain: Project, settings: Settings, admin_dsn: str, tenants: list[str], tmp_path: Path) -> None:
    """The victim's migration is cut off half way (its server session terminated, as a failover or
    a restart does): that target fails in one line naming it, the other targets finish, and the
    victim's next run applies what was cut off."""
    assert cli(chain, settings, "generate", "postgres", "slow_for_one").exit_code == 0
    victim = tenants[1]
    up_file = next((chain.migrations_dir / "postgres").glob("*_slow_for_one.up.sql"))
    up_file.write_text("CREATE TABLE slow_for_one (id INT);\n"
                       "DO $$ BEGIN IF to_regclass('public.hold_me') IS NOT NULL THEN PERFORM pg_sleep(60); END IF; "
                       "END $$;\n")
    hold(admin_dsn, victim, "CREATE TABLE public.hold_me ()")
    path = fleet_file(tmp_path, settings, admin_dsn, tenants[:6], options="workers = 2\ncanary = 0")
    env = {**settings_env(settings), "FLEET_PG_PASSWORD": password(admin_dsn)}
    run = subprocess.Popen([sys.executable, "-m", "polyalembic", "-c", str(chain.config_path), "fleet", "up",
                            str(path), "--continue"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True)
    with psycopg.connect(libpq_dsn(admin_dsn), autocommit=True) as conn:
        for _ in range(600):  # the victim's session sleeping inside its migration
            pids = [r[0] for r in conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND "
                                               "query LIKE '%%pg_sleep%%'", (f"fleet_{victim}",))]
            if pids or run.poll() is not None:
                break
            time.sleep(0.1)
        assert pids, "the victim's migration never started"
        conn.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                     (f"fleet_{victim}",))
    output, _ = run.communicate(timeout=120)
    assert run.returncode == 1, output
    assert output.strip().splitlines()[-1] == f"polyalembic: error: fleet up: 1 of 6 target(s) failed: {victim}"
    assert re.search(rf"^\[\d/6\] {victim} +failed in [0-9.]+ s: .*terminat", output, re.MULTILINE), output
    assert "fleet up: 6 target(s): 5 migrated, 1 failed" in output, output
    assert password(admin_dsn) not in output
    for tenant in tenants[:6]:
        names, applied = tables(admin_dsn, tenant)
        assert ("slow_for_one" in names) == (tenant != victim), tenant  # the cut-off transaction rolled back
        assert len(applied) == (4 if tenant != victim else 3), (tenant, applied)
    hold(admin_dsn, victim, "DROP TABLE public.hold_me")  # the cause gone (what an operator fixes)
    again = fleet(chain, settings, admin_dsn, "up", str(path))
    assert again.exit_code == 0, again.output
    assert "fleet up: 6 target(s): 1 migrated, 5 at head" in again.output, again.output
