"""Schema targets in the settings (issue 24): a store's schema variable puts its DSN's sessions in
that schema, the ledger follows the store it lives with (or ``POLYALEMBIC_LEDGER_SCHEMA``), and
two schemas of one database are two locations with two lock keys."""

from __future__ import annotations

import pytest

from polyalembic.errors import StoreUnavailable
from polyalembic.settings import Settings
from polyalembic.stores.postgres import dsn
from polyalembic.stores.postgres.lock import LOCK_KEY, lock_key

DB = "postgresql://app:secret@db:5432/app"


def test_a_schema_rides_in_the_dsn_options_and_reads_back() -> None:
    url = dsn.with_schema(f"{DB}?sslmode=require&options=-cstatement_timeout%3D5000", "tenant_a")
    assert dsn.schema_of(url) == "tenant_a"
    assert "sslmode=require" in url and "statement_timeout" in url  # what the DSN had stays
    assert dsn.schema_of(dsn.with_schema(url, "tenant_b")) == "tenant_b"  # replaced, not added
    assert dsn.schema_of(dsn.with_schema("host=db dbname=app user=app", "t1")) == "t1"  # a keyword DSN too
    assert dsn.schema_of(DB) is None
    with pytest.raises(ValueError, match="not a plain lower-case name"):
        dsn.with_schema(DB, "Tenant-A")


def test_two_schemas_of_one_database_are_two_locations() -> None:
    a, b = dsn.with_schema(DB, "tenant_a"), dsn.with_schema(DB, "tenant_b")
    assert not dsn.same_database(a, b) and not dsn.same_database(a, DB)
    assert dsn.same_database(a, dsn.with_schema("postgresql://other@db/app", "tenant_a"))


def test_each_schema_has_its_own_lock_key_and_the_default_keeps_the_old_one() -> None:
    assert lock_key(None) == lock_key("public") == LOCK_KEY
    keys = {lock_key(f"tenant_{k}") for k in range(1000)}
    assert len(keys) == 1000 and LOCK_KEY not in keys
    assert all(-(2 ** 63) <= key < 2 ** 63 for key in keys)  # a bigint
    assert lock_key("tenant_1") == lock_key("tenant_1")


def test_the_ledger_lives_in_the_schema_of_the_store_it_lives_with() -> None:
    settings = Settings({"TIMESCALE_DSN": DB, "TIMESCALE_SCHEMA": "tenant_a"})
    # postgres falls back to TIMESCALE_DSN, and so to its schema variable
    assert dsn.schema_of(settings.database_url("postgres")) == "tenant_a"
    assert dsn.schema_of(settings.ledger_dsn) == "tenant_a"
    assert settings.shares_ledger_database("timescaledb") and settings.shares_ledger_database("postgres")
    apart = settings.replace(POSTGRES_DSN=DB, POSTGRES_SCHEMA="tenant_b")
    assert dsn.schema_of(apart.ledger_dsn) == "tenant_b"  # the ledger's home store is postgres
    assert not apart.shares_ledger_database("timescaledb")  # another schema: it commits apart


def test_a_project_namespace_puts_the_ledger_in_a_schema_of_its_own() -> None:
    settings = Settings({"POSTGRES_DSN": DB, "POLYALEMBIC_LEDGER_DSN": "postgresql://app@ledger/ledgers",
                         "POLYALEMBIC_LEDGER_SCHEMA": "billing"})
    assert settings.ledger_dsn.startswith("postgresql://app@ledger/ledgers")
    assert dsn.schema_of(settings.ledger_dsn) == "billing"
    assert not settings.shares_ledger_database("postgres")


def test_a_bad_schema_name_is_one_line_naming_its_variable() -> None:
    with pytest.raises(StoreUnavailable, match=r"postgres: POSTGRES_SCHEMA='Tenant A': schema .* not a plain"):
        Settings({"POSTGRES_DSN": DB, "POSTGRES_SCHEMA": "Tenant A"}).database_url("postgres")
    with pytest.raises(StoreUnavailable, match=r"POLYALEMBIC_LEDGER_SCHEMA='x;drop'"):
        _ = Settings({"POSTGRES_DSN": DB, "POLYALEMBIC_LEDGER_SCHEMA": "x;drop"}).ledger_dsn
