"""Flyway's folder as the PostgreSQL stores read it for ``polyalembic adopt flyway`` (no server):
which names are migrations, Flyway's version order and equality, its checksum (the expected values
were recorded by real Flyway 13.12.0: tests/test_flyway_adoption.py checks them live), how its
baselines count, and every refusal in one line naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyalembic.commands.adopt_tool import check_history
from polyalembic.errors import PolyalembicError
from polyalembic.stores import get_store
from polyalembic.stores.contract import ForeignApplied
from polyalembic.stores.postgres import flyway
from tests.unit.test_n4m_files import write


def test_both_postgresql_stores_offer_the_capability() -> None:
    for name in ("postgres", "timescaledb"):
        store = get_store(name)
        assert (store.tool, store.tool_title, store.adopted_suffix) == ("flyway", "Flyway", store.pair_suffix)


@pytest.mark.parametrize(("name", "parsed"), [
    ("V1__create_account.sql", ("V", "1", "create account")),
    ("V1_1__account_email.sql", ("V", "1.1", "account email")),
    ("V1.2.3__x.sql", ("V", "1.2.3", "x")),
    ("V001__leading_zeros.sql", ("V", "001", "leading zeros")),
    ("U2__seed.sql", ("U", "2", "seed")),
    ("README.md", None),
    ("V1__notes.txt", None),
])
def test_names_flyway_runs(name: str, parsed: tuple[str, str, str] | None) -> None:
    assert flyway.parse_name(name) == parsed


@pytest.mark.parametrize(("name", "why"), [
    ("R__views.sql", "a repeatable migration"),
    ("B5__baseline.sql", "a baseline migration"),
    ("afterMigrate.sql", "a Flyway callback (runs at every afterMigrate, not once)"),
    ("beforeEachMigrate__log.sql", "a Flyway callback (runs at every beforeEachMigrate"),
    ("V3__x.sql.conf", "a per-script configuration"),
    ("V3_x.sql", "not a migration name Flyway runs"),
    ("v3__x.sql", "not a migration name Flyway runs"),
])
def test_names_flyway_would_run_otherwise_are_refused(name: str, why: str) -> None:
    with pytest.raises(PolyalembicError) as refused:
        flyway.parse_name(name)
    assert str(refused.value).startswith(f"adopt flyway: {name}: {why}")


def test_versions_compare_as_flyway_compares_them() -> None:
    key = flyway.version_key
    assert key("1") == key("1.0") == key("001") == key("1_0_0")
    assert key("1.9") < key("1.10") < key("2")
    assert sorted(["10", "2", "1.1", "1"], key=key) == ["1", "1.1", "2", "10"]


@pytest.mark.parametrize(("text", "recorded"), [
    ("CREATE TABLE fw_account (id int PRIMARY KEY, name text);\n", "676109002"),
    ("\ufeff-- email\r\nALTER TABLE fw_account ADD COLUMN email text;\r\n", "876871095"),
    ("\ufeff-- email\nALTER TABLE fw_account ADD COLUMN email text;", "876871095"),  # line breaks don't count
    ("INSERT INTO fw_account (id, name) VALUES (1, 'ann'), (2, 'bo');\n", "1299271229"),
    ("CREATE INDEX CONCURRENTLY idx_nope ON no_such_table (id);\n", "-277613622"),  # Java's signed int
])
def test_the_checksum_is_flyways(text: str, recorded: str) -> None:
    assert flyway.checksum(text) == recorded


def test_the_folder_in_version_order_with_undo_files_as_downs(tmp_path: Path) -> None:
    folder = write(tmp_path, {"V10__ten.sql": "SELECT 10;\n", "sub/V2__two.sql": "SELECT 2;\n",
                              "U2__two.sql": "\ufeffSELECT -2;\n", "V1_1__one one.sql": "SELECT 1.1;\n",
                              "README.md": "notes"})
    found = flyway.foreign_migrations(folder)
    assert [(m.version, m.name, m.source, m.down) for m in found] == [
        ("1.1", "one_one", "V1_1__one one.sql", None), ("2", "two", "V2__two.sql", "SELECT -2;\n"),
        ("10", "ten", "V10__ten.sql", None)]


@pytest.mark.parametrize(("files", "message"), [
    ({"V1__a.sql": "SELECT 1;", "V1.0__b.sql": "SELECT 2;"}, "V1__a.sql: has version 1, as V1.0__b.sql has"),
    ({"V1__a.sql": "SELECT 1;", "U2__b.sql": "SELECT 2;"}, "U2__b.sql: undoes a version no V file has"),
    ({"V1__a.sql": b"SELECT '\xe9';"}, "V1__a.sql: not UTF-8 (byte 8)"),
    ({"V1__a.sql": "SELECT 1;\nSELECT '${flyway:user}';"}, "V1__a.sql: line 2 has the placeholder ${flyway:user}"),
    ({"README.md": "notes"}, "no V<version>__<description>.sql file in it"),
])
def test_folders_flyway_would_run_otherwise_are_refused(tmp_path: Path, files: dict[str, str | bytes],
                                                        message: str) -> None:
    with pytest.raises(PolyalembicError) as refused:
        flyway.foreign_migrations(write(tmp_path, files))
    assert message in str(refused.value) and "\n" not in str(refused.value)


def test_a_missing_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(PolyalembicError, match="no such folder"):
        flyway.foreign_migrations(tmp_path / "nowhere")


def _ran(version: str, checksum: str | None, baseline: bool = False) -> ForeignApplied:
    return ForeignApplied(version, checksum, None, True, f"V{version}", baseline)


def test_a_baseline_counts_every_file_up_to_its_version(tmp_path: Path) -> None:
    sources = flyway.foreign_migrations(write(tmp_path, {"V1__a.sql": "SELECT 1;", "V1_1__b.sql": "SELECT 2;",
                                                         "V2__c.sql": "SELECT 3;", "V3__d.sql": "SELECT 4;"}))
    applied = [_ran("1.1", None, baseline=True), _ran("2.0", sources[2].checksum)]
    ran = check_history("adopt flyway", "Flyway", sources, applied, flyway.version_key)
    assert [(s.source, entry.checksum) for s, entry in ran] == [
        ("V1__a.sql", None), ("V1_1__b.sql", None), ("V2__c.sql", sources[2].checksum)]


def test_a_version_flyway_skipped_is_refused(tmp_path: Path) -> None:
    sources = flyway.foreign_migrations(write(tmp_path, {"V1__a.sql": "SELECT 1;", "V2__b.sql": "SELECT 2;"}))
    with pytest.raises(PolyalembicError, match=r"Flyway applied V2__b\.sql but not V1__a\.sql, which comes before it"):
        check_history("adopt flyway", "Flyway", sources, [_ran("2", sources[1].checksum)], flyway.version_key)


@pytest.mark.parametrize(("text", "outside"), [
    ("CREATE INDEX CONCURRENTLY idx ON t (a);\n", True),
    ("-- a comment\ncreate unique index concurrently idx ON t (a);", True),
    ("CREATE TABLE t (a int); VACUUM t;", True),
    ("CREATE TABLE t (a int);\n-- CREATE INDEX CONCURRENTLY in a comment\n", False),
    ("INSERT INTO notes VALUES ('VACUUM');", False),
    ("CREATE INDEX idx ON t (a);", False),
])
def test_what_flyway_runs_outside_a_transaction_gets_the_marker(tmp_path: Path, text: str, outside: bool) -> None:
    assert flyway.outside_transaction(text) is outside
    up = flyway.foreign_migrations(write(tmp_path, {"V1__a.sql": text}))[0].up
    assert up.startswith("-- polyalembic: no-transaction\n") is outside and up.endswith(text)
