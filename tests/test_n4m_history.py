"""neo4j-migrations' history as the Neo4j store reads it (``polyalembic adopt n4m``), against
what the real CLI 2.19.2 writes on the test Neo4j: its chain read back in the order it ran, the
store's checksums equal to the ones n4m recorded (for line endings, BOMs, whitespace, comments and
statement splits: ``repair`` makes n4m record the checksum of a file the server would not even
run), its bookkeeping never in the snapshot and kept by ``drop_all``, gone after the tests' reset."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from polyalembic.settings import Settings
from polyalembic.stores import get_store
from polyalembic.stores.neo4j import n4m
from tests import n4m_tool
from tests.scratch import reset_stores

STORE = get_store("neo4j")

HISTORY = {
    "V1__Person_id_constraint.cypher":
        "CREATE CONSTRAINT person_id IF NOT EXISTS FOR (p:Person) REQUIRE p.id IS UNIQUE;\n",
    # CRLF, a comment, trailing whitespace after the delimiter's line, blank lines
    "V1_1__person_name_index.cypher":
        "// the name index\r\nCREATE INDEX person_name IF NOT EXISTS\r\nFOR (p:Person) ON (p.name);\r\n  \r\n\r\n",
    # several statements, comments, a ';' inside a string, whitespace before a ';', no final newline
    "V0002__some_people.cypher":
        "// people\nMERGE (:Person {id: 1, name: 'Ann; Lee'});\n// second\nMERGE (:Person {id: 2})  \t\n;\n\n"
        "  MERGE (:Person {id: 3})",
}

# what n4m's checksum reads differently; each replaces an applied "RETURN k;" and `repair` records it
VARIANTS = {
    "crlf": "CREATE (a)\r\nSET a.x = 1;\r\nCREATE (b);\r\n",
    "cr_only": "CREATE (a);\rCREATE (b);\r",
    "bom": "\ufeff// a comment\nCREATE (a);\n",
    "trailing_whitespace": "CREATE (a)   \t\n;  \nCREATE (b);\n\n\n   ",
    "comments": "// one\n// two\nCREATE (a); // no delimiter\n/* block; */\nCREATE (b);\n// only a comment;\n",
    "semicolons": "CREATE (:P {s: 'a;\nb'});\nRETURN 1; RETURN 2;\nCREATE (a);;\nCREATE (b);;;",
    "unicode": "CREATE (:P {name: 'Zoë 日本'});\n",
    "control_chars": "\tCREATE (a)\x0b;\n\x0cCREATE (b);\n",
    "line_separator": "CREATE (a);\u2028",
    "no_newline": "CREATE (a)",
}


def write(folder: Path, files: dict[str, str]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8", newline="")
    return folder


@pytest.fixture
def graph(settings: Settings) -> Iterator[Any]:
    handle = STORE.connect(settings)
    yield handle
    STORE.close(handle)


def names(graph: Any, listing: str) -> set[str]:
    records, _, _ = graph.driver.execute_query(f"SHOW {listing} YIELD name", database_=graph.database)
    return {record["name"] for record in records}


def test_the_clis_history_read_back(settings: Settings, graph: Any, tmp_path: Path) -> None:
    folder = write(tmp_path / "n4m", HISTORY)
    assert STORE.foreign_applied(graph) == []
    n4m_tool.apply(settings, folder)

    files = STORE.foreign_migrations(folder)
    applied = STORE.foreign_applied(graph)
    # n4m's order is its versions' strings: 0002 < 1 < 1.1, and it ran them so
    assert [m.version for m in files] == [a.version for a in applied] == ["0002", "1", "1.1"]
    assert [m.checksum for m in files] == [a.checksum for a in applied]
    assert [a.recorded_as for a in applied] == [m.source for m in files] == [
        "V0002__some_people.cypher", "V1__Person_id_constraint.cypher", "V1_1__person_name_index.cypher"]
    assert [m.name for m in files] == ["some_people", "person_id_constraint", "person_name_index"]
    assert all(a.success for a in applied)
    times = [a.applied_at for a in applied]
    assert all(t.tzinfo is not None for t in times) and times == sorted(times)

    # n4m's constraints and index exist, and are never the store's schema
    assert names(graph, "CONSTRAINTS") | names(graph, "INDEXES") >= n4m.BOOKKEEPING
    snapshot = STORE.snapshot(graph)
    assert snapshot == {"constraints": ["person_id"], "indexes": ["person_id", "person_name"]}

    # drop_all (`polyalembic fresh`) removes the migrations' objects and data, keeps n4m's history
    dropped = STORE.drop_all(graph)
    assert not [line for line in dropped if "Neo4jMigration" in line]
    assert STORE.snapshot(graph) == {"constraints": [], "indexes": []}
    assert STORE.foreign_applied(graph) == applied
    assert names(graph, "CONSTRAINTS") | names(graph, "INDEXES") >= n4m.BOOKKEEPING
    records, _, _ = graph.driver.execute_query("MATCH (p:Person) RETURN count(p) AS n", database_=graph.database)
    assert records[0]["n"] == 0

    # the tests' reset removes it all: the next test starts without n4m's history
    reset_stores(settings, ("neo4j",))
    assert STORE.foreign_applied(graph) == []
    assert not n4m.BOOKKEEPING & (names(graph, "CONSTRAINTS") | names(graph, "INDEXES"))


def test_checksums_as_n4m_records_them(settings: Settings, graph: Any, tmp_path: Path) -> None:
    """Every variant's checksum equals the one n4m itself records for it (``repair`` writes the
    local checksums into the chain without running anything)."""
    sources = {f"V{k}__{name}.cypher": text for k, (name, text) in enumerate(VARIANTS.items(), start=1)}
    folder = write(tmp_path / "n4m", {source: f"RETURN {k};\n" for k, source in enumerate(sources, start=1)})
    n4m_tool.apply(settings, folder)
    write(folder, sources)
    result = n4m_tool.n4m(settings, "--location", f"file:{folder}", "repair")
    assert result.returncode == 0, result.stdout + result.stderr

    recorded = {a.recorded_as: a.checksum for a in STORE.foreign_applied(graph)}
    computed = {m.source: m.checksum for m in STORE.foreign_migrations(folder)}
    assert computed == recorded
    # Java's trim takes control characters too: both files are "CREATE (a)" and "CREATE (b)"
    assert computed["V2__cr_only.cypher"] == computed["V8__control_chars.cypher"]
    assert len(set(computed.values())) == len(VARIANTS) - 1


def test_a_changed_file_changes_the_checksum_as_n4m_sees_it(settings: Settings, graph: Any, tmp_path: Path) -> None:
    folder = write(tmp_path / "n4m", {"V1__Person_id_constraint.cypher": HISTORY["V1__Person_id_constraint.cypher"]})
    n4m_tool.apply(settings, folder)
    [recorded] = STORE.foreign_applied(graph)
    path = folder / "V1__Person_id_constraint.cypher"

    path.write_text(HISTORY["V1__Person_id_constraint.cypher"] + "\n\n   \n")  # what n4m ignores
    assert STORE.foreign_migrations(folder)[0].checksum == recorded.checksum
    assert n4m_tool.n4m(settings, "--location", f"file:{folder}", "validate").returncode == 0

    path.write_text(HISTORY["V1__Person_id_constraint.cypher"].replace("p.id", "p.id "))  # what it doesn't
    assert STORE.foreign_migrations(folder)[0].checksum != recorded.checksum
    result = n4m_tool.n4m(settings, "--location", f"file:{folder}", "validate")
    assert result.returncode != 0 and 'Checksum of 1 ("Person id constraint") changed!' in result.stdout + result.stderr
