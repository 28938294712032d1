"""Drops every user object of the TimescaleDB store: continuous aggregates first, then the rest.

Dropping a hypertable also removes its chunks and policies (jobs).
"""

from __future__ import annotations

import sqlalchemy as sa

from polyalembic.stores.postgres import reset as sql_reset
from polyalembic.stores.timescaledb.introspect import continuous_aggregates


def drop_all(connection: sa.Connection) -> list[str]:
    dropped = []
    for view in continuous_aggregates(connection):
        connection.execute(sa.text(f"DROP MATERIALIZED VIEW IF EXISTS {sql_reset.quote(view)} CASCADE"))
        dropped.append(f"continuous aggregate {view}")
    return dropped + sql_reset.drop_all(connection)
