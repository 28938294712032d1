"""One door to the ledger: every statement polyalembic composes against the ledger's tables (and
its own writes to Alembic's version table) is composed in ``polyalembic/ledger/``. A store may
send a statement the ledger composed (a pair file's trailer), but composes none itself."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.schema import CreateTable

from polyalembic.chain.migration import Migration
from polyalembic.ledger import schema
from polyalembic.ledger.writes import Ledger
from polyalembic.stores.postgres.store import PostgresStore
from polyalembic.stores.sql.literals import quoted
from tests.conftest import REPO

LEDGER_TABLES = re.compile(r"\b(schema_migrations(_audit|_meta|_snapshots)?|alembic_version)\b")
SQL = re.compile(r"\b(INSERT INTO|DELETE FROM|UPDATE\s+\S+\s+SET|CREATE TABLE|DROP TABLE|ALTER TABLE|TRUNCATE)\b"
                 r"|\bSELECT\b[\s\S]*\bFROM\b")
# the ledger's table objects and statement builders: composing with them is composing ledger SQL
COMPOSERS = {"migrations_table", "audit_table", "meta_table", "snapshots_table", "audit_insert"}


def ledger_sql_outside_the_ledger(package: Path) -> list[str]:
    """``file:line what`` for each SQL text naming a ledger table, and each import of the ledger's
    table objects, in a module of ``package`` outside its ``ledger/`` subpackage."""
    found = []
    for path in sorted(package.rglob("*.py")):
        relative = path.relative_to(package)
        if relative.parts[0] == "ledger":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.search(node.value) \
                    and LEDGER_TABLES.search(node.value):
                found.append(f"{relative}:{node.lineno} SQL on {LEDGER_TABLES.search(node.value).group(0)}")
            elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("polyalembic.ledger"):
                found += [f"{relative}:{node.lineno} imports {a.name}" for a in node.names if a.name in COMPOSERS]
    return found


def test_no_module_outside_the_ledger_composes_ledger_sql() -> None:
    assert ledger_sql_outside_the_ledger(REPO / "polyalembic") == []


def test_the_check_finds_a_planted_statement_and_a_planted_import(tmp_path: Path) -> None:
    package = tmp_path / "pkg"
    (package / "ledger").mkdir(parents=True)
    (package / "ledger" / "writes.py").write_text('SQL = "DELETE FROM schema_migrations"\n')  # the ledger's own
    (package / "commands.py").write_text(
        "from polyalembic.ledger.writes import audit_insert, connect_ledger\n\n"
        "def clear(conn):\n"
        "    conn.execute(\"UPDATE alembic_version SET version_num = 'x'\")\n"
        "    return 'the schema_migrations table'  # prose, not SQL\n")
    assert ledger_sql_outside_the_ledger(package) == ["commands.py:1 imports audit_insert",
                                                      "commands.py:4 SQL on alembic_version"]


class QuotingStore(PostgresStore):
    """PostgreSQL with another JSON type and literal form: what the ledger writes must follow."""

    name = "quoting"

    def json_type(self) -> Any:
        return sa.JSON

    def literal(self, value: Any) -> str:
        return "NULL" if value is None else str(value) if isinstance(value, int) else quoted(str(value))


def test_the_ledger_writes_in_the_dialect_of_the_store_it_is_handed(tmp_path: Path) -> None:
    handed, postgres = QuotingStore(), PostgresStore()
    create = {sql.name: str(CreateTable(schema.snapshots_table(sql)).compile(dialect=sql.plain_dialect("named")))
              for sql in (handed, postgres)}
    assert "snapshot JSON NOT NULL" in create["quoting"] and "snapshot JSONB NOT NULL" in create["postgres"]
    (tmp_path / "postgres").mkdir()
    (tmp_path / "postgres" / "001_o'brien.py").write_text("revision = '001'\n")
    step = Migration("001", "postgres", tmp_path / "postgres", "001_o'brien.py")
    assert "'001_o''brien.py'" in Ledger(handed).applied_sql(step) and "E'" not in Ledger(handed).applied_sql(step)
    assert "E'001_o''brien.py'" in Ledger(postgres).applied_sql(step)
