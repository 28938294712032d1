"""The fleet file (TOML) as ``polyalembic fleet`` reads it (no server): its targets in order, each
with its settings, ``{tenant}`` and ``${VAR}`` put in, the run's options, and every mistake in
one line naming the file and the place."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyalembic.errors import PolyalembicError
from polyalembic.fleet.run import waves
from polyalembic.fleet.targets import Fleet, Target, parse_shard, read_fleet, shard, shard_of

KNOWN = ("POSTGRES_DSN", "CHROMA_DATABASE", "POLYALEMBIC_LEDGER_DSN")


def fleet_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fleet.toml"
    path.write_text(text)
    return path


def test_targets_come_from_entries_a_list_and_a_query_each_with_its_settings(tmp_path: Path) -> None:
    path = fleet_file(tmp_path, """
[fleet]
workers = 3
canary = 2
wave = 10
on_failure = "continue"
tenants = ["acme", "globex"]
tenants_from = { dsn = "${CONTROL}", query = "SELECT name FROM tenants" }

[settings]
POSTGRES_DSN = "postgresql://app:${SECRET}@db/app_{tenant}"
CHROMA_DATABASE = "{tenant}"

[[target]]
name = "eu-west"
POSTGRES_DSN = "postgresql://eu/app"
""")
    asked = []
    fleet = read_fleet(path, KNOWN, {"SECRET": "s3", "CONTROL": "postgresql://control/db"},
                       query=lambda dsn, sql: asked.append((dsn, sql)) or ["initech"])
    assert asked == [("postgresql://control/db", "SELECT name FROM tenants")]
    assert [(t.name, dict(t.env)) for t in fleet.targets] == [
        ("eu-west", {"POSTGRES_DSN": "postgresql://eu/app", "CHROMA_DATABASE": "eu-west"}),
        ("acme", {"POSTGRES_DSN": "postgresql://app:s3@db/app_acme", "CHROMA_DATABASE": "acme"}),
        ("globex", {"POSTGRES_DSN": "postgresql://app:s3@db/app_globex", "CHROMA_DATABASE": "globex"}),
        ("initech", {"POSTGRES_DSN": "postgresql://app:s3@db/app_initech", "CHROMA_DATABASE": "initech"})]
    assert (fleet.workers, fleet.canary, fleet.wave, fleet.on_failure) == (3, 2, 10, "continue")
    assert "s3" not in repr(fleet.targets)  # a target's variables never print
    assert [t.secrets for t in fleet.targets] == [(), ("s3",), ("s3",), ("s3",)]  # what ${VAR} put in is masked


def test_waves_are_the_canary_then_batches() -> None:
    names = [chr(ord("a") + k) for k in range(7)]
    assert [list(w) for w in waves(names, 1, 3)] == [["a"], ["b", "c", "d"], ["e", "f", "g"]]  # type: ignore[arg-type]
    assert [list(w) for w in waves(names, 0, 5)] == [names[:5], names[5:]]  # type: ignore[arg-type]


@pytest.mark.parametrize(("text", "message"), [
    ('[fleet]\ntenants = ["a"]\n[settings]\nMONGO_URL = "x"\n', "[settings].MONGO_URL: is no connection variable"),
    ('[fleet]\ntenants = ["a"]\n[settings]\nPOSTGRES_DSN = "${NOPE}"\n',
     "[settings] POSTGRES_DSN (tenant a): ${NOPE} is not set in the environment"),
    ('[fleet]\ntenants = ["a", "a"]\n', "[fleet] tenants: target 'a' is named twice"),
    ('[fleet]\ntenants = ["a b"]\n', "[fleet] tenants: 'a b' is no target name"),
    ('[fleet]\ntenants = ["a"]\non_failure = "retry"\n', "[fleet] on_failure: must be 'stop' or 'continue'"),
    ('[fleet]\ntenants = ["a"]\nworkers = 0\n', "[fleet] workers: must be a whole number of at least 1"),
    ('[fleet]\nworkers = 2\n', "[fleet]: names no target"),
    ('[[target]]\nPOSTGRES_DSN = "x"\n', "[[target]] #1 name: None is no target name"),
    ('[fleet]\ntenants = ["a"]\n[tenants]\nx = 1\n', "[tenants]: is no part of a fleet file"),
    ('[fleet\n', "not TOML"),
    ('fleet = 1\n', "[fleet]: must be a table, not int"),
    ('target = "x"\n', "target: must be [[target]] tables"),
    ('settings = 1\n[fleet]\ntenants = ["a"]\n', "[settings]: must be a table"),
    ('[fleet]\non_falure = "stop"\n', "[fleet] on_falure: is no fleet option"),
    ('[fleet]\ntenants = ["a"]\ntenants_from = { dsn = 1, query = "q" }\n', "needs exactly dsn and query, both"),
    ('[fleet]\ntenants = ["a"]\nclaims = 5\n', "[fleet] claims: must be the DSN of the database"),
])
def test_mistakes_are_one_line_naming_the_file_and_the_place(tmp_path: Path, text: str, message: str) -> None:
    path = fleet_file(tmp_path, text)
    with pytest.raises(PolyalembicError) as refused:
        read_fleet(path, KNOWN, {})
    assert str(refused.value).startswith(f"fleet file {path}: ") and message in str(refused.value)
    assert "\n" not in str(refused.value)


def test_a_missing_file_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(PolyalembicError, match="no such file"):
        read_fleet(tmp_path / "nope.toml", KNOWN, {})


def test_shards_split_the_targets_each_into_exactly_one_whatever_their_order() -> None:
    targets = [Target(f"tenant{k}", {}) for k in range(200)]
    fleet = Fleet(Path("f.toml"), targets, workers=1)
    parts = [shard(fleet, k, 3).targets for k in (1, 2, 3)]
    assert sorted(t.name for part in parts for t in part) == sorted(t.name for t in targets)
    assert all(40 < len(part) < 95 for part in parts)  # roughly even
    backwards = Fleet(Path("f.toml"), targets[::-1], workers=1)
    assert {t.name for t in shard(backwards, 2, 3).targets} == {t.name for t in parts[1]}
    assert shard_of("acme", 1) == 1


@pytest.mark.parametrize("text", ["0/2", "3/2", "1", "a/b", "1/0"])
def test_a_bad_shard_is_one_line(text: str) -> None:
    with pytest.raises(PolyalembicError, match=r"--shard .*: give K/N, the K-th of N shards"):
        parse_shard(text)
    assert parse_shard(" 2/3 ") == (2, 3)


def _target(name: str, **env: str) -> Target:
    return Target(name, env)


def test_a_shard_keeps_the_whole_fleet_for_the_checks_that_span_it() -> None:
    targets = [_target(f"t{k}") for k in range(20)]
    part = shard(Fleet(Path("f.toml"), targets, workers=2), 1, 3)
    assert part.targets != targets and part.everyone == targets


DB = "postgresql://app@db:5432/app"


def test_targets_at_one_place_are_refused_unless_they_are_one_target() -> None:
    from polyalembic.fleet.places import check_places

    # a schema each, or a database each: no two places alike
    check_places([_target(t, POSTGRES_DSN=DB, POSTGRES_SCHEMA=f"tenant_{t}") for t in "abc"], ["postgres"])
    check_places([_target(t, POSTGRES_DSN=f"{DB}_{t}", CHROMA_HOST="h", CHROMA_DATABASE=t) for t in "ab"],
                 ["postgres", "chromadb"])
    # one target named twice (one ledger, the same places): the lock serializes them
    check_places([_target(t, POSTGRES_DSN=DB, POSTGRES_SCHEMA="tenant_a") for t in ("a", "a2")], ["postgres"])
    # a Chroma database two targets with ledgers of their own would both migrate
    with pytest.raises(PolyalembicError, match=r"^fleet file: targets a and b both migrate chromadb at "
                                               r"http://h:8000 \(database shared\) with ledgers of their own"):
        check_places([_target(t, POSTGRES_DSN=f"{DB}_{t}", CHROMA_HOST="h", CHROMA_DATABASE="shared")
                      for t in "ab"], ["postgres", "chromadb"])
    # the same database spelled as a keyword DSN by another user is the same place
    with pytest.raises(PolyalembicError, match="targets a and b both migrate postgres at db:5432/app schema public"):
        check_places([_target("a", POSTGRES_DSN=DB),
                      _target("b", POSTGRES_DSN="host=db port=5432 dbname=app user=other",
                              POLYALEMBIC_LEDGER_DSN=f"{DB}_ledger")], ["postgres"])
    # one ledger for two places: the second would read "applied" and be left behind
    with pytest.raises(PolyalembicError, match=r"targets a and b keep one ledger \(.*\) but migrate chromadb in two"):
        check_places([_target(t, POSTGRES_DSN=DB, CHROMA_HOST="h", CHROMA_DATABASE=t) for t in "ab"],
                     ["postgres", "chromadb"])
