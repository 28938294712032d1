"""What a run tells while it runs (issue 13, items 1 and 2): progress bars on a terminal (a real
pseudo-terminal), nothing extra when output is not a terminal, and ``--log-format json`` events."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios
import time
from datetime import datetime
from typing import Any

import numpy as np
import pytest
from alembic import command

from polyalembic.project import Project
from polyalembic.settings import Settings
from tests.conftest import settings_env
from tests.support import add_revision, ledger, store_connection

pytestmark = pytest.mark.slow

DIM = 16
RECORDS = 4_000

CREATE = '''
    from alembic import op

    from polyalembic.stores.chromadb.ops import CreateCollectionOp

    revision = "chromadb_001"
    down_revision = None
    store = "chromadb"

    CREATE = CreateCollectionOp("docs", configuration={"hnsw": {"space": "cosine"}})


    def upgrade() -> None:
        op.invoke(CREATE)


    def downgrade() -> None:
        op.invoke(CREATE.reverse())
'''

# small pages: the copy takes a few seconds, long enough to be reported
REBUILD = '''
    from alembic import op

    from polyalembic.stores.chromadb.ops import RebuildCollectionOp

    revision = "chromadb_002"
    down_revision = "chromadb_001"
    store = "chromadb"

    REBUILD = RebuildCollectionOp("docs", configuration={"hnsw": {"space": "l2"}}, batch_size=40,
                                  previous_configuration={"hnsw": {"space": "cosine"}})


    def upgrade() -> None:
        op.invoke(REBUILD)


    def downgrade() -> None:
        op.invoke(REBUILD.reverse())
'''

BACKFILL = '''
    from alembic import op

    from polyalembic.stores.chromadb.ops import BackfillMetadataOp

    revision = "chromadb_003"
    down_revision = "chromadb_002"
    store = "chromadb"

    TIER = BackfillMetadataOp("docs", values={"tier": "gold"}, batch_size=40)


    def upgrade() -> None:
        op.invoke(TIER)


    def downgrade() -> None:
        op.invoke(TIER.reverse())
'''

FAILING = '''
    from alembic import op

    revision = "postgres_001"
    down_revision = "chromadb_003"
    store = "postgres"


    def upgrade() -> None:
        op.execute("CREATE TABLE kept (id int)")
        op.execute("SELECT %r::int")  # the error quotes the value: a password here must be masked


    def downgrade() -> None:
        op.execute("DROP TABLE kept")
'''


@pytest.fixture
def chroma_project(ops_project: Project, settings: Settings) -> Project:
    """docs created and filled with RECORDS records; a rebuild and a backfill of it pending."""
    add_revision(ops_project, "001_docs.py", CREATE, "chromadb")
    add_revision(ops_project, "002_rebuild.py", REBUILD, "chromadb")
    add_revision(ops_project, "003_backfill.py", BACKFILL, "chromadb")
    command.upgrade(ops_project.config(), "chromadb_001")
    vectors = np.random.default_rng(3).random((RECORDS, DIM), dtype=np.float32)
    with store_connection(settings, "chromadb") as client:
        docs = client.get_collection("docs", embedding_function=None)
        size = client.get_max_batch_size()
        for lo in range(0, RECORDS, size):
            ids = [f"r{i}" for i in range(lo, min(lo + size, RECORDS))]
            docs.add(ids=ids, embeddings=vectors[lo:lo + len(ids)], documents=[f"doc {i}" for i in ids])
    return ops_project


def cli(project: Project, *args: str) -> list[str]:
    return [sys.executable, "-m", "polyalembic", "-c", str(project.config_path), *args]


def in_pty(argv: list[str], env: dict[str, str], timeout: float = 300) -> tuple[int, str]:
    """Run ``argv`` with stdin, stdout and stderr on a pseudo-terminal (140 columns); its exit code
    and everything it wrote there, escape sequences removed."""
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, 140, 0, 0))
    process = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True)
    os.close(slave)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not select.select([master], [], [], 1)[0]:
                if process.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        code = process.wait(timeout=10)
    finally:
        if process.poll() is None:
            process.kill()
        os.close(master)
    text = b"".join(chunks).decode("utf-8", errors="replace")
    return code, re.sub(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Z0-9]|\r", "\n", text)


def terminal_env(settings: Settings) -> dict[str, str]:
    return {**settings_env(settings), "TERM": "xterm-256color", "COLUMNS": "140", "LANG": "C.UTF-8"}


@pytest.mark.parametrize("runner", ["polyalembic up", "alembic upgrade head"])
def test_a_terminal_shows_the_run_and_the_records_copied(chroma_project: Project, settings: Settings,
                                                         runner: str) -> None:
    argv = cli(chroma_project, "up") if runner == "polyalembic up" else \
        [sys.executable, "-m", "alembic", "-c", str(chroma_project.config_path), "upgrade", "head"]
    code, screen = in_pty(argv, terminal_env(settings))
    assert code == 0, screen
    assert "migration 1/2 chromadb 002_rebuild.py" in screen
    assert "migration 2/2 chromadb 003_backfill.py" in screen
    shown = re.findall(r"([\d,]+)/4,000 records · ([\d,]+) records/s(?: · ETA \d+:\d\d:\d\d)?", screen)
    assert shown, screen
    assert all(0 < int(done.replace(",", "")) <= RECORDS and int(rate.replace(",", "")) > 0 for done, rate in shown)
    assert "ETA 0:00:" in screen
    assert re.search(r"rebuild docs: 4,000 records in [\d.]+ s, [\d,]+ records/s", screen), screen
    assert re.search(r"backfill docs: 4,000 records in [\d.]+ s", screen), screen
    if runner == "polyalembic up":  # the lines of today's output are there too, above the bars
        assert re.search(r"applied   chromadb     002_rebuild.py\s+\d+ ms", screen)
        assert "Applied 2 migration(s)." in screen
    assert [r.revision for r in ledger(settings) if r.status == "applied"] == \
        ["chromadb_001", "chromadb_002", "chromadb_003"]


def test_no_progress_when_output_is_not_a_terminal(chroma_project: Project, settings: Settings) -> None:
    result = subprocess.run(cli(chroma_project, "up"), env=settings_env(settings), capture_output=True,
                            text=True, timeout=300, stdin=subprocess.DEVNULL)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    lines = result.stdout.splitlines()
    assert [re.sub(r"\d+ ms$", "N ms", line) for line in lines] == [
        "  applied   chromadb     002_rebuild.py                           N ms",
        "  applied   chromadb     003_backfill.py                          N ms",
        "Applied 2 migration(s).",
    ]


def events_of(stdout: str) -> list[dict[str, Any]]:
    """Every stdout line is one JSON event of version 1 with a UTC ISO timestamp."""
    events = [json.loads(line) for line in stdout.splitlines()]
    for event in events:
        assert event["v"] == 1
        assert datetime.fromisoformat(event["ts"].replace("Z", "+00:00")).utcoffset().total_seconds() == 0
    return events


def test_json_events_from_run_started_to_run_finished(chroma_project: Project, settings: Settings) -> None:
    result = subprocess.run(cli(chroma_project, "--log-format", "json", "up"), env=settings_env(settings),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    events = events_of(result.stdout)
    names = [e["event"] for e in events]
    assert names[0] == "run_started" and names[-1] == "run_finished"
    assert [n for n in names if n not in ("step", "progress")] == [
        "run_started", "migration_started", "applied", "migration_started", "applied", "run_finished"]
    started = events[0]
    assert started["command"] == "upgrade" and started["migrations"] == 2
    assert started["ledger"].startswith("postgresql://") and ":***@" in started["ledger"]
    first = next(e for e in events if e["event"] == "migration_started")
    assert first | {"ts": None} == {"v": 1, "ts": None, "event": "migration_started", "revision": "chromadb_002",
                                    "store": "chromadb", "file": "002_rebuild.py", "index": 1, "of": 2,
                                    "location": settings.location("chromadb")}
    applied = [e for e in events if e["event"] == "applied"]
    assert [(e["revision"], e["index"], e["of"]) for e in applied] == [("chromadb_002", 1, 2), ("chromadb_003", 2, 2)]
    assert all(isinstance(e["ms"], int) and e["ms"] > 0 for e in applied)
    steps = [e for e in events if e["event"] == "step"]
    assert any(e["revision"] == "chromadb_002" and e["step"].startswith("rebuild collection 'docs'") for e in steps)
    final = [e for e in events if e["event"] == "progress" and e["finished"]]
    assert {(e["revision"], e["task"], e["done"], e["total"], e["unit"]) for e in final} == {
        ("chromadb_002", "rebuild docs", RECORDS, RECORDS, "records"),
        ("chromadb_003", "backfill docs", RECORDS, RECORDS, "records")}
    assert all(e["rate"] > 0 and e["elapsed_ms"] > 0 for e in final)
    finished = events[-1]
    assert finished["ok"] is True and finished["error"] is None
    assert finished["applied"] == 2 and finished["migrations"] == 2 and finished["ms"] >= sum(e["ms"] for e in applied)

    again = subprocess.run(cli(chroma_project, "--log-format", "json", "up"), env=settings_env(settings),
                           capture_output=True, text=True, timeout=300)
    assert [(e["event"], e.get("migrations"), e.get("ok")) for e in events_of(again.stdout)] == [
        ("run_started", 0, None), ("run_finished", 0, True)]


def test_a_failed_migration_is_a_failed_event_with_the_error_line_and_no_secret(
        chroma_project: Project, settings: Settings) -> None:
    password = settings.env["NEO4J_PASSWORD"]
    add_revision(chroma_project, "001_fails.py", FAILING % password, "postgres")
    env = {**settings_env(settings), "POLYALEMBIC_LOG_FORMAT": "json"}
    result = subprocess.run(cli(chroma_project, "up"), env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1
    error_line = result.stderr.strip()
    assert error_line.startswith("polyalembic: error: postgres migration 001_fails.py (postgres_001) upgrade failed")
    assert password not in result.stdout + result.stderr
    events = events_of(result.stdout)
    assert [e["event"] for e in events if e["event"] not in ("step", "progress")] == [
        "run_started", "migration_started", "applied", "migration_started", "applied",
        "migration_started", "failed", "run_finished"]
    failed = next(e for e in events if e["event"] == "failed")
    assert failed["revision"] == "postgres_001" and failed["store"] == "postgres" and failed["index"] == 3
    assert failed["error"] == error_line.removeprefix("polyalembic: error: ")
    assert 'integer: "***"' in failed["error"]
    finished = events[-1]
    assert finished["ok"] is False and finished["applied"] == 2
    assert finished["error"] == failed["error"]


def test_alembic_takes_the_json_format_from_x(chroma_project: Project, settings: Settings) -> None:
    result = subprocess.run([sys.executable, "-m", "alembic", "-c", str(chroma_project.config_path),
                             "-x", "log_format=json", "upgrade", "chromadb_002"], env=settings_env(settings),
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert "-x log_format was not read" not in result.stderr
    events = events_of(result.stdout)
    assert [e["event"] for e in events if e["event"] not in ("step", "progress")] == [
        "run_started", "migration_started", "applied", "run_finished"]
    bad = subprocess.run(cli(chroma_project, "--log-format", "yaml", "up"), env=settings_env(settings),
                         capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "'yaml' is not one of 'text', 'json'" in bad.stderr
