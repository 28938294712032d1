"""Hostile input (issue 10): one table of bad inputs, each run through a real entry point against the
real stack. Every case asserts the exit code, exactly one error line on stderr naming what and
where (indented hint lines and warnings aside), no traceback, no secret, and that nothing was
applied or lost: the ledger and every store's snapshot are unchanged.

To add a case: one ``Case`` line in ``CASES``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from polyalembic.project import Project
from polyalembic.settings import Settings
from tests.conftest import settings_env
from tests.support import ledger, snapshot

SECRET = "hunter2-catalogue"  # a password that must never be printed


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]  # entry point (polyalembic | alembic | migrate.sh) and its arguments
    expect: str  # a part of the one error line
    env: dict[str, str | None] = field(default_factory=dict)  # "{pg}", "{ts}": the test's databases
    setup: Callable[[Path], None] | None = None  # changes to the project copy (migrations/, alembic.ini)
    code: int = 1
    fix: str = ""  # a part of the same line telling the user what to do (click's usage errors have their own)


def write(relative: str, text: str | bytes) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text)
    return apply


def delete(relative: str) -> Callable[[Path], None]:
    return lambda root: (root / relative).unlink()


def edit_ini(old: str, new: str) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        ini = root / "alembic.ini"
        ini.write_text(ini.read_text().replace(old, new))
    return apply


def target_metadata(value: str) -> Callable[[Path], None]:
    """alembic.ini's ``[polyalembic] target_metadata`` set to ``value``, and a models.py beside it."""
    def apply(root: Path) -> None:
        write("models.py", "import sqlalchemy as sa\nmetadata = sa.MetaData()\nclass Base:\n    metadata = metadata\n")(
            root)
        edit_ini("# target_metadata = app.models:metadata", f"target_metadata = {value}")(root)
    return apply


REVISION = '''from alembic import op
revision = "{rev}"
down_revision = "chromadb_001"
store = "{store}"
{extra}
def upgrade():
    op.execute("SELECT 1")
def downgrade():
    op.execute("SELECT 1")
'''
#: a second file defining postgres_007, as two team branches that generated the same revision leave it
SECOND_POSTGRES_007 = write("migrations/postgres/008_again.py", REVISION.format(rev="postgres_007", store="postgres",
                                                                             extra=""))
PG_URL = "postgresql://polyalembic:{pw}@127.0.0.1:{port}/{db}"

CASES = [
    # --- connection variables -----------------------------------------------------------------------
    Case("pg-unreachable", ("polyalembic", "up"), "postgres: cannot connect to postgresql://app:***@127.0.0.1:1/app",
         env={"POSTGRES_DSN": f"postgresql://app:{SECRET}@127.0.0.1:1/app"},
         fix='start the server or correct the host and port in POSTGRES_DSN'),
    Case("pg-wrong-password", ("polyalembic", "up"), "password authentication failed",
         env={"POSTGRES_DSN": "{pg_wrong_password}"},
         fix='correct the user or password in POSTGRES_DSN'),
    Case("pg-unknown-database", ("polyalembic", "up"), 'database "no_such_db" does not exist',
         env={"POSTGRES_DSN": "{pg_unknown_db}"},
         fix='create the database or correct its name in POSTGRES_DSN'),
    Case("pg-mysql-scheme", ("polyalembic", "up"),
         "mysql:// is not a postgresql:// URL: use a postgresql:// URL or a keyword DSN",
         env={"POSTGRES_DSN": f"mysql://app:{SECRET}@127.0.0.1/app"},
         fix='use a postgresql:// URL or a keyword DSN'),
    Case("pg-not-a-dsn", ("polyalembic", "up"), "is neither a postgresql:// URL nor a keyword DSN",
         env={"POSTGRES_DSN": "just-some-words"},
         fix='POSTGRES_DSN=just-some-words is neither'),
    Case("pg-keyword-dsn-wrong-password", ("polyalembic", "up"), "password authentication failed",
         env={"POSTGRES_DSN": "{pg_keyword_wrong_password}"},
         fix='correct the user or password in POSTGRES_DSN'),
    Case("pg-password-in-query", ("polyalembic", "up"), "password=***",
         env={"POSTGRES_DSN": f"postgresql://app@127.0.0.1:1/app?password={SECRET}&connect_timeout=2"},
         fix='correct the host and port in POSTGRES_DSN'),
    Case("pg-user-without-privileges", ("polyalembic", "up"),
         "ledger: cannot create or upgrade schema_migrations in postgresql://pa_reader_",
         env={"POSTGRES_DSN": "{pg_reader}", "TIMESCALE_DSN": "{pg_reader_ts}"},
         fix='set POLYALEMBIC_LEDGER_DSN to a database it may write'),
    Case("ledger-unreachable", ("polyalembic", "up"), "ledger: cannot connect to postgresql://app:***@127.0.0.1:1/l",
         env={"POLYALEMBIC_LEDGER_DSN": f"postgresql://app:{SECRET}@127.0.0.1:1/l"},
         fix='correct the host and port in POLYALEMBIC_LEDGER_DSN'),
    Case("ts-no-extension", ("polyalembic", "up"), "timescaledb: the timescaledb extension is not installed",
         env={"TIMESCALE_DSN": "{pg}"},
         fix='run CREATE EXTENSION timescaledb'),
    Case("neo4j-unreachable", ("polyalembic", "up"), "neo4j: cannot connect to bolt://127.0.0.1:1",
         env={"NEO4J_URI": "bolt://127.0.0.1:1"},
         fix='start the server or correct the host and port in NEO4J_URI'),
    Case("neo4j-wrong-password", ("polyalembic", "up"), "neo4j: cannot connect to bolt://",
         env={"NEO4J_PASSWORD": SECRET},
         fix='correct NEO4J_USER or NEO4J_PASSWORD'),
    Case("neo4j-wrong-password-verbose", ("polyalembic", "-v", "up"), "neo4j: cannot connect to bolt://",
         env={"NEO4J_PASSWORD": SECRET},
         fix='correct NEO4J_USER or NEO4J_PASSWORD'),
    Case("neo4j-password-in-uri-verbose", ("polyalembic", "-v", "up"), "neo4j: cannot connect to bolt://neo4j:***@",
         env={"NEO4J_URI": "{bolt_with_secret}"},
         fix='put them in NEO4J_USER and NEO4J_PASSWORD, not in NEO4J_URI'),
    Case("neo4j-password-in-uri-alembic", ("alembic", "upgrade", "head"), "neo4j: cannot connect to bolt://neo4j:***@",
         env={"NEO4J_URI": "{bolt_with_secret}"},
         fix='put them in NEO4J_USER and NEO4J_PASSWORD, not in NEO4J_URI'),
    Case("neo4j-http-scheme", ("polyalembic", "up"), "neo4j: cannot connect to http://",
         env={"NEO4J_URI": "http://127.0.0.1:7474"},
         fix='correct the host and port in NEO4J_URI'),
    Case("neo4j-unknown-database", ("polyalembic", "up"), "neo4j: cannot connect to bolt://",
         env={"NEO4J_DATABASE": "nosuchdb"},
         fix='create the database or correct NEO4J_DATABASE'),
    Case("chroma-port-not-a-number", ("polyalembic", "up"), "chromadb: CHROMA_PORT must be a number, got 'eighty'",
         env={"CHROMA_PORT": "eighty"},
         fix='CHROMA_PORT must be a number'),
    Case("chroma-unreachable", ("polyalembic", "up"), "chromadb: cannot connect to http://127.0.0.1:1",
         env={"CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": "1"},
         fix='start the server or correct CHROMA_HOST and CHROMA_PORT'),
    Case("chroma-unknown-tenant", ("polyalembic", "up"), "chromadb: cannot connect to http://127.0.0.1:",
         env={"CHROMA_TENANT": "nosuch"}, fix="create the tenant or correct CHROMA_TENANT"),
    Case("chroma-unknown-database", ("polyalembic", "up"), "(database nosuch): Database [nosuch] not found",
         env={"CHROMA_DATABASE": "nosuch"}, fix="create the database or correct CHROMA_DATABASE"),
    Case("chroma-token-verbose", ("polyalembic", "-v", "up"), "Tenant [nosuch] not found",
         env={"CHROMA_CLIENT_AUTH_CREDENTIALS": SECRET, "CHROMA_TENANT": "nosuch"}, fix="correct CHROMA_TENANT"),
    Case("neo4j-unknown-scheme", ("polyalembic", "up"), "URI scheme 'foo' is not supported",
         env={"NEO4J_URI": "foo://127.0.0.1:7687"}, fix="use a bolt:// or neo4j:// URI in NEO4J_URI"),
    Case("neo4j-read-only-server", ("polyalembic", "up"), "neo4j: database neo4j on bolt://127.0.0.1:",
         env={"NEO4J_URI": "{read_only_uri}", "NEO4J_PASSWORD": "{read_only_password}"},
         fix="is read-only: point NEO4J_URI at a writable server"),
    Case("pg-user-may-create-the-ledger-only", ("polyalembic", "up"),
         "timescaledb: user pa_reader_", env={"POSTGRES_DSN": "{pg_creator}", "TIMESCALE_DSN": "{pg_reader_ts}"},
         fix="may not create tables in schema public of postgresql://pa_reader_"),
    Case("ledger-unreachable-status-json", ("polyalembic", "status", "--format", "json"),
         "ledger: cannot connect to postgresql://app:***@127.0.0.1:1/l",
         env={"POLYALEMBIC_LEDGER_DSN": f"postgresql://app:{SECRET}@127.0.0.1:1/l"},
         fix="correct the host and port in POLYALEMBIC_LEDGER_DSN"),
    Case("pg-unreachable-alembic-current", ("alembic", "current"), "postgres: cannot connect to postgresql://app:***@",
         env={"POSTGRES_DSN": f"postgresql://app:{SECRET}@127.0.0.1:1/app"}, fix="in POSTGRES_DSN"),
    Case("pg-unreachable-alembic", ("alembic", "upgrade", "head"), "postgres: cannot connect to postgresql://app:***@",
         env={"POSTGRES_DSN": f"postgresql://app:{SECRET}@127.0.0.1:1/app"},
         fix='correct the host and port in POSTGRES_DSN'),
    Case("pg-unreachable-migrate-sh", ("migrate.sh", "up"), "postgres: cannot connect to postgresql://app:***@",
         env={"POSTGRES_DSN": f"postgresql://app:{SECRET}@127.0.0.1:1/app"},
         fix='correct the host and port in POSTGRES_DSN'),
    Case("migrate-sh-down-zero", ("migrate.sh", "down", "0"), "down takes a positive number of migrations, got 0",
         fix="positive number"),
    Case("migrate-sh-unknown-revision", ("migrate.sh", "up", "--to", "nope_001"), "unknown revision 'nope_001'",
         fix="`polyalembic status` lists the revisions"),
    Case("migrate-sh-unknown-command", ("migrate.sh", "frobnicate"), "No such command 'frobnicate'", code=2),
    Case("migrate-sh-validate-broken-file", ("migrate.sh", "validate"), "1 problem(s) found",
         setup=write("migrations/postgres/002_skill_progressions.up.sql", ""), fix="listed above with their fixes"),
    # --- alembic.ini --------------------------------------------------------------------------------
    Case("ini-missing", ("polyalembic", "-c", "{root}/nope.ini", "up"), "config file not found: ",
         fix='pass -c with the path of alembic.ini'),
    Case("unknown-store-folder", ("polyalembic", "up"), "migrations/mongodb: unknown store folder",
         setup=write("migrations/mongodb/001_x.py", "x = 1\n"),
         fix='rename it to one of postgres, timescaledb, neo4j, chromadb'),
    Case("bad-version-locations", ("polyalembic", "up"), "alembic.ini: version_locations names ",
         setup=edit_ini("%(here)s/migrations/chromadb", "%(here)s/migrations/chromadb %(here)s/nowhere"),
         fix='create it or remove it from the list'),
    Case("bad-version-locations-alembic", ("alembic", "upgrade", "head"), "nowhere, which is not a folder",
         setup=edit_ini("%(here)s/migrations/chromadb", "%(here)s/migrations/chromadb %(here)s/nowhere"),
         fix='create it or remove it from the list'),
    # --- migration files ----------------------------------------------------------------------------
    Case("not-utf8", ("polyalembic", "up"),
         "migrations/postgres/003_semantic_memories.up.sql: is not UTF-8 text (byte 0xff on line 2)",
         setup=write("migrations/postgres/003_semantic_memories.up.sql", b"-- x\nSELECT '\xff';\n"),
         fix='save it as UTF-8'),
    Case("not-utf8-validate", ("polyalembic", "validate"), "problem(s) found",
         setup=write("migrations/postgres/003_semantic_memories.up.sql", b"-- x\nSELECT '\xff';\n"),
         fix='listed above with their fixes'),
    Case("empty-up", ("polyalembic", "up"), "migrations/postgres/002_skill_progressions.up.sql: is empty",
         setup=write("migrations/postgres/002_skill_progressions.up.sql", ""),
         fix='write the statements (or delete the migration)'),
    Case("comment-only-cypher", ("polyalembic", "up"), "migrations/neo4j/001_graph_constraints.up.cql: is empty",
         setup=write("migrations/neo4j/001_graph_constraints.up.cql", "// nothing\n/* at all */\n"),
         fix='write the statements (or delete the migration)'),
    Case("missing-down", ("alembic", "upgrade", "head"), "004_identity_memories.down.sql is missing",
         setup=delete("migrations/postgres/004_identity_memories.down.sql"),
         fix='create it (every migration needs up and down)'),
    Case("duplicate-number", ("polyalembic", "up"), "number 001 is used by",
         setup=write("migrations/chromadb/001_other.py", REVISION.format(rev="chromadb_009", store="chromadb",
                                                                          extra="")),
         fix='`polyalembic rebase 001_other.py` moves one after the other'),
    Case("wrong-store", ("polyalembic", "up"), "declares store 'neo4j' but lives in migrations/postgres/",
         setup=write("migrations/postgres/008_wrong.py", REVISION.format(rev="postgres_008", store="neo4j", extra="")),
         fix='move it to migrations/neo4j/ or correct `store`'),
    Case("sql-syntax-error", ("polyalembic", "up"), "does not parse (syntax error at or near \")\" on line 4)",
         setup=write("migrations/postgres/006_portfolio_transactions.up.sql",
                     "-- x\nCREATE TABLE t (\n  a int,\n);\n"),
         fix='fix the SQL'),
    Case("python-syntax-error", ("polyalembic", "up"), "008_broken.py: does not parse (line 1",
         setup=write("migrations/postgres/008_broken.py", "def upgrade(:\n"),
         fix='fix the syntax'),
    Case("missing-import", ("polyalembic", "up"), "No module named 'no_such_module'",
         setup=write("migrations/postgres/008_imports.py", REVISION.format(rev="postgres_008", store="postgres",
                                                                            extra="import no_such_module\n")),
         fix='install no_such_module or remove the import'),
    Case("huge-file-that-does-not-parse", ("polyalembic", "up"), "does not parse",
         setup=write("migrations/postgres/003_semantic_memories.up.sql", "-- padding\n" * 200_000 + "SELEC 1;\n"),
         fix='fix the SQL'),
    # --- existing Alembic histories: ids, heads, folders, baselines ---------------------------------
    Case("duplicate-id", ("polyalembic", "up"), "both define revision 'postgres_007' (Alembic would keep one",
         setup=SECOND_POSTGRES_007,
         fix="`polyalembic rebase 008_again.py` moves the second after the first"),
    Case("duplicate-id-stock-alembic", ("alembic", "upgrade", "head"), "both define revision 'postgres_007'",
         setup=SECOND_POSTGRES_007,
         fix="`polyalembic rebase 008_again.py` moves the second after the first"),
    Case("two-heads", ("polyalembic", "up"), "the history has 2 heads",
         setup=write("migrations/postgres/008_side.py", REVISION.format(rev="postgres_008", store="postgres", extra="")
                     .replace('down_revision = "chromadb_001"', 'down_revision = "postgres_007"')),
         fix="`alembic merge heads` writes a merge revision that joins them"),
    Case("depends-on-unknown", ("polyalembic", "up"), "depends_on names 'nothing_here', which is no revision",
         setup=write("migrations/postgres/008_x.py", REVISION.format(rev="postgres_008", store="postgres",
                                                                      extra='depends_on = "nothing_here"')),
         fix="give a revision id or a branch label"),
    Case("folder-store-unknown", ("polyalembic", "up"), "[polyalembic.folders] versions = mongodb: 'mongodb' is no",
         setup=edit_ini("[polyalembic]\n", "[polyalembic.folders]\nversions = mongodb\n\n[polyalembic]\n"),
         fix="one of postgres"),
    Case("baseline-unknown", ("polyalembic", "up"), "baseline = nope, which no revision file defines",
         setup=edit_ini("[polyalembic]\n", "[polyalembic]\nbaseline = nope\n"), fix="correct the baseline"),
    Case("adopt-at-base", ("polyalembic", "adopt", "alembic"), "holds no revision (the database is at base)",
         fix="`polyalembic up` applies the history"),
    Case("adopt-seed-without-one", ("polyalembic", "adopt", "seed"),
         "adopt seed: no seed ledger (schema_migrations with columns database_type, migration_file", fix="nothing to"),
    Case("adopt-seed-bad-rename", ("polyalembic", "adopt", "seed", "--rename-to", "x; DROP TABLE y"),
         "adopt seed: --rename-to 'x; DROP TABLE y' is no table name", fix="lowercase letters, digits and _"),
    Case("adopt-n4m-no-folder", ("polyalembic", "adopt", "n4m", "{root}/n4m"), "/n4m: no such folder",
         fix="give the folder of neo4j-migrations' files"),
    Case("adopt-n4m-repeatable", ("polyalembic", "adopt", "n4m", "{root}/n4m"),
         "adopt n4m: R1__views.cypher: a repeatable migration", fix="make it a V file or move it out",
         setup=write("n4m/R1__views.cypher", "MATCH (n) RETURN n;\n")),
    Case("adopt-n4m-two-of-a-version", ("polyalembic", "adopt", "n4m", "{root}/n4m"),
         "has version 1.1, as V1.1__b.cypher has", fix="rename one",
         setup=lambda root: (write("n4m/V1.1__b.cypher", "RETURN 1;\n")(root),
                             write("n4m/V1_1__a.cypher", "RETURN 2;\n")(root))),
    Case("adopt-n4m-callback", ("polyalembic", "adopt", "n4m", "{root}/n4m"),
         "afterMigrate.cypher: a neo4j-migrations callback", fix="move it out of the folder",
         setup=lambda root: (write("n4m/V1__a.cypher", "RETURN 1;\n")(root),
                             write("n4m/afterMigrate.cypher", "RETURN 2;\n")(root))),
    Case("adopt-tool-wrong-store", ("polyalembic", "adopt", "n4m", "{root}/n4m", "--store", "chromadb"),
         "adopt n4m: store 'chromadb' has no n4m history to adopt", fix="no n4m history"),
    Case("adopt-flyway-no-folder", ("polyalembic", "adopt", "flyway", "{root}/sql"), "/sql: no such folder",
         fix="give the folder of Flyway's files"),
    Case("adopt-flyway-repeatable", ("polyalembic", "adopt", "flyway", "{root}/sql"),
         "adopt flyway: R__views.sql: a repeatable migration", fix="make it a V file or move it out",
         setup=write("sql/R__views.sql", "CREATE VIEW v AS SELECT 1;\n")),
    Case("adopt-flyway-placeholder", ("polyalembic", "adopt", "flyway", "{root}/sql"),
         "adopt flyway: V1__grant.sql: line 1 has the placeholder ${appUser}", fix="write the value in its place",
         setup=write("sql/V1__grant.sql", "GRANT SELECT ON t TO ${appUser};\n")),
    Case("adopt-flyway-orphan-undo", ("polyalembic", "adopt", "flyway", "{root}/sql"),
         "adopt flyway: U2__b.sql: undoes a version no V file has", fix="rename it to its V file's version",
         setup=lambda root: (write("sql/V1__a.sql", "SELECT 1;\n")(root), write("sql/U2__b.sql", "SELECT 2;\n")(root))),
    Case("adopt-flyway-wrong-store", ("polyalembic", "adopt", "flyway", "{root}/sql", "--store", "neo4j"),
         "adopt flyway: store 'neo4j' has no flyway history to adopt", fix="no flyway history"),
    Case("fleet-variable-not-set", ("polyalembic", "fleet", "up", "{root}/fleet.toml"),
         "fleet.toml: [settings] POSTGRES_DSN (tenant acme): ${NO_SUCH_PASSWORD} is not set in the environment",
         fix="export it", setup=write("fleet.toml", '[fleet]\ntenants = ["acme"]\n[settings]\n'
                                                    'POSTGRES_DSN = "postgresql://app:${NO_SUCH_PASSWORD}@db/{tenant}"\n')),
    Case("fleet-unknown-variable", ("polyalembic", "fleet", "status", "{root}/fleet.toml"),
         "fleet.toml: [[target]] eu.MONGO_URL: is no connection variable", fix="one of POLYALEMBIC_LEDGER_DSN",
         setup=write("fleet.toml", '[[target]]\nname = "eu"\nMONGO_URL = "mongodb://x"\n')),
    Case("rebase-unknown-file", ("polyalembic", "rebase", "nope.py"), "rebase: nope.py names no revision file",
         fix="give the file name of one revision"),
    Case("init-over-a-project", ("polyalembic", "init", "{root}"), "alembic.ini exists",
         fix="`polyalembic init --into"),
    Case("init-into-no-project", ("polyalembic", "init", "--into", "{root}/migrations/postgres"),
         "no Alembic project here", fix="`polyalembic init` makes a new one"),
    Case("graph-svg-without-dot", ("polyalembic", "graph", "--format", "svg", "--no-ledger"),
         "needs Graphviz's dot (apt-get install graphviz)", env={"PATH": "/nonexistent"},
         fix="--format dot or mermaid needs nothing"),
    # --- CLI arguments ------------------------------------------------------------------------------
    Case("unknown-revision", ("polyalembic", "up", "--to", "postgres_099"), "unknown revision 'postgres_099'",
         fix='`polyalembic status` lists the revisions'),
    Case("ambiguous-prefix", ("polyalembic", "up", "--to", "postgres_00"), "revision 'postgres_00' is ambiguous",
         fix='give more of it'),
    Case("down-zero", ("polyalembic", "down", "0"), "down takes a positive number of migrations, got 0",
         fix='down takes a positive number'),
    Case("down-negative", ("polyalembic", "down", "-1"), "No such option '-1'", code=2),
    Case("down-more-than-applied", ("polyalembic", "down", "3"), "cannot roll back 3 migrations",
         fix='none is applied'),
    Case("unknown-store", ("polyalembic", "generate", "mongodb", "x"), "'mongodb' is not one of", code=2),
    Case("unsafe-name", ("polyalembic", "generate", "postgres", "../../etc/passwd"), "invalid name",
         fix='use lowercase letters, digits and _ only'),
    Case("long-name", ("polyalembic", "generate", "postgres", "a" * 300),
         "the name is 300 characters long: keep it to 100",
         fix='keep it to 100'),
    Case("unknown-repair-action", ("polyalembic", "repair", "explode", "postgres_001"), "'explode' is not one of",
         code=2),
    Case("stamp-unknown-revision", ("polyalembic", "stamp", "nope_001"), "unknown revision 'nope_001'",
         fix='`polyalembic status` lists the revisions'),
    Case("bad-lock-timeout-x", ("alembic", "-x", "lock_timeout=soon", "upgrade", "head"),
         "must be a number of seconds >= 0, got 'soon'",
         fix="-x lock_timeout"),
    # --- alembic revision / alembic check -----------------------------------------------------------
    Case("revision-without-store", ("alembic", "revision", "-m", "add x"),
         "alembic revision: say which store the revision is for", fix="--version-path migrations/<store>"),
    Case("revision-rev-id", ("alembic", "revision", "-m", "x", "--version-path", "migrations/postgres",
                             "--rev-id", "abc"), "--rev-id can't be used", fix="one chain of <store>_NNN ids"),
    Case("check-without-target-metadata", ("alembic", "check"), "[polyalembic] target_metadata is not set",
         fix="target_metadata = app.models:metadata"),
    Case("autogenerate-without-target-metadata", ("alembic", "revision", "--autogenerate", "-m", "x"),
         "[polyalembic] target_metadata is not set", fix="target_metadata = app.models:metadata"),
    Case("autogenerate-not-a-sql-store", ("alembic", "revision", "--autogenerate", "-m", "x", "--version-path",
                                          "migrations/neo4j"), "neo4j: autogenerate compares SQL stores only",
         setup=target_metadata("models:metadata"), fix="drop --autogenerate"),
    Case("target-metadata-not-importable", ("alembic", "check"),
         "[polyalembic] target_metadata = no_such_models:metadata: cannot import no_such_models",
         setup=target_metadata("no_such_models:metadata"), fix="fix the module or the setting"),
    Case("target-metadata-no-attribute", ("alembic", "check"),
         "[polyalembic] target_metadata = models:metadta: models has no attribute metadta",
         setup=target_metadata("models:metadta"), fix="name the MetaData"),
    Case("target-metadata-not-metadata", ("alembic", "check"),
         "[polyalembic] target_metadata = models:Base: Base is a type, not a SQLAlchemy MetaData",
         setup=target_metadata("models:Base"), fix="(models:Base.metadata)"),
    Case("target-metadata-for-neo4j", ("alembic", "check"),
         "[polyalembic] target_metadata.neo4j: neo4j is not a store autogenerate compares",
         setup=edit_ini("# target_metadata = app.models:metadata", "target_metadata.neo4j = models:metadata"),
         fix="SQL stores: postgres, timescaledb"),
]


def _reader_role(pg: str, ts: str) -> dict[str, str]:
    """A login role that may connect but not create anything (PostgreSQL 15: public's CREATE is
    the owner's): the DSNs of the test's databases as that role; ``pg_creator`` is a second role
    that may create tables in the postgres database (the ledger's) only."""
    import secrets as random

    import psycopg

    from polyalembic.stores.postgres.dsn import libpq_dsn

    role, creator = f"pa_reader_{random.token_hex(3)}", f"pa_creator_{random.token_hex(3)}"
    with psycopg.connect(libpq_dsn(pg), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{SECRET}'")
        conn.execute(f"CREATE ROLE {creator} LOGIN PASSWORD '{SECRET}'")
        conn.execute(f"GRANT CREATE ON SCHEMA public TO {creator}")
    as_role = lambda dsn, name=role: f"postgresql://{name}:{SECRET}@{dsn.split('@', 1)[1]}"  # noqa: E731
    return {"pg_reader": as_role(pg), "pg_reader_ts": as_role(ts), "pg_creator": as_role(pg, creator),
            "role": role, "creator": creator}


def _drop_roles(pg: str, *roles: str) -> None:
    import psycopg

    from polyalembic.stores.postgres.dsn import libpq_dsn

    with psycopg.connect(libpq_dsn(pg), autocommit=True) as conn:
        for role in roles:
            conn.execute(f"DROP OWNED BY {role}")
            conn.execute(f"DROP ROLE {role}")


@pytest.fixture(scope="module")
def read_only_neo4j(base_settings: Settings) -> dict[str, str]:
    """The stack's read-only Neo4j (stack/neo4j.py, started by `stack up all` with the others)."""
    del base_settings  # the stack is up
    from stack.manager import service

    state = service("neo4j-read-only").load_state()
    assert state, "the stack did not start neo4j-read-only"
    return {"read_only_uri": state.settings["NEO4J_URI"], "read_only_password": state.settings["NEO4J_PASSWORD"]}


def resolve(template: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    return template


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_naming_what_and_where_and_changes_nothing(case: Case, project_copy: Project,
                                                                         settings: Settings,
                                                                         request: pytest.FixtureRequest) -> None:
    root = project_copy.root
    pg = settings.database_url("postgres")
    values = {
        "root": str(root), "pg": pg,
        "pg_wrong_password": pg.replace(pg.split("//", 1)[1].split("@", 1)[0], f"polyalembic:{SECRET}"),
        "pg_unknown_db": pg.rsplit("/", 1)[0] + "/no_such_db",
        "pg_keyword_wrong_password": "host=127.0.0.1 port={} dbname=app user=polyalembic password={}".format(
            pg.rsplit(":", 1)[1].split("/", 1)[0], SECRET),
        "bolt_with_secret": settings.env["NEO4J_URI"].replace("bolt://", f"bolt://neo4j:{SECRET}@"),
    }
    if any(("{pg_reader" in (v or "") or "{pg_creator" in (v or "")) for v in case.env.values()):
        values |= _reader_role(pg, settings.database_url("timescaledb"))
    if any("{read_only" in (v or "") for v in case.env.values()):
        values |= request.getfixturevalue("read_only_neo4j")
    if case.setup:
        case.setup(root)
    env = settings_env(settings)
    for key, value in case.env.items():
        if value is None:
            env.pop(key, None)
        else:
            env[key] = resolve(value, values)
    entry, *args = (resolve(a, values) for a in case.argv)
    command = {"polyalembic": [sys.executable, "-m", "polyalembic"], "alembic": [sys.executable, "-m", "alembic"],
               "migrate.sh": [str(root / "migrations" / "migrate.sh")]}[entry]
    if entry != "migrate.sh" and "-c" not in args:
        command += ["-c", str(project_copy.config_path)]
    before = snapshot(settings)

    result = subprocess.run([*command, *args], env={**env, "PYTHON": sys.executable}, cwd=root,
                            capture_output=True, text=True, timeout=180)

    print(result.stdout, result.stderr)  # for the session-wide secret scan
    code = 255 if entry == "alembic" and case.code == 1 else case.code  # alembic's CLI exits with -1
    assert result.returncode == code, result.stderr[-2000:]
    output = result.stdout + result.stderr
    assert SECRET not in output and settings.env.get("NEO4J_PASSWORD", "-" * 8) not in output
    assert "Traceback" not in result.stderr or "-v" in args
    if case.code == 2:  # click's own usage error
        assert case.expect in result.stderr
    else:
        error_lines = [line for line in result.stderr.splitlines()  # ours, or alembic's CLI's own
                       if line.startswith(("polyalembic: error:", "FAILED:", "ERROR [alembic.util.messaging]"))]
        assert len(error_lines) == 1, result.stderr[-2000:]
        assert case.expect in error_lines[0], error_lines[0]
        assert case.fix and case.fix in error_lines[0], error_lines[0]
    assert snapshot(settings) == before  # nothing applied, nothing lost
    if "role" in values:
        _drop_roles(pg, values["role"], values["creator"])


# --- what a run prints when it fails or warns -----------------------------------------------------------

def _run(project: Project, settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    result = subprocess.run([sys.executable, "-m", "polyalembic", "-c", str(project.config_path), *args],
                            env=settings_env(settings), cwd=project.root, capture_output=True, text=True, timeout=180)
    print(result.stdout, result.stderr)  # for the session-wide secret scan
    return result


def test_a_failing_sql_file_names_the_line_and_the_statement_postgresql_points_at(project_copy: Project,
                                                                                 settings: Settings) -> None:
    write("migrations/postgres/008_bad.py", REVISION.format(rev="postgres_008", store="postgres", extra="")
          .replace('op.execute("SELECT 1")\ndef downgrade', 'op.run_sql_file(str(__import__("pathlib").Path('
                   '__file__).with_name("files") / "bad.sql"))\ndef downgrade'))(project_copy.root)
    write("migrations/postgres/files/bad.sql",
          "-- three statements\nCREATE TABLE ok_one (id int);\n\nINSERT INTO ok_one VALUES (1);\n"
          "SELECT missing_column\n  FROM ok_one;\n")(project_copy.root)
    result = _run(project_copy, settings, "up")
    assert result.returncode == 1
    line = result.stderr.strip().splitlines()[-1]
    assert line.startswith("polyalembic: error: postgres migration 008_bad.py (postgres_008) upgrade failed at step "
                           "[run bad.sql, line 5: SELECT missing_column FROM ok_one]: "), line
    assert 'column "missing_column" does not exist' in line


def test_a_neo4j_deprecation_is_one_short_line(project_copy: Project, settings: Settings) -> None:
    write("migrations/neo4j/002_deprecated.py", REVISION.format(rev="neo4j_002", store="neo4j", extra="")
          .replace('op.execute("SELECT 1")\ndef downgrade',
                   'op.run_cypher("MATCH (n) WHERE id(n) = -1 RETURN n", "RETURN 1")\ndef downgrade')
          .replace('op.execute("SELECT 1")', 'op.run_cypher("RETURN 1")'))(project_copy.root)
    result = _run(project_copy, settings, "up")
    assert result.returncode == 0, result.stderr
    notes = [line for line in result.stderr.splitlines() if "neo4j deprecation" in line]
    assert notes and all(len(line) < 400 for line in notes), result.stderr
    assert "at line 1, column" in notes[0] and "GqlStatusObject" not in result.stderr


def test_a_closed_pipe_ends_the_output_quietly(project_copy: Project, settings: Settings) -> None:
    env = settings_env(settings)
    pipeline = (f"{sys.executable} -m polyalembic -c {project_copy.config_path} up --dry-run | head -n 2; "
                "exit ${PIPESTATUS[0]}")
    result = subprocess.run(["bash", "-c", pipeline], env=env, cwd=project_copy.root, capture_output=True,
                            text=True, timeout=180)
    assert result.returncode == 0
    assert result.stderr == ""
    assert len(result.stdout.splitlines()) == 2


def test_an_unread_x_option_is_a_warning_naming_it(project_copy: Project, settings: Settings) -> None:
    """Alembic passes any ``-x`` through, so a misspelt one would do nothing: after a run that applied
    migrations, the names nobody read are one warning line each; the names read are not."""
    result = subprocess.run([sys.executable, "-m", "alembic", "-c", str(project_copy.config_path),
                             "-x", "episodic_retention=30 days", "-x", "lock_timout=5", "upgrade", "head"],
                            env=settings_env(settings), cwd=project_copy.root, capture_output=True, text=True,
                            timeout=180)
    print(result.stdout, result.stderr)
    assert result.returncode == 0, result.stderr[-2000:]
    warnings = [line for line in result.stderr.splitlines() if "was not read" in line]
    assert warnings == ["WARNI [polyalembic] -x lock_timout was not read by polyalembic or by any migration that "
                        "ran: check its spelling"], result.stderr


def test_status_never_shows_a_secret_in_any_format(project_copy: Project, settings: Settings) -> None:
    secrets = settings.replace(NEO4J_URI=settings.env["NEO4J_URI"].replace("bolt://", f"bolt://neo4j:{SECRET}@"),
                               CHROMA_CLIENT_AUTH_CREDENTIALS=SECRET)
    outputs = [_run(project_copy, secrets, *args) for args in
               (("status",), ("status", "--format", "json"), ("-v", "status"), ("validate",))]
    for result in outputs:
        assert result.returncode == 0, result.stderr
        assert SECRET not in result.stdout + result.stderr
        assert settings.env["NEO4J_PASSWORD"] not in result.stdout + result.stderr
    assert "bolt://neo4j:***@" in outputs[0].stdout + outputs[1].stdout


def _sleeping(settings: Settings) -> bool:
    import sqlalchemy as sa

    from polyalembic.ledger.writes import connect_ledger

    with connect_ledger(settings) as connection:
        return bool(connection.execute(sa.text("SELECT count(*) FROM pg_stat_activity "
                                               "WHERE query = 'SELECT pg_sleep(4)'")).scalar())


def test_nothing_to_apply_after_waiting_for_the_lock(project_copy: Project, settings: Settings) -> None:
    """A run that waited while another applied everything says the one 'nothing to do' line."""
    write("migrations/postgres/008_slow.py", REVISION.format(rev="postgres_008", store="postgres", extra="")
          .replace('op.execute("SELECT 1")\ndef downgrade', 'op.execute("SELECT pg_sleep(4)")\ndef downgrade'))(
        project_copy.root)
    command = [sys.executable, "-m", "polyalembic", "-c", str(project_copy.config_path), "up"]
    first = subprocess.Popen(command, env=settings_env(settings), cwd=project_copy.root, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not _sleeping(settings):
        assert time.monotonic() < deadline and first.poll() is None, first.communicate()
        time.sleep(0.1)
    second = _run(project_copy, settings, "up")  # starts while the first holds the lock in pg_sleep
    first.communicate(timeout=120)

    assert first.returncode == 0 and second.returncode == 0, second.stderr
    lines = [line for line in second.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "waiting for the migration lock held by another run" in lines[0], second.stderr
    assert second.stdout.strip().splitlines()[-1] == "Nothing to apply: the database is up to date."


# --- servers that go away in the middle of a run ---------------------------------------------------------

def the_one_error(result: subprocess.CompletedProcess[str]) -> str:
    """A failed run's single error line (exit 1, no traceback)."""
    errors = [line for line in result.stderr.splitlines() if line.startswith("polyalembic: error:")]
    assert result.returncode == 1 and "Traceback" not in result.stderr and len(errors) == 1, result.stderr
    return errors[0]


KILL_CHROMA = '''import os, signal, time
revision = "postgres_008"
down_revision = "chromadb_001"
store = "postgres"
def upgrade():
    os.killpg(int(os.environ["DOOMED_CHROMA_PID"]), signal.SIGKILL)  # the vector server dies here
    time.sleep(0.5)
def downgrade():
    os.environ.get("DOOMED_CHROMA_PID")
'''
LATE_COLLECTION = '''from alembic import op
revision = "chromadb_002"
down_revision = "postgres_008"
store = "chromadb"
def upgrade():
    op.create_collection("late_memories", metadata={"description": "made after the server came back"})
def downgrade():
    op.delete_collection("late_memories")
'''


def test_a_chroma_server_that_dies_mid_run_fails_that_migration_and_a_rerun_finishes(
        project_copy: Project, settings: Settings, tmp_path: Path) -> None:
    import chromadb

    from stack.base import CACHE_DIR
    from stack.chroma import ChromaService

    server = ChromaService(stack_dir=tmp_path / "doomed", cache_dir=CACHE_DIR)
    state = server.start()
    try:
        write("migrations/postgres/008_kill_chroma.py", KILL_CHROMA)(project_copy.root)
        write("migrations/chromadb/002_late.py", LATE_COLLECTION)(project_copy.root)
        doomed = settings.replace(**state.settings)
        env = {**settings_env(doomed), "DOOMED_CHROMA_PID": str(state.pid)}
        command = [sys.executable, "-m", "polyalembic", "-c", str(project_copy.config_path), "up"]
        first = subprocess.run(command, env=env, cwd=project_copy.root, capture_output=True, text=True, timeout=180)
        print(first.stdout, first.stderr)

        error = the_one_error(first)
        assert error.startswith("polyalembic: error: chromadb migration 002_late.py (chromadb_002) upgrade failed")
        assert "repair resume chromadb_002" in error
        statuses = {row.revision: row.status for row in ledger(doomed)}
        assert statuses["postgres_008"] == "applied" and statuses["chromadb_002"] == "failed"
        assert statuses["chromadb_001"] == "applied"

        state = server.start()  # the server is back (on another port)
        back = {**env, **state.settings}
        retry = subprocess.run([*command[:-1], "repair", "retry", "chromadb_002"], env=back, cwd=project_copy.root,
                               capture_output=True, text=True, timeout=180, input="y\n")
        print(retry.stdout, retry.stderr)
        assert retry.returncode == 0, retry.stderr
        assert {row.revision: row.status for row in ledger(doomed)}["chromadb_002"] == "applied"
        client = chromadb.HttpClient(host=state.settings["CHROMA_HOST"], port=int(state.settings["CHROMA_PORT"]))
        assert "late_memories" in {c.name for c in client.list_collections()}
    finally:
        server.stop(state)


KILL_OWN_CONNECTION = '''from alembic import op
revision = "postgres_008"
down_revision = "chromadb_001"
store = "postgres"
def upgrade():
    op.execute("CREATE TABLE doomed_table (id int)")
    op.execute("SELECT pg_terminate_backend(pg_backend_pid())")  # the server drops this session
def downgrade():
    op.execute("DROP TABLE doomed_table")
'''


def test_a_postgresql_session_killed_mid_run_rolls_that_migration_back(project_copy: Project,
                                                                        settings: Settings) -> None:
    write("migrations/postgres/008_doomed.py", KILL_OWN_CONNECTION)(project_copy.root)
    result = _run(project_copy, settings, "up")

    error = the_one_error(result)
    assert error.startswith("polyalembic: error: postgres migration 008_doomed.py (postgres_008) upgrade failed")
    assert "rolled back" in error
    state = snapshot(settings)
    assert not any("doomed_table" in str(name) for name in state["postgres"]["objects"])
    statuses = {revision: status for revision, status in state["ledger"]}
    assert statuses["chromadb_001"] == "applied" and statuses.get("postgres_008") != "applied"
