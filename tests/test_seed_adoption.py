"""``polyalembic adopt seed`` (issue 23, part 2) on the real stack: the stores as the seed's
``migrate.sh`` left them (its migrations really applied, its ``schema_migrations`` beside them, no
ledger of polyalembic's), adopted; what was recorded, renamed and refused is read back from the
databases themselves."""

from __future__ import annotations

import psycopg
import pytest

from polyalembic.project import Project
from polyalembic.settings import Settings
from polyalembic.stores.postgres.dsn import libpq_dsn
from tests.support import ledger
from tests.test_foreign_ledger import SEED_LEDGER
from tests.test_recovery import cli

POSTGRES = ["001_procedural_memories", "002_skill_progressions", "003_semantic_memories", "004_identity_memories",
            "005_portfolio_holdings", "006_portfolio_transactions", "007_portfolio_preferences"]
TIMESCALE = ["001_episodic_memories", "002_emotional_memories", "003_portfolio_snapshots"]
#: polyalembic's bookkeeping, removed after the real run that stands in for migrate.sh's
OURS = ("alembic_version", "schema_migrations", "schema_migrations_audit", "schema_migrations_meta",
        "schema_migrations_snapshots", "schema_migrations_steps")


def seed_rows(postgres: list[str], timescale: list[str], graph: bool, vectors: bool) -> list[tuple[str, str, str, str]]:
    """Rows as migrate.sh writes them, a minute apart, in both of its spellings of a file."""
    files = [("postgres", f"{n}.sql") for n in postgres] + [("timescaledb", f"{n}.up.sql") for n in timescale]
    files += [("neo4j", "001_graph_constraints.cql")] * graph + [("chromadb", "001_collections.py")] * vectors
    return [(store, name, f"2025-10-12 18:{k:02d}:00+00", f"{k:064x}") for k, (store, name) in enumerate(files)]


def as_the_seed_left_it(project: Project, settings: Settings, target: str, seed_dsn: str,
                        rows: list[tuple[str, str, str, str]]) -> None:
    """The seed's migrations really applied up to ``target``, no trace of polyalembic, the seed's
    ledger in ``seed_dsn`` holding ``rows``."""
    assert cli(project, settings, "up", "--to", target).exit_code == 0
    for dsn in {settings.ledger_dsn, settings.database_url("timescaledb")}:
        with psycopg.connect(libpq_dsn(dsn), autocommit=True) as conn:
            for table in OURS:
                conn.execute(f"DROP TABLE IF EXISTS {table} CASCADE")
    with psycopg.connect(libpq_dsn(seed_dsn), autocommit=True) as conn:
        conn.execute(SEED_LEDGER)
        for row in rows:
            conn.execute("INSERT INTO schema_migrations VALUES (%s, %s, %s, %s)", row)


def tables(dsn: str) -> dict[str, list[tuple[object, ...]]]:
    """Every table of the database's public schema whose name begins with schema_migrations or
    alembic, with its rows."""
    with psycopg.connect(libpq_dsn(dsn)) as conn:
        names = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' AND "
                                            "(tablename LIKE 'schema_migrations%' OR tablename LIKE 'alembic%')")]
        return {name: sorted(conn.execute(f"SELECT * FROM {name}").fetchall(), key=repr) for name in sorted(names)}


def test_a_seed_ledger_over_all_four_stores_is_adopted_where_the_seed_kept_it(project_copy: Project,
                                                                              settings: Settings) -> None:
    """The seed's README keeps its ledger in TimescaleDB's database: the rows go into polyalembic's
    ledger (in PostgreSQL's), the seed's table is renamed where it is, every row kept."""
    timescale_dsn = settings.database_url("timescaledb")
    rows = [*seed_rows(POSTGRES, TIMESCALE, graph=True, vectors=True),
            ("postgres", "009_dropped_feature.sql", "2025-10-13 09:00:00+00", "feed"),
            ("redis", "001_cache.sql", "2025-10-13 09:01:00+00", None)]
    as_the_seed_left_it(project_copy, settings, "head", timescale_dsn, rows)
    before = tables(timescale_dsn)["schema_migrations"]

    preview = cli(project_copy, settings, "adopt", "seed", "--dry-run")
    assert preview.exit_code == 0, preview.output
    assert "would record 12 revision(s)" in preview.output and "would rename schema_migrations" in preview.output
    assert tables(timescale_dsn) == {"schema_migrations": before} and tables(settings.ledger_dsn) == {}

    adopted = cli(project_copy, settings, "adopt", "seed")
    assert adopted.exit_code == 0, adopted.output
    assert "recorded 12 revision(s) the seed applied as applied" in adopted.output
    assert "seed rows with no revision (not recorded): postgres 009_dropped_feature.sql" in adopted.output
    assert "redis 001_cache.sql (no store 'redis' in this project)" in adopted.output
    assert set(tables(timescale_dsn)) == {"schema_migrations_seed"}
    assert tables(timescale_dsn)["schema_migrations_seed"] == before  # every row, as it was
    rows_now = {r.revision: r for r in ledger(settings)}
    assert len(rows_now) == 12 and {r.status for r in rows_now.values()} == {"applied"}
    assert rows_now["postgres_002"].legacy_checksum == f"{1:064x}"
    assert rows_now["postgres_002"].applied_at.isoformat() == "2025-10-12T18:01:00+00:00"
    with psycopg.connect(libpq_dsn(settings.ledger_dsn)) as conn:
        assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [("chromadb_001",)]
        assert conn.execute("SELECT count(*) FROM schema_migrations_audit WHERE action = 'adopt seed'"
                            ).fetchone() == (12,)

    again = cli(project_copy, settings, "adopt", "seed")
    assert again.exit_code == 0 and "nothing to adopt: the seed's ledger was adopted already" in again.output
    assert len(ledger(settings)) == 12

    status = cli(project_copy, settings, "status", "--check")
    assert status.exit_code == 0, status.output
    assert cli(project_copy, settings, "generate", "postgres", "agent_notes").exit_code == 0
    up = cli(project_copy, settings, "up")
    assert up.exit_code == 0, up.output
    assert [r.revision for r in ledger(settings) if r.status == "applied"][-1] == "postgres_008"


def test_a_seed_ledger_in_the_ledger_s_database_is_renamed_with_its_key(project_copy: Project,
                                                                        settings: Settings) -> None:
    """In the ledger's own database, the seed's primary key is renamed with its table (PostgreSQL
    keeps the name, ``schema_migrations_pkey``, that polyalembic's ledger takes); what the seed
    never applied stays pending and ``up`` applies it."""
    as_the_seed_left_it(project_copy, settings, "postgres_007", settings.ledger_dsn,
                        seed_rows(POSTGRES, [], graph=False, vectors=False))
    adopted = cli(project_copy, settings, "adopt", "seed")
    assert adopted.exit_code == 0, adopted.output
    assert ("never applied by the seed (pending: `polyalembic up` applies them): timescaledb_001, timescaledb_002, "
            "timescaledb_003, neo4j_001, chromadb_001") in adopted.output
    with psycopg.connect(libpq_dsn(settings.ledger_dsn)) as conn:
        keys = conn.execute("SELECT conname FROM pg_constraint WHERE conrelid = 'schema_migrations_seed'::regclass"
                            ).fetchall()
    assert keys == [("schema_migrations_seed_pkey",)]
    up = cli(project_copy, settings, "up")
    assert up.exit_code == 0, up.output
    assert len([r for r in ledger(settings) if r.status == "applied"]) == 12


@pytest.mark.parametrize(("postgres", "timescale", "graph", "refusal"), [
    (["001_procedural_memories", "002_skill_progressions", "004_identity_memories"], [], False,
     "adopt seed: the seed applied postgres 004_identity_memories.sql but not postgres 003_semantic_memories.py "
     "(postgres_003), which comes before it (the seed tracked each store apart; polyalembic applies a store's "
     "revisions in order): apply it with ./migrations/migrate.sh up first"),
    (POSTGRES, [], True,
     "adopt seed: neo4j 001_graph_constraints.py (neo4j_001) was applied, but not timescaledb "
     "001_episodic_memories.py (timescaledb_001), which the chain runs before it: apply it with "
     "./migrations/migrate.sh up first"),
], ids=["a gap in one store", "a store ahead of the chain"])
def test_a_seed_history_polyalembic_could_not_stand_on_is_refused_and_nothing_changes(
        project_copy: Project, settings: Settings, postgres: list[str], timescale: list[str], graph: bool,
        refusal: str) -> None:
    as_the_seed_left_it(project_copy, settings, "postgres_007", settings.ledger_dsn,
                        seed_rows(postgres, timescale, graph=graph, vectors=False))
    before = tables(settings.ledger_dsn)
    refused = cli(project_copy, settings, "adopt", "seed")
    assert refused.exit_code == 1
    assert refusal in refused.output, refused.output
    assert "nothing was changed" in refused.output and "Traceback" not in refused.output
    assert tables(settings.ledger_dsn) == before


def test_without_a_seed_ledger_adopt_seed_says_there_is_none(project_copy: Project, settings: Settings) -> None:
    refused = cli(project_copy, settings, "adopt", "seed")
    assert refused.exit_code == 1
    assert "adopt seed: no seed ledger (schema_migrations with columns database_type, migration_file, applied_at, " \
           "checksum) in " in refused.output
    assert all(secret not in refused.output for secret in settings.secrets())
