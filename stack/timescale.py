"""TimescaleDB as a local server: TimescaleDB compiled into PGlite (WASM), served over TCP.

The Node side lives next to this file: ``package.json`` pins the PGlite build with the
timescaledb extension and ``@electric-sql/pglite-socket``; ``pglite_server.mjs`` opens the
data dir, loads the extension and listens on 127.0.0.1.

Gotchas for clients: one connection at a time (others queue, up to 60 s, until it
disconnects), so close connections promptly and never hold two; no TLS (``sslmode=disable``);
any user, database name and non-empty password are accepted, but the session is always
user ``postgres`` in database ``template1``; TimescaleDB background workers do not exist,
so policies are registered but only run through ``CALL run_job(id)``.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
from pathlib import Path

from .base import (
    HOST,
    REPO_ROOT,
    PrerequisiteMissing,
    Service,
    ServiceState,
    StartFailed,
    free_port,
    require_tool,
    spawn,
    stop_pid,
    wait_until,
)

NODE_DIR = REPO_ROOT / "stack"
SERVER_SCRIPT = NODE_DIR / "pglite_server.mjs"
MIN_NODE_MAJOR = 18
START_TIMEOUT = 120.0
VERSION_SQL = "SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'"


def timescale_dsn(port: int, host: str = HOST) -> str:
    """The libpq connection string for the PGlite server on ``port``."""
    return f"postgresql://postgres:postgres@{host}:{port}/postgres?sslmode=disable"


def query_version(dsn: str, timeout: int = 3) -> str:
    """The timescaledb extension version, asked over one short-lived connection."""
    import psycopg

    with psycopg.connect(dsn, connect_timeout=timeout, autocommit=True) as conn:
        row = conn.execute(VERSION_SQL).fetchone()
    if not row or not row[0]:
        raise RuntimeError("timescaledb extension is not installed")
    return str(row[0])


class TimescaleService(Service):
    """TimescaleDB (in PGlite) listening on a free port, data kept in ``<stack>/timescaledb/data``."""

    name = "timescaledb"

    def check_prerequisites(self) -> None:
        """Node >= 18, npm and psycopg must be available."""
        node = require_tool("node", f"Node.js >= {MIN_NODE_MAJOR} (https://nodejs.org)")
        require_tool("npm", "npm (it ships with Node.js)")
        out = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
        match = re.match(r"v(\d+)\.", out.stdout.strip())
        if not match or int(match.group(1)) < MIN_NODE_MAJOR:
            found = out.stdout.strip() or "unknown version"
            raise PrerequisiteMissing(f"'node' is {found}: install Node.js >= {MIN_NODE_MAJOR} (https://nodejs.org)")
        try:
            import psycopg  # noqa: F401
        except ImportError as exc:
            raise PrerequisiteMissing(
                "'psycopg' not importable: install it with pip install \"psycopg[binary]\""
            ) from exc

    @property
    def _marker(self) -> Path:
        """Records which lock file node_modules was installed from."""
        return NODE_DIR / "node_modules" / ".polyalembic-lock-hash"

    def _lock_hash(self) -> str:
        """Hash of package.json + package-lock.json: what node_modules was installed from."""
        digest = hashlib.sha256()
        for name in ("package.json", "package-lock.json"):
            digest.update((NODE_DIR / name).read_bytes())
        return digest.hexdigest()

    def install(self) -> None:
        """``npm ci`` into stack/node_modules, skipped when the lock file is unchanged."""
        wanted = self._lock_hash()
        try:
            if self._marker.read_text().strip() == wanted:
                return
        except OSError:
            pass
        npm = require_tool("npm", "npm (it ships with Node.js)")
        cmd = [npm, "ci", "--cache", str(self.cache_dir / "npm"), "--prefer-offline", "--no-audit", "--no-fund"]
        result = subprocess.run(cmd, cwd=NODE_DIR, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            tail = "\n".join((result.stdout + result.stderr).splitlines()[-20:])
            raise StartFailed(f"npm ci failed in {NODE_DIR}:\n{tail}")
        self._marker.write_text(wanted)

    def start(self) -> ServiceState:
        """Spawn the PGlite server and wait until a real query answers."""
        node = shutil.which("node") or "node"
        port = free_port()
        data_dir = self.dir / "data"
        args = [node, str(SERVER_SCRIPT), "--data-dir", str(data_dir), "--host", HOST, "--port", str(port)]
        pid = spawn(args, self.log_path, cwd=NODE_DIR)
        dsn = timescale_dsn(port)
        found: list[str] = []

        def ready() -> bool:
            found.append(query_version(dsn, timeout=2))
            return True

        try:
            wait_until(ready, START_TIMEOUT, "TimescaleDB (PGlite)", self.log_path, pid)
        except StartFailed:
            stop_pid(pid, timeout=10)
            raise
        return ServiceState(name=self.name, pid=pid, port=port, version=found[-1], settings={"TIMESCALE_DSN": dsn})

    def is_healthy(self, state: ServiceState) -> bool:
        """True when the server answers the extension-version query."""
        dsn = state.settings.get("TIMESCALE_DSN") or timescale_dsn(state.port)
        try:
            query_version(dsn, timeout=2)
        except Exception:  # any failure means unhealthy  # noqa: BLE001 - health is a yes-or-no question
            return False
        return True
