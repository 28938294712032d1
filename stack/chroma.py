"""ChromaDB: the server shipped in the chromadb wheel (`chroma run`), plus an embedded path."""

from __future__ import annotations

import json
import shutil
import sys
import urllib.request
from pathlib import Path

from stack.base import HOST, PrerequisiteMissing, Service, ServiceState, free_port, spawn, wait_until


def _chroma_command() -> list[str]:
    """`chroma` next to this Python (the wheel's console script), else on PATH."""
    beside = Path(sys.executable).with_name("chroma")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("chroma")
    if not found:
        raise PrerequisiteMissing("'chroma' not found: pip install chromadb (or pip install -e '.[all]')")
    return [found]


class ChromaService(Service):
    """`chroma run` on a free port with data in .stack/chromadb/server."""

    name = "chromadb"

    def check_prerequisites(self) -> None:
        _chroma_command()

    def start(self) -> ServiceState:
        port = free_port()
        data = self.dir / "server"
        data.mkdir(parents=True, exist_ok=True)
        pid = spawn([*_chroma_command(), "run", "--path", str(data), "--host", HOST, "--port", str(port)],
                    self.log_path, env={"ANONYMIZED_TELEMETRY": "False"})
        state = ServiceState(name=self.name, pid=pid, port=port, settings={
            "CHROMA_HOST": HOST,
            "CHROMA_PORT": str(port),
        })
        wait_until(lambda: self.is_healthy(state), 60, "ChromaDB", self.log_path, pid)
        state.version = self._version(state)
        return state

    def _get(self, state: ServiceState, path: str) -> object:
        url = f"http://{HOST}:{state.port}{path}"
        with urllib.request.urlopen(url, timeout=2) as resp:
            return json.loads(resp.read())

    def _version(self, state: ServiceState) -> str:
        """The chromadb package version of the server (the HTTP API only reports its own)."""
        del state
        from importlib.metadata import version

        return version("chromadb")

    def is_healthy(self, state: ServiceState) -> bool:
        try:
            return "nanosecond heartbeat" in json.dumps(self._get(state, "/api/v2/heartbeat"))
        except Exception:  # noqa: BLE001 - health is a yes-or-no question
            return False
