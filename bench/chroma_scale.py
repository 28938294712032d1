"""Chroma at scale (issue 11): ``rebuild_collection`` and ``backfill_collection_metadata`` as whole
``polyalembic up`` commands against ``chroma run``, each next to a raw ``chromadb.HttpClient``
loop doing the same work, alternated: records/s and each process's peak RSS.

    python bench/chroma_scale.py [--reps 2] [--sizes 20000 200000] [--quick]   (needs the stack)

The source collection (N × 384 float32, seeded) is loaded once per size, not timed. The raw loops
page with ``get(limit=get_max_batch_size(), offset)`` and write each page (``upsert`` into a new
l2 collection; ``update`` of one metadata key). Peak RSS is the command's own (``os.wait4`` in a
lean launcher), one child per measurement. Between repetitions (not timed) the ledger is
un-stamped so that ``up`` runs the migration again, the raw loop's copy is deleted and the
source written to once (see ``settle``).
"""

from __future__ import annotations

import argparse
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
from polyalembic.connections import StoreConnections  # noqa: E402

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
target = client.create_collection({COPY!r}, configuration={{"hnsw": {L2!r}}}, embedding_function=None)
while True:
    page = source.get(include=["embeddings", "metadatas", "documents"], limit=step, offset=offset)
    if not page["ids"]:
        break
    target.upsert(ids=page["ids"], embeddings=page["embeddings"], metadatas=page["metadatas"],
                  documents=page["documents"])
    offset += len(page["ids"])
print(f"loop {{(time.perf_counter() - started) * 1000:.0f}} ms")
'''
RAW_BACKFILL = RAW_PREFIX + '''
while True:
    page = source.get(include=["metadatas", "documents"], limit=step, offset=offset)
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
    """One child process: wall seconds, its own peak RSS, the seconds of the work itself."""

    seconds: float
    peak_mb: float
    work: float


# A lean launcher between the bench and the measured command: Linux carries a parent's RSS at
# fork into the child's ru_maxrss (even across exec), and this driver holds numpy and a client.
LAUNCH = """
import os, subprocess, sys
child = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(child.pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


@dataclass
class Row:
    """One comparison: medians of the seconds, the largest peak RSS of each side."""

    what: str
    records: int
    poly: float
    poly_work: float
    poly_mb: float
    raw: float
    raw_work: float
    raw_mb: float

    def markdown(self) -> str:
        n = self.records
        return (f"| {self.what} | {self.poly:.1f} s, {n / self.poly:,.0f} rec/s ({n / self.poly_work:,.0f} work) | "
                f"{self.poly_mb:.0f} MB | {self.raw:.1f} s, {n / self.raw:,.0f} rec/s "
                f"({n / self.raw_work:,.0f} work) | {self.raw_mb:.0f} MB | ×{self.raw / self.poly:.2f} "
                f"(work ×{self.raw_work / self.poly_work:.2f}) | ×{self.poly_mb / self.raw_mb:.2f} |")


ROWS: list[Row] = []


def measured(bench: Bench, args: list[str], cwd: Path) -> Measure:
    """Wall time and the peak RSS of ``args``, run as one child of a lean launcher."""
    with tempfile.TemporaryFile() as out, tempfile.NamedTemporaryFile("r") as rss:
        t0 = time.perf_counter()
        code = subprocess.call([sys.executable, "-c", LAUNCH, rss.name, *args], env=bench.env(), cwd=cwd,
                               stdout=out, stderr=out)
        seconds = time.perf_counter() - t0
        out.seek(0)
        output = out.read().decode()
        work = WORK.search(output)
        if code != 0 or work is None:
            sys.exit(f"bench: {' '.join(args[:5])} failed:\n{output[-2000:]}")
        return Measure(seconds, int(rss.read()) / 1024, int(work.group(1)) / 1000)


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


def settle(bench: Bench) -> None:
    """Delete the raw loop's copy, and write once to the source: the first write to a collection
    after a rebuild's swap costs seconds (the server, not the client), and whoever runs next
    must not pay for the one before."""
    with StoreConnections(bench.settings) as connections:
        client = connections.get("chromadb")
        if COPY in [c.name for c in client.list_collections()]:
            client.delete_collection(COPY)
        client.get_collection(SOURCE, embedding_function=None).update(ids=["r0"], metadatas=[{"i": 0}])


def compare(bench: Bench, what: str, records: int, ini: Path, raw: str) -> None:
    """``polyalembic up`` of ``ini`` and the raw script, alternated; medians, peak RSS."""
    py = sys.executable
    poly, base = [], []
    for _ in range(bench.reps):
        poly.append(measured(bench, [py, "-m", "polyalembic", "-c", str(ini), "up"], ini.parent))
        bench.run([py, "-m", "polyalembic", "-c", str(ini), "stamp", "base", "--backwards"], ini.parent)
        settle(bench)
        base.append(measured(bench, [py, "-c", raw], ini.parent))
        settle(bench)
    p, b = statistics.median(m.seconds for m in poly), statistics.median(m.seconds for m in base)
    p_work, b_work = statistics.median(m.work for m in poly), statistics.median(m.work for m in base)
    p_mb, b_mb = max(m.peak_mb for m in poly), max(m.peak_mb for m in base)
    row = Row(f"{what}, {records:,} × {DIM}", records, p, p_work, p_mb, b, b_work, b_mb)
    ROWS.append(row)
    print(f"{row.what:<44} poly {p:6.1f} s ({p_work:6.1f} s work) {p_mb:4.0f} MB | raw {b:6.1f} s "
          f"({b_work:6.1f} s work) {b_mb:4.0f} MB | speed ×{b / p:.2f} (work ×{b_work / p_work:.2f}) "
          f"RSS ×{p_mb / b_mb:.2f}  each: {', '.join(f'{m.seconds:.1f}s/{m.peak_mb:.0f}MB' for m in poly)} | "
          f"{', '.join(f'{m.seconds:.1f}s/{m.peak_mb:.0f}MB' for m in base)}", flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=2)
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
            settle(bench)
            print(f"loaded {records:,} × {DIM} in {time.perf_counter() - t0:.0f} s (not timed)", flush=True)
            for what in args.only:
                ini, raw = projects[what]
                compare(bench, f"{what}_collection" if what == "rebuild" else "backfill_collection_metadata",
                        records, ini, raw)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        bench.close()
    print("\n| op, records | polyalembic up | peak RSS | raw loop | peak RSS | speed | RSS |\n"
          "|---|---:|---:|---:|---:|---:|---:|")
    for row in ROWS:
        print(row.markdown())


if __name__ == "__main__":
    main()
