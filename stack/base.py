"""What every local server has in common: folders, free ports, pid files and process control."""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
STACK_DIR = Path(os.environ.get("POLYALEMBIC_STACK_DIR", REPO_ROOT / ".stack"))


def user_cache_dir() -> Path:
    """Downloads and builds kept across checkouts (a fresh CI clone reuses them): the per-user
    cache folder, ``$POLYALEMBIC_CACHE_DIR`` or ``$XDG_CACHE_HOME/polyalembic`` or ``~/.cache/polyalembic``."""
    if os.environ.get("POLYALEMBIC_CACHE_DIR"):
        return Path(os.environ["POLYALEMBIC_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "polyalembic"


CACHE_DIR = user_cache_dir()
HOST = "127.0.0.1"


class PrerequisiteMissing(RuntimeError):
    """A tool the stack needs is not installed; the message names what to install."""


class StartFailed(RuntimeError):
    """A server did not become healthy; the message points at its log file."""


@dataclass
class ServiceState:
    """What a running server looks like to the rest of the stack (persisted as JSON)."""

    name: str
    pid: int
    port: int
    version: str = ""
    settings: dict[str, str] = field(default_factory=dict)
    extra: dict[str, int] = field(default_factory=dict)

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, path: Path) -> ServiceState | None:
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = HOST) -> bool:
    """True when something accepts TCP connections on ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    """True when ``pid`` names a live (non-zombie) process."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        status = Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0]
    except (OSError, IndexError):
        return True
    return status != "Z"


def require_tool(tool: str, install_hint: str) -> str:
    """The path of ``tool`` on PATH, or PrerequisiteMissing naming what to install."""
    path = shutil.which(tool)
    if not path:
        raise PrerequisiteMissing(f"'{tool}' not found: install {install_hint}")
    return path


def spawn(args: list[str], log_path: Path, cwd: Path | None = None,
          env: dict[str, str] | None = None) -> int:
    """Start a long-running server detached in its own process group; return its pid."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            args, cwd=cwd, env={**os.environ, **(env or {})}, stdout=log, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, start_new_session=True,
        )
    return proc.pid


def wait_until(check: Callable[[], bool], timeout: float, what: str, log_path: Path | None = None,
               pid: int | None = None) -> None:
    """Poll ``check`` until true; StartFailed (with the log's tail) on timeout or early death."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - any failure just means not ready yet
            pass
        if pid is not None and not pid_alive(pid):
            break
        time.sleep(0.25)
    tail = ""
    if log_path and log_path.exists():
        tail = "\n" + "\n".join(log_path.read_text(errors="replace").splitlines()[-20:])
    raise StartFailed(f"{what} did not become ready (log: {log_path}){tail}")


def runs_from(pid: int, folder: Path) -> bool:
    """True when process ``pid``'s command line names ``folder`` (so it is ours, not a reused pid)."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return False
    return str(folder) in cmdline


def stop_pid(pid: int, timeout: float = 30.0) -> None:
    """SIGTERM the process group of ``pid``, then SIGKILL whatever is left after ``timeout``."""
    if not pid_alive(pid):
        return
    try:
        pgid = os.getpgid(pid)
    except OSError:
        return
    os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            break
        time.sleep(0.2)
    with contextlib.suppress(OSError):
        os.killpg(pgid, signal.SIGKILL)


class Service(ABC):
    """One local server. Subclasses fill in install/start/health; the stack drives them."""

    name: str = ""

    def __init__(self, stack_dir: Path = STACK_DIR, cache_dir: Path = CACHE_DIR) -> None:
        self.stack_dir = stack_dir
        self.cache_dir = cache_dir
        self.dir = stack_dir / self.name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.state_path = self.dir / "state.json"
        self.log_path = self.dir / "server.log"

    @abstractmethod
    def check_prerequisites(self) -> None:
        """Raise PrerequisiteMissing naming the missing tool."""

    def install(self) -> None:  # noqa: B027 - optional hook; most services need no download
        """Fetch what the server needs into the cache (idempotent and fast when cached)."""

    @abstractmethod
    def start(self) -> ServiceState:
        """Start the server, wait until it answers, and return its state (not yet saved)."""

    @abstractmethod
    def is_healthy(self, state: ServiceState) -> bool:
        """True when the server described by ``state`` answers a real query."""

    def folders(self) -> list[Path]:
        """Where this server's files live: a process naming one of them is ours."""
        return [self.dir]

    def stop(self, state: ServiceState) -> bool:
        """Stop the server we started: by pid, and only if that pid still runs from our folder.
        False when the pid is gone or belongs to another process (left alone)."""
        if not any(runs_from(state.pid, folder) for folder in self.folders()):
            return False
        stop_pid(state.pid)
        return True

    def password(self) -> str:
        """The server's password, generated once and kept (mode 600) in .stack/<name>/password.
        Hex digits only: a password starting with '-' reads as an option to neo4j-admin."""
        path = self.dir / "password"
        if not path.exists():
            path.write_text(secrets.token_hex(16))
            path.chmod(0o600)
        return path.read_text().strip()

    def load_state(self) -> ServiceState | None:
        return ServiceState.load(self.state_path)
