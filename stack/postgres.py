"""PostgreSQL from the machine's own server binaries (initdb / pg_ctl), password auth."""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from pathlib import Path

from stack.base import (
    HOST,
    PrerequisiteMissing,
    Service,
    ServiceState,
    free_port,
    wait_until,
)

USER = "polyalembic"
DATABASE = "polyalembic"


def find_bindir() -> Path:
    """The folder holding initdb and pg_ctl: PG_BINDIR, PATH, or the newest Debian install."""
    if os.environ.get("PG_BINDIR"):
        return Path(os.environ["PG_BINDIR"])
    on_path = shutil.which("initdb")
    if on_path:
        return Path(on_path).parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"),
                        key=lambda p: int(Path(p).parent.parent.name))
    if not candidates:
        raise PrerequisiteMissing(
            "PostgreSQL server binaries (initdb, pg_ctl) not found: "
            "install them with 'apt-get install postgresql' or set PG_BINDIR")
    return Path(candidates[-1]).parent


class PostgresService(Service):
    """A private PostgreSQL cluster in .stack/postgres/data on a free port."""

    name = "postgres"

    @property
    def data_dir(self) -> Path:
        return self.dir / "data"

    def check_prerequisites(self) -> None:
        bindir = find_bindir()
        for tool in ("initdb", "pg_ctl", "postgres"):
            if not (bindir / tool).exists():
                raise PrerequisiteMissing(f"'{tool}' missing in {bindir}: apt-get install postgresql")

    def _run_as_owner(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        """PostgreSQL refuses to run as root: run its tools as the data dir's owner."""
        if os.geteuid() == 0:
            args = ["runuser", "-u", "postgres", "--", *args]
        return subprocess.run(args, capture_output=True, text=True, check=False)

    def _initdb(self, bindir: Path) -> None:
        pwfile = self.dir / "pwfile"
        pwfile.write_text(self.password() + "\n")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            _ensure_os_user("postgres")
            shutil.chown(self.dir, "postgres")
            shutil.chown(self.data_dir, "postgres")
            shutil.chown(pwfile, "postgres")
        result = self._run_as_owner([
            str(bindir / "initdb"), "-D", str(self.data_dir), "-U", USER, "--pwfile", str(pwfile),
            "--auth=scram-sha-256", "-E", "UTF8", "--locale=C.UTF-8",
        ])
        pwfile.unlink()
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed: {result.stderr.strip()[-500:]}")

    def start(self) -> ServiceState:
        bindir = find_bindir()
        if not (self.data_dir / "PG_VERSION").exists():
            self._initdb(bindir)
        port = free_port()
        sockdir = self.dir / "run"
        sockdir.mkdir(exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(sockdir, "postgres")
            shutil.chown(self.dir, "postgres")
            if self.log_path.exists():
                shutil.chown(self.log_path, "postgres")
        opts = (f"-p {port} -c listen_addresses={HOST} -c unix_socket_directories={sockdir} "
                "-c shared_buffers=128MB -c max_connections=100 -c fsync=off "
                "-c synchronous_commit=off -c full_page_writes=off")
        result = self._run_as_owner([str(bindir / "pg_ctl"), "-D", str(self.data_dir), "-l",
                                     str(self.log_path), "-o", opts, "-w", "-t", "60", "start"])
        if result.returncode != 0:
            raise RuntimeError(f"pg_ctl start failed: {result.stdout.strip()[-500:]} (log: {self.log_path})")
        pid = int((self.data_dir / "postmaster.pid").read_text().splitlines()[0])
        state = ServiceState(name=self.name, pid=pid, port=port, settings={
            "POSTGRES_DSN": f"postgresql://{USER}:{self.password()}@{HOST}:{port}/{DATABASE}",
        })
        self._ensure_database(state)
        wait_until(lambda: self.is_healthy(state), 30, "PostgreSQL", self.log_path, pid)
        state.version = self._version(state)
        return state

    def _ensure_database(self, state: ServiceState) -> None:
        import psycopg

        admin = state.settings["POSTGRES_DSN"].rsplit("/", 1)[0] + "/postgres"
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (DATABASE,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{DATABASE}"')

    def _version(self, state: ServiceState) -> str:
        import psycopg

        with psycopg.connect(state.settings["POSTGRES_DSN"], connect_timeout=5) as conn:
            return str(conn.execute("SHOW server_version").fetchone()[0]).split()[0]

    def is_healthy(self, state: ServiceState) -> bool:
        try:
            return bool(self._version(state))
        except Exception:  # noqa: BLE001 - health is a yes-or-no question
            return False

    def stop(self, state: ServiceState) -> bool:
        bindir = find_bindir()
        result = self._run_as_owner([str(bindir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"])
        return super().stop(state) or result.returncode == 0


def _ensure_os_user(name: str) -> None:
    """Create the unprivileged OS user that owns the cluster when running as root."""
    import pwd

    try:
        pwd.getpwnam(name)
    except KeyError:
        subprocess.run(["useradd", "--system", "--no-create-home", name], check=True)
