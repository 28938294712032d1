"""Hostile input (issue 10): one table of bad inputs, each run through a real entry point against the
real stack. Every case asserts the exit code, exactly one error line on stderr naming what and
where (indented hint lines and warnings aside), no traceback, no secret, and that nothing was
applied or lost: the ledger and every store's snapshot are unchanged.

To add a case: one ``Case`` line in ``CASES``.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from polyalembic.project import Project
from polyalembic.settings import Settings
from tests.conftest import settings_env
from tests.support import snapshot

SECRET = "hunter2-catalogue"  # a password that must never be printed


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]  # entry point (polyalembic | alembic | migrate.sh) and its arguments
    expect: str  # a part of the one error line
    env: dict[str, str | None] = field(default_factory=dict)  # "{pg}", "{ts}": the test's databases
    setup: Callable[[Path], None] | None = None  # changes to the project copy (migrations/, alembic.ini)
    code: int = 1


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
PG_URL = "postgresql://polyalembic:{pw}@127.0.0.1:{port}/{db}"

CASES = [
    # --- connection variables -----------------------------------------------------------------------
    Case("pg-unreachable", ("polyalembic", "up"), "postgres: cannot connect to postgresql://app:***@127.0.0.1:1/app",
         env={"POSTGRES_DSN": f"postgresql://app:{SECRET}@127.0.0.1:1/app"}),
    Case("pg-wrong-password", ("polyalembic", "up"), "password authentication failed",
         env={"POSTGRES_DSN": "{pg_wrong_password}"}),
    Case("pg-unknown-database", ("polyalembic", "up"), 'database "no_such_db" does not exist',
         env={"POSTGRES_DSN": "{pg_unknown_db}"}),
    Case("pg-mysql-scheme", ("polyalembic", "up"),
         "mysql:// is not a postgresql:// URL: use a postgresql:// URL or a keyword DSN",
         env={"POSTGRES_DSN": f"mysql://app:{SECRET}@127.0.0.1/app"}),
    Case("pg-not-a-dsn", ("polyalembic", "up"), "is neither a postgresql:// URL nor a keyword DSN",
         env={"POSTGRES_DSN": "just-some-words"}),
    Case("pg-keyword-dsn-wrong-password", ("polyalembic", "up"), "password authentication failed",
         env={"POSTGRES_DSN": "{pg_keyword_wrong_password}"}),
    Case("pg-password-in-query", ("polyalembic", "up"), "password=***",
         env={"POSTGRES_DSN": f"postgresql://app@127.0.0.1:1/app?password={SECRET}&connect_timeout=2"}),
    Case("pg-user-without-privileges", ("polyalembic", "up"),
         "ledger: cannot create or upgrade schema_migrations in postgresql://pa_reader_",
         env={"POSTGRES_DSN": "{pg_reader}", "TIMESCALE_DSN": "{pg_reader_ts}"}),
    Case("ledger-unreachable", ("polyalembic", "up"), "ledger: cannot connect to postgresql://app:***@127.0.0.1:1/l",
         env={"POLYALEMBIC_LEDGER_DSN": f"postgresql://app:{SECRET}@127.0.0.1:1/l"}),
    Case("ts-no-extension", ("polyalembic", "up"), "timescaledb: the timescaledb extension is not installed",
         env={"TIMESCALE_DSN": "{pg}"}),
    Case("neo4j-unreachable", ("polyalembic", "up"), "neo4j: cannot connect to bolt://127.0.0.1:1",
         env={"NEO4J_URI": "bolt://127.0.0.1:1"}),
    Case("neo4j-wrong-password", ("polyalembic", "up"), "neo4j: cannot connect to bolt://",
         env={"NEO4J_PASSWORD": SECRET}),
    Case("neo4j-wrong-password-verbose", ("polyalembic", "-v", "up"), "neo4j: cannot connect to bolt://",
         env={"NEO4J_PASSWORD": SECRET}),
    Case("neo4j-password-in-uri-verbose", ("polyalembic", "-v", "up"), "neo4j: cannot connect to bolt://neo4j:***@",
         env={"NEO4J_URI": "{bolt_with_secret}"}),
    Case("neo4j-password-in-uri-alembic", ("alembic", "upgrade", "head"), "neo4j: cannot connect to bolt://neo4j:***@",
         env={"NEO4J_URI": "{bolt_with_secret}"}),
    Case("neo4j-http-scheme", ("polyalembic", "up"), "neo4j: cannot connect to http://",
         env={"NEO4J_URI": "http://127.0.0.1:7474"}),
    Case("neo4j-unknown-database", ("polyalembic", "up"), "neo4j: cannot connect to bolt://",
         env={"NEO4J_DATABASE": "nosuchdb"}),
    Case("chroma-port-not-a-number", ("polyalembic", "up"), "chromadb: CHROMA_PORT must be a number, got 'eighty'",
         env={"CHROMA_PORT": "eighty"}),
    Case("chroma-unreachable", ("polyalembic", "up"), "chromadb: cannot connect to http://127.0.0.1:1",
         env={"CHROMA_HOST": "127.0.0.1", "CHROMA_PORT": "1"}),
    Case("pg-unreachable-alembic", ("alembic", "upgrade", "head"), "postgres: cannot connect to postgresql://app:***@",
         env={"POSTGRES_DSN": f"postgresql://app:{SECRET}@127.0.0.1:1/app"}),
    Case("pg-unreachable-migrate-sh", ("migrate.sh", "up"), "postgres: cannot connect to postgresql://app:***@",
         env={"POSTGRES_DSN": f"postgresql://app:{SECRET}@127.0.0.1:1/app"}),
    # --- alembic.ini --------------------------------------------------------------------------------
    Case("ini-missing", ("polyalembic", "-c", "{root}/nope.ini", "up"), "config file not found: "),
    Case("unknown-store-folder", ("polyalembic", "up"), "migrations/mongodb: unknown store folder",
         setup=write("migrations/mongodb/001_x.py", "x = 1\n")),
    Case("bad-version-locations", ("polyalembic", "up"), "alembic.ini: version_locations names ",
         setup=edit_ini("%(here)s/migrations/chromadb", "%(here)s/migrations/chromadb %(here)s/nowhere")),
    Case("bad-version-locations-alembic", ("alembic", "upgrade", "head"), "nowhere, which is not a folder",
         setup=edit_ini("%(here)s/migrations/chromadb", "%(here)s/migrations/chromadb %(here)s/nowhere")),
    # --- migration files ----------------------------------------------------------------------------
    Case("not-utf8", ("polyalembic", "up"),
         "migrations/postgres/003_semantic_memories.up.sql: is not UTF-8 text (byte 0xff on line 2)",
         setup=write("migrations/postgres/003_semantic_memories.up.sql", b"-- x\nSELECT '\xff';\n")),
    Case("not-utf8-validate", ("polyalembic", "validate"), "problem(s) found",
         setup=write("migrations/postgres/003_semantic_memories.up.sql", b"-- x\nSELECT '\xff';\n")),
    Case("empty-up", ("polyalembic", "up"), "migrations/postgres/002_skill_progressions.up.sql: is empty",
         setup=write("migrations/postgres/002_skill_progressions.up.sql", "")),
    Case("comment-only-cypher", ("polyalembic", "up"), "migrations/neo4j/001_graph_constraints.up.cql: is empty",
         setup=write("migrations/neo4j/001_graph_constraints.up.cql", "// nothing\n/* at all */\n")),
    Case("missing-down", ("alembic", "upgrade", "head"), "004_identity_memories.down.sql is missing",
         setup=delete("migrations/postgres/004_identity_memories.down.sql")),
    Case("duplicate-number", ("polyalembic", "up"), "number 001 is used by",
         setup=write("migrations/chromadb/001_other.py", REVISION.format(rev="chromadb_009", store="chromadb",
                                                                          extra=""))),
    Case("wrong-store", ("polyalembic", "up"), "declares store 'neo4j' but lives in migrations/postgres/",
         setup=write("migrations/postgres/008_wrong.py", REVISION.format(rev="postgres_008", store="neo4j", extra=""))),
    Case("sql-syntax-error", ("polyalembic", "up"), "does not parse (syntax error at or near \")\" on line 4)",
         setup=write("migrations/postgres/006_portfolio_transactions.up.sql",
                     "-- x\nCREATE TABLE t (\n  a int,\n);\n")),
    Case("python-syntax-error", ("polyalembic", "up"), "008_broken.py: does not parse (line 1",
         setup=write("migrations/postgres/008_broken.py", "def upgrade(:\n")),
    Case("missing-import", ("polyalembic", "up"), "No module named 'no_such_module'",
         setup=write("migrations/postgres/008_imports.py", REVISION.format(rev="postgres_008", store="postgres",
                                                                            extra="import no_such_module\n"))),
    Case("huge-file-that-does-not-parse", ("polyalembic", "up"), "does not parse",
         setup=write("migrations/postgres/003_semantic_memories.up.sql", "-- padding\n" * 200_000 + "SELEC 1;\n")),
    # --- CLI arguments ------------------------------------------------------------------------------
    Case("unknown-revision", ("polyalembic", "up", "--to", "postgres_099"), "unknown revision 'postgres_099'"),
    Case("ambiguous-prefix", ("polyalembic", "up", "--to", "postgres_00"), "revision 'postgres_00' is ambiguous"),
    Case("down-zero", ("polyalembic", "down", "0"), "down takes a positive number of migrations, got 0"),
    Case("down-negative", ("polyalembic", "down", "-1"), "No such option '-1'", code=2),
    Case("down-more-than-applied", ("polyalembic", "down", "3"), "cannot roll back 3 migrations: only 0 applied"),
    Case("unknown-store", ("polyalembic", "generate", "mongodb", "x"), "'mongodb' is not one of", code=2),
    Case("unsafe-name", ("polyalembic", "generate", "postgres", "../../etc/passwd"), "invalid name"),
    Case("long-name", ("polyalembic", "generate", "postgres", "a" * 300),
         "the name is 300 characters long: keep it to 100"),
    Case("unknown-repair-action", ("polyalembic", "repair", "explode", "postgres_001"), "'explode' is not one of",
         code=2),
    Case("stamp-unknown-revision", ("polyalembic", "stamp", "nope_001"), "unknown revision 'nope_001'"),
    Case("bad-lock-timeout-x", ("alembic", "-x", "lock_timeout=soon", "upgrade", "head"),
         "lock timeout must be a number of seconds >= 0, got 'soon'"),
]


def _reader_role(pg: str, ts: str) -> dict[str, str]:
    """A login role that may connect but not create anything (PostgreSQL 15: public's CREATE is
    the owner's): the DSNs of the test's databases as that role."""
    import secrets as random

    import psycopg

    from polyalembic.dsn import libpq_dsn

    role = f"pa_reader_{random.token_hex(3)}"
    with psycopg.connect(libpq_dsn(pg), autocommit=True) as conn:
        conn.execute(f"CREATE ROLE {role} LOGIN PASSWORD '{SECRET}'")
    as_role = lambda dsn: f"postgresql://{role}:{SECRET}@{dsn.split('@', 1)[1]}"  # noqa: E731
    return {"pg_reader": as_role(pg), "pg_reader_ts": as_role(ts), "role": role}


def resolve(template: str, values: dict[str, str]) -> str:
    for key, value in values.items():
        template = template.replace("{" + key + "}", value)
    return template


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_bad_input_is_one_line_naming_what_and_where_and_changes_nothing(case: Case, project_copy: Project,
                                                                         settings: Settings) -> None:
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
    if any("{pg_reader" in (v or "") for v in case.env.values()):
        values |= _reader_role(pg, settings.database_url("timescaledb"))
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
    assert snapshot(settings) == before  # nothing applied, nothing lost
    if "role" in values:
        import psycopg

        from polyalembic.dsn import libpq_dsn

        with psycopg.connect(libpq_dsn(pg), autocommit=True) as conn:
            conn.execute(f"DROP ROLE {values['role']}")


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
