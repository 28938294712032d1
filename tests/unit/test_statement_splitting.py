"""Splitting migration files into statements: Cypher (our splitter) and SQL (PostgreSQL's parser)."""

from __future__ import annotations

from pathlib import Path

import pglast

from polyalembic.stores.neo4j.cypher import split_statements


def test_cypher_splits_on_semicolons_outside_strings_comments_and_backticks() -> None:
    text = """
    // a comment; with a semicolon
    CREATE CONSTRAINT a IF NOT EXISTS FOR (n:A) REQUIRE n.id IS UNIQUE;
    MERGE (n:A {id: 'x;y', note: "it's; fine"});
    MATCH (`odd;label`) RETURN 1;
    /* block; comment */ RETURN 2
    """
    statements = split_statements(text)
    assert len(statements) == 4
    assert statements[1] == "MERGE (n:A {id: 'x;y', note: \"it's; fine\"})"
    assert statements[2] == "MATCH (`odd;label`) RETURN 1"
    assert statements[3].endswith("RETURN 2")


def test_cypher_comment_only_text_has_no_statement() -> None:
    assert split_statements("// nothing here\n/* nor here; */\n") == []


def test_sql_no_transaction_files_split_into_statements_with_postgresqls_parser() -> None:
    text = ("-- polyalembic: no-transaction\n"
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS i1 ON t (a);\n"
            "DO $$ BEGIN RAISE NOTICE 'a;b'; END $$;\n"
            "CREATE INDEX CONCURRENTLY IF NOT EXISTS i2 ON t (b);\n")
    statements = [s.strip() for s in pglast.split(text)]
    assert len(statements) == 3
    assert statements[1].startswith("DO $$") and "'a;b'" in statements[1]


def test_the_no_transaction_marker_is_read_from_the_start_of_the_file_only(tmp_path: Path) -> None:
    from polyalembic.stores import get_store

    postgres = get_store("postgres")
    marked, late, plain = tmp_path / "marked.sql", tmp_path / "late.sql", tmp_path / "plain.sql"
    marked.write_text("\n" * 10_000 + "  -- POLYALEMBIC: no-transaction\nCREATE INDEX CONCURRENTLY i ON t (c);\n")
    late.write_text("SELECT 1;\n-- polyalembic: no-transaction\n")
    plain.write_text("CREATE TABLE t (c int);\n" + "x" * 10_000)
    assert postgres.commits_early(marked)  # after blanks longer than one read
    assert not postgres.commits_early(late)
    assert not postgres.commits_early(plain)
    assert not postgres.commits_early(tmp_path / "missing.sql")
    bom = tmp_path / "bom.sql"
    bom.write_bytes(b"\xef\xbb\xbf-- polyalembic: no-transaction\r\nCREATE INDEX CONCURRENTLY i ON t (c);\r\n")
    assert postgres.commits_early(bom)  # a BOM and CRLF line endings (a Windows editor's save) still say it
