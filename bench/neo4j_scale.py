"""Cypher migrations at scale (issue 11): N one-statement Cypher migrations (half uniqueness
constraints, half 1,000-node MERGE writes) applied from an empty Neo4j and an empty ledger, as
whole commands, alternated, medians:

- ``python -m polyalembic -c INI up`` on a project whose only version folder is ``migrations/neo4j``;
- a plain Python script running the same statements in order with the ``neo4j`` driver (one
  session, auto-commit, then ``db.awaitIndexes``): the speed of the raw driver;
- plain Alembic (vanilla env.py, ``transaction_per_migration=True``, ``alembic_version`` only) whose
  revisions run the same statements through one driver session: what any Alembic-based runner
  costs before it records anything, so polyalembic's own share is the ratio to this one;
- the neo4j-migrations CLI 2.19.2 ``apply`` on the same statements as ``V0001__name.cypher`` files
  (its jars come from Maven Central into the per-user cache, as the stack's Neo4j jars do).

    python bench/neo4j_scale.py [--reps 3] [--quick] [--without-cli]      (needs the stack: make services-up)
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.run import BINDER, Bench, alternated, project_for  # noqa: E402
from stack import neo4j_migrations  # noqa: E402

# issue 21 (step markers in every write's transaction): at most 1.15x plain Alembic running the same
# statements with the driver, at most 0.30x neo4j-migrations; the raw-driver target is retired
# (plain Alembic alone is 1.23-1.25x of it), its ratio is still printed
ALEMBIC_TARGET, CLI_TARGET = 1.15, 0.30

# the raw-driver baseline: what a hand-written deploy script would do
RAW_SCRIPT = '''
import os, pathlib, sys
import neo4j

files = sorted(pathlib.Path(sys.argv[1]).glob("*.up.cql"))
driver = neo4j.GraphDatabase.driver(os.environ["NEO4J_URI"],
                                    auth=(os.environ["NEO4J_USER"], os.environ["NEO4J_PASSWORD"]))
with driver.session(database=os.environ.get("NEO4J_DATABASE", "neo4j")) as session:
    for f in files:
        session.run(f.read_text().strip().rstrip(";")).consume()
    session.run("CALL db.awaitIndexes(300)").consume()
driver.close()
'''

# plain Alembic running the same statements: one driver session for the whole run, no ledger
ALEMBIC_ENV = '''
import os
import neo4j
from alembic import context
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

engine = create_engine(os.environ["BENCH_URL"], poolclass=NullPool)
driver = neo4j.GraphDatabase.driver(os.environ["NEO4J_URI"],
                                    auth=(os.environ["NEO4J_USER"], os.environ["NEO4J_PASSWORD"]))
with driver, driver.session(database=os.environ.get("NEO4J_DATABASE", "neo4j")) as session, \\
        engine.connect() as connection:
    context.config.attributes["neo4j_session"] = session
    context.configure(connection=connection, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()
    session.run("CALL db.awaitIndexes(300)").consume()
'''
ALEMBIC_REVISION = '''
from pathlib import Path
from alembic import context
revision = {revision!r}
down_revision = {down!r}
def upgrade():
    context.config.attributes["neo4j_session"].run(Path({up!r}).read_text().strip().rstrip(";")).consume()
def downgrade():
    pass
'''


def statements(n: int) -> list[tuple[str, str, str]]:
    """(name, up, down) of ``n`` migrations: constraint on Thing{k}.id, then 1,000 MERGEs of it."""
    out = []
    for i in range(1, n + 1):
        k = (i + 1) // 2
        if i % 2:
            out.append((f"thing_{k}_id_unique",
                        f"CREATE CONSTRAINT thing_{k}_id IF NOT EXISTS FOR (n:Thing{k}) REQUIRE n.id IS UNIQUE",
                        f"DROP CONSTRAINT thing_{k}_id IF EXISTS"))
        else:
            out.append((f"thing_{k}_nodes", f"UNWIND range(1, 1000) AS i MERGE (:Thing{k} {{id: i}})",
                        f"MATCH (n:Thing{k}) DETACH DELETE n"))
    return out


def make_projects(root: Path, n: int) -> tuple[Path, Path, Path]:
    """(polyalembic's alembic.ini, plain Alembic's alembic.ini, neo4j-migrations' folder), each
    with the same ``n`` statements."""
    ini, folder = project_for(root / "poly", "neo4j")
    plain = root / "plain"
    (plain / "versions").mkdir(parents=True)
    (plain / "env.py").write_text(ALEMBIC_ENV)
    (plain / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s\n")
    cypher = root / "cypher"
    cypher.mkdir()
    down = None
    for i, (name, up, undo) in enumerate(statements(n), start=1):
        stem = f"{i:03d}_{name}"
        (folder / f"{stem}.py").write_text(BINDER.format(title=name.replace("_", " "), revision=f"neo4j_{i:03d}",
                                                         down=down, store="neo4j"))
        (folder / f"{stem}.up.cql").write_text(up + ";\n")
        (folder / f"{stem}.down.cql").write_text(undo + ";\n")
        (plain / "versions" / f"{stem}.py").write_text(ALEMBIC_REVISION.format(
            revision=f"neo4j_{i:03d}", down=down, up=str(folder / f"{stem}.up.cql")))
        (cypher / f"V{i:04d}__{name}.cypher").write_text(up + ";\n")
        down = f"neo4j_{i:03d}"
    return ini, plain / "alembic.ini", cypher


def main(argv: list[str] | None = None) -> Bench:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="40 migrations instead of 200")
    parser.add_argument("--migrations", type=int, default=None, help="how many (default 200, --quick 40)")
    parser.add_argument("--without-cli", action="store_true", help="leave neo4j-migrations out (no JVM)")
    args = parser.parse_args(argv)
    n = args.migrations or (40 if args.quick else 200)
    bench = Bench(args.reps)
    root = Path(tempfile.mkdtemp(prefix="bench-neo4j-"))
    py = sys.executable
    try:
        ini, plain_ini, cypher = make_projects(root, n)
        raw_script = root / "raw.py"
        raw_script.write_text(RAW_SCRIPT)
        settings = bench.base
        cli = [] if args.without_cli else neo4j_migrations.command(
            settings.env["NEO4J_URI"], settings.env.get("NEO4J_USER") or "neo4j",
            settings.env.get("NEO4J_DATABASE") or "neo4j", "--location", f"file:{cypher}", "apply")

        def run_neo4j_migrations() -> None:
            bench.run(cli)

        subjects = {
            "polyalembic": lambda: bench.run([py, "-m", "polyalembic", "-c", str(ini), "up"]),
            "raw": lambda: bench.run([py, str(raw_script), str(ini.parent / "migrations" / "neo4j")]),
            "alembic": lambda: bench.run([py, "-m", "alembic", "-c", str(plain_ini), "upgrade", "head"]),
            "neo4j-migrations": run_neo4j_migrations}
        if args.without_cli:
            del subjects["neo4j-migrations"]
        medians = alternated(subjects, args.reps, bench.fresh)
        bench.record(f"polyalembic up: {n} Cypher migrations", medians["polyalembic"],
                     "raw neo4j driver script", medians["raw"])
        bench.record(f"polyalembic up: {n} Cypher migrations", medians["polyalembic"],
                     "plain Alembic running them with the driver", medians["alembic"], ALEMBIC_TARGET)
        bench.record("plain Alembic running them with the driver", medians["alembic"],
                     "raw neo4j driver script", medians["raw"])
        if not args.without_cli:
            bench.record(f"polyalembic up: {n} Cypher migrations", medians["polyalembic"],
                         f"neo4j-migrations {neo4j_migrations.VERSION} apply", medians["neo4j-migrations"], CLI_TARGET)
    finally:
        shutil.rmtree(root, ignore_errors=True)
        bench.close()
    print()
    print(bench.table())
    return bench


if __name__ == "__main__":
    sys.exit(1 if main(sys.argv[1:]).missed() else 0)
