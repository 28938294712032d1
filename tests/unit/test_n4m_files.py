"""neo4j-migrations' folder as the Neo4j store reads it for ``polyalembic adopt n4m`` (no server):
which names are migrations and their versions, n4m's order, its checksum (the expected values were
recorded by the real CLI 2.19.2: tests/test_n4m_history.py checks them live), and every refusal in
one line naming the file."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from polyalembic.errors import PolyalembicError
from polyalembic.stores import get_store
from polyalembic.stores.neo4j import n4m


def write(folder: Path, files: dict[str, str | bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, newline="")
    return folder


def test_the_store_offers_the_capability() -> None:
    store = get_store("neo4j")
    assert (store.tool, store.tool_title, store.adopted_suffix) == ("n4m", "neo4j-migrations", store.pair_suffix)


@pytest.mark.parametrize(("name", "parsed"), [
    ("V1__Create_person.cypher", ("1", "Create person")),
    ("V1_1__index.cypher", ("1.1", "index")),
    ("V1.1.2__index.cypher", ("1.1.2", "index")),
    ("V0001__with spaces.cypher", ("0001", "with spaces")),
    ("V20240101120000__x.cypher", ("20240101120000", "x")),
    ("README.md", None),
    (".gitkeep", None),
    ("notes.txt", None),
])
def test_names_and_versions(name: str, parsed: tuple[str, str] | None) -> None:
    assert n4m.parse_name(name) == parsed


@pytest.mark.parametrize(("name", "says"), [
    ("R1__refresh.cypher", "a repeatable migration"),
    ("V1__catalog.xml", "catalog-based (XML) migration"),
    ("V1__Java.java", "a Java-based migration"),
    ("V1__Java.class", "a Java-based migration"),
    ("V1__plain.sql", "would skip this one (.sql)"),
    ("V1__upper.CYPHER", "would skip this one (.CYPHER)"),
    ("V1__no_extension", "would skip this one (no extension)"),
    ("v1__lower.cypher", "not a migration name n4m runs"),
    ("V1_single_underscore.cypher", "not a migration name n4m runs"),
    ("V1__with-hyphen.cypher", "not a migration name n4m runs"),
    ("V1__café.cypher", "not a migration name n4m runs"),
    ("V1__two.dots.cypher", "not a migration name n4m runs"),
    ("V1.x__bad_version.cypher", "not a migration name n4m runs"),
    ("afterMigrate.cypher", "callback (runs at every afterMigrate"),
    ("beforeFirstUse__seed.cypher", "callback (runs at every beforeFirstUse"),
])
def test_names_refused(name: str, says: str) -> None:
    with pytest.raises(PolyalembicError) as refused:
        n4m.parse_name(name)
    message = str(refused.value)
    assert "\n" not in message and f"adopt n4m: {name}: " in message and says in message, message


@pytest.mark.parametrize(("text", "expected"), [
    # recorded by neo4j-migrations 2.19.2 apply / repair (tests/test_n4m_history.py)
    ("CREATE CONSTRAINT person_id IF NOT EXISTS FOR (p:Person) REQUIRE p.id IS UNIQUE;\n", "3317810837"),
    ("CREATE CONSTRAINT person_id IF NOT EXISTS FOR (p:Person) REQUIRE p.id IS UNIQUE;\n\n\n  \n", "3317810837"),
    ("\ufeffCREATE CONSTRAINT person_id IF NOT EXISTS FOR (p:Person) REQUIRE p.id IS UNIQUE;\n", "2632848698"),
    ('// data\nMERGE (:Person {id: 1, name: "a"});\n// second\nMERGE (:Person {id: 2, name: "b;c"})    \t\n;\n\n'
     "  MERGE (:Person {id: 3})", "1386085297"),
])
def test_checksums_as_the_cli_recorded_them(text: str, expected: str) -> None:
    assert n4m.checksum(text) == expected


def test_statements_as_n4m_splits_them() -> None:
    # ``;`` ends a statement only right before a line break; one final ``;`` goes; Java's trim
    assert n4m.statements("A;\r\nB; C;\rD ;;;\n\n// only a comment;\n\x01E;") == [
        "A", "B; C", "D ;", "// only a comment", "E"]
    assert n4m.statements("A;\u2028") == ["A\u2028"]
    assert n4m.checksum("") == "0"


def test_folder_read_in_n4m_order(tmp_path: Path) -> None:
    folder = write(tmp_path / "n4m", {
        "V1__Create_person.cypher": "CREATE (:Person);\n",
        "V1_1__index.cypher": "CREATE INDEX a FOR (p:Person) ON (p.a);\n",
        "V0002__data.cypher": "MERGE (:Person {id: 2});\n",
        "V10__ten.cypher": "MERGE (:Person {id: 10});\n",
        "sub/V9__in_a_subfolder.cypher": "\ufeffMERGE (:Person {id: 9});\r\n",
        "README.md": "not a migration",
    })
    found = n4m.foreign_migrations(folder)
    # n4m's default order is LEXICOGRAPHIC: the version strings compared
    assert [m.version for m in found] == ["0002", "1", "1.1", "10", "9"]
    assert [m.name for m in found] == ["data", "create_person", "index", "ten", "in_a_subfolder"]
    assert found[-1].source == "V9__in_a_subfolder.cypher"
    assert found[-1].up == "MERGE (:Person {id: 9});\r\n"  # the text without its BOM (the server refuses one)
    assert found[-1].checksum == n4m.checksum("\ufeffMERGE (:Person {id: 9});\r\n")
    assert all(m.down is None for m in found)
    assert found[1].checksum == n4m.checksum("CREATE (:Person);\n")


@pytest.mark.parametrize(("files", "file", "says"), [
    ({"V1_1__a.cypher": "RETURN 1;", "V1.1__b.cypher": "RETURN 2;"}, "V1_1__a.cypher", "has version 1.1, as V1.1__b"),
    ({"V1__a.cypher": "// assume that edition is enterprise\nCREATE (n);"}, "V1__a.cypher", "has a precondition"),
    ({"V1__a.cypher": "RETURN 1;\n// ASSERT in target q' RETURN true\nRETURN 2;"}, "V1__a.cypher",
     "has a precondition"),
    ({"V1__a.cypher": ":use other;\nCREATE (n);"}, "V1__a.cypher", "switches database (:use)"),
    ({"V1__a.cypher": "// nothing here\n;\n"}, "V1__a.cypher", "has no statement"),
    ({"V1__a.cypher": ""}, "V1__a.cypher", "has no statement"),
    ({"V1__a.cypher": b"CREATE (:P {n: '\xe9'});"}, "V1__a.cypher", "not UTF-8"),
    ({"V1__a.cypher": "RETURN 1;", "R2__b.cypher": "RETURN 2;"}, "R2__b.cypher", "a repeatable migration"),
    ({"V1__a.cypher": "RETURN 1;", "afterMigrate.cypher": "RETURN 2;"}, "afterMigrate.cypher", "callback"),
])
def test_folder_refused(tmp_path: Path, files: dict[str, str | bytes], file: str, says: str) -> None:
    with pytest.raises(PolyalembicError) as refused:
        n4m.foreign_migrations(write(tmp_path / "n4m", files))
    message = str(refused.value)
    assert "\n" not in message and message.startswith(f"adopt n4m: {file}: ") and says in message, message


def test_a_precondition_word_inside_a_statement_is_no_precondition(tmp_path: Path) -> None:
    folder = write(tmp_path / "n4m", {"V1__a.cypher": "MATCH (n)\n// assume that nobody minds\nRETURN n;\n"})
    assert [m.version for m in n4m.foreign_migrations(folder)] == ["1"]


@pytest.mark.parametrize(("make", "says"), [
    (lambda root: root / "missing", "no such folder"),
    (lambda root: write(root / "n4m", {"V1__a.cypher": "RETURN 1;"}) / "V1__a.cypher", "not a folder"),
    (lambda root: write(root / "n4m", {}), "no V<version>__<description>.cypher file in it"),
    (lambda root: write(root / "n4m", {"README.md": "x"}), "no V<version>__<description>.cypher file in it"),
])
def test_folder_itself_refused(tmp_path: Path, make: Callable[[Path], Path], says: str) -> None:
    folder = make(tmp_path)
    with pytest.raises(PolyalembicError) as refused:
        n4m.foreign_migrations(folder)
    message = str(refused.value)
    assert "\n" not in message and message.startswith(f"adopt n4m: {folder}: ") and says in message, message


def test_bookkeeping_names() -> None:
    assert n4m.is_bookkeeping("unique_version___Neo4jMigration", ["__Neo4jMigration"])
    assert n4m.is_bookkeeping("repeated_at__Neo4jMigration", ["REPEATED"])
    assert n4m.is_bookkeeping("some_other_name", ["__Neo4jMigrationsLock"])
    assert not n4m.is_bookkeeping("person_id", ["Person"])
    assert not n4m.is_bookkeeping("repeated_at", ["REPEATED"])
