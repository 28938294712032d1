"""PostgreSQL with TimescaleDB preloaded, from the machine's own server binaries (initdb / pg_ctl).

One cluster serves both SQL stores. The settings it writes are the seed's default deployment:
only ``TIMESCALE_DSN``, one database holding the relational tables, the hypertables, the ledger
and the lock (``POSTGRES_DSN`` and the ledger default to it). Tests make the other shapes from
the same cluster.

PostgreSQL refuses to run as root, so as root the cluster belongs to the ``postgres`` OS user.
That user may not be able to enter the checkout (a mode-0700 folder, anything under /root): the
server's files (data, log, socket) then live in ``/var/tmp/polyalembic-stack-<hash>/`` instead,
owned by ``postgres``; the state and password stay in ``.stack/postgres``.
"""

from __future__ import annotations

import glob
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

from stack import timescaledb
from stack.base import (
    HOST,
    PrerequisiteMissing,
    Service,
    ServiceState,
    StartFailed,
    free_port,
    wait_until,
)
from stack.phases import say

USER = "polyalembic"
DATABASE = "polyalembic"
SERVER_USER = "postgres"  # the OS user that owns the cluster when the stack runs as root
SERVER_SETTINGS = {
    "listen_addresses": HOST,
    "shared_preload_libraries": "timescaledb",
    "timescaledb.telemetry_level": "off",
    "max_worker_processes": "32",  # TimescaleDB's scheduler takes one per database that has it
    "timescaledb.max_background_workers": "24",
    "shared_buffers": "128MB",
    "max_connections": "200",
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
}


def find_bindir() -> Path:
    """The folder holding initdb and pg_ctl: PG_BINDIR, PATH, or the newest Debian install."""
    if os.environ.get("PG_BINDIR"):
        return Path(os.environ["PG_BINDIR"])
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).resolve().parent  # /usr/local/bin/initdb may link into the real install
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parent.parent.name))
    if not candidates:
        raise PrerequisiteMissing(
            "PostgreSQL server binaries (initdb, pg_ctl) not found: "
            "install them with 'apt-get install postgresql' or set PG_BINDIR")
    return Path(candidates[-1]).parent


def as_root() -> bool:
    return os.geteuid() == 0


class PostgresService(Service):
    """A private cluster on a free port; server files in :attr:`server_dir`."""

    name = "postgres"

    @property
    def server_dir(self) -> Path:
        """``.stack/postgres/server`` when the server's OS user can reach it, else a folder of its
        own under /var/tmp named after this stack folder."""
        inside = self.dir / "server"
        if not as_root() or _reachable_by(SERVER_USER, self.dir):
            return inside
        digest = hashlib.sha256(str(self.dir.resolve()).encode()).hexdigest()[:12]
        return Path("/var/tmp") / f"polyalembic-stack-{digest}" / "postgres"

    @property
    def data_dir(self) -> Path:
        return self.server_dir / "data"

    @property
    def server_log(self) -> Path:
        return self.server_dir / "server.log"

    def folders(self) -> list[Path]:
        return [self.dir, self.server_dir]

    def check_prerequisites(self) -> None:
        bindir = find_bindir()
        for tool in ("initdb", "pg_ctl", "postgres"):
            if not (bindir / tool).exists():
                raise PrerequisiteMissing(f"'{tool}' missing in {bindir}: apt-get install postgresql")
        if not timescaledb.installed(bindir) and not as_root():
            timescaledb.ensure(bindir, self.cache_dir)  # raises: names what root must run

    def install(self) -> None:
        """Build and install TimescaleDB unless this version is already installed."""
        say(f"postgres     TimescaleDB {timescaledb.VERSION}: {timescaledb.ensure(find_bindir(), self.cache_dir)}")

    def _run_as_owner(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        """PostgreSQL refuses to run as root: run its tools as the cluster's owner."""
        if as_root():
            args = ["runuser", "-u", SERVER_USER, "--", *args]
        return subprocess.run(args, capture_output=True, text=True, check=False)

    def _prepare_server_dir(self) -> None:
        self.server_dir.mkdir(parents=True, exist_ok=True)
        (self.server_dir / "run").mkdir(exist_ok=True)
        if as_root():
            _ensure_os_user(SERVER_USER)
            if not self.server_dir.is_relative_to(self.dir):
                self.server_dir.parent.chmod(0o755)
            for path in (self.server_dir, self.server_dir / "run"):
                shutil.chown(path, SERVER_USER)
            self.server_dir.chmod(0o700)

    def _initdb(self, bindir: Path) -> None:
        pwfile = self.server_dir / "pwfile"
        pwfile.write_text(self.password() + "\n")
        pwfile.chmod(0o600)
        if as_root():
            shutil.chown(pwfile, SERVER_USER)
        result = self._run_as_owner([
            str(bindir / "initdb"), "-D", str(self.data_dir), "-U", USER, "--pwfile", str(pwfile),
            "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
        ])
        pwfile.unlink()
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed: {result.stderr.strip()[-500:]}")

    def start(self) -> ServiceState:
        bindir = find_bindir()
        self._prepare_server_dir()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb(bindir)
        port = free_port()
        settings = {**SERVER_SETTINGS, "unix_socket_directories": str(self.server_dir / "run")}
        opts = f"-p {port} " + " ".join(f"-c {key}={value}" for key, value in settings.items())
        result = self._run_as_owner([str(bindir / "pg_ctl"), "-D", str(self.data_dir), "-l",
                                     str(self.server_log), "-o", opts, "-w", "-t", "60", "start"])
        if result.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {result.stdout.strip()[-500:]} (log: {self.server_log})")
        pid = int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
        dsn = f"postgresql://{USER}:{self.password()}@{HOST}:{port}/{DATABASE}"
        state = ServiceState(name=self.name, pid=pid, port=port, settings={"TIMESCALE_DSN": dsn})
        try:
            self._ensure_database(dsn)
            wait_until(lambda: self.is_healthy(state), 30, "PostgreSQL", self.server_log, pid)
            state.version = self._version(state)
        except Exception as exc:  # noqa: BLE001 - whatever failed, no cluster is left running without a state
            self._run_as_owner([str(bindir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"])
            raise StartFailed(f"PostgreSQL started but is not usable ({exc}); stopped it (log: {self.server_log})") \
                from None
        return state

    def _ensure_database(self, dsn: str) -> None:
        """The stack's database, with the timescaledb extension created in it."""
        import psycopg

        admin = dsn.rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone():
                conn.execute(f'CREATE DATABASE "{DATABASE}"')
        with psycopg.connect(dsn, autocommit=True, connect_timeout=5) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")

    def _version(self, state: ServiceState) -> str:
        """``PostgreSQL 15.20 + TimescaleDB 2.28.3``, asked of the running server."""
        import psycopg

        with psycopg.connect(state.settings["TIMESCALE_DSN"], connect_timeout=5) as conn:
            server = str(conn.execute("SHOW server_version").fetchone()[0]).split()[0]
            row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
        return f"PostgreSQL {server} + TimescaleDB {row[0] if row else '(missing)'}"

    def is_healthy(self, state: ServiceState) -> bool:
        try:
            return "TimescaleDB 2" in self._version(state)
        except Exception:  # noqa: BLE001 - health is a yes-or-no question
            return False

    def stop(self, state: ServiceState) -> bool:
        result = self._run_as_owner([str(find_bindir() / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast",
                                     "-w", "stop"])
        return result.returncode == 0 or super().stop(state)


def _reachable_by(user: str, folder: Path) -> bool:
    """True when OS user ``user`` can enter and write ``folder`` (checked as that user)."""
    folder.mkdir(parents=True, exist_ok=True)
    _ensure_os_user(user)
    probe = ["runuser", "-u", user, "--", "test", "-x", str(folder)]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


def _ensure_os_user(name: str) -> None:
    """Create the unprivileged OS user that owns the cluster when running as root."""
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", name], check=True)
