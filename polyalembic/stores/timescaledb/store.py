"""The TimescaleDB store: a SQL store on ``TIMESCALE_DSN`` whose database must have the
timescaledb extension (checked before anything runs), with hypertables, policies and
continuous aggregates in its snapshot.

Lazy imports: this store's own modules (introspection, drift), when a run needs them: the registry
imports every store at start-up."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from polyalembic.errors import StoreUnavailable
from polyalembic.stores.postgres.store import PostgresStore, _reading

if TYPE_CHECKING:
    import sqlalchemy as sa

    from polyalembic.stores.contract import Settings


class TimescaleStore(PostgresStore):
    """PostgreSQL with the timescaledb extension."""

    name = "timescaledb"
    dsn_variables = ("TIMESCALE_DSN",)
    schema_variables = ("TIMESCALE_SCHEMA",)
    env_keys = ("TIMESCALE_DSN", "TIMESCALE_SCHEMA")
    op_modules = (*PostgresStore.op_modules, "polyalembic.stores.timescaledb.ops",
                  "polyalembic.stores.timescaledb.impl")
    templates_module = "polyalembic.stores.timescaledb.templates"
    introspect_module = "polyalembic.stores.timescaledb.introspect"
    reset_module = "polyalembic.stores.timescaledb.reset"
    autogenerate_module = "polyalembic.stores.timescaledb.autogenerate"

    def verify(self, handle: sa.Connection, settings: Settings) -> None:
        from polyalembic.stores.timescaledb.introspect import extension_version

        super().verify(handle, settings)
        if _reading(handle, extension_version) is None:
            raise StoreUnavailable(f"timescaledb: the timescaledb extension is not installed in "
                                   f"{self.location(settings)}: run CREATE EXTENSION timescaledb")

    def snapshot_objects(self, snapshot: Mapping[str, Any]) -> dict[str, Any]:
        from polyalembic.stores.timescaledb import drift

        return drift.objects(snapshot)

    def describe_object(self, key: str, old: Any, new: Any) -> list[str]:
        from polyalembic.stores.timescaledb import drift

        return drift.describe(key, old, new)
