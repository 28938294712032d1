"""Fleets (issue 24): N database targets, each its own PostgreSQL database and Chroma database, one
chain of PostgreSQL and Chroma revisions. ``polyalembic fleet up`` (2 worker processes) against a
serial shell loop of ``polyalembic up``, one process per tenant, the pairs alternated, fresh
databases before every run (not timed); then ``fleet status`` against a loop of
``polyalembic status`` on the migrated fleet. The floor: one tenant migrated inside a warm process
(``api.up``), the servers' and the runner's own time per tenant.

    python bench/fleet.py [--targets 100] [--reps 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import chromadb  # noqa: E402
import psycopg  # noqa: E402
from psycopg.conninfo import conninfo_to_dict  # noqa: E402

from bench.run import project_for  # noqa: E402
from polyalembic.settings import load_settings  # noqa: E402
from polyalembic.stores.postgres.dsn import libpq_dsn  # noqa: E402

BIN = Path(sys.executable).parent
POSTGRES_REVISIONS = 4


def chain(root: Path) -> Path:
    """A project with POSTGRES_REVISIONS PostgreSQL revisions and a Chroma one."""
    ini, _ = project_for(root, "postgres")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for k in range(POSTGRES_REVISIONS):
        subprocess.run([str(BIN / "polyalembic"), "-c", str(ini), "generate", "postgres", f"table_{k}"],
                       env=env, check=True, capture_output=True)
    text = ini.read_text().replace("version_locations = %(here)s/migrations/postgres",
                                   "version_locations = %(here)s/migrations/postgres %(here)s/migrations/chromadb")
    ini.write_text(text)
    (root / "migrations" / "chromadb").mkdir()
    subprocess.run([str(BIN / "polyalembic"), "-c", str(ini), "generate", "chromadb", "documents"],
                   env=env, check=True, capture_output=True)
    return ini


class Tenants:
    """N tenants' databases (PostgreSQL ``fleet_bench_<k>``, Chroma ``fleet_bench_<k>``), made afresh."""

    def __init__(self, count: int) -> None:
        self.base = load_settings(env_file=REPO / ".stack" / "stack.env")
        self.admin = self.base.database_url("postgres")
        if not self.admin:
            sys.exit("bench: the local stack is not running (make services-up)")
        self.names = [f"fleet_bench_{k:03d}" for k in range(count)]
        env = self.base.env
        self.chroma = chromadb.AdminClient(chromadb.Settings(
            chroma_api_impl="chromadb.api.fastapi.FastAPI", chroma_server_host=env["CHROMA_HOST"],
            chroma_server_http_port=int(env["CHROMA_PORT"])))
        info = conninfo_to_dict(libpq_dsn(self.admin))
        self.password = str(info["password"])
        self.server = f"{info['user']}:{{password}}@{info['host']}:{info['port']}"
        self.url = "postgresql://" + self.server.format(password=self.password)

    def fresh(self) -> None:
        self.drop()
        with psycopg.connect(libpq_dsn(self.admin), autocommit=True) as conn:
            for name in self.names:
                conn.execute(f'CREATE DATABASE "{name}"')
                self.chroma.create_database(name)

    def drop(self) -> None:
        existing = {d["name"] for d in self.chroma.list_databases()}
        with psycopg.connect(libpq_dsn(self.admin), autocommit=True) as conn:
            for name in self.names:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                if name in existing:
                    self.chroma.delete_database(name)

    def env(self, name: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("POSTGRES_", "TIMESCALE_", "NEO4J_", "CHROMA_", "POLYALEMBIC_"))}
        return {**env, "POSTGRES_DSN": f"{self.url}/{name}", "CHROMA_HOST": self.base.env["CHROMA_HOST"],
                "CHROMA_PORT": self.base.env["CHROMA_PORT"], "CHROMA_DATABASE": name}

    def fleet_file(self, root: Path, workers: int) -> Path:
        path = root / "fleet.toml"
        path.write_text(f"""[fleet]
workers = {workers}
canary = 1
tenants = {self.names!r}

[settings]
POSTGRES_DSN = "postgresql://{self.server.format(password='${BENCH_PG_PASSWORD}')}/{{tenant}}"
CHROMA_HOST = "{self.base.env['CHROMA_HOST']}"
CHROMA_PORT = "{self.base.env['CHROMA_PORT']}"
CHROMA_DATABASE = "{{tenant}}"
""")
        return path


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return time.perf_counter() - started


def floor(ini: Path, variables: list[dict[str, str]]) -> float:
    """Median seconds per tenant of ``api.up`` in this (warm) process, each tenant with its
    ``variables``, after one warm-up tenant (11 in all): the servers' and the runner's own time."""
    from polyalembic import api
    from polyalembic.events.stream import Reporter
    from polyalembic.project import Project
    from polyalembic.request import RunRequest
    from polyalembic.settings import Settings, Variables

    times = []
    for k, env in enumerate(variables[:11]):
        started = time.perf_counter()
        api.up(Project(ini, settings=Settings(Variables(env)), request=RunRequest(events=Reporter()),
                       frozen_files=True))
        if k:
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--targets", type=int, default=100)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    tenants = Tenants(args.targets)
    with tempfile.TemporaryDirectory(prefix="pa_bench_fleet_") as tmp:
        ini = chain(Path(tmp))
        fleet_file = tenants.fleet_file(Path(tmp), args.workers)
        fleet_env = {**tenants.env(tenants.names[0]), "PYTHONPATH": str(REPO),
                     "BENCH_PG_PASSWORD": tenants.password}
        up_loop = [str(BIN / "polyalembic"), "-c", str(ini), "-q", "up"]
        fleet_up = [str(BIN / "polyalembic"), "-c", str(ini), "-q", "fleet", "up", str(fleet_file)]
        samples: dict[str, list[float]] = {"fleet up": [], "serial loop of polyalembic up": []}
        try:
            for _ in range(args.reps):
                tenants.fresh()
                samples["fleet up"].append(timed(fleet_up, fleet_env))
                tenants.fresh()
                started = time.perf_counter()
                for name in tenants.names:
                    subprocess.run(up_loop, env={**tenants.env(name), "PYTHONPATH": str(REPO)}, check=True,
                                   stdout=subprocess.DEVNULL)
                samples["serial loop of polyalembic up"].append(time.perf_counter() - started)
            status = {"fleet status": [], "serial loop of polyalembic status": []}
            for _ in range(args.reps):  # on the fleet the last loop migrated
                status["fleet status"].append(timed([*fleet_up[:-3], "fleet", "status", str(fleet_file)], fleet_env))
                started = time.perf_counter()
                for name in tenants.names:
                    subprocess.run([str(BIN / "polyalembic"), "-c", str(ini), "-q", "status"],
                                   env={**tenants.env(name), "PYTHONPATH": str(REPO)}, check=True,
                                   stdout=subprocess.DEVNULL)
                status["serial loop of polyalembic status"].append(time.perf_counter() - started)
            tenants.fresh()
            keys = ("POSTGRES_DSN", "CHROMA_HOST", "CHROMA_PORT", "CHROMA_DATABASE")
            per_tenant = floor(ini, [{key: tenants.env(name)[key] for key in keys} for name in tenants.names])
        finally:
            tenants.drop()
    medians = {name: statistics.median(values) for name, values in {**samples, **status}.items()}
    print(f"{args.targets} database targets ({POSTGRES_REVISIONS} PostgreSQL + 1 Chroma revisions), "
          f"{args.workers} workers, {args.reps} reps, medians:")
    for name, seconds in medians.items():
        print(f"  {name:<36} {seconds:8.2f} s")
    print(f"  fleet up / serial loop: {medians['fleet up'] / medians['serial loop of polyalembic up']:.2f}")
    print(f"  fleet status / serial loop: "
          f"{medians['fleet status'] / medians['serial loop of polyalembic status']:.2f}")
    print(f"  floor: one tenant in a warm process {per_tenant * 1000:.0f} ms "
          f"(x {args.targets} = {per_tenant * args.targets:.1f} s serial, "
          f"{per_tenant * args.targets / args.workers:.1f} s on {args.workers} workers)")


if __name__ == "__main__":
    main()
