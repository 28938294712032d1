"""Chroma at scale (issue 11): ``rebuild_collection`` and ``backfill_collection_metadata`` as whole
``polyalembic up`` commands against ``chroma run``, each next to a raw ``chromadb.HttpClient``
loop doing the same work, alternated: records/s and each process's peak RSS.

    python bench/chroma_scale.py [--reps 2] [--sizes 20000 200000] [--quick]   (needs the stack)

The source collection (N × 384 float32, seeded) is loaded once per size, not timed. The raw loops
page with ``get(limit=get_max_batch_size(), offset)`` and write each page, doing what the op does:
the copy ``upsert``s every record (ids, embeddings, documents, metadatas) into a new l2
collection, checks the count, deletes the original and renames the copy into its place; the
backfill ``update``s one metadata key of every record. Each repetition runs both subjects, in
turn first (the one right after loading or after the other's swap must not always be the same).
Peak RSS and CPU seconds are the command's own (``os.wait4`` in a lean launcher), one child per
measurement; the Chroma server's CPU seconds during it (``/proc``) are the load-independent
measure of the work asked of the server. Between runs (not timed) the ledger is un-stamped so
that ``up`` runs the migration again, the result is checked (count, l2, a sample of records)
and the source written to once (see ``settle``).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.run import Bench, project_for  # noqa: E402
from polyalembic.stores.connections import StoreConnections  # noqa: E402

DIM = 384
SOURCE = "bench_src"
COPY = "bench_dst"
L2 = {"space": "l2"}
# the source's index only has to exist: a cheap graph makes loading 200k records bearable, and
# reading (get) does not use it
SOURCE_HNSW = {"space": "cosine", "ef_construction": 16, "max_neighbors": 8}

REVISION = '''"""{doc}"""

from alembic import op

revision = "chromadb_001"
down_revision = None
branch_labels = None
depends_on = None
store = "chromadb"


def upgrade() -> None:
    {upgrade}


def downgrade() -> None:
    {downgrade}
'''
REBUILD = REVISION.format(
    doc="Rebuild the bench collection as l2.",
    upgrade=f"op.rebuild_collection({SOURCE!r}, configuration={{'hnsw': {L2!r}}})",
    downgrade=f"op.rebuild_collection({SOURCE!r}, configuration={{'hnsw': {SOURCE_HNSW!r}}})")
BACKFILL = REVISION.format(
    doc="Backfill one metadata key on every record.",
    upgrade=f"op.backfill_collection_metadata({SOURCE!r}, values={{'tier': 'gold'}})",
    downgrade=f"op.backfill_collection_metadata({SOURCE!r}, values={{'tier': 'none'}})")

RAW_PREFIX = f'''
import os, time, chromadb
client = chromadb.HttpClient(host=os.environ["CHROMA_HOST"], port=int(os.environ["CHROMA_PORT"]))
started = time.perf_counter()
source = client.get_collection({SOURCE!r}, embedding_function=None)
step, offset = client.get_max_batch_size(), 0
'''
RAW_COPY = RAW_PREFIX + f'''
total = source.count()
target = client.create_collection({COPY!r}, configuration={{"hnsw": {L2!r}}}, embedding_function=None)
while True:
    page = source.get(include=["embeddings", "metadatas", "documents"], limit=step, offset=offset)
    if not page["ids"]:
        break
    target.upsert(ids=page["ids"], embeddings=page["embeddings"], metadatas=page["metadatas"],
                  documents=page["documents"])
    offset += len(page["ids"])
copied = time.perf_counter()
assert target.count() == total
client.delete_collection({SOURCE!r})
target.modify(name={SOURCE!r})
print(f"swap {{(time.perf_counter() - copied) * 1000:.0f}} ms")
print(f"loop {{(time.perf_counter() - started) * 1000:.0f}} ms")
'''
RAW_BACKFILL = RAW_PREFIX + '''
while True:
    page = source.get(include=[], limit=step, offset=offset)
    if not page["ids"]:
        break
    source.update(ids=page["ids"], metadatas=[{"tier": "gold"} for _ in page["ids"]])
    offset += len(page["ids"])
print(f"loop {(time.perf_counter() - started) * 1000:.0f} ms")
'''


# the work without start-up (imports, connections): the ledger's execution time of the migration,
# which `up` prints, and the raw loop's own clock
WORK = re.compile(r"^\s*(?:applied\s+chromadb\s+001_bench\.py|loop)\s+(\d+) ms$", re.MULTILINE)


@dataclass
class Measure:
    """One child process: wall seconds, its own peak RSS and CPU seconds, the seconds of the work
    itself, and the CPU seconds the Chroma server spent meanwhile."""

    seconds: float
    peak_mb: float
    work: float
    cpu: float
    server_cpu: float


# A lean launcher between the bench and the measured command: Linux carries a parent's RSS at
# fork into the child's ru_maxrss (even across exec), and this driver holds numpy and a client.
LAUNCH = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(f"{usage.ru_maxrss} {usage.ru_utime + usage.ru_stime}")
sys.exit(os.waitstatus_to_exitcode(status))
"""


@dataclass
class Row:
    """One comparison: medians of each side's measures, the largest peak RSS of each side."""

    what: str
    records: int
    poly: list[Measure]
    raw: list[Measure]

    def median(self, side: list[Measure], field: str) -> float:
        return statistics.median(getattr(m, field) for m in side)

    def ratio(self, field: str) -> float:
        """How fast polyalembic is next to the loop (> 1: faster), by medians of ``field``."""
        return self.median(self.raw, field) / self.median(self.poly, field)

    def peak(self, side: list[Measure]) -> float:
        return max(m.peak_mb for m in side)

    def markdown(self) -> str:
        n, p, r = self.records, self.poly, self.raw
        side = lambda m: (f"{self.median(m, 'seconds'):.1f} s, {n / self.median(m, 'seconds'):,.0f} rec/s "  # noqa: E731
                          f"({n / self.median(m, 'work'):,.0f} work) | {self.median(m, 'server_cpu'):.1f} + "
                          f"{self.median(m, 'cpu'):.1f} s | {self.peak(m):.0f} MB")
        return (f"| {self.what} | {side(p)} | {side(r)} | ×{self.ratio('seconds'):.2f} "
                f"(work ×{self.ratio('work'):.2f}, CPU ×{self.ratio('server_cpu'):.2f}) | "
                f"×{self.peak(p) / self.peak(r):.2f} |")


ROWS: list[Row] = []


def server_pid() -> int:
    """The pid of the stack's ``chroma run``."""
    from stack.manager import service

    state = service("chromadb").load_state()
    if state is None:
        sys.exit("bench: the stack's Chroma server is not running (make services-up)")
    return state.pid


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` (all its threads)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(bench: Bench, args: list[str], cwd: Path) -> Measure:
    """Wall time, peak RSS and CPU of ``args``, run as one child of a lean launcher."""
    server = server_pid()
    with tempfile.TemporaryFile() as out, tempfile.NamedTemporaryFile("r") as usage:
        served, t0 = cpu_seconds(server), time.perf_counter()
        code = subprocess.call([sys.executable, "-c", LAUNCH, usage.name, *args], env=bench.env(), cwd=cwd,
                               stdout=out, stderr=out)
        seconds, served = time.perf_counter() - t0, cpu_seconds(server) - served
        out.seek(0)
        output = out.read().decode()
        work = WORK.search(output)
        if code != 0 or work is None:
            sys.exit(f"bench: {' '.join(args[:5])} failed:\n{output[-2000:]}")
        maxrss, cpu = usage.read().split()
        return Measure(seconds, int(maxrss) / 1024, int(work.group(1)) / 1000, float(cpu), served)


def make_project(root: Path, name: str, revision: str) -> Path:
    """A project whose one migration is ``revision`` (Chroma only); its alembic.ini."""
    ini, folder = project_for(root / name, "chromadb")
    (folder / "001_bench.py").write_text(revision)
    return ini


def load(bench: Bench, records: int) -> None:
    """Empty the stores, then add ``records`` seeded random records (embedding, document, metadata)."""
    import numpy as np

    bench.fresh()
    rng = np.random.default_rng(7)
    with StoreConnections(bench.settings) as connections:
        client = connections.get("chromadb")
        source = client.create_collection(SOURCE, configuration={"hnsw": SOURCE_HNSW}, embedding_function=None)
        step = client.get_max_batch_size()
        for lo in range(0, records, step):
            idx = range(lo, min(lo + step, records))
            source.add(ids=[f"r{i}" for i in idx], embeddings=rng.random((len(idx), DIM), dtype=np.float32),
                       documents=[f"record {i}" for i in idx], metadatas=[{"i": i} for i in idx])


def settle(bench: Bench, records: int, after: str) -> None:
    """Check what the last run (``after``: load, rebuild or backfill) left: every record there, l2
    after a rebuild, a sample intact, ``tier`` set after a backfill. Then write once to the
    source: the first write to a collection after a rebuild's swap costs seconds (the server, not
    the client), and whoever runs next must not pay for the one before."""
    with StoreConnections(bench.settings) as connections:
        client = connections.get("chromadb")
        names = sorted(c.name for c in client.list_collections())
        if names != [SOURCE]:
            sys.exit(f"bench: collections after the run are {names}, not [{SOURCE!r}]")
        source = client.get_collection(SOURCE, embedding_function=None)
        space = (source.configuration or {}).get("hnsw", {}).get("space")
        if source.count() != records or (after == "rebuild" and space != "l2"):
            sys.exit(f"bench: {SOURCE} holds {source.count()} records in space {space} after the run")
        sample = [f"r{i}" for i in range(0, records, max(1, records // 50))]
        got = source.get(ids=sample, include=["documents", "metadatas", "embeddings"])
        rows = sorted(zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"], strict=True))
        if len(rows) != len(sample) or any(doc != f"record {rid[1:]}" or meta["i"] != int(rid[1:]) or len(vec) != DIM
                                           for rid, doc, meta, vec in rows):
            sys.exit(f"bench: the records of {SOURCE} are not the loaded ones after the run")
        if after == "backfill" and source.get(where={"tier": {"$ne": "gold"}}, limit=1, include=[])["ids"]:
            sys.exit("bench: a record lacks tier=gold after the backfill")
        source.update(ids=["r0"], metadatas=[{"i": 0}])


def compare(bench: Bench, what: str, records: int, ini: Path, raw: str) -> None:
    """``polyalembic up`` of ``ini`` and the raw script (``what`` they do: rebuild or backfill),
    each in turn first; medians, peak RSS."""
    py = sys.executable
    poly: list[Measure] = []
    base: list[Measure] = []

    def run_poly() -> None:
        poly.append(measured(bench, [py, "-m", "polyalembic", "-c", str(ini), "up"], ini.parent))
        bench.run([py, "-m", "polyalembic", "-c", str(ini), "stamp", "base", "--backwards"], ini.parent)

    def run_raw() -> None:
        base.append(measured(bench, [py, "-c", raw], ini.parent))

    for rep in range(bench.reps):
        for subject in (run_poly, run_raw) if rep % 2 == 0 else (run_raw, run_poly):
            subject()
            settle(bench, records, what)
    op = "rebuild_collection" if what == "rebuild" else "backfill_collection_metadata"
    row = Row(f"{op}, {records:,} × {DIM}", records, poly, base)
    ROWS.append(row)
    each = lambda side: ", ".join(f"{m.seconds:.1f}s/{m.server_cpu:.0f}+{m.cpu:.1f}cpu/{m.peak_mb:.0f}MB"  # noqa: E731
                                  for m in side)
    print(f"{row.what:<44} poly {row.median(poly, 'seconds'):6.1f} s ({row.median(poly, 'work'):6.1f} s work) "
          f"{row.peak(poly):4.0f} MB | raw {row.median(base, 'seconds'):6.1f} s ({row.median(base, 'work'):6.1f} s "
          f"work) {row.peak(base):4.0f} MB | speed ×{row.ratio('seconds'):.2f} (work ×{row.ratio('work'):.2f}, "
          f"server CPU ×{row.ratio('server_cpu'):.2f}) RSS ×{row.peak(poly) / row.peak(base):.2f}\n"
          f"  poly: {each(poly)}\n  raw:  {each(base)}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--sizes", type=int, nargs="*", default=[20_000, 200_000])
    parser.add_argument("--quick", action="store_true", help="20,000 records, 2 repetitions")
    parser.add_argument("--only", choices=["rebuild", "backfill"], nargs="*", default=["rebuild", "backfill"])
    args = parser.parse_args(argv)
    sizes, reps = ([20_000], 2) if args.quick else (args.sizes, args.reps)
    bench = Bench(reps)
    root = Path(tempfile.mkdtemp(prefix="bench-chroma-"))
    try:
        projects = {"rebuild": (make_project(root, "rebuild", REBUILD), RAW_COPY),
                    "backfill": (make_project(root, "backfill", BACKFILL), RAW_BACKFILL)}
        for records in sizes:
            t0 = time.perf_counter()
            load(bench, records)
            settle(bench, records, "load")
            print(f"loaded {records:,} × {DIM} in {time.perf_counter() - t0:.0f} s (not timed)", flush=True)
            for what in args.only:
                ini, raw = projects[what]
                compare(bench, what, records, ini, raw)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        bench.close()
    print("\n| op, records | polyalembic up | server + own CPU | peak RSS | raw loop | server + own CPU | peak RSS "
          "| speed | RSS |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for row in ROWS:
        print(row.markdown())


if __name__ == "__main__":
    main()
