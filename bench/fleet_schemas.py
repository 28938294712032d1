"""Schema targets (issue 24): N tenants, each a schema of one database with the timescaledb
extension, one chain of SQL pair files (PostgreSQL tables and TimescaleDB hypertables, the SQL
part of a fleet chain). ``polyalembic fleet up`` (2 worker processes) against what Alembic users
write: a serial shell loop of vanilla ``alembic upgrade head`` (one process per tenant, its
``version_table_schema`` and search_path the tenant's, the same SQL files), and the same loop
under ``xargs -P 2`` (reported beside, not a goal). Pairs alternated, a fresh database before
every run (not timed). Then ``fleet status`` over M schema targets against a loop of vanilla
``alembic current``. Each worker's peak RSS (VmHWM, polled from /proc) at both sizes, and the
floor: one tenant migrated by ``api.up`` inside a warm process.

    python bench/fleet_schemas.py [--targets 200] [--status-targets 1000] [--reps 2]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

import psycopg  # noqa: E402
from psycopg.conninfo import conninfo_to_dict  # noqa: E402

from bench.fleet import floor  # noqa: E402
from bench.run import BINDER, VANILLA_REVISION, project_for  # noqa: E402
from polyalembic.settings import load_settings  # noqa: E402
from polyalembic.stores.postgres.dsn import libpq_dsn  # noqa: E402

BIN = Path(sys.executable).parent
DATABASE = "fleet_bench_schemas"
#: (store, name, up SQL, down SQL): 4 tables, 2 hypertables
CHAIN = [
    *(("postgres", f"table_{k}", f"CREATE TABLE table_{k} (id BIGSERIAL PRIMARY KEY, name TEXT NOT NULL, "
                                 f"created_at TIMESTAMPTZ NOT NULL DEFAULT now());\n"
                                 f"CREATE INDEX table_{k}_name ON table_{k} (name);\n",
       f"DROP TABLE table_{k};\n") for k in range(4)),
    *(("timescaledb", f"metrics_{k}", f"CREATE TABLE metrics_{k} (time TIMESTAMPTZ NOT NULL, device TEXT NOT NULL, "
                                      f"value DOUBLE PRECISION);\n"
                                      f"SELECT create_hypertable('metrics_{k}', by_range('time', INTERVAL '1 day'));\n",
       f"DROP TABLE metrics_{k};\n") for k in range(2)),
]

VANILLA_SCHEMA_ENV = '''
import os
from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

schema = os.environ["BENCH_SCHEMA"]
engine = create_engine(os.environ["BENCH_URL"], poolclass=NullPool,
                       connect_args={"options": f"-csearch_path={schema},public"})
with engine.connect() as connection:
    connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    connection.commit()
    context.configure(connection=connection, version_table_schema=schema, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
'''


def projects(root: Path) -> tuple[Path, Path]:
    """The polyalembic project (pair files) and the vanilla Alembic one (the same files)."""
    ini, postgres = project_for(root / "poly", "postgres")
    timescale = postgres.parent / "timescaledb"
    timescale.mkdir()
    text = ini.read_text().replace("version_locations = %(here)s/migrations/postgres",
                                   "version_locations = %(here)s/migrations/postgres %(here)s/migrations/timescaledb")
    ini.write_text(text)
    plain = root / "plain"
    (plain / "versions").mkdir(parents=True)
    (plain / "env.py").write_text(VANILLA_SCHEMA_ENV)
    (plain / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s\n")
    down = None
    numbers: dict[str, int] = {}
    for store, name, up, down_sql in CHAIN:
        folder = postgres if store == "postgres" else timescale
        k = numbers[store] = numbers.get(store, 0) + 1  # each store's folder numbers its own
        stem = f"{k:03d}_{name}"
        revision = f"{store}_{k:03d}"
        (folder / f"{stem}.up.sql").write_text(up)
        (folder / f"{stem}.down.sql").write_text(down_sql)
        (folder / f"{stem}.py").write_text(BINDER.format(title=name, revision=revision, down=down, store=store))
        (plain / "versions" / f"{revision}.py").write_text(VANILLA_REVISION.format(
            revision=revision, down=down, up=str(folder / f"{stem}.up.sql"),
            down_file=str(folder / f"{stem}.down.sql")))
        down = revision
    return ini, plain / "alembic.ini"


class Schemas:
    """One database with the timescaledb extension, remade afresh; tenant k is schema ``tenant_<k>``."""

    def __init__(self) -> None:
        base = load_settings(env_file=REPO / ".stack" / "stack.env")
        self.admin = base.database_url("timescaledb")
        if not self.admin:
            sys.exit("bench: the local stack is not running (make services-up)")
        info = conninfo_to_dict(libpq_dsn(self.admin))
        self.password = str(info["password"])
        self.server = f"{info['user']}:{{password}}@{info['host']}:{info['port']}"
        self.url = f"postgresql://{self.server.format(password=self.password)}/{DATABASE}"

    def fresh(self) -> None:
        self.drop()
        with psycopg.connect(libpq_dsn(self.admin), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
        with psycopg.connect(libpq_dsn(self.url), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")

    def drop(self) -> None:
        with psycopg.connect(libpq_dsn(self.admin), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')

    def clean_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("POSTGRES_", "TIMESCALE_", "NEO4J_", "CHROMA_", "POLYALEMBIC_"))}
        return {**env, "PYTHONPATH": str(REPO)}

    def fleet_file(self, root: Path, count: int, workers: int) -> Path:
        path = root / f"fleet_{count}.toml"
        where = f"postgresql://{self.server.format(password='${BENCH_PG_PASSWORD}')}/{DATABASE}"
        path.write_text(f"""[fleet]
workers = {workers}
canary = 1
tenants = {[f"{k:04d}" for k in range(count)]!r}

[settings]
POSTGRES_DSN = "{where}"
TIMESCALE_DSN = "{where}"
POSTGRES_SCHEMA = "tenant_{{tenant}}"
TIMESCALE_SCHEMA = "tenant_{{tenant}}"
""")
        return path


class PeakRss:
    """The peak RSS (VmHWM) of every child of a process, polled while it runs."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peaks, self._done = pid, {}, threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._done.is_set():
            try:
                children = Path(f"/proc/{self.pid}/task/{self.pid}/children").read_text().split()
            except OSError:
                children = []
            for child in children:
                try:
                    status = Path(f"/proc/{child}/status").read_text()
                except OSError:
                    continue
                for line in status.splitlines():
                    if line.startswith("VmHWM:"):
                        self.peaks[child] = max(self.peaks.get(child, 0), int(line.split()[1]))
            time.sleep(0.1)

    def stop(self) -> list[int]:
        self._done.set()
        self._thread.join()
        return sorted(self.peaks.values())


def fleet_run(argv: list[str], env: dict[str, str]) -> tuple[float, list[int]]:
    """Seconds of the fleet command and its workers' peak RSS (kB)."""
    started = time.perf_counter()
    process = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    rss = PeakRss(process.pid)
    err, _ = process.communicate()
    seconds = time.perf_counter() - started
    peaks = rss.stop()
    if process.returncode:
        sys.exit(f"bench: {' '.join(argv[-3:])} failed: {err.decode()[-1500:]}")
    return seconds, peaks


def loop(argv: list[str], env: dict[str, str], count: int, parallel: int = 1) -> float:
    """Seconds of a shell loop running ``argv`` once per tenant (BENCH_SCHEMA set), ``parallel`` at once."""
    script = " ".join(argv)
    tenants = "\n".join(f"tenant_{k:04d}" for k in range(count))
    command = (f"xargs -P {parallel} -I{{}} env BENCH_SCHEMA={{}} {script}" if parallel > 1 else
               f"while read s; do BENCH_SCHEMA=$s {script} || exit 1; done")
    started = time.perf_counter()
    subprocess.run(["bash", "-c", command], input=tenants, text=True, env=env, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--targets", type=int, default=200)
    parser.add_argument("--status-targets", type=int, default=1000)
    parser.add_argument("--reps", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    schemas = Schemas()
    env = schemas.clean_env()
    with tempfile.TemporaryDirectory(prefix="pa_bench_schemas_") as tmp:
        ini, plain = projects(Path(tmp))
        small, large = (schemas.fleet_file(Path(tmp), n, args.workers) for n in (args.targets, args.status_targets))
        fleet_env = {**env, "BENCH_PG_PASSWORD": schemas.password}
        poly = [str(BIN / "polyalembic"), "-c", str(ini), "fleet"]
        vanilla_env = {**env, "BENCH_URL": schemas.url.replace("postgresql://", "postgresql+psycopg://")}
        vanilla = [str(BIN / "alembic"), "-c", str(plain)]
        up: dict[str, list[float]] = {"fleet up": [], "serial loop of alembic upgrade head": [],
                                      "xargs -P 2 loop of alembic upgrade head": []}
        rss: dict[int, list[int]] = {}
        try:
            for _ in range(args.reps):
                schemas.fresh()
                seconds, rss[args.targets] = fleet_run([*poly, "up", str(small)], fleet_env)
                up["fleet up"].append(seconds)
                schemas.fresh()
                up["serial loop of alembic upgrade head"].append(
                    loop([*vanilla, "upgrade", "head"], vanilla_env, args.targets))
                schemas.fresh()
                up["xargs -P 2 loop of alembic upgrade head"].append(
                    loop([*vanilla, "upgrade", "head"], vanilla_env, args.targets, parallel=2))
            schemas.fresh()
            large_up, rss[args.status_targets] = fleet_run([*poly, "up", str(large)], fleet_env)
            status = {"fleet status": [fleet_run([*poly, "status", str(large)], fleet_env)[0]],
                      "serial loop of alembic current": [loop([*vanilla, "current"], vanilla_env,
                                                              args.status_targets)]}
            per_tenant = floor(ini, [{"POSTGRES_DSN": schemas.url, "TIMESCALE_DSN": schemas.url,
                                      "POSTGRES_SCHEMA": f"floor_{k}", "TIMESCALE_SCHEMA": f"floor_{k}"}
                                     for k in range(11)])
        finally:
            schemas.drop()
    medians = {name: statistics.median(values) for name, values in {**up, **status}.items()}
    serial = medians["serial loop of alembic upgrade head"]
    print(f"{args.targets} schema targets in one database ({len(CHAIN)} SQL revisions: 4 PostgreSQL tables, "
          f"2 TimescaleDB hypertables), {args.workers} workers, {args.reps} reps, medians:")
    for name, seconds in medians.items():
        print(f"  {name:<40} {seconds:8.2f} s")
    print(f"  fleet up / serial loop: {medians['fleet up'] / serial:.2f}; "
          f"xargs -P 2 loop / serial loop: {medians['xargs -P 2 loop of alembic upgrade head'] / serial:.2f}")
    print(f"  fleet status / serial loop of alembic current ({args.status_targets} targets): "
          f"{medians['fleet status'] / medians['serial loop of alembic current']:.2f}")
    print(f"  fleet up of {args.status_targets} targets: {large_up:.2f} s")
    for count, peaks in rss.items():
        print(f"  workers' peak RSS at {count} targets: {', '.join(f'{p / 1024:.0f} MiB' for p in peaks)}")
    print(f"  floor: one tenant in a warm process {per_tenant * 1000:.0f} ms "
          f"(x {args.targets} = {per_tenant * args.targets:.1f} s serial, "
          f"{per_tenant * args.targets / args.workers:.1f} s on {args.workers} workers)")
    missed = missed_goals(medians, rss[args.targets], rss[args.status_targets])
    for line in missed:
        print(f"  MISSED: {line}")
    if missed:
        sys.exit(1)


def missed_goals(medians: dict[str, float], fewer: list[int], more: list[int]) -> list[str]:
    """The issue's goals: fleet up <= 0.25x the serial loop, fleet status <= 0.10x, and each
    worker's peak RSS flat in the number of targets (the largest within 1.25x)."""
    missed = []
    up = medians["fleet up"] / medians["serial loop of alembic upgrade head"]
    status = medians["fleet status"] / medians["serial loop of alembic current"]
    if up > 0.25:
        missed.append(f"fleet up {up:.2f}x the serial loop (goal <= 0.25)")
    if status > 0.10:
        missed.append(f"fleet status {status:.2f}x the loop of alembic current (goal <= 0.10)")
    if max(more) > 1.25 * max(fewer):
        missed.append(f"a worker's peak RSS grew from {max(fewer)} to {max(more)} kB with the targets")
    return missed


if __name__ == "__main__":
    main()
