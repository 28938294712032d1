"""The shipped conformance suite (``polyalembic.testing.conformance``) over every built-in store
and a fifth one installed as a package of its own, on the real servers, the way golang-migrate
runs one driver test suite over every database. Each store brings one sample op (``SAMPLES``):
a small reversible change. The SQL stores' claims check is shown failing on stores that break it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.operations import MigrateOperation

from polyalembic.settings import Settings
from polyalembic.stores import STORES, get_store
from polyalembic.stores.postgres.lock import LOCK_KEY
from polyalembic.stores.postgres.store import PostgresStore
from polyalembic.stores.sql.store import SqlStore
from polyalembic.testing.conformance import check_claims, check_store
from tests.scratch import create_database, drop_database


def _sql_pair(folder: Path, name: str, up: str, down: str) -> MigrateOperation:
    from polyalembic.stores.postgres.ops import RunSqlFileOp

    (folder / f"{name}.up.sql").write_text(up)
    (folder / f"{name}.down.sql").write_text(down)
    return RunSqlFileOp(str(folder / f"{name}.up.sql"), str(folder / f"{name}.down.sql"))


def _postgres(folder: Path) -> MigrateOperation:
    return _sql_pair(folder, "probe", "CREATE TABLE probe (id BIGINT PRIMARY KEY, note TEXT NOT NULL);",
                     "DROP TABLE probe;")


def _timescaledb(folder: Path) -> MigrateOperation:
    return _sql_pair(folder, "probe",
                     "CREATE TABLE probe (time TIMESTAMPTZ NOT NULL, value DOUBLE PRECISION);\n"
                     "SELECT create_hypertable('probe', by_range('time', INTERVAL '1 day'));",
                     "DROP TABLE probe;")


def _neo4j(folder: Path) -> MigrateOperation:
    from polyalembic.stores.neo4j.ops import CreateGraphConstraintOp

    return CreateGraphConstraintOp("probe_id_unique", "Probe", ["id"])


def _chromadb(folder: Path) -> MigrateOperation:
    from polyalembic.stores.chromadb.ops import CreateCollectionOp

    return CreateCollectionOp("probe", configuration={"hnsw": {"space": "cosine"}}, metadata={"owner": "probe"})


# store -> its sample op; a store without one fails test_every_store_brings_a_sample
SAMPLES: dict[str, Callable[[Path], MigrateOperation]] = {
    "postgres": _postgres, "timescaledb": _timescaledb, "neo4j": _neo4j, "chromadb": _chromadb,
    "analytics": _postgres,
}
#: the example store package (tests/store_package), installed in the project environment and
#: found through its entry point, not in the built-in registry
PACKAGED = "analytics"


def test_every_store_brings_a_sample() -> None:
    assert set(STORES) <= set(SAMPLES), f"add a sample op for {set(STORES) - set(SAMPLES)}"


@pytest.fixture(params=[*(name for name in STORES if name != PACKAGED), PACKAGED])
def store_under_test(request: pytest.FixtureRequest, settings: Settings,
                     admin_dsn: str) -> Iterator[tuple[str, Settings]]:
    if request.param != PACKAGED:
        yield request.param, settings
        return
    dsn = create_database(admin_dsn, prefix="pa_analytics")
    try:
        yield PACKAGED, settings.replace(ANALYTICS_DSN=dsn)
    finally:
        drop_database(admin_dsn, dsn)


def test_the_store_contract_on_the_real_server(store_under_test: tuple[str, Settings], tmp_path: Path) -> None:
    """The shipped suite (polyalembic/testing/conformance.py), as a store package's tests run it."""
    name, store_settings = store_under_test
    check_store(name, SAMPLES[name], store_settings, tmp_path)


def test_the_packaged_store_comes_from_its_installed_distribution() -> None:
    """No registry line and no patched metadata: the package's dist-info names it under the group."""
    from importlib.metadata import distribution

    from polyalembic.stores import ENTRY_POINT_GROUP

    dist = distribution("polyalembic-analytics")
    (entry,) = [e for e in dist.entry_points if e.group == ENTRY_POINT_GROUP]
    assert (entry.name, entry.value) == (PACKAGED, "polyalembic_analytics.store:AnalyticsStore")
    assert type(get_store(PACKAGED)).__module__ == "polyalembic_analytics.store"


def test_the_suite_checks_the_claims_of_every_sql_store() -> None:
    """postgres, timescaledb (and the packaged store) are SQL stores: check_store runs check_claims on them."""
    assert {name for name in STORES if isinstance(get_store(name), SqlStore)} >= {"postgres", "timescaledb"}


class _TransactionClaims(PostgresStore):
    """A claim taken as a transaction lock: on an autocommit session it is gone at once."""

    def try_claim(self, connection: sa.Connection, name: str) -> bool:
        return bool(connection.execute(sa.text("SELECT pg_try_advisory_xact_lock(hashtextextended(:n, 0))"),
                                       {"n": name}).scalar())

    def release_claim(self, connection: sa.Connection, name: str) -> None:
        pass


class _ClaimsKept(PostgresStore):
    """release_claim forgets to give the claim back."""

    def release_claim(self, connection: sa.Connection, name: str) -> None:
        pass


class _OneClaim(PostgresStore):
    """Every claim is the migration lock's key: one run holds one target, and blocks every migration."""

    def try_claim(self, connection: sa.Connection, name: str) -> bool:
        return bool(connection.execute(sa.text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar())


@pytest.mark.parametrize(("store", "broken"), [
    (_TransactionClaims(), "two sessions hold one claim"),
    (_ClaimsKept(), "release_claim did not give the claim back"),
    (_OneClaim(), "a claim held blocks a claim of another name"),
])
def test_the_claims_check_fails_a_store_that_breaks_them(store: SqlStore, broken: str, settings: Settings) -> None:
    with pytest.raises(AssertionError, match=broken):
        check_claims(store, settings)
