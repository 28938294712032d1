"""Bring the local stack up, report it, tear it down; write the settings file clients read."""

from __future__ import annotations

import importlib
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from stack.base import STACK_DIR, PrerequisiteMissing, Service, ServiceState, pid_alive
from stack.phases import phase

# name -> "module:Class"; order is the order of the status table. PostgreSQL serves both SQL
# stores (TimescaleDB is preloaded in it); Neo4j runs in two release lines, and a read-only LTS
# for the tests (`up all`).
SERVICES: dict[str, str] = {
    "postgres": "stack.postgres:PostgresService",
    "neo4j": "stack.neo4j:Neo4jService",
    "neo4j-newest": "stack.neo4j:Neo4jNewestService",
    "neo4j-read-only": "stack.neo4j:Neo4jReadOnlyService",
    "chromadb": "stack.chroma:ChromaService",
}
# The one switch for the Neo4j line the stack's settings (`make migrate`) point at.
NEO4J_SWITCH = "POLYALEMBIC_NEO4J"
NEO4J_SERVICES = {"lts": "neo4j", "newest": "neo4j-newest"}
ENV_FILE = STACK_DIR / "stack.env"


def service(name: str) -> Service:
    """Instantiate the service class registered under ``name``."""
    module, cls = SERVICES[name].split(":")
    return getattr(importlib.import_module(module), cls)()


def neo4j_service_name(line: str | None = None) -> str:
    """The Neo4j service of ``line`` (default: ``$POLYALEMBIC_NEO4J``, else ``lts``)."""
    line = line or os.environ.get(NEO4J_SWITCH) or "lts"
    if line not in NEO4J_SERVICES:
        raise SystemExit(f"{NEO4J_SWITCH}={line!r}: use one of {', '.join(NEO4J_SERVICES)}")
    return NEO4J_SERVICES[line]


def default_services() -> list[str]:
    """What `stack up` starts without names: PostgreSQL, the switched Neo4j line, ChromaDB."""
    return ["postgres", neo4j_service_name(), "chromadb"]


def selected(names: list[str] | None) -> list[str]:
    if names == ["all"]:
        return list(SERVICES)
    unknown = [n for n in names or [] if n not in SERVICES]
    if unknown:
        raise SystemExit(f"unknown service(s): {', '.join(unknown)} (known: {', '.join(SERVICES)}, all)")
    return list(names) if names else default_services()


def up(names: list[str] | None = None, write_env: bool = True) -> dict[str, ServiceState]:
    """Start (or reuse) each service; return their states and (unless told not to) rewrite the
    settings file."""
    services = [service(n) for n in selected(names)]
    for svc in services:  # fail fast, before anything starts
        svc.check_prerequisites()

    def bring_up(svc: Service) -> tuple[ServiceState, str]:
        state = svc.load_state()
        if state and pid_alive(state.pid) and svc.is_healthy(state):
            return state, "reused"
        t0 = time.monotonic()
        svc.install()
        with phase(f"start {svc.name}"):
            state = svc.start()
        state.save(svc.state_path)
        return state, f"started in {time.monotonic() - t0:.1f}s"

    with ThreadPoolExecutor(max_workers=len(services)) as pool:
        results = list(pool.map(bring_up, services))
    for (state, how), svc in zip(results, services, strict=True):
        print(f"{svc.name:<15} {state.version:<38} 127.0.0.1:{state.port:<6} pid {state.pid:<8} {how}")
    if write_env:
        write_env_file()
    return {svc.name: state for svc, (state, _) in zip(services, results, strict=True)}


def down(names: list[str] | None = None) -> None:
    """Stop the services we started (by recorded pid) and forget their state (all by default);
    one that fails to stop does not keep the others running."""
    failures = []
    for name in selected(names) if names else SERVICES:
        svc = service(name)
        state = svc.load_state()
        if state is None:
            continue
        try:
            stopped = svc.stop(state)
        except Exception as exc:  # noqa: BLE001 - report it, stop the rest
            failures.append(f"{name}: {exc}")
            continue
        svc.state_path.unlink(missing_ok=True)
        print(f"{name:<15} stopped (pid {state.pid})" if stopped
              else f"{name:<15} not running (pid {state.pid} is gone or not ours: left alone)")
    write_env_file()
    if failures:
        raise RuntimeError(f"could not stop {'; '.join(failures)}")


def leftovers() -> list[str]:
    """Processes still running from any service's folders (``pid cmdline``), for CI's check."""
    folders = [str(folder) for name in SERVICES for folder in service(name).folders()]
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit() or int(proc.name) == os.getpid() or not pid_alive(int(proc.name)):
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if any(folder + "/" in cmdline or cmdline.rstrip().endswith(folder) for folder in folders):
            found.append(f"{proc.name} {cmdline.strip()[:200]}")
    return found


def status() -> int:
    """Print one line per service; return 0 when those `stack up` starts by default are healthy."""
    bad = 0
    for name in SERVICES:
        svc = service(name)
        state = svc.load_state()
        if state is None:
            print(f"{name:<15} not started")
            bad += name in default_services()
            continue
        healthy = pid_alive(state.pid) and svc.is_healthy(state)
        bad += not healthy
        word = "healthy" if healthy else "DOWN"
        print(f"{name:<15} {word:<8} {state.version:<38} 127.0.0.1:{state.port:<6} pid {state.pid}")
    return 1 if bad else 0


def write_env_file(path: Path = ENV_FILE) -> None:
    """Write KEY=VALUE settings of every running service, for `make migrate` and the tests."""
    lines = ["# generated by `python -m stack up`; the local stack's connection settings"]
    for name in ("postgres", neo4j_service_name(), "chromadb"):
        state = ServiceState.load(service(name).state_path)
        if state and pid_alive(state.pid):
            lines += [f"{k}={v}" for k, v in state.settings.items()]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)


__all__ = ["ENV_FILE", "PrerequisiteMissing", "down", "leftovers", "status", "up"]
