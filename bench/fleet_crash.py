"""Fleet crash test: SIGKILL one worker of `polyalembic fleet up`, or the whole fleet, at many
points, recover with `fleet up` again, and check that every target converged to a clean run's.

    python bench/fleet_crash.py [--kills 30] [--targets 4] [--seed 7]   (make fleet-crash; needs the stack)

The fleet is bench/fleet.py's chain (4 PostgreSQL revisions, a Chroma collection) with data whose
repeat or loss shows: rows INSERTed in the target's PostgreSQL database (a plain INSERT: a repeat
doubles them), records upserted into the collection in batches (``run_chroma``), then every record
tagged (a backfill). Its targets are of three kinds in turn (``KINDS``): a tenant's own PostgreSQL
database, holding its tables and its ledger (tests/test_fleet.py's); one whose ledger is a
database of its own (``POLYALEMBIC_LEDGER_DSN``), so each PostgreSQL migration commits with its
step marker in the tenant's database before its ledger hears of it; and a tenant's schema of a
database the schema targets share (``POSTGRES_SCHEMA``: tables, ledger, version table, markers
and lock in that schema); each has its own Chroma database. The markers, locks and ledgers are
per target: a kill in one target's commit window must be resumed from that target's marker,
whatever the others did.

Each trial starts from fresh targets (their databases dropped and made again), starts the stock
CLI's ``fleet up FILE`` (2 workers, a canary; the file's targets rotated by one each trial, so each
is the canary in turn), and kills it in one of these windows, in turn:

- ``worker at a time``: one worker process (a child of the fleet process) at a point spread over
  a clean run's time with workers; the fleet goes on without it (that target failed);
- ``fleet at a time``: the whole process group (the fleet and its workers) at a point spread over
  a clean run's duration;
- ``worker at a store commit``: the workers kill themselves (``POLYALEMBIC_CRASH_AT=
  store-committed@N``, each counting its own) right after a store committed a step that commits
  on its own, before the target's ledger heard of it. Aimed in turn at each store's commits in
  each kind of target while it is the canary (its worker alone: that store's row must be the
  one left ``running``; a clean run of one target of each kind lists its commits), and every
  other round as far into that worker's second target, the other worker busy with its own.

Then it recovers: ``fleet up --continue`` (the targets after a failed one run too); when a target
holds a half-done migration, ``fleet repair --continue`` (resume; ``fleet repair retry`` where
resume refuses a step that may have partly run), which touches only those targets; until ``fleet
up`` succeeds. Converged means, for every
target: its PostgreSQL snapshot (the store's catalog queries of its own schema) and Chroma
snapshot equal those of the clean run's target of its kind; every ledger row is ``applied`` (what
``fleet status --check`` reads); every migration has exactly one ``upgrade`` audit row; no step
marker of a migration not applied is left; and the data is all there once: each row (count and
distinct ids), each record and its tag.

A kind of target is a ``Target`` subclass: its fleet-file variables, where its tables and ledger
are (``Place``: a database and a schema), and how it is made afresh; the snapshots and checks read
every target through those.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.crash_kit import REPAIR_CHOICE, Tally, differences, read_points, run_env  # noqa: E402
from bench.fleet import chain  # noqa: E402
from bench.fleet_targets import KINDS, Server, Target, fleet_file, ledger_state, running_stores, snapshots  # noqa: E402

ROWS = 2000
RECORDS = 300
WORKERS = 2
#: the fleet file names the password so (secrets stay out of the file); the runs export it
PASSWORD_VARIABLE = "FLEET_CRASH_PG_PASSWORD"

ROWS_BINDER = '''"""Rows INSERTed in the target's own database (a repeat would double them)."""
from polyalembic.pairs import migration_files

revision = "postgres_005"
down_revision = "chromadb_001"
store = "postgres"

upgrade, downgrade = migration_files(__file__)
'''
CHROMA_FILL = f'''"""{RECORDS} records upserted into the collection in batches (a repeat adds nothing)."""
from polyalembic import op

revision = "chromadb_002"
down_revision = "postgres_005"
store = "chromadb"
IDS = [f"r{{i}}" for i in range({RECORDS})]


def fill(client):
    documents = client.get_collection("documents", embedding_function=None)
    for start in range(0, len(IDS), 100):
        ids = IDS[start:start + 100]
        documents.upsert(ids=ids, embeddings=[[float(i % 7), 1.0, float(i % 3)] for i in range(len(ids))],
                         metadatas=[{{"n": start + i}} for i in range(len(ids))])


def empty(client):
    client.get_collection("documents", embedding_function=None).delete(ids=IDS)


def upgrade():
    op.run_chroma(fill, empty)


def downgrade():
    op.run_chroma(empty, fill)
'''
CHROMA_TAGS = '''"""Every record tagged, in batches (values: a repeat sets the same)."""
from polyalembic import op

revision = "chromadb_003"
down_revision = "chromadb_002"
store = "chromadb"


def upgrade():
    op.backfill_collection_metadata("documents", values={"tag": "fleet"}, batch_size=100)


def downgrade():
    op.backfill_collection_metadata("documents", keys=["tag"], remove=True, batch_size=100)
'''


def make_project(root: Path) -> Path:
    """bench/fleet.py's chain, then the data revisions; its alembic.ini."""
    ini = chain(root)
    postgres, chroma = root / "migrations" / "postgres", root / "migrations" / "chromadb"
    (postgres / "005_rows.py").write_text(ROWS_BINDER)
    (postgres / "005_rows.up.sql").write_text(
        f"INSERT INTO table_0 (created_at) SELECT now() FROM generate_series(1, {ROWS});\n")
    (postgres / "005_rows.down.sql").write_text("DELETE FROM table_0;\n")
    (chroma / "002_records.py").write_text(CHROMA_FILL)
    (chroma / "003_tags.py").write_text(CHROMA_TAGS)
    return ini


def state(target: Target) -> dict[str, Any]:
    """The target's snapshots, its ledger and audit, and its data: rows (count, distinct ids),
    records, tagged records."""
    with target.connections() as connections:
        found = snapshots(connections) | ledger_state(target)
        documents = connections.get("chromadb").get_collection("documents", embedding_function=None)
        found["records"] = documents.count()
        found["tagged"] = len(documents.get(where={"tag": "fleet"}, include=[])["ids"])
    with target.server.connect(target.tables()) as conn:
        found["rows"] = conn.execute("SELECT count(*), count(DISTINCT id) FROM table_0").fetchone()
    return found


WINDOWS = ("worker at a time", "fleet at a time", "worker at a store commit")
#: a failed target in fleet up's summary
FAILED = re.compile(r"^  failed +(\S+): (.*)$", re.MULTILINE)
DIED = "the worker running it died"


class Fleet:
    """The trials' fleet: K targets of the kinds in turn, its fleet file and the runs over it."""

    def __init__(self, server: Server, ini: Path, count: int) -> None:
        token = secrets.token_hex(3)
        self.server, self.ini = server, ini
        self.targets = [KINDS[k % len(KINDS)](server, f"fc_{token}_{k:02d}") for k in range(count)]
        self.file = ini.parent / "fleet.toml"
        self.rotate(0)
        self.env = run_env({PASSWORD_VARIABLE: server.password}, REPO)

    def rotate(self, first: int) -> None:
        """The fleet file with the targets from the ``first``-th on (then the others): each trial
        another canary, so the kinds take turns at each worker's first commits."""
        first %= len(self.targets)
        fleet_file(self.file, self.targets[first:] + self.targets[:first], f"workers = {WORKERS}\ncanary = 1",
                   PASSWORD_VARIABLE)

    def commits(self, target: Target) -> list[str]:
        """The store of each store commit a clean run of ``target`` reaches, in order (a fleet of
        it alone: what the canary's worker reaches first when it is the canary); it is left migrated."""
        record, alone = self.ini.parent / "points.txt", self.ini.parent / "alone.toml"
        record.unlink(missing_ok=True)
        fleet_file(alone, [target], "workers = 1", PASSWORD_VARIABLE)
        result = subprocess.run(self.command("up", file=alone), capture_output=True, text=True, timeout=600,
                                env=self.env | {"POLYALEMBIC_CRASH_AT": f"count@{record}"})
        if result.returncode != 0:
            sys.exit(f"fleet crash: the clean run of {target.name} failed: {result.stdout[-2000:]}")
        return read_points(record).get("store-committed", [])

    def fresh(self, fresh: bool = True) -> None:
        """Every target's databases dropped and made again (only dropped unless ``fresh``), the
        targets side by side (a third of the time of one after the other)."""
        with ThreadPoolExecutor(len(self.targets)) as pool:
            list(pool.map(lambda target: target.remake(fresh), self.targets))

    def command(self, action: str, *options: str, file: Path | None = None) -> list[str]:
        """The stock CLI's ``fleet ACTION FILE [OPTIONS]`` (this fleet's file unless ``file``)."""
        return [sys.executable, "-m", "polyalembic", "-c", str(self.ini), "fleet", action, str(file or self.file),
                *options]

    def run(self, action: str, *options: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(self.command(action, *options), env=self.env, capture_output=True, text=True,
                              timeout=600)

    def start(self, crash_at: str | None = None) -> subprocess.Popen[str]:
        """``fleet up`` in a process group of its own (the fleet and its workers)."""
        env = self.env | ({"POLYALEMBIC_CRASH_AT": crash_at} if crash_at else {})
        return subprocess.Popen(self.command("up"), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, start_new_session=True)

    def recover(self) -> list[str]:
        """``fleet up`` until it succeeds; after a failure, ``fleet repair`` (resume, and retry
        where resume honestly refuses a step that may have partly run: the workload is written
        idempotent, as the README asks), which touches only the targets whose ledger holds a
        half-done migration. Returns what was run."""
        done: list[str] = []
        for _ in range(10):
            result = self.run("up", "--continue")  # the targets after a failed one too (but a failed canary)
            done.append("fleet up")
            if result.returncode == 0:
                return done
            output = result.stdout + result.stderr
            if not FAILED.findall(output):
                raise RuntimeError(f"fleet up failed naming no target: {output[-800:]}")
            if REPAIR_CHOICE not in output:
                continue  # a target whose worker died: the next fleet up runs it (or says what to repair)
            for decision in ("resume", "retry"):
                repaired = self.run("repair", decision, "--continue")
                done.append(f"fleet repair {decision}")
                text = repaired.stdout + repaired.stderr
                if repaired.returncode == 0:
                    break
                if decision == "retry" or "may have partly run" not in text:
                    raise RuntimeError(f"fleet repair {decision} failed: {text[-800:]}")
        raise RuntimeError(f"no convergence after {done}")


def workers_of(pid: int) -> list[int]:
    """The worker processes of the fleet process ``pid``: its children spawned by multiprocessing
    (not its resource tracker)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == pid and b"spawn_main" in cmdline:
            found.append(int(entry.name))
    return found


def wait_for_workers(proc: subprocess.Popen[str], timeout: float = 60) -> float:
    """Seconds until the fleet process has a worker (or it ended)."""
    started = time.monotonic()
    while not workers_of(proc.pid) and proc.poll() is None and time.monotonic() - started < timeout:
        time.sleep(0.005)
    return time.monotonic() - started


@dataclass
class Timeline:
    """A clean run's: its duration and when its first worker was up."""

    duration: float
    first_worker: float


def clean_run(fleet: Fleet) -> Timeline:
    started = time.monotonic()
    proc = fleet.start()
    first_worker = wait_for_workers(proc)
    output, _ = proc.communicate(timeout=600)
    if proc.returncode != 0:
        sys.exit(f"fleet crash: the clean run failed: {output[-2000:]}")
    return Timeline(time.monotonic() - started, first_worker)


def kill_at_commit(fleet: Fleet, nth: int, aimed: str | None) -> str | None:
    """``fleet up`` whose workers kill themselves at their ``nth`` store commit; ``aimed``: the
    store the canary's ``nth`` commit is in (None: past the canary, both workers running)."""
    proc = fleet.start(crash_at=f"store-committed@{nth}")
    output, _ = proc.communicate(timeout=600)
    if proc.returncode == 0:
        return None
    failed = FAILED.findall(output)
    if not failed or any(DIED not in error for _, error in failed) or len(failed) > WORKERS:
        raise RuntimeError(f"store-committed@{nth}: the workers that died are not those failed: {output[-1500:]}")
    running = running_stores(fleet.targets)
    if aimed is not None and running != [aimed]:
        raise RuntimeError(f"store-committed@{nth}: aimed at the canary's {aimed} commit, left running: {running}")
    return f"{'canary' if aimed else 'each worker'}'s commit {nth} ({', '.join(running) or 'none running'})"


def kill(fleet: Fleet, window: str, point: float, rng: random.Random) -> str | None:
    """Start ``fleet up`` and kill one worker or the whole fleet ``point`` seconds in (a worker's
    point counts from the first worker's start); what was hit, or None when the run ended first."""
    proc = fleet.start()
    if window == "fleet at a time":
        time.sleep(point)
        if proc.poll() is not None:
            return None
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate(timeout=60)
        return f"at {point:.2f}s"
    offset = wait_for_workers(proc)
    time.sleep(point)
    workers = workers_of(proc.pid)
    if proc.poll() is not None or not workers:
        proc.communicate(timeout=60)
        return None
    os.kill(rng.choice(workers), signal.SIGKILL)
    output, _ = proc.communicate(timeout=600)
    # a dead worker fails only the target it ran (the others go on); an idle one's death is
    # seen only when it is handed a target
    failed = FAILED.findall(output)
    if failed and (len(failed) != 1 or DIED not in failed[0][1] or proc.returncode == 0):
        raise RuntimeError(f"a worker killed, and fleet up said: {output[-1500:]}")
    hit = "busy" if failed else "idle" if proc.returncode == 0 else f"idle, then exit {proc.returncode}"
    return f"{hit} at {offset + point:.2f}s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kills", type=int, default=30)
    parser.add_argument("--targets", type=int, default=4)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    server = Server()
    rng = random.Random(args.seed)
    workdir = Path(tempfile.mkdtemp(prefix="polyalembic-fleet-crash-"))
    fleet: Fleet | None = None
    began = time.monotonic()
    try:
        fleet = Fleet(server, make_project(workdir), args.targets)
        kinds = {t.kind: t for t in reversed(fleet.targets)}  # the first target of each kind
        for target in kinds.values():
            target.remake()
        commits = {kind: fleet.commits(target) for kind, target in kinds.items()}
        # the exact window's aims, in turn: each store's commits in each kind's canary (PostgreSQL's
        # first: its step marker's window, the smoke's one aim)
        aims = [(kind, store) for kind, stores in commits.items() for store in sorted(set(stores), reverse=True)]
        aims.sort(key=lambda aim: aim[1] != "postgres")  # a PostgreSQL marker first (stable otherwise)
        fleet.fresh()
        timeline = clean_run(fleet)
        states = {t.name: state(t) for t in fleet.targets}
        reference = {kind: states[t.name] for kind, t in kinds.items()}
        unlike = [t.name for t in fleet.targets if states[t.name] != reference[t.kind]]
        if unlike:
            sys.exit(f"fleet crash: the clean run's targets differ within their kind: {unlike}")
        sample = reference[fleet.targets[0].kind]
        print(f"clean run: {timeline.duration:.1f}s (first worker at {timeline.first_worker:.1f}s); "
              f"{len(fleet.targets)} targets, {len(sample['upgrades'])} migrations each, rows {sample['rows']}, "
              f"records {sample['records']}; store commits of a target: " +
              "; ".join(f"{kind} {', '.join(f'{s} {c.count(s)}' for s in sorted(set(c)))}"
                        for kind, c in commits.items()), flush=True)
        tally = Tally()
        per_window = {w: [k for k in range(args.kills) if WINDOWS[k % len(WINDOWS)] == w] for w in WINDOWS}
        span = {"worker at a time": timeline.duration - timeline.first_worker, "fleet at a time": timeline.duration}
        for k in range(args.kills):
            window = WINDOWS[k % len(WINDOWS)]
            turn = per_window[window].index(k)
            started = time.monotonic()
            hit = None
            if window == "worker at a store commit":
                kind, store = aims[turn % len(aims)]
                of_kind = [i for i, t in enumerate(fleet.targets) if t.kind == kind]
                fleet.rotate(of_kind[turn // len(aims) % len(of_kind)])
                nth = 1 + rng.choice([i for i, s in enumerate(commits[kind]) if s == store])
                # every other round of aims: as far into the canary worker's second target, the
                # other worker busy with its own
                past = turn // len(aims) % 2 == 1
                nth += len(commits[kind]) if past else 0
                while hit is None:
                    fleet.fresh()
                    hit = kill_at_commit(fleet, nth, None if past else store)
                    nth = max(1, nth // 2)  # if the run ended first: earlier
            else:
                fleet.rotate(k)
                point = span[window] * (turn + rng.random()) / len(per_window[window])
                while hit is None:
                    fleet.fresh()
                    hit = kill(fleet, window, point, rng)
                    point *= rng.random()  # if it ended first: earlier
            steps = fleet.recover()
            problems = [f"{t.name}: {', '.join(p)}" for t in fleet.targets
                        if (p := differences(reference[t.kind], state(t)))]
            tally.add(window, not problems)
            verdict = "converged" if not problems else "DIFFERS: " + "; ".join(problems)
            print(f"kill {k + 1:3d} {window:<25} {hit:<40} recovered with {', '.join(steps):<44} "
                  f"{time.monotonic() - started:4.1f}s {verdict}", flush=True)
        print(f"{time.monotonic() - began:.0f} s in all")
        return 0 if tally.close() else 1
    finally:
        if fleet is not None:
            fleet.fresh(fresh=False)
        server.drop_shared()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
