"""The local stack: each real server answers (issues 2 and 7)."""

from __future__ import annotations

import random

import psycopg
import pytest
import sqlalchemy as sa

from polyalembic.settings import Settings
from polyalembic.stores.connections import StoreConnections
from polyalembic.stores.postgres.dsn import libpq_dsn


def test_postgres_answers(base_settings: Settings) -> None:
    with psycopg.connect(libpq_dsn(base_settings.database_url("postgres"))) as conn:
        version = conn.execute("SELECT version()").fetchone()[0]
    assert version.startswith("PostgreSQL ")
    print(version)


def test_postgres_runs_timescaledb_preloaded_with_its_background_scheduler(base_settings: Settings) -> None:
    """A real server, not an emulation: TimescaleDB 2.28.3 preloaded into PostgreSQL 15, its
    background-worker launcher and a scheduler for the stack's database running."""
    from stack.timescaledb import VERSION

    with psycopg.connect(libpq_dsn(base_settings.database_url("timescaledb"))) as conn:
        server = conn.execute("SHOW server_version_num").fetchone()[0]
        preload = conn.execute("SHOW shared_preload_libraries").fetchone()[0]
        version = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").fetchone()[0]
        workers = {r[0] for r in conn.execute("SELECT backend_type FROM pg_stat_activity")}
    assert server.startswith("15")
    assert "timescaledb" in preload
    assert version == VERSION
    assert {"TimescaleDB Background Worker Launcher", "TimescaleDB Background Worker Scheduler"} <= workers


def test_timescaledb_extension_and_hypertable_round_trip(base_settings: Settings) -> None:
    with StoreConnections(base_settings) as connections:
        conn = connections.get("timescaledb")
        version = conn.execute(sa.text("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")).scalar()
        assert version and version.startswith("2."), version
        conn.execute(sa.text("DROP TABLE IF EXISTS stack_probe"))
        conn.execute(sa.text("CREATE TABLE stack_probe (time TIMESTAMPTZ NOT NULL, v DOUBLE PRECISION)"))
        conn.execute(sa.text("SELECT create_hypertable('stack_probe', by_range('time', INTERVAL '1 day'))"))
        conn.execute(sa.text("INSERT INTO stack_probe SELECT t, 1.0 FROM generate_series("
                             "now() - INTERVAL '3 days', now(), INTERVAL '1 hour') t"))
        chunks = conn.execute(sa.text("SELECT count(*) FROM show_chunks('stack_probe')")).scalar()
        rows = conn.execute(sa.text("SELECT count(*) FROM stack_probe")).scalar()
        conn.execute(sa.text("DROP TABLE stack_probe"))
        conn.commit()
    assert rows == 73
    assert chunks >= 3
    print(f"TimescaleDB {version}")


def test_neo4j_components_write_and_read(base_settings: Settings) -> None:
    with StoreConnections(base_settings) as connections:
        graph = connections.get("neo4j")
        records, _, _ = graph.driver.execute_query(
            "CALL dbms.components() YIELD name, versions, edition RETURN name, versions[0] AS v, edition",
            database_=graph.database)
        marker = random.randint(1, 10**9)
        graph.driver.execute_query("CREATE (:StackProbe {marker: $m})", {"m": marker}, database_=graph.database)
        found, _, _ = graph.driver.execute_query(
            "MATCH (p:StackProbe {marker: $m}) RETURN count(p) AS n", {"m": marker}, database_=graph.database)
        graph.driver.execute_query("MATCH (p:StackProbe) DELETE p", database_=graph.database)
    from stack.manager import neo4j_service_name, service

    assert records[0]["v"] == service(neo4j_service_name()).line.version
    assert found[0]["n"] == 1
    print(f"Neo4j {records[0]['v']} {records[0]['edition']}")


@pytest.mark.parametrize("mode", ["http", "embedded"])
def test_chroma_heartbeat_and_collection_round_trip(base_settings: Settings, mode: str, tmp_path) -> None:
    settings = base_settings if mode == "http" else base_settings.replace(
        CHROMA_HOST=None, CHROMA_PORT=None, CHROMA_PATH=str(tmp_path / "chroma"))
    with StoreConnections(settings) as connections:
        client = connections.get("chromadb")
        assert client.heartbeat() > 0
        name = f"stack_probe_{mode}"
        if name in [c.name for c in client.list_collections()]:
            client.delete_collection(name)
        col = client.create_collection(name, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None)
        col.add(ids=["a", "b"], embeddings=[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], documents=["x", "y"])
        hits = col.query(query_embeddings=[[0.9, 0.1, 0.0]], n_results=1)
        client.delete_collection(name)
        version = client.get_version()  # the client is closed with its connections
    assert hits["ids"] == [["a"]]
    print(f"Chroma {version} ({mode})")


def test_stack_starts_from_a_checkout_in_a_mode_0700_folder() -> None:
    """A checkout only its owner can enter (`mktemp -d`, anything under /root): as root, the
    cluster's files go where the postgres OS user can reach them, and `down` leaves nothing."""
    import os
    import shutil
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    from polyalembic.settings import read_env_file
    from tests.conftest import REPO

    private = Path(tempfile.mkdtemp(prefix="polyalembic-0700-"))
    assert private.stat().st_mode & 0o777 == 0o700
    checkout = private / "checkout"
    shutil.copytree(REPO / "stack", checkout / "stack", ignore=shutil.ignore_patterns("__pycache__"))
    env = {k: v for k, v in os.environ.items() if k != "POLYALEMBIC_STACK_DIR"}

    def stack(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "stack", *args], cwd=checkout, env=env, capture_output=True,
                              text=True, timeout=180)

    data_dir = None
    try:
        started = stack("up", "postgres")
        assert started.returncode == 0, started.stderr
        dsn = read_env_file(checkout / ".stack" / "stack.env")["TIMESCALE_DSN"]
        with psycopg.connect(dsn) as conn:
            data_dir = Path(conn.execute("SHOW data_directory").fetchone()[0])
            conn.execute("CREATE TABLE probe (time TIMESTAMPTZ NOT NULL)")
            conn.execute("SELECT create_hypertable('probe', by_range('time'))")
        if os.geteuid() == 0:
            assert not data_dir.is_relative_to(private)  # the postgres user can't enter `private`
        assert stack("down").returncode == 0
        leftovers = stack("leftovers")
        assert leftovers.returncode == 0, leftovers.stdout
    finally:
        stack("down")
        shutil.rmtree(private, ignore_errors=True)
        if data_dir is not None and not data_dir.is_relative_to(private):
            shutil.rmtree(data_dir.parent.parent, ignore_errors=True)


def test_a_user_who_is_not_root_is_told_in_one_line_what_root_must_install() -> None:
    """The real PostgreSQL binaries, seen through a folder whose lib has no TimescaleDB, as a user
    who is not root (the test runs as that user, or as root acts as the postgres OS user with
    Debian's own python3, the stack's only need on this path): one line naming the command root
    runs once, and nothing started."""
    import os
    import shutil
    import subprocess
    import sys
    import tempfile
    from pathlib import Path

    from stack.postgres import find_bindir
    from tests.conftest import REPO

    work = Path(tempfile.mkdtemp(prefix="polyalembic-nonroot-"))
    try:
        work.chmod(0o755)
        shutil.copytree(REPO / "stack", work / "checkout" / "stack", ignore=shutil.ignore_patterns("__pycache__"))
        bindir = work / "pg" / "15" / "bin"  # Debian's layout, without the extension in ../lib
        bindir.mkdir(parents=True)
        for tool in ("initdb", "pg_ctl", "postgres"):
            (bindir / tool).symlink_to(find_bindir() / tool)
        (work / "pg" / "15" / "lib").mkdir()
        command = [sys.executable, "-m", "stack", "up", "postgres"]
        if os.geteuid() == 0:  # root's pyenv is not readable by other users: Debian's python3 is
            assert Path("/usr/bin/python3").exists(), "Debian's python3 (package python3) is needed here"
            subprocess.run(["chown", "-R", "postgres", str(work)], check=True)  # the user's own checkout
            command = [shutil.which("runuser") or "runuser", "-u", "postgres", "--", "/usr/bin/python3",
                       *command[1:]]
        result = subprocess.run(command, cwd=work / "checkout", capture_output=True, text=True, timeout=60,
                                env={"PATH": "/usr/bin:/bin", "PG_BINDIR": str(bindir), "HOME": str(work),
                                     "POLYALEMBIC_STACK_DIR": str(work / "stack-state")})
        started = (work / "stack-state" / "postgres" / "state.json").exists()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [f"stack: TimescaleDB 2.28.3 is not installed for PostgreSQL in {bindir}: "
                     "as root, run once: python3 -m stack install-timescaledb"], result.stderr
    assert not started
