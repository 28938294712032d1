"""Fleets of targets that each have their own Neo4j server (issue 24's "done when"): the stack's
two Neo4j lines (5.26 LTS and the newest) and a third LTS server this module starts from the
stack's own service class, each target with its own PostgreSQL database (its ledger) and its own
Chroma database. Neo4j Community serves one user database per server, so a graph of its own is a
server of its own.

The isolation proof: Alembic's ``op`` and ``context`` are module-level proxies and a fleet worker
migrates target after target in one process, so anything that outlived one target's run (a proxy
still bound, an engine, driver or client cached by the wrong key, a connection left open) would
show in the next one's. Every revision writes a marker into its store (``tests/fleet_probe.py``):
the ledger database Alembic's ``op`` hands it, the worker's pid, and the servers and databases
the worker held sessions on at that moment. Each store is then read through its own driver."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import chromadb
import psycopg
import pytest
from neo4j import GraphDatabase

from polyalembic.project import Project
from polyalembic.settings import Settings
from polyalembic.stores.postgres.dsn import libpq_dsn
from stack.base import runs_from, stop_pid
from stack.manager import service
from stack.neo4j import Neo4jService
from tests.conftest import settings_env
from tests.scratch import reset_stores
from tests.support import add_revision
from tests.test_fleet import collections, password, tables
from tests.test_recovery import cli

CHAIN = ["chromadb_001", "neo4j_001", "postgres_001"]  # as the ledger lists them (by revision)

POSTGRES_001 = '''
"""Accounts, and this run's marker: the database, server port and process it ran in, and the
databases the process held sessions on then."""
import os

from alembic import op

from tests import fleet_probe

revision = "postgres_001"
down_revision = None
store = "postgres"


def upgrade():
    op.execute("CREATE TABLE accounts (id bigint PRIMARY KEY, name text NOT NULL)")
    op.execute("CREATE TABLE fleet_marker (ledger text, port int, pid int, sessions text)")
    port = op.get_bind().exec_driver_sql("SELECT inet_server_port()").scalar_one()
    mine = ",".join(str(local) for local, remote in fleet_probe.connections() if remote == port)
    op.execute("INSERT INTO fleet_marker SELECT current_database(), inet_server_port(), " + str(os.getpid()) +
               ", (SELECT string_agg(DISTINCT datname, ',' ORDER BY datname) FROM pg_stat_activity "
               "WHERE client_port IN (" + mine + "))")


def downgrade():
    op.execute("DROP TABLE fleet_marker")
    op.execute("DROP TABLE accounts")
'''

NEO4J_001 = '''
"""The account graph's constraint and index, and this run's marker node."""
import os

from alembic import op

from tests import fleet_probe

revision = "neo4j_001"
down_revision = "postgres_001"
store = "neo4j"


def upgrade():
    op.create_graph_constraint("account_id_unique", "Account", "id")
    op.create_graph_index("account_name", "Account", "name")
    op.run_cypher("CREATE (:FleetMarker {ledger: $ledger, pid: $pid, servers: $servers})",
                  parameters={"ledger": fleet_probe.ledger_database(op), "pid": os.getpid(),
                              "servers": fleet_probe.remote_ports()})


def downgrade():
    op.run_cypher("MATCH (m:FleetMarker) DELETE m")
    op.drop_graph_index("account_name")
    op.drop_graph_constraint("account_id_unique")
'''

CHROMADB_001 = '''
"""The documents collection, its metadata this run's marker (the last revision: every store of
the run is connected by now, so ``servers`` is all the worker held)."""
import os

from alembic import op

from tests import fleet_probe

revision = "chromadb_001"
down_revision = "neo4j_001"
store = "chromadb"


def upgrade():
    op.create_collection("documents", metadata={"ledger": fleet_probe.ledger_database(op), "pid": os.getpid(),
                                                "servers": fleet_probe.remote_ports()})


def downgrade():
    op.delete_collection("documents")
'''


@dataclass(frozen=True)
class Graph:
    """A Neo4j server a target has to itself."""

    uri: str
    password: str

    @property
    def port(self) -> int:
        return int(self.uri.rsplit(":", 1)[1])

    def query(self, cypher: str) -> list[dict[str, object]]:
        with GraphDatabase.driver(self.uri, auth=("neo4j", self.password)) as driver:
            return [r.data() for r in driver.execute_query(cypher, database_="neo4j").records]


@pytest.fixture(scope="module")
def third_neo4j(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Graph]:
    """A third Neo4j server (the LTS line), from the stack's own service class in a folder of its
    own, on free ports; killed at the end (its store is thrown away, so no clean shutdown is
    waited for). Its start is printed: about 20 s on the stack's 2 cores."""
    svc = Neo4jService(stack_dir=tmp_path_factory.mktemp("third-neo4j"))
    svc.install()  # the jars are the stack's LTS's, in the user cache
    started = time.monotonic()
    state = svc.start()
    print(f"third Neo4j {state.version} on 127.0.0.1:{state.port} started in {time.monotonic() - started:.1f} s")
    try:
        yield Graph(state.settings["NEO4J_URI"], state.settings["NEO4J_PASSWORD"])
    finally:
        if runs_from(state.pid, svc.dir):
            stop_pid(state.pid, timeout=2)
        shutil.rmtree(svc.dir, ignore_errors=True)


@pytest.fixture
def graphs(third_neo4j: Graph, base_settings: Settings) -> list[Graph]:
    """Three emptied Neo4j servers: the stack's LTS and newest lines, and the third."""
    found = []
    for name in ("neo4j", "neo4j-newest"):
        state = service(name).load_state()
        assert state, f"the stack did not start {name}"
        found.append(Graph(state.settings["NEO4J_URI"], state.settings["NEO4J_PASSWORD"]))
    found.append(third_neo4j)
    for graph in found:
        reset_stores(base_settings.replace(NEO4J_URI=graph.uri, NEO4J_PASSWORD=graph.password), ("neo4j",))
    return found


@pytest.fixture
def targets(settings: Settings, admin_dsn: str) -> Iterator[list[str]]:
    """Three targets, each with a PostgreSQL database ``fleet_<target>`` and a Chroma database ``<target>``."""
    token = secrets.token_hex(3)
    names = [f"g{token}_{k}" for k in range(3)]
    admin = chromadb.AdminClient(chromadb.Settings(chroma_api_impl="chromadb.api.fastapi.FastAPI",
                                                   chroma_server_host=settings.env["CHROMA_HOST"],
                                                   chroma_server_http_port=int(settings.env["CHROMA_PORT"])))
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
def chain(ops_project: Project) -> Project:
    """postgres_001 -> neo4j_001 -> chromadb_001, each writing its marker."""
    for store, source in (("postgres", POSTGRES_001), ("neo4j", NEO4J_001), ("chromadb", CHROMADB_001)):
        add_revision(ops_project, f"001_{store}_marked.py", source, store)
    return ops_project


def graph_fleet(tmp_path: Path, settings: Settings, admin_dsn: str, targets: dict[str, Graph], options: str) -> Path:
    """A fleet file: the targets spelled out, each with its own Neo4j server; the shared settings
    give each its database and its Chroma database; every password from the environment."""
    info = psycopg.conninfo.conninfo_to_dict(libpq_dsn(admin_dsn))
    path = tmp_path / "fleet.toml"
    own = "".join(f'\n[[target]]\nname = "{name}"\nNEO4J_URI = "{graph.uri}"\n'
                  f'NEO4J_PASSWORD = "${{FLEET_NEO4J_PASSWORD_{k}}}"\n'
                  for k, (name, graph) in enumerate(targets.items()))
    path.write_text(f"""
[fleet]
{options}

[settings]
POSTGRES_DSN = "postgresql://{info['user']}:${{FLEET_PG_PASSWORD}}@{info['host']}:{info['port']}/fleet_{{tenant}}"
NEO4J_USER = "neo4j"
CHROMA_HOST = "{settings.env['CHROMA_HOST']}"
CHROMA_PORT = "{settings.env['CHROMA_PORT']}"
CHROMA_DATABASE = "{{tenant}}"
{own}""")
    return path


def passwords(admin_dsn: str, targets: dict[str, Graph]) -> dict[str, str]:
    """The fleet file's ``${VAR}`` values."""
    return {"FLEET_PG_PASSWORD": password(admin_dsn),
            **{f"FLEET_NEO4J_PASSWORD_{k}": graph.password for k, graph in enumerate(targets.values())}}


def pg_markers(admin_dsn: str, target: str) -> list[tuple[str, int, int, str]]:
    dsn = admin_dsn.rsplit("/", 1)[0] + f"/fleet_{target}"
    with psycopg.connect(libpq_dsn(dsn)) as conn:
        return [tuple(r) for r in conn.execute("SELECT ledger, port, pid, sessions FROM fleet_marker")]


def audit(admin_dsn: str, target: str) -> list[tuple[str, str]]:
    dsn = admin_dsn.rsplit("/", 1)[0] + f"/fleet_{target}"
    with psycopg.connect(libpq_dsn(dsn)) as conn:
        return [tuple(r) for r in conn.execute("SELECT revision, action FROM schema_migrations_audit "
                                               "ORDER BY revision")]


def graph_state(graph: Graph) -> tuple[list[str], list[str], list[dict[str, object]]]:
    """The server's constraints, user indexes (not a constraint's own) and marker nodes, by its own driver."""
    constraints = [r["name"] for r in graph.query("SHOW CONSTRAINTS YIELD name RETURN name ORDER BY name")]
    indexes = [r["name"] for r in graph.query("SHOW INDEXES YIELD name, type, owningConstraint WHERE type <> 'LOOKUP' "
                                              "AND owningConstraint IS NULL RETURN name ORDER BY name")]
    markers = graph.query("MATCH (m:FleetMarker) RETURN m.ledger AS ledger, m.pid AS pid, m.servers AS servers")
    return constraints, indexes, markers


def documents_metadata(settings: Settings, target: str) -> dict[str, object]:
    client = chromadb.HttpClient(host=settings.env["CHROMA_HOST"], port=int(settings.env["CHROMA_PORT"]),
                                 database=target)
    return dict(client.get_collection("documents").metadata or {})


def test_three_targets_each_on_its_own_neo4j_server_and_chroma_database(
        chain: Project, settings: Settings, admin_dsn: str, targets: list[str], graphs: list[Graph],
        tmp_path: Path) -> None:
    """The stock CLI's ``fleet up`` (2 workers, a canary) migrates the three; every server and
    database holds its own target's objects and marker only (the CLI's environment names one of the
three servers in NEO4J_URI: no other target fell back on it), and ``fleet status`` says all at head."""
    placed = dict(zip(targets, graphs, strict=True))
    path = graph_fleet(tmp_path, settings, admin_dsn, placed, "workers = 2")
    env = settings.replace(**passwords(admin_dsn, placed))
    up = cli(chain, env, "fleet", "up", str(path))
    assert up.exit_code == 0, up.output
    assert "fleet up: 3 target(s): 3 migrated" in up.output
    assert "applied per store: chromadb 3, neo4j 3, postgres 3" in up.output
    assert not any(graph.password in up.output for graph in graphs)

    for target, graph in placed.items():
        ledger = f"fleet_{target}"
        assert graph_state(graph)[:2] == (["account_id_unique"], ["account_name"]), target
        assert [m["ledger"] for m in graph_state(graph)[2]] == [ledger], target
        names, applied = tables(admin_dsn, target)
        assert {"accounts", "fleet_marker", "schema_migrations"} <= names and applied == CHAIN, target
        assert audit(admin_dsn, target) == [(revision, "upgrade") for revision in CHAIN], target
        assert [m[0] for m in pg_markers(admin_dsn, target)] == [ledger], target
        assert collections(settings, target) == ["documents"]
        assert documents_metadata(settings, target)["ledger"] == ledger

    status = cli(chain, env, "fleet", "status", str(path), "--check")
    assert status.exit_code == 0, status.output
    assert "fleet status: 3 target(s): 3 at head" in status.output


def test_two_targets_in_one_worker_never_touch_each_others_connections(
        chain: Project, settings: Settings, admin_dsn: str, targets: list[str], graphs: list[Graph],
        tmp_path: Path) -> None:
    """One worker migrates A, then B, on two Neo4j servers of the same version (the stack's LTS and
    the third), two databases of one PostgreSQL server and two databases of one Chroma server:
    nothing but the connection tells them apart. Each of the six markers was written by the same
    worker process, names its own target's ledger (Alembic's ``op`` was bound to that target's
    run) and lies in that target's store only; when B ran, the worker held no connection to A's
    Neo4j server nor a session on A's database, and no more connections than A's run had."""
    a, b = targets[:2]
    placed = {a: graphs[0], b: graphs[2]}
    path = graph_fleet(tmp_path, settings, admin_dsn, placed, "workers = 1\ncanary = 0")
    env = {**settings_env(settings), **passwords(admin_dsn, placed)}
    run = subprocess.Popen([sys.executable, "-m", "polyalembic", "-c", str(chain.config_path), "--log-format", "json",
                            "fleet", "up", str(path)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           text=True)
    out, err = run.communicate(timeout=300)
    assert run.returncode == 0, err[-3000:]
    events = [json.loads(line) for line in out.splitlines()]
    assert [(e["target"], e["outcome"]) for e in events if e["event"] == "target_finished"] == \
        [(a, "migrated"), (b, "migrated")]
    for target, graph in placed.items():  # each target's events name its own stores
        started = {e["store"]: e["location"] for e in events if e["event"] == "migration_started"
                   and e["target"] == target}
        assert set(started) == {"postgres", "neo4j", "chromadb"}, (target, started)
        assert started["neo4j"].startswith(f"{graph.uri} ") and f"(database {target})" in started["chromadb"]
        assert f"/fleet_{target}" in started["postgres"]

    pg_port = int(psycopg.conninfo.conninfo_to_dict(libpq_dsn(admin_dsn))["port"])
    chroma_port = int(settings.env["CHROMA_PORT"])
    pids = set()
    servers: dict[str, Counter[int]] = {}
    for target, graph in placed.items():
        ledger = f"fleet_{target}"
        rows = pg_markers(admin_dsn, target)
        assert [row[:2] for row in rows] == [(ledger, pg_port)], target  # its own marker, not the other's too
        (_, _, pid, sessions), = rows
        assert sessions == ledger, target  # the worker had no session on the other target's database then
        constraints, indexes, nodes = graph_state(graph)
        assert (constraints, indexes) == (["account_id_unique"], ["account_name"]), target
        assert [n["ledger"] for n in nodes] == [ledger], target  # its own marker, not the other's too
        node = nodes[0]
        assert collections(settings, target) == ["documents"], target
        metadata = documents_metadata(settings, target)
        assert metadata["ledger"] == ledger, target
        pids |= {pid, node["pid"], metadata["pid"]}
        servers[target] = Counter(int(p) for p in str(metadata["servers"]).split(","))
        # all the worker was connected to while this target's last revision ran: its own Neo4j,
        # the PostgreSQL and Chroma servers; none of the other target's Neo4j
        assert set(servers[target]) == {pg_port, graph.port, chroma_port}, (target, servers[target])
        assert not {int(p) for p in str(node["servers"]).split(",")} - {pg_port, graph.port, chroma_port}
    assert len(pids) == 1 and not pids & {os.getpid(), run.pid}, pids  # one worker of the CLI ran A and B
    # B's run held no more connections than A's: nothing of A's run was left open
    for port in (chroma_port, pg_port):
        assert servers[b][port] <= servers[a][port], (port, servers)
    assert not any(secret in out + err for secret in passwords(admin_dsn, placed).values())
