"""``alembic upgrade head --sql`` renders every store's work and connects to nothing."""

from __future__ import annotations

import socket
import subprocess
import sys

from polyalembic.settings import Settings
from tests.conftest import REPO, settings_env


class _Listeners:
    """Sockets listening where the stores would be, to prove nothing connects to them."""

    def __init__(self, count: int) -> None:
        self.sockets = []
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            s.listen(8)
            s.setblocking(False)
            self.sockets.append(s)

    @property
    def ports(self) -> list[int]:
        return [s.getsockname()[1] for s in self.sockets]

    def connections(self) -> int:
        count = 0
        for s in self.sockets:
            try:
                while True:
                    conn, _ = s.accept()
                    conn.close()
                    count += 1
            except BlockingIOError:
                pass
        return count

    def close(self) -> None:
        for s in self.sockets:
            s.close()


def test_upgrade_sql_renders_every_store_and_connects_to_nothing() -> None:
    listeners = _Listeners(4)
    pg, ts, bolt, chroma = listeners.ports
    env = settings_env(Settings({
        "POSTGRES_DSN": f"postgresql://u:secret-pw@127.0.0.1:{pg}/app",
        "TIMESCALE_DSN": f"postgresql://u:secret-pw@127.0.0.1:{ts}/tsdb?sslmode=disable",
        "NEO4J_URI": f"bolt://127.0.0.1:{bolt}", "NEO4J_PASSWORD": "secret-pw",
        "CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": str(chroma)}))
    try:
        result = subprocess.run([sys.executable, "-m", "alembic", "-c", str(REPO / "alembic.ini"),
                                 "upgrade", "head", "--sql"], env=env, capture_output=True, text=True,
                                timeout=120, cwd=REPO)
        assert listeners.connections() == 0
    finally:
        listeners.close()
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "CREATE TABLE IF NOT EXISTS procedural_memories" in out
    assert "create_hypertable('episodic_memories', by_range('time', INTERVAL '7 days')" in out
    assert "CREATE MATERIALIZED VIEW IF NOT EXISTS emotional_state_hourly" in out
    assert "--   CREATE CONSTRAINT memory_id_unique IF NOT EXISTS" in out
    assert "-- [chromadb] create collection 'episodic_memories'" in out
    assert out.count("INSERT INTO schema_migrations ") >= 12
    assert "secret-pw" not in out + result.stderr


def test_upgrade_sql_of_a_schema_target_lands_in_its_schema() -> None:
    """The rendered script makes the schema, runs in it, and writes Alembic's version table there
    (``tests/test_schema_targets.py`` runs such a script's effect live)."""
    env = settings_env(Settings({"POSTGRES_DSN": "postgresql://u:secret-pw@127.0.0.1:9/app",
                                 "POSTGRES_SCHEMA": "tenant_a"}))
    result = subprocess.run([sys.executable, "-m", "alembic", "-c", str(REPO / "alembic.ini"),
                             "upgrade", "postgres_002", "--sql"], env=env, capture_output=True, text=True,
                            timeout=120, cwd=REPO)
    assert result.returncode == 0, result.stderr
    lines = [line for line in result.stdout.splitlines() if line and not line.startswith("--")]
    assert lines[:2] == ['CREATE SCHEMA IF NOT EXISTS "tenant_a";', 'SET search_path TO "tenant_a", public;']
    assert "INSERT INTO tenant_a.alembic_version (version_num) VALUES ('postgres_001')" in result.stdout
    assert "secret-pw" not in result.stdout + result.stderr
